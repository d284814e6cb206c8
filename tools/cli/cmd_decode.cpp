// `vkattn decode`: streams an autoregressive decode against a KvCache: a random prompt's keys and
// values are appended, then each step appends one token per sequence and attends its query against
// the cache. Prints progress, the median GPU time per step and attention steps per second; the last
// step is checked against the host reference.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <random>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "vkattn/reference.hpp"

namespace vkattn::cli {

namespace {

struct DecodeArgs {
    CommonOptions common;
    int64_t batch = 1, heads = 32, kv_heads = 8, head_dim = 128, prompt = 1024, steps = 64, capacity = 0;
    std::string dtype = "f16";
    std::string kv_dtype = "same";
    int kv_splits = 0;
    bool no_check = false;
};

std::vector<float> random_rows(std::mt19937_64& rng, int64_t n, DType dt) {
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(n));
    for (float& e : x) e = dt == DType::f16 ? round_to_half(g(rng)) : dt == DType::bf16 ? round_to_bf16(g(rng)) : g(rng);
    return x;
}

int run_decode(const DecodeArgs& a) {
    const DType dt = parse_dtype(a.dtype, "--dtype");
    if (dt != DType::f32 && dt != DType::f16 && dt != DType::bf16) throw UsageError("--dtype: " + a.dtype + " is not supported (f32, f16 or bf16)");
    // The cache's dtype: --dtype, or q8 / q4 (q8_0 / q4_0 blocks; appends quantise the new rows on the device).
    const DType kv_dt = a.kv_dtype == "same" ? dt : parse_dtype(a.kv_dtype, "--kv-dtype");
    if (kv_dt != dt && !dtype_is_quantized(kv_dt))
        throw UsageError("--kv-dtype: " + a.kv_dtype + " must be q8 / q4 (or the --dtype " + a.dtype + ")");
    if (a.heads % a.kv_heads != 0)
        throw UsageError("--heads: " + std::to_string(a.heads) + " is not a multiple of --kv-heads " + std::to_string(a.kv_heads));
    const int64_t cap = a.capacity > 0 ? a.capacity : a.prompt + a.steps;
    if (cap < a.prompt + a.steps)
        throw UsageError("--capacity: " + std::to_string(cap) + " is less than --prompt + --steps = " + std::to_string(a.prompt + a.steps));
    const int64_t B = a.batch, Hq = a.heads, Hkv = a.kv_heads, D = a.head_dim;

    Context ctx = open_context(a.common);
    KvCache cache(ctx, {B, Hkv, cap, D, 0, kv_dt});
    std::mt19937_64 rng(20261121);
    // Host copy of what is cached, for the final check.
    std::vector<float> hk(static_cast<std::size_t>(B * Hkv * cap * D), 0.0f), hv = hk;
    const auto append = [&](int64_t n) {
        const std::vector<float> k = random_rows(rng, B * Hkv * n * D, dt), v = random_rows(rng, B * Hkv * n * D, dt);
        const int64_t len = cache.lengths()[0];
        for (int64_t bh = 0; bh < B * Hkv; ++bh)
            std::copy_n(k.begin() + bh * n * D, n * D, hk.begin() + (bh * cap + len) * D),
                std::copy_n(v.begin() + bh * n * D, n * D, hv.begin() + (bh * cap + len) * D);
        cache.append(ctx.upload(k, {B, Hkv, n, D}, dt), ctx.upload(v, {B, Hkv, n, D}, dt));
    };
    std::cout << "decode: " << ctx.device().name << "; B=" << B << " heads " << Hq << "/" << Hkv << " D=" << D << " "
              << dtype_name(dt) << (kv_dt != dt ? ", K/V " + std::string(dtype_name(kv_dt)) : std::string()) << ", prompt " << a.prompt << " tokens, " << a.steps << " steps, capacity " << cap << "\n";
    if (a.prompt > 0) append(a.prompt);

    std::vector<double> gpu_ms;
    std::vector<float> last_q;
    AttentionResult last;
    AttentionOptions o;
    o.measure_time = true;
    o.kv_splits = a.kv_splits;
    const int64_t every = std::max<int64_t>(1, a.steps / 10);
    for (int64_t s = 0; s < a.steps; ++s) {
        append(1);
        last_q = random_rows(rng, B * Hq * D, dt);
        last = attend(ctx, ctx.upload(last_q, {B, Hq, 1, D}, dt), cache, o);
        gpu_ms.push_back(last.gpu_milliseconds);
        if ((s + 1) % every == 0 || s + 1 == a.steps)
            std::cerr << "step " << (s + 1) << "/" << a.steps << ": " << cache.lengths()[0] << " cached tokens, "
                      << format_fixed(last.gpu_milliseconds, 3) << " ms" << std::endl;
    }
    if (gpu_ms.empty()) throw UsageError("--steps: must be >= 1");
    std::vector<double> sorted = gpu_ms;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2];
    const double kv_bytes = 2.0 * double(B * Hkv) * double(cache.lengths()[0]) * double(D) * double(dtype_block_bytes(kv_dt)) /
                            double(dtype_block_elements(kv_dt));
    std::cout << "variant " << last.variant << "\n";
    std::cout << "attention step (GPU timestamps): median " << format_fixed(median, 3) << " ms, min " << format_fixed(sorted.front(), 3)
              << " ms, max " << format_fixed(sorted.back(), 3) << " ms over " << gpu_ms.size() << " steps\n";
    std::cout << "attention steps per second: " << format_fixed(1000.0 / median, 1) << " (" << format_fixed(1000.0 * double(B) / median, 1)
              << " tokens/s across the batch, attention only); K/V read per step at the end: "
              << format_fixed(kv_bytes / 1e6, 2) << " MB = " << format_fixed(kv_bytes / (median * 1e6), 2) << " GB/s\n";

