#include "reliability_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include "testing/test_switches.hpp"

namespace vkattn::reliability {

void MessageLog::add(const std::string& line) {
    std::lock_guard lock(mutex);
    lines.push_back(line);
}

std::string MessageLog::joined() {
    std::lock_guard lock(mutex);
    std::string s;
    for (const auto& l : lines) s.append(l).append("\n");
    return s;
}

bool validation_wanted() {
    const char* off = std::getenv("VKATTN_RELIABILITY_NO_VALIDATION");
    return !(off && *off && std::string(off) != "0");
}

ContextOptions reliability_options(MessageLog& log, bool force_staging) {
    ContextOptions o;
    o.validation = validation_wanted();
    // Poisoned allocations, and staged or mapped transfers: for the contexts made from now on (the
    // caller makes its context right after).
    testing::TestSwitches switches;
    switches.poison_allocations = true;
    switches.force_staging = force_staging;
    testing::set_default_switches(switches);
    o.on_message = [&log](const std::string& line) { log.add(line); };
    return o;
}

std::vector<std::string> run_ops(Context& ctx, const std::vector<Op>& ops, uint64_t seed, RunRecord* record) {
    RunRecord local;
    RunRecord& rec = record ? *record : local;
    for (std::size_t i = 0; i < ops.size(); ++i) {
        const OpOutcome r = run_op(ctx, ops[i], seed + i);
        if (r.passed) ++rec.passed;
        else rec.failures.push_back(r.message);
    }
    return rec.failures;
}

int64_t resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long long size = 0, resident = 0;
    const int got = std::fscanf(f, "%lld %lld", &size, &resident);
    std::fclose(f);
    return got == 2 ? resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace vkattn::reliability
