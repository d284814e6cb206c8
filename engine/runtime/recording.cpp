// Recording dispatches with a host ring and a reusable descriptor pool (recording.hpp).
#include "runtime/recording.hpp"

#include <algorithm>
#include <cstring>

#include "runtime/test_seams.hpp"
#include "runtime/vk_check.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {

namespace {
constexpr VkDeviceSize kFirstRingBytes = 64 * 1024;
constexpr uint32_t kFirstPoolSets = 64;

VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a) { return (v + a - 1) / a * a; }
}  // namespace

void RecordingResources::prepare() {
    if (!ring_) host(4, 4);
    if (!pool_) {
        VkDescriptorSet set = VK_NULL_HANDLE;
        descriptor_sets(1, &set);
    }
    reset();
}

void RecordingResources::reset() {
    ring_used_ = 0;
    retired_rings_.clear();
    retired_pools_.clear();
    if (pool_) vk_check(vkResetDescriptorPool(st_.device.get(), pool_.get(), 0), "vkResetDescriptorPool");
    pool_used_ = 0;
}

RecordingResources::HostSlice RecordingResources::host(VkDeviceSize bytes, VkDeviceSize alignment) {
    bytes = std::max<VkDeviceSize>(bytes, 4);
    VkDeviceSize at = align_up(ring_used_, alignment);
    if (!ring_ || at + bytes > ring_->size) {
        // A bigger ring: twice the old one, or what this slice needs. The old one may be referenced by
        // commands recorded since the last reset, so it stays alive until then.
        const VkDeviceSize size = std::max({kFirstRingBytes, ring_ ? ring_->size * 2 : 0, align_up(bytes, 256)});
        auto bigger = create_buffer(st_.shared_from_this(), size, MemoryKind::staging);
        if (ring_ && ring_used_ > 0) retired_rings_.push_back(std::move(ring_));
        ring_ = std::move(bigger);
        ring_used_ = 0;
        at = 0;
    }
    ring_used_ = at + bytes;
    return {static_cast<char*>(ring_->mapped) + at, {ring_->buffer.get(), at, bytes}};
}

void RecordingResources::descriptor_sets(uint32_t count, VkDescriptorSet* out) {
    VkDevice dev = st_.device.get();
    if (!pool_ || pool_used_ + count > pool_capacity_) {
        const uint32_t capacity = std::max({kFirstPoolSets, pool_capacity_ * 2, count});
        VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, capacity},
                                         {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, capacity * (kBindingCount - 1)}};
        VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        pi.maxSets = capacity;
        pi.poolSizeCount = 2;
        pi.pPoolSizes = sizes;
        VkDescriptorPool handle = VK_NULL_HANDLE;
        VkResult r = fault::inject(fault::Site::dpool);
        if (r == VK_SUCCESS) r = vkCreateDescriptorPool(dev, &pi, nullptr, &handle);
        vk_check(r, "vkCreateDescriptorPool");
        ++st_.stat_descriptor_pools;
        if (pool_ && pool_used_ > 0) retired_pools_.push_back(std::move(pool_));
        pool_ = UniqueDescriptorPool(dev, handle);
        pool_capacity_ = capacity;
        pool_used_ = 0;
    }
    std::vector<VkDescriptorSetLayout> layouts(count, st_.set_layout.get());
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = pool_.get();
    ai.descriptorSetCount = count;
    ai.pSetLayouts = layouts.data();
    VkResult r = fault::inject(fault::Site::dset);
    if (r == VK_SUCCESS) r = vkAllocateDescriptorSets(dev, &ai, out);
    vk_check(r, "vkAllocateDescriptorSets");
    pool_used_ += count;
    st_.stat_descriptor_sets += count;
}

void record_compute_barrier(VkCommandBuffer cmd) {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0,
                         nullptr);
}

void record_after_earlier_submissions(VkCommandBuffer cmd) { record_compute_transfer_barrier(cmd); }

void record_compute_transfer_barrier(VkCommandBuffer cmd) {
    VkMemoryBarrier from_earlier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    from_earlier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    from_earlier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                                 VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_UNIFORM_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &from_earlier, 0, nullptr, 0,
                         nullptr);
}

void record_visible_to_host(VkCommandBuffer cmd) {
    VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    to_host.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                         &to_host, 0, nullptr, 0, nullptr);
}

void record_dispatches(ContextState& st, VkCommandBuffer cmd, const std::vector<Dispatch>& dispatches,
                       std::span<const int32_t> words, RecordingResources& res) {
    if (dispatches.empty()) return;
    const uint32_t n = static_cast<uint32_t>(dispatches.size());
    // Parameters: one uniform slot per dispatch; words: one storage range for all of them.
    const VkDeviceSize uniform_align = std::max<VkDeviceSize>(st.info.min_uniform_offset_alignment, 16);
    const VkDeviceSize slot = align_up(sizeof(KernelParams), uniform_align);
    const RecordingResources::HostSlice params = res.host(slot * n, uniform_align);
    for (uint32_t i = 0; i < n; ++i)
        std::memcpy(static_cast<char*>(params.data) + i * slot, &dispatches[i].params, sizeof(KernelParams));
    BoundRange words_range;
    const bool any_words = std::any_of(dispatches.begin(), dispatches.end(), [](const Dispatch& d) {
        return std::any_of(d.bindings.begin(), d.bindings.end(), [](const BoundRange& b) { return b.host_words; });
    });
    if (any_words) {
        if (words.empty()) throw Error(ErrorCode::vulkan_error, "internal: a dispatch binds host words but none were given");
        const RecordingResources::HostSlice w =
            res.host(words.size_bytes(), std::max<VkDeviceSize>(st.info.min_storage_offset_alignment, 4));
        std::memcpy(w.data, words.data(), words.size_bytes());
        words_range = w.range;
    }

    std::vector<VkDescriptorSet> sets(n);
    res.descriptor_sets(n, sets.data());
    for (uint32_t d = 0; d < n; ++d) {
        std::array<VkDescriptorBufferInfo, kBindingCount> infos{};
        std::array<VkWriteDescriptorSet, kBindingCount> writes{};
        for (uint32_t b = 0; b < kBindingCount; ++b) {
            BoundRange r = dispatches[d].bindings[b];
            if (b == kParams) r = {params.range.buffer, params.range.offset + d * slot, sizeof(KernelParams)};
            if (r.host_words) r = words_range;
            if (r.buffer == VK_NULL_HANDLE) r = {st.dummy->buffer.get(), 0, VK_WHOLE_SIZE};
            infos[b] = {r.buffer, r.offset, r.range};
            writes[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
            writes[b].dstSet = sets[d];
            writes[b].dstBinding = b;
            writes[b].descriptorCount = 1;
            writes[b].descriptorType = b == kParams ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            writes[b].pBufferInfo = &infos[b];
        }
        vkUpdateDescriptorSets(st.device.get(), kBindingCount, writes.data(), 0, nullptr);
    }
    for (uint32_t d = 0; d < n; ++d) {
        if (d > 0) record_compute_barrier(cmd);
        vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, dispatches[d].pipeline);
        vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, st.pipeline_layout.get(), 0, 1, &sets[d], 0, nullptr);
        const auto& g = dispatches[d].groups;
        vkCmdDispatch(cmd, g[0], g[1], g[2]);
    }
}

}  // namespace vkattn::detail
