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
    DeviceHandle(VkDevice device, Handle handle) : device_(device), handle_(handle) {
        if (handle_ != VK_NULL_HANDLE) count_object(Kind, +1);
    }
    ~DeviceHandle() { reset(); }
    DeviceHandle(DeviceHandle&& o) noexcept : device_(o.device_), handle_(std::exchange(o.handle_, VK_NULL_HANDLE)) {}
    DeviceHandle& operator=(DeviceHandle&& o) noexcept {
        if (this != &o) {
            reset();
            device_ = o.device_;
            handle_ = std::exchange(o.handle_, VK_NULL_HANDLE);
        }
        return *this;
    }
    DeviceHandle(const DeviceHandle&) = delete;
    DeviceHandle& operator=(const DeviceHandle&) = delete;

    void reset() {
        if (handle_ != VK_NULL_HANDLE) {
            Destroy(device_, handle_, nullptr);
            count_object(Kind, -1);
        }
        handle_ = VK_NULL_HANDLE;
    }
    Handle get() const { return handle_; }
    explicit operator bool() const { return handle_ != VK_NULL_HANDLE; }

private:
    VkDevice device_ = VK_NULL_HANDLE;
    Handle handle_ = VK_NULL_HANDLE;
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

/// Owns a VkDevice.
class UniqueDevice {
public:
    UniqueDevice() = default;
    explicit UniqueDevice(VkDevice d) : device_(d) {
        if (device_ != VK_NULL_HANDLE) count_object(ObjectKind::device, +1);
    }
    ~UniqueDevice() { reset(); }
    UniqueDevice(UniqueDevice&& o) noexcept : device_(std::exchange(o.device_, VK_NULL_HANDLE)) {}
    UniqueDevice& operator=(UniqueDevice&& o) noexcept {
        if (this != &o) { reset(); device_ = std::exchange(o.device_, VK_NULL_HANDLE); }
        return *this;
    }
    void reset() {
        if (device_ != VK_NULL_HANDLE) {
            vkDeviceWaitIdle(device_);
            vkDestroyDevice(device_, nullptr);
            count_object(ObjectKind::device, -1);
        }
        device_ = VK_NULL_HANDLE;
    }
    VkDevice get() const { return device_; }

private:
    VkDevice device_ = VK_NULL_HANDLE;
};

}  // namespace vkattn::detail
