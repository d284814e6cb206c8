#pragma once
// Where an attention-family call's temporary tensors come from and where its dispatches go. One code
// path plans and binds every call; the target decides the rest:
//   - SyncTarget: temporaries from the context's memory, dispatches run and waited for (the plain calls);
//   - RecordTarget: temporaries carved from a Workspace, dispatches recorded into the caller's command
//     buffer (vkattn/embedding.hpp record_attention);
//   - SizingTarget: nothing allocated or recorded, only the workspace bytes the carving would take
//     (attention_workspace_size).
#include <vulkan/vulkan.h>

#include <span>
#include <string>
#include <vector>

#include "runtime/context_state.hpp"
#include "vkattn/attention.hpp"
#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn::detail {

class RecordingResources;

class CallTarget {
public:
    virtual ~CallTarget() = default;
    /// A tensor the call needs only while it runs (f32 working rows, per-row scratch).
    virtual Tensor temporary(Context& ctx, const Shape& shape, DType dtype, const char* name) = 0;
    /// A result the call returns (out when the caller gave none, lse, weights); `name` names it in errors.
    virtual Tensor result(Context& ctx, const Shape& shape, DType dtype, const char* name) = 0;
    /// Runs or records `dispatches` (`words`: what host_words bindings read). GPU ms when measured, else -1.
    virtual double finish(ContextState& st, const std::vector<Dispatch>& dispatches, std::span<const int32_t> words, bool measure) = 0;
};

/// The synchronous call: temporaries and results are new tensors of the context; finish runs and waits.
class SyncTarget final : public CallTarget {
public:
    Tensor temporary(Context& ctx, const Shape& shape, DType dtype, const char* name) override;
    Tensor result(Context& ctx, const Shape& shape, DType dtype, const char* name) override;
    double finish(ContextState& st, const std::vector<Dispatch>& dispatches, std::span<const int32_t> words, bool measure) override;
};

/// The bytes a call's temporaries take in a workspace: each starts at `alignment` (the device's storage
/// offset alignment, and at least 16).
struct WorkspaceCarving {
    VkDeviceSize alignment = 16;
    VkDeviceSize used = 0;
    /// Byte offset of the next `bytes`.
    VkDeviceSize take(VkDeviceSize bytes) {
        const VkDeviceSize at = (used + alignment - 1) / alignment * alignment;
        used = at + bytes;
        return at;
    }
};

VkDeviceSize workspace_alignment(const DeviceInfo& dev);

/// What a Workspace holds: device memory for temporaries (its own or the caller's) and the recording
/// resources (host ring, descriptor sets) of the operations recorded with it.
struct WorkspaceState {
    std::shared_ptr<ContextState> owner;
    Tensor storage;  // u8 bytes; the temporaries are views of its buffer
    std::unique_ptr<RecordingResources> resources;
    ~WorkspaceState();
};

/// A recorded operation: temporaries carved from the workspace, dispatches recorded into `cmd` after
/// the barrier every recorded operation starts with (docs/embedding.md, "The barrier contract").
class RecordTarget final : public CallTarget {
public:
    RecordTarget(VkCommandBuffer cmd, WorkspaceState& ws, const char* operation) : cmd_(cmd), ws_(ws), operation_(operation) {}
    Tensor temporary(Context& ctx, const Shape& shape, DType dtype, const char* name) override;
    Tensor result(Context& ctx, const Shape& shape, DType dtype, const char* name) override;
    double finish(ContextState& st, const std::vector<Dispatch>& dispatches, std::span<const int32_t> words, bool measure) override;

private:
    VkCommandBuffer cmd_;
    WorkspaceState& ws_;
    const char* operation_;
    WorkspaceCarving carving_;
};

/// Plans a recorded operation without allocating or recording: `bytes()` is the workspace it needs.
class SizingTarget final : public CallTarget {
public:
    SizingTarget() = default;
    Tensor temporary(Context& ctx, const Shape& shape, DType dtype, const char* name) override;
    Tensor result(Context& ctx, const Shape& shape, DType dtype, const char* name) override;
    double finish(ContextState&, const std::vector<Dispatch>&, std::span<const int32_t>, bool) override { return -1; }
    VkDeviceSize bytes() const { return carving_.used; }

private:
    WorkspaceCarving carving_;
};

struct SequenceLayout;
/// Attention through `target` (attention.cpp): validate, plan, bind, then target.finish. `seq`: packed
/// sequences and/or paged keys (sequences.hpp): q [Tq, Hq, D], k / v [rows, Hkv, D] as that layout says.
AttentionResult attention_call(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o,
                               CallTarget& target, const SequenceLayout* seq = nullptr);

/// A contiguous tensor of `ctx` whose buffer has the right size but no memory and no VkBuffer: for
/// planning only (SizingTarget, the workspace size from shapes).
Tensor stand_in(Context& ctx, const Shape& shape, DType dtype);

/// The range of `t`'s buffer that `t` spans (its elements from its offset, contiguous).
BoundRange range_of(const Tensor& t);

}  // namespace vkattn::detail
