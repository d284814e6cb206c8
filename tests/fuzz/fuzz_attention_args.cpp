// libFuzzer target: random shapes, strides, dtypes and options through the public API on the default
// device (lavapipe in CI). Every call must either throw vkattn::Error, or -- the sizes are kept small --
// compute a result that matches the CPU reference. Anything else (a crash, a hang, a wrong answer, an
// exception of another type) aborts.
#include <vkattn/vkattn.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct Bytes {
    const uint8_t* p;
    size_t n;
    uint8_t next() { return n ? (--n, *p++) : 0; }
    int range(int lo, int hi) { return lo + next() % (hi - lo + 1); }
};

vkattn::Context& context() {
    static vkattn::Context ctx = [] {
        vkattn::ContextOptions o;
        o.pipeline_cache_dir = "none";
        return vkattn::Context(o);
    }();
    return ctx;
}

std::vector<float> values(Bytes& in, int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = vkattn::round_to_half(static_cast<float>(static_cast<int8_t>(in.next())) / 32.0f);
    return v;
}

// [B, L, H, D] storage viewed as [B, H, L, D] when `blhd`.
vkattn::Tensor upload(vkattn::Context& ctx, const std::vector<float>& bhld, int64_t B, int64_t H, int64_t L, int64_t D,
                      vkattn::DType dt, bool blhd) {
    if (!blhd) return ctx.upload(bhld, {B, H, L, D}, dt);
    std::vector<float> t(bhld.size());
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t l = 0; l < L; ++l)
                for (int64_t d = 0; d < D; ++d) t[((b * L + l) * H + h) * D + d] = bhld[((b * H + h) * L + l) * D + d];
    return ctx.upload(t, {B, L, H, D}, dt).transposed(1, 2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Bytes in{data, size};
    vkattn::Context& ctx = context();
    // Mostly valid shapes, sometimes broken ones: each field has a small chance to be off.
    const int64_t B = in.range(1, 3), Hkv = in.range(1, 3), group = in.range(1, 3);
    const int64_t Hq = Hkv * group + (in.next() % 16 == 0 ? 1 : 0);
    const int64_t Lq = in.range(1, 40), Lk = in.range(1, 70), D = in.range(1, 72), Dv = in.range(1, 72);
    const auto dt = in.next() % 2 ? vkattn::DType::f16 : vkattn::DType::f32;
    const bool blhd = in.next() % 2;
    const int64_t kD = in.next() % 16 == 0 ? D + 1 : D;
    const int64_t kB = in.next() % 16 == 0 ? B + 1 : B;
    vkattn::HostAttentionProblem p;
    p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Lq = Lq, p.Lk = Lk, p.D = D, p.Dv = Dv;
    p.q = values(in, B * Hq * Lq * D);
    p.k = values(in, kB * Hkv * Lk * kD);
    p.v = values(in, B * Hkv * Lk * Dv);
    vkattn::AttentionOptions o;
    const uint8_t flags = in.next();
    o.causal = static_cast<vkattn::Causal>(flags % 3);
    p.causal = o.causal;
    if (flags & 4) {
        for (int64_t b = 0; b < B; ++b) o.key_lengths.push_back(in.range(-1, static_cast<int>(Lk) + 1));
        p.key_lengths = o.key_lengths;
    }
    if (flags & 8) o.scale = (flags & 16) ? NAN : static_cast<float>(in.range(1, 8)) / 8.0f;
    p.scale = o.scale.value_or(0.0f);
    o.path = (flags & 32) ? vkattn::Path::explicit_ : vkattn::Path::fused;
    o.return_lse = true;
    if (flags & 64) {
        p.mask_shape = {Lq, Lk};
        p.mask_is_bool = true;
        std::vector<uint8_t> m(static_cast<size_t>(Lq * Lk));
        for (auto& x : m) x = in.next() % 4 != 0;
        for (uint8_t x : m) p.mask.push_back(x);
        o.mask = ctx.upload_raw(m.data(), m.size(), {Lq, Lk}, vkattn::DType::u8);
    }
    vkattn::AttentionResult r;
    try {
        vkattn::Tensor q = upload(ctx, p.q, B, Hq, Lq, D, dt, blhd);
        vkattn::Tensor k = upload(ctx, p.k, kB, Hkv, Lk, kD, dt, blhd);
        vkattn::Tensor v = upload(ctx, p.v, B, Hkv, Lk, Dv, dt, blhd);
        r = vkattn::attention_full(ctx, q, k, v, o);
    } catch (const vkattn::Error& e) {
        if (e.code() != vkattn::ErrorCode::invalid_argument) std::abort();  // only bad input may fail here
        return 0;
    }
    // Accepted: the problem must have been valid, and the answer must match the reference.
    if (kD != D || kB != B || Hq % Hkv != 0) std::abort();
    const auto ref = vkattn::reference_attention(p);
    const auto out = r.out.download<float>();
    const double tol = dt == vkattn::DType::f16 ? 4e-3 : 1e-4;
    for (size_t i = 0; i < out.size(); ++i)
        if (!(std::fabs(out[i] - ref.out[i]) <= tol * (1 + std::fabs(ref.out[i])))) std::abort();
    return 0;
}
