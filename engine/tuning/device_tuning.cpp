// Default tiles per device class. Only the CPU branch rests on measurements taken by this project
// (lavapipe, Mesa 22.3, 2 cores); no GPU has been lent to it yet, so each GPU branch says what it is
// derived from and `vkattn tune` is the way to measured tiles on such a device: its cached winner
// (tuning_table.hpp) replaces these defaults for that device and driver.
#include "tuning/device_tuning.hpp"

#include <algorithm>

namespace vkattn::detail {

namespace {
constexpr uint32_t kVendorNvidia = 0x10DE, kVendorAmd = 0x1002, kVendorIntel = 0x8086, kVendorArm = 0x13B5,
                   kVendorQualcomm = 0x5143, kVendorImagination = 0x1010, kVendorApple = 0x106B;
}

TuningInputs tuning_inputs(const DeviceInfo& dev, int dcap, DType dtype) {
    TuningInputs in;
    in.vendor_id = dev.vendor_id;
    in.type = dev.type;
    in.subgroup_size = dev.subgroup_size;
    in.shared_memory_bytes = dev.shared_memory_bytes;
    in.max_workgroup = std::min(dev.max_workgroup_invocations, dev.max_workgroup_size[0]);
    in.dcap = dcap;
    in.dtype = dtype;
    return in;
}

DefaultTiles default_tiles(const TuningInputs& in) {
    DefaultTiles t;
    if (in.type == DeviceType::cpu) {
        // CPU devices (llvmpipe/lavapipe, SwiftShader): the row-per-invocation kernel. Measured on
        // lavapipe, B=1 H=8 N=2048 D=64 f32 (bench/RESULTS.md): 256 rows per workgroup ran ~10% faster
        // than 128 (the K/V block copy is shared by every row; 512 no faster, and slower causal); 128
        // keys per dispatch amortise the per-row q / accumulator traffic (~60% of the time at 32 keys);
        // keys x dcap <= 8192 keeps one pipeline's compile near 1.5 s. The tiled kernel runs ~4x slower
        // there and hits lavapipe's 65535-iteration loop limit past a few thousand keys.
        t.rowwise = true;
        t.rows = 256;
        t.keys = std::min(128, 8192 / in.dcap);
        t.threads_per_row = 1;
        t.rule = "cpu: row per invocation (measured on lavapipe)";
        return t;
    }
    // GPUs: the tiled kernel, rows x threads-per-row invocations, each thread keeping at most 16 of a
    // row's output columns in registers (more spilled on every compiler we read the output of).
    t.threads_per_row = std::max(1, in.dcap / 16);
    int workgroup = 64;  // a multiple of every subgroup size up to 64
    switch (in.vendor_id) {
        case kVendorNvidia:
            // 32-lane warps; 48 KiB shared guaranteed, 100-228 KiB on Ampere/Hopper. Not measured here:
            // FlashAttention-2's forward uses 128 threads per 64-128 query rows with 64-128 key tiles;
            // we start at 128 invocations and 64-key tiles where shared memory allows (the fit shrinks).
            workgroup = 128;
            t.keys = in.shared_memory_bytes >= 96 * 1024 ? 64 : 32;
            t.rule = "nvidia: 128 invocations, 64-key tiles with >= 96 KiB shared (not yet measured: run vkattn tune)";
            break;
        case kVendorAmd:
            // wave64 (GCN, CDNA) or wave32/64 (RDNA): a workgroup of two full waves keeps the SIMD busy
            // across barriers; 64 KiB LDS. Not measured here.
            workgroup = std::max<int>(128, 2 * static_cast<int>(in.subgroup_size));
            t.keys = 32;
            t.rule = "amd: two waves per workgroup, 32-key tiles (not yet measured: run vkattn tune)";
            break;
        case kVendorIntel:
            // SIMD8-32 EUs, 64 KiB SLM per subslice shared by its workgroups: 64 invocations, 32 keys.
            // Not measured here.
            t.keys = 32;
            t.rule = "intel: 64 invocations, 32-key tiles (not yet measured: run vkattn tune)";
            break;
        case kVendorArm:
        case kVendorQualcomm:
        case kVendorImagination:
        case kVendorApple:
            // Mobile and Apple GPUs: 16-32 KiB of shared memory and small register files; 16-key tiles
            // keep q, K, V and scores of a 64-invocation workgroup in 16 KiB at D = 64. Not measured here.
            t.keys = 16;
            t.rule = "mobile/apple: 64 invocations, 16-key tiles (not yet measured: run vkattn tune)";
            break;
        default:
            t.keys = 32;
            t.rule = "gpu: 64 invocations, 32-key tiles (not yet measured: run vkattn tune)";
            break;
    }
    workgroup = std::min<int>(workgroup, static_cast<int>(std::max<uint32_t>(1, in.max_workgroup)));
    t.threads_per_row = std::min(t.threads_per_row, workgroup);
    t.rows = std::max(1, workgroup / t.threads_per_row);
    return t;
}

}  // namespace vkattn::detail
