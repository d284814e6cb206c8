// The attention operation on the host, written to be read rather than to be fast.
// reference_attention is the ground truth for the kernels; naive_attention models what a
// straightforward float/f16 implementation gets, so tests can bound the kernels' error by it.
#include "vkattn/reference.hpp"

#include <cmath>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string>

#include "vkattn/error.hpp"

namespace vkattn {

namespace {

// Anything at or below this additive mask value counts as "masked out", as documented in attention.hpp.
constexpr double kMaskedOut = -1e30;

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorCode::invalid_argument, message); }

// "[1, 2, 32, 64]" (local so the host code does not depend on the engine's to_string(Shape)).
std::string format_dims(const Shape& dims) {
    std::ostringstream out;
    out << '[';
    for (std::size_t i = 0; i < dims.size(); ++i) out << (i ? ", " : "") << dims[i];
    out << ']';
    return out.str();
}

std::string format_dims(std::initializer_list<int64_t> dims) { return format_dims(Shape(dims)); }

// Product of sizes, refusing to overflow (a bogus problem must give an error, not UB).
int64_t checked_product(std::initializer_list<int64_t> dims, const char* field) {
    int64_t product = 1;
    for (int64_t d : dims) {
        if (d != 0 && product > std::numeric_limits<int64_t>::max() / d)
            fail(std::string(field) + ": size " + format_dims(dims) + " overflows");
        product *= d;
    }
    return product;
}

void check_positive(int64_t value, const char* field) {
    if (value < 1) fail(std::string(field) + ": must be >= 1, got " + std::to_string(value));
}

void check_size(const std::vector<float>& data, const char* field, const char* layout,
                std::initializer_list<int64_t> dims) {
    const int64_t expected = checked_product(dims, field);
    if (static_cast<int64_t>(data.size()) != expected)
        fail(std::string(field) + ": expected " + std::to_string(expected) + " elements for " + layout + " = " +
             format_dims(dims) + ", got " + std::to_string(data.size()));
}

void check_key_lengths(const HostAttentionProblem& p) {
    if (p.key_lengths.empty()) return;
    if (static_cast<int64_t>(p.key_lengths.size()) != p.B)
        fail("key_lengths: expected " + std::to_string(p.B) + " entries (one per batch), got " +
             std::to_string(p.key_lengths.size()));
    for (std::size_t b = 0; b < p.key_lengths.size(); ++b) {
        const int32_t len = p.key_lengths[b];
        if (len < 0 || len > p.Lk)
            fail("key_lengths[" + std::to_string(b) + "]: " + std::to_string(len) + " is outside [0, Lk = " +
                 std::to_string(p.Lk) + "]");
    }
}

void check_mask(const HostAttentionProblem& p) {
    const Shape& s = p.mask_shape;
    if (s.empty()) {
        if (!p.mask.empty()) fail("mask: " + std::to_string(p.mask.size()) + " values given but mask_shape is empty");
        return;
    }
    const bool rows_match = s.size() >= 2 && s[s.size() - 2] == p.Lq && s[s.size() - 1] == p.Lk;
    const bool broadcast_ok =
        s.size() == 2 || (s.size() == 4 && (s[0] == 1 || s[0] == p.B) && (s[1] == 1 || s[1] == p.Hq));
    if (!rows_match || !broadcast_ok)
        fail("mask_shape: expected [Lq, Lk] = " + format_dims({p.Lq, p.Lk}) +
             " or [Bm, Hm, Lq, Lk] with Bm in {1, " + std::to_string(p.B) + "}, Hm in {1, " + std::to_string(p.Hq) +
             "}, got " + format_dims(s));
    int64_t expected = 1;
    for (int64_t d : s) expected *= d;  // cannot overflow: each dim equals a validated problem size or 1
    if (static_cast<int64_t>(p.mask.size()) != expected)
        fail("mask: expected " + std::to_string(expected) + " values for mask_shape " + format_dims(s) + ", got " +
             std::to_string(p.mask.size()));
}

