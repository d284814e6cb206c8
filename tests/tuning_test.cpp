// Per-device tuning: the vendor defaults, the cached table of `vkattn tune` winners, and tune() itself.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "runtime/access.hpp"
#include "attention/attention_problem.hpp"
#include "runtime/context_state.hpp"
#include "runtime/embedded_shaders.hpp"
#include "runtime/spirv_reflect.hpp"
#include "tuning/device_tuning.hpp"
#include "test_support.hpp"
#include "tuning/tune_seam.hpp"
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

// What each vendor's Vulkan driver reports (vulkan.gpuinfo.org: maxComputeSharedMemorySize,
// subgroupSize, maxComputeWorkGroupInvocations / Size[0]), with no lavapipe limit in the way.
struct VendorDevice {
    const char* name;
    uint32_t vendor;
    DeviceType type;
    uint32_t subgroup, shared, invocations, size_x;
};
const VendorDevice kVendorDevices[] = {
    {"nvidia (RTX 4090 / H100: 48 KiB in Vulkan)", 0x10DE, DeviceType::discrete_gpu, 32, 49152, 1024, 1024},
    {"nvidia reporting 99 KiB (tiles stay within 32 KiB)", 0x10DE, DeviceType::discrete_gpu, 32, 101376, 1024, 1024},
    {"amd wave64 (RADV / AMDVLK)", 0x1002, DeviceType::discrete_gpu, 64, 65536, 1024, 1024},
    {"amd wave32 (RDNA)", 0x1002, DeviceType::discrete_gpu, 32, 65536, 1024, 1024},
    {"intel (ANV, Arc / Xe)", 0x8086, DeviceType::integrated_gpu, 32, 65536, 1024, 1024},
    {"arm mali (Valhall)", 0x13B5, DeviceType::integrated_gpu, 16, 32768, 512, 512},
    {"qualcomm adreno", 0x5143, DeviceType::integrated_gpu, 64, 32768, 1024, 1024},
    {"imagination powervr", 0x1010, DeviceType::integrated_gpu, 1, 16384, 512, 512},
    {"apple (MoltenVK)", 0x106B, DeviceType::integrated_gpu, 32, 32768, 1024, 1024},
    {"unknown gpu", 0x1234, DeviceType::discrete_gpu, 32, 32768, 256, 256},
};

DeviceInfo vendor_device(const VendorDevice& v) {
    DeviceInfo d;
    d.name = v.name;
    d.vendor_id = v.vendor;
    d.type = v.type;
    d.subgroup_size = d.min_subgroup_size = d.max_subgroup_size = v.subgroup;
    d.subgroup_basic = d.subgroup_shuffle = true;
    d.subgroup_size_control = d.compute_full_subgroups = true;  // core in Vulkan 1.3
    d.shared_memory_bytes = v.shared;
    d.max_workgroup_invocations = v.invocations;
    d.max_workgroup_size = {v.size_x, v.size_x, 64};
    return d;
}

// The rule written in device_tuning.cpp, restated: invocations per workgroup, keys per tile to start from,
// and the shared bytes a workgroup aims to stay within (two or more workgroups per compute unit).
struct DocumentedRule {
    int invocations, keys;
    uint32_t shared_target;
};
DocumentedRule documented_rule(const VendorDevice& v) {
    switch (v.vendor) {
        case 0x10DE: return {128, 64, std::min<uint32_t>(v.shared, 32 * 1024)};
        case 0x1002: return {std::max<int>(128, 2 * static_cast<int>(v.subgroup)), 64, v.shared / 2};
        case 0x8086: return {64, 32, v.shared / 2};
        case 0x13B5: case 0x5143: case 0x1010: case 0x106B: return {64, 16, v.shared / 2};
        default: return {64, 32, 0};
    }
}

