// Fault injection: every Vulkan allocation, buffer, map, shader module, pipeline, descriptor pool and
// set, command buffer, submission and fence wait of a representative mixed run is made to fail in
// turn. Each failure must surface as vkattn::Error with the right code and a message naming the call,
// leak nothing (live Vulkan objects by kind and device memory bytes, from the engine's counters), and
// leave the context usable: the same context then runs the whole mixed run correctly. A device loss
// instead marks the context lost: every later call throws ErrorCode::device_lost.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <climits>
#include <cstdint>
#include <functional>

#include "runtime/access.hpp"
#include "runtime/context_state.hpp"
#include "testing/fault_injection.hpp"
#include "testing/object_counters.hpp"
#include "testing/test_switches.hpp"
#include "reliability_support.hpp"

namespace vkattn::reliability {
namespace {

namespace fault = detail::fault;
using fault::Site;
using detail::live_objects;
using detail::LiveObjects;
using detail::ObjectKind;

using Calls = std::array<uint64_t, fault::kSiteCount>;

Calls calls_now() {
    Calls c{};
    for (Site s : fault::kAllSites) c[static_cast<std::size_t>(s)] = fault::calls(s);
    return c;
}

Calls operator-(const Calls& a, const Calls& b) {
    Calls d{};
    for (std::size_t i = 0; i < d.size(); ++i) d[i] = a[i] - b[i];
    return d;
}

uint64_t at(const Calls& c, Site s) { return c[static_cast<std::size_t>(s)]; }

const char* function_of(Site s) {
    switch (s) {
        case Site::alloc: return "vkAllocateMemory";
        case Site::buffer: return "vkCreateBuffer";
        case Site::map: return "vkMapMemory";
        case Site::shader: return "vkCreateShaderModule";
        case Site::pipeline: return "vkCreateComputePipelines";
        case Site::dpool: return "vkCreateDescriptorPool";
        case Site::dset: return "vkAllocateDescriptorSets";
        case Site::cmdbuf: return "vkAllocateCommandBuffers";
        case Site::submit: return "vkQueueSubmit";
        case Site::lost: return "vkWaitForFences";
        case Site::init: return "vkCreate";  // vkCreateInstance, vkCreateDevice, vkCreateFence, ...
        case Site::cache: return "vkCreatePipelineCache";
    }
    return "?";
}

ErrorCode expected_code(VkResult r) {
    switch (r) {
        case VK_ERROR_OUT_OF_HOST_MEMORY:
        case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        case VK_ERROR_OUT_OF_POOL_MEMORY: return ErrorCode::out_of_memory;
        case VK_ERROR_DEVICE_LOST: return ErrorCode::device_lost;
        default: return ErrorCode::vulkan_error;
    }
}

// The mixed run every test injects into, with staged transfers (more failure points: staging
// buffers and copy submissions) and poisoned allocations (a fill submission per tensor).
constexpr bool kForceStaging = true;
constexpr uint64_t kSeed = 20240601;

// How many calls each site sees: while a context is created, and in one mixed run on a new context
// (cold: its pipelines are built) and on a warm one.
struct Profile {
    Calls create{}, cold{}, warm{};
};

const Profile& profile() {
    static const Profile p = [] {
        Profile r;
        MessageLog log;
        using clock = std::chrono::steady_clock;
        const auto t0 = clock::now();
        Calls c0 = calls_now();
        Context ctx(reliability_options(log, kForceStaging));
        Calls c1 = calls_now();
        const auto t1 = clock::now();
        const auto f1 = run_ops(ctx, mixed_run(), kSeed);
        Calls c2 = calls_now();
        const auto t2 = clock::now();
        const auto f2 = run_ops(ctx, mixed_run(), kSeed);
        Calls c3 = calls_now();
        const auto t3 = clock::now();
        const auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
        std::printf("fault injection: context creation %.2f s, cold mixed run %.2f s (%zu pipelines, %.2f s compiling), "
                    "warm mixed run %.2f s\n", secs(t0, t1), secs(t1, t2), ctx.pipeline_count(), ctx.pipeline_compile_seconds(),
                    secs(t2, t3));
        EXPECT_TRUE(f1.empty() && f2.empty()) << "the mixed run fails without any fault: " << (f1.empty() ? f2 : f1)[0];
        r.create = c1 - c0, r.cold = c2 - c1, r.warm = c3 - c2;
        std::printf("fault injection: calls per site (context creation / cold mixed run / warm mixed run):\n");
        for (Site s : fault::kAllSites)
            std::printf("  %-8s %3llu / %3llu / %3llu\n", fault::site_name(s), static_cast<unsigned long long>(at(r.create, s)),
                        static_cast<unsigned long long>(at(r.cold, s)), static_cast<unsigned long long>(at(r.warm, s)));
        return r;
    }();
    return p;
}

// Runs the mixed run on `ctx` expecting `site` (armed by the caller) to fail it. Returns false (with
// gtest failures recorded) when it did not fail exactly as a real failure of that call would.
bool expect_injected_failure(Context& ctx, Site site, VkResult result, uint64_t nth) {
    const uint64_t injected_before = fault::injected();
    bool threw = false;
    try {
        run_ops(ctx, mixed_run(), kSeed + nth);
    } catch (const Error& e) {
        threw = true;
        EXPECT_EQ(e.code(), expected_code(result)) << fault::site_name(site) << ":" << nth << ": " << e.what();
        EXPECT_NE(e.message().find(function_of(site)), std::string::npos)
            << fault::site_name(site) << ":" << nth << ": the message does not name " << function_of(site) << ": " << e.what();
        EXPECT_FALSE(e.message().empty());
    }
    fault::disarm();
    EXPECT_TRUE(threw) << fault::site_name(site) << ":" << nth << ": the injected failure did not surface as vkattn::Error";
    EXPECT_EQ(fault::injected(), injected_before + 1) << fault::site_name(site) << ":" << nth << ": the armed call was not reached";
    return threw && !::testing::Test::HasFailure();
}

void expect_same_objects(const LiveObjects& before, const LiveObjects& after, const std::string& where) {
    EXPECT_TRUE(after == before) << where << ": leaked or lost objects\n  before: " << before.to_string() << "\n  after:  " << after.to_string();
}

void print_tally(const char* what, Site site, uint64_t points, uint64_t survived) {
    std::printf("fault injection: %-28s site %-8s %3llu fault points, %3llu survived\n", what, fault::site_name(site),
                static_cast<unsigned long long>(points), static_cast<unsigned long long>(survived));
}

class FaultInjection : public ::testing::Test {
protected:
    void SetUp() override {
        fault::disarm();
        (void)profile();
        baseline_ = live_objects();
    }
    void TearDown() override {
        fault::disarm();
        expect_same_objects(baseline_, live_objects(), "after the test, with every context destroyed");
    }
    LiveObjects baseline_;
};

TEST_F(FaultInjection, SpecStringsParseOrNameTheBadEntry) {
    EXPECT_NO_THROW(fault::arm_from_spec("alloc:3,pipeline:1"));
    fault::disarm();
    for (const char* bad : {"alloc", "alloc:0", "alloc:x", "nosuch:1", "alloc:1,", ""}) {
        try {
            fault::arm_from_spec(bad);
            ADD_FAILURE() << "'" << bad << "' was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << bad;
            EXPECT_NE(e.message().find("VKATTN_FAULT"), std::string::npos) << e.message();
        }
        fault::disarm();
    }
}

// A failure while a Context is being created: the constructor throws and releases everything.
// (No pipeline cache directory: with a cache file, a failed vkCreatePipelineCache is retried without
// its data, tested below.)
TEST_F(FaultInjection, ContextCreationFailsCleanly) {
    const Profile& p = profile();
    uint64_t points = 0;
    for (Site site : {Site::init, Site::cache, Site::alloc, Site::buffer, Site::map}) {
        uint64_t survived = 0;
        for (uint64_t n = 1; n <= at(p.create, site); ++n) {
            const LiveObjects before = live_objects();
            MessageLog log;
            ContextOptions options = reliability_options(log, kForceStaging);
            options.pipeline_cache_dir = "none";
            fault::arm(site, n);
            try {
                Context ctx(options);
                ADD_FAILURE() << fault::site_name(site) << ":" << n << ": the context was created";
            } catch (const Error& e) {
                const bool right = e.code() == expected_code(fault::default_result(site)) &&
                                   e.message().find(function_of(site)) != std::string::npos;
                EXPECT_TRUE(right) << e.what();
                survived += right && live_objects() == before;
            }
            fault::disarm();
            expect_same_objects(before, live_objects(), std::string(fault::site_name(site)) + ":" + std::to_string(n));
            EXPECT_EQ(log.joined(), "");
        }
        print_tally("context creation", site, at(p.create, site), survived);
        EXPECT_EQ(survived, at(p.create, site));
        points += at(p.create, site);
    }
    EXPECT_GT(points, 0u);
    // And a context created afterwards works.
    MessageLog log;
    Context ctx(reliability_options(log, kForceStaging));
    EXPECT_TRUE(run_ops(ctx, {mixed_run()[0]}, kSeed).empty());
}

// A pipeline cache file the driver refuses must not stop the engine: the cache is created empty.
TEST_F(FaultInjection, RefusedPipelineCacheFileFallsBackToAnEmptyCache) {
    const std::string dir = ::testing::TempDir() + "vkattn_fault_cache";
    MessageLog log;
    ContextOptions options = reliability_options(log, kForceStaging);
    options.pipeline_cache_dir = dir;
    {
        // A pipeline built first, so that the driver has cache data to write (an unused cache may be
        // empty, and this test would then be skipped on every driver).
        Context writes_the_file(options);
        EXPECT_TRUE(run_ops(writes_the_file, {mixed_run()[0]}, kSeed).empty());
    }
    {
        Context ctx(options);
        if (!detail::state_of(ctx).pipeline_cache->loaded_from_disk()) GTEST_SKIP() << "the driver wrote no pipeline cache data to reload";
    }
    fault::arm(Site::cache, 1);
    Context ctx(options);
    fault::disarm();
    EXPECT_FALSE(detail::state_of(ctx).pipeline_cache->loaded_from_disk());
    EXPECT_TRUE(run_ops(ctx, {mixed_run()[0]}, kSeed).empty());
    print_tally("cache file refused", Site::cache, 1, 1);
}

// Failures a context recovers from: every call at each site of a warm mixed run fails in turn on the
// SAME context, which must then run the whole mixed run correctly.
TEST_F(FaultInjection, EveryRecoverableFailureOnOneContext) {
    const Profile& p = profile();
    MessageLog log;
    Context ctx(reliability_options(log, kForceStaging));
    ASSERT_TRUE(run_ops(ctx, mixed_run(), kSeed).empty());  // warm: pipelines built
    LiveObjects warm = live_objects();
    uint64_t total = 0;
    for (Site site : {Site::alloc, Site::buffer, Site::map, Site::dpool, Site::dset, Site::cmdbuf, Site::submit}) {
        uint64_t survived = 0;
        if (site == Site::dpool) {
            // The zero rule (docs/embedding.md): a warm context resets its descriptor pool instead of
            // creating one. Pools are created by fresh recording resources: a new Batch's first call.
            EXPECT_EQ(at(p.warm, site), 0u) << "a warm mixed run created descriptor pools";
            {
                Batch batch(ctx);
                const Tensor x = ctx.upload(std::vector<float>(2 * 3 * 8, 0.5f), {1, 2, 3, 8});
                fault::arm(site, 1);
                bool threw = false;
                try {
                    batch.attention(x, x, x);
                } catch (const Error& e) {
                    threw = e.message().find(function_of(site)) != std::string::npos;
                    EXPECT_TRUE(threw) << e.what();
                }
                fault::disarm();
                EXPECT_TRUE(threw) << "a new batch's first call did not create a descriptor pool";
                EXPECT_EQ(batch.size(), 0u);
                const AttentionResult r = batch.attention(x, x, x);  // the batch works after the failure
                ctx.wait(batch.submit());
                survived += threw && r.out.download<float>() == attention(ctx, x, x, x).download<float>();
            }
            // What the completed batch held (command buffer, fence, ring, descriptor pool) is kept for the
            // next batch, as pipelines are: part of the warm context from now on.
            warm = live_objects();
            print_tally("a new batch's first call", site, 1, survived);
            EXPECT_EQ(survived, 1u);
            total += survived;
            continue;
        }
        EXPECT_GT(at(p.warm, site), 0u) << fault::site_name(site) << " is never called in the mixed run";
        for (uint64_t n = 1; n <= at(p.warm, site); ++n) {
            const std::string where = std::string(fault::site_name(site)) + ":" + std::to_string(n);
            fault::arm(site, n);
            const bool failed_right = expect_injected_failure(ctx, site, fault::default_result(site), n);
            expect_same_objects(warm, live_objects(), where + " after the failure");
            const auto failures = run_ops(ctx, mixed_run(), kSeed + 1000 + n);
            EXPECT_TRUE(failures.empty()) << where << ": the context computes wrong results after the failure: " << failures[0];
            expect_same_objects(warm, live_objects(), where + " after the next mixed run");
            if (failed_right && failures.empty() && live_objects() == warm) ++survived;
            if (::testing::Test::HasFatalFailure()) return;
        }
        print_tally("one warm context", site, at(p.warm, site), survived);
        EXPECT_EQ(survived, at(p.warm, site)) << fault::site_name(site);
        total += survived;
    }
    EXPECT_EQ(ctx.validation_message_count(), 0u) << log.joined();
    std::printf("fault injection: %llu recoverable faults survived on one context\n", static_cast<unsigned long long>(total));
}

// Pipeline and shader-module creation happen once per context, and each pipeline costs seconds of
// LLVM compilation on lavapipe (whose VkPipelineCache does not persist code), so they are injected
// along one cold context: the k-th shader module fails, then the k-th pipeline, then a run builds
// the k-th pipeline (checking every op it completes against the reference) and stops at the next
// shader module, armed in turn. Each failure must leave exactly the pipelines built before it.
TEST_F(FaultInjection, EveryPipelineCreationFailureAlongOneColdContext) {
    const Profile& p = profile();
    const uint64_t P = at(p.cold, Site::pipeline);
    ASSERT_EQ(at(p.cold, Site::shader), P);
    ASSERT_GT(P, 0u);
    MessageLog log;
    Context ctx(reliability_options(log, kForceStaging));
    uint64_t survived[2] = {0, 0};  // shader, pipeline
    LiveObjects before = live_objects();

    // One run that must fail at `site` with `built` pipelines kept; returns the ops it verified.
    const auto failing_run = [&](Site site, uint64_t nth, uint64_t built, const std::string& where) {
        fault::arm(site, nth);
        RunRecord rec;
        bool threw = false;
        try {
            run_ops(ctx, mixed_run(), kSeed + 4000 + built, &rec);
        } catch (const Error& e) {
            threw = true;
            EXPECT_EQ(e.code(), expected_code(fault::default_result(site))) << where << ": " << e.what();
            EXPECT_NE(e.message().find(function_of(site)), std::string::npos) << where << ": " << e.what();
        }
        fault::disarm();
        EXPECT_TRUE(threw) << where << ": no error";
        EXPECT_TRUE(rec.failures.empty()) << where << ": " << rec.failures[0];
        EXPECT_EQ(ctx.pipeline_count(), built) << where;
        LiveObjects expected = before;
        expected.objects[static_cast<std::size_t>(ObjectKind::pipeline)] += static_cast<int64_t>(built);
        expect_same_objects(expected, live_objects(), where);
        return threw && rec.failures.empty() && ctx.pipeline_count() == built && live_objects() == expected ? rec.passed : SIZE_MAX;
    };

    std::size_t verified = failing_run(Site::shader, 1, 0, "shader:1");
    survived[0] += verified != SIZE_MAX;
    for (uint64_t k = 1; k <= P; ++k) {
        const std::string pk = "pipeline:" + std::to_string(k);
        verified = failing_run(Site::pipeline, 1, k - 1, pk);
        // The ops before the one needing pipeline k ran and matched the reference after the shader failure.
        if (k > 1) EXPECT_GE(verified, 1u) << pk;
        // The k-th pipeline builds; the run stops at the next shader module (the last run completes).
        if (k < P) {
            const std::size_t next = failing_run(Site::shader, 2, k, "shader:" + std::to_string(k + 1));
            EXPECT_GE(next, 1u) << "after " << pk << ": no op verified on the same context";
            survived[0] += next != SIZE_MAX;
            survived[1] += verified != SIZE_MAX && next != SIZE_MAX && next >= 1;
        } else {
            RunRecord rec;
            EXPECT_NO_THROW(run_ops(ctx, mixed_run(), kSeed + 5000, &rec));
            EXPECT_EQ(rec.passed, mixed_run().size()) << (rec.failures.empty() ? "" : rec.failures[0]);
            survived[1] += verified != SIZE_MAX && rec.passed == mixed_run().size();
        }
    }
    EXPECT_EQ(ctx.pipeline_count(), P);
    EXPECT_EQ(ctx.validation_message_count(), 0u) << log.joined();
    print_tally("along one cold context", Site::shader, P, survived[0]);
    print_tally("along one cold context", Site::pipeline, P, survived[1]);
    EXPECT_EQ(survived[0], P);
    EXPECT_EQ(survived[1], P);
}

// Every later call on a lost context throws device_lost with a message saying so. Returns false
// when one did not.
bool expect_lost_everywhere(Context& ctx, const Tensor& keep, const std::string& where) {
    const std::vector<float> ones(16, 1.0f);
    bool all = true;
    const auto expect_lost = [&](const char* call, const std::function<void()>& f) {
        try {
            f();
            ADD_FAILURE() << where << ": " << call << " ran on a lost context";
            all = false;
        } catch (const Error& e) {
            const bool right = e.code() == ErrorCode::device_lost && e.message().find("lost") != std::string::npos &&
                               e.message().find("create a new Context") != std::string::npos;
            EXPECT_TRUE(right) << where << ": " << call << ": " << e.what();
            all = all && right;
        }
    };
    expect_lost("empty", [&] { ctx.empty({4}, DType::f32); });
    expect_lost("upload", [&] { ctx.upload(ones, {16}); });
    expect_lost("download", [&] { keep.download<float>(); });
    expect_lost("fill_bytes", [&] { testing::fill_bytes(keep, 0); });
    expect_lost("attention", [&] { attention(ctx, keep, keep, keep); });
    expect_lost("plan_attention", [&] { plan_attention(ctx, keep, keep, keep); });
    expect_lost("the mixed run", [&] { run_ops(ctx, mixed_run(), kSeed); });
    return all;
}

// Runs the mixed run with a device loss at the n-th call of `site`; checks the error, that every
// later call fails as lost, and that the failed run freed everything it had allocated.
bool lose_device(Context& ctx, const Tensor& keep, Site site, uint64_t n, const std::string& where) {
    LiveObjects before = live_objects();
    const std::size_t pipelines_before = ctx.pipeline_count();
    fault::arm(site, n, VK_ERROR_DEVICE_LOST);
    bool right = false;
    try {
        run_ops(ctx, mixed_run(), kSeed + 3000 + n);
        ADD_FAILURE() << where << ": no error";
    } catch (const Error& e) {
        right = e.code() == ErrorCode::device_lost && e.message().find(function_of(site)) != std::string::npos &&
                e.message().find("must be recreated") != std::string::npos;
        EXPECT_TRUE(right) << where << ": " << e.what();
    }
    fault::disarm();
    const bool later = expect_lost_everywhere(ctx, keep, where);
    // Pipelines built before the loss stay with the context; everything else the run made is freed.
    before.objects[static_cast<std::size_t>(ObjectKind::pipeline)] += static_cast<int64_t>(ctx.pipeline_count() - pipelines_before);
    expect_same_objects(before, live_objects(), where + " while lost");
    return right && later && live_objects() == before;
}

// A device loss (VK_ERROR_DEVICE_LOST from the n-th vkQueueSubmit, or from the fence wait after the
// n-th submission) at every n of a warm mixed run. Building a new context for each n would recompile
// every pipeline, so after each checked loss the test revives the context through the test-only
// ContextState::revive_after_injected_loss (the real device is intact) and checks that it computes
// correctly again. Separately, contexts lost at the first and last point are destroyed while lost.
TEST_F(FaultInjection, DeviceLostAtEverySubmitAndFenceWait) {
    const Profile& p = profile();
    MessageLog log;
    uint64_t total = 0;
    {
        Context ctx(reliability_options(log, kForceStaging));
        ASSERT_TRUE(run_ops(ctx, mixed_run(), kSeed).empty());
        const Tensor keep = ctx.upload(std::vector<float>(16, 1.0f), {1, 1, 1, 16});
        for (Site site : {Site::lost, Site::submit}) {
            uint64_t survived = 0;
            for (uint64_t n = 1; n <= at(p.warm, site); ++n) {
                const std::string where = std::string(fault::site_name(site)) + "=VK_ERROR_DEVICE_LOST:" + std::to_string(n);
                const bool right = lose_device(ctx, keep, site, n, where);
                detail::state_of(ctx).revive_after_injected_loss();
                const auto failures = run_ops(ctx, mixed_run(), kSeed + 6000 + n);
                EXPECT_TRUE(failures.empty()) << where << ", revived: " << failures[0];
                survived += right && failures.empty();
            }
            print_tally("device lost, revived", site, at(p.warm, site), survived);
            EXPECT_EQ(survived, at(p.warm, site));
            total += survived;
        }
        EXPECT_EQ(ctx.validation_message_count(), 0u) << log.joined();
    }
    // A lost context and its tensors are destroyed without leaks, and a new context works.
    for (const auto& [site, n] : {std::pair{Site::lost, uint64_t{1}}, std::pair{Site::submit, uint64_t{1}},
                                  std::pair{Site::lost, at(p.warm, Site::lost)}}) {
        const std::string where = std::string(fault::site_name(site)) + "=VK_ERROR_DEVICE_LOST:" + std::to_string(n) + ", destroyed";
        const LiveObjects outside = live_objects();
        {
            Context ctx(reliability_options(log, kForceStaging));
            const Tensor keep = ctx.upload(std::vector<float>(16, 1.0f), {1, 1, 1, 16});
            EXPECT_TRUE(lose_device(ctx, keep, site, n, where));
            try {
                detail::state_of(ctx).revive_after_injected_loss();
            } catch (...) {
                ADD_FAILURE() << "an injected loss could not be revived";
            }
            lose_device(ctx, keep, Site::lost, 1, where + ", again");
        }
        expect_same_objects(outside, live_objects(), where);
    }
    MessageLog fresh_log;
    Context ctx(reliability_options(fresh_log, kForceStaging));
    EXPECT_TRUE(run_ops(ctx, {mixed_run()[0]}, kSeed).empty());
    std::printf("fault injection: %llu device losses survived\n", static_cast<unsigned long long>(total));
}

}  // namespace
}  // namespace vkattn::reliability
