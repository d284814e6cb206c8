#include "bench/bench_sequences.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>

#include "bench/bench_layers.hpp"
#include "cli/cli_common.hpp"
#include "vkattn/reference.hpp"

namespace vkattn::cli {
namespace {

// Mixed lengths (a serving batch): the prefill prompts and the decode caches.
const std::vector<int32_t> kPrefillLengths = {64, 1024, 200, 512, 96, 768, 333, 1000};
const std::vector<int32_t> kDecodeLengths = {256, 2048, 700, 1500, 333, 1024, 1800, 90};
constexpr int64_t kPageSize = 16;

BenchCase sequence_case(const std::string& kind, const std::string& name, int64_t Hq, int64_t Hkv, int64_t D, bool decode) {
    const std::vector<int32_t>& len = decode ? kDecodeLengths : kPrefillLengths;
    BenchCase c;
    c.kind = kind;
    c.family = name;
    ProblemSpec& s = c.spec;
    s.name = name;
    s.B = static_cast<int64_t>(len.size()), s.Hq = Hq, s.Hkv = Hkv, s.D = s.Dv = D;
    s.Lk = *std::max_element(len.begin(), len.end());
    s.Lq = decode ? 1 : s.Lk;
    s.dtype = DType::f16;
    s.causal = Causal::bottom_right;
    return c;
}

bool decode_case(const BenchCase& c) { return c.spec.Lq == 1; }
bool packed_case(const BenchCase& c) { return c.spec.name.ends_with("packed") || c.spec.name.find("paged") != std::string::npos; }
const std::vector<int32_t>& lengths_of(const BenchCase& c) { return decode_case(c) ? kDecodeLengths : kPrefillLengths; }

std::vector<int32_t> cumulative(const std::vector<int32_t>& len) {
    std::vector<int32_t> cu(1, 0);
    for (int32_t l : len) cu.push_back(cu.back() + l);
    return cu;
}

std::vector<float> random_halves(std::mt19937_64& gen, int64_t n) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(n));
    for (float& e : x) e = round_to_half(u(gen));
    return x;
}

// Head 0 of a packed [T, H, D] array.
std::vector<float> head0(const std::vector<float>& x, int64_t T, int64_t H, int64_t D) {
    std::vector<float> r(static_cast<std::size_t>(T * D));
    for (int64_t t = 0; t < T; ++t) std::copy_n(x.begin() + t * H * D, D, r.begin() + t * D);
    return r;
}

}  // namespace

void add_sequence_cases(std::vector<BenchCase>& v) {
    v.push_back(sequence_case("varlen", "varlen f16 causal S8 N64..1024 H8 D64 packed", 8, 8, 64, false));
    v.push_back(sequence_case("varlen", "varlen f16 causal S8 N64..1024 H8 D64 padded", 8, 8, 64, false));
    v.push_back(sequence_case("paged", "decode f16 S8 Lk90..2048 H32/8 D128 paged16", 32, 8, 128, true));
    v.push_back(sequence_case("paged", "decode f16 S8 Lk90..2048 H32/8 D128 kvcache", 32, 8, 128, true));
}

bool is_sequence_case(const BenchCase& c) { return c.kind == "varlen" || c.kind == "paged"; }

double sequence_flops(const BenchCase& c) {
    const ProblemSpec& s = c.spec;
    double pairs = 0;
    for (int32_t l : lengths_of(c)) pairs += decode_case(c) ? double(l) : double(l) * (l + 1) / 2;
    return 2.0 * double(s.Hq) * pairs * double(s.D + s.Dv);
}

double sequence_bytes(const BenchCase& c) {
    const ProblemSpec& s = c.spec;
    double tokens = 0;
    for (int32_t l : lengths_of(c)) tokens += l;
    const double q_rows = decode_case(c) ? double(lengths_of(c).size()) : tokens;
    return 2.0 * (2 * q_rows * double(s.Hq * s.D) + tokens * double(s.Hkv) * double(s.D + s.Dv));
}