// Element offset of mask[b, h, i, j], honouring broadcast of size-1 leading dimensions.
int64_t mask_offset(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t i, int64_t j) {
    int64_t plane = 0;
    if (p.mask_shape.size() == 4) {
        const int64_t mb = p.mask_shape[0] == 1 ? 0 : b;
        const int64_t mh = p.mask_shape[1] == 1 ? 0 : h;
        plane = mb * p.mask_shape[1] + mh;
    }
    return (plane * p.Lq + i) * p.Lk + j;
}

// Row i's aligned key: i + Lk - Lq, or i + key_lengths[b] - Lq when aligned to the key lengths.
int64_t aligned_key(const HostAttentionProblem& p, int64_t b, int64_t i) {
    const int64_t keys = p.align_to_key_lengths ? p.key_lengths[static_cast<std::size_t>(b)] : p.Lk;
    return i + keys - p.Lq;
}

bool causal_visible(const HostAttentionProblem& p, int64_t b, int64_t i, int64_t j) {
    switch (p.causal) {
        case Causal::none: return true;
        case Causal::top_left: return j <= i;
        case Causal::bottom_right: return j <= aligned_key(p, b, i);
    }
    return true;
}

// The window of AttentionOptions: keys in [i' - left, i' + right] around the aligned key i'.
bool window_visible(const HostAttentionProblem& p, int64_t b, int64_t i, int64_t j) {
    const int64_t aligned = aligned_key(p, b, i);
    if (p.window.left >= 0 && j < aligned - p.window.left) return false;
    if (p.window.right >= 0 && j > aligned + p.window.right) return false;
    return true;
}

// Soft-capping, then ALiBi, applied to a scaled score (natural units).
double transform_score(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t i, int64_t j, double s) {
    if (p.softcap > 0) s = p.softcap * std::tanh(s / p.softcap);
    if (!p.alibi_slopes.empty()) {
        const double dist = std::fabs(static_cast<double>(j - aligned_key(p, b, i)));
        s -= static_cast<double>(p.alibi_slopes[static_cast<std::size_t>(h)]) * dist;
    }
    return s;
}

double effective_scale(const HostAttentionProblem& p) {
    return p.scale == 0 ? 1.0 / std::sqrt(static_cast<double>(p.D)) : static_cast<double>(p.scale);
}

// GQA: consecutive groups of Hq / Hkv query heads share one key/value head.
int64_t kv_head(const HostAttentionProblem& p, int64_t h) { return h / (p.Hq / p.Hkv); }

const float* q_row(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t i) {
    return p.q.data() + ((b * p.Hq + h) * p.Lq + i) * p.D;
}
const float* k_row(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t j) {
    return p.k.data() + ((b * p.Hkv + kv_head(p, h)) * p.Lk + j) * p.D;
}
const float* v_row(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t j) {
    return p.v.data() + ((b * p.Hkv + kv_head(p, h)) * p.Lk + j) * p.Dv;
}

// Index of row (b, h, i) in the [B, Hq, Lq] row space.
int64_t row_index(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t i) { return (b * p.Hq + h) * p.Lq + i; }

// ---- reference_attention: one small function per step, double everywhere ----

// Scores of one query row; masked keys are marked invisible (their score is unused).
struct RowScores {
    std::vector<double> score;
    std::vector<bool> visible;
};

RowScores reference_scores(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t i) {
    RowScores row{std::vector<double>(static_cast<std::size_t>(p.Lk), 0.0),
                  std::vector<bool>(static_cast<std::size_t>(p.Lk), false)};
    const double scale = effective_scale(p);
    const float* q = q_row(p, b, h, i);
    for (int64_t j = 0; j < p.Lk; ++j) {
        double additive = 0;
        if (!reference_key_visible(p, b, h, i, j, &additive)) continue;
        const float* k = k_row(p, b, h, j);
        double dot = 0;
        for (int64_t d = 0; d < p.D; ++d) dot += static_cast<double>(q[d]) * static_cast<double>(k[d]);
        row.score[static_cast<std::size_t>(j)] = transform_score(p, b, h, i, j, scale * dot) + additive;
        row.visible[static_cast<std::size_t>(j)] = true;
    }
    return row;
}

