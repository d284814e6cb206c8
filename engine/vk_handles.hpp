#pragma once
// RAII owners for Vulkan handles: one move-only template, instantiated per object type with the
// function that destroys it. Every Vulkan object the engine creates is held by one of these.
#include <vulkan/vulkan.h>

#include <utility>

namespace vkattn::detail {

/// Owns a handle created from a VkDevice; destroys it with `Destroy(device, handle, nullptr)`.
template <typename Handle, void (*Destroy)(VkDevice, Handle, const VkAllocationCallbacks*)>
class DeviceHandle {
public:
    DeviceHandle() = default;
    DeviceHandle(VkDevice device, Handle handle) : device_(device), handle_(handle) {}
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
        if (handle_ != VK_NULL_HANDLE) Destroy(device_, handle_, nullptr);
        handle_ = VK_NULL_HANDLE;
    }
    Handle get() const { return handle_; }
    explicit operator bool() const { return handle_ != VK_NULL_HANDLE; }

private:
    VkDevice device_ = VK_NULL_HANDLE;
    Handle handle_ = VK_NULL_HANDLE;
};

using UniqueBuffer = DeviceHandle<VkBuffer, vkDestroyBuffer>;
using UniqueMemory = DeviceHandle<VkDeviceMemory, vkFreeMemory>;
using UniqueShaderModule = DeviceHandle<VkShaderModule, vkDestroyShaderModule>;
using UniquePipeline = DeviceHandle<VkPipeline, vkDestroyPipeline>;
using UniquePipelineLayout = DeviceHandle<VkPipelineLayout, vkDestroyPipelineLayout>;
using UniquePipelineCache = DeviceHandle<VkPipelineCache, vkDestroyPipelineCache>;
using UniqueDescriptorSetLayout = DeviceHandle<VkDescriptorSetLayout, vkDestroyDescriptorSetLayout>;
using UniqueDescriptorPool = DeviceHandle<VkDescriptorPool, vkDestroyDescriptorPool>;
using UniqueCommandPool = DeviceHandle<VkCommandPool, vkDestroyCommandPool>;
using UniqueFence = DeviceHandle<VkFence, vkDestroyFence>;
using UniqueQueryPool = DeviceHandle<VkQueryPool, vkDestroyQueryPool>;

/// Owns a VkDevice.
class UniqueDevice {
public:
    UniqueDevice() = default;
    explicit UniqueDevice(VkDevice d) : device_(d) {}
    ~UniqueDevice() { reset(); }
    UniqueDevice(UniqueDevice&& o) noexcept : device_(std::exchange(o.device_, VK_NULL_HANDLE)) {}
    UniqueDevice& operator=(UniqueDevice&& o) noexcept {
        if (this != &o) { reset(); device_ = std::exchange(o.device_, VK_NULL_HANDLE); }
        return *this;
    }
    void reset() {
        if (device_ != VK_NULL_HANDLE) { vkDeviceWaitIdle(device_); vkDestroyDevice(device_, nullptr); }
        device_ = VK_NULL_HANDLE;
    }
    VkDevice get() const { return device_; }

private:
    VkDevice device_ = VK_NULL_HANDLE;
};

}  // namespace vkattn::detail
