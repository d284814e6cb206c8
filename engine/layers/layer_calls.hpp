#pragma once
// The layers through a call target (attention/call_target.hpp): one code path checks, plans and binds
// each layer; the target runs it (the plain calls), records it into an application's command buffer
// (vkattn/embedding.hpp), queues it in a Batch, or sizes its workspace. The matmul's is in
// layers/matmul_engine.hpp (matmul_call).
#include <optional>

#include "attention/call_target.hpp"
#include "vkattn/additive.hpp"
#include "vkattn/linear_attention.hpp"
#include "vkattn/mha.hpp"

namespace vkattn::detail {

/// multi_head_attention through `target`. `synchronous`: the target has run every stage by the time it
/// returns, so averaged weights can be formed on the host (otherwise need_weights with
/// average_weights must have been refused by the caller).
MhaResult mha_call(Context& ctx, const MhaWeights& weights, const Tensor& x_q, const std::optional<Tensor>& x_k,
                   const std::optional<Tensor>& x_v, const MhaOptions& options, CallTarget& target, bool synchronous);

AttentionResult additive_call(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AdditiveWeights& weights,
                              const AdditiveOptions& options, CallTarget& target);

AttentionResult luong_call(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& w,
                           const AttentionOptions& options, CallTarget& target);

LinearAttentionResult linear_call(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const LinearAttentionOptions& options, CallTarget& target);

}  // namespace vkattn::detail
