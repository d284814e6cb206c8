// Packed variable-length sequences (attention_varlen) and the paged KV cache against the host reference
// run per sequence (reference_attention_varlen): random inputs, odd lengths (an empty sequence, a
// sequence without keys, more queries than keys), every mask kind packed sequences take, outputs poisoned
// by the test context. Small shapes: the rowwise and decode pipelines the suite builds anyway.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>

#include <vkattn/reference.hpp>

#include "bad_inputs.hpp"
#include "test_support.hpp"

namespace vkattn::test {
namespace {

struct VarlenCase {
    std::vector<int32_t> q_len, k_len;
    int64_t Hq = 4, Hkv = 2, D = 16, Dv = 16;
    DType dtype = DType::f32;
    Path path = Path::fused;
    Causal causal = Causal::none;
    Window window;
    bool alibi = false, sinks = false;
    float softcap = 0;
    int kv_splits = 0;
    std::optional<DType> kv_dtype;  // q8_0 / q4_0 K and V (docs/formats.md); else dtype
};

std::vector<int32_t> offsets(const std::vector<int32_t>& len) {
    std::vector<int32_t> cu(1, 0);
    for (int32_t l : len) cu.push_back(cu.back() + l);
    return cu;
}

std::vector<float> random_floats(std::mt19937_64& gen, std::size_t n, DType dtype) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> x(n);
    for (float& e : x) e = dtype == DType::f16 ? round_to_half(u(gen)) : dtype == DType::bf16 ? round_to_bf16(u(gen)) : u(gen);
    return x;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b, bool* nan) {
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::isinf(b[i]) && a[i] == b[i]) continue;  // lse -inf of a row without keys
        const double d = std::abs(double(a[i]) - double(b[i]));
        if (!(d == d)) *nan = true;
        m = std::max(m, d);
    }
    return m;
}

// Compares a device result with the reference; the bound is twice the naive kernel's error, as run_case.
void expect_matches(const HostAttentionProblem& host, const std::vector<int32_t>& cu_q, const std::vector<int32_t>& cu_k,
                    DType dtype, const AttentionResult& r, bool weights, const std::string& what) {
    const HostAttentionResult ref = reference_attention_varlen(host, cu_q, cu_k, weights);
    const HostAttentionResult naive = naive_attention_varlen(host, cu_q, cu_k, dtype, weights);
    bool nan = false;
    const double bound = 2 * max_diff(naive.out, ref.out, &nan) + 1e-6;
    const std::vector<float> out = r.out.download<float>();
    ASSERT_EQ(out.size(), ref.out.size()) << what;
    const double err = max_diff(out, ref.out, &nan);
    EXPECT_FALSE(nan) << what << ": NaN in the output";
    EXPECT_LE(err, bound) << what << " variant " << r.variant;
    ASSERT_TRUE(r.lse.has_value());
    const std::vector<float> lse = r.lse->download<float>();
    ASSERT_EQ(lse.size(), ref.lse.size());
    for (std::size_t i = 0; i < lse.size(); ++i) {
        if (std::isinf(ref.lse[i])) EXPECT_EQ(lse[i], ref.lse[i]) << what << " lse " << i;
        else EXPECT_NEAR(lse[i], ref.lse[i], 1e-4 * std::max(1.0, std::abs(double(ref.lse[i])))) << what << " lse " << i;
    }
    if (weights) {
        ASSERT_TRUE(r.weights.has_value());
        const std::vector<float> w = r.weights->download<float>();
        ASSERT_EQ(w.size(), std::max<std::size_t>(1, ref.weights.size())) << what;
        if (!ref.weights.empty()) {
            const double wbound = 2 * max_diff(naive.weights, ref.weights, &nan) + 1e-6;
            EXPECT_LE(max_diff(w, ref.weights, &nan), wbound) << what << " weights";
        }
    }
}