// Head h's attention-sink logit, or -inf when there are none: a term exp(sink) of the softmax
// denominator that takes no value (gpt-oss), so the row's probabilities sum to less than one.
double sink_logit(const HostAttentionProblem& p, int64_t h) {
    return p.sinks.empty() ? -std::numeric_limits<double>::infinity() : static_cast<double>(p.sinks[static_cast<std::size_t>(h)]);
}

// Natural log of the sum of exp over visible scores and the sink, computed as max + log(sum exp(s -
// max)) so that large scores do not overflow. -inf when no key is visible and there is no sink.
double reference_log_sum_exp(const RowScores& row, double sink) {
    double max = sink;
    for (std::size_t j = 0; j < row.score.size(); ++j)
        if (row.visible[j] && row.score[j] > max) max = row.score[j];
    if (max == -std::numeric_limits<double>::infinity()) return max;
    double sum = std::isinf(sink) ? 0.0 : std::exp(sink - max);
    for (std::size_t j = 0; j < row.score.size(); ++j)
        if (row.visible[j]) sum += std::exp(row.score[j] - max);
    return max + std::log(sum);
}

// Softmax probabilities exp(s - lse); masked keys (and every key of an empty row) get 0.
std::vector<double> reference_softmax(const RowScores& row, double lse) {
    std::vector<double> prob(row.score.size(), 0.0);
    if (std::isinf(lse) && lse < 0) return prob;
    for (std::size_t j = 0; j < row.score.size(); ++j)
        if (row.visible[j]) prob[j] = std::exp(row.score[j] - lse);
    return prob;
}

// out[d] = sum_j prob[j] * v[j][d].
std::vector<double> reference_weighted_sum(const HostAttentionProblem& p, int64_t b, int64_t h,
                                           const std::vector<double>& prob) {
    std::vector<double> out(static_cast<std::size_t>(p.Dv), 0.0);
    for (int64_t j = 0; j < p.Lk; ++j) {
        const double pj = prob[static_cast<std::size_t>(j)];
        if (pj == 0) continue;
        const float* v = v_row(p, b, h, j);
        for (int64_t d = 0; d < p.Dv; ++d) out[static_cast<std::size_t>(d)] += pj * static_cast<double>(v[d]);
    }
    return out;
}

HostAttentionResult allocate_result(const HostAttentionProblem& p, bool want_weights) {
    HostAttentionResult r;
    const auto rows = static_cast<std::size_t>(p.B * p.Hq * p.Lq);
    r.out.assign(rows * static_cast<std::size_t>(p.Dv), 0.0f);
    r.lse.assign(rows, 0.0f);
    if (want_weights) r.weights.assign(rows * static_cast<std::size_t>(p.Lk), 0.0f);
    return r;
}

// ---- naive_attention: the same row, in float, optionally with f16 rounding ----

// Float scores of one query row, with the running maximum over visible keys.
struct NaiveScores {
    std::vector<float> score;
    std::vector<bool> visible;
    float max = -std::numeric_limits<float>::infinity();
};

