// `vkattn run`: attention over .npy files. Reads q, k, v (and an optional mask), runs the engine and
// writes out (and optionally the weights and the log-sum-exp) as .npy.
#include <CLI/CLI.hpp>

#include <cfloat>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>

#include "cli_common.hpp"
#include "commands.hpp"
#include "npy_io.hpp"

namespace vkattn::cli {
namespace {

struct RunArgs {
    CommonOptions common;
    std::string q, k, v, mask;
    std::string causal = "none";
    std::string scale;
    std::string key_lengths;
    std::string path = "auto";
    std::string layout = "bhld";
    std::string dtype = "keep";
    std::string out = "out.npy";
    std::string weights, lse;
    std::string window, softcap;
    bool alibi = false;
};

/// The arguments after strict parsing.
struct RunPlan {
    AttentionOptions options;
    bool blhd = false;
    std::optional<DType> dtype;  ///< nullopt: keep each file's dtype
    bool alibi = false;          ///< the standard slopes for q's head count
};

Causal parse_causal(const std::string& s) {
    if (s == "top-left") return Causal::top_left;
    if (s == "bottom-right") return Causal::bottom_right;
    return Causal::none;
}

Path parse_path(const std::string& s) {
    if (s == "fused") return Path::fused;
    if (s == "explicit") return Path::explicit_;
    return Path::automatic;
}

float parse_scale(const std::string& text) {
    const double s = parse_double(text, "--scale");
    if (!std::isfinite(s) || std::abs(s) > FLT_MAX) throw UsageError("--scale: '" + text + "' is not a finite float");
    if (static_cast<float>(s) == 0.0f) throw UsageError("--scale: '" + text + "' must be non-zero");
    return static_cast<float>(s);
}

RunPlan plan_run(const RunArgs& a) {
    RunPlan r;
    AttentionOptions& o = r.options;
    o.causal = parse_causal(a.causal);
    o.path = parse_path(a.path);
    if (!a.scale.empty()) o.scale = parse_scale(a.scale);
    if (!a.key_lengths.empty()) o.key_lengths = parse_int_list(a.key_lengths, "--key-lengths");
    if (!a.window.empty()) {
        const std::vector<int32_t> w = parse_int_list(a.window, "--window");
        if (w.size() != 2 || w[0] < -1 || w[1] < -1)
            throw UsageError("--window: expected LEFT,RIGHT with each >= 0 or -1 (unbounded), got '" + a.window + "'");
        o.window = {w[0], w[1]};
    }
    if (!a.softcap.empty()) {
        const double c = parse_double(a.softcap, "--softcap");
        if (!std::isfinite(c) || c <= 0 || c > FLT_MAX) throw UsageError("--softcap: '" + a.softcap + "' must be a finite float > 0");
        o.softcap = static_cast<float>(c);
    }
    r.alibi = a.alibi;
    if (!a.weights.empty() && o.path == Path::fused)
        throw UsageError("--weights: the weights exist only on the explicit path, but --path fused was given "
                         "(use --path explicit or auto)");
    o.return_weights = !a.weights.empty();
    o.return_lse = !a.lse.empty();
    o.measure_time = true;
    r.blhd = a.layout == "blhd";
    if (a.dtype != "keep") r.dtype = parse_dtype(a.dtype, "--dtype");
    return r;
}

/// Uploads q, k or v: converted to `dtype` when asked, and for blhd viewed as [B, H, L, D] without a copy.
Tensor upload_input(Context& ctx, const NpyArray& a, const std::string& name, const std::string& path, const RunPlan& plan,
                    const char* layout) {
    if (a.shape.empty() || a.numel() == 0)
        throw UsageError(name + ": " + path + " has shape " + to_string(a.shape) + "; expected a non-empty rank 4 " + layout);
    if (plan.blhd && a.shape.size() != 4)
        throw UsageError(name + ": expected rank 4 " + layout + " (--layout blhd), got shape " + to_string(a.shape) + " from " +
                         path);
    const Tensor t = upload_npy(ctx, a, plan.dtype);
    return plan.blhd ? t.transposed(1, 2) : t;
}

Tensor upload_mask(Context& ctx, const NpyArray& a, const std::string& path) {
    if (a.shape.empty() || a.numel() == 0)
        throw UsageError("mask: " + path + " has shape " + to_string(a.shape) + "; expected [Lq, Lk] or [B|1, Hq|1, Lq, Lk]");
    return ctx.upload_raw(a.bytes.data(), a.bytes.size(), a.shape, a.dtype);
}

int run_attention(const RunArgs& a) {
    const RunPlan plan = plan_run(a);
    // Read every file before touching the device, so that a bad file fails fast.
    const NpyArray qa = read_npy(a.q), ka = read_npy(a.k), va = read_npy(a.v);
    std::optional<NpyArray> ma;
    if (!a.mask.empty()) ma = read_npy(a.mask);

    Context ctx = open_context(a.common);
    const Tensor q = upload_input(ctx, qa, "q", a.q, plan, plan.blhd ? "[B, Lq, Hq, D]" : "[B, Hq, Lq, D]");
    const Tensor k = upload_input(ctx, ka, "k", a.k, plan, plan.blhd ? "[B, Lk, Hkv, D]" : "[B, Hkv, Lk, D]");
    const Tensor v = upload_input(ctx, va, "v", a.v, plan, plan.blhd ? "[B, Lk, Hkv, Dv]" : "[B, Hkv, Lk, Dv]");
    AttentionOptions options = plan.options;
    if (ma) options.mask = upload_mask(ctx, *ma, a.mask);
    if (plan.alibi) options.alibi_slopes = alibi_slopes(q.dim(1));

    if (a.common.verbose) {
        const AttentionPlan p = plan_attention(ctx, q, k, v, options);
        std::cerr << "vkattn: plan: " << to_string(p.path) << ", " << p.variant << " (" << p.reason << ")\n";
    }
    const AttentionResult r = attention_full(ctx, q, k, v, options);

    const Tensor out = plan.blhd ? r.out.transposed(1, 2) : r.out;  // [B, L, H, Dv]: gathered on the host
    save_npy(a.out, out);
    if (r.weights) save_npy(a.weights, *r.weights);
    if (r.lse) save_npy(a.lse, *r.lse);

    std::cout << a.out << ": " << to_string(out.shape()) << " " << dtype_name(out.dtype()) << " ("
              << (plan.blhd ? "blhd" : "bhld") << "), path " << to_string(r.path) << ", variant " << r.variant << ", ";
    if (r.gpu_milliseconds >= 0)
        std::cout << format_fixed(r.gpu_milliseconds, 3) << " ms GPU";
    else
        std::cout << "GPU time n/a (no timestamps)";
    std::cout << ", " << r.dispatches << " dispatch(es)";
    if (r.weights) std::cout << "; weights " << to_string(r.weights->shape()) << " -> " << a.weights;
    if (r.lse) std::cout << "; lse " << to_string(r.lse->shape()) << " -> " << a.lse;
    std::cout << '\n';
    if (a.common.verbose)
        std::cerr << "vkattn: " << ctx.pipeline_count() << " pipeline(s), " << format_fixed(ctx.pipeline_compile_seconds(), 2)
                  << " s compiling\n";
    report_validation(ctx, a.common);
    return kExitOk;
}

}  // namespace

Command add_run_command(CLI::App& parent) {
    auto a = std::make_shared<RunArgs>();
    CLI::App* app = parent.add_subcommand("run", "Compute attention over .npy files: out = softmax(scale * q k^T + mask) v");
    app->add_option("--q", a->q, "Queries .npy, [B, Hq, Lq, D] (f32 or f16)")->required()->type_name("FILE");
    app->add_option("--k", a->k, "Keys .npy, [B, Hkv, Lk, D]")->required()->type_name("FILE");
    app->add_option("--v", a->v, "Values .npy, [B, Hkv, Lk, Dv]")->required()->type_name("FILE");
    app->add_option("--mask", a->mask,
                    "Mask .npy, [Lq, Lk] or [B|1, Hq|1, Lq, Lk] (whatever --layout says): f32/f16 added to the scores, "
                    "or bool/u8 (non-zero = attend)")
        ->type_name("FILE");
    app->add_option("--causal", a->causal, "Causal mask alignment")
        ->check(CLI::IsMember({"none", "top-left", "bottom-right"}))
        ->capture_default_str();
    app->add_option("--scale", a->scale, "Score scale (default 1/sqrt(D))")->type_name("F");
    app->add_option("--key-lengths", a->key_lengths, "Valid keys per batch, comma-separated (e.g. 3,5,7)")->type_name("LIST");
    app->add_option("--window", a->window, "Sliding window LEFT,RIGHT around the query's aligned key (i + Lk - Lq); -1 = unbounded")
        ->type_name("L,R");
    app->add_flag("--alibi", a->alibi, "Add ALiBi biases with the standard slopes for q's head count");
    app->add_option("--softcap", a->softcap, "Soft-cap scaled scores: cap * tanh(s / cap)")->type_name("CAP");
    app->add_option("--path", a->path, "Kernel path")->check(CLI::IsMember({"auto", "fused", "explicit"}))->capture_default_str();
    app->add_option("--layout", a->layout,
                    "Layout of q, k, v and out: bhld = [B, H, L, D], blhd = [B, L, H, D] (read in place as strided views)")
        ->check(CLI::IsMember({"bhld", "blhd"}))
        ->capture_default_str();
    app->add_option("--dtype", a->dtype, "Compute dtype: keep = the files' dtype")
        ->check(CLI::IsMember({"keep", "f32", "f16"}))
        ->capture_default_str();
    app->add_option("--out", a->out, "Output .npy, [B, Hq, Lq, Dv] (blhd: [B, Lq, Hq, Dv]) in the compute dtype")
        ->capture_default_str()
        ->type_name("FILE");
    app->add_option("--weights", a->weights, "Also write the attention weights, [B, Hq, Lq, Lk] f32 (explicit path)")
        ->type_name("FILE");
    app->add_option("--lse", a->lse, "Also write each row's log-sum-exp, [B, Hq, Lq] f32")->type_name("FILE");
    add_common_options(*app, a->common);
    return {app, [a] { return run_attention(*a); }};
}

}  // namespace vkattn::cli
