// Split-KV for the tiled fused kernel: how many splits, and the two dispatches (see the header).
//
// Why: a decode step (Lq = 1..8) has one row tile per (batch, head), so B * Hq workgroups, each
// streaming the whole cache: 32 heads on a 132-SM GPU leave three quarters of it idle, and one long
// cache keeps one SM busy for all of it. Splitting the keys into NB ranges gives B * Hq * NB
// workgroups; each writes its rows' (max, sum, unnormalised output) and the combine pass
// (attention_decode_combine.comp, shared with the CPU decode kernel) merges them by log-sum-exp.
#include "attention/attention_split_kv.hpp"

#include <algorithm>
#include <cmath>

#include "attention/attention_decode.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {
namespace {

// A split covers at least this many keys: below it the combine's extra pass costs more than the
// parallelism buys.
constexpr int64_t kMinKeysPerSplit = 128;
// At most this many splits (FlashAttention's cap; the combine reads every one per output element).
constexpr int64_t kMaxSplits = 128;

// One chunk covers the whole problem: the split and packed kernels index it globally.
bool binds_in_one_chunk(const DeviceInfo& dev, const AttentionProblem& p, const FusedConfig& fc, const std::vector<Operand>& ops) {
    try {
        const ChunkLimits lim = chunk_limits(dev, fc.rows, dev.max_workgroup_count[0]);
        if (static_cast<uint64_t>(p.B * p.Hq * p.Lq * p.Dv) * 4 > lim.max_range) return false;  // the whole f32 output
        const std::vector<Chunk> chunks = plan_chunks(ops, p.B, p.Hq, p.Lq, lim, 0);
        return chunks.size() == 1 && chunks[0].slices == p.B * p.Hq && chunks[0].row_count == p.Lq;
    } catch (const Error&) {
        return false;
    }
}

}  // namespace

std::array<int64_t, 2> tiled_grid(const AttentionProblem& p, const FusedConfig& fc, bool packed) {
    const int64_t group = p.Hq / p.Hkv;
    if (packed) return {(group * p.Lq + fc.rows - 1) / fc.rows, p.B * p.Hkv};
    return {(p.Lq + fc.rows - 1) / fc.rows, p.B * p.Hq};
}

bool choose_gqa_packing(const DeviceInfo& dev, const AttentionProblem& p, const FusedConfig& fc, const std::vector<Operand>& ops) {
    const int64_t group = p.Hq / p.Hkv;
    // Only short query blocks (decoding): prefill-sized blocks already fill their row tiles, and keep
    // the chunked paths (f16 output staged chunk by chunk) that packing, which binds everything at once, rules out.
    if (fc.kernel != FusedKernel::tiled || group == 1 || p.Lq >= fc.rows) return false;
    const auto packed = tiled_grid(p, fc, true), plain = tiled_grid(p, fc, false);
    if (packed[0] * packed[1] >= plain[0] * plain[1]) return false;
    if (packed[0] > dev.max_workgroup_count[0] || packed[1] > dev.max_workgroup_count[1]) return false;
    return binds_in_one_chunk(dev, p, fc, ops);
}

std::string gqa_packing_variant_suffix(const AttentionProblem& p) { return "+gqa-pack" + std::to_string(p.Hq / p.Hkv); }

int heuristic_kv_splits(int64_t work, int64_t key_tiles, uint32_t compute_units, int64_t max_splits) {
    // Two workgroups resident per compute unit: the tiled kernel's workgroups are small (64-256
    // invocations, <= 48 KiB shared), so two fit side by side on every GPU class we tile for.
    const double target = 2.0 * std::max<uint32_t>(1, compute_units);
    if (static_cast<double>(work) >= 0.8 * target) return 1;
    max_splits = std::min(max_splits, key_tiles);
    if (max_splits <= 1) return 1;
    // Wave efficiency of s splits: work * s workgroups over waves of `target`, the last wave partly full.
    const auto efficiency = [&](int64_t s) {
        const double waves = static_cast<double>(work * s) / target;
        return waves / std::ceil(waves);
    };
    // Split counts that give the same tiles per split as a smaller count change nothing: skipped.
    const auto eligible = [&](int64_t s) { return s == 1 || (key_tiles + s - 1) / s != (key_tiles + s - 2) / (s - 1); };
    double best = 0;
    for (int64_t s = 1; s <= max_splits; ++s)
        if (eligible(s)) best = std::max(best, efficiency(s));
    for (int64_t s = 1; s <= max_splits; ++s)
        if (eligible(s) && efficiency(s) >= 0.85 * best) return static_cast<int>(s);
    return 1;
}

