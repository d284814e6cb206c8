// vkattn::tune: times every candidate tiling of the fused kernel on the device and caches the winner
// per (kernel, dtype, head-dim class) for this device and driver (tuning_table.hpp).
#include "runtime/access.hpp"
#include "vkattn/tuning.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <random>

#include "attention/attention_problem.hpp"
#include "runtime/context_state.hpp"
#include "runtime/pipeline_cache.hpp"
#include "tuning/tune_seam.hpp"
#include "tuning/tuning_table.hpp"
#include "vkattn/attention.hpp"
#include "vkattn/error.hpp"

namespace vkattn {

namespace detail {
TuneSeam* tune_seam = nullptr;
}

namespace {

// Sets the forced configuration for the duration of one candidate, and always clears it.
struct ForcedConfig {
    detail::ContextState& st;
    ForcedConfig(detail::ContextState& s, const detail::FusedConfig& c) : st(s) {
        st.forced_fused = std::make_shared<const detail::FusedConfig>(c);
    }
    ~ForcedConfig() { st.forced_fused.reset(); }
};

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

TuneReport tune(Context& ctx, const TuneOptions& o) {
    using namespace detail;
    ContextState& st = detail::state_of(ctx);
    std::lock_guard lock(st.mutex);  // nothing else runs on this context while a candidate is forced
    st.ensure_alive();
    const DeviceInfo& dev = st.info;
    if (!dev.timestamps)
        throw Error(ErrorCode::unsupported, "tune: device '" + dev.name + "' has no compute timestamps to time candidates with");
    if (o.heads < 1 || o.heads > 256) throw Error(ErrorCode::invalid_argument, "heads: " + std::to_string(o.heads) + " is not in [1, 256]");
    if (o.seq < 16 || o.seq > 65536) throw Error(ErrorCode::invalid_argument, "seq: " + std::to_string(o.seq) + " is not in [16, 65536]");
    if (o.repeats < 1 || o.repeats > 1000) throw Error(ErrorCode::invalid_argument, "repeats: " + std::to_string(o.repeats) + " is not in [1, 1000]");
    if (o.head_dims.empty()) throw Error(ErrorCode::invalid_argument, "head_dims: empty");
    if (o.dtypes.empty()) throw Error(ErrorCode::invalid_argument, "dtypes: empty");
    for (int d : o.head_dims)
        if (d < 1 || d > 512) throw Error(ErrorCode::invalid_argument, "head_dims: " + std::to_string(d) + " is not in [1, 512]");
    for (DType t : o.dtypes)
        if (t != DType::f32 && t != DType::f16)
            throw Error(ErrorCode::invalid_argument, "dtypes: " + std::string(dtype_name(t)) + " is not f32 or f16");
    const auto say = [&](const std::string& s) {
        if (o.progress) o.progress(s);
    };

    TuneReport report;
    TuningTable winners = st.tuning ? *st.tuning : TuningTable{};
    std::mt19937 rng(12345);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    for (DType dtype : o.dtypes)
        for (int D : o.head_dims) {
            const int dcap = head_dim_class(D);
            const FusedConfig def = choose_fused_config(dev, dcap, dtype, nullptr);
            std::vector<FusedConfig> cands = fused_candidates(dev, dcap, def.kernel, dtype);
            const auto same = [&](const FusedConfig& a) {
                return a.rows == def.rows && a.keys == def.keys && a.threads_per_row == def.threads_per_row;
            };
            cands.erase(std::remove_if(cands.begin(), cands.end(), same), cands.end());
            cands.insert(cands.begin(), def);  // the default runs first: the others are compared with it
            if (o.max_candidates > 0 && cands.size() > o.max_candidates) cands.resize(o.max_candidates);

            TuneResult res;
            res.key = tuning_key(dtype, dcap, def.kernel);
            res.problem = "B1 H" + std::to_string(o.heads) + " N" + std::to_string(o.seq) + " D" + std::to_string(D);
            std::vector<float> host(static_cast<std::size_t>(o.heads * o.seq * D));
            const auto make = [&] {
                for (float& x : host) x = uni(rng);
                return ctx.upload(host, {1, o.heads, o.seq, D}, dtype);
            };
            const Tensor q = make(), k = make(), v = make();
            AttentionOptions opt;
            opt.measure_time = true;
            opt.out_dtype = DType::f32;
            const double flops = 4.0 * double(o.heads) * double(o.seq) * double(o.seq) * double(D);
            std::vector<float> reference;
            float ref_scale = 1;
            say("tune " + res.key + " on " + res.problem + ": " + std::to_string(cands.size()) + " candidates");
            for (std::size_t i = 0; i < cands.size(); ++i) {
                TuneCandidate tc;
                tc.variant = fused_variant_name(cands[i], dtype);
                tc.is_default = i == 0;
                try {
                    ForcedConfig force(st, cands[i]);
                    const AttentionResult first = attention_full(ctx, q, k, v, opt);  // builds the pipeline
                    std::vector<float> out = first.out.download<float>();
                    if (detail::tune_seam && detail::tune_seam->output) detail::tune_seam->output(i, out);
                    if (i == 0) {
                        reference = out;
                        for (float x : out) ref_scale = std::max(ref_scale, std::fabs(x));
                    }
                    for (std::size_t e = 0; e < out.size(); ++e) {
                        const double d = std::isfinite(out[e]) ? std::fabs(double(out[e]) - double(reference[e])) : INFINITY;
                        tc.max_abs_diff = std::max(tc.max_abs_diff, d);
                    }
                    // Only the summation order differs between tilings (f32 accumulation in all).
                    if (!(tc.max_abs_diff <= 1e-4 * ref_scale))
                        throw Error(ErrorCode::vulkan_error, "output differs from the default configuration's by " +
                                                                 std::to_string(tc.max_abs_diff));
                    (void)attention_full(ctx, q, k, v, opt);  // warm-up
                    std::vector<double> ms;
                    for (int r = 0; r < o.repeats; ++r) ms.push_back(attention_full(ctx, q, k, v, opt).gpu_milliseconds);
                    if (detail::tune_seam && detail::tune_seam->times) detail::tune_seam->times(i, ms);
                    tc.median_ms = median_of(ms);
                    tc.min_ms = *std::min_element(ms.begin(), ms.end());
                    tc.max_ms = *std::max_element(ms.begin(), ms.end());
                    tc.gflops = flops / (tc.median_ms * 1e6);
                    char line[96];
                    std::snprintf(line, sizeof line, ": %.3f ms, %.2f GFLOP/s", tc.median_ms, tc.gflops);
                    say("  " + tc.variant + (tc.is_default ? " (default)" : "") + line);
                } catch (const Error& e) {
                    if (i == 0) throw;  // the default must work
                    tc.error = e.message();
                    say("  " + tc.variant + ": " + tc.error);
                }
                res.candidates.push_back(tc);
            }
            for (std::size_t i = 1; i < res.candidates.size(); ++i)
                if (res.candidates[i].error.empty() && res.candidates[i].median_ms < res.candidates[res.winner].median_ms) res.winner = i;
            res.speedup_over_default = res.candidates[0].median_ms / res.candidates[res.winner].median_ms;
            TunedEntry entry;
            entry.config = cands[res.winner];
            entry.median_ms = res.candidates[res.winner].median_ms;
            entry.problem = res.problem;
            winners.entries[res.key] = entry;
            report.results.push_back(std::move(res));
        }
    winners.measured_at = detail::utc_now();
    if (o.save) {
        // The file holds what it held plus these winners (the context may have been told to ignore it).
        TuningTable file = load_tuning_table(dev, st.options.pipeline_cache_dir);
        for (const TuneResult& r : report.results) file.entries[r.key] = winners.entries[r.key];
        file.measured_at = winners.measured_at;
        if (save_tuning_table(file, dev)) report.cache_file = file.path;
    }
    st.tuning = std::make_shared<TuningTable>(std::move(winners));
    return report;
}

std::vector<std::string> tuned_variants(const DeviceInfo& device, const std::string& cache_dir) {
    const detail::TuningTable t = detail::load_tuning_table(device, cache_dir);
    std::vector<std::string> lines;
    for (const auto& [key, e] : t.entries) {
        char ms[32];
        std::snprintf(ms, sizeof ms, "%.3f", e.median_ms);
        lines.push_back(key + " -> rows " + std::to_string(e.config.rows) + ", keys " + std::to_string(e.config.keys) +
                        (e.config.kernel == detail::FusedKernel::tiled ? ", threads/row " + std::to_string(e.config.threads_per_row) : "") +
                        " (" + ms + " ms on " + e.problem + ", tuned " + t.measured_at + ")");
    }
    return lines;
}

}  // namespace vkattn