    if (!a.no_check) {
        HostAttentionProblem p;
        p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Lq = 1, p.Lk = cap, p.D = D, p.Dv = D;
        p.q = last_q, p.k = hk, p.v = hv;
        if (kv_dt != dt) p.k = cache.keys().download<float>(), p.v = cache.values().download<float>();  // the dequantised cache
        p.causal = Causal::bottom_right;
        p.key_lengths = cache.lengths();
        p.align_to_key_lengths = true;
        const HostAttentionResult ref = reference_attention(p), naive = naive_attention(p, dt);
        const std::vector<float> out = last.out.download<float>();
        if (!check_last_step(out, ref.out, naive.out)) return kExitFailure;
    }
    report_validation(ctx, a.common);
    return kExitOk;
}

}  // namespace

Command add_decode_command(CLI::App& parent) {
    auto a = std::make_shared<DecodeArgs>();
    CLI::App* app = parent.add_subcommand("decode", "Stream an autoregressive decode against a KV cache and report attention steps per second");
    app->add_option("--batch", a->batch, "Sequences decoded together")->capture_default_str()->check(CLI::Range(1, 256));
    app->add_option("--heads", a->heads, "Query heads")->capture_default_str()->check(CLI::Range(1, 1024));
    app->add_option("--kv-heads", a->kv_heads, "Key/value heads (GQA)")->capture_default_str()->check(CLI::Range(1, 1024));
    app->add_option("--head-dim", a->head_dim, "Head dim")->capture_default_str()->check(CLI::Range(1, 512));
    app->add_option("--prompt", a->prompt, "Tokens cached before the first step")->capture_default_str()->check(CLI::Range(0, 1 << 24));
    app->add_option("--steps", a->steps, "Decode steps (one new token per sequence each)")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    app->add_option("--capacity", a->capacity, "Cache capacity (default prompt + steps)")->check(CLI::Range(0, 1 << 30));
    app->add_option("--dtype", a->dtype, "Cache and query dtype: f32, f16 or bf16")->capture_default_str();
    app->add_option("--kv-dtype", a->kv_dtype,
                    "Cache dtype when it differs: q8 (q8_0) or q4 (q4_0) blocks of 32 values, quantised on the device as tokens are "
                    "appended (the check then uses the dequantised cache)")
        ->check(CLI::IsMember({"same", "q8", "q4", "q8_0", "q4_0"}))
        ->capture_default_str();
    app->add_option("--kv-splits", a->kv_splits,
                    "Split-KV of the fused tiled kernel (GPUs): 0 = chosen from the device's compute units, 1 = none, N = that many")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    app->add_flag("--no-check", a->no_check, "Skip the reference check of the last step");
    add_common_options(*app, a->common);
    return {app, [a] { return run_decode(*a); }};
}

}  // namespace vkattn::cli
