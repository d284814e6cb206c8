#pragma once
// The end that every attention-family call shares (attention.cpp, layers/linear_attention.cpp): the
// output in the requested dtype, then one run of all the recorded dispatches.
#include <cstdint>
#include <optional>
#include <vector>

#include "attention/call_target.hpp"
#include "attention/chunking.hpp"
#include "runtime/context_state.hpp"
#include "runtime/convert.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn::detail {

/// Sets result.out to `out16` when the call returns f16 (packed here from the f32 working rows `out32`
/// unless the caller has already packed them: `out16_packed`), else to `out32`; then runs `dispatches`
/// through `target` (run, or recorded) and sets result.dispatches and result.gpu_milliseconds. `words`:
/// what host_words bindings read. Result: AttentionResult or LinearAttentionResult.
template <class Result>
void finish_call(ContextState& st, CallTarget& target, Result& result, const Tensor& out32, const std::optional<Tensor>& out16,
                 bool out16_packed, const ChunkLimits& lim, std::vector<Dispatch>& dispatches, std::span<const int32_t> words,
                 bool measure_time) {
    if (out16) {
        result.out = *out16;
        if (!out16_packed) append_convert(st, lim, out32, result.out, result.out.offset(), out32.numel(), dispatches);
    } else {
        result.out = out32;
    }
    result.dispatches = static_cast<uint32_t>(dispatches.size());
    result.gpu_milliseconds = target.finish(st, dispatches, words, measure_time);
}

}  // namespace vkattn::detail
