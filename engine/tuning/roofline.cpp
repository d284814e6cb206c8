// The measured roofline: FMA peaks (f32, and f16 arithmetic where the device has it) and copy
// bandwidth from the roofline_*.comp microbenchmarks, timed with GPU timestamps. The work of a run
// grows until it lasts at least min_run_ms, then `repeats` runs give the median. Results are cached
// per device (pipeline cache UUID + driver version) next to the pipeline cache.
#include "runtime/access.hpp"
#include "vkattn/roofline.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "runtime/buffer.hpp"
#include "runtime/context_state.hpp"
#include "runtime/pipeline_cache.hpp"
#include "vkattn/error.hpp"

namespace vkattn {
namespace {

using detail::BoundRange;
using detail::ContextState;
using detail::Dispatch;

constexpr int kFmaRounds = 4;            // fma rounds over every chain per loop iteration (roofline_fma.comp)
constexpr int kFmaLocalSize = 64;
constexpr int kCopyLocalSizeMost = 256;  // fewer where the device (or its limits profile) allows less

int copy_local_size(const DeviceInfo& info) {
    int n = kCopyLocalSizeMost;
    while (n > 1 && (static_cast<uint32_t>(n) > info.max_workgroup_invocations || static_cast<uint32_t>(n) > info.max_workgroup_size[0]))
        n /= 2;
    return n;
}
constexpr uint64_t kCopyBytes = 64ull << 20;  // per buffer: far larger than any cache
constexpr uint64_t kMinCopyBytes = 1ull << 20;
constexpr int kCacheFormat = 1;
const int kChainCounts[] = {1, 2, 4, 8, 16};

struct Timing {
    double median = 0, min = 0, max = 0;
    int repeats = 0;
};

/// Grows `work` (starting at `work`, at most `max_work`) until one run of make(work) lasts at least
/// min_run_ms, then times `repeats` runs. Empty when the device returns no timestamps.
std::optional<std::pair<int64_t, Timing>> time_growing(ContextState& s, int64_t work, int64_t max_work,
                                                       const std::function<std::vector<Dispatch>(int64_t)>& make,
                                                       const RooflineOptions& o) {
    if (s.run_dispatches(make(work), true) < 0) return std::nullopt;  // warm-up: first use of the pipeline
    double ms = s.run_dispatches(make(work), true);
    while (ms < o.min_run_ms && work < max_work) {
        const double factor = std::clamp(ms > 0 ? o.min_run_ms * 1.25 / ms : 16.0, 2.0, 16.0);
        work = std::min(max_work, static_cast<int64_t>(static_cast<double>(work) * factor));
        ms = s.run_dispatches(make(work), true);
    }
    std::vector<double> t;
    for (int r = 0; r < std::max(1, o.repeats); ++r) {
        const double m = s.run_dispatches(make(work), true);
        if (m < 0) return std::nullopt;
        t.push_back(m);
    }
    std::sort(t.begin(), t.end());
    const std::size_t n = t.size();
    Timing timing{n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t.front(), t.back(), static_cast<int>(n)};
    return std::make_pair(work, timing);
}

std::string no_timestamps_note(const DeviceInfo& info) {
    return info.timestamps ? "the device returned no timestamps" : "the device has no timestamps on its compute queue";
}

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

std::string one_decimal(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

/// Best median GFLOP/s of the FMA kernel over the chain counts; fills `samples`.
void measure_fma(ContextState& s, bool f16, const RooflineOptions& o, RooflineFigures& fig) {
    const DeviceInfo& info = s.info;
    const std::string kernel = f16 ? "fma.f16" : "fma.f32";
    const uint32_t groups = info.type == DeviceType::cpu ? 64 : 8192;
    const uint32_t invocations = groups * kFmaLocalSize;
    auto out = detail::create_buffer(s.shared_from_this(), uint64_t{invocations} * 4, detail::MemoryKind::device);
    double& best = f16 ? fig.fp16_gflops : fig.fp32_gflops;
    std::string& config = f16 ? fig.fp16_config : fig.fp32_config;
    for (int chains : kChainCounts) {
        Dispatch d;
        d.pipeline = s.pipeline(f16 ? "roofline_fma_f16" : "roofline_fma_f32", {kFmaLocalSize, chains});
        d.params.dims1 = {std::bit_cast<int32_t>(0.9990234375f), std::bit_cast<int32_t>(0.0009765625f), 0, 0};
        d.bindings[detail::kOut] = BoundRange{out->buffer.get(), 0, VK_WHOLE_SIZE};
        d.groups = {groups, 1, 1};
        const auto make = [&d](int64_t iterations) {
            d.params.dims0 = {static_cast<int32_t>(iterations), 0, 0, 0};
            return std::vector<Dispatch>{d};
        };
        const auto r = time_growing(s, 16, int64_t{1} << 30, make, o);
        if (!r) {
            (f16 ? fig.fp16_note : fig.fp32_note) = no_timestamps_note(info);
            return;
        }
        const double flops = double(invocations) * double(r->first) * kFmaRounds * chains * 4 * 2;
        const double gflops = flops / (r->second.median * 1e6);
        RooflineSample sample{kernel, std::to_string(chains) + (f16 ? " f16vec4" : " vec4") + " chain(s), " +
                                          std::to_string(invocations) + " invocations",
                              gflops, r->second.median, r->second.min, r->second.max, r->second.repeats};
        if (o.progress) o.progress("roofline: " + kernel + ", " + sample.config + ": " + one_decimal(gflops) + " GFLOP/s");
        if (!(gflops <= best)) best = gflops, config = sample.config;  // NaN best: the first sample wins
        fig.samples.push_back(std::move(sample));
    }
}

void measure_copy(ContextState& s, const RooflineOptions& o, RooflineFigures& fig) {
    const DeviceInfo& info = s.info;
    const int local_size = copy_local_size(info);
    const uint64_t granule = 16ull * local_size;
    uint64_t bytes = std::min({kCopyBytes, info.max_storage_buffer_range, info.max_buffer_size}) / granule * granule;
    std::shared_ptr<detail::DeviceBuffer> a, b;
    for (; bytes >= kMinCopyBytes; bytes /= 2) {
        try {
            a = detail::create_buffer(s.shared_from_this(), bytes, detail::MemoryKind::device);
            b = detail::create_buffer(s.shared_from_this(), bytes, detail::MemoryKind::device);
            break;
        } catch (const Error& e) {
            if (e.code() != ErrorCode::out_of_memory) throw;
            a.reset(), b.reset();
        }
    }
    if (!a || !b) {
        fig.copy_note = "could not allocate two buffers of " + mib(kMinCopyBytes);
        return;
    }
    s.fill_buffer(*a, 0x3F800000u);  // touch every page: untouched memory can read faster than real memory
    s.fill_buffer(*b, 0);
    const uint64_t words = bytes / 16;
    const uint32_t groups = static_cast<uint32_t>(std::min<uint64_t>(
        {words / local_size, info.max_workgroup_count[0], 65535}));
    for (const bool vec4 : {true, false}) {
        const VkPipeline pipeline = s.pipeline("roofline_copy", {local_size, vec4 ? 1 : 0});
        const auto make = [&](int64_t copies) {
            std::vector<Dispatch> list(static_cast<std::size_t>(copies));
            for (int64_t i = 0; i < copies; ++i) {  // a -> b, b -> a, ...: each copy reads what the last wrote
                Dispatch& d = list[static_cast<std::size_t>(i)];
                d.pipeline = pipeline;
                d.params.dims0 = {0, static_cast<int32_t>(words), 0, 0};
                d.bindings[detail::kQ] = BoundRange{(i % 2 ? b : a)->buffer.get(), 0, bytes};
                d.bindings[detail::kOut] = BoundRange{(i % 2 ? a : b)->buffer.get(), 0, bytes};
                d.groups = {groups, 1, 1};
            }
            return list;
        };
        const auto r = time_growing(s, 1, 4096, make, o);
        if (!r) {
            fig.copy_note = no_timestamps_note(info);
            return;
        }
        const double gbps = 2.0 * double(bytes) * double(r->first) / (r->second.median * 1e6);
        RooflineSample sample{"copy", "2 x " + mib(bytes) + (vec4 ? ", uvec4" : ", uint") + " per invocation, " +
                                          std::to_string(r->first) + " copies per run",
                              gbps, r->second.median, r->second.min, r->second.max, r->second.repeats};
        if (o.progress) o.progress("roofline: copy, " + sample.config + ": " + one_decimal(gbps) + " GB/s");
        if (!(gbps <= fig.copy_gbps)) fig.copy_gbps = gbps, fig.copy_config = sample.config;
        fig.samples.push_back(std::move(sample));
    }
}

// ---- the cache file: "key value" lines ----

std::string cache_path(ContextState& s, const RooflineOptions& o) {
    if (!o.use_cache) return {};
    std::string dir = !o.cache_dir.empty() ? o.cache_dir : s.options.pipeline_cache_dir;
    if (dir.empty()) dir = detail::default_cache_directory();
    if (dir.empty() || dir == "none") return {};
    // Figures under a limits profile (no fp16, smaller workgroups) are kept apart from the real ones.
    const std::string profile = s.info.profile == "desktop" ? "" : "-" + s.info.profile;
    return dir + "/roofline-" + detail::pipeline_cache_uuid_hex(s.info) + "-" + std::to_string(s.info.driver_version) + profile + ".txt";
}

std::string number_text(double v) {
    if (!std::isfinite(v)) return "n/a";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

/// A figure from the cache: a finite positive number or "n/a"; nullopt when malformed.
std::optional<double> parse_figure(const std::string& text) {
    if (text == "n/a") return RooflineFigures::not_measured;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v <= 0) return std::nullopt;
    return v;
}

std::optional<RooflineFigures> read_cache(const std::string& path, const DeviceInfo& info) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::map<std::string, std::string> kv;
    std::string line;
    for (int n = 0; n < 64 && std::getline(in, line); ++n) {
        const std::size_t sp = line.find(' ');
        kv[line.substr(0, sp)] = sp == std::string::npos ? "" : line.substr(sp + 1);
    }
    if (kv["vkattn-roofline"] != std::to_string(kCacheFormat) || kv["pipeline_cache_uuid"] != detail::pipeline_cache_uuid_hex(info) ||
        kv["driver_version"] != std::to_string(info.driver_version))
        return std::nullopt;
    RooflineFigures f;
    const auto fp32 = parse_figure(kv["fp32_gflops"]), fp16 = parse_figure(kv["fp16_gflops"]),
               copy = parse_figure(kv["copy_gbps"]);
    if (!fp32 || !fp16 || !copy || std::isnan(*fp32) || std::isnan(*copy)) return std::nullopt;
    f.fp32_gflops = *fp32, f.fp16_gflops = *fp16, f.copy_gbps = *copy;
    f.fp32_config = kv["fp32_config"], f.fp16_config = kv["fp16_config"], f.copy_config = kv["copy_config"];
    f.fp16_note = kv["fp16_note"];
    f.measured_at = kv["measured_at"];
    f.from_cache = true;
    f.cache_file = path;
    return f;
}

void write_cache(const std::string& path, const DeviceInfo& info, const RooflineFigures& f) {
    const auto one_line = [](std::string s) {
        std::replace(s.begin(), s.end(), '\n', ' ');
        return s;
    };
    std::ostringstream out;
    out << "vkattn-roofline " << kCacheFormat << "\ndevice " << one_line(info.name) << "\npipeline_cache_uuid "
        << detail::pipeline_cache_uuid_hex(info) << "\ndriver_version " << info.driver_version << "\nmeasured_at " << f.measured_at
        << "\nfp32_gflops " << number_text(f.fp32_gflops) << "\nfp32_config " << f.fp32_config << "\nfp16_gflops "
        << number_text(f.fp16_gflops) << "\nfp16_config " << f.fp16_config << "\nfp16_note " << one_line(f.fp16_note)
        << "\ncopy_gbps " << number_text(f.copy_gbps) << "\ncopy_config " << f.copy_config << '\n';
    detail::write_file_atomically(path, out.str());  // a cache is optional: failures are ignored
}

}  // namespace

RooflineFigures measure_roofline(Context& ctx, const RooflineOptions& options) {
    ContextState& s = detail::state_of(ctx);
    s.ensure_alive();
    const std::string path = cache_path(s, options);
    if (!path.empty() && !options.remeasure)
        if (auto cached = read_cache(path, s.info)) return *cached;

    RooflineFigures fig;
    fig.measured_at = detail::utc_now();
    if (!s.info.timestamps) {
        fig.fp32_note = fig.fp16_note = fig.copy_note = no_timestamps_note(s.info);
        return fig;
    }
    measure_fma(s, false, options, fig);
    if (s.info.fp16_arithmetic)
        measure_fma(s, true, options, fig);
    else
        fig.fp16_note = "the device reports no fp16 arithmetic (shaderFloat16)";
    measure_copy(s, options, fig);
    if (!path.empty() && std::isfinite(fig.fp32_gflops) && std::isfinite(fig.copy_gbps)) {
        write_cache(path, s.info, fig);
        fig.cache_file = path;
    }
    return fig;
}

}  // namespace vkattn
