#pragma once
// Everything a Context owns. Members are declared in creation order so destruction runs in reverse:
// pipelines and pools before the device, the device before the instance.
#include <vulkan/vulkan.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <atomic>
#include <memory>
#include <mutex>
#include <span>
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
    /// Bind the host words of the recording (key lengths, ALiBi slopes, work lists) instead: they are
    /// written into the recording's host ring when the dispatches are recorded (recording.hpp).
    bool host_words = false;
};

/// One recorded dispatch: pipeline, parameters, bindings and workgroup counts.
struct Dispatch {
    VkPipeline pipeline = VK_NULL_HANDLE;
    KernelParams params{};
    std::array<BoundRange, kBindingCount> bindings{};  // [kParams] is filled by the recorder
    std::array<uint32_t, 3> groups{1, 1, 1};
};

struct TuningTable;
class RecordingResources;
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
    // Host ring and descriptor pool of the synchronous calls, reset at the start of each (every earlier
    // synchronous submission has been waited for). Created at the first call; dropped with `dummy`.
    std::unique_ptr<RecordingResources> sync_resources;
    // Batches (vkattn/batch.hpp): submissions in flight, oldest first, each with what it holds until
    // it completes; and what completed ones gave back for reuse, so that a steady state of batches
    // creates nothing. `released`: the Context object is gone (no new batch work; returned resources
    // are dropped instead of kept, since they would keep this state alive).
    struct InFlight {
        uint64_t value = 0;
        UniqueFence fence;
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        std::unique_ptr<RecordingResources> resources;
        std::vector<Tensor> keep;
    };
    std::deque<InFlight> in_flight;
    uint64_t last_ticket = 0;
    std::vector<UniqueFence> spare_fences;
    std::vector<VkCommandBuffer> spare_command_buffers;
    std::vector<std::unique_ptr<RecordingResources>> spare_resources;
    bool released = false;
    // While set (under `mutex`, by PlanningOnly), pipeline() builds nothing and returns VK_NULL_HANDLE
    // for a pipeline not built yet: plan_attention and the workspace sizes plan the whole call
    // without compiling anything.
    bool planning_only = false;
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
    /// Runs dispatches in order with a compute barrier between each; returns GPU ms or -1. `words`:
    /// what bindings marked host_words read.
    double run_dispatches(const std::vector<Dispatch>& dispatches, bool measure, std::span<const int32_t> words = {});
    /// The pipeline for an embedded shader with these specialization constants (ids 0..n-1), built once.
    /// Throws Error(unsupported) when its workgroup size, shared memory or capabilities (read from the
    /// SPIR-V) exceed `info`, the limits after the profile: a planning bug, never run silently.
    // full_subgroups: the kernel relies on consecutive invocations sharing a subgroup; the pipeline is
    // created with VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT (the planner asks only where
    // DeviceInfo::compute_full_subgroups holds and the workgroup is a multiple of the largest subgroup).
    VkPipeline pipeline(const std::string& shader, const std::vector<int32_t>& spec_constants, bool full_subgroups = false);

    /// Batches: a begun command buffer, recording resources, and (submit_batch) one submission of `cmd`
    /// (ended here) that holds `resources` and `keep` until it completes; returns its ticket value.
    VkCommandBuffer begin_batch_commands();
    std::unique_ptr<RecordingResources> take_recording_resources();
    void give_back(VkCommandBuffer cmd, std::unique_ptr<RecordingResources> resources);
    uint64_t submit_batch(VkCommandBuffer cmd, std::unique_ptr<RecordingResources> resources, std::vector<Tensor> keep);
    /// Waits for every submission up to `value` and retires them (Context::wait); `poll`: only those done.
    void wait_ticket(uint64_t value);
    bool poll_ticket(uint64_t value);
    /// The Context object is going: waits for everything in flight and drops what would keep the state alive.
    void release();

    void copy_buffer(VkBuffer src, VkDeviceSize src_offset, VkBuffer dst, VkDeviceSize dst_offset, VkDeviceSize bytes);
    void write_bytes(DeviceBuffer& dst, VkDeviceSize offset, const void* data, VkDeviceSize bytes);
    void read_bytes(const DeviceBuffer& src, VkDeviceSize offset, void* data, VkDeviceSize bytes);
    void fill_buffer(DeviceBuffer& dst, uint32_t pattern);
    uint32_t memory_type(uint32_t type_bits, MemoryKind kind) const;
};

/// Planning without building pipelines (ContextState::planning_only) for the scope's duration.
class PlanningOnly {
public:
    explicit PlanningOnly(ContextState& st) : lock_(st.mutex), st_(st), saved_(st.planning_only) { st.planning_only = true; }
    ~PlanningOnly() { st_.planning_only = saved_; }
    PlanningOnly(const PlanningOnly&) = delete;
    PlanningOnly& operator=(const PlanningOnly&) = delete;

private:
    std::lock_guard<std::recursive_mutex> lock_;
    ContextState& st_;
    bool saved_;
};

/// True when environment variable `name` is set, non-empty and not "0".
bool env_flag(const char* name);

/// Applies a required subgroup size (ContextOptions::subgroup_size) to the planning limits, or throws.
void apply_subgroup_size(DeviceInfo& info, uint32_t size);

}  // namespace vkattn::detail
