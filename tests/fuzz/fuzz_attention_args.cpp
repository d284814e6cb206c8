// libFuzzer target: random shapes, strides, dtypes and options through the public API on the default
// device (lavapipe in CI). Every call must either throw vkattn::Error(invalid_argument), or -- the
// sizes are kept small -- compute out and lse that match the CPU reference. Anything else (a crash, a
// hang, a wrong answer, an exception of another type, an accepted invalid problem) is a finding.
//
// Also compiled into vkattn_tests (VKATTN_FUZZ_REPLAY), where tests/fuzz_replay_test.cpp replays the
// seed corpus and every committed regression input through the same function.
#include "fuzz_targets.hpp"
#include "vkattn/reference.hpp"

#include <vkattn/vkattn.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace vkattn::fuzz {
namespace {

struct Bytes {
    const uint8_t* p;
    size_t n;
    uint8_t next() { return n ? (--n, *p++) : 0; }
    int range(int lo, int hi) { return lo + next() % (hi - lo + 1); }
    bool one_in(int k) { return next() % k == 0; }
};

std::vector<float> values(Bytes& in, int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = round_to_half(static_cast<float>(static_cast<int8_t>(in.next())) / 32.0f);
    return v;
}

// Host data [B, H, L, D] uploaded in one of three layouts and viewed as [B, H, L, D]:
// 0 contiguous, 1 stored [B, L, H, D] (transposed view), 2 padded rows at an offset (strided view).
// A bad layout byte can also produce a view that does not fit its buffer: view() must refuse it.
Tensor upload(Context& ctx, Bytes& in, const std::vector<float>& bhld, int64_t B, int64_t H, int64_t L, int64_t D, DType dt) {
    const int layout = in.next() % 3;
    if (layout == 0) return ctx.upload(bhld, {B, H, L, D}, dt);
    if (layout == 1) {
        std::vector<float> t(bhld.size());
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t l = 0; l < L; ++l)
                    for (int64_t d = 0; d < D; ++d) t[((b * L + l) * H + h) * D + d] = bhld[((b * H + h) * L + l) * D + d];
        return ctx.upload(t, {B, L, H, D}, dt).transposed(1, 2);
    }
    const int64_t pad = in.range(0, 5), offset = in.range(0, 7);
    const int64_t row = D + pad;
    const int64_t total = offset + B * H * L * row + (in.one_in(16) ? -1 : 0);  // rarely one element short
    std::vector<float> buf(static_cast<size_t>(std::max<int64_t>(total, 1)), NAN);  // padding is NaN: never read
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t l = 0; l < L; ++l)
                for (int64_t d = 0; d < D; ++d) {
                    const int64_t at = offset + ((b * H + h) * L + l) * row + d;
                    if (at < total) buf[static_cast<size_t>(at)] = bhld[((b * H + h) * L + l) * D + d];
                }
    return ctx.upload(buf, {static_cast<int64_t>(buf.size())}, dt).view({B, H, L, D}, {H * L * row, L * row, row, 1}, offset);
}

bool close(float got, float want, double tol) {
    if (std::isinf(want) || std::isinf(got)) return got == want;
    return std::fabs(got - want) <= tol * (1 + std::fabs(want));
}

}  // namespace

