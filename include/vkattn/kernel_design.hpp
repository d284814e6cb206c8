#pragma once
/// \file kernel_design.hpp
/// The design table: for each kernel variant the planner would run on a device, what one K/V tile
/// (or key block) costs a workgroup: multiply-adds, shared-memory and global bytes, barriers,
/// registers held per invocation, and how many workgroups the device's limits let one compute unit
/// hold. Counted from the kernels' structure (the formulas are in engine/tuning/kernel_design.cpp and
/// in each shader's header), not measured: it says why a variant should be fast before a GPU
/// confirms it. `vkattn devices --verbose` prints it; docs/kernels.md has it for reference devices.
#include <string>
#include <vector>

#include "vkattn/device.hpp"

namespace vkattn {

struct KernelDesign {
    std::string variant;            ///< as AttentionResult::variant names it
    std::string unit;               ///< what one row counts, e.g. "K/V tile of 32 keys"
    int workgroup = 0;              ///< invocations per workgroup
    double fmas = 0;                ///< multiply-adds per workgroup and unit (scores and P.V)
    double shared_written = 0;      ///< bytes stored to shared memory per workgroup and unit
    double shared_read = 0;         ///< bytes loaded from shared memory per workgroup and unit (all invocations)
    double global_read = 0;         ///< bytes loaded from device memory per workgroup and unit
    double global_written = 0;      ///< bytes stored to device memory per workgroup and unit
    int barriers = 0;               ///< workgroup barriers per unit
    int registers = 0;              ///< 32-bit values one invocation holds across the unit (estimate from the source)
    unsigned shared_bytes = 0;      ///< shared memory per workgroup
    int workgroups_per_cu = 0;      ///< by the reported limits (see occupancy)
    std::string occupancy;          ///< what bounds workgroups_per_cu, in words
};

/// The design rows for head dim `head_dim` (its class) in f32 and f16 storage: the fused kernel, the
/// decode kernel (CPU devices), the explicit path's weights pass and, on CPU devices, the tiled GPU
/// kernel as VKATTN_FUSED_KERNEL=tiled would run it. A class the device cannot run is left out.
std::vector<KernelDesign> kernel_designs(const DeviceInfo& device, int head_dim = 64);

/// Formats kernel_designs() as a text table (what `vkattn devices --verbose` prints).
std::vector<std::string> kernel_design_table(const DeviceInfo& device, int head_dim = 64);

/// Reference devices for the design table when no such device is at hand: the limits their Vulkan
/// drivers report, as read from public device databases and vendor documents (readings, not probes):
/// "nvidia" (48 KiB shared, 32 lanes, 132 SMs: an H100 on NVIDIA's driver), "amd" (64 KiB, 32-64
/// lanes, 96 CUs), "intel" (64 KiB, 8-32 lanes, 32 Xe cores), "mobile" (32 KiB, 16 lanes, 512
/// invocations, 16 shader cores: an Arm Mali-class part). Error(invalid_argument) for another name.
DeviceInfo reference_device(const std::string& name);
const std::vector<std::string>& reference_device_names();

}  // namespace vkattn
