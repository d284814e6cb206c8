#pragma once
// Process-wide counts of live Vulkan objects by kind and of bytes of device memory held, kept by the
// RAII owners (vk_handles.hpp), the buffer allocator and the command-buffer recorder. Tests compare
// snapshots to prove that failures leak nothing; the soak test checks they stay bounded.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace vkattn::detail {

enum class ObjectKind {
    instance,
    device,
    buffer,
    memory,
    shader_module,
    pipeline,
    pipeline_layout,
    pipeline_cache,
    descriptor_set_layout,
    descriptor_pool,
    command_pool,
    command_buffer,
    fence,
    query_pool,
};
inline constexpr std::size_t kObjectKindCount = static_cast<std::size_t>(ObjectKind::query_pool) + 1;

const char* object_kind_name(ObjectKind kind) noexcept;

/// Called by the owners when an object is created or destroyed.
void count_object(ObjectKind kind, int delta) noexcept;
/// Called by the allocator when device memory is allocated (positive) or freed (negative).
void count_device_bytes(int64_t delta) noexcept;

/// A snapshot of every counter.
struct LiveObjects {
    std::array<int64_t, kObjectKindCount> objects{};
    int64_t device_memory_bytes = 0;

    int64_t count(ObjectKind kind) const { return objects[static_cast<std::size_t>(kind)]; }
    int64_t total_objects() const;
    /// "buffer=3 memory=3 ... device_memory_bytes=4096" (kinds with a zero count are left out).
    std::string to_string() const;
    bool operator==(const LiveObjects&) const = default;
};

LiveObjects live_objects() noexcept;

}  // namespace vkattn::detail
