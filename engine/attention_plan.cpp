// Tiling choices per device: pure functions of the probed properties and the head-dim class.
#include <algorithm>

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

FusedConfig choose_fused_config(const DeviceInfo& dev, int dcap) {
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

Path choose_path(const AttentionOptions& o) {
    if (o.path != Path::automatic) return o.path;
    return o.return_weights ? Path::explicit_ : Path::fused;
}

std::string fused_variant_name(const FusedConfig& c, DType dtype) {
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
    lines.push_back("weights: " + detail::explicit_variant_name(detail::choose_explicit_config(device), DType::f32) + " / f16");
    return lines;
}

}  // namespace vkattn
