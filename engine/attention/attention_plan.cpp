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

uint32_t rowwise_shared_bytes(int keys, int dcap, DType kv_dtype) {
    // Exactly kv_sh of shaders/common/rowwise_block.glsl: one f32 block of keys x dcap, holding K and then V;
    // for q8_0 / q4_0 K/V the raw blocks instead, 9 / 5 words (scale, qs) per 32 values of a key.
    const int words_per_block = kv_dtype == DType::q8_0 ? 9 : kv_dtype == DType::q4_0 ? 5 : 0;
    if (words_per_block) return 4u * static_cast<uint32_t>(keys * (dcap / 32) * words_per_block);
    return 4u * static_cast<uint32_t>(keys * dcap);
}

namespace {
int storage_bytes_of(DType dtype) { return dtype == DType::f16 ? 2 : 4; }

// Exactly the shared memory attention_fused.comp declares (its header has the formula): the K and V
// tiles in their storage precision, and the padded partial scores of the shared-memory reduction.
uint32_t fused_shared_bytes(int rows, int keys, int dcap, int tpr, int storage_bytes, bool subgroup_reduce) {
    const uint32_t tiles = 2u * static_cast<uint32_t>(keys * dcap * storage_bytes);
    return tiles + (subgroup_reduce ? 0u : 4u * static_cast<uint32_t>(rows * tpr * (keys + 1)));
}
uint32_t fused_shared_bytes(const FusedConfig& c) {
    return fused_shared_bytes(c.rows, c.keys, c.dcap, c.threads_per_row, c.storage_bytes, c.subgroup_reduce);
}

// The kernel's lane layout: TPR a power of two dividing the quads of a padded row (DCAP / 4).
bool valid_lanes(int tpr, int dcap) { return tpr >= 1 && (tpr & (tpr - 1)) == 0 && (dcap / 4) % tpr == 0; }

// The next tile's K and V are prefetched into registers: at most 8 quads of each per invocation
// (BC * DCAP / 4 <= 8 * WG), so the prefetch holds at most 64 (f32) or 32 (f16) words; and the
// invocation holds at most 128 registers in all (the shader header's count: q and accumulator quads,
// scores, prefetch, m and l). 128 is a reading, not measured: it keeps 4 workgroups of 128 invocations
// on a 64K-register NVIDIA SM or AMD SIMD set, and no compiler should need to spill.
bool prefetch_fits(int keys, int dcap, int workgroup, int tpr, int storage_bytes) {
    const int loads = (keys * dcap / 4 + workgroup - 1) / workgroup;
    const int registers = 2 * dcap / tpr + keys + 2 * storage_bytes * loads + 2;
    return keys * dcap <= 32 * workgroup && registers <= 128;
}

// GPUs: rows x threads-per-row workgroups looping over key tiles (attention_fused.comp), starting from
// `start` (device_tuning.cpp). Keys shrink until the prefetch and registers fit; then keys (down to 8) and rows
// shrink until the tiles fit start.shared_target (the share of a compute unit's shared memory that lets
// two or more workgroups run on it), below which only the device's limit must hold.
FusedConfig fit_tiled_config(const DeviceInfo& dev, int dcap, const DefaultTiles& start, DType dtype) {
    FusedConfig c;
    c.kernel = FusedKernel::tiled;
    c.dcap = dcap;
    c.storage_bytes = storage_bytes_of(dtype);
    const int max_wg = static_cast<int>(std::min<uint32_t>(dev.max_workgroup_invocations, dev.max_workgroup_size[0]));
    c.threads_per_row = std::max(1, std::min({start.threads_per_row, max_wg, dcap / 4}));
    while (!valid_lanes(c.threads_per_row, dcap)) --c.threads_per_row;
    c.rows = std::max(1, std::min(start.rows, max_wg / c.threads_per_row));
    c.keys = std::max(1, start.keys);
    const uint32_t target = start.shared_target ? std::min(start.shared_target, dev.shared_memory_bytes) : dev.shared_memory_bytes;
    for (;;) {
        c.workgroup = c.rows * c.threads_per_row;
        c.subgroup_reduce = can_subgroup_reduce(dev, c.threads_per_row, c.workgroup);
        if (c.keys > 1 && !prefetch_fits(c.keys, dcap, c.workgroup, c.threads_per_row, c.storage_bytes)) {
            c.keys /= 2;
            continue;
        }
        const uint32_t bytes = fused_shared_bytes(c);
        if (bytes <= target) break;
        if (c.keys > 8) c.keys /= 2;
        else if (c.rows > 1) c.rows /= 2;
        else if (bytes <= dev.shared_memory_bytes) break;
        else if (c.keys > 1) c.keys /= 2;
        else
            throw Error(ErrorCode::unsupported, "q: head dim class " + std::to_string(dcap) + " needs " + std::to_string(bytes) +
                                                    " bytes of shared memory; device '" + dev.name + "' has " +
                                                    std::to_string(dev.shared_memory_bytes));
    }
    c.shared_bytes = fused_shared_bytes(c);
    return c;
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
    const bool tiled = c.kernel == FusedKernel::tiled;
    const uint32_t shared = tiled ? fused_shared_bytes(c) : rowwise_shared_bytes(c.keys, c.dcap);
    return static_cast<uint32_t>(c.workgroup) <= max_wg && shared <= dev.shared_memory_bytes && c.keys >= 1 && c.rows >= 1 &&
           (tiled ? valid_lanes(c.threads_per_row, c.dcap) && prefetch_fits(c.keys, c.dcap, c.workgroup, c.threads_per_row, c.storage_bytes)
                 : c.keys % 8 == 0);
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
            c->storage_bytes = storage_bytes_of(dtype);
            c->tuned = true;
            c->subgroup_reduce = c->kernel == FusedKernel::tiled && can_subgroup_reduce(dev, c->threads_per_row, c->workgroup);
            c->shared_bytes = c->kernel == FusedKernel::rowwise ? rowwise_shared_bytes(c->keys, dcap) : fused_shared_bytes(*c);
            if (fits_device(dev, *c)) return *c;
        }
    }
    FusedConfig c;
    if (want_rowwise) {
        DefaultTiles rw = start;
        if (!rw.rowwise) rw = default_tiles({0, DeviceType::cpu, dev.subgroup_size, dev.shared_memory_bytes, 0, dcap, dtype});
        if (fit_rowwise_config(dev, dcap, rw, c)) return c;
    }
    return choose_tiled_config(dev, dcap, dtype);
}

