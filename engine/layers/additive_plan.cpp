// Work shape of the additive score kernel (see the header of shaders/layers/additive_attention.comp).
#include "layers/additive_plan.hpp"

#include <algorithm>

#include "vkattn/error.hpp"

namespace vkattn::detail {

namespace {
uint32_t shared_bytes(int keys, int chunk) { return 4u * static_cast<uint32_t>(keys * chunk + chunk); }
}  // namespace

std::string AdditiveConfig::name() const {
    return "[rows" + std::to_string(rows) + "x" + std::to_string(rows_per_invocation) + ",keys" + std::to_string(keys) + ",chunk" +
           std::to_string(chunk) + "]";
}

AdditiveConfig choose_additive_config(const DeviceInfo& dev) {
    AdditiveConfig c;
    // Measured on lavapipe (Mesa 22.3, 2 cores), B1 Lq = Lk = 512, A = Dv = 128, f32, median ms of 5:
    // rows/invocation 1: 84, 2: 60, 4: 38, 8: 34 (but 2.7 s of JIT instead of 1.0 s); keys 32 x chunk 64
    // ran as fast as 32 x 128 and 16 x 128, and 16 x 256 slower (44). Inside the kernel's loops every
    // shared load is a per-lane sequence on llvmpipe (~120 cycles per vec4 for 8 lanes), so the rows
    // an invocation owns share each load. GPUs keep one row per invocation: 4 x 32 scores would not
    // stay in registers (not measured here).
    if (dev.type == DeviceType::cpu) c.rows_per_invocation = 4;
    c.rows = static_cast<int>(std::min<uint32_t>({64u, dev.max_workgroup_invocations, dev.max_workgroup_size[0]}));
    // The chunk shrinks to the device's shared memory (Vulkan guarantees 16 KiB; 32 x 64 needs 8.25 KiB).
    while (c.chunk > 4 && shared_bytes(c.keys, c.chunk) > dev.shared_memory_bytes) c.chunk /= 2;
    c.shared_bytes = shared_bytes(c.keys, c.chunk);
    if (c.rows < 1 || c.shared_bytes > dev.shared_memory_bytes)
        throw Error(ErrorCode::unsupported, "additive attention: the device's shared memory (" + std::to_string(dev.shared_memory_bytes) +
                                                " bytes) or workgroup size is too small for its kernel");
    return c;
}

}  // namespace vkattn::detail
