#pragma once
// Linear attention's launch plan: chunk sizes, the chunk-state scratch, column groups and workgroup
// counts, each bounded by the device (workgroup counts, storage binding range, and on lavapipe the
// 65535 loop iterations one invocation may run). See shaders/linear_*.comp.
#include <array>
#include <cstdint>
#include <string>

#include "vkattn/attention.hpp"
#include "vkattn/device.hpp"
#include "vkattn/linear_attention.hpp"

namespace vkattn::detail {

constexpr int64_t kLinearCausalChunk = 64;       // keys per causal chunk: CMAX of linear_apply.comp
constexpr int64_t kLinearMaxColumnQuads = 32;    // MAXCB of linear_apply.comp: 128 output columns per invocation
constexpr int64_t kLinearDefaultChunk = 1024;    // keys per chunk without a causal mask (no intra-chunk term)
constexpr int64_t kLinearLoopBudget = 60000;     // per-invocation loop iterations allowed on lavapipe (limit 65535)

struct LinearProblem {
    int64_t B = 0, Hq = 0, Hkv = 0, Lq = 0, Lk = 0, D = 0, Dv = 0;
    DType dtype = DType::f32, out_dtype = DType::f32;
    FeatureMap feature_map = FeatureMap::elu_plus_one;
    Causal causal = Causal::none;
};

struct LinearPlan {
    int64_t chunk = 0;         // keys per chunk C
    int64_t chunks = 0;        // NC = ceil(Lk / C), at least 1
    int64_t pitch = 0;         // E4: Dv + 1 rounded up to 4
    int64_t cols = 0;          // output columns per linear_apply invocation (multiple of 16)
    int64_t state_floats = 0;  // B * Hkv * (NC + 1) * D * E4, plus 16 floats of padding
    std::array<uint32_t, 3> state_groups{}, prefix_groups{}, apply_groups{};
};

/// Loop iterations one linear_apply invocation runs (shaders/layers/linear_apply.comp) with n intra-chunk keys
/// and ncb column quads (whole groups of 4 quads).
int64_t linear_apply_iterations(int64_t D, int64_t n, int64_t ncb);

/// The plan for `p` on `dev`. Throws Error(unsupported) naming the argument (k or q) when the chunk
/// states, the loops or the workgroup counts cannot fit this device.
LinearPlan plan_linear(const DeviceInfo& dev, const LinearProblem& p);

/// "linear.f32.elu+1.causal[chunk64x16,cols64]".
std::string linear_variant_name(const LinearPlan& plan, const LinearProblem& p);

}  // namespace vkattn::detail
