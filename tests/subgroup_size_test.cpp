// ContextOptions::subgroup_size: every pipeline built with VkPipelineShaderStageRequiredSubgroupSizeCreateInfo.
// Where the device allows it, the smallest and the largest allowed sizes both run the attention
// kernels correctly, and a probe shader reports the size it actually ran with.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "runtime/access.hpp"
#include "runtime/context_state.hpp"
#include "test_support.hpp"

namespace vkattn::test {
namespace {

ContextOptions forced(uint32_t size, const std::string& profile = "desktop") {
    ContextOptions o;
    o = test_context_options();  // validation on, poisoned allocations, no tuned tiles
    o.pipeline_cache_dir = std::getenv("VKATTN_TEST_CACHE_DIR") ? std::getenv("VKATTN_TEST_CACHE_DIR") : "";
    o.subgroup_size = size;
    o.profile = profile;
    return o;
}

// The subgroup size the probe shader observes in a workgroup of `local` invocations.
std::vector<int32_t> observed_sizes(Context& ctx, int32_t local) {
    detail::ContextState& st = detail::state_of(ctx);
    Tensor out = ctx.empty({local * 2}, DType::i32);
    detail::Dispatch d;
    d.pipeline = st.pipeline("subgroup_size_probe", {local});
    d.bindings[detail::kOut] = {detail::buffer_of(out)->buffer.get(), 0, VK_WHOLE_SIZE};
    d.groups = {2, 1, 1};
    st.run_dispatches({d}, false);
    return out.download<int32_t>();
}

TEST(SubgroupSize, SmallestAndLargestAllowedSizesRunTheKernels) {
    const DeviceInfo& dev = context().probed_device();
    if (!dev.subgroup_size_control) {
        // Not allowed here: asking must fail clearly rather than be ignored.
        try {
            Context ctx(forced(dev.subgroup_size));
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::unsupported);
            EXPECT_EQ(e.message().rfind("subgroup_size:", 0), 0u) << e.message();
        }
        return;
    }
    std::printf("subgroup size control: min %u, max %u, max %u subgroups a workgroup\n", dev.min_subgroup_size,
                dev.max_subgroup_size, dev.max_workgroup_subgroups);
    std::vector<uint32_t> sizes = {dev.min_subgroup_size};
    if (dev.max_subgroup_size != dev.min_subgroup_size) sizes.push_back(dev.max_subgroup_size);  // lavapipe: 8..8
    for (uint32_t size : sizes) {
        SCOPED_TRACE(size);
        Context ctx(forced(size));
        EXPECT_EQ(ctx.device().subgroup_size, size);
        if (dev.max_workgroup_subgroups)
            EXPECT_LE(ctx.device().max_workgroup_invocations, dev.max_workgroup_subgroups * size);
        for (int32_t v : observed_sizes(ctx, 64)) EXPECT_EQ(v, static_cast<int32_t>(size));

        Case c;
        c.B = 2, c.Hq = 4, c.Hkv = 2, c.Lq = 33, c.Lk = 70, c.D = 64, c.dtype = DType::f16, c.causal = Causal::top_left;
        Case decode = c;
        decode.Lq = 1, decode.Lk = 200, decode.causal = Causal::none;
        Case weights = c;
        weights.path = Path::explicit_, weights.mask = MaskKind::bool_4d;
        for (const Case& k : {c, decode, weights}) {
            const Outcome r = run_case(ctx, k, fresh_seed());
            EXPECT_TRUE(r.passed) << r.message;
        }
        {
            // The GPU kernel too (what a device with subgroup size control runs by default).
            setenv("VKATTN_FUSED_KERNEL", "tiled", 1);
            const Outcome r = run_case(ctx, c, fresh_seed());
            unsetenv("VKATTN_FUSED_KERNEL");
            EXPECT_TRUE(r.passed) << r.message;
            EXPECT_EQ(r.variant.rfind("fused.", 0), 0u) << r.variant;
        }
        EXPECT_EQ(ctx.validation_message_count(), 0u);
    }
}

TEST(SubgroupSize, InvalidSizesNameTheOption) {
    const DeviceInfo& dev = context().probed_device();
    const uint32_t bad[] = {3, dev.max_subgroup_size * 2 ? dev.max_subgroup_size * 2 : 256};
    for (uint32_t size : bad) {
        SCOPED_TRACE(size);
        try {
            Context ctx(forced(size));
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.message().rfind("subgroup_size: " + std::to_string(size), 0), 0u) << e.message();
            EXPECT_EQ(e.code(), dev.subgroup_size_control ? ErrorCode::invalid_argument : ErrorCode::unsupported);
        }
    }
    // Profiles without subgroup features cannot force a size either.
    try {
        Context ctx(forced(dev.subgroup_size, "no-subgroup"));
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::unsupported);
        EXPECT_NE(e.message().find("'no-subgroup'"), std::string::npos) << e.message();
    }
}

TEST(SubgroupSize, TheProbeReportsTheDefaultSizeWithoutForcing) {
    Context ctx(forced(0));
    const DeviceInfo& dev = ctx.device();
    for (int32_t v : observed_sizes(ctx, 64)) {
        EXPECT_GE(v, 1);
        if (dev.subgroup_size_control) {
            EXPECT_GE(static_cast<uint32_t>(v), dev.min_subgroup_size);
            EXPECT_LE(static_cast<uint32_t>(v), dev.max_subgroup_size);
        }
    }
}

}  // namespace
}  // namespace vkattn::test
