// A minimal SPIR-V reader: just enough of the module to size workgroups and shared memory.
#include "runtime/spirv_reflect.hpp"

#include <map>
#include <string>

#include <spirv/unified1/spirv.hpp>

#include "vkattn/error.hpp"

namespace vkattn::detail {
namespace {

// The SPIR-V specification's numbers (opcodes, decorations, execution modes, storage classes,
// capabilities) come from Khronos' machine-generated header, Debian package spirv-headers.
bool is_subgroup_capability(uint32_t c) {
    switch (c) {
        case spv::CapabilityGroupNonUniform:
        case spv::CapabilityGroupNonUniformVote:
        case spv::CapabilityGroupNonUniformArithmetic:
        case spv::CapabilityGroupNonUniformBallot:
        case spv::CapabilityGroupNonUniformShuffle:
        case spv::CapabilityGroupNonUniformShuffleRelative:
        case spv::CapabilityGroupNonUniformClustered:
        case spv::CapabilityGroupNonUniformQuad:
        case spv::CapabilitySubgroupBallotKHR:
        case spv::CapabilitySubgroupVoteKHR:
        case spv::CapabilityGroupNonUniformPartitionedNV: return true;
        default: return false;
    }
}

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorCode::vulkan_error, "internal: SPIR-V reflection: " + what); }

int64_t evaluate(uint32_t op, const std::vector<int64_t>& a) {
    const auto need = [&](std::size_t n) {
        if (a.size() < n) fail("spec constant op " + std::to_string(op) + " has too few operands");
    };
    const auto nonzero = [&](int64_t d) {
        if (d == 0) fail("spec constant op " + std::to_string(op) + " divides by zero");
        return d;
    };
    switch (op) {
        case spv::OpSNegate: need(1); return -a[0];
        case spv::OpNot: need(1); return ~a[0];
        case spv::OpLogicalNot: need(1); return !a[0];
        case spv::OpUConvert: case spv::OpSConvert: need(1); return a[0];
        case spv::OpIAdd: need(2); return a[0] + a[1];
        case spv::OpISub: need(2); return a[0] - a[1];
        case spv::OpIMul: need(2); return a[0] * a[1];
        case spv::OpUDiv: case spv::OpSDiv: need(2); return a[0] / nonzero(a[1]);
        case spv::OpUMod: case spv::OpSRem: case spv::OpSMod: need(2); return a[0] % nonzero(a[1]);
        case spv::OpShiftRightLogical: case spv::OpShiftRightArithmetic: need(2); return a[0] >> a[1];
        case spv::OpShiftLeftLogical: need(2); return a[0] << a[1];
        case spv::OpBitwiseOr: need(2); return a[0] | a[1];
        case spv::OpBitwiseXor: need(2); return a[0] ^ a[1];
        case spv::OpBitwiseAnd: need(2); return a[0] & a[1];
        case spv::OpLogicalEqual: need(2); return a[0] == a[1];
        case spv::OpLogicalNotEqual: need(2); return a[0] != a[1];
        case spv::OpLogicalOr: need(2); return a[0] || a[1];
        case spv::OpLogicalAnd: need(2); return a[0] && a[1];
        case spv::OpSelect: need(3); return a[0] ? a[1] : a[2];
        case spv::OpIEqual: need(2); return a[0] == a[1];
        case spv::OpINotEqual: need(2); return a[0] != a[1];
        case spv::OpUGreaterThan: case spv::OpSGreaterThan: need(2); return a[0] > a[1];
        case spv::OpUGreaterThanEqual: case spv::OpSGreaterThanEqual: need(2); return a[0] >= a[1];
        case spv::OpULessThan: case spv::OpSLessThan: need(2); return a[0] < a[1];
        case spv::OpULessThanEqual: case spv::OpSLessThanEqual: need(2); return a[0] <= a[1];
        default: fail("cannot evaluate spec constant op " + std::to_string(op));
    }
}

}  // namespace

