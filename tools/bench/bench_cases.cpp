#include "bench/bench_cases.hpp"

#include <algorithm>

#include "bench/bench_layers.hpp"
#include "bench/bench_sequences.hpp"
#include "cli/cli_common.hpp"

namespace vkattn::cli {
namespace {

std::string num(const char* label, int64_t v) {
    std::string s = label;
    s += std::to_string(v);
    return s;
}

std::string heads(int64_t hq, int64_t hkv) { return hq == hkv ? num("H", hq) : num("H", hq) + num("/", hkv); }

BenchCase make(std::string kind, std::string name, std::string family, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk,
               int64_t D, DType dtype, Causal causal, Path path = Path::automatic) {
    BenchCase c;
    c.kind = std::move(kind);
    c.family = std::move(family);
    ProblemSpec& s = c.spec;
    s.name = std::move(name);
    s.B = 1, s.Hq = Hq, s.Hkv = Hkv, s.Lq = Lq, s.Lk = Lk, s.D = D, s.Dv = D;
    s.dtype = dtype;
    s.causal = causal;
    s.path = path;
    return c;
}

/// Self-attention over N tokens: "prefill f16 causal H32 N4096 D128" (causal: top-left, i.e. PyTorch's).
BenchCase prefill(int64_t H, int64_t N, int64_t D, DType dt, bool causal) {
    const std::string head = std::string("prefill ") + std::string(dtype_name(dt)) + (causal ? " causal" : "");
    return make("prefill", head + " " + heads(H, H) + num(" N", N) + num(" D", D), head + " " + heads(H, H) + num(" D", D), H,
                H, N, N, D, dt, causal ? Causal::top_left : Causal::none);
}

/// Decoding Lq new tokens against a KV cache of Lk (bottom-right causal): "decode f16 Lq1 Lk4096 H32/8 D128".
BenchCase decode(int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D) {
    const std::string head = num("decode f16 Lq", Lq);
    return make("decode", head + num(" Lk", Lk) + " " + heads(Hq, Hkv) + num(" D", D), head + " " + heads(Hq, Hkv) + num(" D", D),
                Hq, Hkv, Lq, Lk, D, DType::f16, Causal::bottom_right);
}

/// Cross-attention (image tokens attending to a text encoding, as in Stable Diffusion).
BenchCase cross(int64_t H, int64_t Lq, int64_t Lk, int64_t D, DType dt) {
    const std::string head = std::string("cross ") + std::string(dtype_name(dt));
    return make("cross", head + num(" Lq", Lq) + num(" Lk", Lk) + " " + heads(H, H) + num(" D", D),
                head + " " + heads(H, H) + num(" D", D), H, H, Lq, Lk, D, dt, Causal::none);
}

/// The explicit path (the fused kernel with its lse, then P = exp(s - lse); materialises P): "explicit f32 H8 N256 D64".
BenchCase explicit_path(int64_t H, int64_t N, int64_t D, DType dt) {
    const std::string head = std::string("explicit ") + std::string(dtype_name(dt));
    return make("explicit", head + " " + heads(H, H) + num(" N", N) + num(" D", D), head + " " + heads(H, H) + num(" D", D), H,
                H, N, N, D, dt, Causal::none, Path::explicit_);
}

/// Local attention: causal with a sliding window of W keys, "local f32 W256 H8 N4096 D64"; the family
/// is one (dtype, W, H, D), whose time should grow linearly in N (bench prints the slope).
BenchCase local(int64_t H, int64_t N, int64_t D, DType dt, int64_t W) {
    const std::string head = std::string("local ") + std::string(dtype_name(dt)) + num(" W", W);
    BenchCase c = make("local", head + " " + heads(H, H) + num(" N", N) + num(" D", D), head + " " + heads(H, H) + num(" D", D), H,
                       H, N, N, D, dt, Causal::top_left);
    c.spec.window = {W, 0};
    return c;
}

/// Linear attention (elu + 1): "linear f32 causal H8 N4096 D64"; its family pairs with the softmax
/// prefill family of the same shapes in the "linear" set (bench_linear.cpp prints the comparison).
BenchCase linear(int64_t H, int64_t N, int64_t D, DType dt, bool causal) {
    const std::string head = std::string("linear ") + std::string(dtype_name(dt)) + (causal ? " causal" : "");
    BenchCase c = make("linear", head + " " + heads(H, H) + num(" N", N) + num(" D", D), head + " " + heads(H, H) + num(" D", D), H,
                       H, N, N, D, dt, causal ? Causal::top_left : Causal::none);
    c.spec.linear = true;
    return c;
}

/// Linear against softmax attention at the same shapes: B=1, H=8, D=64, f32, N = 512 .. 16384.
void add_linear(std::vector<BenchCase>& v) {
    for (bool causal : {false, true})
        for (int64_t N : {512, 1024, 2048, 4096, 8192, 16384}) {
            v.push_back(linear(8, N, 64, DType::f32, causal));
            v.push_back(prefill(8, N, 64, DType::f32, causal));
        }
}

/// The matmul behind the layers: "matmul f32 M1024 N1024 K1024" (Y = A W^T + bias).
BenchCase matmul_case(int64_t M, int64_t N, int64_t K, DType dt) {
    BenchCase c;
    c.kind = "matmul";
    c.family = "matmul " + std::string(dtype_name(dt));
    c.spec.name = c.family + num(" M", M) + num(" N", N) + num(" K", K);
    c.spec.dtype = dt;
    c.M = M, c.N = N, c.K = K;
    return c;
}

/// nn.MultiheadAttention's forward, self-attention without weights: "mha f32 B1 L1024 E512 H8".
BenchCase mha_case(int64_t B, int64_t L, int64_t E, int64_t H, DType dt) {
    BenchCase c = make("mha", "", "mha " + std::string(dtype_name(dt)) + num(" E", E) + num(" H", H), H, H, L, L, E / H, dt,
                       Causal::none);
    c.spec.B = B;
    c.spec.name = "mha " + std::string(dtype_name(dt)) + num(" B", B) + num(" L", L) + num(" E", E) + num(" H", H);
    return c;
}

void add_local(std::vector<BenchCase>& v) {
    for (int64_t N : {1024, 2048, 4096, 8192, 16384}) v.push_back(local(8, N, 64, DType::f32, 256));
}

void add_prefill(std::vector<BenchCase>& v, bool cpu) {
    for (DType dt : {DType::f32, DType::f16})
        for (bool causal : {false, true})
            for (int64_t H : {8, 32})
                for (int64_t D : {64, 128})
                    for (int64_t N : {512, 1024, 2048, 4096, 8192, 16384})
                        if (N < 16384 || !cpu) v.push_back(prefill(H, N, D, dt, causal));
    // bf16 storage (the f16 pipelines reading bf16 by bit shifts, docs/formats.md) beside the f16 rows of one
    // head count and head dim: the conversion's cost is the difference.
    for (bool causal : {false, true})
        for (int64_t N : {512, 1024, 2048, 4096, 8192, 16384})
            if (N < 16384 || !cpu) v.push_back(prefill(8, N, 64, DType::bf16, causal));
}

void add_decode(std::vector<BenchCase>& v) {
    for (int64_t Lq : {1, 4})
        for (auto [hq, hkv] : {std::pair<int64_t, int64_t>{32, 8}, {64, 8}})
            for (int64_t D : {64, 128})
                for (int64_t Lk : {1024, 4096, 7680, 32768}) v.push_back(decode(hq, hkv, Lq, Lk, D));
    // Attention sinks beside the same shape without them: what the sink costs a decode step.
    BenchCase sinks = decode(64, 8, 1, 7680, 64);
    sinks.spec.name += " sinks", sinks.family += " sinks", sinks.spec.sinks = true;
    v.push_back(sinks);
    // 8- and 4-bit K/V (q8_0, q4_0) beside the same f16 shape: bench prints their time over the f16 row's.
    for (DType kv : {DType::q8_0, DType::q4_0}) {
        BenchCase q = decode(64, 8, 1, 7680, 64);
        const std::string tag = " kv " + std::string(dtype_name(kv));
        q.spec.name += tag, q.family += tag, q.spec.kv_dtype = kv;
        v.push_back(q);
    }
}

/// The set sized for a datacenter GPU (`--shapes gpu`, run by the GPU kit, scripts/gpu/): f16 prefill at
/// H32 from N=1k to 16k, D64 and D128, causal and not; GQA decode (32 query heads over 8 KV heads, D128)
/// against 4k to 128k cached keys; the explicit path next to fused rows of the same shapes (bench prints
/// explicit / fused). On CPU devices N=16384 is left out like in the prefill set; the rest runs there too,
/// slowly (the kit's lavapipe run keeps to a few rows with --filter and --max-seconds-per-case). Cheapest
/// first (decode, then prefill by N, the explicit rows after the fused ones of their N), so that a run
/// stopped by a time limit has the widest spread of rows (`--json` is rewritten after each).
void add_gpu(std::vector<BenchCase>& v, bool cpu) {
    for (int64_t Lq : {1, 4})
        for (int64_t Lk : {4096, 32768, 131072}) v.push_back(decode(32, 8, Lq, Lk, 128));
    for (int64_t N : {1024, 2048, 4096, 8192, 16384}) {
        if (N == 16384 && cpu) continue;
        for (bool causal : {false, true})
            for (int64_t D : {64, 128}) v.push_back(prefill(32, N, D, DType::f16, causal));
        // Weights read back ([1, 32, N, N] f32: 128 MiB at N=1024, 512 MiB at 2048) beside the fused rows.
        if (N <= 2048) v.push_back(explicit_path(32, N, 64, DType::f16));
    }
    // The layers' matmul at GPU sizes (f16 storage, f32 accumulation), largest last; on CPU devices the
    // per-case time limit leaves out what would take too long.
    for (int64_t n : {1024, 4096, 8192}) v.push_back(matmul_case(n, n, n, DType::f16));
}

}  // namespace

const std::vector<std::string>& bench_set_names() {
    static const std::vector<std::string> names = {"quick", "standard", "prefill", "decode", "memory", "local", "linear", "weights", "matmul", "mha", "sequences", "gpu"};
    return names;
}

std::vector<BenchCase> bench_cases(const std::string& set, bool cpu_device) {
    std::vector<BenchCase> v;
    if (set == "quick") {
        v.push_back(prefill(8, 256, 64, DType::f32, false));
        v.push_back(prefill(8, 256, 64, DType::f16, false));
        v.push_back(prefill(8, 256, 64, DType::f16, true));
        v.push_back(decode(32, 8, 1, 1024, 128));
        v.push_back(cross(8, 256, 77, 64, DType::f16));
        v.push_back(explicit_path(8, 128, 64, DType::f32));
    } else if (set == "prefill") {
        add_prefill(v, cpu_device);
    } else if (set == "decode") {
        add_decode(v);
    } else if (set == "standard") {
        add_prefill(v, cpu_device);
        add_decode(v);
        v.push_back(cross(8, 4096, 77, 64, DType::f16));
        for (int64_t N : {128, 256, 512}) v.push_back(explicit_path(8, N, 64, DType::f32));
        add_local(v);
        add_sequence_cases(v);
    } else if (set == "local") {
        add_local(v);
    } else if (set == "linear") {
        add_linear(v);
    } else if (set == "weights") {
        // The explicit path (weights read back) against the fused path at the same shapes, side by side:
        // bench prints explicit / fused per N (the goal: under 2x).
        for (int64_t N : {512, 2048}) {
            v.push_back(prefill(8, N, 64, DType::f32, false));
            v.push_back(explicit_path(8, N, 64, DType::f32));
        }
    } else if (set == "sequences") {
        // Packed variable-length prefill beside the padded batch; paged decode beside the contiguous KvCache.
        add_sequence_cases(v);
    } else if (set == "gpu") {
        add_gpu(v, cpu_device);
    } else if (set == "matmul") {
        // bench prints GFLOP/s and "% peak" (of the measured fp32 FMA peak); the goal on lavapipe: >= 50%.
        for (DType dt : {DType::f32, DType::f16}) v.push_back(matmul_case(1024, 1024, 1024, dt));
        v.push_back(matmul_case(1000, 333, 517, DType::f32));
    } else if (set == "mha") {
        v.push_back(mha_case(1, 1024, 512, 8, DType::f32));
    } else if (set == "memory") {
        // The long-sequence memory goal: f16 in and out, peak device memory against inputs + outputs.
        v.push_back(prefill(8, 32768, 64, DType::f16, false));
    } else {
        throw UsageError("--shapes: unknown set '" + set + "' (expected quick, standard, prefill, decode, memory, local, linear, weights, matmul, mha, sequences, gpu or overhead)");
    }
    return v;
}

std::vector<BenchCase> filter_cases(const std::vector<BenchCase>& cases, const std::vector<std::string>& filters) {
    if (filters.empty()) return cases;
    std::vector<BenchCase> out;
    for (const BenchCase& c : cases)
        if (std::any_of(filters.begin(), filters.end(),
                        [&](const std::string& f) { return c.spec.name.find(f) != std::string::npos; }))
            out.push_back(c);
    return out;
}

double case_flops(const BenchCase& c) { return is_layer_case(c) ? layer_flops(c) : is_sequence_case(c) ? sequence_flops(c) : attention_flops(c.spec); }
double case_bytes(const BenchCase& c) { return is_layer_case(c) ? layer_bytes(c) : is_sequence_case(c) ? sequence_bytes(c) : attention_bytes(c.spec); }

double attention_bytes(const ProblemSpec& s) {
    const double q = double(s.B * s.Hq * s.Lq * s.D), k = double(s.B * s.Hkv * s.Lk * s.D),
                 v = double(s.B * s.Hkv * s.Lk * s.Dv), o = double(s.B * s.Hq * s.Lq * s.Dv);
    const DType kv = s.kv_dtype.value_or(s.dtype);
    const double kv_bytes = double(dtype_block_bytes(kv)) / double(dtype_block_elements(kv));  // 34/32 for q8_0
    return (q + o) * double(dtype_size(s.dtype)) + (k + v) * kv_bytes;
}

bool variant_computes_in_f16(const std::string&) {
    // Every kernel vkattn has today (fused*, explicit) accumulates in f32, f16 storage included. A kernel
    // with f16 arithmetic must be recognised here by its variant name so it is held to the fp16 peak.
    return false;
}

}  // namespace vkattn::cli
