#pragma once
// Split-KV decoding on CPU devices (shaders/attention/attention_decode_split.comp + attention_decode_combine.comp):
// short query blocks against long key ranges in two dispatches, K/V read once per GQA group.
#include <cstdint>
#include <string>
#include <vector>

#include "attention/attention_problem.hpp"
#include "attention/chunking.hpp"
#include "runtime/context_state.hpp"

namespace vkattn::detail {

struct DecodeConfig {
    int rows = 8;      // invocations per workgroup: group * Lq rounded up to 8, 16, 32 or 64
    int keys = 64;     // keys per block (= the rowwise kernel's block)
    int dcap = 64;
    int group = 1;     // Hq / Hkv
    int blocks = 1;    // key blocks dispatched (NB)
    int first_block = 0;  // the first block any row sees (sliding window); block kb of the dispatch is first_block + kb
    int64_t scratch_floats = 0;
};

/// Largest Lq and Lq * group the decode kernels take (see attention_decode.cpp).
constexpr int64_t kDecodeMaxLq = 8;
constexpr int64_t kDecodeMaxRows = 64;

/// True when the problem fits the decode kernels on this device: a CPU device (fc is the rowwise
/// config), short Lq, one chunk covering the whole problem (`ops` all bind at once), scratch and
/// workgroup counts within the limits. Otherwise the rowwise path runs.
bool choose_decode_config(const DeviceInfo& dev, const AttentionProblem& p, const AttentionOptions& o, const FusedConfig& fc,
                          const std::vector<Operand>& ops, DecodeConfig& out);

std::string decode_variant_name(const DecodeConfig& c, DType dtype);

/// Appends the split and combine dispatches; `base` has every binding of the single chunk, the
/// scratch (scratch_floats f32) at binding 8. `pack_f16`: binding 4 is the f16 output itself
/// (contiguous, Dv even), which the combine pass packs.
void record_decode(ContextState& st, const DecodeConfig& c, const AttentionProblem& p, const Dispatch& base, bool pack_f16,
                   std::vector<Dispatch>& out);

/// Appends the log-sum-exp merge (attention_decode_combine.comp) of the partial results `split`
/// wrote to binding 8 (P.flags.w of them per row); shared by the CPU decode kernel and split-KV.
/// `pack_f16`: as for record_decode.
void append_decode_combine(ContextState& st, const AttentionProblem& p, const Dispatch& split, bool pack_f16, std::vector<Dispatch>& out);

}  // namespace vkattn::detail
