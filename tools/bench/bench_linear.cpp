#include "bench/bench_linear.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <ostream>

#include "cli/cli_common.hpp"
#include "vkattn/reference.hpp"
#include "vkattn/linear_reference.hpp"

namespace vkattn::cli {
namespace {

constexpr int64_t kSampledRows = 32;

struct Point {
    double n, ms;
};

// Least-squares slope of log(ms) against log(n).
double log_log_slope(const std::vector<Point>& pts) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (const Point& p : pts) {
        const double x = std::log(p.n), y = std::log(p.ms);
        sx += x, sy += y, sxx += x * x, sxy += x * y;
    }
    const double k = static_cast<double>(pts.size());
    return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

std::string growth_text(const std::vector<Point>& pts) {
    if (pts.size() < 2) return "n/a (fewer than 2 sizes measured)";
    return "time ~ N^" + format_fixed(log_log_slope(pts), 2) + " (N=" + std::to_string(int64_t(pts.front().n)) + ".." +
           std::to_string(int64_t(pts.back().n)) + ": " + format_fixed(pts.front().ms, 2) + " -> " + format_fixed(pts.back().ms, 2) +
           " ms)";
}

}  // namespace

LinearAttentionResult run_linear_case(Context& ctx, const DeviceProblem& d) {
    LinearAttentionOptions o;
    o.causal = d.options.causal;
    o.key_lengths = d.options.key_lengths;
    o.measure_time = true;
    return linear_attention_full(ctx, d.q, d.k, d.v, o);
}

Comparison compare_linear_output(const std::vector<float>& gpu, const GeneratedProblem& g, DType precision, bool sampled) {
    const HostAttentionProblem& a = g.host;
    HostLinearProblem h;
    h.B = a.B, h.Hq = a.Hq, h.Hkv = a.Hkv, h.Lq = a.Lq, h.Lk = a.Lk, h.D = a.D, h.Dv = a.Dv;
    h.q = a.q, h.k = a.k, h.v = a.v;
    h.causal = a.causal;
    h.key_lengths = a.key_lengths;
    std::vector<int64_t> rows;
    std::vector<float> got = gpu;
    if (sampled) {
        // Batch 0, last query head (and its KV head) alone.
        const int64_t hq = a.Hq - 1, kvh = hq / (a.Hq / a.Hkv), m = std::min(a.Lq, kSampledRows);
        h.B = 1, h.Hq = 1, h.Hkv = 1;
        h.q.assign(a.q.begin() + hq * a.Lq * a.D, a.q.begin() + (hq + 1) * a.Lq * a.D);
        h.k.assign(a.k.begin() + kvh * a.Lk * a.D, a.k.begin() + (kvh + 1) * a.Lk * a.D);
        h.v.assign(a.v.begin() + kvh * a.Lk * a.Dv, a.v.begin() + (kvh + 1) * a.Lk * a.Dv);
        if (!a.key_lengths.empty()) h.key_lengths.assign(1, a.key_lengths.front());  // batch 0
        got.clear();
        for (int64_t r = 0; r < m; ++r) {
            const int64_t i = m > 1 ? r * (a.Lq - 1) / (m - 1) : 0;
            rows.push_back(i);
            const auto row = gpu.begin() + (hq * a.Lq + i) * a.Dv;
            got.insert(got.end(), row, row + a.Dv);
        }
    }
    const std::vector<float> ref = reference_linear_attention(h, rows);
    const std::vector<float> naive = naive_linear_attention(h, precision == DType::f16, rows);
    Comparison c;
    if (got.size() != ref.size()) {
        c.why = "output has " + std::to_string(got.size()) + " elements, expected " + std::to_string(ref.size());
        return c;
    }
    for (std::size_t i = 0; i < ref.size(); ++i) {
        c.max_ref = std::max(c.max_ref, std::fabs(double(ref[i])));
        c.naive_err = std::max(c.naive_err, std::fabs(double(naive[i]) - ref[i]));
        if (!std::isfinite(got[i])) {
            ++c.nonfinite;
            continue;
        }
        c.max_abs_err = std::max(c.max_abs_err, std::fabs(double(got[i]) - ref[i]));
    }
    c.bound = precision == DType::f32 ? kF32RelativeLimit * c.max_ref : std::max(2 * c.naive_err, kF32RelativeLimit * c.max_ref) + 1e-6;
    c.rel_err = c.max_abs_err / std::max(c.max_ref, 1e-30);
    if (c.nonfinite > 0)
        c.why = std::to_string(c.nonfinite) + " non-finite output element(s)";
    else if (c.max_abs_err > c.bound)
        c.why = "max abs error " + format_sci(c.max_abs_err) + " > bound " + format_sci(c.bound);
    c.pass = c.why.empty();
    return c;
}

void print_linear_summary(std::ostream& out, const BenchReport& rep) {
    // Families keyed by what must match: dtype, causality, heads, D (the N varies).
    const auto key = [](const ProblemSpec& s) {
        return std::string(dtype_name(s.dtype)) + (s.causal != Causal::none ? " causal" : "") + " H" + std::to_string(s.Hq) + " D" +
               std::to_string(s.D);
    };
    std::map<std::string, std::map<int64_t, double>> linear, softmax;
    for (const BenchRow& r : rep.rows) {
        const ProblemSpec& s = r.bench.spec;
        if (r.status != "ok" || !(r.median_ms > 0) || s.Lq != s.Lk || s.B != 1 || s.key_lengths) continue;
        if (r.bench.kind == "linear") linear[key(s)][s.Lq] = r.median_ms;
        if (r.bench.kind == "prefill") softmax[key(s)][s.Lq] = r.median_ms;
    }
    for (const auto& entry : linear) {
        const auto& k = entry.first;  // named, not bound: clang 14 cannot capture structured bindings
        const auto& lin = entry.second;
        const auto sm = softmax.find(k);
        if (sm == softmax.end()) continue;
        std::vector<Point> lp, sp;
        for (const auto& [n, ms] : lin) lp.push_back({double(n), ms});
        for (const auto& [n, ms] : sm->second) sp.push_back({double(n), ms});
        out << "linear vs softmax, " << k << " (median GPU times):\n"
            << "  linear : " << growth_text(lp) << '\n'
            << "  softmax: " << growth_text(sp) << '\n';
        // The N measured for both, in order; the crossover is the first N from which linear stays faster.
        std::vector<int64_t> both;
        for (const auto& [n, ms] : lin)
            if (sm->second.count(n)) both.push_back(n);
        if (both.empty()) {
            out << "  crossover: n/a (no N measured for both)\n";
            continue;
        }
        std::size_t first_win = both.size();
        for (std::size_t i = both.size(); i-- > 0;) {
            if (lin.at(both[i]) < sm->second.at(both[i])) first_win = i;
            else break;
        }
        const auto ratio_text = [&](int64_t n) { return format_fixed(sm->second.at(n) / lin.at(n), 2) + "x"; };
        if (first_win == both.size()) {
            out << "  crossover: linear is not faster at the largest N measured for both (N=" << both.back() << ", softmax/linear "
                << ratio_text(both.back()) << ")\n";
        } else if (first_win == 0) {
            out << "  crossover: linear is faster at every N measured for both, from N=" << both.front() << " (softmax/linear "
                << ratio_text(both.front()) << " there, " << ratio_text(both.back()) << " at N=" << both.back() << ")\n";
        } else {
            // log(t_softmax / t_linear) interpolated linearly in log N between the two sides.
            const int64_t n0 = both[first_win - 1], n1 = both[first_win];
            const double r0 = std::log(sm->second.at(n0) / lin.at(n0)), r1 = std::log(sm->second.at(n1) / lin.at(n1));
            const double x = std::log(double(n0)) + (std::log(double(n1)) - std::log(double(n0))) * (0 - r0) / (r1 - r0);
            out << "  crossover: linear is faster from N ~ " << int64_t(std::exp(x) + 0.5) << " (slower at N=" << n0
                << ": softmax/linear " << ratio_text(n0) << "; faster at N=" << n1 << ": " << ratio_text(n1) << "; "
                << ratio_text(both.back()) << " at N=" << both.back() << ")\n";
        }
    }
}

}  // namespace vkattn::cli
