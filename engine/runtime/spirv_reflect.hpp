#pragma once
// What a compute shader needs from the device, read from its SPIR-V with given specialization
// constants: workgroup size, shared (Workgroup storage) bytes, and the capabilities that a limits
// profile can turn off. Used by ContextState::pipeline to refuse a pipeline that exceeds the limits.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace vkattn::detail {

struct ShaderNeeds {
    std::array<uint32_t, 3> workgroup{1, 1, 1};
    uint64_t shared_bytes = 0;       // sum of every Workgroup variable (tight packing, as planners count)
    bool float16_arithmetic = false; // the Float16 capability
    bool subgroup_operations = false;// any GroupNonUniform* or Subgroup*KHR capability
    uint64_t invocations() const { return uint64_t{workgroup[0]} * workgroup[1] * workgroup[2]; }
};

/// Reads `words` (a SPIR-V module) with specialization constant SpecId i = spec[i] (others keep
/// their defaults). Throws Error(vulkan_error) on a malformed module or a specialization constant
/// expression it cannot evaluate.
ShaderNeeds reflect_shader(std::span<const uint32_t> words, const std::vector<int32_t>& spec);

}  // namespace vkattn::detail
