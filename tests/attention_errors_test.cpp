// Every validation rule: the call throws vkattn::Error with the right code and a message naming the
// argument, nothing runs, and the same context then computes a correct result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>

#include "bad_inputs.hpp"
#include "test_support.hpp"
#include "vkattn/embedding.hpp"
#include "vkattn/npy.hpp"

namespace vkattn::test {
namespace {

struct Qkv {
    Tensor q, k, v;
};

Qkv make_qkv(int64_t B = 2, int64_t Hq = 4, int64_t Hkv = 2, int64_t Lq = 5, int64_t Lk = 7, int64_t D = 16, int64_t Dv = 16,
             DType dt = DType::f32) {
    Context& ctx = context();
    auto fill = [](int64_t n) { return std::vector<float>(static_cast<std::size_t>(n), 0.25f); };
    return {ctx.upload(fill(B * Hq * Lq * D), {B, Hq, Lq, D}, dt), ctx.upload(fill(B * Hkv * Lk * D), {B, Hkv, Lk, D}, dt),
            ctx.upload(fill(B * Hkv * Lk * Dv), {B, Hkv, Lk, Dv}, dt)};
}

// After each error the same context must still compute correctly.
void expect_context_still_works() {
    Case c;
    c.B = 1, c.Hq = 2, c.Hkv = 1, c.Lq = 9, c.Lk = 13, c.D = 16;
    const Outcome r = run_case(c, fresh_seed());
    EXPECT_TRUE(r.passed) << r.message;
}

// One row of the table in docs/bad_inputs.md: | surface | input | code | message contains |, with
// '|' in a cell escaped as '\|'.
std::string table_row(const std::string& surface, const std::string& name, const std::string& code, const std::string& part) {
    std::string escaped;
    for (char c : part) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
    return "| " + surface + " | " + name + " | " + code + " | `" + escaped + "` |";
}

std::vector<std::string> read_table_rows(const std::string& path, const std::string& surface) {
    std::ifstream in(path);
    std::vector<std::string> rows;
    for (std::string line; std::getline(in, line);) {
        while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
        if (line.rfind("| " + surface + " |", 0) == 0) rows.push_back(line);
    }
    return rows;
}

}  // namespace

std::vector<BadInput> attention_bad_inputs() {
    Context& ctx = context();
    std::vector<BadInput> list;
    const auto add = [&](std::string name, std::function<void()> f, std::string part, ErrorCode code = ErrorCode::invalid_argument) {
        list.push_back({std::move(name), std::move(f), code, std::move(part)});
    };
    add("empty q", [] { Qkv t = make_qkv(); attention(context(), Tensor(), t.k, t.v); }, "q: tensor is empty");
    add("rank 3 q", [&] {
        Qkv t = make_qkv();
        Tensor q3 = ctx.upload(std::vector<float>(4 * 5 * 16, 0.f), {4, 5, 16});
        attention(ctx, q3, t.k, t.v);
    }, "q: expected rank 4 [B, Hq, Lq, D], got shape [4, 5, 16]");
    add("i32 q", [&] {
        Qkv t = make_qkv();
        std::vector<int32_t> raw(2 * 4 * 5 * 16);
        Tensor qi = ctx.upload_raw(raw.data(), raw.size() * 4, {2, 4, 5, 16}, DType::i32);
        attention(ctx, qi, t.k, t.v);
    }, "q: dtype i32 is not supported (f32, f16 or bf16)");
    add("k dtype", [&] {
        Qkv t = make_qkv(), h = make_qkv(2, 4, 2, 5, 7, 16, 16, DType::f16);
        attention(ctx, t.q, h.k, t.v);
    }, "k: dtype f16 does not match q's f32");
    add("v dtype", [&] {
        Qkv t = make_qkv(), h = make_qkv(2, 4, 2, 5, 7, 16, 16, DType::f16);
        attention(ctx, t.q, t.k, h.v);
    }, "v: dtype f16 does not match q's f32");
    add("k batch", [&] { Qkv t = make_qkv(), u = make_qkv(3); attention(ctx, t.q, u.k, t.v); }, "k: batch 3 does not match q's 2");
    add("v batch", [&] { Qkv t = make_qkv(), u = make_qkv(3); attention(ctx, t.q, t.k, u.v); }, "v: batch 3 does not match q's 2");
    add("k head dim", [&] {
        Qkv t = make_qkv(), u = make_qkv(2, 4, 2, 5, 7, 96, 16);
        attention(ctx, t.q, u.k, t.v);
    }, "k: head dim 96 does not match q's 16");
    add("v heads", [&] { Qkv t = make_qkv(), u = make_qkv(2, 4, 4); attention(ctx, t.q, t.k, u.v); }, "v: 4 heads do not match k's 2");
    add("v keys", [&] { Qkv t = make_qkv(), u = make_qkv(2, 4, 2, 5, 8); attention(ctx, t.q, t.k, u.v); }, "v: 8 keys do not match k's 7");
    add("Hq % Hkv", [&] { Qkv t = make_qkv(2, 6, 4); attention(ctx, t.q, t.k, t.v); },
        "q: 6 query heads are not a multiple of k's 4 key/value heads");
    add("D > 512", [&] { Qkv t = make_qkv(1, 1, 1, 2, 2, 513, 16); attention(ctx, t.q, t.k, t.v); }, "q: head dim 513 exceeds the maximum 512");
    add("Dv > 512", [&] { Qkv t = make_qkv(1, 1, 1, 2, 2, 16, 600); attention(ctx, t.q, t.k, t.v); }, "v: head dim 600 exceeds the maximum 512");
    add("NaN scale", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.scale = NAN;
        attention(ctx, t.q, t.k, t.v, o);
    }, "scale: must be finite and non-zero");
    add("zero scale", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.scale = 0.0f;
        attention(ctx, t.q, t.k, t.v, o);
    }, "scale: must be finite and non-zero, got 0");
    add("key_lengths size", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.key_lengths = {3};
        attention(ctx, t.q, t.k, t.v, o);
    }, "key_lengths: has 1 entries; needs one per batch (B = 2)");
    add("key_lengths range", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.key_lengths = {3, 8};
        attention(ctx, t.q, t.k, t.v, o);
    }, "key_lengths[1]: 8 is outside [0, Lk = 7]");
    add("negative key length", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.key_lengths = {-1, 2};
        attention(ctx, t.q, t.k, t.v, o);
    }, "key_lengths[0]: -1 is outside");
    add("mask shape", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.mask = ctx.upload(std::vector<float>(5 * 6, 0.f), {5, 6});
        attention(ctx, t.q, t.k, t.v, o);
    }, "mask: shape [5, 6] must be [Lq, Lk] = [5, 7]");
    add("mask 4d heads", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.mask = ctx.upload(std::vector<float>(2 * 3 * 5 * 7, 0.f), {2, 3, 5, 7});
        attention(ctx, t.q, t.k, t.v, o);
    }, "mask: shape [2, 3, 5, 7] must be [Lq, Lk] = [5, 7] or [B, Hq, Lq, Lk] = [2 or 1, 4 or 1, 5, 7]");
    add("mask rank 3", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.mask = ctx.upload(std::vector<float>(4 * 5 * 7, 0.f), {4, 5, 7});
        attention(ctx, t.q, t.k, t.v, o);
    }, "mask: rank 3 shape [4, 5, 7] must be");
    add("mask dtype", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        std::vector<int32_t> raw(5 * 7);
        o.mask = ctx.upload_raw(raw.data(), raw.size() * 4, {5, 7}, DType::i32);
        attention(ctx, t.q, t.k, t.v, o);
    }, "mask: dtype i32 is not supported");
    add("weights on fused", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.path = Path::fused;
        o.return_weights = true;
        attention(ctx, t.q, t.k, t.v, o);
    }, "return_weights: the weights exist only on the explicit path");
    add("out dtype", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.out_dtype = DType::u8;
        attention(ctx, t.q, t.k, t.v, o);
    }, "out_dtype: u8 is not supported");
    add("upload size", [&] { ctx.upload(std::vector<float>(10, 0.f), {3, 4}); }, "upload: shape [3, 4] needs 12 values, got 10");
    add("upload zero dim", [&] { ctx.upload(std::vector<float>(), {0, 4}); }, "upload: dimension 0 of shape [0, 4] must be positive");
    add("upload negative dim", [&] { ctx.upload(std::vector<float>(4, 0.f), {-1, 4}); }, "upload: dimension 0 of shape [-1, 4] must be positive");
    add("upload as u8", [&] { ctx.upload(std::vector<float>(4, 0.f), {4}, DType::u8); }, "upload: float data can be stored as f32, f16, bf16, q8_0 or q4_0, not u8");
    add("view out of range", [&] {
        Tensor t = ctx.upload(std::vector<float>(12, 0.f), {3, 4});
        t.view({4, 4}, {4, 1});
    }, "view: shape [4, 4] with these strides reaches element 15 of a buffer of 12");
    add("view negative stride", [&] {
        Tensor t = ctx.upload(std::vector<float>(12, 0.f), {3, 4});
        t.view({3, 4}, {-4, 1});
    }, "view: stride 0 is negative");
    add("transpose range", [&] { ctx.upload(std::vector<float>(12, 0.f), {3, 4}).transposed(0, 2); }, "transposed: dimensions out of range");
    add("download as int", [&] { ctx.upload(std::vector<float>(4, 0.f), {4}).download<int32_t>(); }, "download: cannot read a f32 tensor");
    add("parse dtype", [] { parse_dtype("f64", "--dtype"); }, "--dtype: unknown dtype 'f64'");
    add("device index", [] {
        ContextOptions o;
        o.device.index = 99;
        o.device.ignore_environment = true;
        Context c(o);
    }, "device: no Vulkan device matches index 99", ErrorCode::no_device);
    add("device name", [] {
        ContextOptions o;
        o.device.name_contains = "no-such-gpu";
        o.device.ignore_environment = true;
        Context c(o);
    }, "device: no Vulkan device matches name 'no-such-gpu'", ErrorCode::no_device);
    add("foreign tensor", [] {
        ContextOptions o;
        o.pipeline_cache_dir = "none";
        Context other(o);
        Tensor foreign = other.upload(std::vector<float>(2 * 4 * 5 * 16, 0.f), {2, 4, 5, 16});
        Qkv t = make_qkv();
        attention(context(), foreign, t.k, t.v);
    }, "q: tensor belongs to another Context");
    add("huge allocation", [&] { ctx.empty({int64_t{1} << 40}, DType::f32); }, "exceeds the device's maxBufferSize", ErrorCode::out_of_memory);
    // --- added with docs/bad_inputs.md ---
    add("empty k", [] { Qkv t = make_qkv(); attention(context(), t.q, Tensor(), t.v); }, "k: tensor is empty");
    add("empty v", [] { Qkv t = make_qkv(); attention(context(), t.q, t.k, Tensor()); }, "v: tensor is empty");
    add("rank 5 k", [&] {
        Qkv t = make_qkv();
        Tensor k5 = ctx.upload(std::vector<float>(2 * 2 * 7 * 16, 0.f), {1, 2, 2, 7, 16});
        attention(ctx, t.q, k5, t.v);
    }, "k: expected rank 4 [B, Hkv, Lk, D], got shape [1, 2, 2, 7, 16]");
    add("u8 v", [&] {
        Qkv t = make_qkv();
        std::vector<uint8_t> raw(2 * 2 * 7 * 16);
        attention(ctx, t.q, t.k, ctx.upload_raw(raw.data(), raw.size(), {2, 2, 7, 16}, DType::u8));
    }, "v: dtype u8 is not supported (f32, f16 or bf16, or q8_0 / q4_0 blocks)");
    add("Hq < Hkv", [&] { Qkv t = make_qkv(2, 2, 4); attention(ctx, t.q, t.k, t.v); },
        "q: 2 query heads are not a multiple of k's 4 key/value heads");
    add("inf scale", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.scale = INFINITY;
        attention(ctx, t.q, t.k, t.v, o);
    }, "scale: must be finite and non-zero, got inf");
    add("mask 4d keys", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.mask = ctx.upload(std::vector<float>(5 * 6, 0.f), {1, 1, 5, 6});
        attention(ctx, t.q, t.k, t.v, o);
    }, "mask: shape [1, 1, 5, 6] must be [Lq, Lk] = [5, 7] or");
    add("mask empty", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.mask = Tensor();
        attention(ctx, t.q, t.k, t.v, o);
    }, "mask: tensor is empty");
    add("mask foreign", [] {
        ContextOptions co;
        co.pipeline_cache_dir = "none";
        Context other(co);
        AttentionOptions o;
        o.mask = other.upload(std::vector<float>(5 * 7, 0.f), {5, 7});
        Qkv t = make_qkv();
        attention(context(), t.q, t.k, t.v, o);
    }, "mask: tensor belongs to another Context");
    add("out dtype i32", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.out_dtype = DType::i32;
        attention(ctx, t.q, t.k, t.v, o);
    }, "out_dtype: i32 is not supported (f32, f16 or bf16)");
    // ---- storage formats: bf16, q8_0 / q4_0 blocks (k and v only) ----
    // (The calls run after this function returns: the helper is captured by value.)
    const auto q8 = [&ctx](const Shape& s, DType t = DType::q8_0) {
        std::vector<float> x(static_cast<std::size_t>(s[0] * s[1] * s[2] * s[3]), 0.5f);
        return ctx.upload(x, s, t);
    };
    add("q8_0 q", [&ctx, q8] {
        Qkv t = make_qkv(2, 4, 2, 5, 7, 32, 32);
        attention(ctx, q8({2, 4, 5, 32}), t.k, t.v);
    }, "q: dtype q8_0 is not supported: block formats are for k and v only (q takes f32, f16 or bf16)");
    add("q8_0 k with f32 v", [&ctx, q8] {
        Qkv t = make_qkv(2, 4, 2, 5, 7, 32, 32);
        attention(ctx, t.q, q8({2, 2, 7, 32}), t.v);
    }, "v: dtype f32 does not match k's q8_0 (quantised k and v share one format)");
    add("q4_0 v with f32 k", [&ctx, q8] {
        Qkv t = make_qkv(2, 4, 2, 5, 7, 32, 32);
        attention(ctx, t.q, t.k, q8({2, 2, 7, 32}, DType::q4_0));
    }, "v: dtype q4_0 does not match k's f32");
    add("q8_0 out dtype", [&ctx, q8] {
        Qkv t = make_qkv(2, 4, 2, 5, 7, 32, 32);
        AttentionOptions o;
        o.out_dtype = DType::q8_0;
        attention(ctx, t.q, q8({2, 2, 7, 32}), q8({2, 2, 7, 32}), o);
    }, "out_dtype: q8_0 is not supported (f32, f16 or bf16; block formats are for k and v only)");
    add("q8_0 head dim not a multiple of 32", [&ctx, q8] { ctx.empty({2, 2, 7, 40}, DType::q8_0); },
        "empty: the last dim of a q8_0 tensor must be a multiple of 32 (its block size), got shape [2, 2, 7, 40]");
    add("q4_0 upload head dim", [&ctx, q8] { ctx.upload(std::vector<float>(16, 0.f), {1, 16}, DType::q4_0); },
        "upload: the last dim of a q4_0 tensor must be a multiple of 32 (its block size), got shape [1, 16]");
    add("q8_0 view splits blocks", [&ctx, q8] { q8({1, 1, 4, 64}).view({1, 1, 4, 48}, {256, 256, 48, 1}); },
        "view: the last dim of a q8_0 tensor must be a multiple of 32");
    add("q8_0 view offset mid-block", [&ctx, q8] { q8({1, 1, 4, 64}).view({1, 1, 2, 64}, {256, 256, 64, 1}, 16); },
        "view: the offset of a q8_0 tensor must be a multiple of 32 (whole blocks)");
    add("q8_0 view row stride", [&ctx, q8] { q8({1, 1, 4, 64}).view({1, 1, 2, 32}, {256, 256, 80, 1}); },
        "view: stride 2 (80) of a q8_0 tensor must be a multiple of 32 (whole blocks)");
    add("q4_0 view strided head dim", [&ctx, q8] { q8({1, 1, 4, 64}, DType::q4_0).view({1, 1, 4, 32}, {256, 256, 64, 2}); },
        "view: the last dim of a q4_0 tensor must be contiguous (stride 1)");
    add("q8_0 download as i32", [&ctx, q8] { q8({1, 1, 1, 32}).download<int32_t>(); },
        "download: cannot read a q8_0 tensor as this element type (float or uint8_t)");
    add("q8_0 workspace", [&ctx, q8] { Workspace(ctx, q8({1, 1, 1, 32})); },
        "storage: a block-format (q8_0) tensor cannot be a workspace");
    add("plan validates", [&] {
        Qkv t = make_qkv(), u = make_qkv(3);
        plan_attention(ctx, t.q, u.k, t.v);
    }, "k: batch 3 does not match q's 2");
    add("fused kernel override", [&] {
        Qkv t = make_qkv();
        setenv("VKATTN_FUSED_KERNEL", "fastest", 1);
        struct Unset { ~Unset() { unsetenv("VKATTN_FUSED_KERNEL"); } } unset;
        attention(ctx, t.q, t.k, t.v);
    }, "VKATTN_FUSED_KERNEL: 'fastest' is not auto, tiled or rowwise");
    add("kv_splits negative", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.kv_splits = -1;
        attention(ctx, t.q, t.k, t.v, o);
    }, "kv_splits: must be >= 0 (0: chosen from the device, 1: no split), got -1");
    add("sinks count", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.sinks = {0.5f, 1.0f};
        attention(ctx, t.q, t.k, t.v, o);
    }, "sinks: has 2 values; needs one per query head (Hq = 4)");
    add("sinks not finite", [&] {
        Qkv t = make_qkv();
        AttentionOptions o;
        o.sinks = {0.5f, 1.0f, INFINITY, 0.0f};
        attention(ctx, t.q, t.k, t.v, o);
    }, "sinks[2]: must be finite, got inf");
    add("kv_splits cannot run", [&] {
        // The tiled kernel (what GPUs run) asked for 4 splits of inputs that bind only in pieces (the
        // test hook shrinks the binding limit to 128 KiB; k is 200 KiB): split-KV needs them whole.
        ScopedEnv tiled("VKATTN_FUSED_KERNEL", "tiled");
        ScopedEnv binding("VKATTN_TEST_MAX_BINDING", "131072");
        Tensor q = ctx.upload(std::vector<float>(8 * 64, 0.25f), {1, 8, 1, 64});
        Tensor k = ctx.upload(std::vector<float>(2 * 400 * 64, 0.5f), {1, 2, 400, 64});
        AttentionOptions o;
        o.kv_splits = 4;
        attention(ctx, q, k, k, o);
    }, "kv_splits: 4 splits cannot run here: the inputs do not bind in one piece", ErrorCode::unsupported);
    add("result larger than device memory", [&] {
        // q broadcast through stride-0 views: a 512-element buffer read as 2^31 - 1 rows, so the
        // [1, 1, 2^31 - 1, 512] f32 output (4 TiB) exceeds any device.
        Tensor row = ctx.upload(std::vector<float>(512, 0.5f), {1, 1, 1, 512});
        Tensor q = row.view({1, 1, (int64_t{1} << 31) - 1, 512}, {0, 0, 0, 1});
        Tensor k = ctx.upload(std::vector<float>(3 * 512, 0.5f), {1, 1, 3, 512});
        attention(ctx, q, k, k);
    }, "out: the f32 result [1, 1, 2147483647, 512] does not fit", ErrorCode::out_of_memory);
    add("upload empty shape", [&] { ctx.upload(std::vector<float>(), {}); }, "upload: shape must have at least one dimension");
    add("upload_raw size", [&] {
        std::vector<float> raw(3);
        ctx.upload_raw(raw.data(), 12, {4}, DType::f32);
    }, "upload_raw: shape [4] of f32 needs 16 bytes, got 12");
    add("empty zero dim", [&] { ctx.empty({4, 0}, DType::f32); }, "empty: dimension 1 of shape [4, 0] must be positive");
    add("empty shape overflow", [&] { ctx.empty({int64_t{1} << 40, int64_t{1} << 40}, DType::f32); },
        "empty: shape [1099511627776, 1099511627776] is too large");
    add("view stride overflow", [&] {
        Tensor t = ctx.upload(std::vector<float>(12, 0.f), {3, 4});
        t.view({3, 4}, {int64_t{1} << 62, 1});
    }, "view: stride 0 (4611686018427387904) of shape [3, 4] overflows the element index");
    add("view strides rank", [&] {
        Tensor t = ctx.upload(std::vector<float>(12, 0.f), {3, 4});
        t.view({3, 4}, {4});
    }, "view: strides have 1 entries for a shape of rank 2");
    add("view negative offset", [&] {
        Tensor t = ctx.upload(std::vector<float>(12, 0.f), {3, 4});
        t.view({2}, {1}, -1);
    }, "view: offset -1 is negative");
    add("view of empty tensor", [] { Tensor().view({1}, {1}); }, "view: tensor is empty");
    add("download empty tensor", [] { Tensor().download<float>(); }, "download: tensor is empty");
    add("download u8 as float", [&] {
        const uint8_t b[2] = {1, 0};
        ctx.upload_raw(b, 2, {2}, DType::u8).download<float>();
    }, "download<float>: tensor holds integers");
    add("npy missing file", [] { read_npy("/nonexistent/vkattn/q.npy"); }, "/nonexistent/vkattn/q.npy", ErrorCode::io_error);
    add("npy bad magic", [] {
        const std::string junk = "PK\x03\x04 this is a zip file, not an array";
        parse_npy(reinterpret_cast<const uint8_t*>(junk.data()), junk.size(), "junk.npy");
    }, "junk.npy: bad magic (not a .npy file)", ErrorCode::io_error);
    add("npy truncated", [] {
        NpyArray a = NpyArray::from_floats(std::vector<float>(64, 1.0f), {4, 16}, DType::f32);
        const std::string path = testing::TempDir() + "vkattn_truncated.npy";
        write_npy(path, a);
        std::string bytes;
        {
            std::FILE* f = std::fopen(path.c_str(), "rb");
            char buf[4096];
            const std::size_t n = std::fread(buf, 1, sizeof buf, f);
            std::fclose(f);
            bytes.assign(buf, n);
        }
        parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size() - 10, "short.npy");
    }, "short.npy: truncated data: shape (4, 16) of '<f4' needs 256 bytes", ErrorCode::io_error);
    add("npy f64", [] {
        std::string h = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
        h.resize(117, ' ');
        h += '\n';
        std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(h.size()) + '\0' + h + std::string(16, '\0');
        parse_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "f64.npy");
    }, "f64.npy: unsupported dtype '<f8'", ErrorCode::io_error);
    return list;
}

