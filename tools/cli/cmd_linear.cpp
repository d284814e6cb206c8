// `vkattn linear`: linear attention over .npy files (include/vkattn/linear_attention.hpp). Reads q, k
// and v, runs the engine, writes out as .npy and optionally checks it against the host reference.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/npy_io.hpp"
#include "vkattn/linear_reference.hpp"
#include "vkattn/npy.hpp"

namespace vkattn::cli {
namespace {

struct LinearArgs {
    CommonOptions common;
    std::string q, k, v;
    std::string causal = "none";
    std::string feature_map = "elu";
    std::string key_lengths;
    std::string dtype = "keep";
    std::string out = "out.npy";
    bool check = false;
};

Tensor upload_input(Context& ctx, const NpyArray& a, const std::string& name, const std::string& path,
                    std::optional<DType> dtype, const char* layout) {
    if (a.shape.size() != 4 || a.numel() == 0)
        throw UsageError(name + ": " + path + " has shape " + to_string(a.shape) + "; expected a non-empty rank 4 " + layout);
    return upload_npy(ctx, a, dtype);
}

// The host problem of the check: the inputs as the kernels read them (converted to the compute dtype).
HostLinearProblem host_problem(const Tensor& q, const Tensor& k, const Tensor& v, const LinearAttentionOptions& o) {
    HostLinearProblem h;
    h.B = q.dim(0), h.Hq = q.dim(1), h.Lq = q.dim(2), h.D = q.dim(3);
    h.Hkv = k.dim(1), h.Lk = k.dim(2), h.Dv = v.dim(3);
    h.q = q.download<float>(), h.k = k.download<float>(), h.v = v.download<float>();
    h.feature_map = o.feature_map;
    h.causal = o.causal;
    h.key_lengths = o.key_lengths;
    return h;
}

int run_linear(const LinearArgs& a) {
    LinearAttentionOptions o;
    o.causal = a.causal == "bottom-right" ? Causal::bottom_right : a.causal == "top-left" ? Causal::top_left : Causal::none;
    o.feature_map = a.feature_map == "identity" ? FeatureMap::identity : FeatureMap::elu_plus_one;
    if (!a.key_lengths.empty()) o.key_lengths = parse_int_list(a.key_lengths, "--key-lengths");
    o.measure_time = true;
    std::optional<DType> dtype;
    if (a.dtype != "keep") dtype = parse_dtype(a.dtype, "--dtype");
    const NpyArray qa = read_npy(a.q), ka = read_npy(a.k), va = read_npy(a.v);  // every file before the device

    Context ctx = open_context(a.common);
    const Tensor q = upload_input(ctx, qa, "q", a.q, dtype, "[B, Hq, Lq, D]");
    const Tensor k = upload_input(ctx, ka, "k", a.k, dtype, "[B, Hkv, Lk, D]");
    const Tensor v = upload_input(ctx, va, "v", a.v, dtype, "[B, Hkv, Lk, Dv]");
    const LinearAttentionResult r = linear_attention_full(ctx, q, k, v, o);
    save_npy(a.out, r.out);

    std::cout << a.out << ": " << to_string(r.out.shape()) << " " << dtype_name(r.out.dtype()) << ", feature map "
              << to_string(o.feature_map) << ", causal " << to_string(o.causal) << ", variant " << r.variant << ", ";
    if (r.gpu_milliseconds >= 0)
        std::cout << format_fixed(r.gpu_milliseconds, 3) << " ms GPU";
    else
        std::cout << "GPU time n/a (no timestamps)";
    std::cout << ", " << r.dispatches << " dispatch(es)\n";

    int status = kExitOk;
    if (a.check) {
        const HostLinearProblem h = host_problem(q, k, v, o);
        const std::vector<float> ref = reference_linear_attention(h);
        const std::vector<float> naive = naive_linear_attention(h, r.out.dtype() == DType::f16);
        const std::vector<float> got = r.out.download<float>();
        double err = 0, naive_err = 0, max_ref = 0;
        int64_t nonfinite = 0;
        for (std::size_t i = 0; i < ref.size(); ++i) {
            if (!std::isfinite(got[i])) ++nonfinite;
            else err = std::max(err, std::fabs(double(got[i]) - ref[i]));
            naive_err = std::max(naive_err, std::fabs(double(naive[i]) - ref[i]));
            max_ref = std::max(max_ref, std::fabs(double(ref[i])));
        }
        // The test suite's rule: f32 within 1e-5 of max|ref|; f16 storage within twice a float implementation's error.
        const bool f32 = q.dtype() == DType::f32 && r.out.dtype() == DType::f32;
        const double bound = f32 ? 1e-5 * max_ref : std::max(2 * naive_err, 1e-5 * max_ref) + 1e-6;
        const bool pass = nonfinite == 0 && err <= bound;
        std::cout << "check: " << (pass ? "pass" : "FAIL") << ", max|out-ref| " << format_sci(err) << " (bound "
                  << format_sci(bound) << ", max|ref| " << format_sci(max_ref) << ")";
        if (nonfinite) std::cout << ", " << nonfinite << " non-finite element(s)";
        std::cout << '\n';
        if (!pass) status = kExitFailure;
    }
    report_validation(ctx, a.common);
    return status;
}

}  // namespace

Command add_linear_command(CLI::App& parent) {
    auto a = std::make_shared<LinearArgs>();
    CLI::App* app = parent.add_subcommand(
        "linear", "Linear attention over .npy files: out_i = phi(q_i)^T S / (phi(q_i)^T z + 1e-6), S = sum_j phi(k_j) v_j^T, z = sum_j phi(k_j)");
    app->add_option("--q", a->q, "Queries .npy, [B, Hq, Lq, D] (f32 or f16)")->required()->type_name("FILE");
    app->add_option("--k", a->k, "Keys .npy, [B, Hkv, Lk, D] (Hq % Hkv == 0)")->required()->type_name("FILE");
    app->add_option("--v", a->v, "Values .npy, [B, Hkv, Lk, Dv]")->required()->type_name("FILE");
    app->add_flag("--causal{top-left}", a->causal,
                  "Causal: query i sees keys j <= i (--causal or --causal=top-left), or j <= i + Lk - Lq (--causal=bottom-right)")
        ->check(CLI::IsMember({"none", "top-left", "bottom-right"}));
    app->add_option("--feature-map", a->feature_map, "phi: elu = elu(x) + 1, identity = x")
        ->check(CLI::IsMember({"elu", "identity"}))
        ->capture_default_str();
    app->add_option("--key-lengths", a->key_lengths, "Valid keys per batch, comma-separated (e.g. 3,5,7)")->type_name("LIST");
    app->add_option("--dtype", a->dtype, "Storage dtype of q, k, v and out: keep = the files' dtype")
        ->check(CLI::IsMember({"keep", "f32", "f16"}))
        ->capture_default_str();
    app->add_option("--out", a->out, "Output .npy, [B, Hq, Lq, Dv]")->capture_default_str()->type_name("FILE");
    app->add_flag("--check", a->check, "Compare with the host reference (quadratic in N; exit 1 on failure)");
    add_common_options(*app, a->common);
    return {app, [a] { return run_linear(*a); }};
}

}  // namespace vkattn::cli
