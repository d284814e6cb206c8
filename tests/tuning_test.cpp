// Per-device tuning: the vendor defaults, the cached table of `vkattn tune` winners, and tune() itself.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "runtime/access.hpp"
#include "attention/attention_problem.hpp"
#include "runtime/context_state.hpp"
#include "tuning/device_tuning.hpp"
#include "test_support.hpp"
#include "tuning/tuning_table.hpp"
#include "vkattn/tuning.hpp"

namespace vkattn::test {
namespace {

struct ForceConfig {
    detail::ContextState& st;
    ForceConfig(Context& ctx, const detail::FusedConfig& c) : st(detail::state_of(ctx)) {
        st.forced_fused = std::make_shared<const detail::FusedConfig>(c);
    }
    ~ForceConfig() { st.forced_fused.reset(); }
};

// Every GPU vendor branch's tiles, shrunk to this device's limits, run the tiled kernel correctly here
// (no GPU is at hand: this is what keeps a branch from shipping tiles the kernel mishandles).
TEST(DefaultTiles, EveryVendorBranchRunsCorrectly) {
    Context& ctx = context();
    std::set<std::string> seen;
    for (uint32_t vendor : {0x10DEu, 0x1002u, 0x8086u, 0x13B5u, 0x5143u, 0x106Bu, 0x1234u}) {
        DeviceInfo gpu = ctx.device();
        gpu.vendor_id = vendor;
        gpu.type = DeviceType::discrete_gpu;
        const detail::FusedConfig c = detail::choose_fused_config(gpu, 64);
        ASSERT_EQ(c.kernel, detail::FusedKernel::tiled) << std::hex << vendor;
        EXPECT_LE(c.shared_bytes, ctx.device().shared_memory_bytes);
        EXPECT_FALSE(std::string(detail::default_tiles(detail::tuning_inputs(gpu, 64, DType::f32)).rule).empty());
        const std::string name = detail::fused_variant_name(c, DType::f32);
        if (!seen.insert(name).second) continue;  // one run per distinct tiling
        ForceConfig force(ctx, c);
        Case k;
        k.B = 2, k.Hq = 2, k.Hkv = 1, k.Lq = 70, k.Lk = 93, k.D = 64, k.causal = Causal::bottom_right, k.mask = MaskKind::bool_4d;
        const Outcome r = run_case(k, fresh_seed());
        EXPECT_TRUE(r.passed) << "vendor " << std::hex << vendor << " " << name << ": " << r.message;
        EXPECT_EQ(r.variant, name);
    }
    EXPECT_GE(seen.size(), 2u);
    // The CPU branch: the rowwise kernel.
    EXPECT_EQ(detail::choose_fused_config(ctx.device(), 64).kernel, ctx.device().type == DeviceType::cpu ? detail::FusedKernel::rowwise
                                                                                                        : detail::FusedKernel::tiled);
}

std::string temp_dir(const char* name) {
    const auto dir = std::filesystem::temp_directory_path() / (std::string("vkattn-") + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir.string();
}

TEST(TuningTable, RoundTripsAndThePlannerPrefersEntriesThatFit) {
    const DeviceInfo dev = context().device();
    const std::string dir = temp_dir("tuning");
    detail::TuningTable t = detail::load_tuning_table(dev, dir);
    EXPECT_TRUE(t.entries.empty());
    ASSERT_FALSE(t.path.empty());

    const detail::FusedConfig def = detail::choose_fused_config(dev, 64, DType::f32, &t);
    EXPECT_FALSE(def.tuned);
    detail::TunedEntry e;
    e.config = def;
    e.config.rows = def.kernel == detail::FusedKernel::rowwise ? 64 : def.rows / 2;
    e.config.keys = def.keys / 2;
    e.median_ms = 1.5;
    e.problem = "B1 H8 N2048 D64";
    t.entries[detail::tuning_key(DType::f32, 64, def.kernel)] = e;
    t.measured_at = "2026-01-01T00:00:00Z";
    ASSERT_TRUE(detail::save_tuning_table(t, dev));

    const detail::TuningTable back = detail::load_tuning_table(dev, dir);
    ASSERT_EQ(back.entries.size(), 1u);
    const detail::FusedConfig tuned = detail::choose_fused_config(dev, 64, DType::f32, &back);
    EXPECT_TRUE(tuned.tuned);
    EXPECT_EQ(tuned.rows, e.config.rows);
    EXPECT_EQ(tuned.keys, e.config.keys);
    EXPECT_NE(detail::fused_variant_name(tuned, DType::f32).find(",tuned]"), std::string::npos);
    // Other dtypes and head-dim classes keep their defaults.
    EXPECT_FALSE(detail::choose_fused_config(dev, 64, DType::f16, &back).tuned);
    EXPECT_FALSE(detail::choose_fused_config(dev, 128, DType::f32, &back).tuned);
    // A forced kernel kind ignores the table.
    setenv("VKATTN_FUSED_KERNEL", def.kernel == detail::FusedKernel::rowwise ? "rowwise" : "tiled", 1);
    EXPECT_FALSE(detail::choose_fused_config(dev, 64, DType::f32, &back).tuned);
    unsetenv("VKATTN_FUSED_KERNEL");
    // An entry that no longer fits the device (e.g. limits clamped since) is ignored.
    detail::TuningTable big = back;
    big.entries.begin()->second.config.keys = 1 << 12;
    EXPECT_FALSE(detail::choose_fused_config(dev, 64, DType::f32, &big).tuned);
    // tuned_variants lists it for `vkattn devices`.
    const std::vector<std::string> lines = tuned_variants(dev, dir);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("B1 H8 N2048 D64"), std::string::npos) << lines[0];

    // A file for another driver version, or a malformed one, is not used.
    DeviceInfo other = dev;
    other.driver_version += 1;
    EXPECT_TRUE(detail::load_tuning_table(other, dir).entries.empty());
    {
        std::ofstream f(back.path, std::ios::app);
        f << "fused.rowwise.f32.d128 rowwise -3 64 1 1.0 B1\n";
    }
    EXPECT_TRUE(detail::load_tuning_table(dev, dir).entries.empty());
    std::filesystem::remove_all(dir);
}

TEST(Tune, TimesEveryCandidateAndThePlannerUsesTheWinner) {
    Context& ctx = context();
    detail::ContextState& st = detail::state_of(ctx);
    const auto saved = st.tuning;
    TuneOptions o;
    o.head_dims = {64};
    o.dtypes = {DType::f32};
    o.heads = 2, o.seq = 96, o.repeats = 2;
    o.max_candidates = 3;  // each candidate is a pipeline to compile (seconds on lavapipe)
    o.save = false;  // never into the machine's cache: later runs would plan with a tiny problem's winner
    const TuneReport rep = tune(ctx, o);
    ASSERT_EQ(rep.results.size(), 1u);
    const TuneResult& r = rep.results[0];
    const auto kind = detail::choose_fused_config(ctx.device(), 64).kernel;
    ASSERT_GE(detail::fused_candidates(ctx.device(), 64, kind).size(), 3u);
    EXPECT_EQ(r.candidates.size(), 3u);
    ASSERT_FALSE(r.candidates.empty());
    EXPECT_TRUE(r.candidates[0].is_default);
    for (const TuneCandidate& c : r.candidates) {
        EXPECT_TRUE(c.error.empty()) << c.variant << ": " << c.error;
        EXPECT_GT(c.median_ms, 0) << c.variant;
        EXPECT_LE(c.max_abs_diff, 1e-4) << c.variant;
        EXPECT_LE(r.candidates[r.winner].median_ms, c.median_ms);
    }
    EXPECT_TRUE(rep.cache_file.empty());
    // The context now plans with the winner.
    Case k;
    k.Hq = 2, k.Hkv = 2, k.Lq = 40, k.Lk = 50, k.D = 64;
    const Outcome out = run_case(k, fresh_seed());
    EXPECT_TRUE(out.passed) << out.message;
    EXPECT_NE(out.variant.find(",tuned]"), std::string::npos) << out.variant;
    st.tuning = saved;
    // Bad options name themselves.
    o.seq = 3;
    try {
        tune(ctx, o);
        FAIL() << "seq = 3 accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("seq"), std::string::npos) << e.message();
    }
}

}  // namespace
}  // namespace vkattn::test
