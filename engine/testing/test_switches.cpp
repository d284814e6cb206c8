#include "testing/test_switches.hpp"

#include <memory>
#include <mutex>

#include "runtime/access.hpp"
#include "runtime/context_state.hpp"
#include "tuning/tuning_table.hpp"
#include "vkattn/error.hpp"

namespace vkattn::testing {

void set_default_switches(const TestSwitches& switches) { detail::set_default_test_switches(switches); }

void apply(Context& ctx, const TestSwitches& switches) {
    detail::ContextState& s = detail::state_of(ctx);
    std::lock_guard lock(s.mutex);
    if (switches.use_tuned_tiles != s.test_switches.use_tuned_tiles)
        s.tuning = std::make_shared<detail::TuningTable>(
            switches.use_tuned_tiles ? detail::load_tuning_table(s.info, s.options.pipeline_cache_dir) : detail::TuningTable{});
    s.test_switches = switches;
}

TestSwitches switches_of(Context& ctx) {
    detail::ContextState& s = detail::state_of(ctx);
    std::lock_guard lock(s.mutex);
    return s.test_switches;
}

void fill_bytes(const Tensor& t, uint32_t pattern) {
    const auto& buffer = detail::buffer_of(t);
    if (!buffer) throw Error(ErrorCode::invalid_argument, "fill_bytes: tensor is empty");
    buffer->owner->fill_buffer(*buffer, pattern);
}

}  // namespace vkattn::testing
