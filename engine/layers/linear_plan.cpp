// Linear attention's launch plan (linear_plan.hpp).
#include "layers/linear_plan.hpp"

#include <algorithm>
#include <cstdint>

#include "attention/attention_problem.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {
namespace {

[[noreturn]] void unsupported(const std::string& msg) { throw Error(ErrorCode::unsupported, msg); }

std::string mib(int64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

// A 1-D range of `n` invocations in workgroups of 64, folded into (x, y) under the device's counts.
std::array<uint32_t, 3> fold_groups(const DeviceInfo& dev, int64_t n, uint32_t z, const char* what) {
    const int64_t groups = std::max<int64_t>(1, (n + 63) / 64);
    const int64_t x = std::min<int64_t>(groups, dev.max_workgroup_count[0]);
    const int64_t y = (groups + x - 1) / x;
    if (y > dev.max_workgroup_count[1] || z > dev.max_workgroup_count[2])
        unsupported(std::string(what) + ": " + std::to_string(n) + " invocations exceed this device's workgroup counts");
    return {static_cast<uint32_t>(x), static_cast<uint32_t>(y), z};
}

}  // namespace

int64_t linear_apply_iterations(int64_t D, int64_t n, int64_t ncb) {
    // Pass A (the d loop with the intra-chunk loop nested, then the intra-chunk sum), pass B per group
    // of 16 columns (its d loop and intra-chunk loop); the fixed-size initialisation counted in case
    // the compiler keeps it as a loop.
    const int64_t groups = (ncb + 3) / 4;
    return D * (1 + n) + n + groups * (1 + D + n) + kLinearCausalChunk;
}

LinearPlan plan_linear(const DeviceInfo& dev, const LinearProblem& p) {
    const bool limited = has_loop_iteration_limit(dev);
    const int64_t max_chunks = std::min<int64_t>(dev.max_workgroup_count[1], limited ? kLinearLoopBudget : INT32_MAX);
    LinearPlan plan;
    if (p.causal != Causal::none) {
        plan.chunk = kLinearCausalChunk;
        plan.chunks = std::max<int64_t>(1, (p.Lk + plan.chunk - 1) / plan.chunk);
        if (plan.chunks > max_chunks)
            unsupported("k: causal linear attention over " + std::to_string(p.Lk) + " keys needs " + std::to_string(plan.chunks) +
                        " chunks of " + std::to_string(plan.chunk) + "; this device allows at most " + std::to_string(max_chunks) +
                        (limited ? " (lavapipe's 65535 loop iterations per invocation)" : " (its workgroup count)"));
    } else {
        // No intra-chunk term: large chunks keep the state scratch small; both loops (C keys in
        // linear_state, NC chunks in linear_prefix) stay under the budget up to Lk ~ 3.6e9.
        plan.chunk = kLinearDefaultChunk;
        while ((p.Lk + plan.chunk - 1) / plan.chunk > std::min<int64_t>(max_chunks, 30000)) plan.chunk *= 2;
        plan.chunks = std::max<int64_t>(1, (p.Lk + plan.chunk - 1) / plan.chunk);
        if (limited && plan.chunk > kLinearLoopBudget)
            unsupported("k: " + std::to_string(p.Lk) + " keys exceed what linear attention can loop over on this device (lavapipe)");
    }
    plan.pitch = (p.Dv + 1 + 3) / 4 * 4;
    // 16 floats of padding: linear_apply reads whole 16-column groups, past the last row's E4 columns.
    plan.state_floats = p.B * p.Hkv * (plan.chunks + 1) * p.D * plan.pitch + 16;
    const int64_t state_bytes = plan.state_floats * 4;
    if (plan.state_floats > INT32_MAX || static_cast<uint64_t>(state_bytes) > dev.max_storage_buffer_range)
        unsupported("k: the chunk states of " + std::to_string(p.B * p.Hkv) + " KV slice(s) x " + std::to_string(plan.chunks + 1) +
                    " chunk(s) x " + std::to_string(p.D) + " x " + std::to_string(plan.pitch) + " floats (" + mib(state_bytes) +
                    ") exceed one storage binding on this device (" + mib(static_cast<int64_t>(dev.max_storage_buffer_range)) +
                    ", and 2^31 floats)");

    const int64_t n = p.causal != Causal::none ? plan.chunk : 0;
    int64_t ncb = std::min<int64_t>(kLinearMaxColumnQuads, (p.Dv + 15) / 16 * 4);  // whole groups of 16 columns
    while (limited && ncb > 4 && linear_apply_iterations(p.D, n, ncb) > kLinearLoopBudget) ncb -= 4;
    if (limited && linear_apply_iterations(p.D, n, ncb) > kLinearLoopBudget)
        unsupported("q: head dim " + std::to_string(p.D) + " needs more loop iterations per row than lavapipe allows");
    plan.cols = 4 * ncb;

    const int64_t state_blocks = (p.D + 3) / 4 * (plan.pitch / 4);
    if (p.B * p.Hkv > dev.max_workgroup_count[2])
        unsupported("k: " + std::to_string(p.B * p.Hkv) + " (batch, KV head) slices exceed this device's workgroup count");
    plan.state_groups = {static_cast<uint32_t>((state_blocks + 63) / 64), static_cast<uint32_t>(plan.chunks),
                         static_cast<uint32_t>(p.B * p.Hkv)};
    plan.prefix_groups = fold_groups(dev, p.B * p.Hkv * p.D * (plan.pitch / 4), 1, "k");
    plan.apply_groups = fold_groups(dev, p.B * p.Hq * p.Lq, static_cast<uint32_t>((p.Dv + plan.cols - 1) / plan.cols), "q");
    return plan;
}

std::string linear_variant_name(const LinearPlan& plan, const LinearProblem& p) {
    return "linear." + std::string(dtype_name(p.dtype)) + "." + to_string(p.feature_map) +
           (p.causal != Causal::none ? ".causal" : "") + "[chunk" + std::to_string(plan.chunk) + "x" + std::to_string(plan.chunks) +
           ",cols" + std::to_string(plan.cols) + "]";
}

}  // namespace vkattn::detail
