// Tiling choices per device: pure functions of the probed properties and the head-dim class.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "attention_problem.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {

int head_dim_class(int64_t d) {
    for (int c : {64, 128, 256, 512})
        if (d <= c) return c;
    return 512;
}

namespace {
uint32_t fused_shared_bytes(int rows, int keys, int dcap, int tpr) {
    // q tile + k tile + v tile + scores + per-thread row maxima, all f32 (see attention_fused.comp)
    return 4u * static_cast<uint32_t>(rows * dcap + 2 * keys * dcap + rows * keys + rows * tpr);
}

}  // namespace

// GPUs: rows x threads-per-row workgroups looping over key tiles (attention_fused.comp).
FusedConfig choose_tiled_config(const DeviceInfo& dev, int dcap) {
    FusedConfig c;
    c.dcap = dcap;
    // Each thread keeps at most 16 output columns in registers: more spills on every device we know.
    c.threads_per_row = std::max(1, dcap / 16);
    const int max_wg = static_cast<int>(std::min<uint32_t>(dev.max_workgroup_invocations, dev.max_workgroup_size[0]));
    if (c.threads_per_row > max_wg) c.threads_per_row = max_wg;
    // About 64 invocations a workgroup: a multiple of every subgroup size up to 64.
    c.rows = std::max(1, std::min(64 / c.threads_per_row, max_wg / c.threads_per_row));
    c.keys = 32;
    while (fused_shared_bytes(c.rows, c.keys, dcap, c.threads_per_row) > dev.shared_memory_bytes) {
        if (c.keys > 4) c.keys /= 2;
        else if (c.rows > 1) c.rows /= 2;
        else if (c.keys > 1) c.keys /= 2;
        else
            throw Error(ErrorCode::unsupported,
                        "q: head dim class " + std::to_string(dcap) + " needs " +
                            std::to_string(fused_shared_bytes(1, 1, dcap, c.threads_per_row)) +
                            " bytes of shared memory; device '" + dev.name + "' has " + std::to_string(dev.shared_memory_bytes));
    }
    c.workgroup = c.rows * c.threads_per_row;
    c.shared_bytes = fused_shared_bytes(c.rows, c.keys, dcap, c.threads_per_row);
    return c;
}

namespace {

uint32_t rowwise_shared_bytes(int keys, int dcap) {
    // one f32 block of keys x dcap, holding K and then V (see attention_fused_rowwise.comp)
    return 4u * static_cast<uint32_t>(keys * dcap);
}

// CPU devices: one invocation per query row, one key block per dispatch, hot loops fully unrolled
// (see the cost notes at the top of attention_fused_rowwise.comp). False when 8 keys do not fit.
bool choose_rowwise_config(const DeviceInfo& dev, int dcap, FusedConfig& c) {
    c.kernel = FusedKernel::rowwise;
    c.dcap = dcap;
    c.threads_per_row = 1;
    // Keys per dispatch: the per-row work around a block (q, accumulators, output: per-lane memory
    // accesses) is amortised over its keys, so as many as the block buffer holds, up to 128; the
    // unrolled code is keys x dcap x 2 multiply-adds, 16384 at most (~1.5 s to compile on lavapipe).
    c.keys = std::min(128, 8192 / dcap);
    while (c.keys > 8 && rowwise_shared_bytes(c.keys, dcap) > dev.shared_memory_bytes) c.keys /= 2;
    if (rowwise_shared_bytes(c.keys, dcap) > dev.shared_memory_bytes) return false;
    // Rows per workgroup: the block copy into shared memory (per-lane accesses again) is shared by
    // all rows; 256 rows measured ~10% faster than 128 at Lq = 2048 (512: no faster, and slower
    // causal: every row of a tile computes up to its last row's keys).
    const int max_wg = static_cast<int>(std::min<uint32_t>(dev.max_workgroup_invocations, dev.max_workgroup_size[0]));
    c.rows = 256;
    while (c.rows > 1 && c.rows > max_wg) c.rows /= 2;
    c.workgroup = c.rows;
    c.shared_bytes = rowwise_shared_bytes(c.keys, dcap);
    return true;
}

}  // namespace

void fit_fused_rows(FusedConfig& c, int64_t Lq) {
    if (c.kernel != FusedKernel::rowwise) return;
    // Short problems (decoding: Lq = 1) would leave most of a 256-row tile idle. Only two smaller
    // tiles, because every row count is another pipeline (~1.5 s to compile on lavapipe).
    for (int rows : {32, 8})
        if (rows < c.rows && Lq <= rows) c.rows = rows;
    c.workgroup = c.rows;
}

FusedConfig choose_fused_config(const DeviceInfo& dev, int dcap) {
    // VKATTN_FUSED_KERNEL=tiled|rowwise overrides the per-device choice, so that each kernel can be
    // tested (and timed) on any device; the tests run the GPU kernel on lavapipe this way.
    const char* force = std::getenv("VKATTN_FUSED_KERNEL");
    const std::string forced = force ? force : "";
    if (!forced.empty() && forced != "auto" && forced != "tiled" && forced != "rowwise")
        throw Error(ErrorCode::invalid_argument, "VKATTN_FUSED_KERNEL: '" + forced + "' is not auto, tiled or rowwise");
    FusedConfig c;
    const bool want_rowwise = forced == "rowwise" || (forced != "tiled" && dev.type == DeviceType::cpu);
    if (want_rowwise && choose_rowwise_config(dev, dcap, c)) return c;
    return choose_tiled_config(dev, dcap);
}