// q·k in float, summed in `order` (DotOrder, reference.hpp).
float naive_dot(const float* q, const float* k, int64_t D, const DotOrder& order) {
    if (order.lanes <= 1) {
        float dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += q[d] * k[d];
        return dot;
    }
    const int64_t lanes = order.lanes;
    std::vector<float> partial(static_cast<std::size_t>(lanes), 0.0f);
    for (int64_t t = 0; t < lanes; ++t)
        for (int64_t quad = t; 4 * quad < D; quad += lanes)
            for (int64_t d = 4 * quad; d < std::min<int64_t>(4 * quad + 4, D); ++d) partial[static_cast<std::size_t>(t)] += q[d] * k[d];
    if (!order.pairwise) {
        float dot = 0;
        for (float x : partial) dot += x;
        return dot;
    }
    for (int64_t step = 1; step < lanes; step *= 2)
        for (int64_t t = 0; t + step < lanes; t += 2 * step)
            partial[static_cast<std::size_t>(t)] += partial[static_cast<std::size_t>(t + step)];
    return partial[0];
}

NaiveScores naive_scores(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t i, const DotOrder& order) {
    NaiveScores row{std::vector<float>(static_cast<std::size_t>(p.Lk), 0.0f),
                    std::vector<bool>(static_cast<std::size_t>(p.Lk), false)};
    const auto scale = static_cast<float>(effective_scale(p));
    const float* q = q_row(p, b, h, i);
    for (int64_t j = 0; j < p.Lk; ++j) {
        double additive = 0;
        if (!reference_key_visible(p, b, h, i, j, &additive)) continue;
        const float* k = k_row(p, b, h, j);
        const float dot = naive_dot(q, k, p.D, order);
        const auto js = static_cast<std::size_t>(j);
        row.score[js] = static_cast<float>(transform_score(p, b, h, i, j, scale * dot)) + static_cast<float>(additive);
        row.visible[js] = true;
        if (row.score[js] > row.max) row.max = row.score[js];
    }
    return row;
}

// Softmax and P·V of one row in float; with f16 (bf16), P and the output are rounded to half (bfloat16)
// as a framework storing them in that format would. `out` must hold Dv zeros on entry.
void naive_row(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t i, DType precision, const DotOrder& order, float* out,
               float* lse, float* weights) {
    const auto round16 = [precision](float x) {
        return precision == DType::f16 ? round_to_half(x) : precision == DType::bf16 ? round_to_bf16(x) : x;
    };
    const NaiveScores row = naive_scores(p, b, h, i, order);
    const auto sink = static_cast<float>(sink_logit(p, h));
    const float max = std::max(row.max, sink);
    *lse = max;
    if (max == -std::numeric_limits<float>::infinity()) return;  // nothing visible, no sink: out stays 0
    float sum = std::isinf(sink) ? 0.0f : std::exp(sink - max);
    for (std::size_t j = 0; j < row.score.size(); ++j)
        if (row.visible[j]) sum += std::exp(row.score[j] - max);
    *lse = max + std::log(sum);
    for (int64_t j = 0; j < p.Lk; ++j) {
        const auto js = static_cast<std::size_t>(j);
        if (!row.visible[js]) continue;
        float prob = std::exp(row.score[js] - max) / sum;
        if (weights) weights[js] = prob;  // the kernels keep P in f32 whatever the input dtype
        prob = round16(prob);
        const float* v = v_row(p, b, h, j);
        for (int64_t d = 0; d < p.Dv; ++d) out[d] += prob * v[d];
    }
    for (int64_t d = 0; d < p.Dv; ++d) out[d] = round16(out[d]);
}

}  // namespace

