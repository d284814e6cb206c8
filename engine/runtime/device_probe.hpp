#pragma once
// Reads everything kernels depend on from a physical device into a DeviceInfo.
#include <vulkan/vulkan.h>

#include "vkattn/device.hpp"

namespace vkattn::detail {

DeviceInfo probe_device(VkPhysicalDevice physical, uint32_t index);

/// Whether the physical device advertises the device extension `name`.
bool has_device_extension(VkPhysicalDevice physical, const char* name);

/// Index of a queue family with compute support (preferring compute-only), or UINT32_MAX.
uint32_t find_compute_queue_family(VkPhysicalDevice physical);

/// Index of the device chosen by `selector` among `choices` (after choose_devices), or throws
/// Error(no_device) listing every device and why it was passed over.
uint32_t chosen_index(const std::vector<DeviceChoice>& choices, const DeviceSelector& selector);

/// Fills in `selected` and `reason` of every choice.
void choose_devices(std::vector<DeviceChoice>& choices, const DeviceSelector& selector);

/// The selector after applying VKATTN_DEVICE (unless the selector ignores the environment).
DeviceSelector effective_selector(const DeviceSelector& selector);

}  // namespace vkattn::detail
