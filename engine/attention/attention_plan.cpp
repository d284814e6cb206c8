// Tiling choices per device: pure functions of the probed properties and the head-dim class.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "attention/attention_problem.hpp"
#include "tuning/device_tuning.hpp"
#include "tuning/tuning_table.hpp"
#include "vkattn/error.hpp"
#include "vkattn/tuning.hpp"

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

// GPUs: rows x threads-per-row workgroups looping over key tiles (attention_fused.comp), starting from
// `start` (device_tuning.cpp) and shrunk until the tiles fit the device's shared memory.
FusedConfig fit_tiled_config(const DeviceInfo& dev, int dcap, const DefaultTiles& start) {
    FusedConfig c;
    c.kernel = FusedKernel::tiled;
    c.dcap = dcap;
    const int max_wg = static_cast<int>(std::min<uint32_t>(dev.max_workgroup_invocations, dev.max_workgroup_size[0]));
    c.threads_per_row = std::max(1, std::min(start.threads_per_row, max_wg));
    c.rows = std::max(1, std::min(start.rows, max_wg / c.threads_per_row));
    c.keys = start.keys;
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
    c.subgroup_reduce = can_subgroup_reduce(dev, c.threads_per_row, c.workgroup);
    return c;
}


uint32_t rowwise_shared_bytes(int keys, int dcap) {
    // one f32 block of keys x dcap, holding K and then V (see attention_fused_rowwise.comp)
    return 4u * static_cast<uint32_t>(keys * dcap);
}

// CPU devices: one invocation per query row, one key block per dispatch, hot loops fully unrolled
// (see the cost notes at the top of attention_fused_rowwise.comp and the cpu branch of
// device_tuning.cpp). False when 8 keys do not fit.
bool fit_rowwise_config(const DeviceInfo& dev, int dcap, const DefaultTiles& start, FusedConfig& c) {
    c.kernel = FusedKernel::rowwise;
    c.dcap = dcap;
    c.threads_per_row = 1;
    c.keys = start.keys;
    while (c.keys > 8 && rowwise_shared_bytes(c.keys, dcap) > dev.shared_memory_bytes) c.keys /= 2;
    if (rowwise_shared_bytes(c.keys, dcap) > dev.shared_memory_bytes) return false;
    const int max_wg = static_cast<int>(std::min<uint32_t>(dev.max_workgroup_invocations, dev.max_workgroup_size[0]));
    c.rows = start.rows;
    while (c.rows > 1 && c.rows > max_wg) c.rows /= 2;
    c.workgroup = c.rows;
    c.shared_bytes = rowwise_shared_bytes(c.keys, dcap);
    return true;
}