HostAttentionProblem host_problem(const VarlenCase& c, std::mt19937_64& gen, AttentionOptions& opt) {
    HostAttentionProblem h;
    const int64_t Tq = std::accumulate(c.q_len.begin(), c.q_len.end(), int64_t{0});
    const int64_t Tk = std::accumulate(c.k_len.begin(), c.k_len.end(), int64_t{0});
    h.Hq = c.Hq, h.Hkv = c.Hkv, h.D = c.D, h.Dv = c.Dv;
    h.q = random_floats(gen, static_cast<std::size_t>(Tq * c.Hq * c.D), c.dtype);
    h.k = random_floats(gen, static_cast<std::size_t>(Tk * c.Hkv * c.D), c.dtype);
    h.v = random_floats(gen, static_cast<std::size_t>(Tk * c.Hkv * c.Dv), c.dtype);
    h.causal = opt.causal = c.causal;
    h.window = opt.window = c.window;
    if (c.alibi) h.alibi_slopes = opt.alibi_slopes = alibi_slopes(c.Hq);
    h.softcap = opt.softcap = c.softcap;
    if (c.sinks) {
        std::uniform_real_distribution<float> logit(-2.0f, 4.0f);
        for (int64_t i = 0; i < c.Hq; ++i) opt.sinks.push_back(logit(gen));
        h.sinks = opt.sinks;
    }
    opt.path = c.path;
    opt.kv_splits = c.kv_splits;
    opt.return_lse = true;
    opt.return_weights = c.path == Path::explicit_;
    return h;
}

void run_varlen(const VarlenCase& c, const std::string& what) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 gen(seed);
    AttentionOptions opt;
    const HostAttentionProblem h = host_problem(c, gen, opt);
    const std::vector<int32_t> cu_q = offsets(c.q_len), cu_k = offsets(c.k_len);
    Context& ctx = context();
    const Tensor q = ctx.upload(h.q, {cu_q.back(), c.Hq, c.D}, c.dtype);
    HostAttentionProblem hq = h;
    const DType kv_dtype = c.kv_dtype.value_or(c.dtype);
    if (c.kv_dtype)  // the reference computes on the values the kernels dequantise
        for (std::vector<float>* t : {&hq.k, &hq.v}) {
            std::vector<uint8_t> blocks(dtype_storage_bytes(kv_dtype, static_cast<int64_t>(t->size())));
            quantize_blocks(kv_dtype, t->data(), static_cast<int64_t>(t->size()), blocks.data());
            dequantize_blocks(kv_dtype, blocks.data(), static_cast<int64_t>(t->size()), t->data());
        }
    const Tensor k = ctx.upload(h.k, {cu_k.back(), c.Hkv, c.D}, kv_dtype);
    const Tensor v = ctx.upload(h.v, {cu_k.back(), c.Hkv, c.Dv}, kv_dtype);
    const AttentionResult r = attention_varlen(ctx, q, k, v, cu_q, cu_k, opt);
    expect_matches(hq, cu_q, cu_k, c.dtype, r, opt.return_weights, what + " (seed " + std::to_string(seed) + ")");
    if (c.kv_dtype) EXPECT_NE(r.variant.find("+kv_" + std::string(dtype_name(kv_dtype))), std::string::npos) << r.variant;
}

// Lengths with every odd case: an empty sequence, one without keys, more queries than keys, a long one.
const std::vector<int32_t> kQ = {5, 0, 3, 9, 70, 2};
const std::vector<int32_t> kK = {12, 4, 0, 6, 75, 2};

TEST(Varlen, EveryMaskKindMatchesReference) {
    for (Causal causal : {Causal::none, Causal::top_left, Causal::bottom_right}) {
        VarlenCase c;
        c.q_len = kQ, c.k_len = kK, c.causal = causal;
        run_varlen(c, std::string("causal ") + to_string(causal));
    }
    VarlenCase w;
    w.q_len = kQ, w.k_len = kK, w.causal = Causal::bottom_right, w.window = {7, 0};
    run_varlen(w, "window (7, 0)");
}

TEST(Varlen, ScoreFeaturesF16AndGqa) {
    // One pipeline for all of them (a feature set is a specialization of the rowwise kernel).
    VarlenCase c;
    c.q_len = kQ, c.k_len = kK, c.causal = Causal::bottom_right, c.alibi = true, c.softcap = 5, c.sinks = true;
    c.dtype = DType::f16, c.Hq = 4, c.Hkv = 1, c.D = 24, c.Dv = 16;
    run_varlen(c, "f16, GQA 4:1, D 24, Dv 16, alibi + softcap + sinks");
}

TEST(Varlen, ExplicitPathReturnsPackedWeights) {
    VarlenCase c;
    c.q_len = kQ, c.k_len = kK, c.path = Path::explicit_, c.causal = Causal::bottom_right;
    run_varlen(c, "explicit");
    const std::vector<int64_t> off = varlen_weights_offsets(offsets(kQ), offsets(kK), c.Hq);
    ASSERT_EQ(off.size(), kQ.size() + 1);
    EXPECT_EQ(off[1], c.Hq * 5 * 12);
}

