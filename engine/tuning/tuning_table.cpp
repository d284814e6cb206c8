#include "tuning/tuning_table.hpp"

#include <fstream>
#include <sstream>

#include "runtime/pipeline_cache.hpp"

namespace vkattn::detail {

namespace {
constexpr int kFormat = 1;

std::string kernel_name(FusedKernel k) { return k == FusedKernel::rowwise ? "rowwise" : "tiled"; }
}  // namespace

std::string tuning_key(DType dtype, int dcap, FusedKernel kernel) {
    return "fused." + kernel_name(kernel) + "." + std::string(dtype_name(dtype)) + ".d" + std::to_string(dcap);
}

std::optional<FusedConfig> TuningTable::find(DType dtype, int dcap, FusedKernel kernel) const {
    const auto it = entries.find(tuning_key(dtype, dcap, kernel));
    if (it == entries.end()) return std::nullopt;
    return it->second.config;
}

TuningTable load_tuning_table(const DeviceInfo& info, const std::string& directory) {
    TuningTable t;
    std::string dir = directory.empty() ? default_cache_directory() : directory;
    if (dir.empty() || dir == "none") return t;
    t.path = dir + "/tuning-" + pipeline_cache_uuid_hex(info) + "-" + std::to_string(info.driver_version) + ".txt";
    std::ifstream in(t.path);
    if (!in) return t;
    // "vkattn-tuning 1", "uuid <hex>", "driver_version <n>", "measured_at <utc>", then one line per
    // entry: "<key> <kernel> <rows> <keys> <threads_per_row> <median_ms> <problem...>".
    std::string line, word;
    int format = 0;
    std::string uuid, driver;
    std::map<std::string, TunedEntry> entries;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        if (!(ls >> word)) continue;
        if (word == "vkattn-tuning") ls >> format;
        else if (word == "uuid") ls >> uuid;
        else if (word == "driver_version") ls >> driver;
        else if (word == "measured_at") ls >> t.measured_at;
        else if (word.rfind("fused.", 0) == 0) {
            TunedEntry e;
            std::string kernel;
            if (!(ls >> kernel >> e.config.rows >> e.config.keys >> e.config.threads_per_row >> e.median_ms)) return TuningTable{{}, t.path, {}};
            std::getline(ls >> std::ws, e.problem);
            e.config.kernel = kernel == "rowwise" ? FusedKernel::rowwise : FusedKernel::tiled;
            if (kernel != "rowwise" && kernel != "tiled") return TuningTable{{}, t.path, {}};
            if (e.config.rows < 1 || e.config.keys < 1 || e.config.threads_per_row < 1 || e.config.rows > 4096 ||
                e.config.keys > 4096 || e.config.threads_per_row > 1024)
                return TuningTable{{}, t.path, {}};
            e.config.workgroup = e.config.rows * e.config.threads_per_row;
            entries[word] = e;
        }
    }
    if (format != kFormat || uuid != pipeline_cache_uuid_hex(info) || driver != std::to_string(info.driver_version)) return TuningTable{{}, t.path, {}};
    t.entries = std::move(entries);
    return t;
}

bool save_tuning_table(const TuningTable& t, const DeviceInfo& info) {
    if (t.path.empty()) return false;
    std::ostringstream out;
    out << "vkattn-tuning " << kFormat << "\nuuid " << pipeline_cache_uuid_hex(info) << "\ndriver_version " << info.driver_version
        << "\nmeasured_at " << t.measured_at << '\n';
    for (const auto& [key, e] : t.entries)
        out << key << ' ' << kernel_name(e.config.kernel) << ' ' << e.config.rows << ' ' << e.config.keys << ' '
            << e.config.threads_per_row << ' ' << e.median_ms << ' ' << e.problem << '\n';
    return write_file_atomically(t.path, out.str());
}

}  // namespace vkattn::detail
