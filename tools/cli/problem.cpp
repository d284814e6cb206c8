#include "cli/problem.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "cli/cli_common.hpp"
#include "vkattn/reference.hpp"

namespace vkattn::cli {

std::string shape_text(const ProblemSpec& s) {
    // Appended piece by piece (GCC 12 warns falsely about "literal" + std::to_string(...)).
    std::string t;
    const auto put = [&t](const char* label, int64_t value) {
        t += label;
        t += std::to_string(value);
    };
    put("B", s.B);
    put(" H", s.Hq);
    if (s.Hkv != s.Hq) put("/", s.Hkv);
    if (s.Lq == s.Lk) {
        put(" L", s.Lq);
    } else {
        put(" Lq", s.Lq);
        put(" Lk", s.Lk);
    }
    put(" D", s.D);
    if (s.Dv != s.D) put("/", s.Dv);
    return t;
}

std::string options_text(const ProblemSpec& s) {
    std::vector<std::string> parts;
    if (s.causal == Causal::top_left) parts.push_back("tl");
    if (s.causal == Causal::bottom_right) parts.push_back("br");
    if (s.mask != MaskKind::none)
        parts.push_back(std::string(s.mask == MaskKind::additive ? "add" : "bool") + (s.mask_per_batch ? "[B]" : ""));
    if (s.key_lengths) parts.push_back("kl");
    if (s.window.active()) parts.push_back("win" + std::to_string(s.window.left) + "," + std::to_string(s.window.right));
    if (s.sinks) parts.push_back("sinks");
    std::string t;
    for (const std::string& p : parts) t += (t.empty() ? "" : "+") + p;
    return t;
}

int64_t visible_pairs(int64_t Lq, int64_t Lk, Causal causal, Window window) {
    if (causal == Causal::none && !window.active()) return Lq * Lk;
    int64_t pairs = 0;
    for (int64_t i = 0; i < Lq; ++i) {
        const int64_t aligned = i + Lk - Lq;  // the window's (and bottom-right causality's) key for row i
        int64_t end = Lk, start = 0;
        if (causal == Causal::top_left) end = std::min(end, i + 1);
        if (causal == Causal::bottom_right) end = std::min(end, aligned + 1);
        if (window.right >= 0) end = std::min(end, aligned + window.right + 1);
        if (window.left >= 0) start = std::max<int64_t>(0, aligned - window.left);
        pairs += std::max<int64_t>(0, end - start);
    }
    return pairs;
}

double attention_flops(const ProblemSpec& s) {
    if (s.linear) return linear_attention_flops(s);
    return 2.0 * static_cast<double>(s.B * s.Hq) * static_cast<double>(visible_pairs(s.Lq, s.Lk, s.causal, s.window)) *
           static_cast<double>(s.D + s.Dv);
}

double linear_attention_flops(const ProblemSpec& s) {
    const double dv1 = static_cast<double>(s.Dv + 1), d = static_cast<double>(s.D);
    double flops = 2.0 * static_cast<double>(s.B) * static_cast<double>(s.Hkv * s.Lk + s.Hq * s.Lq) * d * dv1;
    if (s.causal != Causal::none) {
        constexpr int64_t chunk = 64;  // kLinearCausalChunk
        int64_t pairs = 0;
        for (int64_t i = 0; i < s.Lq; ++i) {
            const int64_t aligned = s.causal == Causal::bottom_right ? i + s.Lk - s.Lq : i;
            if (aligned < 0) continue;
            const int64_t end = std::min(aligned + 1, s.Lk);
            pairs += std::max<int64_t>(0, end - std::min(aligned / chunk * chunk, s.Lk));
        }
        flops += 2.0 * static_cast<double>(s.B * s.Hq) * static_cast<double>(pairs) * (d + dv1);
    }
    return flops;
}

uint64_t case_seed(uint64_t seed, const std::string& name) {
    uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a
    for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ull;
    return mix_seed(seed ^ h);
}

uint64_t mix_seed(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

namespace {

// Normal values rounded to what the device will store.
std::vector<float> random_values(std::mt19937_64& rng, int64_t n, DType dtype) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) {
        x = normal(rng);
        if (dtype == DType::f16) x = round_to_half(x);
        if (dtype == DType::bf16) x = round_to_bf16(x);
    }
    return v;
}

// [B, H, L, D] -> [B, L, H, D] (the layout a strided problem stores).
std::vector<float> to_blhd(const std::vector<float>& x, int64_t B, int64_t H, int64_t L, int64_t D) {
    std::vector<float> y(x.size());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t l = 0; l < L; ++l)
                for (int64_t d = 0; d < D; ++d)
                    y[static_cast<std::size_t>(((b * L + l) * H + h) * D + d)] =
                        x[static_cast<std::size_t>(((b * H + h) * L + l) * D + d)];
    return y;
}

}  // namespace

