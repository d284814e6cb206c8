#pragma once
// Split-KV ("flash decoding") for the tiled fused kernel (shaders/attention/attention_fused.comp in split mode +
// attention_decode_combine.comp): when a call has too few (row tile, head) workgroups to fill the
// device, the key range is cut into splits that run side by side and a second pass merges them.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "attention/attention_problem.hpp"
#include "attention/chunking.hpp"
#include "runtime/context_state.hpp"

namespace vkattn::detail {

struct KvSplitConfig {
    int splits = 1;           // NB: workgroups along z, partial results per row
    int keys_per_split = 0;   // a multiple of the kernel's key tile
    int key_begin = 0;        // first key of split 0 (the earliest window start, tile-aligned)
    int64_t scratch_floats = 0;  // rows x splits x (4 + Dv rounded up to 4)
    bool forced = false;      // AttentionOptions::kv_splits asked for it
};

/// The split count FlashAttention's heuristic would pick for `work` workgroups over `key_tiles` key
/// tiles on a device of `compute_units`: 1 when the work already fills ~80% of two workgroups per
/// unit; else the smallest count within 85% of the best wave efficiency, at most `max_splits`.
int heuristic_kv_splits(int64_t work, int64_t key_tiles, uint32_t compute_units, int64_t max_splits);

/// Whether the tiled kernel packs each GQA group's query heads into one workgroup's rows
/// (FLAG_PACK_GROUP of attention_fused.comp): when group > 1, Lq < BR, the packed row tiles
/// ceil(group * Lq / BR) are fewer than the unpacked group * ceil(Lq / BR) (short query blocks, where a
/// K/V tile would otherwise be read once per query head for mostly empty rows), and one chunk covers
/// the problem. fc must be the tiled config.
bool choose_gqa_packing(const DeviceInfo& dev, const AttentionProblem& p, const FusedConfig& fc, const std::vector<Operand>& ops);

/// "+gqa-pack<group>", appended to the tiled variant's name when choose_gqa_packing holds.
std::string gqa_packing_variant_suffix(const AttentionProblem& p);

/// flags.z bit of the packed rows (FLAG_PACK_GROUP in shaders/common/common.glsl).
constexpr int32_t kFlagPackGroup = 8;
/// flags.z: the fused kernel also writes each row's final (m, l) to binding 8 (the explicit path's weights pass reads them).
constexpr int32_t kFlagRowState = 16;

/// Row tiles x slices of the tiled kernel's grid, packed or not.
std::array<int64_t, 2> tiled_grid(const AttentionProblem& p, const FusedConfig& fc, bool packed);

/// Whether the tiled kernel runs this problem split (and how): fc must be the tiled config; `ops`
/// the bound inputs (one chunk must cover the whole problem). o.kv_splits: 0 chooses from the
/// device's compute units (and, on devices that end loops after 65535 iterations, splits until one
/// split's loops fit); 1 never splits; N splits into min(N, key tiles). Throws Error(unsupported)
/// when a forced split cannot run (scratch or grid over the device's limits).
bool choose_kv_split_config(const DeviceInfo& dev, const AttentionProblem& p, const AttentionOptions& o, const FusedConfig& fc,
                            bool packed, const std::vector<Operand>& ops, KvSplitConfig& out);

/// "+split-kv[N x K keys,<reason>]+combine", appended to the tiled variant's name.
std::string kv_split_variant_suffix(const KvSplitConfig& c, const DeviceInfo& dev);

/// Turns the tiled kernel's dispatch `tiled` (one chunk covering the problem, scratch at binding 8)
/// into the split dispatch and appends it with the combine pass (`pack_f16`: binding 4 is the f16
/// output itself, which the combine pass packs; see append_decode_combine).
void record_kv_split(ContextState& st, const KvSplitConfig& c, const AttentionProblem& p, Dispatch tiled, bool pack_f16,
                     std::vector<Dispatch>& out);

}  // namespace vkattn::detail