TEST(Varlen, DecodeRowsSplitOverKeys) {
    // One query per sequence over key ranges of different lengths: the split-KV decode path on CPU devices.
    VarlenCase c;
    c.q_len = {1, 1, 0, 1, 2}, c.k_len = {300, 1, 5, 77, 140}, c.causal = Causal::bottom_right, c.Hq = 8, c.Hkv = 2;
    run_varlen(c, "decode");
    c.sinks = true;
    run_varlen(c, "decode + sinks");
}

TEST(Varlen, Bf16AndQuantisedKv) {
    // The storage formats of docs/formats.md through the packed layout: bf16 q, k, v (the f16 pipeline with
    // the bf16 bit), and q8_0 K/V with f32 q (head dim 64: whole 32-value blocks per row), bound whole as
    // block operands. q4_0 and the decode kernel read blocks through the same code (formats_test.cpp); each
    // further pipeline here would cost ~6 s of lavapipe's compile in every CI run.
    VarlenCase c;
    c.q_len = kQ, c.k_len = kK, c.causal = Causal::bottom_right, c.D = 64, c.Dv = 64;
    c.dtype = DType::bf16;
    run_varlen(c, "bf16");
    c.dtype = DType::f32;
    c.kv_dtype = DType::q8_0;
    run_varlen(c, "K/V q8_0");
}

// ---- the paged cache ----

// A host mirror of each sequence's tokens, to build the reference's packed keys.
struct Mirror {
    std::vector<std::vector<float>> k, v;  // per sequence id: [length, Hkv, D]
};

void append_tokens(Context& ctx, PagedKvCache& cache, Mirror& m, std::mt19937_64& gen, const std::vector<SequenceId>& ids,
                   const std::vector<int32_t>& counts) {
    const PagedKvCacheOptions& o = cache.options();
    const std::vector<int32_t> cu = offsets(counts);
    const std::vector<float> k = random_floats(gen, static_cast<std::size_t>(cu.back() * o.kv_heads * o.head_dim), o.dtype);
    const std::vector<float> v = random_floats(gen, static_cast<std::size_t>(cu.back() * o.kv_heads * o.value_dim), o.dtype);
    cache.append(ids, ctx.upload(k, {cu.back(), o.kv_heads, o.head_dim}, o.dtype), ctx.upload(v, {cu.back(), o.kv_heads, o.value_dim}, o.dtype), cu);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto id = static_cast<std::size_t>(ids[i]);
        if (m.k.size() <= id) m.k.resize(id + 1), m.v.resize(id + 1);
        const int64_t kr = o.kv_heads * o.head_dim, vr = o.kv_heads * o.value_dim;
        m.k[id].insert(m.k[id].end(), k.begin() + cu[i] * kr, k.begin() + cu[i + 1] * kr);
        m.v[id].insert(m.v[id].end(), v.begin() + cu[i] * vr, v.begin() + cu[i + 1] * vr);
    }
}

void fork_mirror(Mirror& m, SequenceId parent, SequenceId child) {
    const auto n = std::max(m.k.size(), static_cast<std::size_t>(std::max(parent, child)) + 1);  // never shrinks
    m.k.resize(n), m.v.resize(n);
    m.k[child] = m.k[parent], m.v[child] = m.v[parent];
}

// attend() on `ids` with the last q_len[i] tokens of each as queries, against the reference over the mirror.
void check_attend(Context& ctx, const PagedKvCache& cache, const Mirror& m, std::mt19937_64& gen, const std::vector<SequenceId>& ids,
                  const std::vector<int32_t>& q_len, int64_t Hq, const std::string& what, bool sinks = false, int kv_splits = 0) {
    const PagedKvCacheOptions& o = cache.options();
    HostAttentionProblem h;
    h.Hq = Hq, h.Hkv = o.kv_heads, h.D = o.head_dim, h.Dv = o.value_dim;
    std::vector<int32_t> k_len;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        k_len.push_back(static_cast<int32_t>(cache.length(ids[i])));
        // A sequence never appended to has no mirror entry (reading m.k[id] past the end was undefined:
        // it threw or crashed now and then, depending on what the heap held there).
        const auto id = static_cast<std::size_t>(ids[i]);
        if (id >= m.k.size()) continue;
        h.k.insert(h.k.end(), m.k[id].begin(), m.k[id].end());
        h.v.insert(h.v.end(), m.v[id].begin(), m.v[id].end());
    }
    const std::vector<int32_t> cu_q = offsets(q_len), cu_k = offsets(k_len);
    h.q = random_floats(gen, static_cast<std::size_t>(cu_q.back() * Hq * o.head_dim), o.dtype);
    h.causal = Causal::bottom_right;
    AttentionOptions opt;
    opt.return_lse = true;
    opt.kv_splits = kv_splits;
    if (sinks) h.sinks = opt.sinks = std::vector<float>(static_cast<std::size_t>(Hq), 1.5f);
    const AttentionResult r = attend(ctx, ctx.upload(h.q, {cu_q.back(), Hq, o.head_dim}, o.dtype), cache, ids, cu_q, opt);
    expect_matches(h, cu_q, cu_k, o.dtype, r, false, what + " [" + r.variant + "]");
}