GeneratedProblem generate_problem(const ProblemSpec& s, uint64_t seed) {
    std::mt19937_64 rng(seed);
    GeneratedProblem g;
    HostAttentionProblem& p = g.host;
    p.B = s.B, p.Hq = s.Hq, p.Hkv = s.Hkv, p.Lq = s.Lq, p.Lk = s.Lk, p.D = s.D, p.Dv = s.Dv;
    p.causal = s.causal;
    p.window = s.window;
    p.q = random_values(rng, s.B * s.Hq * s.Lq * s.D, s.dtype);
    p.k = random_values(rng, s.B * s.Hkv * s.Lk * s.D, s.dtype);
    p.v = random_values(rng, s.B * s.Hkv * s.Lk * s.Dv, s.dtype);
    if (s.kv_dtype && dtype_is_quantized(*s.kv_dtype))
        for (std::vector<float>* t : {&p.k, &p.v}) {  // the reference sees what the kernels dequantise
            std::vector<uint8_t> blocks(dtype_storage_bytes(*s.kv_dtype, static_cast<int64_t>(t->size())));
            quantize_blocks(*s.kv_dtype, t->data(), static_cast<int64_t>(t->size()), blocks.data());
            dequantize_blocks(*s.kv_dtype, blocks.data(), static_cast<int64_t>(t->size()), t->data());
        }
    if (s.key_lengths) {
        std::uniform_int_distribution<int64_t> any(0, s.Lk);
        for (int64_t b = 0; b < s.B; ++b) {
            const int64_t len = b == 0 ? s.Lk : b == 1 ? std::max<int64_t>(1, s.Lk * 3 / 5) : b == 2 ? 0 : any(rng);
            p.key_lengths.push_back(static_cast<int32_t>(len));
        }
    }
    if (s.sinks) {
        std::uniform_real_distribution<float> logit(-1.0f, 3.0f);
        for (int64_t h = 0; h < s.Hq; ++h) p.sinks.push_back(logit(rng));
    }
    if (s.mask != MaskKind::none) {
        p.mask_shape = s.mask_per_batch ? Shape{s.B, 1, s.Lq, s.Lk} : Shape{s.Lq, s.Lk};
        const int64_t n = (s.mask_per_batch ? s.B : 1) * s.Lq * s.Lk;
        std::uniform_real_distribution<float> unit(0.0f, 1.0f);
        std::normal_distribution<float> normal(0.0f, 2.0f);
        p.mask.resize(static_cast<std::size_t>(n));
        if (s.mask == MaskKind::boolean) {
            p.mask_is_bool = true;
            g.bool_mask.resize(static_cast<std::size_t>(n));
            for (int64_t i = 0; i < n; ++i) {
                const bool attend = unit(rng) < 0.8f;
                g.bool_mask[static_cast<std::size_t>(i)] = attend ? 1 : 0;
                p.mask[static_cast<std::size_t>(i)] = attend ? 1.0f : 0.0f;
            }
        } else {
            for (float& m : p.mask) {
                m = unit(rng) < 0.1f ? -std::numeric_limits<float>::infinity() : normal(rng);
                if (s.dtype == DType::f16) m = round_to_half(m);
                if (s.dtype == DType::bf16) m = round_to_bf16(m);
            }
        }
    }
    return g;
}