bool choose_kv_split_config(const DeviceInfo& dev, const AttentionProblem& p, const AttentionOptions& o, const FusedConfig& fc,
                            bool packed, const std::vector<Operand>& ops, KvSplitConfig& out) {
    if (fc.kernel != FusedKernel::tiled || o.kv_splits == 1) return false;
    const bool forced = o.kv_splits > 1;
    const auto refuse = [&](const std::string& why) {
        if (forced) throw Error(ErrorCode::unsupported, "kv_splits: " + std::to_string(o.kv_splits) + " splits cannot run here: " + why);
        return false;
    };

    // Keys from the earliest window start (tile-aligned) to the last row's key limit over all batches.
    int64_t begin = p.Lk, end = 0;
    for (int64_t b = 0; b < p.B; ++b) {
        end = std::max(end, key_end_for_row(p, o, b, p.Lq - 1));
        begin = std::min(begin, key_start_for_row(p, b, 0));
    }
    begin = begin / fc.keys * fc.keys;
    const int64_t key_tiles = end > begin ? (end - begin + fc.keys - 1) / fc.keys : 0;
    if (key_tiles < 2) return false;  // nothing to split (a forced count is clamped to the key tiles)

    const std::array<int64_t, 2> grid = tiled_grid(p, fc, packed);
    const int64_t row_tiles = grid[0], slices = grid[1];
    const int64_t work = row_tiles * slices;
    int64_t splits;
    if (forced) {
        splits = std::min<int64_t>(o.kv_splits, key_tiles);
    } else {
        const int64_t min_tiles = std::max<int64_t>(1, kMinKeysPerSplit / fc.keys);
        splits = heuristic_kv_splits(work, key_tiles, dev.compute_units, std::min(kMaxSplits, key_tiles / min_tiles));
        // lavapipe ends loops after 65535 iterations: enough splits that one split's loops fit.
        if (has_loop_iteration_limit(dev))
            while (splits < key_tiles && tiled_loop_iterations(fc, p.D, p.Dv, (key_tiles + splits - 1) / splits * fc.keys) > 60000)
                ++splits;
    }
    int64_t tiles_per_split = (key_tiles + splits - 1) / splits;
    splits = (key_tiles + tiles_per_split - 1) / tiles_per_split;
    if (splits <= 1) return false;

    const int64_t rows = p.B * p.Hq * p.Lq;
    const int64_t pitch = 4 + (p.Dv + 3) / 4 * 4;
    const ChunkLimits lim = chunk_limits(dev, fc.rows, dev.max_workgroup_count[0]);
    if (splits > dev.max_workgroup_count[2]) return refuse("more splits than the device's workgroup count along z");
    if (static_cast<uint64_t>(rows) * splits * pitch * 4 > lim.max_range)
        return refuse("the partial results (" + std::to_string(rows * splits * pitch * 4) + " bytes) exceed one binding");
    if (static_cast<uint64_t>(rows * p.Dv) * 4 > lim.max_range) return refuse("the f32 output exceeds one binding");
    if ((rows * ((p.Dv + 3) / 4) + 63) / 64 > dev.max_workgroup_count[0]) return refuse("too many rows for the combine pass");
    if (row_tiles > dev.max_workgroup_count[0] || slices > dev.max_workgroup_count[1]) return refuse("too many row tiles or heads");
    if (!binds_in_one_chunk(dev, p, fc, ops)) return refuse("the inputs do not bind in one piece");
    out.splits = static_cast<int>(splits);
    out.keys_per_split = static_cast<int>(tiles_per_split * fc.keys);
    out.key_begin = static_cast<int>(begin);
    out.scratch_floats = rows * splits * pitch;
    out.forced = forced;
    return true;
}

std::string kv_split_variant_suffix(const KvSplitConfig& c, const DeviceInfo& dev) {
    return "+split-kv[" + std::to_string(c.splits) + "x" + std::to_string(c.keys_per_split) + " keys," +
           (c.forced ? std::string("requested") : std::to_string(dev.compute_units) + " units") + "]+combine";
}

void record_kv_split(ContextState& st, const KvSplitConfig& c, const AttentionProblem& p, Dispatch tiled, bool pack_f16,
                     std::vector<Dispatch>& out) {
    tiled.params.ext[3] = c.keys_per_split;
    tiled.params.flags[3] = c.splits;
    tiled.params.offsets1[2] = 0;
    tiled.params.offsets1[3] = c.key_begin;
    tiled.groups[2] = static_cast<uint32_t>(c.splits);
    out.push_back(tiled);
    append_decode_combine(st, p, tiled, pack_f16, out);
}

}  // namespace vkattn::detail
