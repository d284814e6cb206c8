#pragma once
// The winners of `vkattn tune`, one file per device UUID and driver version in the cache directory
// (beside the pipeline cache and the roofline figures). The planner prefers an entry over the
// defaults of device_tuning.cpp as long as it still fits the device's limits.
#include <map>
#include <optional>
#include <string>

#include "attention/attention_problem.hpp"

namespace vkattn::detail {

struct TunedEntry {
    FusedConfig config;
    double median_ms = 0;     ///< the winner's time on the tuning problem
    std::string problem;      ///< the tuning problem, e.g. "B1 H8 N2048"
};

struct TuningTable {
    std::map<std::string, TunedEntry> entries;  ///< by tuning_key()
    std::string path;                           ///< the file read or to write; empty: caching off
    std::string measured_at;

    /// The tuned config for (dtype, dcap, kernel kind), if any.
    std::optional<FusedConfig> find(DType dtype, int dcap, FusedKernel kernel) const;
};

std::string tuning_key(DType dtype, int dcap, FusedKernel kernel);

/// The table cached for this device (empty when there is none, or the file is for another driver or
/// malformed). `directory` as for the pipeline cache ("" default, "none" off).
TuningTable load_tuning_table(const DeviceInfo& info, const std::string& directory);
/// Writes the table to its path atomically; false when caching is off or writing failed.
bool save_tuning_table(const TuningTable& table, const DeviceInfo& info);

}  // namespace vkattn::detail