TEST(PagedKvCache, ForkCopyOnWriteTrimAndAttention) {
    Context& ctx = context();
    std::mt19937_64 gen(fresh_seed());
    PagedKvCache cache(ctx, {40, 16, 2, 16, 0, DType::f32});
    Mirror m;
    const SequenceId a = cache.add_sequence(), c = cache.add_sequence();
    append_tokens(ctx, cache, m, gen, {a, c}, {37, 70});  // a: 3 pages (the last partly filled), c: 5
    EXPECT_EQ(cache.stats().pages_used, 8);
    const SequenceId b = cache.fork(a);                    // shares a's 3 pages
    fork_mirror(m, a, b);
    EXPECT_EQ(cache.stats().pages_shared, 3);
    EXPECT_EQ(cache.block_table(b), cache.block_table(a));
    append_tokens(ctx, cache, m, gen, {b, a}, {5, 30});    // b copies the shared last page first, then both grow
    EXPECT_NE(cache.block_table(b)[2], cache.block_table(a)[2]);
    EXPECT_EQ(cache.stats().pages_shared, 2);
    EXPECT_EQ(cache.length(a), 67);
    EXPECT_EQ(cache.length(b), 42);
    const SequenceId d = cache.add_sequence();             // empty: its queries see no key
    // Prefill-sized query blocks (the rowwise kernel through the tables) and decode steps (split-KV).
    check_attend(ctx, cache, m, gen, {a, b, c, d}, {9, 5, 17, 0}, 4, "prefill");
    check_attend(ctx, cache, m, gen, {a, b, c}, {1, 1, 1}, 4, "decode", true);
    // Trim into the shared prefix, then append: the shared page is copied, the other sequence unchanged.
    cache.trim(a, 20);
    m.k[a].resize(20 * 2 * 16), m.v[a].resize(20 * 2 * 16);
    append_tokens(ctx, cache, m, gen, {a}, {3});
    EXPECT_EQ(cache.length(a), 23);
    check_attend(ctx, cache, m, gen, {b, a}, {2, 2}, 2, "after trim");
    // Freeing returns the pages nobody else holds.
    const int64_t free_before = cache.stats().pages_free;
    cache.free(c);
    EXPECT_EQ(cache.stats().pages_free, free_before + 5);
    EXPECT_FALSE(cache.is_live(c));
    // Out of pages: an error, and nothing changes.
    const PagedKvCacheStats before = cache.stats();
    const std::vector<int32_t> table_b = cache.block_table(b);
    const std::vector<float> zeros(static_cast<std::size_t>(1000 * 2 * 16), 0.0f);
    const Tensor big = ctx.upload(zeros, {1000, 2, 16});
    const std::vector<int32_t> cu = {0, 1000};
    const std::vector<SequenceId> only_b = {b};
    EXPECT_THROW(cache.append(only_b, big, big, cu), Error);
    EXPECT_EQ(cache.stats().pages_free, before.pages_free);
    EXPECT_EQ(cache.length(b), 42);
    EXPECT_EQ(cache.block_table(b), table_b);
    check_attend(ctx, cache, m, gen, {b}, {3}, 2, "after the failed append");
}