DeviceProblem upload_problem(Context& ctx, const ProblemSpec& s, const GeneratedProblem& g) {
    const HostAttentionProblem& p = g.host;
    DeviceProblem d;
    const DType kv = s.kv_dtype.value_or(s.dtype);
    if (s.strided) {
        d.q = ctx.upload(to_blhd(p.q, s.B, s.Hq, s.Lq, s.D), {s.B, s.Lq, s.Hq, s.D}, s.dtype).transposed(1, 2);
        d.k = ctx.upload(to_blhd(p.k, s.B, s.Hkv, s.Lk, s.D), {s.B, s.Lk, s.Hkv, s.D}, kv).transposed(1, 2);
        d.v = ctx.upload(to_blhd(p.v, s.B, s.Hkv, s.Lk, s.Dv), {s.B, s.Lk, s.Hkv, s.Dv}, kv).transposed(1, 2);
    } else {
        d.q = ctx.upload(p.q, {s.B, s.Hq, s.Lq, s.D}, s.dtype);
        d.k = ctx.upload(p.k, {s.B, s.Hkv, s.Lk, s.D}, kv);
        d.v = ctx.upload(p.v, {s.B, s.Hkv, s.Lk, s.Dv}, kv);
    }
    AttentionOptions& o = d.options;
    o.causal = s.causal;
    o.window = s.window;
    o.path = s.path;
    o.key_lengths = p.key_lengths;
    o.sinks = p.sinks;
    if (s.mask == MaskKind::boolean)
        o.mask = ctx.upload_raw(g.bool_mask.data(), g.bool_mask.size(), p.mask_shape, DType::u8);
    else if (s.mask == MaskKind::additive)
        o.mask = ctx.upload(p.mask, p.mask_shape, s.dtype);
    return d;
}

Comparison compare_output(const std::vector<float>& gpu, const GeneratedProblem& g, DType precision) {
    const HostAttentionResult ref = reference_attention(g.host);
    const HostAttentionResult naive = naive_attention(g.host, precision);
    Comparison c;
    if (gpu.size() != ref.out.size()) {
        c.why = "output has " + std::to_string(gpu.size()) + " elements, expected " + std::to_string(ref.out.size());
        c.max_abs_err = c.rel_err = std::numeric_limits<double>::quiet_NaN();
        return c;
    }
    for (std::size_t i = 0; i < ref.out.size(); ++i) {
        const double r = ref.out[i];
        if (!std::isfinite(r)) continue;
        c.max_ref = std::max(c.max_ref, std::abs(r));
        c.naive_err = std::max(c.naive_err, std::abs(static_cast<double>(naive.out[i]) - r));
        if (!std::isfinite(gpu[i])) {
            ++c.nonfinite;
            continue;
        }
        c.max_abs_err = std::max(c.max_abs_err, std::abs(static_cast<double>(gpu[i]) - r));
    }
    c.bound = 2 * c.naive_err + 1e-6;
    c.rel_err = c.max_abs_err / std::max(c.max_ref, 1e-30);
    if (c.nonfinite > 0)
        c.why = std::to_string(c.nonfinite) + " non-finite output element(s)";
    else if (c.max_abs_err > c.bound)
        c.why = "max abs error " + format_sci(c.max_abs_err) + " > bound " + format_sci(c.bound);
    else if (precision == DType::f32 && c.rel_err > kF32RelativeLimit)
        c.why = "relative error " + format_sci(c.rel_err) + " > " + format_sci(kF32RelativeLimit, 0);
    c.pass = c.why.empty();
    return c;
}

}  // namespace vkattn::cli
