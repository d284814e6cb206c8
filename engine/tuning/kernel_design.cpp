// The design table (include/vkattn/kernel_design.hpp): per kernel variant, what one K/V tile or key
// block costs a workgroup, counted from the kernel's source. Each formula below names the shader it
// follows; a change to a kernel's structure changes its formula here (tests/kernel_design_test.cpp
// checks the counts against the tiles the planner picks).
#include "vkattn/kernel_design.hpp"

#include <algorithm>
#include <cstdio>

#include "attention/attention_decode.hpp"
#include "attention/attention_problem.hpp"
#include "tuning/tuning_table.hpp"
#include "vkattn/error.hpp"

namespace vkattn {
namespace {

using detail::FusedConfig;

// Workgroups one compute unit can hold by the limits the device reports. Vulkan reports shared
// memory and invocations per workgroup, not per compute unit, so the reported per-workgroup shared
// memory stands in for the unit's: a lower bound where a unit has more (NVIDIA's SMs hold 100-228 KiB
// against the 48 KiB their driver reports; reading, not probed).
void occupancy(const DeviceInfo& dev, KernelDesign& k) {
    const unsigned shared = std::max<unsigned>(1, k.shared_bytes);
    const int by_shared = static_cast<int>(dev.shared_memory_bytes / shared);
    k.workgroups_per_cu = std::max(0, by_shared);
    k.occupancy = "shared " + std::to_string(k.shared_bytes) + " of " + std::to_string(dev.shared_memory_bytes) + " B";
}

double elem_bytes(DType dt) { return dt == DType::f16 ? 2.0 : 4.0; }

// attention_fused_rowwise.comp: a workgroup of R rows (one per invocation) and one block of BC keys
// per dispatch. The K block, then the V block, is copied into one shared block of BC x DCAP f32;
// every invocation reads the whole block (a broadcast on CPU devices) for BC x DCAP score FMAs and
// BC x DCAP P.V FMAs, loads its q row, resumes its accumulator and (m, l) from memory and stores them
// again: the running state crosses dispatches in memory. Three barriers.
KernelDesign rowwise_design(const FusedConfig& c, DType dt, int D) {
    KernelDesign k;
    const double R = c.rows, BC = c.keys, DC = c.dcap, e = elem_bytes(dt);
    k.unit = "key block of " + std::to_string(c.keys) + " keys (one dispatch)";
    k.workgroup = c.rows;
    k.fmas = R * BC * 2 * DC;
    k.shared_written = 2 * BC * DC * 4;
    k.shared_read = R * 2 * BC * DC * 4;
    k.global_read = BC * 2 * D * e + R * D * e + R * (D * 4.0 + 8);
    k.global_written = R * (D * 4.0 + 8);
    k.barriers = 3;
    k.registers = static_cast<int>(2 * DC + BC + 8);  // q[DCAP], acc[DCAP], sc[BC], state and indices
    k.shared_bytes = c.shared_bytes;
    return k;
}

// attention_decode_split.comp: one workgroup per (key block, KV head), its rows the GQA group's query
// heads x query rows; the same block scoring as the rowwise kernel, q loaded once per block, the
// block's partial (m, l, P.V) written to scratch for the combine pass. Three barriers.
KernelDesign decode_design(const detail::DecodeConfig& c, DType dt, int D) {
    KernelDesign k;
    const double R = c.rows, BC = c.keys, DC = c.dcap, e = elem_bytes(dt);
    k.unit = "key block of " + std::to_string(c.keys) + " keys (one workgroup)";
    k.workgroup = c.rows;
    k.fmas = R * BC * 2 * DC;
    k.shared_written = 2 * BC * DC * 4;
    k.shared_read = R * 2 * BC * DC * 4;
    k.global_read = BC * 2 * D * e + R * D * e;
    k.global_written = R * (4 + D) * 4.0;
    k.barriers = 3;
    k.registers = static_cast<int>(2 * DC + BC + 8);
    k.shared_bytes = static_cast<unsigned>(BC * DC * 4);
    return k;
}

// attention_fused.comp (GPUs; its header has these formulas and the reasons): BR rows x TPR lanes, each
// lane holding DCAP / TPR of its row's q and output in registers, loops unrolled to DCAP. Per tile: the
// K and V tiles stored once in storage precision (sb bytes an element); each lane reads its quads of
// every key of both (2 x BC x DCAP / TPR elements) for 2 x BC x DCAP / TPR FMAs; the row's partial
// scores summed by subgroup shuffles (sg) or through shared memory (BR x TPR x BC partials written,
// each lane reading its row's TPR x BC); two barriers; the next tile's K and V prefetched into
// registers (LOADS quads of each per invocation).
KernelDesign tiled_design(const FusedConfig& c, DType dt, int D) {
    KernelDesign k;
    const double BR = c.rows, BC = c.keys, TPR = c.threads_per_row, DC = c.dcap, e = elem_bytes(dt);
    const double red = c.subgroup_reduce ? 0 : 1;
    const int loads = (c.keys * c.dcap / 4 + c.workgroup - 1) / c.workgroup;
    k.unit = "K/V tile of " + std::to_string(c.keys) + " keys";
    k.workgroup = c.workgroup;
    k.fmas = 2 * BR * BC * DC;
    k.shared_written = 2 * BC * DC * e + red * 4 * BR * TPR * BC;
    k.shared_read = 2 * BR * BC * DC * e + red * 4 * BR * TPR * TPR * BC;
    k.global_read = 2 * BC * D * e;
    k.global_written = 0;
    k.barriers = 2;
    // q and accumulator quads, the scores, the prefetched K and V in storage words, (m, l)
    k.registers = static_cast<int>(2 * DC / TPR + BC + 2 * e * loads + 2);
    k.shared_bytes = c.shared_bytes;
    return k;
}

// attention_weights_rowwise.comp (CPU devices): 64 rows x 64 keys per dispatch, one row per
// invocation: the K block copied once, every row's scores against it (broadcast reads), P written.
KernelDesign weights_rowwise_design(const detail::ExplicitConfig& x, const FusedConfig& c, DType dt, int D) {
    KernelDesign k;
    const double R = x.rowwise_rows, BC = std::min(x.rowwise_keys, c.keys), DC = c.dcap, e = elem_bytes(dt);
    k.unit = "block of " + std::to_string(x.rowwise_rows) + " rows x " + std::to_string(static_cast<int>(BC)) + " keys";
    k.workgroup = x.rowwise_rows;
    k.fmas = R * BC * DC;
    k.shared_written = BC * DC * 4;
    k.shared_read = R * BC * DC * 4;
    k.global_read = BC * D * e + R * D * e + R * 8;
    k.global_written = R * BC * 4;
    k.barriers = 1;
    k.registers = static_cast<int>(DC + BC + 8);
    k.shared_bytes = static_cast<unsigned>(BC * DC * 4);
    return k;
}

// attention_weights.comp (GPUs): T x T (row, key) pairs per workgroup, one per invocation; Q and K
// staged T dims at a time (D / T steps of two barriers), each FMA reading both operands from shared.
KernelDesign weights_tile_design(const detail::ExplicitConfig& x, DType dt, int D) {
    KernelDesign k;
    const double T = x.tile, e = elem_bytes(dt), steps = (D + T - 1) / T;
    k.unit = "tile of " + std::to_string(x.tile) + " rows x " + std::to_string(x.tile) + " keys";
    k.workgroup = x.tile * x.tile;
    k.fmas = T * T * D;
    k.shared_written = steps * 2 * T * T * 4;
    k.shared_read = T * T * steps * T * 2 * 4;
    k.global_read = steps * 2 * T * T * e + T * 8;
    k.global_written = T * T * 4;
    k.barriers = static_cast<int>(2 * steps);
    k.registers = 8;
    k.shared_bytes = static_cast<unsigned>(2 * T * T * 4);
    return k;
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string compact(double v) {
    if (v >= 1e6) return fixed(v / 1e6, 2) + "M";
    if (v >= 1e4) return fixed(v / 1e3, 1) + "k";
    return fixed(v, 0);
}

}  // namespace

std::vector<KernelDesign> kernel_designs(const DeviceInfo& dev, int head_dim) {
    std::vector<KernelDesign> rows;
    const int dcap = detail::head_dim_class(head_dim);
    const detail::TuningTable table = detail::load_tuning_table(dev, "");
    for (DType dt : {DType::f32, DType::f16}) {
        FusedConfig c;
        try {
            c = detail::choose_fused_config(dev, dcap, dt, &table);
        } catch (const Error&) {
            continue;  // the class does not fit this device: kernel_variants() says why
        }
        KernelDesign f = c.kernel == detail::FusedKernel::rowwise ? rowwise_design(c, dt, head_dim) : tiled_design(c, dt, head_dim);
        f.variant = detail::fused_variant_name(c, dt);
        rows.push_back(f);
        const detail::ExplicitConfig x = detail::choose_explicit_config(dev);
        if (c.kernel == detail::FusedKernel::rowwise) {
            // Decoding with GQA 4 (one query row, 4 query heads per KV head): 8 rows per workgroup.
            detail::DecodeConfig dc;
            dc.keys = c.keys, dc.dcap = dcap, dc.group = 4, dc.rows = 8, dc.blocks = 1;
            KernelDesign d = decode_design(dc, dt, head_dim);
            d.variant = detail::decode_variant_name(dc, dt) + " (Lq 1, GQA 4)";
            rows.push_back(d);
            KernelDesign w = weights_rowwise_design(x, c, dt, head_dim);
            w.variant = "weights_rowwise." + std::string(dtype_name(dt)) + ".d" + std::to_string(dcap) + " (explicit pass 2)";
            rows.push_back(w);
            // What the GPU kernel would run here (VKATTN_FUSED_KERNEL=tiled).
            try {
                const FusedConfig t = detail::choose_tiled_config(dev, dcap, dt);
                KernelDesign g = tiled_design(t, dt, head_dim);
                g.variant = detail::fused_variant_name(t, dt) + " (VKATTN_FUSED_KERNEL=tiled)";
                rows.push_back(g);
            } catch (const Error&) {
            }
        } else {
            KernelDesign w = weights_tile_design(x, dt, head_dim);
            w.variant = "weights_tile" + std::to_string(x.tile) + "." + std::string(dtype_name(dt)) + " (explicit pass 2)";
            rows.push_back(w);
        }
    }
    for (KernelDesign& k : rows) occupancy(dev, k);
    return rows;
}

std::vector<std::string> kernel_design_table(const DeviceInfo& dev, int head_dim) {
    std::vector<std::string> out;
    out.push_back("design per unit of work (one workgroup; counted from the kernels' source, not measured), head dim " +
                  std::to_string(head_dim) + ":");
    char line[512];
    std::snprintf(line, sizeof line, "%-52s %6s %9s %9s %9s %9s %9s %6s %5s %5s %7s %6s", "variant / unit", "wg", "FMAs", "sh.wr B",
                  "sh.rd B", "gl.rd B", "gl.wr B", "FMA/sB", "bar", "regs", "shared", "wg/CU");
    out.emplace_back(line);
    for (const KernelDesign& k : kernel_designs(dev, head_dim)) {
        out.push_back(k.variant);
        const double fma_per_shared = k.shared_read > 0 ? k.fmas / (k.shared_read / 4) : 0;
        std::snprintf(line, sizeof line, "  %-50s %6d %9s %9s %9s %9s %9s %6s %5d %5d %7u %6d", k.unit.c_str(), k.workgroup,
                      compact(k.fmas).c_str(), compact(k.shared_written).c_str(), compact(k.shared_read).c_str(),
                      compact(k.global_read).c_str(), compact(k.global_written).c_str(), fixed(fma_per_shared, 2).c_str(), k.barriers,
                      k.registers, k.shared_bytes, k.workgroups_per_cu);
        out.emplace_back(line);
    }
    out.push_back("FMA/sB: multiply-adds per 4-byte shared load; wg/CU: by the reported shared memory per workgroup, a lower bound "
                  "where a compute unit has more");
    return out;
}

const std::vector<std::string>& reference_device_names() {
    static const std::vector<std::string> names = {"nvidia", "amd", "intel", "mobile"};
    return names;
}

DeviceInfo reference_device(const std::string& name) {
    // Limits as the vendors' Vulkan drivers report them (public device databases; readings, not probes).
    DeviceInfo d;
    d.type = DeviceType::discrete_gpu;
    d.api_version = (1u << 22) | (3u << 12);
    d.subgroup_basic = d.subgroup_arithmetic = d.subgroup_shuffle = true;
    d.subgroup_size_control = true;
    d.compute_full_subgroups = true;  // required by Vulkan 1.3, which these drivers report
    d.fp16_arithmetic = d.storage_16bit = true;
    d.max_workgroup_invocations = 1024;
    d.max_workgroup_size = {1024, 1024, 64};
    d.max_workgroup_count = {2147483647u, 65535, 65535};
    d.max_storage_buffer_range = 0xffffffffu;
    d.max_buffer_size = uint64_t{1} << 40;
    d.min_storage_offset_alignment = 16;
    d.min_uniform_offset_alignment = 64;
    d.timestamps = true;
    d.compute_units_source = "reference";
    d.profile = "desktop";
    if (name == "nvidia") {
        d.name = "reference NVIDIA (H100, NVIDIA driver)";
        d.vendor_id = 0x10DE, d.vendor = "NVIDIA";
        d.subgroup_size = d.min_subgroup_size = d.max_subgroup_size = 32;
        d.shared_memory_bytes = 48 * 1024;
        d.compute_units = 132;
        d.cooperative_matrix_nv = true;
    } else if (name == "amd") {
        d.name = "reference AMD (RDNA3, RADV)";
        d.vendor_id = 0x1002, d.vendor = "AMD";
        d.subgroup_size = 64, d.min_subgroup_size = 32, d.max_subgroup_size = 64;
        d.shared_memory_bytes = 64 * 1024;
        d.compute_units = 96;
    } else if (name == "intel") {
        d.name = "reference Intel (Xe, ANV)";
        d.vendor_id = 0x8086, d.vendor = "Intel";
        d.type = DeviceType::integrated_gpu;
        d.subgroup_size = 32, d.min_subgroup_size = 8, d.max_subgroup_size = 32;
        d.shared_memory_bytes = 64 * 1024;
        d.compute_units = 32;
    } else if (name == "mobile") {
        d.name = "reference mobile (Arm Mali-G7xx class)";
        d.vendor_id = 0x13B5, d.vendor = "ARM";
        d.type = DeviceType::integrated_gpu;
        d.subgroup_size = d.min_subgroup_size = d.max_subgroup_size = 16;
        d.shared_memory_bytes = 32 * 1024;
        d.max_workgroup_invocations = 512;
        d.max_workgroup_size = {512, 512, 512};
        d.compute_units = 16;
        d.fp16_arithmetic = true;
    } else {
        std::string valid;
        for (const std::string& n : reference_device_names()) valid += (valid.empty() ? "" : ", ") + n;
        throw Error(ErrorCode::invalid_argument, "design-for: '" + name + "' is not a reference device (valid: " + valid + ")");
    }
    d.driver_name = "reference";
    return d;
}

}  // namespace vkattn