// The tiled (GPU) kernel, forced on CPU devices: packed rows, paged keys and split-KV through both. Named
// Tiled/... so that it runs in the suite's sweep process, which builds the tiled pipelines anyway.
class SequencesOnTiledKernel : public ::testing::TestWithParam<int> {};
TEST_P(SequencesOnTiledKernel, MatchesReference) {
    ScopedEnv force("VKATTN_FUSED_KERNEL", "tiled");
    if (GetParam() == 0) {
        VarlenCase c;
        c.q_len = {1, 2, 0, 1}, c.k_len = {300, 40, 3, 129}, c.causal = Causal::bottom_right, c.kv_splits = 3, c.sinks = true;
        run_varlen(c, "tiled varlen split-KV");
        c.q_len = kQ, c.k_len = kK, c.kv_splits = 1, c.window = {9, 2};
        run_varlen(c, "tiled varlen prefill");
        return;
    }
    Context& ctx = context();
    std::mt19937_64 gen(fresh_seed());
    PagedKvCache cache(ctx, {24, 32, 2, 16, 0, DType::f32});
    Mirror m;
    const SequenceId a = cache.add_sequence(), b = cache.add_sequence();
    append_tokens(ctx, cache, m, gen, {a, b}, {200, 45});
    const SequenceId f = cache.fork(b);
    fork_mirror(m, b, f);
    append_tokens(ctx, cache, m, gen, {f}, {7});
    check_attend(ctx, cache, m, gen, {a, b, f}, {1, 1, 2}, 4, "tiled paged split-KV", false, 3);
    check_attend(ctx, cache, m, gen, {a, f}, {20, 9}, 4, "tiled paged prefill", true, 1);
}
INSTANTIATE_TEST_SUITE_P(Tiled, SequencesOnTiledKernel, ::testing::Values(0, 1));

// ---- bad inputs (docs/bad_inputs.md) ----

Tensor zeros3(int64_t t, int64_t h, int64_t d) { return context().upload(std::vector<float>(static_cast<std::size_t>(t * h * d), 0.0f), {t, h, d}); }

}  // namespace

