// Batches and tickets (vkattn/batch.hpp), and the steady-state rule of issue 12: after warm-up, a
// repeated operation performs no vkAllocateMemory, creates no descriptor pool or pipeline, and waits
// only when the caller asks.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "common/attention_data.hpp"
#include "testing/test_switches.hpp"
#include "test_support.hpp"
#include "vkattn/vkattn.hpp"

namespace vkattn::test {
namespace {

std::vector<float> values(std::size_t n, uint32_t seed) { return test::normal_values(n, seed); }

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

// The differences between two snapshots of the counters.
struct Delta {
    uint64_t allocations, pools, pipelines, submissions, waits;
};
Delta operator-(const ContextStats& a, const ContextStats& b) {
    return {a.memory_allocations - b.memory_allocations, a.descriptor_pools - b.descriptor_pools, a.pipelines - b.pipelines,
            a.submissions - b.submissions, a.waits - b.waits};
}

// Poisoning new tensors (the suite's default) is a submission and a wait per tensor: off while the
// host work of a steady state is counted, back on after.
class WithoutPoison {
public:
    explicit WithoutPoison(Context& ctx) : ctx_(ctx), saved_(testing::switches_of(ctx)) {
        testing::TestSwitches s = saved_;
        s.poison_allocations = false;
        testing::apply(ctx_, s);
    }
    ~WithoutPoison() { testing::apply(ctx_, saved_); }

private:
    Context& ctx_;
    testing::TestSwitches saved_;
};

// Three kinds of operation queued in one batch give the bits of the synchronous calls; one submission,
// no wait until Context::wait.
TEST(Batch, QueuedOperationsGiveTheSynchronousBitsInOneSubmission) {
    Context& ctx = context();
    const Tensor q = ctx.upload(values(2 * 4 * 5 * 16, 1), {2, 4, 5, 16});
    const Tensor k = ctx.upload(values(2 * 2 * 37 * 16, 2), {2, 2, 37, 16});
    const Tensor qh = ctx.upload(values(1 * 8 * 1 * 64, 3), {1, 8, 1, 64}, DType::f16);
    const Tensor kh = ctx.upload(values(1 * 2 * 300 * 64, 4), {1, 2, 300, 64}, DType::f16);
    AttentionOptions causal;
    causal.causal = Causal::bottom_right;
    causal.key_lengths = {37, 20};
    AttentionOptions lse;
    lse.return_lse = true;
    const std::vector<float> want1 = attention(ctx, q, k, k, causal).download<float>();
    const AttentionResult want2 = attention_full(ctx, qh, kh, kh, lse);
    KvCacheOptions co;
    co.kv_heads = 2, co.capacity = 64, co.head_dim = 64;
    KvCache sync_cache(ctx, co), batch_cache(ctx, co);
    const Tensor kn = ctx.upload(values(2 * 9 * 64, 5), {1, 2, 9, 64}, DType::f16);
    sync_cache.append(kn, kn);
    const std::vector<uint16_t> want3 = attend(ctx, qh, sync_cache).out.download<uint16_t>();

    Batch batch(ctx);
    const ContextStats before = ctx.stats();
    const AttentionResult r1 = batch.attention(q, k, k, causal);
    const AttentionResult r2 = batch.attention(qh, kh, kh, lse);
    batch.append(batch_cache, kn, kn);
    EXPECT_EQ(batch_cache.lengths(), sync_cache.lengths()) << "a queued append advances the lengths at once";
    const AttentionResult r3 = batch.attend(qh, batch_cache);
    EXPECT_EQ(batch.size(), 4u);
    // (The suite poisons every new tensor, a submission and a wait each: those are all that happen.)
    const ContextStats queued = ctx.stats();
    EXPECT_EQ((queued - before).submissions, (queued - before).waits) << "only the poisoning fills ran before submit()";
    const Ticket t = batch.submit();
    EXPECT_EQ(batch.size(), 0u);
    const Delta submitted = ctx.stats() - queued;
    EXPECT_EQ(submitted.submissions, 1u);
    EXPECT_EQ(submitted.waits, 0u) << "submit() does not wait";
    ctx.wait(t);
    const Delta waited = ctx.stats() - queued;
    EXPECT_TRUE(ctx.completed(t));
    EXPECT_EQ(waited.waits - submitted.waits, 1u) << "one wait for the one submission";
    EXPECT_EQ(r1.out.download<float>(), want1);
    EXPECT_EQ(r2.out.download<uint16_t>(), want2.out.download<uint16_t>());
    ASSERT_TRUE(r2.lse && want2.lse);
    EXPECT_EQ(r2.lse->download<float>(), want2.lse->download<float>());
    EXPECT_EQ(r3.out.download<uint16_t>(), want3);
}

// Tickets: later ones cover earlier ones; a foreign value is refused naming the ticket; a failed
// operation queues nothing and the batch goes on; a batch outlives the Context object it was made with
// being moved.
TEST(Batch, TicketsOrderAndErrorsLeaveTheBatchUsable) {
    Context& ctx = context();
    const Tensor q = ctx.upload(values(1 * 2 * 3 * 8, 6), {1, 2, 3, 8});
    const Tensor bad = ctx.upload(values(1 * 2 * 3 * 4, 7), {1, 2, 3, 4});
    Batch batch(ctx);
    const AttentionResult a = batch.attention(q, q, q);
    const Ticket first = batch.submit();
    EXPECT_NE(error_of([&] { batch.attention(q, bad, q); }).find("k:"), std::string::npos);
    EXPECT_EQ(batch.size(), 0u) << "the failed call queued nothing";
    AttentionOptions timed;
    timed.measure_time = true;
    EXPECT_NE(error_of([&] { batch.attention(q, q, q, timed); }).find("measure_time:"), std::string::npos);
    const AttentionResult b = batch.attention(q, q, q);
    const Ticket second = batch.submit();
    EXPECT_GT(second.value, first.value);
    ctx.wait(second);
    EXPECT_TRUE(ctx.completed(first)) << "waiting for a ticket waits for every earlier one";
    EXPECT_EQ(a.out.download<float>(), b.out.download<float>());
    ctx.wait(Ticket{});  // always complete
    EXPECT_EQ(batch.submit().value, second.value) << "an empty batch submits nothing";
    EXPECT_NE(error_of([&] { ctx.wait(Ticket{second.value + 1000}); }).find("ticket: "), std::string::npos);

    Context own(test_context_options());
    Batch on_own(own);
    Context moved = std::move(own);
    const Tensor q2 = moved.upload(values(1 * 2 * 3 * 8, 6), {1, 2, 3, 8});
    const AttentionResult c = on_own.attention(q2, q2, q2);
    moved.wait(on_own.submit());
    EXPECT_EQ(c.out.download<float>(), a.out.download<float>());
    // Submitted and never waited for: destroying the Context waits for it and frees everything.
    on_own.attention(q2, q2, q2);
    on_own.submit();
}

// The zero rule over 1,000 decode steps of a KvCache (f16, Hq 8, Hkv 2, D 64, out into a tensor the
// caller keeps): synchronous calls, and a batch per step. After warm-up: no allocation, no descriptor
// pool, no pipeline; exactly one wait per submission, and a batch is one submission per step.
TEST(Batch, ZeroAllocationOverAThousandDecodeSteps) {
    Context& ctx = context();
    WithoutPoison plain(ctx);
    const int64_t steps = 1000, Hq = 8, Hkv = 2, D = 64;
    KvCacheOptions co;
    co.kv_heads = Hkv, co.capacity = 2 * steps + 8, co.head_dim = D;
    KvCache cache(ctx, co);
    const Tensor q = ctx.upload(values(Hq * D, 8), {1, Hq, 1, D}, DType::f16);
    const Tensor kn = ctx.upload(values(Hkv * D, 9), {1, Hkv, 1, D}, DType::f16);
    AttentionOptions o;
    o.out = ctx.empty({1, Hq, 1, D}, DType::f16);
    for (int i = 0; i < 4; ++i) {  // warm-up: pipelines, the parameter ring, descriptor pools, memory blocks
        cache.append(kn, kn);
        attend(ctx, q, cache, o);
    }
    const ContextStats sync_start = ctx.stats();
    for (int64_t i = 0; i < steps; ++i) {
        cache.append(kn, kn);
        attend(ctx, q, cache, o);
    }
    const Delta sync = ctx.stats() - sync_start;
    EXPECT_EQ(sync.allocations, 0u);
    EXPECT_EQ(sync.pools, 0u);
    EXPECT_EQ(sync.pipelines, 0u);
    EXPECT_EQ(sync.waits, sync.submissions);
    EXPECT_EQ(sync.submissions, 2u * steps) << "an append and an attention per step";

    cache.clear();
    Batch batch(ctx);
    for (int i = 0; i < 4; ++i) {
        batch.append(cache, kn, kn);
        batch.attend(q, cache, o);
        ctx.wait(batch.submit());
    }
    const ContextStats batch_start = ctx.stats();
    for (int64_t i = 0; i < steps; ++i) {
        batch.append(cache, kn, kn);
        batch.attend(q, cache, o);
        ctx.wait(batch.submit());
    }
    const Delta batched = ctx.stats() - batch_start;
    EXPECT_EQ(batched.allocations, 0u);
    EXPECT_EQ(batched.pools, 0u);
    EXPECT_EQ(batched.pipelines, 0u);
    EXPECT_EQ(batched.submissions, static_cast<uint64_t>(steps));
    EXPECT_EQ(batched.waits, static_cast<uint64_t>(steps));
    std::printf("1000 decode steps: synchronous %llu allocations, %llu pools, %llu submissions; batched %llu allocations, %llu pools, "
                "%llu submissions\n",
                (unsigned long long)sync.allocations, (unsigned long long)sync.pools, (unsigned long long)sync.submissions,
                (unsigned long long)batched.allocations, (unsigned long long)batched.pools, (unsigned long long)batched.submissions);
}

}  // namespace
}  // namespace vkattn::test
