#pragma once
// Helpers shared by the reliability tests: contexts that record validation messages, and running
// a list of ops with every result checked.
#include <mutex>
#include <string>
#include <vector>

#include "mixed_ops.hpp"

namespace vkattn::reliability {

/// Collects log lines (validation messages included) from a Context; thread-safe, since the
/// validation layer may call back from any thread that uses the context.
struct MessageLog {
    std::mutex mutex;
    std::vector<std::string> lines;
    void add(const std::string& line);
    std::string joined();
};

/// Options for the reliability tests' contexts: validation layer on unless VKATTN_RELIABILITY_NO_VALIDATION
/// is set (the TSan build, whose run under the layer would be slow), poisoned allocations, messages to `log`.
ContextOptions reliability_options(MessageLog& log, bool force_staging);

/// True when the layer is on for contexts from reliability_options.
bool validation_wanted();

/// What a run of ops got through, filled as it goes (so it is meaningful after an exception too).
struct RunRecord {
    std::size_t passed = 0;             ///< ops whose results matched the reference
    std::vector<std::string> failures;  ///< ops that ran but did not match
};

/// Runs every op in order; returns the failures' messages (empty: all matched the reference).
/// Errors thrown by the engine propagate; `record`, when given, says how far the run got.
std::vector<std::string> run_ops(Context& ctx, const std::vector<Op>& ops, uint64_t seed, RunRecord* record = nullptr);

/// Resident set size of this process in bytes (from /proc/self/statm), or 0 where unavailable.
int64_t resident_bytes();

}  // namespace vkattn::reliability
