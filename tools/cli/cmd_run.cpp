// `vkattn run`: attention over .npy files. Reads q, k, v (and an optional mask), runs the engine and
// writes out (and optionally the weights and the log-sum-exp) as .npy.
#include <CLI/CLI.hpp>

#include <cstring>
#include <iostream>
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/run_inputs.hpp"

namespace vkattn::cli {
namespace {

struct RunArgs {
    CommonOptions common;
    InputArgs inputs;
    std::string path = "auto";
    std::string out = "out.npy";
    std::string weights, lse;
    std::string cu_seqlens, cu_seqlens_q, cu_seqlens_k;  // packed sequences (int32 .npy, S + 1 offsets)
};

// An int32 .npy of S + 1 offsets (the engine checks the rules: 0 first, non-decreasing, last = tokens).
std::vector<int32_t> read_offsets(const std::string& path, const char* option) {
    NpyArray a;
    try {
        a = read_npy(path);
    } catch (const Error& e) {
        throw Error(e.code(), std::string(option) + ": " + e.message());
    }
    if (a.dtype != DType::i32 || a.shape.size() != 1)
        throw UsageError(std::string(option) + ": " + path + " has shape " + to_string(a.shape) + " and dtype " +
                         std::string(dtype_name(a.dtype)) + "; expected [S + 1] int32 offsets");
    std::vector<int32_t> cu(static_cast<std::size_t>(a.numel()));
    std::memcpy(cu.data(), a.bytes.data(), cu.size() * 4);
    return cu;
}

Path parse_path(const std::string& s) {
    if (s == "fused") return Path::fused;
    if (s == "explicit") return Path::explicit_;
    return Path::automatic;
}

InputPlan plan_run(const RunArgs& a) {
    InputPlan r = plan_inputs(a.inputs);
    const bool packed = !a.cu_seqlens.empty() || !a.cu_seqlens_q.empty() || !a.cu_seqlens_k.empty();
    if (!a.cu_seqlens.empty() && (!a.cu_seqlens_q.empty() || !a.cu_seqlens_k.empty()))
        throw UsageError("--cu-seqlens: give either --cu-seqlens (the same offsets for q and k) or --cu-seqlens-q and --cu-seqlens-k");
    if (packed && a.cu_seqlens.empty() && (a.cu_seqlens_q.empty() || a.cu_seqlens_k.empty()))
        throw UsageError("--cu-seqlens-q: needs --cu-seqlens-k too (or --cu-seqlens for both)");
    if (packed && r.blhd) throw UsageError("--layout: packed sequences (--cu-seqlens) are [tokens, H, D]; --layout blhd does not apply");
    AttentionOptions& o = r.options;
    o.path = parse_path(a.path);
    if (!a.weights.empty() && o.path == Path::fused)
        throw UsageError("--weights: the weights exist only on the explicit path, but --path fused was given "
                         "(use --path explicit or auto)");
    o.return_weights = !a.weights.empty();
    o.return_lse = !a.lse.empty();
    o.measure_time = true;
    return r;
}

// "out.npy: [shape] dtype (layout), path P, variant V, T ms GPU, N dispatch(es); weights ...; lse ...".
void print_result_line(const RunArgs& a, const AttentionResult& r, const Tensor& out, const std::string& layout) {
    std::cout << a.out << ": " << to_string(out.shape()) << " " << dtype_name(out.dtype()) << " (" << layout << "), path "
              << to_string(r.path) << ", variant " << r.variant << ", ";
    if (r.gpu_milliseconds >= 0)
        std::cout << format_fixed(r.gpu_milliseconds, 3) << " ms GPU";
    else
        std::cout << "GPU time n/a (no timestamps)";
    std::cout << ", " << r.dispatches << " dispatch(es)";
    if (r.weights) std::cout << "; weights " << to_string(r.weights->shape()) << " -> " << a.weights;
    if (r.lse) std::cout << "; lse " << to_string(r.lse->shape()) << " -> " << a.lse;
    std::cout << '\n';
}

int run_attention(const RunArgs& a) {
    const InputPlan plan = plan_run(a);
    const InputFiles files = read_inputs(a.inputs);

    Context ctx = open_context(a.common);
    const DeviceInputs in = upload_inputs(ctx, files, a.inputs, plan);
    const Tensor &q = in.q, &k = in.k, &v = in.v;
    AttentionOptions options = in.options;
    if (plan.dtype == DType::bf16) options.out_dtype = DType::f32;  // .npy has no bf16: compute from bf16, write f32

    if (!a.cu_seqlens.empty() || !a.cu_seqlens_q.empty()) {
        // Packed sequences: q [total_q, Hq, D], k / v [total_k, Hkv, D]; out [total_q, Hq, Dv], lse [Hq, total_q].
        const std::vector<int32_t> cu_q = read_offsets(a.cu_seqlens.empty() ? a.cu_seqlens_q : a.cu_seqlens,
                                                       a.cu_seqlens.empty() ? "--cu-seqlens-q" : "--cu-seqlens");
        const std::vector<int32_t> cu_k = a.cu_seqlens.empty() ? read_offsets(a.cu_seqlens_k, "--cu-seqlens-k") : cu_q;
        const AttentionResult r = attention_varlen(ctx, q, k, v, cu_q, cu_k, options);
        save_npy(a.out, r.out);
        if (r.weights) save_npy(a.weights, *r.weights);
        if (r.lse) save_npy(a.lse, *r.lse);
        print_result_line(a, r, r.out, std::to_string(cu_q.size() - 1) + " packed sequences");
        report_validation(ctx, a.common);
        return kExitOk;
    }
    if (a.common.verbose) {
        const AttentionPlan p = plan_attention(ctx, q, k, v, options);
        std::cerr << "vkattn: plan: " << to_string(p.path) << ", " << p.variant << " (" << p.reason << ")\n";
    }
    const AttentionResult r = attention_full(ctx, q, k, v, options);

    const Tensor out = plan.blhd ? r.out.transposed(1, 2) : r.out;  // [B, L, H, Dv]: gathered on the host
    save_npy(a.out, out);
    if (r.weights) save_npy(a.weights, *r.weights);
    if (r.lse) save_npy(a.lse, *r.lse);

    print_result_line(a, r, out, plan.blhd ? "blhd" : "bhld");
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
    add_input_options(*app, a->inputs, true);
    app->add_option("--path", a->path, "Kernel path")->check(CLI::IsMember({"auto", "fused", "explicit"}))->capture_default_str();
    app->add_option("--out", a->out, "Output .npy, [B, Hq, Lq, Dv] (blhd: [B, Lq, Hq, Dv]) in the compute dtype")
        ->capture_default_str()
        ->type_name("FILE");
    app->add_option("--weights", a->weights, "Also write the attention weights, [B, Hq, Lq, Lk] f32 (explicit path)")
        ->type_name("FILE");
    app->add_option("--lse", a->lse, "Also write each row's log-sum-exp, [B, Hq, Lq] f32 (packed sequences: [Hq, total_q])")->type_name("FILE");
    app->add_option("--cu-seqlens", a->cu_seqlens,
                    "Packed sequences: int32 .npy of S + 1 offsets (0 first, non-decreasing, last = tokens) shared by q and k; "
                    "q, k, v are then [tokens, H, D], out [total_q, Hq, Dv], weights packed per sequence [Hq, Lq_s, Lk_s]")
        ->type_name("FILE");
    app->add_option("--cu-seqlens-q", a->cu_seqlens_q, "Packed sequences: the query offsets (with --cu-seqlens-k)")->type_name("FILE");
    app->add_option("--cu-seqlens-k", a->cu_seqlens_k, "Packed sequences: the key offsets (with --cu-seqlens-q)")->type_name("FILE");
    add_common_options(*app, a->common);
    return {app, [a] { return run_attention(*a); }};
}

}  // namespace vkattn::cli
