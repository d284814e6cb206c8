// Limits profiles (include/vkattn/profile.hpp): the clamps, the planner's choices under each profile
// checked against the SPIR-V it would run, and the pipeline guard that refuses what does not fit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "runtime/access.hpp"
#include "attention/attention_problem.hpp"
#include "runtime/context_state.hpp"
#include "runtime/embedded_shaders.hpp"
#include "runtime/spirv_reflect.hpp"
#include "test_support.hpp"
#include "vkattn/profile.hpp"
#include "vkattn/tuning.hpp"

namespace vkattn::test {
namespace {

using detail::reflect_shader;

const DeviceInfo& probed() { return context().probed_device(); }

// The profile-less options of the tests' own contexts (validation on, cache as the shared one).
ContextOptions options_for(const std::string& profile) {
    ContextOptions o;
    o = test_context_options();  // validation on, poisoned allocations, no tuned tiles
    o.pipeline_cache_dir = std::getenv("VKATTN_TEST_CACHE_DIR") ? std::getenv("VKATTN_TEST_CACHE_DIR") : "";
    o.profile = profile;
    return o;
}

TEST(Profiles, NamesStartWithTheDefault) {
    ASSERT_EQ(profile_names().size(), 5u);
    EXPECT_EQ(profile_names()[0], "desktop");
}

TEST(Profiles, UnknownNameIsAnErrorNamingTheArgumentAndListingValidNames) {
    try {
        apply_profile(probed(), "tablet");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
        EXPECT_EQ(e.message().rfind("profile: 'tablet'", 0), 0u) << e.message();
        for (const std::string& n : profile_names()) EXPECT_NE(e.message().find(n), std::string::npos) << e.message();
    }
    try {
        Context ctx(options_for("Mobile"));  // names are exact
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
        EXPECT_EQ(e.message().rfind("profile: 'Mobile'", 0), 0u) << e.message();
    }
}

TEST(Profiles, EnvironmentOverridesOnlyTheDefault) {
    const char* old = std::getenv("VKATTN_PROFILE");
    const std::string saved = old ? old : "";
    setenv("VKATTN_PROFILE", "small-shared", 1);
    EXPECT_EQ(effective_profile(""), "small-shared");
    EXPECT_EQ(effective_profile("no-fp16"), "no-fp16");
    setenv("VKATTN_PROFILE", "bogus", 1);
    try {
        Context ctx(options_for(""));
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
        EXPECT_EQ(e.message().rfind("VKATTN_PROFILE: 'bogus'", 0), 0u) << e.message();
    }
    if (old) setenv("VKATTN_PROFILE", saved.c_str(), 1);
    else unsetenv("VKATTN_PROFILE");
    EXPECT_EQ(effective_profile(""), old ? saved : std::string("desktop"));
}

TEST(Profiles, ClampsAndNeverRaises) {
    const DeviceInfo& p = probed();
    for (const std::string& name : profile_names()) {
        SCOPED_TRACE(name);
        const DeviceInfo d = apply_profile(p, name);
        EXPECT_EQ(d.profile, name);
        EXPECT_LE(d.shared_memory_bytes, p.shared_memory_bytes);
        EXPECT_LE(d.max_workgroup_invocations, p.max_workgroup_invocations);
        for (int i = 0; i < 3; ++i) EXPECT_LE(d.max_workgroup_size[i], p.max_workgroup_size[i]);
        EXPECT_LE(d.fp16_arithmetic, p.fp16_arithmetic);
        EXPECT_LE(d.subgroup_basic, p.subgroup_basic);
        EXPECT_LE(d.subgroup_arithmetic, p.subgroup_arithmetic);
        EXPECT_LE(d.subgroup_size_control, p.subgroup_size_control);
        EXPECT_EQ(d.max_storage_buffer_range, p.max_storage_buffer_range);  // untouched
        const bool small = name == "mobile" || name == "small-shared";
        EXPECT_EQ(d.shared_memory_bytes, small ? std::min<uint32_t>(p.shared_memory_bytes, 16384) : p.shared_memory_bytes);
        EXPECT_EQ(d.max_workgroup_invocations, name == "mobile" ? std::min<uint32_t>(p.max_workgroup_invocations, 128)
                                                                : p.max_workgroup_invocations);
        if (name == "mobile" || name == "no-fp16") EXPECT_FALSE(d.fp16_arithmetic);
        else EXPECT_EQ(d.fp16_arithmetic, p.fp16_arithmetic);
        if (name == "mobile" || name == "no-subgroup") {
            EXPECT_FALSE(d.subgroup_basic || d.subgroup_arithmetic || d.subgroup_shuffle || d.subgroup_size_control);
        } else {
            EXPECT_EQ(d.subgroup_arithmetic, p.subgroup_arithmetic);
            EXPECT_EQ(d.subgroup_size_control, p.subgroup_size_control);
        }
    }
}

TEST(Profiles, TheSharedContextUsesTheEnvironmentsProfile) {
    EXPECT_EQ(context().device().profile, effective_profile(""));
    const DeviceInfo expected = apply_profile(probed(), effective_profile(""));
    EXPECT_EQ(context().device().shared_memory_bytes, expected.shared_memory_bytes);
    EXPECT_EQ(context().device().max_workgroup_invocations, expected.max_workgroup_invocations);
    EXPECT_EQ(context().device().fp16_arithmetic, expected.fp16_arithmetic);
    EXPECT_EQ(probed().profile, "desktop");
}

// What a planned pipeline needs, read from the SPIR-V it would be built from, fits the clamped limits.
void expect_fits(const DeviceInfo& d, const std::string& shader, const std::vector<int32_t>& spec, uint64_t planned_shared = 0) {
    SCOPED_TRACE(shader);
    const detail::ShaderNeeds n = reflect_shader(detail::find_embedded_shader(shader), spec);
    EXPECT_LE(n.invocations(), d.max_workgroup_invocations);
    EXPECT_LE(n.workgroup[0], d.max_workgroup_size[0]);
    EXPECT_LE(n.workgroup[1], d.max_workgroup_size[1]);
    EXPECT_LE(n.shared_bytes, d.shared_memory_bytes);
    if (!d.subgroup_basic) EXPECT_FALSE(n.subgroup_operations);
    if (!d.fp16_arithmetic) EXPECT_FALSE(n.float16_arithmetic);
    if (planned_shared) EXPECT_EQ(n.shared_bytes, planned_shared) << "the planner's shared-memory formula disagrees with the shader";
}

TEST(Profiles, PlannerPicksFittingVariantsUnderEveryProfile) {
    for (const std::string& name : profile_names()) {
        SCOPED_TRACE(name);
        const DeviceInfo d = apply_profile(probed(), name);
        for (int dcap : {64, 128, 256, 512}) {
            SCOPED_TRACE(dcap);
            for (DType dtype : {DType::f32, DType::f16}) {
                const detail::FusedConfig t = detail::choose_tiled_config(d, dcap, dtype);
                expect_fits(d, std::string(t.subgroup_reduce ? "attention_fused_sg_" : "attention_fused_") + std::string(dtype_name(dtype)),
                            {t.workgroup, t.rows, t.keys, t.dcap, t.threads_per_row}, t.shared_bytes);
            }
            const detail::FusedConfig f = detail::choose_fused_config(d, dcap);
            if (f.kernel == detail::FusedKernel::rowwise) {
                expect_fits(d, "attention_fused_rowwise_f16", {f.rows, f.keys, f.dcap, 1}, f.shared_bytes);
                const detail::ExplicitConfig w = detail::choose_explicit_config(d);
                expect_fits(d, "attention_weights_rowwise_f32", {w.rowwise_rows, std::min(w.rowwise_keys, f.keys), f.dcap, 1});
                expect_fits(d, "attention_decode_split_f32", {64, f.keys, f.dcap, 0}, f.shared_bytes);
                // Quantised K/V (FEATURE_KV_Q8 / _Q4): the raw blocks, smaller than the f32 block the keys were fitted to.
                for (auto [kv, feature] : {std::pair{DType::q8_0, 8}, std::pair{DType::q4_0, 16}})
                    expect_fits(d, "attention_decode_split_f16", {64, f.keys, f.dcap, feature}, detail::rowwise_shared_bytes(f.keys, f.dcap, kv));
            }
        }
        const detail::ExplicitConfig e = detail::choose_explicit_config(d);
        expect_fits(d, "attention_weights_f32", {e.tile});
        expect_fits(d, "attention_weights_f16", {e.tile});
        expect_fits(d, "attention_decode_combine", {64});
        expect_fits(d, "convert_f32_to_f16", {detail::convert_workgroup(d)});
    }
}

TEST(Profiles, MobileOnThisDeviceChangesTheChoices) {
    const DeviceInfo& p = probed();
    if (p.shared_memory_bytes <= 16384 || p.max_workgroup_invocations <= 128)
        GTEST_SKIP() << "the device is already as small as the mobile profile";
    const DeviceInfo m = apply_profile(p, "mobile");
    EXPECT_EQ(detail::convert_workgroup(p), 256);
    EXPECT_EQ(detail::convert_workgroup(m), 128);
    // The tiled kernel loses its subgroup reduction (mobile has no subgroup operations) and fits 16 KiB.
    EXPECT_NE(detail::fused_variant_name(detail::choose_tiled_config(p, 64), DType::f32),
              detail::fused_variant_name(detail::choose_tiled_config(m, 64), DType::f32));
    EXPECT_FALSE(detail::choose_tiled_config(m, 64).subgroup_reduce);
    EXPECT_LE(detail::choose_tiled_config(m, 64).shared_bytes, 16384u);
    if (p.type == DeviceType::cpu) {
        EXPECT_EQ(detail::choose_fused_config(p, 64).rows, 256);  // the rowwise kernel's desktop tile
        EXPECT_EQ(detail::choose_fused_config(m, 64).rows, 128);
        EXPECT_EQ(detail::choose_fused_config(m, 64).keys, 64);   // 64 keys x 64 dims x 4 B = 16 KiB
    }
    EXPECT_EQ(detail::choose_explicit_config(m).tile, 8);       // 8 x 8 = 64 invocations <= 128
    std::vector<std::string> lines = kernel_variants(m);
    bool saw_convert = false;
    for (const std::string& l : lines) saw_convert = saw_convert || l == "f16 output: convert_f32_to_f16[wg128]";
    EXPECT_TRUE(saw_convert);
}

// A context under each non-default profile runs every kind of pipeline (rowwise or tiled fused,
// decode, explicit, f16 conversion) and matches the reference; its pipelines passed the guard.
TEST(Profiles, AttentionUnderEachProfileMatchesTheReference) {
    for (const std::string& name : profile_names()) {
        if (name == "desktop") continue;  // the whole suite runs under it
        SCOPED_TRACE(name);
        Context ctx(options_for(name));
        EXPECT_EQ(ctx.device().profile, name);
        EXPECT_EQ(ctx.probed_device().profile, "desktop");
        Case fused;
        fused.B = 2, fused.Hq = 4, fused.Hkv = 2, fused.Lq = 40, fused.Lk = 70, fused.D = 64, fused.dtype = DType::f16;
        fused.causal = Causal::bottom_right, fused.mask = MaskKind::bool_2d;
        Case decode = fused;
        decode.Lq = 1, decode.Lk = 300, decode.D = 128, decode.mask = MaskKind::none;
        Case weights = fused;
        weights.path = Path::explicit_, weights.dtype = DType::f32, weights.mask = MaskKind::additive_4d;
        for (const Case& c : {fused, decode, weights}) {
            const Outcome r = run_case(ctx, c, fresh_seed());
            EXPECT_TRUE(r.passed) << r.message;
        }
        EXPECT_EQ(ctx.validation_message_count(), 0u);
    }
}

TEST(PipelineGuard, RefusesPipelinesBeyondTheClampedLimits) {
    Context ctx(options_for("mobile"));
    detail::ContextState& st = detail::state_of(ctx);
    const auto expect_refused = [&](const std::string& shader, const std::vector<int32_t>& spec, const std::string& why) {
        SCOPED_TRACE(shader);
        try {
            st.pipeline(shader, spec);
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::unsupported);
            EXPECT_NE(e.message().find(why), std::string::npos) << e.message();
            EXPECT_NE(e.message().find("limits profile 'mobile'"), std::string::npos) << e.message();
        }
    };
    expect_refused("convert_f32_to_f16", {256}, "workgroup of 256 invocations exceeds the limit of 128");
    expect_refused("attention_fused_rowwise_f32", {256, 128, 64, 0}, "workgroup of 256 invocations");
    // A tiled tile of 16 rows x 32 keys at d64 with the shared-memory reduction: 16384 B of K/V tiles
    // and 16 x 4 x 33 x 4 B of partial scores.
    expect_refused("attention_fused_f32", {64, 16, 32, 64, 4}, "24832 bytes of shared memory exceed the limit of 16384");
    expect_refused("roofline_fma_f16", {64, 1}, "fp16 arithmetic, which is off");
    expect_refused("subgroup_size_probe", {32}, "subgroup operations, which are off");
    EXPECT_EQ(ctx.pipeline_count(), 0u);  // nothing was built
}

TEST(SpirvReflect, ReadsWorkgroupSharedMemoryAndCapabilities) {
    const auto words = [](const char* n) { return detail::find_embedded_shader(n); };
    const detail::ShaderNeeds fused = reflect_shader(words("attention_fused_f32"), {64, 16, 32, 64, 4});
    EXPECT_EQ(fused.workgroup, (std::array<uint32_t, 3>{64, 1, 1}));
    // K and V tiles of 32 keys x 64 dims (uvec4 quads) and 64 lanes' partial scores padded to 33.
    EXPECT_EQ(fused.shared_bytes, 4u * (2 * 32 * 64 + 64 * 33));
    // f16 tiles hold packed halves (uvec2 quads), and the sg variant has no partials.
    EXPECT_EQ(reflect_shader(words("attention_fused_sg_f16"), {64, 16, 32, 64, 4}).shared_bytes, 2u * 2 * 32 * 64);
    // The rowwise kernels' K/V block: f32, or for q8_0 / q4_0 K/V the raw blocks (9 / 5 words per 32 values).
    EXPECT_EQ(reflect_shader(words("attention_decode_split_f16"), {8, 128, 64, 0}).shared_bytes, 4u * 128 * 64);
    EXPECT_EQ(reflect_shader(words("attention_decode_split_f16"), {8, 128, 64, 8}).shared_bytes, 4u * 128 * 2 * 9);
    EXPECT_EQ(reflect_shader(words("attention_fused_rowwise_f32"), {64, 64, 128, 16 | 1}).shared_bytes, 4u * 64 * 4 * 5);
    const detail::ShaderNeeds scores = reflect_shader(words("attention_weights_f16"), {8});
    EXPECT_EQ(scores.workgroup, (std::array<uint32_t, 3>{8, 8, 1}));
    EXPECT_EQ(scores.shared_bytes, 2u * 8 * 8 * 4);
    const detail::ShaderNeeds convert = reflect_shader(words("convert_f32_to_f16"), {32});
    EXPECT_EQ(convert.invocations(), 32u);
    EXPECT_EQ(convert.shared_bytes, 0u);
    EXPECT_TRUE(reflect_shader(words("roofline_fma_f16"), {64, 1}).float16_arithmetic);
    EXPECT_FALSE(reflect_shader(words("roofline_fma_f32"), {64, 1}).float16_arithmetic);
    EXPECT_TRUE(reflect_shader(words("subgroup_size_probe"), {8}).subgroup_operations);
    std::vector<uint32_t> bad = {0x12345678u, 0, 0, 0, 0};
    EXPECT_THROW(reflect_shader(bad, {}), Error);
}

// No engine kernel uses subgroup operations or fp16 arithmetic except the ones named here, so the
// no-subgroup and no-fp16 profiles cannot leave a variant without a fallback.
TEST(SpirvReflect, OnlyTheSelfTestUsesSubgroupsAndOnlyTheFp16RooflineUsesFp16) {
    for (std::size_t i = 0; i < detail::kEmbeddedShaderCount; ++i) {
        const auto& s = detail::kEmbeddedShaders[i];
        SCOPED_TRACE(std::string(s.name));
        const detail::ShaderNeeds n = reflect_shader(s.words, {});
        // The self-test and the tiled kernel's subgroup-shuffle variant (chosen only where the clamped
        // device has shuffles: can_subgroup_reduce).
        EXPECT_EQ(n.subgroup_operations, s.name == "subgroup_size_probe" || s.name.rfind("attention_fused_sg_", 0) == 0) << s.name;
        EXPECT_EQ(n.float16_arithmetic, s.name == "roofline_fma_f16");
    }
}

}  // namespace
}  // namespace vkattn::test