// A tuned entry is used only while it still fits the device (limits can be clamped by a profile).
bool fits_device(const DeviceInfo& dev, const FusedConfig& c) {
    const uint32_t max_wg = std::min<uint32_t>(dev.max_workgroup_invocations, dev.max_workgroup_size[0]);
    const uint32_t shared = c.kernel == FusedKernel::rowwise ? rowwise_shared_bytes(c.keys, c.dcap)
                                                             : fused_shared_bytes(c.rows, c.keys, c.dcap, c.threads_per_row);
    return static_cast<uint32_t>(c.workgroup) <= max_wg && shared <= dev.shared_memory_bytes && c.keys >= 1 && c.rows >= 1 &&
           (c.kernel == FusedKernel::tiled || c.keys % 8 == 0);
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

FusedConfig choose_fused_config(const DeviceInfo& dev, int dcap, DType dtype, const TuningTable* tuned) {
    // VKATTN_FUSED_KERNEL=tiled|rowwise overrides the per-device choice, so that each kernel can be
    // tested (and timed) on any device; the tests run the GPU kernel on lavapipe this way.
    const char* force = std::getenv("VKATTN_FUSED_KERNEL");
    const std::string forced = force ? force : "";
    if (!forced.empty() && forced != "auto" && forced != "tiled" && forced != "rowwise")
        throw Error(ErrorCode::invalid_argument, "VKATTN_FUSED_KERNEL: '" + forced + "' is not auto, tiled or rowwise");
    const DefaultTiles start = default_tiles(tuning_inputs(dev, dcap, dtype));
    const bool want_rowwise = forced == "rowwise" || (forced != "tiled" && start.rowwise);
    // `vkattn tune`'s winner for this device and driver, unless a kernel kind is forced.
    if (tuned && (forced.empty() || forced == "auto")) {
        if (auto c = tuned->find(dtype, dcap, want_rowwise ? FusedKernel::rowwise : FusedKernel::tiled)) {
            c->dcap = dcap;
            c->workgroup = c->rows * c->threads_per_row;
            c->shared_bytes = c->kernel == FusedKernel::rowwise ? rowwise_shared_bytes(c->keys, dcap)
                                                                : fused_shared_bytes(c->rows, c->keys, dcap, c->threads_per_row);
            c->tuned = true;
            c->subgroup_reduce = c->kernel == FusedKernel::tiled && can_subgroup_reduce(dev, c->threads_per_row, c->workgroup);
            if (fits_device(dev, *c)) return *c;
        }
    }
    FusedConfig c;
    if (want_rowwise) {
        DefaultTiles rw = start;
        if (!rw.rowwise) rw = default_tiles({0, DeviceType::cpu, dev.subgroup_size, dev.shared_memory_bytes, 0, dcap, dtype});
        if (fit_rowwise_config(dev, dcap, rw, c)) return c;
    }
    return choose_tiled_config(dev, dcap);
}

FusedConfig choose_tiled_config(const DeviceInfo& dev, int dcap) {
    DefaultTiles t = default_tiles(tuning_inputs(dev, dcap, DType::f32));
    // On a CPU device, what the GPU kernel would run: the generic GPU branch.
    if (t.rowwise) t = default_tiles({dev.vendor_id, DeviceType::other, dev.subgroup_size, dev.shared_memory_bytes,
                                      std::min(dev.max_workgroup_invocations, dev.max_workgroup_size[0]), dcap, DType::f32});
    return fit_tiled_config(dev, dcap, t);
}

std::vector<FusedConfig> fused_candidates(const DeviceInfo& dev, int dcap, FusedKernel kernel) {
    std::vector<FusedConfig> out;
    const int max_wg = static_cast<int>(std::min<uint32_t>(dev.max_workgroup_invocations, dev.max_workgroup_size[0]));
    if (kernel == FusedKernel::rowwise) {
        // keys x dcap <= 16384 bounds one pipeline's unrolled code (compile time on lavapipe ~3 s).
        for (int rows : {64, 128, 256})
            for (int keys : {32, 64, 128}) {
                FusedConfig c;
                c.kernel = kernel, c.dcap = dcap, c.rows = rows, c.workgroup = rows, c.keys = keys, c.threads_per_row = 1;
                c.shared_bytes = rowwise_shared_bytes(keys, dcap);
                if (rows <= max_wg && keys * dcap <= 16384 && fits_device(dev, c)) out.push_back(c);
            }
        return out;
    }
    for (int tpr : {dcap / 16, dcap / 8})
        for (int workgroup : {64, 128, 256})
            for (int keys : {16, 32, 64}) {
                FusedConfig c;
                c.kernel = kernel, c.dcap = dcap, c.threads_per_row = std::max(1, tpr), c.keys = keys;
                c.rows = workgroup / c.threads_per_row;
                if (c.rows < 1) continue;
                c.workgroup = c.rows * c.threads_per_row;
                c.shared_bytes = fused_shared_bytes(c.rows, c.keys, dcap, c.threads_per_row);
                c.subgroup_reduce = can_subgroup_reduce(dev, c.threads_per_row, c.workgroup);
                if (c.workgroup <= max_wg && c.workgroup % std::max<uint32_t>(1, dev.subgroup_size) == 0 && fits_device(dev, c))
                    out.push_back(c);
            }
    return out;
}

bool can_subgroup_reduce(const DeviceInfo& dev, int tpr, int workgroup) {
    // The driver may pick any subgroup size in [min, max] unless one is required: plan for the smallest.
    const uint32_t smallest = dev.subgroup_size_control && dev.min_subgroup_size > 0 ? dev.min_subgroup_size : dev.subgroup_size;
    const bool pow2 = tpr > 0 && (tpr & (tpr - 1)) == 0;
    return dev.subgroup_shuffle && pow2 && static_cast<uint32_t>(tpr) <= smallest && smallest > 0 &&
           static_cast<uint32_t>(workgroup) % smallest == 0;
}

std::string default_tiles_rule(const DeviceInfo& dev, int dcap) { return default_tiles(tuning_inputs(dev, dcap, DType::f32)).rule; }

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
    while (c.rowwise_rows > 8 && static_cast<uint32_t>(c.rowwise_rows) > std::min(dev.max_workgroup_invocations, dev.max_workgroup_size[0]))
        c.rowwise_rows /= 2;
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
               std::to_string(c.rows) + ",bc" + std::to_string(c.keys) + (c.tuned ? ",tuned]" : "]");
    return "fused." + std::string(dtype_name(dtype)) + ".d" + std::to_string(c.dcap) + "[br" + std::to_string(c.rows) + ",bc" +
           std::to_string(c.keys) + ",tpr" + std::to_string(c.threads_per_row) + (c.subgroup_reduce ? ",sg" : "") +
           (c.tuned ? ",tuned]" : "]");
}

