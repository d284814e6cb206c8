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

#include "vkattn/additive.hpp"
#include "vkattn/attention.hpp"
#include "vkattn/context.hpp"
#include "vkattn/kv_cache.hpp"
#include "vkattn/linear_attention.hpp"
#include "vkattn/matmul.hpp"
#include "vkattn/mha.hpp"
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
    /// computeFullSubgroups (same structures): without it the tiled kernel uses its shared-memory reduction.
    bool compute_full_subgroups = false;
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

/// Device memory for the temporaries of recorded operations (f32 working rows, per-row scratch), and the
/// host-visible parameter ring and descriptor sets their commands refer to (docs/embedding.md,
/// "Recording"). One workspace serves any number of operations recorded into one or several command
/// buffers: each operation reuses the device memory from its start (the barrier every recorded
/// operation begins with orders them), and appends its parameters and descriptor sets.
/// Not copyable; movable. Not thread-safe: record with one workspace from one thread at a time.
class Workspace {
public:
    /// `bytes` of device memory that vkattn allocates (at least 16; the *_workspace_size calls say how
    /// many a problem needs, 0 for many decode shapes).
    Workspace(Context& ctx, VkDeviceSize bytes);
    /// Over memory the caller owns: every byte of `storage` (contiguous, of `ctx`, e.g. wrap_buffer of an
    /// application buffer; its first byte aligned to the device's minStorageBufferOffsetAlignment, and
    /// at least 16). The caller keeps it alive while the workspace and its recorded work are.
    Workspace(Context& ctx, const Tensor& storage);
    ~Workspace();
    Workspace(Workspace&&) noexcept;
    Workspace& operator=(Workspace&&) noexcept;
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;

    /// Bytes of device memory for temporaries.
    VkDeviceSize size() const;
    /// Call when every command buffer recorded with this workspace since the last reset has completed
    /// (or will never be submitted): the parameter ring and descriptor sets are reused from the start.
    /// Without resets they grow with every recorded operation (recording once and submitting the same
    /// command buffer many times needs no reset).
    void reset();
    /// Bytes of the host-visible parameter ring and descriptor sets held now.
    VkDeviceSize parameter_bytes() const;

private:
    friend struct WorkspaceAccess;
    struct State;
    std::shared_ptr<State> state_;
};

/// Workspace bytes record_attention needs for this problem (0 when it needs none). Plans, allocates nothing.
VkDeviceSize attention_workspace_size(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                      const AttentionOptions& options);

/// The same from shapes, for contiguous q [B, Hq, Lq, D], k [B, Hkv, Lk, D] and v [B, Hkv, Lk, Dv] of
/// `dtype`: before the tensors exist, e.g. to place the workspace in the buffer that will hold them.
VkDeviceSize attention_workspace_size(Context& ctx, const Shape& q, const Shape& k, const Shape& v, DType dtype,
                                      const AttentionOptions& options = {});

/// Records attention into the application's command buffer `cmd` (in the recording state, for a queue
/// of the context's family), writing into options.out, which is required; return_lse, return_weights
/// and measure_time are refused. The same checks as attention() run first: an error records nothing.
/// Barriers (docs/embedding.md, "The barrier contract"): vkattn starts with one global barrier
/// COMPUTE_SHADER|TRANSFER (SHADER_WRITE|TRANSFER_WRITE) -> COMPUTE_SHADER (SHADER_READ|SHADER_WRITE|
/// UNIFORM_READ), places COMPUTE_SHADER -> COMPUTE_SHADER barriers between its own dispatches, and
/// ends with its last dispatch's SHADER_WRITEs to options.out at COMPUTE_SHADER: a reader after it needs
/// a barrier from there. Everything the commands use (tensors, workspace) must stay alive, unchanged by
/// the host, until they complete. Returns what attention_full would say of the call (variant, path,
/// dispatches; out is options.out; gpu_milliseconds -1).
AttentionResult record_attention(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q, const Tensor& k,
                                 const Tensor& v, const AttentionOptions& options);

/// attend() recorded: the cache's lengths are read now, at recording time (record the appends first).
VkDeviceSize attend_workspace_size(Context& ctx, const Tensor& q, const KvCache& cache, const AttentionOptions& options = {});
AttentionResult record_attend(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q, const KvCache& cache,
                              const AttentionOptions& options);

/// KvCache::append recorded into `cmd`: copies the new rows with vkCmdCopyBuffer, then a barrier
/// TRANSFER (TRANSFER_WRITE) -> COMPUTE_SHADER (SHADER_READ), and advances the cache's lengths now, so
/// that the operations recorded after it see them. The caller makes k_new and v_new's writes visible to
/// TRANSFER (a compute pass that wrote them needs COMPUTE_SHADER/SHADER_WRITE -> TRANSFER/TRANSFER_READ;
/// a record_attention's starting barrier does not cover reads by transfer).
void record_append(Context& ctx, VkCommandBuffer cmd, KvCache& cache, const Tensor& k_new, const Tensor& v_new,
                   std::span<const int32_t> counts = {});

/// The layers, recorded. Each runs the same checks and plan as its synchronous call and records the
/// same dispatches, under the same barrier contract as record_attention: one global barrier first,
/// COMPUTE_SHADER -> COMPUTE_SHADER barriers between its own stages (a layer's projections, attention
/// and output projection are stages), its last dispatch's SHADER_WRITEs to options.out at the end.
/// options.out is required; measure_time is refused, and so are return_lse / return_weights (additive,
/// Luong) and need_weights (multi-head attention). The *_workspace_size calls plan without allocating
/// or compiling; intermediate tensors (projections, f32 working rows) live in the workspace.
VkDeviceSize matmul_workspace_size(Context& ctx, const Tensor& a, const Tensor& w, const std::optional<Tensor>& bias = std::nullopt,
                                   const MatmulOptions& options = {});
MatmulResult record_matmul(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& a, const Tensor& w,
                           const std::optional<Tensor>& bias, const MatmulOptions& options);

VkDeviceSize linear_attention_workspace_size(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                             const LinearAttentionOptions& options = {});
LinearAttentionResult record_linear_attention(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q,
                                              const Tensor& k, const Tensor& v, const LinearAttentionOptions& options);

VkDeviceSize additive_attention_workspace_size(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                               const AdditiveWeights& weights, const AdditiveOptions& options = {});
AttentionResult record_additive_attention(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q, const Tensor& k,
                                          const Tensor& v, const AdditiveWeights& weights, const AdditiveOptions& options);

VkDeviceSize luong_general_attention_workspace_size(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& w,
                                                    const AttentionOptions& options = {});
AttentionResult record_luong_general_attention(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const Tensor& q,
                                               const Tensor& k, const Tensor& v, const Tensor& w, const AttentionOptions& options);

VkDeviceSize multi_head_attention_workspace_size(Context& ctx, const MhaWeights& weights, const Tensor& x_q,
                                                 const std::optional<Tensor>& x_k = std::nullopt,
                                                 const std::optional<Tensor>& x_v = std::nullopt, const MhaOptions& options = {});
MhaResult record_multi_head_attention(Context& ctx, VkCommandBuffer cmd, Workspace& workspace, const MhaWeights& weights,
                                      const Tensor& x_q, const std::optional<Tensor>& x_k, const std::optional<Tensor>& x_v,
                                      const MhaOptions& options);

}  // namespace vkattn
