#pragma once
// Everything a Context owns. Members are declared in creation order so destruction runs in reverse:
// pipelines and pools before the device, the device before the instance.
#include <vulkan/vulkan.h>

#include <atomic>
#include <functional>
#include <map>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/buffer.hpp"
#include "runtime/instance.hpp"
#include "runtime/kernel_params.hpp"
#include "runtime/pipeline_cache.hpp"
#include "runtime/test_seams.hpp"
#include "runtime/vk_handles.hpp"
#include "vkattn/context.hpp"

namespace vkattn::detail {

/// One range of a buffer bound to a binding slot.
struct BoundRange {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceSize offset = 0;
    VkDeviceSize range = VK_WHOLE_SIZE;
};

/// One recorded dispatch: pipeline, parameters, bindings and workgroup counts.
struct Dispatch {
    VkPipeline pipeline = VK_NULL_HANDLE;
    KernelParams params{};
    std::array<BoundRange, kBindingCount> bindings{};  // [kParams] is filled by the recorder
    std::array<uint32_t, 3> groups{1, 1, 1};
};

struct TuningTable;
struct FusedConfig;

struct ContextState : std::enable_shared_from_this<ContextState> {
    ContextOptions options;
    TestSwitches test_switches;  // default_test_switches() at creation; testing::apply changes them
    std::function<void(const std::string&)> log;
    std::unique_ptr<Instance> instance;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    DeviceInfo probed;                    // as the device reports it
    DeviceInfo info;                      // after the limits profile (and a forced subgroup size): what plans
    VkPhysicalDeviceMemoryProperties memory_properties{};
    UniqueDevice device;
    std::unique_ptr<MemoryPool> memory_pool;  // after `device`: its blocks are freed before the device goes
    uint32_t queue_family = 0;
    VkQueue queue = VK_NULL_HANDLE;
    UniqueCommandPool command_pool;
    UniqueFence fence;
    UniqueDescriptorSetLayout set_layout;
    UniquePipelineLayout pipeline_layout;
    UniqueQueryPool timestamp_pool;
    std::unique_ptr<PipelineCache> pipeline_cache;
    std::map<std::string, UniquePipeline> pipelines;
    double compile_seconds = 0;
    std::shared_ptr<DeviceBuffer> dummy;  // bound to slots a kernel does not use
    // Set once, under `mutex`, when a Vulkan call reports VK_ERROR_DEVICE_LOST; read by every entry
    // point (some without the mutex, hence atomic). `lost_cause` is written before `lost` is set.
    std::atomic<bool> lost{false};
    std::string lost_cause;
    bool lost_injected = false;  // the loss came from fault injection (fault_injection.hpp), not the driver
    std::shared_ptr<TuningTable> tuning;              // `vkattn tune`'s winners for this device (may be empty)
    std::shared_ptr<const FusedConfig> forced_fused;  // set by tune() while it times one candidate
    // Device memory held by this context's buffers (every allocation, staging included), and the
    // most held at once since the last reset: what the memory goals of the bench are measured by.
    // Context::stats(): host-side Vulkan work, counted where it happens.
    std::atomic<uint64_t> stat_allocations{0}, stat_descriptor_pools{0}, stat_descriptor_sets{0}, stat_submissions{0},
        stat_waits{0};
    std::atomic<uint64_t> memory_in_use{0};
    std::atomic<uint64_t> memory_peak{0};
    void note_allocation(uint64_t bytes);
    void note_release(uint64_t bytes) { memory_in_use -= bytes; }
    // Serialises every operation: recording, submission, the pipeline map, staging and mapped copies.
    // Recursive because an operation (attention_full) calls others (upload, pipeline) while holding it.
    std::recursive_mutex mutex;

    // Adopted device (docs/embedding.md): the application's handles, none of them owned; the
    // application's queue mutex, locked around each submission, when it gave one.
    bool adopted = false;
    std::mutex* queue_mutex = nullptr;

    ContextState() = default;
    ~ContextState();
    /// Own device: instance, device selection, device, then the common objects.
    void initialise(ContextOptions opts);
    /// The application's device: checks what it gives, probes and plans from what it enabled.
    void initialise_adopted(const AdoptedDevice& app, ContextOptions opts);
    /// Command pool, fence, layouts, timestamps, pipeline cache, tuning: what both ways share.
    void create_common_objects();

    /// Throws Error(device_lost) once the device has been lost.
    void ensure_alive() const;
    /// vk_check for calls that can report VK_ERROR_DEVICE_LOST: marks the context lost first.
    /// `injected`: the result came from fault injection.
    void check_device(VkResult r, const char* what, bool injected = false);
    /// Test-only: clears a loss that fault injection caused (the real device is intact), so that a
    /// test can inject the next loss without building a new context and its pipelines. Throws
    /// Error(device_lost) if the loss was real. Nothing else may call this.
    void revive_after_injected_loss();
    /// Records commands with `record`, submits them and waits for completion.
    void submit_and_wait(const std::function<void(VkCommandBuffer)>& record);
    /// Runs dispatches in order with a compute barrier between each; returns GPU ms or -1.
    double run_dispatches(const std::vector<Dispatch>& dispatches, bool measure);
    /// The pipeline for an embedded shader with these specialization constants (ids 0..n-1), built once.
    /// Throws Error(unsupported) when its workgroup size, shared memory or capabilities (read from the
    /// SPIR-V) exceed `info`, the limits after the profile: a planning bug, never run silently.
    VkPipeline pipeline(const std::string& shader, const std::vector<int32_t>& spec_constants);

    void copy_buffer(VkBuffer src, VkDeviceSize src_offset, VkBuffer dst, VkDeviceSize dst_offset, VkDeviceSize bytes);
    void write_bytes(DeviceBuffer& dst, VkDeviceSize offset, const void* data, VkDeviceSize bytes);
    void read_bytes(const DeviceBuffer& src, VkDeviceSize offset, void* data, VkDeviceSize bytes);
    void fill_buffer(DeviceBuffer& dst, uint32_t pattern);
    uint32_t memory_type(uint32_t type_bits, MemoryKind kind) const;
};

/// True when environment variable `name` is set, non-empty and not "0".
bool env_flag(const char* name);

/// Applies a required subgroup size (ContextOptions::subgroup_size) to the planning limits, or throws.
void apply_subgroup_size(DeviceInfo& info, uint32_t size);

}  // namespace vkattn::detail
