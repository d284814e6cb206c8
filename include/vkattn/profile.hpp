#pragma once
/// \file profile.hpp
/// Limits profiles: emulate a weaker device class on a stronger one. A profile clamps the probed
/// DeviceInfo once, when a Context is created; everything that plans kernels reads the clamped
/// values, and pipeline creation checks every pipeline against them (see docs/profiles.md).
#include <string>
#include <vector>

#include "vkattn/device.hpp"

namespace vkattn {

/// The profile names, default first: "desktop" (no change), "mobile" (16 KiB shared memory, at most
/// 128 invocations a workgroup, no fp16 arithmetic, no subgroup operations), "no-subgroup",
/// "no-fp16", "small-shared" (16 KiB shared memory).
const std::vector<std::string>& profile_names();

/// The profile a ContextOptions::profile value selects: the value when non-empty, else the
/// VKATTN_PROFILE environment variable when set and non-empty, else "desktop". Not validated.
std::string effective_profile(const std::string& requested);

/// `probed` clamped by profile `name` (never raised: a limit already below the profile's stays).
/// The result's `profile` field names the profile. Throws Error(invalid_argument) naming `argument`
/// and listing the valid names when `name` is not a profile.
DeviceInfo apply_profile(const DeviceInfo& probed, const std::string& name, const std::string& argument = "profile");

}  // namespace vkattn
