#pragma once
// Per-device defaults of the fused kernels: a pure function of what the probe reports and of the
// problem's class, with the measurement (or the lack of one) behind each branch. `vkattn tune`
// measures the candidates on the device itself and its cached winner takes precedence (tuning_table).
#include <cstdint>

#include "vkattn/device.hpp"
#include "vkattn/dtype.hpp"

namespace vkattn::detail {

/// What the default tiles depend on.
struct TuningInputs {
    uint32_t vendor_id = 0;
    DeviceType type = DeviceType::other;
    uint32_t subgroup_size = 0;
    uint32_t shared_memory_bytes = 0;
    uint32_t max_workgroup = 0;   ///< min(maxComputeWorkGroupInvocations, maxComputeWorkGroupSize[0])
    int dcap = 64;                ///< head-dim class: 64, 128, 256, 512
    DType dtype = DType::f32;     ///< of q, k, v (every kernel accumulates in f32)
};

/// Starting tiles before the shared-memory fit (choose_fused_config shrinks them to the device).
struct DefaultTiles {
    bool rowwise = false;     ///< attention_fused_rowwise.comp (CPU devices) instead of attention_fused.comp
    int rows = 64;            ///< query rows per workgroup
    int keys = 32;            ///< keys per tile (rowwise: per dispatch)
    int threads_per_row = 4;  ///< tiled kernel: invocations sharing one query row
    /// tiled kernel: the shared bytes one workgroup should stay within so that two or more run on one
    /// compute unit (0: only the device's limit); the fit shrinks keys, then rows, to it
    uint32_t shared_target = 0;
    const char* rule = "";    ///< which branch chose them (shown by `vkattn devices`)
};

DefaultTiles default_tiles(const TuningInputs& in);

TuningInputs tuning_inputs(const DeviceInfo& dev, int dcap, DType dtype);

}  // namespace vkattn::detail