std::string explicit_variant_name(const ExplicitConfig& c, const FusedConfig& fused, DType dtype) {
    return "explicit." + std::string(dtype_name(dtype)) + "[" + fused_variant_name(fused, dtype) + "," +
           (fused.kernel == FusedKernel::rowwise ? std::string("weights_rowwise") : "weights_tile" + std::to_string(c.tile)) + "]";
}

}  // namespace vkattn::detail

namespace vkattn {

std::vector<std::string> kernel_variants(const DeviceInfo& device) {
    std::vector<std::string> lines;
    const detail::TuningTable table = detail::load_tuning_table(device, "");
    for (int dcap : {64, 128, 256, 512}) {
        try {
            const auto c = detail::choose_fused_config(device, dcap, DType::f32, &table);
            const auto h = detail::choose_fused_config(device, dcap, DType::f16, &table);
            lines.push_back("head dim <= " + std::to_string(dcap) + ": " + detail::fused_variant_name(c, DType::f32) + " / " +
                            detail::fused_variant_name(h, DType::f16) + ", " + std::to_string(c.shared_bytes) + " B shared");
        } catch (const Error& e) {
            lines.push_back("head dim <= " + std::to_string(dcap) + ": fused unsupported (" + e.message() + ")");
        }
    }
    lines.push_back("default tiles: " + detail::default_tiles_rule(device, 64));
    const std::vector<std::string> tuned = tuned_variants(device);
    if (tuned.empty()) lines.push_back("tuned: none (run `vkattn tune` to time the candidates on this device)");
    for (const std::string& t : tuned) lines.push_back("tuned: " + t + " (preferred over the defaults)");
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
    lines.push_back("split-KV (tiled kernel, few row tiles x heads over many keys): up to 128 splits of >= 128 keys, chosen for " +
                    std::to_string(device.compute_units) + " compute units (" + device.compute_units_source +
                    "), + decode_combine; AttentionOptions::kv_splits overrides");
    {
        // The explicit path: the fused pass above with its log-sum-exp, then the weights pass.
        std::string w = "weights (explicit path): the fused kernel with its log-sum-exp, then P = exp(s - lse) by ";
        try {
            const auto c = detail::choose_fused_config(device, 64, DType::f32, &table);
            w += c.kernel == detail::FusedKernel::rowwise
                     ? std::string("attention_weights_rowwise (the fused rows and key blocks)")
                     : "attention_weights[tile" + std::to_string(detail::choose_explicit_config(device).tile) + "]";
            w += ", e.g. " + detail::explicit_variant_name(detail::choose_explicit_config(device), c, DType::f32);
        } catch (const Error& e) {
            w += "nothing: the fused kernel is unsupported (" + e.message() + ")";
        }
        lines.push_back(w);
    }
    lines.push_back("f16 output: convert_f32_to_f16[wg" + std::to_string(detail::convert_workgroup(device)) + "]");
    return lines;
}

}  // namespace vkattn
