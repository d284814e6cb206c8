#pragma once
// Turns VkResult failures into vkattn::Error with the right code.
#include <vulkan/vulkan.h>

#include <string>

#include "vkattn/error.hpp"

namespace vkattn::detail {

const char* vk_result_name(VkResult r) noexcept;

/// Throws Error (out_of_memory, device_lost or vulkan_error) when `r` is not VK_SUCCESS.
void vk_check(VkResult r, const char* what);

}  // namespace vkattn::detail