void validate_host_problem(const HostAttentionProblem& p) {
    check_positive(p.B, "B");
    check_positive(p.Hq, "Hq");
    check_positive(p.Hkv, "Hkv");
    check_positive(p.Lq, "Lq");
    check_positive(p.Lk, "Lk");
    check_positive(p.D, "D");
    check_positive(p.Dv, "Dv");
    if (p.Hq % p.Hkv != 0)
        fail("Hq: " + std::to_string(p.Hq) + " query heads is not a multiple of Hkv = " + std::to_string(p.Hkv));
    check_size(p.q, "q", "[B, Hq, Lq, D]", {p.B, p.Hq, p.Lq, p.D});
    check_size(p.k, "k", "[B, Hkv, Lk, D]", {p.B, p.Hkv, p.Lk, p.D});
    check_size(p.v, "v", "[B, Hkv, Lk, Dv]", {p.B, p.Hkv, p.Lk, p.Dv});
    // The output, lse and weights are sized B*Hq*Lq*{Dv,1,Lk}; make sure those products fit too.
    checked_product({p.B, p.Hq, p.Lq, p.Dv}, "out");
    checked_product({p.B, p.Hq, p.Lq, p.Lk}, "weights");
    if (!std::isfinite(p.scale)) fail("scale: must be finite, got " + std::to_string(p.scale));
    check_key_lengths(p);
    check_mask(p);
    if (p.window.left < -1 || p.window.right < -1)
        fail("window: left and right must be >= 0, or -1 for unbounded; got (" + std::to_string(p.window.left) + ", " +
             std::to_string(p.window.right) + ")");
    if (!p.alibi_slopes.empty()) {
        if (static_cast<int64_t>(p.alibi_slopes.size()) != p.Hq)
            fail("alibi_slopes: expected " + std::to_string(p.Hq) + " values (one per query head), got " +
                 std::to_string(p.alibi_slopes.size()));
        for (std::size_t h = 0; h < p.alibi_slopes.size(); ++h)
            if (!std::isfinite(p.alibi_slopes[h]))
                fail("alibi_slopes[" + std::to_string(h) + "]: must be finite, got " + std::to_string(p.alibi_slopes[h]));
    }
    if (!p.sinks.empty()) {
        if (static_cast<int64_t>(p.sinks.size()) != p.Hq)
            fail("sinks: expected " + std::to_string(p.Hq) + " values (one per query head), got " + std::to_string(p.sinks.size()));
        for (std::size_t h = 0; h < p.sinks.size(); ++h)
            if (!std::isfinite(p.sinks[h])) fail("sinks[" + std::to_string(h) + "]: must be finite, got " + std::to_string(p.sinks[h]));
    }
    if (p.align_to_key_lengths && p.key_lengths.empty()) fail("align_to_key_lengths: needs key_lengths");
    if (!std::isfinite(p.softcap) || p.softcap < 0) fail("softcap: must be finite and >= 0, got " + std::to_string(p.softcap));
}

bool reference_key_visible(const HostAttentionProblem& p, int64_t b, int64_t h, int64_t i, int64_t j,
                           double* additive) {
    if (additive) *additive = 0;
    if (!causal_visible(p, b, i, j)) return false;
    if (!window_visible(p, b, i, j)) return false;
    if (!p.key_lengths.empty() && j >= p.key_lengths[static_cast<std::size_t>(b)]) return false;
    if (p.mask_shape.empty()) return true;
    const double m = p.mask[static_cast<std::size_t>(mask_offset(p, b, h, i, j))];
    if (p.mask_is_bool) return m != 0;
    if (m <= kMaskedOut) return false;  // covers -inf
    if (additive) *additive = m;
    return true;
}

HostAttentionResult reference_attention(const HostAttentionProblem& p, bool want_weights) {
    validate_host_problem(p);
    HostAttentionResult r = allocate_result(p, want_weights);
    for (int64_t b = 0; b < p.B; ++b)
        for (int64_t h = 0; h < p.Hq; ++h)
            for (int64_t i = 0; i < p.Lq; ++i) {
                const auto row = static_cast<std::size_t>(row_index(p, b, h, i));
                const RowScores scores = reference_scores(p, b, h, i);
                const double lse = reference_log_sum_exp(scores, sink_logit(p, h));
                const std::vector<double> prob = reference_softmax(scores, lse);
                const std::vector<double> out = reference_weighted_sum(p, b, h, prob);
                r.lse[row] = static_cast<float>(lse);
                for (std::size_t d = 0; d < out.size(); ++d) r.out[row * out.size() + d] = static_cast<float>(out[d]);
                if (want_weights)
                    for (std::size_t j = 0; j < prob.size(); ++j)
                        r.weights[row * prob.size() + j] = static_cast<float>(prob[j]);
            }
    return r;
}

