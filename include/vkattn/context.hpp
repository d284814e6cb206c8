#pragma once
/// \file context.hpp
/// A Context owns one Vulkan device, its queue, memory, pipelines and pipeline cache.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vkattn/device.hpp"
#include "vkattn/dtype.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// What the validation layer checks beyond its standard (core) checks (see docs/validation.md).
enum class ValidationChecks {
    standard,         ///< core, object lifetime, thread safety, stateless parameter checks
    synchronization,  ///< + synchronization validation (hazards between commands)
    gpu_assisted,     ///< + GPU-assisted validation (shader accesses out of bounds, instrumented)
    best_practices,   ///< + best-practices warnings
};

/// "standard", "sync", "gpu", "best-practices".
const char* to_string(ValidationChecks c) noexcept;

/// How a Context is created. Every field has a sensible default.
struct ContextOptions {
    DeviceSelector device;              ///< which device (default rule, or VKATTN_DEVICE)
    /// Enable VK_LAYER_KHRONOS_validation. Messages go to `on_message` and are counted in
    /// Context::validation_message_count(). VKATTN_VALIDATION=1|standard|sync|gpu|best-practices
    /// also turns it on (0 or empty: no change).
    bool validation = false;
    /// Extra checks when validation is on. Left at `standard`, VKATTN_VALIDATION=sync|gpu|best-practices
    /// chooses them.
    ValidationChecks validation_checks = ValidationChecks::standard;
    /// Limits profile (include/vkattn/profile.hpp): plan as if the device were this weaker class.
    /// Empty: VKATTN_PROFILE, else "desktop". An unknown name throws Error(invalid_argument).
    std::string profile;
    /// Require this subgroup size on every compute pipeline (VkPipelineShaderStageRequiredSubgroupSizeCreateInfo).
    /// 0: the driver's choice. Otherwise a power of two within the device's [min_subgroup_size,
    /// max_subgroup_size], on a device with subgroup_size_control (after the profile), else Error.
    uint32_t subgroup_size = 0;
    bool verbose = false;               ///< log device choice and pipeline compile times (also VKATTN_VERBOSE=1)
    /// Directory for the persistent pipeline cache. Empty: $XDG_CACHE_HOME/vkattn or ~/.cache/vkattn.
    /// "none" disables it.
    std::string pipeline_cache_dir;
    /// Receives log lines and validation messages. Default: stderr.
    std::function<void(const std::string&)> on_message;
};

struct AdoptedDevice;  // vkattn/embedding.hpp

/// What a context has done on the device since it was created (Context::stats): the host-side work
/// each operation costs beyond its dispatches. Counts only go up.
struct ContextStats {
    uint64_t memory_allocations = 0;   ///< vkAllocateMemory calls (tensors, scratch, parameters, staging)
    uint64_t descriptor_pools = 0;     ///< vkCreateDescriptorPool calls
    uint64_t descriptor_sets = 0;      ///< descriptor sets allocated
    uint64_t pipelines = 0;            ///< compute pipelines created
    uint64_t submissions = 0;          ///< vkQueueSubmit calls
    uint64_t waits = 0;                ///< host waits on the device (fence waits)
};

/// A submission's place on the context's queue (Batch::submit): Context::wait(ticket) returns once it,
/// and everything submitted before it, has completed. A default ticket is always complete.
struct Ticket {
    uint64_t value = 0;
};

/// The engine's entry point. Not copyable; movable. Operations on one Context are
/// serialised internally, so a Context may be shared between threads.
class Context {
public:
    /// Creates its own instance, device and queue (the device chosen by options.device).
    explicit Context(ContextOptions options = {});
    /// Runs on an application's device (vkattn/embedding.hpp, docs/embedding.md): plans from what the
    /// application enabled; destroys nothing it did not create. options.device and options.validation
    /// do not apply (the application's instance has its own layers) and are refused when set.
    explicit Context(const AdoptedDevice& device, ContextOptions options = {});
    ~Context();
    Context(Context&&) noexcept;
    Context& operator=(Context&&) noexcept;
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    /// The device this context runs on, with the limits profile applied: what the planner uses.
    const DeviceInfo& device() const;
    /// The device as probed, before the limits profile.
    const DeviceInfo& probed_device() const;

    /// Allocates an uninitialised contiguous tensor.
    Tensor empty(const Shape& shape, DType dtype);
    /// Uploads float data, converting to `dtype`: f32, f16, bf16 (rounded to nearest even), or q8_0 / q4_0
    /// (quantised in blocks of 32 along the last dim, which must be a multiple of 32). `data.size()` must
    /// equal the shape's product.
    Tensor upload(std::span<const float> data, const Shape& shape, DType dtype = DType::f32);
    /// Uploads raw elements already in `dtype` (f16 bits as uint16_t, i32, u8 ...).
    Tensor upload_raw(const void* data, std::size_t bytes, const Shape& shape, DType dtype);

    /// Bytes of device memory this context's buffers hold now (tensors, scratch, staging), and the
    /// most held at once since creation or the last reset_device_memory_peak().
    uint64_t device_memory_in_use() const;
    uint64_t device_memory_peak() const;
    void reset_device_memory_peak();

    /// True when this context runs on an application's device.
    bool adopted() const;

    /// Number of validation-layer messages (warnings and errors) seen so far (0 on an adopted device:
    /// the application's debug messenger receives them).
    uint64_t validation_message_count() const;
    /// Waits until the submission of `ticket` and every earlier one have completed (one fence wait per
    /// submission still in flight), then releases what they held. Returns at once for completed tickets.
    void wait(Ticket ticket);
    /// True once the submission of `ticket` has completed (does not wait).
    bool completed(Ticket ticket);

    /// Counters of the host-side Vulkan work done so far (ContextStats).
    ContextStats stats() const;

    /// Number of distinct compute pipelines created so far, and seconds spent compiling them.
    std::size_t pipeline_count() const;
    double pipeline_compile_seconds() const;

private:
    friend struct ContextAccess;  // the library's own operations reach the state through it
    struct State;                 // defined inside the library
    struct Borrowed {};
    Context(std::shared_ptr<State> state, Borrowed);  // a second handle that does not end the context
    std::shared_ptr<State> state_;
    bool borrowed_ = false;
};

}  // namespace vkattn
