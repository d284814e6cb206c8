// Linear attention on the host from its definition, key by key: the double reference and a float
// implementation that tests use to size their tolerance (include/vkattn/linear_reference.hpp).
#include <cmath>
#include <string>

#include "vkattn/dtype.hpp"
#include "vkattn/error.hpp"
#include "vkattn/linear_reference.hpp"

namespace vkattn {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw Error(ErrorCode::invalid_argument, msg); }

// Keys [0, end) are visible to query row i of batch b.
int64_t visible_end(const HostLinearProblem& p, int64_t b, int64_t i) {
    int64_t end = p.key_lengths.empty() ? p.Lk : std::min<int64_t>(p.Lk, p.key_lengths[static_cast<std::size_t>(b)]);
    if (p.causal == Causal::top_left) end = std::min(end, i + 1);
    if (p.causal == Causal::bottom_right) end = std::min(end, i + p.Lk - p.Lq + 1);
    return std::max<int64_t>(end, 0);
}

std::vector<int64_t> rows_or_all(const HostLinearProblem& p, const std::vector<int64_t>& rows) {
    if (!rows.empty()) {
        for (int64_t i : rows)
            if (i < 0 || i >= p.Lq) fail("rows: " + std::to_string(i) + " is outside [0, Lq = " + std::to_string(p.Lq) + ")");
        return rows;
    }
    std::vector<int64_t> all(static_cast<std::size_t>(p.Lq));
    for (int64_t i = 0; i < p.Lq; ++i) all[static_cast<std::size_t>(i)] = i;
    return all;
}

// The formula in arithmetic type T, one output row at a time.
template <typename T>
std::vector<float> direct(const HostLinearProblem& p, const std::vector<int64_t>& rows_in, bool round_half) {
    validate_host_linear_problem(p);
    const std::vector<int64_t> rows = rows_or_all(p, rows_in);
    const int64_t R = static_cast<int64_t>(rows.size()), group = p.Hq / p.Hkv;
    std::vector<float> out(static_cast<std::size_t>(p.B * p.Hq * R * p.Dv));
    std::vector<T> fq(static_cast<std::size_t>(p.D)), num(static_cast<std::size_t>(p.Dv));
    for (int64_t b = 0; b < p.B; ++b)
        for (int64_t h = 0; h < p.Hq; ++h) {
            const int64_t kvh = h / group;
            const float* K = p.k.data() + (b * p.Hkv + kvh) * p.Lk * p.D;
            const float* V = p.v.data() + (b * p.Hkv + kvh) * p.Lk * p.Dv;
            for (int64_t r = 0; r < R; ++r) {
                const int64_t i = rows[static_cast<std::size_t>(r)];
                const float* Q = p.q.data() + ((b * p.Hq + h) * p.Lq + i) * p.D;
                for (int64_t d = 0; d < p.D; ++d) fq[d] = static_cast<T>(linear_feature(p.feature_map, Q[d]));
                std::fill(num.begin(), num.end(), T(0));
                T den = 0;
                const int64_t end = visible_end(p, b, i);
                for (int64_t j = 0; j < end; ++j) {
                    T a = 0;
                    for (int64_t d = 0; d < p.D; ++d) a += fq[d] * static_cast<T>(linear_feature(p.feature_map, K[j * p.D + d]));
                    den += a;
                    for (int64_t e = 0; e < p.Dv; ++e) num[e] += a * static_cast<T>(V[j * p.Dv + e]);
                }
                float* O = out.data() + ((b * p.Hq + h) * R + r) * p.Dv;
                for (int64_t e = 0; e < p.Dv; ++e) {
                    const float o = static_cast<float>(num[e] / (den + static_cast<T>(kLinearAttentionEps)));
                    O[e] = round_half ? round_to_half(o) : o;
                }
            }
        }
    return out;
}

}  // namespace

const char* to_string(FeatureMap f) noexcept { return f == FeatureMap::identity ? "identity" : "elu+1"; }

double linear_feature(FeatureMap f, double x) {
    if (f == FeatureMap::identity) return x;
    return x > 0 ? x + 1 : std::exp(x);
}

void validate_host_linear_problem(const HostLinearProblem& p) {
    const auto s = [](int64_t x) { return std::to_string(x); };
    for (int64_t d : {p.B, p.Hq, p.Hkv, p.Lq, p.D, p.Dv})
        if (d <= 0) fail("shape: B, Hq, Hkv, Lq, D and Dv must be positive");
    if (p.Lk < 0) fail("Lk: must be >= 0, got " + s(p.Lk));
    if (p.Hq % p.Hkv != 0) fail("Hq: " + s(p.Hq) + " is not a multiple of Hkv = " + s(p.Hkv));
    if (static_cast<int64_t>(p.q.size()) != p.B * p.Hq * p.Lq * p.D) fail("q: size does not match [B, Hq, Lq, D]");
    if (static_cast<int64_t>(p.k.size()) != p.B * p.Hkv * p.Lk * p.D) fail("k: size does not match [B, Hkv, Lk, D]");
    if (static_cast<int64_t>(p.v.size()) != p.B * p.Hkv * p.Lk * p.Dv) fail("v: size does not match [B, Hkv, Lk, Dv]");
    if (!p.key_lengths.empty()) {
        if (static_cast<int64_t>(p.key_lengths.size()) != p.B) fail("key_lengths: needs one entry per batch (B = " + s(p.B) + ")");
        for (int32_t len : p.key_lengths)
            if (len < 0 || len > p.Lk) fail("key_lengths: " + std::to_string(len) + " is outside [0, Lk = " + s(p.Lk) + "]");
    }
}

std::vector<float> reference_linear_attention(const HostLinearProblem& p, const std::vector<int64_t>& rows) {
    return direct<double>(p, rows, false);
}

std::vector<float> naive_linear_attention(const HostLinearProblem& p, bool round_output_to_half, const std::vector<int64_t>& rows) {
    return direct<float>(p, rows, round_output_to_half);
}

}  // namespace vkattn
