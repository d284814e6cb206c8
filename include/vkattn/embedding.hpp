#pragma once
/// \file embedding.hpp
/// vkattn inside an application's Vulkan world: a Context on the application's device, and tensors
/// that view the application's buffers without copying them (docs/embedding.md). Not included by
/// vkattn.hpp: it needs <vulkan/vulkan.h>, which applications that embed vkattn have anyway.
#include <vulkan/vulkan.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// The application's device, for `Context(const AdoptedDevice&, ContextOptions)`. vkattn never
/// destroys, and never waits idle on, anything named here. The handles must come from the Vulkan
/// loader vkattn links (the system's libvulkan; volk and other loaders that load it qualify).
struct AdoptedDevice {
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physical_device = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    /// A queue family with VK_QUEUE_COMPUTE_BIT, and a queue of it that vkattn may submit to.
    uint32_t queue_family = 0;
    VkQueue queue = VK_NULL_HANDLE;
    /// VkApplicationInfo::apiVersion of the instance (the device's version counts up to it). At least 1.1.
    uint32_t api_version = VK_API_VERSION_1_1;
    /// The device extensions the application enabled (names as in VK_*_EXTENSION_NAME).
    std::vector<std::string> enabled_extensions;
    /// Features the application enabled. vkattn plans from these, not from what the device could
    /// enable: without shader_float16 the kernels keep f16 data but compute in f32; without
    /// subgroup_size_control, ContextOptions::subgroup_size is refused.
    bool shader_float16 = false;          ///< VkPhysicalDeviceShaderFloat16Int8Features / Vulkan12Features::shaderFloat16
    bool subgroup_size_control = false;   ///< VkPhysicalDeviceSubgroupSizeControlFeatures / Vulkan13Features
    /// vkQueueSubmit needs the queue externally synchronised. When the application submits to `queue`
    /// from other threads, give the mutex it holds for that: vkattn locks it around each of its own
    /// submissions. Null: the application promises not to use the queue while a vkattn call runs.
    std::mutex* queue_mutex = nullptr;
};

/// An application's VkBuffer, as it was created.
struct ApplicationBuffer {
    VkBuffer buffer = VK_NULL_HANDLE;
    /// VkBufferCreateInfo::size.
    VkDeviceSize size = 0;
    /// VkBufferCreateInfo::usage. Must include VK_BUFFER_USAGE_STORAGE_BUFFER_BIT; downloads and
    /// uploads through the tensor need TRANSFER_SRC / TRANSFER_DST as well.
    VkBufferUsageFlags usage = 0;
};

/// A tensor viewing `buffer` from `byte_offset`: `shape`, `dtype` and `strides` in elements (empty:
/// contiguous). Nothing is copied and nothing is allocated. Usable wherever a tensor is: as an input,
/// a mask, a KV cache's storage, and as AttentionOptions::out. Checked before returning, each as one
/// Error(invalid_argument) naming the argument: a null handle, usage without STORAGE_BUFFER, a size
/// larger than the buffer's memory requirements say it can be, a byte offset that is not a multiple
/// of the element size, negative sizes or strides, and a view that does not fit in `size`.
/// Lifetime: the application keeps the VkBuffer and its memory alive, unchanged, until the tensor
/// (and every copy or view of it) is gone and the last operation that used it has completed; vkattn
/// never destroys it. Whether the buffer belongs to this context's device cannot be checked without
/// undefined behaviour; the validation layer reports a foreign buffer.
Tensor wrap_buffer(Context& ctx, const ApplicationBuffer& buffer, VkDeviceSize byte_offset, const Shape& shape,
                   DType dtype, const Strides& strides = {});

}  // namespace vkattn