// default_tiles() and the config the planner fits from them, for what each GPU vendor reports (the
// test above shrinks every branch to lavapipe's limits; this one checks what the GPUs themselves get):
// the tiles follow the documented rule, the shader they specialise, read from its SPIR-V, declares
// exactly the shared bytes the planner counts, within the target (or, at the smallest tile, the limit).
TEST(DefaultTiles, EachVendorGetsItsDocumentedTilesWithinItsLimits) {
    ASSERT_EQ(std::getenv("VKATTN_FUSED_KERNEL"), nullptr);
    int checked = 0;
    for (const VendorDevice& v : kVendorDevices)
        for (int dcap : {64, 128, 256, 512}) {
            SCOPED_TRACE(std::string(v.name) + ", head dim class " + std::to_string(dcap));
            const DeviceInfo dev = vendor_device(v);
            const detail::DefaultTiles t = detail::default_tiles(detail::tuning_inputs(dev, dcap, DType::f32));
            const DocumentedRule rule = documented_rule(v);
            const int wg = std::min<int>(rule.invocations, static_cast<int>(std::min(v.invocations, v.size_x)));
            EXPECT_FALSE(t.rowwise);
            EXPECT_EQ(t.threads_per_row, std::min(dcap / 16, wg));
            EXPECT_EQ(t.rows, wg / t.threads_per_row);
            EXPECT_EQ(t.keys, rule.keys);
            EXPECT_EQ(t.shared_target, rule.shared_target);
            EXPECT_NE(std::string(t.rule).find("not measured"), std::string::npos) << t.rule;
            EXPECT_EQ(t.rows * t.threads_per_row % std::max<uint32_t>(1, std::min<uint32_t>(v.subgroup, 64)), 0u)
                << "the workgroup is not a whole number of subgroups";

            for (DType dtype : {DType::f32, DType::f16}) {
                SCOPED_TRACE(dtype_name(dtype));
                const detail::FusedConfig c = detail::choose_fused_config(dev, dcap, dtype);
                ASSERT_EQ(c.kernel, detail::FusedKernel::tiled);
                EXPECT_FALSE(c.tuned);
                EXPECT_EQ(c.threads_per_row, t.threads_per_row);
                EXPECT_EQ(c.workgroup, c.rows * c.threads_per_row);
                EXPECT_EQ(c.storage_bytes, dtype == DType::f16 ? 2 : 4);
                EXPECT_LE(c.keys * dcap, 32 * c.workgroup) << "more than 8 prefetched quads of K per invocation";
                const int loads = (c.keys * dcap / 4 + c.workgroup - 1) / c.workgroup;
                EXPECT_LE(2 * dcap / c.threads_per_row + c.keys + 2 * c.storage_bytes * loads + 2, 128) << "over 128 registers";
                // The sg variant wherever the lanes of a row fit the smallest subgroup.
                EXPECT_EQ(c.subgroup_reduce, c.threads_per_row <= static_cast<int>(v.subgroup) && c.workgroup % v.subgroup == 0);
                const std::string shader = std::string(c.subgroup_reduce ? "attention_fused_sg_" : "attention_fused_") + std::string(dtype_name(dtype));
                const detail::ShaderNeeds n = detail::reflect_shader(detail::find_embedded_shader(shader),
                                                                     {c.workgroup, c.rows, c.keys, c.dcap, c.threads_per_row});
                EXPECT_EQ(n.shared_bytes, c.shared_bytes) << "the planner's shared-memory count disagrees with the shader";
                EXPECT_LE(n.shared_bytes, v.shared);
                EXPECT_LE(n.invocations(), v.invocations);
                EXPECT_LE(n.workgroup[0], v.size_x);
                const uint32_t target = rule.shared_target ? rule.shared_target : v.shared;
                if (c.rows > 1 || c.keys > 8) EXPECT_LE(c.shared_bytes, target) << "over the target although it could shrink";
                EXPECT_LE(c.keys, t.keys);
                EXPECT_LE(c.rows, t.rows);
            }
            ++checked;
        }
    EXPECT_EQ(checked, 4 * static_cast<int>(std::size(kVendorDevices)));
    // On NVIDIA's reported 48 KiB at D = 128: 16 rows of 8 lanes, the sg variant; f32 tiles of 16 keys
    // (32 would hold 130 registers), f16 tiles of 32 keys (98 registers), both 16 KiB: up to three
    // workgroups in 48 KiB, more on the larger SMs.
    const detail::FusedConfig nv = detail::choose_fused_config(vendor_device(kVendorDevices[0]), 128, DType::f32);
    EXPECT_EQ(nv.rows, 16);
    EXPECT_EQ(nv.keys, 16);
    EXPECT_EQ(nv.shared_bytes, 16384u);
    EXPECT_TRUE(nv.subgroup_reduce);
    const detail::FusedConfig nv16 = detail::choose_fused_config(vendor_device(kVendorDevices[0]), 128, DType::f16);
    EXPECT_EQ(nv16.keys, 32);
    EXPECT_EQ(nv16.shared_bytes, 16384u);
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

// Sets detail::tune_seam for one scope.
struct ScopedTuneSeam {
    detail::TuneSeam seam;
    ScopedTuneSeam() { detail::tune_seam = &seam; }
    ~ScopedTuneSeam() { detail::tune_seam = nullptr; }
};

TuneOptions small_tune() {
    TuneOptions o;
    o.head_dims = {64};
    o.dtypes = {DType::f32};
    o.heads = 2, o.seq = 96, o.repeats = 2;
    o.max_candidates = 3;  // each candidate is a pipeline to compile (seconds on lavapipe)
    o.save = false;  // never into the machine's cache: later runs would plan with a tiny problem's winner
    return o;
}

// The contract of tune() (engine/tuning/tune.cpp): the default runs first; every other candidate is one
// of fused_candidates(), must match the default's output, and is then timed; the winner is the candidate
// with the smallest median among those without an error; the context then plans with it, and with
// save it is written to the cache file, from which it loads back unchanged.
TEST(Tune, TimesEveryCandidateAndThePlannerUsesTheWinner) {
    Context& ctx = context();
    detail::ContextState& st = detail::state_of(ctx);
    const auto saved = st.tuning;
    const std::string saved_dir = st.options.pipeline_cache_dir;
    const std::string dir = temp_dir("tune");
    TuneOptions o = small_tune();
    o.save = true;
    st.options.pipeline_cache_dir = dir;  // this test's own cache file, not the machine's
    const TuneReport rep = tune(ctx, o);
    st.options.pipeline_cache_dir = saved_dir;
    ASSERT_EQ(rep.results.size(), 1u);
    const TuneResult& r = rep.results[0];
    const DeviceInfo& dev = ctx.device();
    const detail::FusedConfig def = detail::choose_fused_config(dev, 64);
    const std::vector<detail::FusedConfig> cands = detail::fused_candidates(dev, 64, def.kernel);
    ASSERT_GE(cands.size(), 3u);
    ASSERT_EQ(r.candidates.size(), 3u);
    EXPECT_EQ(r.key, detail::tuning_key(DType::f32, 64, def.kernel));
    EXPECT_EQ(r.problem, "B1 H2 N96 D64");
    // The default first, then distinct configurations from fused_candidates().
    EXPECT_TRUE(r.candidates[0].is_default);
    EXPECT_EQ(r.candidates[0].variant, detail::fused_variant_name(def, DType::f32));
    std::set<std::string> names, candidate_names;
    for (const detail::FusedConfig& c : cands) candidate_names.insert(detail::fused_variant_name(c, DType::f32));
    for (std::size_t i = 0; i < r.candidates.size(); ++i) {
        const TuneCandidate& c = r.candidates[i];
        SCOPED_TRACE(c.variant);
        EXPECT_TRUE(names.insert(c.variant).second) << "timed twice";
        if (i > 0) {
            EXPECT_FALSE(c.is_default);
            EXPECT_TRUE(candidate_names.count(c.variant)) << "not one of fused_candidates()";
        }
        EXPECT_TRUE(c.error.empty()) << c.error;
        EXPECT_GT(c.median_ms, 0);
        EXPECT_LE(c.min_ms, c.median_ms);
        EXPECT_LE(c.median_ms, c.max_ms);
        EXPECT_LE(c.max_abs_diff, 1e-4);
    }
    EXPECT_EQ(r.candidates[0].max_abs_diff, 0.0) << "the default is its own reference";
    // The winner: the candidate of the smallest median, found here by its own scan (ties: the first).
    std::size_t fastest = 0;
    for (std::size_t i = 1; i < r.candidates.size(); ++i)
        if (r.candidates[i].median_ms < r.candidates[fastest].median_ms) fastest = i;
    ASSERT_LT(r.winner, r.candidates.size());
    EXPECT_EQ(r.winner, fastest);
    EXPECT_DOUBLE_EQ(r.speedup_over_default, r.candidates[0].median_ms / r.candidates[r.winner].median_ms);
    const std::string winner_name = r.candidates[r.winner].variant;

    // The context now plans with the winner: the same tiles, marked tuned, and a run matches the reference.
    ASSERT_TRUE(st.tuning);
    const detail::FusedConfig planned = detail::choose_fused_config(dev, 64, DType::f32, st.tuning.get());
    EXPECT_TRUE(planned.tuned);
    detail::FusedConfig untuned = planned;
    untuned.tuned = false;
    EXPECT_EQ(detail::fused_variant_name(untuned, DType::f32), winner_name);
    Case k;
    k.Hq = 2, k.Hkv = 2, k.Lq = 40, k.Lk = 50, k.D = 64;
    const Outcome out = run_case(k, fresh_seed());
    EXPECT_TRUE(out.passed) << out.message;
    EXPECT_EQ(out.variant, detail::fused_variant_name(planned, DType::f32));

    // Saved, and loaded back unchanged.
    ASSERT_FALSE(rep.cache_file.empty());
    EXPECT_TRUE(std::filesystem::exists(rep.cache_file)) << rep.cache_file;
    const detail::TuningTable back = detail::load_tuning_table(dev, dir);
    ASSERT_EQ(back.entries.count(r.key), 1u);
    const detail::TunedEntry& e = back.entries.at(r.key);
    detail::FusedConfig loaded = *back.find(DType::f32, 64, def.kernel);
    loaded.dcap = 64, loaded.workgroup = loaded.rows * loaded.threads_per_row;
    loaded.subgroup_reduce = loaded.kernel == detail::FusedKernel::tiled && detail::can_subgroup_reduce(dev, loaded.threads_per_row, loaded.workgroup);
    EXPECT_EQ(detail::fused_variant_name(loaded, DType::f32), winner_name);
    EXPECT_EQ(e.problem, r.problem);
    EXPECT_NEAR(e.median_ms, r.candidates[r.winner].median_ms, 1e-3 * r.candidates[r.winner].median_ms + 1e-6);
    st.tuning = saved;
    std::filesystem::remove_all(dir);

    // Bad options name themselves.
    o = small_tune();
    o.seq = 3;
    try {
        tune(ctx, o);
        FAIL() << "seq = 3 accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("seq"), std::string::npos) << e.message();
    }
}

// Planted through the seam: candidate 1 gives a wrong output and is the fastest of all; candidate 2 is
// faster than the default. Candidate 1 must be rejected (error, not the winner) and candidate 2 win.
// Then the reverse timing: the default fastest stays the winner (speedup 1).
TEST(Tune, RejectsAWrongCandidateAndPicksTheFastestCorrectOne) {
    Context& ctx = context();
    detail::ContextState& st = detail::state_of(ctx);
    const auto saved = st.tuning;
    {
        ScopedTuneSeam planted;
        planted.seam.output = [](std::size_t i, std::vector<float>& out) {
            if (i == 1) out[out.size() / 2] += 0.5f;  // one element off
        };
        planted.seam.times = [](std::size_t i, std::vector<double>& ms) {
            for (double& t : ms) t = i == 1 ? 0.001 : i == 2 ? 1.0 : 2.0;
        };
        const TuneReport rep = tune(ctx, small_tune());
        ASSERT_EQ(rep.results.size(), 1u);
        const TuneResult& r = rep.results[0];
        ASSERT_EQ(r.candidates.size(), 3u);
        EXPECT_NE(r.candidates[1].error.find("output differs from the default"), std::string::npos) << r.candidates[1].error;
        EXPECT_GE(r.candidates[1].max_abs_diff, 0.49);
        EXPECT_TRUE(r.candidates[2].error.empty()) << r.candidates[2].error;
        EXPECT_EQ(r.winner, 2u);
        EXPECT_DOUBLE_EQ(r.speedup_over_default, 2.0);
        EXPECT_EQ(st.tuning->entries.at(r.key).median_ms, 1.0);
    }
    {
        ScopedTuneSeam planted;
        planted.seam.times = [](std::size_t i, std::vector<double>& ms) {
            for (double& t : ms) t = i == 0 ? 0.5 : 3.0;
        };
        const TuneReport rep = tune(ctx, small_tune());
        const TuneResult& r = rep.results.at(0);
        for (const TuneCandidate& c : r.candidates) EXPECT_TRUE(c.error.empty()) << c.variant << ": " << c.error;
        EXPECT_EQ(r.winner, 0u);
        EXPECT_DOUBLE_EQ(r.speedup_over_default, 1.0);
    }
    st.tuning = saved;
}

}  // namespace
}  // namespace vkattn::test
