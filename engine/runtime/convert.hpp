#pragma once
// Packing f32 results into f16 tensors (shaders/runtime/convert_f32_to_f16.comp): the last stage of every
// f16-output operation.
#include <cstdint>
#include <vector>

#include "attention/chunking.hpp"
#include "runtime/context_state.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn::detail {

/// Appends the dispatches packing `count` f32 values from the start of `src` into f16 `dst` from element
/// `dst_first` (even), in pieces of at most the bindable range.
void append_convert(ContextState& st, const ChunkLimits& lim, const Tensor& src, const Tensor& dst, int64_t dst_first,
                    int64_t count, std::vector<Dispatch>& out);

}  // namespace vkattn::detail
