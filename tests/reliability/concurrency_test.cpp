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

#include "common/application.hpp"
#include "testing/fault_injection.hpp"
#include "vkattn/embedding.hpp"
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

// An adopted queue shared with the application (docs/embedding.md, "Threads"): the application's own
// thread submits its work under its queue mutex while three threads use vkattn on the same context —
// synchronous calls, batches, and record_attention into command buffers of their own that they submit
// under the mutex. Every result matches; the application's validation layer, whose thread-safety
// checks report two threads using one VkQueue at once, stays silent; scripts/ci/tsan.sh runs it under
// ThreadSanitizer (without the layer, which is not instrumented). Planted fault, seen: without
// adopted.queue_mutex the layer reports UNASSIGNED-Threading-MultipleThreads on vkQueueSubmit.
TEST(AdoptedQueueConcurrency, ApplicationAndVkattnSubmitUnderTheApplicationsMutex) {
    const bool validation = !std::getenv("VKATTN_RELIABILITY_NO_VALIDATION");
    const int rounds = env_int("VKATTN_CONCURRENCY_OPS", 100) / 10 + 2;
    test::Application app(/*enable_float16=*/false, validation);
    std::mutex queue_mutex;
    Failures failures;
    {
        AdoptedDevice adopted = app.adopted();
        adopted.queue_mutex = &queue_mutex;
        Context ctx(adopted);
        std::vector<float> values(1 * 4 * 9 * 16);
        for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 13) * 0.05f - 0.3f;
        const Tensor q = ctx.upload(values, {1, 4, 9, 16});
        const std::vector<float> want = attention(ctx, q, q, q).download<float>();

        // A command pool and fence per thread (pools are externally synchronised), submissions under the mutex.
        struct ThreadQueue {
            VkDevice device;
            VkQueue queue;
            std::mutex& mutex;
            VkCommandPool pool = VK_NULL_HANDLE;
            VkFence fence = VK_NULL_HANDLE;
            ThreadQueue(const test::Application& a, std::mutex& m) : device(a.device), queue(a.queue), mutex(m) {
                VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
                pi.queueFamilyIndex = a.family;
                vkCreateCommandPool(device, &pi, nullptr, &pool);
                VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
                vkCreateFence(device, &fi, nullptr, &fence);
            }
            ~ThreadQueue() {
                vkDestroyFence(device, fence, nullptr);
                vkDestroyCommandPool(device, pool, nullptr);
            }
            VkCommandBuffer begin() {
                vkResetCommandPool(device, pool, 0);
                VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
                ai.commandPool = pool;
                ai.commandBufferCount = 1;
                VkCommandBuffer cmd = VK_NULL_HANDLE;
                vkAllocateCommandBuffers(device, &ai, &cmd);
                VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
                vkBeginCommandBuffer(cmd, &bi);
                return cmd;
            }
            void submit_and_wait(VkCommandBuffer cmd) {
                VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
                to_host.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
                to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
                vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                                     0, 1, &to_host, 0, nullptr, 0, nullptr);
                vkEndCommandBuffer(cmd);
                VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
                si.commandBufferCount = 1;
                si.pCommandBuffers = &cmd;
                {
                    std::lock_guard lock(mutex);
                    vkQueueSubmit(queue, 1, &si, fence);
                }
                vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX);
                vkResetFences(device, 1, &fence);
            }
        };

        std::vector<std::thread> threads;
        // The application: its own transfer work on its own buffer, 10 submissions a round.
        threads.emplace_back([&] {
            test::AppBuffer scratch;
            app.make_buffer(scratch, 4096, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT);
            ThreadQueue tq(app, queue_mutex);
            for (int i = 0; i < rounds * 10; ++i) {
                VkCommandBuffer cmd = tq.begin();
                vkCmdFillBuffer(cmd, scratch.buffer, 0, VK_WHOLE_SIZE, static_cast<uint32_t>(i));
                tq.submit_and_wait(cmd);
                if (static_cast<uint32_t*>(scratch.mapped)[1023] != static_cast<uint32_t>(i)) failures.add("application fill lost");
            }
        });
        threads.emplace_back([&] {  // synchronous calls
            for (int i = 0; i < rounds; ++i)
                if (attention(ctx, q, q, q).download<float>() != want) failures.add("synchronous call differs");
        });
        threads.emplace_back([&] {  // batches of three
            Batch batch(ctx);
            for (int i = 0; i < rounds; ++i) {
                std::vector<Tensor> outs;
                for (int j = 0; j < 3; ++j) outs.push_back(batch.attention(q, q, q).out);
                ctx.wait(batch.submit());
                for (const Tensor& o : outs)
                    if (o.download<float>() != want) failures.add("batched call differs");
            }
        });
        threads.emplace_back([&] {  // recorded into this thread's own command buffers
            test::AppBuffer out;
            app.make_buffer(out, want.size() * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT);
            AttentionOptions o;
            o.out = wrap_buffer(ctx, out.app(), 0, {1, 4, 9, 16}, DType::f32);
            Workspace ws(ctx, std::max<VkDeviceSize>(16, attention_workspace_size(ctx, q, q, q, o)));
            ThreadQueue tq(app, queue_mutex);
            for (int i = 0; i < rounds; ++i) {
                std::fill(out.floats(), out.floats() + want.size(), -1.0f);
                ws.reset();
                VkCommandBuffer cmd = tq.begin();
                record_attention(ctx, cmd, ws, q, q, q, o);
                tq.submit_and_wait(cmd);
                if (!std::equal(want.begin(), want.end(), out.floats())) failures.add("recorded call differs");
            }
        });
        for (std::thread& t : threads) t.join();
    }
    app.destroy_device();
    EXPECT_TRUE(failures.messages.empty()) << failures.messages.size() << " failures, first: " << failures.messages[0];
    EXPECT_EQ(app.messages, 0) << "the application's validation layer reported messages";
}

INSTANTIATE_TEST_SUITE_P(Transfers, Concurrency, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Staged") : std::string("Mapped"); });

}  // namespace
}  // namespace vkattn::reliability
