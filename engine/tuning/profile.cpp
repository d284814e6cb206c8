// Limits profiles (include/vkattn/profile.hpp): the clamps of each emulated device class.
#include "vkattn/profile.hpp"

#include <algorithm>
#include <cstdlib>

#include "vkattn/error.hpp"

namespace vkattn {
namespace {

constexpr uint32_t kSmallSharedBytes = 16 * 1024;
constexpr uint32_t kMobileInvocations = 128;

void clamp_shared(DeviceInfo& d) { d.shared_memory_bytes = std::min(d.shared_memory_bytes, kSmallSharedBytes); }

void no_fp16(DeviceInfo& d) { d.fp16_arithmetic = false; }

// Every subgroup feature off: operations, and forcing a subgroup size (which only matters to
// kernels that use subgroup operations). subgroup_size stays: it is how the hardware runs, and the
// planner only uses it to round workgroup sizes.
void no_subgroup(DeviceInfo& d) {
    d.subgroup_basic = d.subgroup_arithmetic = d.subgroup_shuffle = false;
    d.subgroup_size_control = false;
    d.compute_full_subgroups = false;
    d.min_subgroup_size = d.max_subgroup_size = 0;
}

void clamp_invocations(DeviceInfo& d, uint32_t n) {
    d.max_workgroup_invocations = std::min(d.max_workgroup_invocations, n);
    for (uint32_t& s : d.max_workgroup_size) s = std::min(s, n);
}

}  // namespace

const std::vector<std::string>& profile_names() {
    static const std::vector<std::string> names = {"desktop", "mobile", "no-subgroup", "no-fp16", "small-shared"};
    return names;
}

std::string effective_profile(const std::string& requested) {
    if (!requested.empty()) return requested;
    const char* env = std::getenv("VKATTN_PROFILE");
    return env && *env ? std::string(env) : std::string("desktop");
}

DeviceInfo apply_profile(const DeviceInfo& probed, const std::string& name, const std::string& argument) {
    DeviceInfo d = probed;
    if (name == "desktop") {
    } else if (name == "mobile") {
        clamp_shared(d);
        clamp_invocations(d, kMobileInvocations);
        no_fp16(d);
        no_subgroup(d);
    } else if (name == "no-subgroup") {
        no_subgroup(d);
    } else if (name == "no-fp16") {
        no_fp16(d);
    } else if (name == "small-shared") {
        clamp_shared(d);
    } else {
        std::string valid;
        for (const std::string& n : profile_names()) valid += (valid.empty() ? "" : ", ") + n;
        throw Error(ErrorCode::invalid_argument, argument + ": '" + name + "' is not a limits profile (valid: " + valid + ")");
    }
    d.profile = name;
    return d;
}

}  // namespace vkattn
