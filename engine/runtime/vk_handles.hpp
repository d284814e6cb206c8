#pragma once
// RAII owners for Vulkan handles: one move-only template, instantiated per object type with the
// function that destroys it. Every Vulkan object the engine creates is held by one of these, and
// each one is counted while it lives (object_counters.hpp).
#include <vulkan/vulkan.h>

#include <utility>

#include "runtime/test_seams.hpp"

namespace vkattn::detail {

/// Owns a handle created from a VkDevice; destroys it with `Destroy(device, handle, nullptr)`.
template <typename Handle, void (*Destroy)(VkDevice, Handle, const VkAllocationCallbacks*), ObjectKind Kind>
class DeviceHandle {
public:
    DeviceHandle() = default;
    DeviceHandle(VkDevice device, Handle handle) : device_(device), handle_(handle), owned_(true) {
        if (handle_ != VK_NULL_HANDLE) count_object(Kind, +1);
    }
    /// Refers to an application's handle without owning it: never destroyed, not counted.
    static DeviceHandle borrowed(Handle handle) {
        DeviceHandle h;
        h.handle_ = handle;
        return h;
    }
    ~DeviceHandle() { reset(); }
    DeviceHandle(DeviceHandle&& o) noexcept
        : device_(o.device_), handle_(std::exchange(o.handle_, VK_NULL_HANDLE)), owned_(o.owned_) {}
    DeviceHandle& operator=(DeviceHandle&& o) noexcept {
        if (this != &o) {
            reset();
            device_ = o.device_;
            handle_ = std::exchange(o.handle_, VK_NULL_HANDLE);
            owned_ = o.owned_;
        }
        return *this;
    }
    DeviceHandle(const DeviceHandle&) = delete;
    DeviceHandle& operator=(const DeviceHandle&) = delete;

    void reset() {
        if (handle_ != VK_NULL_HANDLE && owned_) {
            Destroy(device_, handle_, nullptr);
            count_object(Kind, -1);
        }
        handle_ = VK_NULL_HANDLE;
    }
    Handle get() const { return handle_; }
    bool owned() const { return owned_; }
    explicit operator bool() const { return handle_ != VK_NULL_HANDLE; }

private:
    VkDevice device_ = VK_NULL_HANDLE;
    Handle handle_ = VK_NULL_HANDLE;
    bool owned_ = false;
};

using UniqueBuffer = DeviceHandle<VkBuffer, vkDestroyBuffer, ObjectKind::buffer>;
using UniqueMemory = DeviceHandle<VkDeviceMemory, vkFreeMemory, ObjectKind::memory>;
using UniqueShaderModule = DeviceHandle<VkShaderModule, vkDestroyShaderModule, ObjectKind::shader_module>;
using UniquePipeline = DeviceHandle<VkPipeline, vkDestroyPipeline, ObjectKind::pipeline>;
using UniquePipelineLayout = DeviceHandle<VkPipelineLayout, vkDestroyPipelineLayout, ObjectKind::pipeline_layout>;
using UniquePipelineCache = DeviceHandle<VkPipelineCache, vkDestroyPipelineCache, ObjectKind::pipeline_cache>;
using UniqueDescriptorSetLayout = DeviceHandle<VkDescriptorSetLayout, vkDestroyDescriptorSetLayout, ObjectKind::descriptor_set_layout>;
using UniqueDescriptorPool = DeviceHandle<VkDescriptorPool, vkDestroyDescriptorPool, ObjectKind::descriptor_pool>;
using UniqueCommandPool = DeviceHandle<VkCommandPool, vkDestroyCommandPool, ObjectKind::command_pool>;
using UniqueFence = DeviceHandle<VkFence, vkDestroyFence, ObjectKind::fence>;
using UniqueQueryPool = DeviceHandle<VkQueryPool, vkDestroyQueryPool, ObjectKind::query_pool>;

/// Owns a VkDevice, or refers to an application's device without owning it (adopted: never waited
/// on as a whole, never destroyed; docs/embedding.md).
class UniqueDevice {
public:
    UniqueDevice() = default;
    explicit UniqueDevice(VkDevice d) : device_(d), owned_(true) {
        if (device_ != VK_NULL_HANDLE) count_object(ObjectKind::device, +1);
    }
    static UniqueDevice adopted(VkDevice d) {
        UniqueDevice u;
        u.device_ = d;
        return u;
    }
    ~UniqueDevice() { reset(); }
    UniqueDevice(UniqueDevice&& o) noexcept : device_(std::exchange(o.device_, VK_NULL_HANDLE)), owned_(o.owned_) {}
    UniqueDevice& operator=(UniqueDevice&& o) noexcept {
        if (this != &o) { reset(); device_ = std::exchange(o.device_, VK_NULL_HANDLE); owned_ = o.owned_; }
        return *this;
    }
    void reset() {
        if (device_ != VK_NULL_HANDLE && owned_) {
            vkDeviceWaitIdle(device_);
            vkDestroyDevice(device_, nullptr);
            count_object(ObjectKind::device, -1);
        }
        device_ = VK_NULL_HANDLE;
    }
    VkDevice get() const { return device_; }
    bool owned() const { return owned_; }

private:
    VkDevice device_ = VK_NULL_HANDLE;
    bool owned_ = false;
};

}  // namespace vkattn::detail