HostAttentionResult naive_attention(const HostAttentionProblem& p, DType precision, bool want_weights, DotOrder order) {
    if (precision != DType::f32 && precision != DType::f16 && precision != DType::bf16)
        fail("precision: must be f32, f16 or bf16, got " + std::string(dtype_name(precision)));
    if (order.lanes < 1 || order.lanes > 1024 || (order.lanes & (order.lanes - 1)) != 0)
        fail("order.lanes: must be a power of two in [1, 1024], got " + std::to_string(order.lanes));
    validate_host_problem(p);
    HostAttentionResult r = allocate_result(p, want_weights);
    for (int64_t b = 0; b < p.B; ++b)
        for (int64_t h = 0; h < p.Hq; ++h)
            for (int64_t i = 0; i < p.Lq; ++i) {
                const int64_t row = row_index(p, b, h, i);
                naive_row(p, b, h, i, precision, order, r.out.data() + row * p.Dv, r.lse.data() + row,
                          want_weights ? r.weights.data() + row * p.Lk : nullptr);
            }
    return r;
}

std::vector<float> alibi_slopes(int64_t heads) {
    if (heads < 1 || heads > 65536) throw Error(ErrorCode::invalid_argument, "heads: must be in [1, 65536], got " + std::to_string(heads));
    // The reference implementation: for a power of two n, slopes 2^(-8/n), 2^(-16/n), ...; otherwise the
    // slopes of the power of two below, then every other slope of twice that power.
    const auto power_of_two = [](int64_t n) {
        std::vector<float> s;
        const double start = std::pow(2.0, -8.0 / static_cast<double>(n));
        for (int64_t k = 1; k <= n; ++k) s.push_back(static_cast<float>(std::pow(start, static_cast<double>(k))));
        return s;
    };
    int64_t p2 = 1;
    while (p2 * 2 <= heads) p2 *= 2;
    std::vector<float> s = power_of_two(p2);
    if (p2 != heads) {
        const std::vector<float> extra = power_of_two(2 * p2);
        for (std::size_t k = 0; static_cast<int64_t>(s.size()) < heads; k += 2) s.push_back(extra[k]);
    }
    return s;
}

}  // namespace vkattn

