// Split-KV decoding for CPU devices: planning and recording (kernels: shaders/attention_decode_*.comp).
//
// Why: for Lq <= 8 the rowwise kernel runs 8-row workgroups with Lq valid rows, re-reads K/V once per
// query head of a GQA group and issues one dispatch per key block. Here one workgroup per (KV slice,
// key block) holds all group * Lq rows of that KV head, and every key block runs in one dispatch; a
// second dispatch merges the blocks (log-sum-exp). Limits: Lq <= 8 (beyond that the rowwise tiles
// are already mostly full and the per-row scratch, rows x blocks x (Dv + 4) floats, grows past K/V
// itself) and group * Lq <= 64 (one workgroup's rows; more would be more than 8 subgroups per block).
#include "attention/attention_decode.hpp"

#include <algorithm>

#include "vkattn/error.hpp"

namespace vkattn::detail {

bool choose_decode_config(const DeviceInfo& dev, const AttentionProblem& p, const AttentionOptions& o, const FusedConfig& fc,
                          const std::vector<Operand>& ops, DecodeConfig& out) {
    if (dev.type != DeviceType::cpu || fc.kernel != FusedKernel::rowwise) return false;
    const int64_t group = p.Hq / p.Hkv;
    if (p.Lq > kDecodeMaxLq || p.Lq * group > kDecodeMaxRows) return false;
    DecodeConfig c;
    c.group = static_cast<int>(group);
    c.keys = fc.keys;
    c.dcap = fc.dcap;
    c.rows = 8;
    while (c.rows < p.Lq * group) c.rows *= 2;
    const uint32_t max_wg = std::min<uint32_t>(dev.max_workgroup_invocations, dev.max_workgroup_size[0]);
    if (static_cast<uint32_t>(c.rows) > max_wg) return false;

    // Blocks from the first row's window start up to the last row's key limit over all batches (the
    // last row sees the most keys).
    int64_t most = 0, start = p.Lk;
    for (int64_t b = 0; b < p.B; ++b) {
        most = std::max(most, key_end_for_row(p, o, b, p.Lq - 1));
        start = std::min(start, key_start_for_row(p, b, 0));  // row 0's window start: the earliest key any row sees
    }
    c.first_block = static_cast<int>(start / c.keys);
    const int64_t blocks = std::max<int64_t>(1, (most + c.keys - 1) / c.keys - c.first_block);
    // The combine loops over the blocks: far below llvmpipe's 65535 iterations per loop.
    if (blocks > 8192 || blocks > dev.max_workgroup_count[0]) return false;
    if (p.B * p.Hkv > dev.max_workgroup_count[1]) return false;
    c.blocks = static_cast<int>(blocks);
    const int64_t pitch = 4 + (p.Dv + 3) / 4 * 4;
    const int64_t rows = p.B * p.Hq * p.Lq;
    c.scratch_floats = rows * blocks * pitch;
    const ChunkLimits lim = chunk_limits(dev, p.Lq, dev.max_workgroup_count[0]);
    if (static_cast<uint64_t>(c.scratch_floats) * 4 > lim.max_range) return false;
    // The f32 output (and lse) are bound whole too; checked here so that plan_attention, which has no
    // output operand yet, reports the same choice.
    if (static_cast<uint64_t>(rows * p.Dv) * 4 > lim.max_range) return false;
    if ((rows * ((p.Dv + 3) / 4) + 63) / 64 > dev.max_workgroup_count[0]) return false;
    // One chunk must cover the whole problem (the kernels index it globally).
    try {
        const std::vector<Chunk> chunks = plan_chunks(ops, p.B, p.Hq, p.Lq, lim, 0);
        if (chunks.size() != 1 || chunks[0].slices != p.B * p.Hq || chunks[0].row_count != p.Lq) return false;
    } catch (const Error&) {
        return false;
    }
    out = c;
    return true;
}

std::string decode_variant_name(const DecodeConfig& c, DType dtype) {
    return "decode_split." + std::string(dtype_name(dtype)) + ".d" + std::to_string(c.dcap) + "[group" + std::to_string(c.group) +
           ",rows" + std::to_string(c.rows) + ",bc" + std::to_string(c.keys) + ",blocks" + std::to_string(c.blocks) + "]";
}

void record_decode(ContextState& st, const DecodeConfig& c, const AttentionProblem& p, const Dispatch& base, bool pack_f16,
                   std::vector<Dispatch>& out) {
    const std::string suffix = p.storage_suffix();
    Dispatch split = base;
    split.pipeline = st.pipeline("attention_decode_split" + suffix, {c.rows, c.keys, c.dcap, p.features()});
    split.params.flags[3] = c.blocks;
    split.params.ext[3] = c.first_block;
    split.params.offsets1[2] = 0;
    split.groups = {static_cast<uint32_t>(c.blocks), static_cast<uint32_t>(p.B * p.Hkv), 1};
    out.push_back(split);

    append_decode_combine(st, p, split, pack_f16, out);
}

void append_decode_combine(ContextState& st, const AttentionProblem& p, const Dispatch& split, bool pack_f16, std::vector<Dispatch>& out) {
    constexpr int kCombineGroup = 64;
    Dispatch combine = split;
    combine.pipeline = st.pipeline(pack_f16 ? "attention_decode_combine_f16out" : "attention_decode_combine", {kCombineGroup});
    const int64_t n = p.B * p.Hq * p.Lq * ((p.Dv + 3) / 4);
    combine.groups = {static_cast<uint32_t>((n + kCombineGroup - 1) / kCombineGroup), 1, 1};
    out.push_back(combine);
}

}  // namespace vkattn::detail
