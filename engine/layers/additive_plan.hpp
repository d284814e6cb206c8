// Work shape of the additive (Bahdanau) score kernel, shaders/layers/additive_attention.comp, on a device.
#pragma once

#include <cstdint>
#include <string>

#include "vkattn/device.hpp"

namespace vkattn::detail {

/// Widest attention width A and value width Dv additive_attention accepts: the engine's head-dim
/// maximum (attention_validate.cpp), which also bounds the projected rows; the kernel itself has no
/// capacity (it walks the widths in chunks), and the tests verify this maximum.
constexpr int64_t kAdditiveMaxWidth = 512;

struct AdditiveConfig {
    int rows = 64;               ///< invocations per workgroup (specialization constant 0)
    int keys = 32;               ///< keys per block (constant 1)
    int chunk = 64;              ///< elements of A or Dv per shared chunk (constant 2)
    int rows_per_invocation = 1; ///< query rows each invocation owns (constant 4)
    uint32_t shared_bytes = 0;   ///< the kernel's shared memory: keys x chunk + chunk floats
    int rows_per_group() const { return rows * rows_per_invocation; }
    std::string name() const;    ///< "[rows64x4,keys32,chunk64]"
};

/// The configuration for `device`, independent of the widths (one pipeline per dtype and mask
/// presence serves every A and Dv). Throws Error(unsupported) when the device's shared memory or
/// workgroup size cannot hold even the smallest one.
AdditiveConfig choose_additive_config(const DeviceInfo& device);

}  // namespace vkattn::detail