BenchRow measure_sequence_case(Context& ctx, const BenchCase& c, const MeasureSettings& settings) {
    const auto start = std::chrono::steady_clock::now();
    const ProblemSpec& s = c.spec;
    BenchRow row;
    row.bench = c;
    row.flops = sequence_flops(c);
    row.bytes = sequence_bytes(c);
    const std::vector<int32_t>& len = lengths_of(c);
    const int64_t S = static_cast<int64_t>(len.size()), Lmax = s.Lk, Hq = s.Hq, Hkv = s.Hkv, D = s.D;
    const std::vector<int32_t> cu_k = cumulative(len);
    const std::vector<int32_t> q_len = decode_case(c) ? std::vector<int32_t>(len.size(), 1) : len;
    const std::vector<int32_t> cu_q = cumulative(q_len);
    const int64_t Tq = cu_q.back(), Tk = cu_k.back();
    std::mt19937_64 gen(settings.seed);
    const std::vector<float> q = random_halves(gen, Tq * Hq * D), k = random_halves(gen, Tk * Hkv * D), v = random_halves(gen, Tk * Hkv * D);
    // Packed [T, H, D] rows of sequence b as a padded [S, H, L, D] batch.
    const auto padded = [&](const std::vector<float>& x, const std::vector<int32_t>& cu, int64_t H, int64_t L) {
        std::vector<float> p(static_cast<std::size_t>(S * H * L * D), 0.0f);
        for (int64_t b = 0; b < S; ++b)
            for (int64_t t = cu[b]; t < cu[b + 1]; ++t)
                for (int64_t h = 0; h < H; ++h)
                    std::copy_n(x.begin() + (t * H + h) * D, D, p.begin() + ((b * H + h) * L + (t - cu[b])) * D);
        return p;
    };
    AttentionOptions o;
    o.measure_time = true;
    o.causal = Causal::bottom_right;
    std::function<AttentionResult()> call;
    std::optional<PagedKvCache> paged;
    std::optional<KvCache> contiguous;
    std::vector<SequenceId> ids;
    Tensor tq, tk, tv;
    if (c.kind == "varlen" && packed_case(c)) {
        tq = ctx.upload(q, {Tq, Hq, D}, DType::f16), tk = ctx.upload(k, {Tk, Hkv, D}, DType::f16), tv = ctx.upload(v, {Tk, Hkv, D}, DType::f16);
        call = [&] { return attention_varlen(ctx, tq, tk, tv, cu_q, cu_k, o); };
    } else if (c.kind == "varlen") {
        // Without packed sequences: a padded batch, key lengths aligned per batch (the padded query rows are computed too).
        tk = ctx.upload(padded(k, cu_k, Hkv, Lmax), {S, Hkv, Lmax, D}, DType::f16);
        tv = ctx.upload(padded(v, cu_k, Hkv, Lmax), {S, Hkv, Lmax, D}, DType::f16);
        o.key_lengths = len;
        o.align_to_key_lengths = true;
        // Query i of batch b meets key i + len[b] - Lmax: pad the queries at the front so the last real one meets the last key.
        tq = ctx.upload([&] {
            std::vector<float> p(static_cast<std::size_t>(S * Hq * Lmax * D), 0.0f);
            for (int64_t b = 0; b < S; ++b)
                for (int64_t t = cu_q[b]; t < cu_q[b + 1]; ++t)
                    for (int64_t h = 0; h < Hq; ++h)
                        std::copy_n(q.begin() + (t * Hq + h) * D, D, p.begin() + ((b * Hq + h) * Lmax + (Lmax - len[b] + t - cu_q[b])) * D);
            return p;
        }(), {S, Hq, Lmax, D}, DType::f16);
        call = [&] { return attention_full(ctx, tq, tk, tv, o); };
    } else if (packed_case(c)) {
        int64_t pages = 0;
        for (int32_t l : len) pages += (l + kPageSize - 1) / kPageSize;
        paged.emplace(ctx, PagedKvCacheOptions{pages, kPageSize, Hkv, D, 0, DType::f16});
        for (int64_t b = 0; b < S; ++b) ids.push_back(paged->add_sequence());
        paged->append(ids, ctx.upload(k, {Tk, Hkv, D}, DType::f16), ctx.upload(v, {Tk, Hkv, D}, DType::f16), cu_k);
        tq = ctx.upload(q, {Tq, Hq, D}, DType::f16);
        call = [&] { return attend(ctx, tq, *paged, ids, cu_q, o); };
    } else {
        contiguous.emplace(ctx, KvCacheOptions{S, Hkv, Lmax, D, 0, DType::f16});
        // [S, Hkv, Lmax, D] rows, each batch appending its own count.
        std::vector<float> kp(static_cast<std::size_t>(S * Hkv * Lmax * D), 0.0f), vp = kp;
        for (int64_t b = 0; b < S; ++b)
            for (int64_t t = cu_k[b]; t < cu_k[b + 1]; ++t)
                for (int64_t h = 0; h < Hkv; ++h) {
                    std::copy_n(k.begin() + (t * Hkv + h) * D, D, kp.begin() + ((b * Hkv + h) * Lmax + (t - cu_k[b])) * D);
                    std::copy_n(v.begin() + (t * Hkv + h) * D, D, vp.begin() + ((b * Hkv + h) * Lmax + (t - cu_k[b])) * D);
                }
        contiguous->append(ctx.upload(kp, {S, Hkv, Lmax, D}, DType::f16), ctx.upload(vp, {S, Hkv, Lmax, D}, DType::f16), len);
        tq = ctx.upload(q, {S, Hq, 1, D}, DType::f16);
        o.causal = Causal::none;  // attend() sets bottom-right
        call = [&] { return attend(ctx, tq, *contiguous, o); };
    }
    const AttentionResult first = call();
    row.variant = first.variant;
    row.path = to_string(first.path);
    if (settings.check) {
        // Head 0 of every sequence (its KV head 0) against the host reference.
        HostAttentionProblem h;
        h.Hq = h.Hkv = 1, h.D = h.Dv = D;
        h.q = head0(q, Tq, Hq, D), h.k = head0(k, Tk, Hkv, D), h.v = head0(v, Tk, Hkv, D);
        h.causal = Causal::bottom_right;
        const HostAttentionResult want = reference_attention_varlen(h, cu_q, cu_k);
        const std::vector<float> out = first.out.download<float>();
        std::vector<float> got(static_cast<std::size_t>(Tq * D));
        for (int64_t b = 0; b < S; ++b)
            for (int64_t t = cu_q[b]; t < cu_q[b + 1]; ++t) {
                // Packed [Tq, Hq, D], or padded [S, Hq, Lq, D] with the sequence's rows at the end.
                const int64_t i = t - cu_q[b];
                const int64_t src = first.out.rank() == 3 ? t * Hq * D : (b * Hq * s.Lq + (s.Lq - q_len[b] + i)) * D;
                std::copy_n(out.begin() + src, D, got.begin() + t * D);
            }
        double worst = 0;
        for (std::size_t e = 0; e < got.size(); ++e) worst = std::max(worst, std::isfinite(got[e]) ? std::fabs(double(got[e]) - want.out[e]) : INFINITY);
        const double bound = 2e-3;  // f16 inputs and output, f32 accumulation: outputs are averages of values in [-1, 1]
        row.check = worst <= bound ? "pass" : "FAIL";
        row.max_abs_err = worst;
        row.check_bound = bound;
        if (worst > bound) row.note = "check failed: max abs error " + format_sci(worst) + " over the bound (head 0)";
    }
    time_runs(row, settings, [&] {
        const AttentionResult r = call();
        return std::pair<double, std::string>{r.gpu_milliseconds, r.variant};
    }, start);
    return row;
}

}  // namespace vkattn::cli
