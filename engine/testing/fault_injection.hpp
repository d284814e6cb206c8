#pragma once
// Test support (library vkattn_testing): arming the fault sites of runtime/test_seams.hpp. When a site
// is armed for a call, the engine skips the real call (or, for `lost`, overrides its result) and
// handles the returned VkResult exactly as if the driver had returned it. Arm from a test with
// `fault::arm`, or from the environment with VKATTN_FAULT (e.g. VKATTN_FAULT=alloc:3 or
// VKATTN_FAULT=pipeline:1,submit:4), which programs read with arm_from_environment() (the vkattn
// program and the test binaries do). Counts are process-wide. See docs/faults.md.
#include <cstdint>
#include <string>

#include "runtime/test_seams.hpp"

namespace vkattn::detail::fault {

/// "alloc", "buffer", ... (the names VKATTN_FAULT uses).
const char* site_name(Site site) noexcept;
/// The VkResult an armed site returns unless arm() was given another.
VkResult default_result(Site site) noexcept;

/// Makes the `nth` call (1-based) at `site` counted from now fail with `result`, once.
void arm(Site site, uint64_t nth, VkResult result);
inline void arm(Site site, uint64_t nth) { arm(site, nth, default_result(site)); }
/// Disarms every site.
void disarm() noexcept;
/// Calls counted at `site` since the process started (or the last reset_calls).
uint64_t calls(Site site) noexcept;
void reset_calls() noexcept;
/// Faults injected so far in this process, all sites together.
uint64_t injected() noexcept;

/// Parses a VKATTN_FAULT value ("alloc:3", "pipeline:1,submit:4") and arms it; throws
/// Error(invalid_argument) naming the bad entry.
void arm_from_spec(const std::string& spec);
/// Arms what VKATTN_FAULT says, if it is set and not empty (same errors as arm_from_spec).
void arm_from_environment();

}  // namespace vkattn::detail::fault
