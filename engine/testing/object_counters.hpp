#pragma once
// Test support (library vkattn_testing): snapshots of the process-wide counts of live Vulkan objects
// by kind and of bytes of device memory held, which the runtime keeps (runtime/test_seams.hpp). Tests
// compare snapshots to prove that failures leak nothing; the soak test checks they stay bounded.
#include <array>
#include <cstdint>
#include <string>

#include "runtime/test_seams.hpp"

namespace vkattn::detail {

const char* object_kind_name(ObjectKind kind) noexcept;

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
