#pragma once
// Test support (library vkattn_testing): the switches only tests turn on, kept out of ContextOptions.
// Every VKATTN_* variable and test hook is listed in docs/testing_hooks.md.
#include <cstdint>

#include "runtime/test_seams.hpp"
#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn::testing {

/// use_tuned_tiles, force_staging, poison_allocations (runtime/test_seams.hpp).
using TestSwitches = detail::TestSwitches;

/// The switches every Context created from now on takes (process-wide). A test binary's main sets
/// them once, e.g. poisoned allocations and no tuned tiles.
void set_default_switches(const TestSwitches& switches);
/// Changes the switches of one existing context (from its next operation on). Turning tuned tiles
/// off drops the tuning table it loaded; turning them on loads it again.
void apply(Context& ctx, const TestSwitches& switches);
/// The switches `ctx` runs with.
TestSwitches switches_of(Context& ctx);
/// Overwrites the whole buffer behind `t` with one 32-bit pattern (poisoning).
void fill_bytes(const Tensor& t, uint32_t pattern);

}  // namespace vkattn::testing
