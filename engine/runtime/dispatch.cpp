// Records a list of dispatches into one command buffer: parameters in one uniform buffer, one
// descriptor set each, a compute-to-compute barrier between consecutive dispatches.
#include <cstring>

#include "runtime/context_state.hpp"
#include "runtime/test_seams.hpp"
#include "runtime/vk_check.hpp"

namespace vkattn::detail {

double ContextState::run_dispatches(const std::vector<Dispatch>& dispatches, bool measure) {
    if (dispatches.empty()) return 0;
    std::lock_guard lock(mutex);
    ensure_alive();
    VkDevice dev = device.get();
    const VkDeviceSize align = std::max<VkDeviceSize>(info.min_uniform_offset_alignment, 16);
    const VkDeviceSize slot = (sizeof(KernelParams) + align - 1) / align * align;
    auto params = create_buffer(shared_from_this(), slot * dispatches.size(), MemoryKind::staging);
    for (std::size_t i = 0; i < dispatches.size(); ++i)
        std::memcpy(static_cast<char*>(params->mapped) + i * slot, &dispatches[i].params, sizeof(KernelParams));

    const uint32_t n = static_cast<uint32_t>(dispatches.size());
    VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, n},
                                     {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, n * (kBindingCount - 1)}};
    VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pi.maxSets = n;
    pi.poolSizeCount = 2;
    pi.pPoolSizes = sizes;
    VkDescriptorPool pool_handle = VK_NULL_HANDLE;
    VkResult r = fault::inject(fault::Site::dpool);
    if (r == VK_SUCCESS) r = vkCreateDescriptorPool(dev, &pi, nullptr, &pool_handle);
    vk_check(r, "vkCreateDescriptorPool");
    ++stat_descriptor_pools;
    UniqueDescriptorPool pool(dev, pool_handle);

    std::vector<VkDescriptorSetLayout> layouts(n, set_layout.get());
    std::vector<VkDescriptorSet> sets(n);
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = pool_handle;
    ai.descriptorSetCount = n;
    ai.pSetLayouts = layouts.data();
    r = fault::inject(fault::Site::dset);
    if (r == VK_SUCCESS) r = vkAllocateDescriptorSets(dev, &ai, sets.data());
    vk_check(r, "vkAllocateDescriptorSets");
    stat_descriptor_sets += n;

    for (uint32_t d = 0; d < n; ++d) {
        std::array<VkDescriptorBufferInfo, kBindingCount> infos{};
        std::array<VkWriteDescriptorSet, kBindingCount> writes{};
        for (uint32_t b = 0; b < kBindingCount; ++b) {
            BoundRange r = dispatches[d].bindings[b];
            if (b == kParams) r = {params->buffer.get(), d * slot, sizeof(KernelParams)};
            if (r.buffer == VK_NULL_HANDLE) r = {dummy->buffer.get(), 0, VK_WHOLE_SIZE};
            infos[b] = {r.buffer, r.offset, r.range};
            writes[b] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
            writes[b].dstSet = sets[d];
            writes[b].dstBinding = b;
            writes[b].descriptorCount = 1;
            writes[b].descriptorType = b == kParams ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            writes[b].pBufferInfo = &infos[b];
        }
        vkUpdateDescriptorSets(dev, kBindingCount, writes.data(), 0, nullptr);
    }

    const bool timed = measure && timestamp_pool;
    submit_and_wait([&](VkCommandBuffer cmd) {
        if (timed) {
            vkCmdResetQueryPool(cmd, timestamp_pool.get(), 0, 2);
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, timestamp_pool.get(), 0);
        }
        for (uint32_t d = 0; d < n; ++d) {
            if (d > 0) {
                VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
                mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
                mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
                vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                                     &mb, 0, nullptr, 0, nullptr);
            }
            vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, dispatches[d].pipeline);
            vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_layout.get(), 0, 1, &sets[d], 0, nullptr);
            const auto& g = dispatches[d].groups;
            vkCmdDispatch(cmd, g[0], g[1], g[2]);
        }
        if (timed) vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, timestamp_pool.get(), 1);
    });
    if (!timed) return -1;
    uint64_t stamps[2] = {0, 0};
    check_device(vkGetQueryPoolResults(dev, timestamp_pool.get(), 0, 2, sizeof stamps, stamps, sizeof(uint64_t),
                                       VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                 "vkGetQueryPoolResults");
    return static_cast<double>(stamps[1] - stamps[0]) * info.timestamp_period_ns * 1e-6;
}

}  // namespace vkattn::detail
