#pragma once
// The Vulkan instance, optionally with the Khronos validation layer and a debug messenger that
// forwards and counts its messages.
#include <vulkan/vulkan.h>

#include <atomic>
#include <functional>
#include <string>

#include "vkattn/context.hpp"

namespace vkattn::detail {

using MessageSink = std::function<void(const std::string&)>;

class Instance {
public:
    /// Creates the instance; with `validation`, enables VK_LAYER_KHRONOS_validation with `checks`
    /// (and throws Error(unsupported) if it, or VK_EXT_validation_features for extra checks, is missing).
    Instance(bool validation, ValidationChecks checks, MessageSink sink);
    ~Instance();
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    VkInstance get() const { return instance_; }
    bool validation_enabled() const { return messenger_ != VK_NULL_HANDLE; }
    uint64_t message_count() const { return messages_.load(); }
    ValidationChecks checks() const { return checks_; }

private:
    static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                          VkDebugUtilsMessageTypeFlagsEXT types,
                                                          const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                          void* user);
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    MessageSink sink_;
    ValidationChecks checks_ = ValidationChecks::standard;
    std::atomic<uint64_t> messages_{0};
};

/// True when the loader can find VK_LAYER_KHRONOS_validation.
bool validation_layer_available();

}  // namespace vkattn::detail