ShaderNeeds reflect_shader(std::span<const uint32_t> words, const std::vector<int32_t>& spec) {
    if (words.size() < 5 || words[0] != spv::MagicNumber) fail("not a SPIR-V module");
    ShaderNeeds needs;
    std::map<uint32_t, uint32_t> spec_id;                  // result id -> SpecId
    uint32_t workgroup_size_id = 0;                        // the constant decorated BuiltIn WorkgroupSize
    std::map<uint32_t, int64_t> value;                     // scalar constants
    std::map<uint32_t, std::vector<uint32_t>> composite;   // composite constants -> constituents
    std::map<uint32_t, uint64_t> type_bytes;               // sized types
    std::map<uint32_t, uint32_t> pointee;                  // Workgroup pointer type -> pointee type
    std::array<uint32_t, 3> local_size{1, 1, 1}, local_size_ids{0, 0, 0};
    bool have_local_size_ids = false;

    const auto constant = [&](uint32_t id) {
        auto it = value.find(id);
        if (it == value.end()) fail("id " + std::to_string(id) + " is not a scalar constant");
        return it->second;
    };
    // Sizes are worked out for every type, but only needed (and only an error when unknown) for
    // Workgroup variables: buffer blocks end in runtime arrays, which have no size.
    constexpr uint64_t kUnsized = UINT64_MAX;
    const auto bytes_of = [&](uint32_t id) {
        auto it = type_bytes.find(id);
        return it == type_bytes.end() ? kUnsized : it->second;
    };
    const auto times = [&](uint64_t a, int64_t n) { return a == kUnsized || n < 0 ? kUnsized : a * static_cast<uint64_t>(n); };
    const auto maybe_constant = [&](uint32_t id) -> int64_t {
        auto it = value.find(id);
        return it == value.end() ? -1 : it->second;
    };
    const auto spec_value = [&](uint32_t id, int64_t fallback) -> int64_t {
        auto it = spec_id.find(id);
        if (it == spec_id.end() || it->second >= spec.size()) return fallback;
        return spec[it->second];
    };

    for (std::size_t i = 5; i < words.size();) {
        const uint32_t count = words[i] >> 16, op = words[i] & 0xFFFFu;
        if (count == 0 || i + count > words.size()) fail("truncated instruction");
        const uint32_t* w = &words[i];
        switch (op) {
            case spv::OpCapability:
                if (w[1] == spv::CapabilityFloat16) needs.float16_arithmetic = true;
                if (is_subgroup_capability(w[1])) needs.subgroup_operations = true;
                break;
            case spv::OpExecutionMode:
                if (w[2] == spv::ExecutionModeLocalSize && count >= 6) local_size = {w[3], w[4], w[5]};
                break;
            case spv::OpExecutionModeId:
                if (w[2] == spv::ExecutionModeLocalSizeId && count >= 6) local_size_ids = {w[3], w[4], w[5]}, have_local_size_ids = true;
                break;
            case spv::OpDecorate:
                if (w[2] == spv::DecorationSpecId && count >= 4) spec_id[w[1]] = w[3];
                if (w[2] == spv::DecorationBuiltIn && count >= 4 && w[3] == spv::BuiltInWorkgroupSize) workgroup_size_id = w[1];
                break;
            case spv::OpTypeBool: type_bytes[w[1]] = 4; break;
            case spv::OpTypeInt: case spv::OpTypeFloat: type_bytes[w[1]] = w[2] / 8; break;
            case spv::OpTypeVector: case spv::OpTypeMatrix: type_bytes[w[1]] = times(bytes_of(w[2]), w[3]); break;
            case spv::OpTypeArray: type_bytes[w[1]] = times(bytes_of(w[2]), maybe_constant(w[3])); break;
            case spv::OpTypeStruct: {
                uint64_t sum = 0;
                for (uint32_t m = 2; m < count && sum != kUnsized; ++m) sum = bytes_of(w[m]) == kUnsized ? kUnsized : sum + bytes_of(w[m]);
                type_bytes[w[1]] = sum;
                break;
            }
            case spv::OpTypePointer:
                if (w[2] == spv::StorageClassWorkgroup) pointee[w[1]] = w[3];
                break;
            case spv::OpConstantTrue: value[w[2]] = 1; break;
            case spv::OpConstantFalse: value[w[2]] = 0; break;
            case spv::OpSpecConstantTrue: value[w[2]] = spec_value(w[2], 1) != 0; break;
            case spv::OpSpecConstantFalse: value[w[2]] = spec_value(w[2], 0) != 0; break;
            case spv::OpConstant: value[w[2]] = static_cast<int32_t>(w[3]); break;  // 32-bit literals (all we declare)
            case spv::OpSpecConstant: value[w[2]] = spec_value(w[2], static_cast<int32_t>(w[3])); break;
            case spv::OpConstantComposite: case spv::OpSpecConstantComposite:
                composite[w[2]] = std::vector<uint32_t>(w + 3, w + count);
                break;
            case spv::OpSpecConstantOp: {
                if (count < 4) fail("short OpSpecConstantOp");
                // Operands that are not scalar constants (CompositeExtract of a vector...) leave the
                // result unknown; that is an error only where a size depends on it.
                std::vector<int64_t> operands;
                bool known = w[3] != spv::OpCompositeExtract;  // its operands are a composite and indices
                for (uint32_t k = 4; k < count && known; ++k) {
                    auto it = value.find(w[k]);
                    if (it == value.end()) known = false;
                    else operands.push_back(it->second);
                }
                if (known) value[w[2]] = evaluate(w[3], operands);
                break;
            }
            case spv::OpVariable:
                if (w[3] == spv::StorageClassWorkgroup) {
                    auto it = pointee.find(w[1]);
                    if (it == pointee.end()) fail("Workgroup variable without a Workgroup pointer type");
                    const uint64_t bytes = bytes_of(it->second);
                    if (bytes == kUnsized) fail("cannot size Workgroup variable " + std::to_string(w[2]));
                    needs.shared_bytes += bytes;
                }
                break;
            default: break;
        }
        i += count;
    }

    const auto positive = [&](int64_t v) {
        if (v <= 0 || v > UINT32_MAX) fail("workgroup size " + std::to_string(v) + " out of range");
        return static_cast<uint32_t>(v);
    };
    if (workgroup_size_id) {
        auto it = composite.find(workgroup_size_id);
        if (it == composite.end() || it->second.size() != 3) fail("WorkgroupSize is not a 3-component constant");
        for (int d = 0; d < 3; ++d) needs.workgroup[d] = positive(constant(it->second[d]));
    } else if (have_local_size_ids) {
        for (int d = 0; d < 3; ++d) needs.workgroup[d] = positive(constant(local_size_ids[d]));
    } else {
        for (int d = 0; d < 3; ++d) needs.workgroup[d] = positive(local_size[d]);
    }
    return needs;
}

}  // namespace vkattn::detail
