// Batch submissions and their tickets (vkattn/batch.hpp): one fence per submission in flight, waited
// for in order; what a completed submission held (command buffer, recording resources, fence) is kept
// for the next batch, so that a steady state of batches creates nothing.
//
// Tickets are fences rather than timeline-semaphore values: only the host ever waits for a batch (an
// application that wants its own GPU work to wait records into its own command buffers instead:
// vkattn/embedding.hpp), and fences exist on every device vkattn runs on, adopted ones included.
#include <algorithm>

#include "runtime/context_state.hpp"
#include "runtime/recording.hpp"
#include "runtime/test_seams.hpp"
#include "runtime/vk_check.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {

VkCommandBuffer ContextState::begin_batch_commands() {
    std::lock_guard lock(mutex);
    ensure_alive();
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    if (!spare_command_buffers.empty()) {
        cmd = spare_command_buffers.back();
        spare_command_buffers.pop_back();
        vk_check(vkResetCommandBuffer(cmd, 0), "vkResetCommandBuffer");
    } else {
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = command_pool.get();
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        VkResult r = fault::inject(fault::Site::cmdbuf);
        if (r == VK_SUCCESS) r = vkAllocateCommandBuffers(device.get(), &ai, &cmd);
        vk_check(r, "vkAllocateCommandBuffers");
        count_object(ObjectKind::command_buffer, +1);
    }
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    const VkResult r = vkBeginCommandBuffer(cmd, &bi);
    if (r != VK_SUCCESS) {
        spare_command_buffers.push_back(cmd);
        vk_check(r, "vkBeginCommandBuffer");
    }
    record_after_earlier_submissions(cmd);
    return cmd;
}

std::unique_ptr<RecordingResources> ContextState::take_recording_resources() {
    std::lock_guard lock(mutex);
    if (spare_resources.empty()) return std::make_unique<RecordingResources>(*this);
    auto r = std::move(spare_resources.back());
    spare_resources.pop_back();
    return r;
}

void ContextState::give_back(VkCommandBuffer cmd, std::unique_ptr<RecordingResources> resources) {
    std::lock_guard lock(mutex);
    if (cmd != VK_NULL_HANDLE) spare_command_buffers.push_back(cmd);
    if (resources && !released) {
        resources->reset();
        spare_resources.push_back(std::move(resources));
    }
}

uint64_t ContextState::submit_batch(VkCommandBuffer cmd, std::unique_ptr<RecordingResources> resources, std::vector<Tensor> keep) {
    std::lock_guard lock(mutex);
    ensure_alive();
    record_visible_to_host(cmd);
    vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
    UniqueFence fence_of_batch;
    if (!spare_fences.empty()) {
        fence_of_batch = std::move(spare_fences.back());
        spare_fences.pop_back();
    } else {
        VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VkFence f = VK_NULL_HANDLE;
        vk_check(vkCreateFence(device.get(), &fi, nullptr, &f), "vkCreateFence");
        fence_of_batch = UniqueFence(device.get(), f);
    }
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    VkResult r = fault::inject(fault::Site::submit);
    const bool injected = r != VK_SUCCESS;
    if (r == VK_SUCCESS) {
        std::unique_lock<std::mutex> queue_lock;
        if (queue_mutex) queue_lock = std::unique_lock<std::mutex>(*queue_mutex);
        r = vkQueueSubmit(queue, 1, &si, fence_of_batch.get());
    }
    if (r != VK_SUCCESS) {
        // Nothing was submitted: everything goes back for reuse.
        spare_fences.push_back(std::move(fence_of_batch));
        spare_command_buffers.push_back(cmd);
        if (resources && !released) {
            resources->reset();
            spare_resources.push_back(std::move(resources));
        }
        check_device(r, "vkQueueSubmit", injected);
    }
    ++stat_submissions;
    InFlight f;
    f.value = ++last_ticket;
    f.fence = std::move(fence_of_batch);
    f.cmd = cmd;
    f.resources = std::move(resources);
    f.keep = std::move(keep);
    in_flight.push_back(std::move(f));
    return last_ticket;
}

namespace {
// What a completed submission held goes back for reuse.
void retire(ContextState& st, ContextState::InFlight& f) {
    VkFence fence = f.fence.get();
    vk_check(vkResetFences(st.device.get(), 1, &fence), "vkResetFences");
    st.spare_fences.push_back(std::move(f.fence));
    st.spare_command_buffers.push_back(f.cmd);
    if (f.resources && !st.released) {
        f.resources->reset();
        st.spare_resources.push_back(std::move(f.resources));
    }
    f.keep.clear();
}
}  // namespace

void ContextState::wait_ticket(uint64_t value) {
    std::lock_guard lock(mutex);
    if (value > last_ticket)
        throw Error(ErrorCode::invalid_argument, "ticket: " + std::to_string(value) + " was never returned by this context (latest " +
                                                     std::to_string(last_ticket) + ")");
    while (!in_flight.empty() && in_flight.front().value <= value) {
        InFlight& f = in_flight.front();
        VkFence fence = f.fence.get();
        VkResult r = vkWaitForFences(device.get(), 1, &fence, VK_TRUE, UINT64_MAX);
        ++stat_waits;
        const VkResult injected = fault::inject(fault::Site::lost);
        const bool wait_injected = r == VK_SUCCESS && injected != VK_SUCCESS;
        if (wait_injected) r = injected;
        check_device(r, "vkWaitForFences", wait_injected);
        retire(*this, f);
        in_flight.pop_front();
    }
}

bool ContextState::poll_ticket(uint64_t value) {
    std::lock_guard lock(mutex);
    if (value > last_ticket)
        throw Error(ErrorCode::invalid_argument, "ticket: " + std::to_string(value) + " was never returned by this context (latest " +
                                                     std::to_string(last_ticket) + ")");
    while (!in_flight.empty()) {
        InFlight& f = in_flight.front();
        const VkResult r = vkGetFenceStatus(device.get(), f.fence.get());
        if (r == VK_NOT_READY) break;
        check_device(r, "vkGetFenceStatus");
        retire(*this, f);
        in_flight.pop_front();
    }
    return in_flight.empty() || in_flight.front().value > value;
}

void ContextState::release() {
    std::lock_guard lock(mutex);
    released = true;
    // Whatever is still in flight holds tensors of this state: wait for it (a lost device returns at
    // once) and let it go.
    for (InFlight& f : in_flight) {
        VkFence fence = f.fence.get();
        if (!lost) vkWaitForFences(device.get(), 1, &fence, VK_TRUE, UINT64_MAX);
        spare_command_buffers.push_back(f.cmd);
    }
    in_flight.clear();
    spare_resources.clear();
    sync_resources.reset();
    dummy.reset();
}

}  // namespace vkattn::detail
