#pragma once
// The checks every operation runs on an output the caller gives (AttentionOptions::out,
// MatmulOptions::out, ...): one rule set and one wording for all of them.
#include <string>
#include <utility>
#include <vector>

#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn::detail {

/// `out` must be a tensor of `ctx` of shape `want` (named `shape_label` in the message, e.g.
/// "[B, Hq, Lq, Dv]") and dtype `dtype` (`dtype_rule` says where that dtype comes from); no stride 0
/// over an extent above 1; f16 contiguous, from a 4-byte boundary, with an even number of elements
/// (f16 outputs are written in 32-bit words); no byte shared with the tensors in `reads`.
/// Error(invalid_argument) naming `name`.
void check_output(Context& ctx, const Tensor& out, const char* name, const Shape& want, const std::string& shape_label, DType dtype,
                  const std::string& dtype_rule, const std::vector<std::pair<const Tensor*, const char*>>& reads);

}  // namespace vkattn::detail