void expect_bad_input(const BadInput& bad) {
    try {
        bad.call();
        ADD_FAILURE() << bad.name << ": no error thrown";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), bad.code) << e.what();
        EXPECT_NE(e.message().find(bad.message_part), std::string::npos)
            << "message \"" << e.message() << "\" lacks \"" << bad.message_part << "\"";
    }
}

namespace {

TEST(Errors, EveryRuleHasAClearMessageAndTheContextStaysUsable) {
    const auto list = attention_bad_inputs();
    EXPECT_GE(list.size(), 30u);
    for (const BadInput& bad : list) {
        SCOPED_TRACE(bad.name);
        expect_bad_input(bad);
        expect_context_still_works();
    }
}

std::vector<BadInput> bad_inputs() {
    std::vector<BadInput> all = attention_bad_inputs();
    for (BadInput& b : layer_bad_inputs()) all.push_back(std::move(b));
    for (BadInput& b : sequence_bad_inputs()) all.push_back(std::move(b));
    return all;
}

// docs/bad_inputs.md tables exactly these lists (attention_bad_inputs and layer_bad_inputs; and
// tests/cli/bad_inputs.py the CLI rows): every row here is in the table with the same code and
// message, and the table has no API row that is not here.
TEST(Errors, TheDocumentedTableMatchesTheTests) {
    const std::string doc = std::string(VKATTN_SOURCE_DIR) + "/docs/bad_inputs.md";
    const auto rows = read_table_rows(doc, "API");
    ASSERT_FALSE(rows.empty()) << doc << " has no API rows";
    std::set<std::string> listed;
    std::string missing;
    for (const BadInput& bad : bad_inputs()) {
        const std::string row = table_row("API", bad.name, to_string(bad.code), bad.message_part);
        listed.insert(row);
        if (!std::count(rows.begin(), rows.end(), row)) missing += row + "\n";
    }
    EXPECT_TRUE(missing.empty()) << doc << " lacks (or differs in) these rows:\n" << missing;
    for (const std::string& r : rows) EXPECT_TRUE(listed.count(r)) << doc << " has a row no test checks: " << r;
    EXPECT_EQ(listed.size(), bad_inputs().size()) << "two bad inputs share a name";
}

TEST(Errors, FullyMaskedRowsAreZeroNotNaN) {
    Context& ctx = context();
    Qkv t = make_qkv();
    for (Path path : {Path::fused, Path::explicit_}) {
        AttentionOptions o;
        o.key_lengths = {0, 0};
        o.path = path;
        o.return_lse = true;
        AttentionResult r = attention_full(ctx, t.q, t.k, t.v, o);
        for (float x : r.out.download<float>()) EXPECT_EQ(x, 0.0f);
        for (float x : r.lse->download<float>()) EXPECT_TRUE(std::isinf(x) && x < 0);
    }
}

}  // namespace
}  // namespace vkattn::test