bool has_loop_iteration_limit(const DeviceInfo& dev) {
    // Mesa's llvmpipe (lavapipe) ends every shader loop after 65535 iterations per invocation, counted
    // over all loops together (LP_MAX_TGSI_LOOP_ITERATIONS), silently.
    return dev.driver_name == "llvmpipe" || dev.name.find("llvmpipe") != std::string::npos;
}

int64_t tiled_loop_iterations(const FusedConfig& c, int64_t D, int64_t Dv, int64_t key_end) {
    // Every loop of attention_fused.comp counted as if none were unrolled (an upper bound).
    const int64_t wg = c.workgroup, bc = c.keys, tpr = c.threads_per_row, dvpt = (c.dcap + tpr - 1) / tpr;
    const int64_t per_tile = (bc * D + wg - 1) / wg + (bc * Dv + wg - 1) / wg + ((bc + tpr - 1) / tpr) * (D + 1) + tpr +
                             (bc + tpr - 1) / tpr + bc * (1 + dvpt);
    return (c.rows * D + wg - 1) / wg + dvpt + ((key_end + bc - 1) / bc) * per_tile;
}

ExplicitConfig choose_explicit_config(const DeviceInfo& dev) {
    ExplicitConfig c;
    const uint32_t max_wg = std::min(dev.max_workgroup_invocations, std::min(dev.max_workgroup_size[0], dev.max_workgroup_size[1]));
    c.tile = max_wg >= 256 ? 16 : 8;
    c.softmax_workgroup = 1;
    while (c.softmax_workgroup * 2 <= 64 && static_cast<uint32_t>(c.softmax_workgroup * 2) <= dev.max_workgroup_size[0] &&
           static_cast<uint32_t>(c.softmax_workgroup * 2) <= dev.max_workgroup_invocations)
        c.softmax_workgroup *= 2;
    return c;
}

int convert_workgroup(const DeviceInfo& dev) {
    int wg = 256;
    while (wg > 1 && (static_cast<uint32_t>(wg) > dev.max_workgroup_invocations || static_cast<uint32_t>(wg) > dev.max_workgroup_size[0]))
        wg /= 2;
    return wg;
}

Path choose_path(const AttentionOptions& o) {
    if (o.path != Path::automatic) return o.path;
    return o.return_weights ? Path::explicit_ : Path::fused;
}

std::string fused_variant_name(const FusedConfig& c, DType dtype) {
    if (c.kernel == FusedKernel::rowwise)
        return "fused_rowwise." + std::string(dtype_name(dtype)) + ".d" + std::to_string(c.dcap) + "[rows" +
               std::to_string(c.rows) + ",bc" + std::to_string(c.keys) + "]";
    return "fused." + std::string(dtype_name(dtype)) + ".d" + std::to_string(c.dcap) + "[br" + std::to_string(c.rows) + ",bc" +
           std::to_string(c.keys) + ",tpr" + std::to_string(c.threads_per_row) + "]";
}

std::string explicit_variant_name(const ExplicitConfig& c, DType dtype) {
    return "explicit." + std::string(dtype_name(dtype)) + "[tile" + std::to_string(c.tile) + ",softmax" +
           std::to_string(c.softmax_workgroup) + "]";
}

}  // namespace vkattn::detail

namespace vkattn {

std::vector<std::string> kernel_variants(const DeviceInfo& device) {
    std::vector<std::string> lines;
    for (int dcap : {64, 128, 256, 512}) {
        try {
            auto c = detail::choose_fused_config(device, dcap);
            lines.push_back("head dim <= " + std::to_string(dcap) + ": " + detail::fused_variant_name(c, DType::f32) + " / f16, " +
                            std::to_string(c.shared_bytes) + " B shared");
        } catch (const Error& e) {
            lines.push_back("head dim <= " + std::to_string(dcap) + ": fused unsupported (" + e.message() + ")");
        }
    }
    if (device.type == DeviceType::cpu) {
        // What VKATTN_FUSED_KERNEL=tiled (the GPU kernel, tested on CPU devices too) would run.
        std::string tiled = "tiled (VKATTN_FUSED_KERNEL=tiled):";
        for (int dcap : {64, 128, 256, 512}) {
            try {
                const auto c = detail::choose_tiled_config(device, dcap);
                tiled.append(" ").append(detail::fused_variant_name(c, DType::f32)).append(" ");
                tiled.append(std::to_string(c.shared_bytes)).append(" B;");  // append: avoids GCC 12 false -Wrestrict
            } catch (const Error&) {
                tiled.append(" d").append(std::to_string(dcap)).append(" unsupported;");
            }
        }
        lines.push_back(tiled);
    }
    if (device.type == DeviceType::cpu)
        lines.push_back("decode (Lq <= 8, Lq * group <= 64, one chunk): decode_split.f32.d<class>[group,rows,bc,blocks] / f16 "
                        "+ decode_combine (split-KV, one dispatch for all key blocks), else the rowwise kernel");
    lines.push_back("weights: " + detail::explicit_variant_name(detail::choose_explicit_config(device), DType::f32) + " / f16");
    lines.push_back("f16 output: convert_f32_to_f16[wg" + std::to_string(detail::convert_workgroup(device)) + "]");
    return lines;
}

}  // namespace vkattn