void attention_args_one_input(Context& ctx, const uint8_t* data, size_t size) {
    Bytes in{data, size};
    // Mostly valid shapes, sometimes broken ones: each field has a small chance to be off.
    const int64_t B = in.range(1, 3), Hkv = in.range(1, 3), group = in.range(1, 3);
    const int64_t Hq = Hkv * group + (in.one_in(16) ? 1 : 0);
    const int64_t Lq = in.one_in(4) ? in.range(1, 8) : in.range(1, 40);  // short: the decode kernels
    const int64_t Lk = in.range(1, 70), D = in.range(1, 72), Dv = in.range(1, 72);
    const auto dt = in.next() % 2 ? DType::f16 : DType::f32;
    const int64_t kD = in.one_in(16) ? D + 1 : D;
    const int64_t kB = in.one_in(16) ? B + 1 : B;
    HostAttentionProblem p;
    p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Lq = Lq, p.Lk = Lk, p.D = D, p.Dv = Dv;
    p.q = values(in, B * Hq * Lq * D);
    p.k = values(in, kB * Hkv * Lk * kD);
    p.v = values(in, B * Hkv * Lk * Dv);
    AttentionOptions o;
    const uint8_t flags = in.next(), more = in.next();
    o.causal = static_cast<Causal>(flags % 3);
    p.causal = o.causal;
    bool valid = kD == D && kB == B && Hq % Hkv == 0;
    if (flags & 4) {
        const int n = in.one_in(16) ? static_cast<int>(B) + 1 : static_cast<int>(B);
        for (int b = 0; b < n; ++b) o.key_lengths.push_back(in.range(-1, static_cast<int>(Lk) + 1));
        valid = valid && n == B;
        for (int32_t len : o.key_lengths) valid = valid && len >= 0 && len <= Lk;
        p.key_lengths = o.key_lengths;
    }
    if (flags & 8) {
        const int s = in.range(0, 9);
        o.scale = s == 0 ? 0.0f : s == 9 ? NAN : static_cast<float>(s) / 8.0f * (in.one_in(2) ? 1.0f : -1.0f);
        valid = valid && s != 0 && s != 9;
    }
    p.scale = o.scale.value_or(0.0f);
    o.path = (flags & 32) ? Path::explicit_ : (flags & 16) ? Path::fused : Path::automatic;
    o.return_lse = true;
    o.return_weights = (more & 1) && o.path != Path::fused;
    if (more & 2) o.out_dtype = DType::f16;
    if (more & 4) {
        o.return_weights = true;  // also on the fused path, where it must be refused
        valid = valid && o.path != Path::fused;
    }
    try {
        if (flags & 64) {
            // [Lq, Lk] or [B|1, Hq|1, Lq, Lk]; u8 boolean or f32/f16 additive with -inf entries.
            const bool four = more & 8, is_bool = more & 16;
            const int64_t mb = four ? (in.one_in(2) ? 1 : B) : 1, mh = four ? (in.one_in(2) ? 1 : Hq) : 1;
            const int64_t mLk = in.one_in(16) ? Lk + 1 : Lk;
            valid = valid && mLk == Lk;
            p.mask_shape = four ? Shape{mb, mh, Lq, mLk} : Shape{Lq, mLk};
            p.mask_is_bool = is_bool;
            const int64_t n = mb * mh * Lq * mLk;
            std::vector<uint8_t> m(static_cast<size_t>(n));
            for (int64_t e = 0; e < n; ++e) {
                const uint8_t x = in.next();
                if (is_bool) m[e] = x % 4 != 0, p.mask.push_back(m[e]);
                else p.mask.push_back(x % 5 == 0 ? -INFINITY : round_to_half(static_cast<float>(static_cast<int8_t>(x)) / 64.0f));
            }
            o.mask = is_bool ? ctx.upload_raw(m.data(), m.size(), p.mask_shape, DType::u8)
                             : ctx.upload(p.mask, p.mask_shape, (more & 32) ? DType::f16 : DType::f32);
        }
        const Tensor q = upload(ctx, in, p.q, B, Hq, Lq, D, dt);
        const Tensor k = upload(ctx, in, p.k, kB, Hkv, Lk, kD, dt);
        const Tensor v = upload(ctx, in, p.v, B, Hkv, Lk, Dv, dt);
        const AttentionResult r = attention_full(ctx, q, k, v, o);
        // Accepted: the problem must have been valid, and the answer must match the reference.
        if (!valid) finding("an invalid problem was accepted");
        const auto ref = reference_attention(p, o.return_weights);
        const auto out = r.out.download<float>();
        const auto lse = r.lse->download<float>();
        const double tol = (dt == DType::f16 || o.out_dtype == DType::f16) ? 4e-3 : 1e-4;
        if (out.size() != ref.out.size() || lse.size() != ref.lse.size()) finding("result size differs from the reference");
        for (size_t i = 0; i < out.size(); ++i)
            if (!close(out[i], ref.out[i], tol))
                finding("out[" + std::to_string(i) + "] = " + std::to_string(out[i]) + ", reference " + std::to_string(ref.out[i]) +
                        " (" + r.variant + ")");
        for (size_t i = 0; i < lse.size(); ++i)
            if (!close(lse[i], ref.lse[i], 1e-4))
                finding("lse[" + std::to_string(i) + "] = " + std::to_string(lse[i]) + ", reference " + std::to_string(ref.lse[i]));
        if (o.return_weights) {
            const auto w = r.weights->download<float>();
            for (size_t i = 0; i < w.size(); ++i)
                if (!close(w[i], ref.weights[i], tol)) finding("weights[" + std::to_string(i) + "] differ from the reference");
        }
    } catch (const Error& e) {
        // Only bad input may fail, and only as invalid_argument (or a view that does not fit).
        if (e.code() != ErrorCode::invalid_argument) finding(std::string("unexpected error code: ") + e.what());
        if (valid && std::string(e.message()).rfind("view:", 0) != 0) finding(std::string("a valid problem was refused: ") + e.what());
    }
}

}  // namespace vkattn::fuzz

#ifndef VKATTN_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static vkattn::Context ctx = [] {
        vkattn::ContextOptions o;
        // scripts/ci/fuzz.sh keeps the pipelines between runs (each costs seconds on lavapipe).
        const char* cache = std::getenv("VKATTN_FUZZ_PIPELINE_CACHE");
        o.pipeline_cache_dir = cache && *cache ? cache : "none";
        return vkattn::Context(o);
    }();
    vkattn::fuzz::attention_args_one_input(ctx, data, size);
    return 0;
}
#endif
