// One Context shared by 8 threads, 100 mixed operations each (shapes, masks, dtypes, paths, f16
// output, strided inputs, decode), every result checked against the CPU reference. The threads also
// share input tensors (read concurrently by kernels and downloads), and a ninth thread polls the
// context's counters all along. Pipelines are built while the threads race for them (each context starts cold).
// Run under ThreadSanitizer by scripts/ci/tsan.sh.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "testing/fault_injection.hpp"
#include "testing/object_counters.hpp"
#include "reliability_support.hpp"

namespace vkattn::reliability {
namespace {

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}

struct Failures {
    std::mutex mutex;
    std::vector<std::string> messages;
    void add(std::string m) {
        std::lock_guard lock(mutex);
        messages.push_back(std::move(m));
    }
};

class Concurrency : public ::testing::TestWithParam<bool> {};

TEST_P(Concurrency, EightThreadsShareOneContext) {
    const bool force_staging = GetParam();
    const int threads = env_int("VKATTN_CONCURRENCY_THREADS", 8);
    const int per_thread = env_int("VKATTN_CONCURRENCY_OPS", 100);
    const detail::LiveObjects outside = detail::live_objects();
    const auto start = std::chrono::steady_clock::now();
    std::atomic<int> ran{0};
    Failures failures;
    {
        MessageLog log;
        Context ctx(reliability_options(log, force_staging));
        const std::vector<Op> ops = thread_safe_ops();
        // Tensors every thread reads: kernels bind them and downloads copy them at the same time.
        std::vector<float> shared_values(2 * 2 * 24 * 16);
        for (std::size_t i = 0; i < shared_values.size(); ++i) shared_values[i] = static_cast<float>(i % 97) * 0.01f - 0.4f;
        const Tensor shared = ctx.upload(shared_values, {2, 2, 24, 16});
        AttentionOptions shared_options;
        shared_options.causal = Causal::top_left;
        const std::vector<float> shared_out = attention(ctx, shared, shared, shared, shared_options).download<float>();

        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                for (int i = 0; i < per_thread; ++i) {
                    const uint64_t seed = 7000000 + static_cast<uint64_t>(t) * 1000 + static_cast<uint64_t>(i);
                    try {
                        if (i % 10 == 9) {
                            // The shared tensors: same inputs, so the same output bit for bit.
                            if (shared.download<float>() != shared_values) failures.add("shared input changed");
                            if (attention(ctx, shared, shared, shared, shared_options).download<float>() != shared_out)
                                failures.add("thread " + std::to_string(t) + ": shared attention result differs");
                            (void)plan_attention(ctx, shared, shared, shared);
                            (void)ctx.pipeline_count();
                            (void)ctx.pipeline_compile_seconds();
                            (void)ctx.validation_message_count();
                        } else {
                            const Op& op = ops[static_cast<std::size_t>(t * 3 + i) % ops.size()];
                            const OpOutcome r = run_op(ctx, op, seed);
                            if (!r.passed) failures.add("thread " + std::to_string(t) + ": " + r.message);
                        }
                    } catch (const std::exception& e) {
                        failures.add("thread " + std::to_string(t) + " op " + std::to_string(i) + ": " + e.what());
                    }
                    ran.fetch_add(1);
                }
            });
        // A monitoring thread that only reads the context's counters while the others run.
        std::atomic<bool> done{false};
        std::thread monitor([&] {
            std::size_t polls = 0;
            while (!done.load()) {
                (void)ctx.pipeline_count();
                (void)ctx.pipeline_compile_seconds();
                (void)ctx.validation_message_count();
                (void)detail::live_objects();
                ++polls;
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
            EXPECT_GT(polls, 0u);
        });
        for (auto& th : pool) th.join();
        done.store(true);
        monitor.join();
        EXPECT_EQ(ctx.validation_message_count(), 0u) << log.joined();
        std::printf("concurrency: %d threads x %d operations = %d on one context (%s), %zu pipelines, %.1f s\n", threads,
                    per_thread, ran.load(), force_staging ? "staged transfers" : "mapped transfers", ctx.pipeline_count(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    EXPECT_EQ(ran.load(), threads * per_thread);
    EXPECT_TRUE(failures.messages.empty()) << failures.messages.size() << " failures, first: " << failures.messages[0];
    EXPECT_TRUE(detail::live_objects() == outside) << "leaked: " << detail::live_objects().to_string();
}

// A device loss (injected at the next fence wait) while 8 threads run: every thread ends with
// ErrorCode::device_lost, never another error, a hang or a wrong result, and every later call of
// each thread fails the same way; destroying the context then frees everything.
TEST(ConcurrentLoss, EveryThreadSeesTheLoss) {
    const detail::LiveObjects outside = detail::live_objects();
    Failures failures;
    std::atomic<int> ran{0}, lost{0};
    {
        MessageLog log;
        Context ctx(reliability_options(log, false));
        const Op op = thread_safe_ops()[0];
        ASSERT_TRUE(run_op(ctx, op, 1).passed);  // builds its pipeline before the threads start
        std::vector<std::thread> pool;
        for (int t = 0; t < 8; ++t)
            pool.emplace_back([&, t] {
                for (int i = 0; i < 2000; ++i) {
                    try {
                        const OpOutcome r = run_op(ctx, op, 9000000 + static_cast<uint64_t>(t) * 10000 + static_cast<uint64_t>(i));
                        if (!r.passed) failures.add("thread " + std::to_string(t) + ": " + r.message);
                        ran.fetch_add(1);
                    } catch (const Error& e) {
                        if (e.code() != ErrorCode::device_lost) failures.add("thread " + std::to_string(t) + ": " + e.what());
                        try {
                            (void)ctx.empty({4}, DType::f32);
                            failures.add("thread " + std::to_string(t) + ": empty() ran after the loss");
                        } catch (const Error& again) {
                            if (again.code() != ErrorCode::device_lost) failures.add(again.what());
                        }
                        lost.fetch_add(1);
                        return;
                    }
                }
                failures.add("thread " + std::to_string(t) + ": never saw the loss");
            });
        while (ran.load() < 40) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        detail::fault::arm(detail::fault::Site::lost, 1);
        for (auto& th : pool) th.join();
        detail::fault::disarm();
        EXPECT_EQ(ctx.validation_message_count(), 0u) << log.joined();
    }
    std::printf("concurrency: device lost after %d operations; %d of 8 threads saw device_lost\n", ran.load(), lost.load());
    EXPECT_EQ(lost.load(), 8);
    EXPECT_TRUE(failures.messages.empty()) << failures.messages.size() << " failures, first: " << failures.messages[0];
    EXPECT_TRUE(detail::live_objects() == outside) << "leaked: " << detail::live_objects().to_string();
}

INSTANTIATE_TEST_SUITE_P(Transfers, Concurrency, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Staged") : std::string("Mapped"); });

}  // namespace
}  // namespace vkattn::reliability
