#pragma once
// The Vulkan instance, optionally with the Khronos validation layer and a debug messenger that
// forwards and counts its messages.
#include <vulkan/vulkan.h>

#include <atomic>
#include <functional>
#include <string>

namespace vkattn::detail {

using MessageSink = std::function<void(const std::string&)>;

class Instance {
public:
    /// Creates the instance; with `validation`, enables VK_LAYER_KHRONOS_validation (and throws
    /// Error(unsupported) if it is not installed).
    Instance(bool validation, MessageSink sink);
    ~Instance();
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    VkInstance get() const { return instance_; }
    bool validation_enabled() const { return messenger_ != VK_NULL_HANDLE; }
    uint64_t message_count() const { return messages_.load(); }

private:
    static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                          VkDebugUtilsMessageTypeFlagsEXT types,
                                                          const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                          void* user);
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    MessageSink sink_;
    std::atomic<uint64_t> messages_{0};
};

/// True when the loader can find VK_LAYER_KHRONOS_validation.
bool validation_layer_available();

}  // namespace vkattn::detail