std::vector<BadInput> sequence_bad_inputs() {
    std::vector<BadInput> list;
    // Every closure outlives this function (the list is returned): they capture by value (varlen, cache) and
    // reach the context through context(). (They captured varlen by reference: ASan, stack-use-after-return.)
    const auto add = [&](std::string name, std::function<void()> f, std::string part, ErrorCode code = ErrorCode::invalid_argument) {
        list.push_back({std::move(name), std::move(f), code, std::move(part)});
    };
    const auto varlen = [](std::vector<int32_t> cu_q, std::vector<int32_t> cu_k) {
        attention_varlen(context(), zeros3(6, 2, 8), zeros3(7, 2, 8), zeros3(7, 2, 8), cu_q, cu_k);
    };
    add("varlen offsets not from 0", [=] { varlen({1, 6}, {0, 7}); }, "cu_seqlens_q[0]: must be 0 (offsets start at the first token), got 1");
    add("varlen offsets decreasing", [=] { varlen({0, 4, 2, 6}, {0, 1, 2, 7}); }, "cu_seqlens_q[2]: 2 is less than the previous offset 4 (offsets must not decrease)");
    add("varlen last offset", [=] { varlen({0, 3, 6}, {0, 3, 6}); }, "cu_seqlens_k: the last offset 6 must equal k's 7 tokens");
    add("varlen sequence counts", [=] { varlen({0, 3, 6}, {0, 7}); }, "cu_seqlens_k: has 2 offsets (1 sequences) but cu_seqlens_q has 3; both need S + 1");
    add("varlen rank 4 q", [=] {
        attention_varlen(context(), context().upload(std::vector<float>(48, 0.f), {1, 2, 3, 8}), zeros3(7, 2, 8), zeros3(7, 2, 8),
                         std::vector<int32_t>{0, 3}, std::vector<int32_t>{0, 7});
    }, "q: packed sequences take rank 3 [total_q, Hq, D], got shape [1, 2, 3, 8]");
    add("varlen mask", [=] {
        AttentionOptions o;
        o.mask = context().upload(std::vector<float>(42, 0.f), {6, 7});
        attention_varlen(context(), zeros3(6, 2, 8), zeros3(7, 2, 8), zeros3(7, 2, 8), std::vector<int32_t>{0, 6}, std::vector<int32_t>{0, 7}, o);
    }, "mask: not supported with packed sequences (cu_seqlens)");
    add("varlen key_lengths", [=] {
        AttentionOptions o;
        o.key_lengths = {3};
        attention_varlen(context(), zeros3(6, 2, 8), zeros3(7, 2, 8), zeros3(7, 2, 8), std::vector<int32_t>{0, 6}, std::vector<int32_t>{0, 7}, o);
    }, "key_lengths: packed sequences take each sequence's key length from cu_seqlens_k");
    add("paged page size 0", [=] { PagedKvCache(context(), {8, 0, 1, 8}); }, "page_size: must be a power of two in [1, 65536] (the kernels find a key's page by shifts), got 0");
    add("paged page size 24", [=] { PagedKvCache(context(), {8, 24, 1, 8}); }, "page_size: must be a power of two in [1, 65536] (the kernels find a key's page by shifts), got 24");
    add("paged no pages", [=] { PagedKvCache(context(), {0, 16, 1, 8}); }, "pages: must be >= 1, got 0");
    // A cache with one sequence of 5 tokens (page 0) and one freed.
    const auto cache = [] {
        auto c = std::make_shared<PagedKvCache>(context(), PagedKvCacheOptions{4, 4, 2, 8, 0, DType::f32});
        const SequenceId a = c->add_sequence(), b = c->add_sequence();
        const std::vector<SequenceId> ids = {a, b};
        c->append(ids, zeros3(8, 2, 8), zeros3(8, 2, 8), std::vector<int32_t>{0, 5, 8});
        c->free(b);
        return c;
    };
    add("paged freed sequence attend", [cache] {
        auto c = cache();
        const std::vector<SequenceId> ids = {0, 1};
        attend(context(), zeros3(2, 2, 8), *c, ids, std::vector<int32_t>{0, 1, 2});
    }, "sequences[1]: sequence 1 was freed");
    add("paged unknown sequence", [cache] { auto c = cache(); c->fork(7); }, "parent: 7 is not a sequence of this cache");
    add("paged freed sequence append", [cache] {
        auto c = cache();
        const std::vector<SequenceId> ids = {1};
        c->append(ids, zeros3(1, 2, 8), zeros3(1, 2, 8), std::vector<int32_t>{0, 1});
    }, "sequences: sequence 1 was freed");
    add("paged out of pages", [cache] {
        auto c = cache();
        const std::vector<SequenceId> ids = {0};
        c->append(ids, zeros3(20, 2, 8), zeros3(20, 2, 8), std::vector<int32_t>{0, 20});
    }, "k_new: appending 20 tokens needs 5 free pages, but only 2 of the cache's 4 are free (out of pages); nothing was written",
        ErrorCode::out_of_memory);
    add("paged append offsets", [cache] {
        auto c = cache();
        const std::vector<SequenceId> ids = {0};
        c->append(ids, zeros3(2, 2, 8), zeros3(2, 2, 8), std::vector<int32_t>{0, 3});
    }, "cu_seqlens: the last offset 3 must equal k_new's 2 tokens");
    add("paged trim longer", [cache] { auto c = cache(); c->trim(0, 9); }, "length: 9 is outside [0, the sequence's length 5] (trim only shortens)");
    add("paged block table page out of range", [cache] {
        auto c = cache();
        attention_paged(context(), zeros3(1, 2, 8), *c, std::vector<int32_t>{0, 1}, std::vector<int32_t>{5}, std::vector<int32_t>{0, 9}, 2);
    }, "block_table[0][1]: page 9 is out of range [0, pages = 4)");
    add("paged block table page not allocated", [cache] {
        auto c = cache();
        attention_paged(context(), zeros3(1, 2, 8), *c, std::vector<int32_t>{0, 1}, std::vector<int32_t>{5}, std::vector<int32_t>{0, 3}, 2);
    }, "block_table[0][1]: page 3 is not allocated (no sequence of the cache holds it)");
    add("paged key length past the table", [cache] {
        auto c = cache();
        attention_paged(context(), zeros3(1, 2, 8), *c, std::vector<int32_t>{0, 1}, std::vector<int32_t>{9}, std::vector<int32_t>{0, 1}, 2);
    }, "key_lengths[0]: 9 is outside [0, pages_per_sequence x page_size = 8]");
    return list;
}

namespace {

TEST(Errors, EverySequenceRuleHasAClearMessageAndTheContextStaysUsable) {
    for (const BadInput& bad : sequence_bad_inputs()) {
        SCOPED_TRACE(bad.name);
        expect_bad_input(bad);
    }
    // The context still computes correctly.
    VarlenCase c;
    c.q_len = {3, 4}, c.k_len = {5, 2};
    run_varlen(c, "after the bad inputs");
}

}  // namespace
}  // namespace vkattn::test
