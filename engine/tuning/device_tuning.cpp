// Default tiles per device class. Only the CPU branch rests on measurements taken by this project
// (lavapipe, Mesa 22.3, 2 cores); no GPU has run the tiled kernel yet, so each GPU branch says what it is
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
    // GPUs: the tiled kernel (attention_fused.comp), rows x threads-per-row invocations. Each lane holds
    // DCAP / TPR of its row's q and output elements in registers: TPR = DCAP / 16 keeps that at 16 + 16
    // floats (plus BC scores and the prefetch) at every head-dim class. Tiles are sized from the shared
    // memory the device reports (maxComputeSharedMemorySize, per workgroup), aiming at two or more
    // workgroups per compute unit so that one's barriers and loads overlap another's math. Vulkan does not
    // report a compute unit's total shared memory: each branch says what its figure rests on. The fit
    // (attention_plan.cpp) shrinks keys, then rows, until the prefetch and the target fit.
    t.threads_per_row = std::max(1, in.dcap / 16);
    int workgroup = 64;  // a multiple of every subgroup size up to 64
    const uint32_t reported = in.shared_memory_bytes;
    switch (in.vendor_id) {
        case kVendorNvidia:
            // 32-lane warps. NVIDIA's Vulkan driver reports 48 KiB per workgroup (a reading of its
            // published limits, not measured here); an SM has 64 KiB (Turing) to 228 KiB (Hopper), so
            // 32 KiB tiles let two workgroups share even a Turing SM and three or more on Ampere and later.
            // 128 invocations (4 warps), 64-key tiles to start: at D = 128 that is 32 keys of f32 or f16
            // after the prefetch bound (32 KiB f32, 16 KiB f16).
            workgroup = 128;
            t.keys = 64;
            t.shared_target = std::min<uint32_t>(reported, 32 * 1024);
            t.rule = "nvidia: 128 invocations, tiles within 32 KiB of the reported 48 KiB for 2+ workgroups per SM (a reading, not measured: run vkattn tune)";
            break;
        case kVendorAmd:
            // wave64 (GCN, CDNA) or wave32/64 (RDNA): two full waves per workgroup keep the SIMD busy across
            // barriers. 64 KiB reported, which is a GCN CU's whole LDS (RDNA: 128 KiB per WGP): half of it
            // per workgroup for two per CU. A reading of AMD's documentation, not measured here.
            workgroup = std::max<int>(128, 2 * static_cast<int>(in.subgroup_size));
            t.keys = 64;
            t.shared_target = reported / 2;
            t.rule = "amd: two waves per workgroup, tiles within half the reported 64 KiB LDS for 2 workgroups per CU (a reading, not measured: run vkattn tune)";
            break;
        case kVendorIntel:
            // SIMD8-32 EUs; 32-64 KiB SLM reported, per subslice (Xe-core) and shared by its workgroups:
            // half of it each. 64 invocations. A reading of Intel's documentation, not measured here.
            t.keys = 32;
            t.shared_target = reported / 2;
            t.rule = "intel: 64 invocations, tiles within half the reported SLM for 2 workgroups per subslice (a reading, not measured: run vkattn tune)";
            break;
        case kVendorArm:
        case kVendorQualcomm:
        case kVendorImagination:
        case kVendorApple:
            // Mobile and Apple GPUs: 16-32 KiB of shared memory per core and small register files: half the
            // reported amount per workgroup, 16-key tiles. A reading, not measured here.
            t.keys = 16;
            t.shared_target = reported / 2;
            t.rule = "mobile/apple: 64 invocations, 16-key tiles within half the reported shared memory (a reading, not measured: run vkattn tune)";
            break;
        default:
            // Unknown GPUs (and the tiled kernel forced on CPU devices): the reported limit is all we know.
            t.keys = 32;
            t.rule = "gpu: 64 invocations, 32-key tiles within the reported shared memory (not measured: run vkattn tune)";
            break;
    }
    workgroup = std::min<int>(workgroup, static_cast<int>(std::max<uint32_t>(1, in.max_workgroup)));
    t.threads_per_row = std::min(t.threads_per_row, workgroup);
    t.rows = std::max(1, workgroup / t.threads_per_row);
    return t;
}

}  // namespace vkattn::detail
