// The synchronous run of a list of dispatches: recorded with the context's own recording resources
// (recording.hpp) into one command buffer, submitted, waited for.
#include "runtime/context_state.hpp"
#include "runtime/recording.hpp"
#include "runtime/vk_check.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {

double ContextState::run_dispatches(const std::vector<Dispatch>& dispatches, bool measure, std::span<const int32_t> words) {
    if (dispatches.empty()) return 0;
    std::lock_guard lock(mutex);
    ensure_alive();
    // The resources are reset when made (with the context) and after every call (waited for, or never
    // submitted), so they are free here, and between calls the context holds one ring and one pool and
    // nothing they replaced while growing.
    if (!sync_resources) throw Error(ErrorCode::invalid_argument, "context: used after its Context object was destroyed");
    struct ResetAfter {
        RecordingResources& r;
        ~ResetAfter() {
            try {
                r.reset();
            } catch (...) {  // a lost device: the next call reports it
            }
        }
    } reset_after{*sync_resources};
    const bool timed = measure && timestamp_pool;
    submit_and_wait([&](VkCommandBuffer cmd) {
        if (timed) {
            vkCmdResetQueryPool(cmd, timestamp_pool.get(), 0, 2);
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, timestamp_pool.get(), 0);
        }
        record_dispatches(*this, cmd, dispatches, words, *sync_resources);
        if (timed) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, timestamp_pool.get(), 1);
    });
    if (!timed) return -1;
    uint64_t stamps[2] = {0, 0};
    check_device(vkGetQueryPoolResults(device.get(), timestamp_pool.get(), 0, 2, sizeof stamps, stamps, sizeof(uint64_t),
                                       VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                 "vkGetQueryPoolResults");
    return static_cast<double>(stamps[1] - stamps[0]) * info.timestamp_period_ns * 1e-6;
}

}  // namespace vkattn::detail