namespace vkattn {

namespace {

// Runs `one` on each sequence of a packed problem as its own B = 1 problem and packs the results as
// attention_varlen returns them: out [Tq, Hq, Dv], lse [Hq, Tq], weights [Hq, Lq_s, Lk_s] per sequence.
template <class Fn>
HostAttentionResult per_sequence(const HostAttentionProblem& p, std::span<const int32_t> cu_q, std::span<const int32_t> cu_k,
                                 bool want_weights, Fn one) {
    if (cu_q.size() < 2 || cu_q.size() != cu_k.size()) fail("cu_seqlens: need S + 1 >= 2 offsets each, as many for q as for k");
    const int64_t S = static_cast<int64_t>(cu_q.size()) - 1, Tq = cu_q.back(), Tk = cu_k.back();
    if (static_cast<int64_t>(p.q.size()) != Tq * p.Hq * p.D) fail("q: expected [total_q, Hq, D] values");
    if (static_cast<int64_t>(p.k.size()) != Tk * p.Hkv * p.D) fail("k: expected [total_k, Hkv, D] values");
    if (static_cast<int64_t>(p.v.size()) != Tk * p.Hkv * p.Dv) fail("v: expected [total_k, Hkv, Dv] values");
    HostAttentionResult r;
    r.out.assign(static_cast<std::size_t>(Tq * p.Hq * p.Dv), 0.0f);
    r.lse.assign(static_cast<std::size_t>(p.Hq * Tq), 0.0f);
    for (int64_t s = 0; s < S; ++s) {
        const int64_t q0 = cu_q[s], lq = cu_q[s + 1] - q0, k0 = cu_k[s], lk = cu_k[s + 1] - k0;
        if (lq == 0) continue;
        if (lk == 0) {  // no key: zeros, lse -inf (or the sink)
            for (int64_t h = 0; h < p.Hq; ++h)
                for (int64_t i = 0; i < lq; ++i)
                    r.lse[static_cast<std::size_t>(h * Tq + q0 + i)] =
                        p.sinks.empty() ? -std::numeric_limits<float>::infinity() : p.sinks[static_cast<std::size_t>(h)];
            continue;
        }
        HostAttentionProblem one_p = p;
        one_p.B = 1, one_p.Lq = lq, one_p.Lk = lk;
        one_p.key_lengths.clear();
        one_p.align_to_key_lengths = false;
        one_p.q.assign(static_cast<std::size_t>(p.Hq * lq * p.D), 0.0f);
        one_p.k.assign(static_cast<std::size_t>(p.Hkv * lk * p.D), 0.0f);
        one_p.v.assign(static_cast<std::size_t>(p.Hkv * lk * p.Dv), 0.0f);
        for (int64_t h = 0; h < p.Hq; ++h)
            for (int64_t i = 0; i < lq; ++i)
                for (int64_t d = 0; d < p.D; ++d)
                    one_p.q[static_cast<std::size_t>((h * lq + i) * p.D + d)] = p.q[static_cast<std::size_t>(((q0 + i) * p.Hq + h) * p.D + d)];
        for (int64_t h = 0; h < p.Hkv; ++h)
            for (int64_t j = 0; j < lk; ++j) {
                for (int64_t d = 0; d < p.D; ++d)
                    one_p.k[static_cast<std::size_t>((h * lk + j) * p.D + d)] = p.k[static_cast<std::size_t>(((k0 + j) * p.Hkv + h) * p.D + d)];
                for (int64_t d = 0; d < p.Dv; ++d)
                    one_p.v[static_cast<std::size_t>((h * lk + j) * p.Dv + d)] = p.v[static_cast<std::size_t>(((k0 + j) * p.Hkv + h) * p.Dv + d)];
            }
        const HostAttentionResult o = one(one_p);
        for (int64_t h = 0; h < p.Hq; ++h)
            for (int64_t i = 0; i < lq; ++i) {
                for (int64_t d = 0; d < p.Dv; ++d)
                    r.out[static_cast<std::size_t>(((q0 + i) * p.Hq + h) * p.Dv + d)] = o.out[static_cast<std::size_t>((h * lq + i) * p.Dv + d)];
                r.lse[static_cast<std::size_t>(h * Tq + q0 + i)] = o.lse[static_cast<std::size_t>(h * lq + i)];
            }
        if (want_weights) r.weights.insert(r.weights.end(), o.weights.begin(), o.weights.end());
    }
    return r;
}

}  // namespace

HostAttentionResult reference_attention_varlen(const HostAttentionProblem& p, std::span<const int32_t> cu_seqlens_q,
                                               std::span<const int32_t> cu_seqlens_k, bool want_weights) {
    return per_sequence(p, cu_seqlens_q, cu_seqlens_k, want_weights,
                        [&](const HostAttentionProblem& one) { return reference_attention(one, want_weights); });
}

HostAttentionResult naive_attention_varlen(const HostAttentionProblem& p, std::span<const int32_t> cu_seqlens_q,
                                           std::span<const int32_t> cu_seqlens_k, DType precision, bool want_weights) {
    return per_sequence(p, cu_seqlens_q, cu_seqlens_k, want_weights,
                        [&](const HostAttentionProblem& one) { return naive_attention(one, precision, want_weights); });
}

}  // namespace vkattn
