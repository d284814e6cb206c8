// A minimal SPIR-V reader: just enough of the module to size workgroups and shared memory.
#include "runtime/spirv_reflect.hpp"

#include <map>
#include <string>

#include "vkattn/error.hpp"

namespace vkattn::detail {
namespace {

// Opcodes, decorations and enumerants of the SPIR-V specification (unified1).
enum Op : uint32_t {
    OpCapability = 17, OpExecutionMode = 16, OpExecutionModeId = 331, OpDecorate = 71,
    OpTypeBool = 20, OpTypeInt = 21, OpTypeFloat = 22, OpTypeVector = 23, OpTypeMatrix = 24,
    OpTypeArray = 28, OpTypeStruct = 30, OpTypePointer = 32,
    OpConstantTrue = 41, OpConstantFalse = 42, OpConstant = 43, OpConstantComposite = 44,
    OpSpecConstantTrue = 48, OpSpecConstantFalse = 49, OpSpecConstant = 50, OpSpecConstantComposite = 51,
    OpSpecConstantOp = 52, OpVariable = 59,
};
constexpr uint32_t kDecorationSpecId = 1, kDecorationBuiltIn = 11, kBuiltInWorkgroupSize = 25;
constexpr uint32_t kModeLocalSize = 17, kModeLocalSizeId = 38, kStorageWorkgroup = 4;
constexpr uint32_t kCapFloat16 = 9;

bool is_subgroup_capability(uint32_t c) {
    return (c >= 61 && c <= 68) ||              // GroupNonUniform, Vote, Arithmetic, Ballot, Shuffle, ShuffleRelative, Clustered, Quad
           c == 4423 || c == 4431 ||            // SubgroupBallotKHR, SubgroupVoteKHR
           c == 5297;                           // GroupNonUniformPartitionedNV
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
        case 126: need(1); return -a[0];                        // SNegate
        case 200: need(1); return ~a[0];                        // Not
        case 168: need(1); return !a[0];                        // LogicalNot
        case 113: case 114: need(1); return a[0];               // UConvert, SConvert
        case 128: need(2); return a[0] + a[1];                  // IAdd
        case 130: need(2); return a[0] - a[1];                  // ISub
        case 132: need(2); return a[0] * a[1];                  // IMul
        case 134: case 135: need(2); return a[0] / nonzero(a[1]);  // UDiv, SDiv
        case 137: case 138: case 139: need(2); return a[0] % nonzero(a[1]);  // UMod, SRem, SMod
        case 194: case 195: need(2); return a[0] >> a[1];       // ShiftRightLogical/Arithmetic
        case 196: need(2); return a[0] << a[1];                 // ShiftLeftLogical
        case 197: need(2); return a[0] | a[1];
        case 198: need(2); return a[0] ^ a[1];
        case 199: need(2); return a[0] & a[1];
        case 164: need(2); return a[0] == a[1];                 // LogicalEqual
        case 165: need(2); return a[0] != a[1];                 // LogicalNotEqual
        case 166: need(2); return a[0] || a[1];
        case 167: need(2); return a[0] && a[1];
        case 169: need(3); return a[0] ? a[1] : a[2];           // Select
        case 170: need(2); return a[0] == a[1];                 // IEqual
        case 171: need(2); return a[0] != a[1];
        case 172: case 173: need(2); return a[0] > a[1];        // U/SGreaterThan
        case 174: case 175: need(2); return a[0] >= a[1];
        case 176: case 177: need(2); return a[0] < a[1];
        case 178: case 179: need(2); return a[0] <= a[1];
        default: fail("cannot evaluate spec constant op " + std::to_string(op));
    }
}

}  // namespace

ShaderNeeds reflect_shader(std::span<const uint32_t> words, const std::vector<int32_t>& spec) {
    if (words.size() < 5 || words[0] != 0x07230203u) fail("not a SPIR-V module");
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
            case OpCapability:
                if (w[1] == kCapFloat16) needs.float16_arithmetic = true;
                if (is_subgroup_capability(w[1])) needs.subgroup_operations = true;
                break;
            case OpExecutionMode:
                if (w[2] == kModeLocalSize && count >= 6) local_size = {w[3], w[4], w[5]};
                break;
            case OpExecutionModeId:
                if (w[2] == kModeLocalSizeId && count >= 6) local_size_ids = {w[3], w[4], w[5]}, have_local_size_ids = true;
                break;
            case OpDecorate:
                if (w[2] == kDecorationSpecId && count >= 4) spec_id[w[1]] = w[3];
                if (w[2] == kDecorationBuiltIn && count >= 4 && w[3] == kBuiltInWorkgroupSize) workgroup_size_id = w[1];
                break;
            case OpTypeBool: type_bytes[w[1]] = 4; break;
            case OpTypeInt: case OpTypeFloat: type_bytes[w[1]] = w[2] / 8; break;
            case OpTypeVector: case OpTypeMatrix: type_bytes[w[1]] = times(bytes_of(w[2]), w[3]); break;
            case OpTypeArray: type_bytes[w[1]] = times(bytes_of(w[2]), maybe_constant(w[3])); break;
            case OpTypeStruct: {
                uint64_t sum = 0;
                for (uint32_t m = 2; m < count && sum != kUnsized; ++m) sum = bytes_of(w[m]) == kUnsized ? kUnsized : sum + bytes_of(w[m]);
                type_bytes[w[1]] = sum;
                break;
            }
            case OpTypePointer:
                if (w[2] == kStorageWorkgroup) pointee[w[1]] = w[3];
                break;
            case OpConstantTrue: value[w[2]] = 1; break;
            case OpConstantFalse: value[w[2]] = 0; break;
            case OpSpecConstantTrue: value[w[2]] = spec_value(w[2], 1) != 0; break;
            case OpSpecConstantFalse: value[w[2]] = spec_value(w[2], 0) != 0; break;
            case OpConstant: value[w[2]] = static_cast<int32_t>(w[3]); break;  // 32-bit literals (all we declare)
            case OpSpecConstant: value[w[2]] = spec_value(w[2], static_cast<int32_t>(w[3])); break;
            case OpConstantComposite: case OpSpecConstantComposite:
                composite[w[2]] = std::vector<uint32_t>(w + 3, w + count);
                break;
            case OpSpecConstantOp: {
                if (count < 4) fail("short OpSpecConstantOp");
                // Operands that are not scalar constants (CompositeExtract of a vector...) leave the
                // result unknown; that is an error only where a size depends on it.
                std::vector<int64_t> operands;
                bool known = w[3] != 81;  // CompositeExtract: its operands are a composite and indices
                for (uint32_t k = 4; k < count && known; ++k) {
                    auto it = value.find(w[k]);
                    if (it == value.end()) known = false;
                    else operands.push_back(it->second);
                }
                if (known) value[w[2]] = evaluate(w[3], operands);
                break;
            }
            case OpVariable:
                if (w[3] == kStorageWorkgroup) {
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