FusedConfig choose_rowwise_config(const DeviceInfo& dev, int dcap, DType dtype) {
    FusedConfig c;
    const DefaultTiles rw = default_tiles({0, DeviceType::cpu, dev.subgroup_size, dev.shared_memory_bytes, 0, dcap, dtype});
    if (fit_rowwise_config(dev, dcap, rw, c)) return c;
    throw Error(ErrorCode::unsupported, "k: the rowwise kernel (which reads quantised K/V) needs " + std::to_string(rowwise_shared_bytes(8, dcap)) +
                                            " bytes of shared memory at head dim class " + std::to_string(dcap) + "; device '" + dev.name +
                                            "' has " + std::to_string(dev.shared_memory_bytes));
}

FusedConfig choose_tiled_config(const DeviceInfo& dev, int dcap, DType dtype) {
    DefaultTiles t = default_tiles(tuning_inputs(dev, dcap, dtype));
    // On a CPU device, what the GPU kernel would run: the generic GPU branch.
    if (t.rowwise) {
        t = default_tiles({dev.vendor_id, DeviceType::other, dev.subgroup_size, dev.shared_memory_bytes,
                           std::min(dev.max_workgroup_invocations, dev.max_workgroup_size[0]), dcap, dtype});
        // At most 8 keys: lavapipe compiles the kernel's unrolled per-lane shared loads lane by lane,
        // so a pipeline's compile grows with BC (cold, measured here: ~5 s of CPU at 16 keys (f32, D 64),
        // ~11 s at 32 (f16, D 64), against ~0.5 s for the previous, loop-based kernel), and every CI step
        // that forces it compiles its own (GPU-assisted validation's instrumented 16-key pipeline ran for
        // over 14 minutes on the loaded 2-core machine). CPU devices run this kernel only when it is
        // forced, as the tests do; what they check (masks, tails, the lanes' reduction, the prefetch, the
        // loop over tiles) does not depend on the tile's key count, and 8 keys still make several tiles.
        t.keys = std::min(t.keys, 8);
    }
    return fit_tiled_config(dev, dcap, t, dtype);
}

std::vector<FusedConfig> fused_candidates(const DeviceInfo& dev, int dcap, FusedKernel kernel, DType dtype) {
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
                c.storage_bytes = storage_bytes_of(dtype);
                c.rows = workgroup / c.threads_per_row;
                if (c.rows < 1) continue;
                c.workgroup = c.rows * c.threads_per_row;
                c.subgroup_reduce = can_subgroup_reduce(dev, c.threads_per_row, c.workgroup);
                c.shared_bytes = fused_shared_bytes(c);
                if (c.workgroup <= max_wg && c.workgroup % std::max<uint32_t>(1, dev.subgroup_size) == 0 && fits_device(dev, c))
                    out.push_back(c);
            }
    return out;
}

bool can_subgroup_reduce(const DeviceInfo& dev, int tpr, int workgroup) {
    // The sg variant needs a row's TPR lanes (consecutive invocations, TPR-aligned) in one subgroup. The
    // driver may pick any subgroup size in [min, max] unless one is required: plan for the smallest; and
    // only full subgroups guarantee that a subgroup is a run of consecutive invocations, so the pipeline
    // requires them (computeFullSubgroups), which needs the workgroup to be a multiple of the largest
    // size. Where the device cannot require full subgroups, the shared-memory reduction runs instead.
    const bool sized = dev.subgroup_size_control && dev.min_subgroup_size > 0;
    const uint32_t smallest = sized ? dev.min_subgroup_size : dev.subgroup_size;
    const uint32_t largest = sized ? dev.max_subgroup_size : dev.subgroup_size;
    const bool pow2 = tpr > 0 && (tpr & (tpr - 1)) == 0;
    return dev.subgroup_shuffle && dev.compute_full_subgroups && pow2 && static_cast<uint32_t>(tpr) <= smallest && smallest > 0 &&
           static_cast<uint32_t>(workgroup) % largest == 0;
}

std::string default_tiles_rule(const DeviceInfo& dev, int dcap) { return default_tiles(tuning_inputs(dev, dcap, DType::f32)).rule; }

bool has_loop_iteration_limit(const DeviceInfo& dev) {
    // Mesa's llvmpipe (lavapipe) ends every shader loop after 65535 iterations per invocation, counted
    // over all loops together (LP_MAX_TGSI_LOOP_ITERATIONS), silently.
    return dev.driver_name == "llvmpipe" || dev.name.find("llvmpipe") != std::string::npos;
}

int64_t tiled_loop_iterations(const FusedConfig& c, int64_t /*D*/, int64_t /*Dv*/, int64_t key_end) {
    // attention_fused.comp unrolls every loop to its compile-time bound (DCAP, BC, TPR) except the one
    // over key tiles, whatever D and Dv are: one iteration per tile, and one to leave the loop.
    return (key_end + c.keys - 1) / c.keys + 1;
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
