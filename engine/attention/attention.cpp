// The attention operation: validate, plan, allocate outputs, split into chunks, record and run.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "runtime/access.hpp"
#include "attention/attention_decode.hpp"
#include "attention/attention_problem.hpp"
#include "attention/attention_split_kv.hpp"
#include "attention/call_tail.hpp"
#include "attention/call_target.hpp"
#include "attention/chunking.hpp"
#include "attention/sequences.hpp"
#include "runtime/convert.hpp"
#include "runtime/context_state.hpp"
#include "tuning/tuning_table.hpp"
#include "vkattn/attention.hpp"
#include "vkattn/error.hpp"

namespace vkattn {

const char* to_string(Causal c) noexcept {
    switch (c) {
        case Causal::top_left: return "top-left";
        case Causal::bottom_right: return "bottom-right";
        default: return "none";
    }
}

const char* to_string(Path p) noexcept {
    switch (p) {
        case Path::fused: return "fused";
        case Path::explicit_: return "explicit";
        default: return "auto";
    }
}

namespace detail {

// key_end_for_row of shaders/common/common.glsl: keys [0, end) may be visible to query row i of batch b.
int64_t key_end_for_row(const AttentionProblem& p, const AttentionOptions& o, int64_t b, int64_t i) {
    int64_t end = p.Lk;
    if (o.causal == Causal::top_left) end = std::min(end, i + 1);
    if (o.causal == Causal::bottom_right) end = std::min(end, i + p.aligned_shift(b) + 1);
    if (!o.key_lengths.empty()) end = std::min<int64_t>(end, o.key_lengths[static_cast<std::size_t>(b)]);
    if (p.window_right >= 0) end = std::min(end, i + p.aligned_shift(b) + p.window_right + 1);
    return std::max<int64_t>(end, 0);
}

// key_start_for_row of shaders/common/common.glsl: keys before it are outside the sliding window.
int64_t key_start_for_row(const AttentionProblem& p, int64_t b, int64_t i) {
    return p.window_left >= 0 ? std::clamp<int64_t>(i + p.aligned_shift(b) - p.window_left, 0, p.Lk) : 0;
}

namespace {

constexpr float kLog2e = 1.4426950408889634f;

Operand operand_of(const Tensor& t, const char* name, int64_t head_div, bool rows_chunked) {
    Operand op;
    op.buffer = detail::buffer_of(t).get();
    op.name = name;
    op.elem_size = dtype_size(t.dtype());
    if (dtype_is_quantized(t.dtype())) op.block_bytes = dtype_block_bytes(t.dtype());
    op.offset = t.offset();
    op.strides = {t.strides()[0], t.strides()[1], t.strides()[2], t.strides()[3]};
    op.head_div = head_div;
    op.rows = t.dim(2);
    op.cols = t.dim(3);
    op.rows_chunked = rows_chunked;
    return op;
}

Operand mask_operand(const Tensor& m, const AttentionProblem& p) {
    Operand op;
    op.buffer = detail::buffer_of(m).get();
    op.name = "mask";
    op.elem_size = dtype_size(m.dtype());
    op.offset = m.offset();
    op.strides = {p.mask_strides[0], p.mask_strides[1], p.mask_strides[2], p.mask_strides[3]};
    op.rows = p.Lq;
    op.cols = p.Lk;
    return op;
}

// A contiguous [B, Hq, Lq, cols] f32 tensor as an operand (lse has cols = 1).
Operand contiguous_operand(const Tensor& t, const char* name, const AttentionProblem& p, int64_t cols) {
    Operand op;
    op.buffer = detail::buffer_of(t).get();
    op.name = name;
    op.elem_size = 4;
    op.strides = {p.Hq * p.Lq * cols, p.Lq * cols, cols, 1};
    op.rows = p.Lq;
    op.cols = cols;
    return op;
}

std::array<int32_t, 4> i32x4(const std::array<int64_t, 4>& s) {
    return {static_cast<int32_t>(s[0]), static_cast<int32_t>(s[1]), static_cast<int32_t>(s[2]), static_cast<int32_t>(s[3])};
}

struct Operands {
    Operand q, k, v, o, mask, lse, weights;
};

KernelParams base_params(const AttentionProblem& p, const AttentionOptions& o, const Operands& ops) {
    KernelParams kp;
    kp.dims0 = {int32_t(p.B), int32_t(p.Hq), int32_t(p.Hkv), int32_t(p.Lq)};
    kp.dims1 = {int32_t(p.Lk), int32_t(p.D), int32_t(p.Dv), int32_t(p.Hq / p.Hkv)};
    kp.q_stride = i32x4(ops.q.strides);
    kp.k_stride = i32x4(ops.k.strides);
    kp.v_stride = i32x4(ops.v.strides);
    kp.o_stride = i32x4(ops.o.strides);
    kp.m_stride = i32x4(ops.mask.strides);
    kp.flags = {static_cast<int32_t>(o.causal), p.mask_kind,
                (o.key_lengths.empty() ? 0 : 1) | (ops.lse.buffer ? 2 : 0) | (p.align_to_key_lengths ? 4 : 0), 0};
    kp.scalars = {p.scale * kLog2e, kLog2e, p.scale, 0};
    kp.ext = {static_cast<int32_t>(p.window_left), static_cast<int32_t>(p.window_right), p.alibi ? static_cast<int32_t>(p.B) : -1, 0};
    kp.ext_f = {p.softcap, 0, 0, 0};
    // Binding 6 holds the B key lengths, then the Hq ALiBi slopes when given, then the Hq sinks.
    kp.ext2 = {p.sinks ? static_cast<int32_t>(p.B + (p.alibi ? p.Hq : 0)) : -1, p.format_bits(), 0, 0};
    return kp;
}

// Fills the chunk-dependent parameters and bindings of one dispatch; row_unit is rows per row-tile index.
Dispatch chunk_dispatch(VkPipeline pipeline, KernelParams kp, const Operands& ops, const Chunk& c, int64_t Hq,
                        const ChunkLimits& lim, int64_t row_unit, const BoundRange& key_lengths, const BoundRange& p_scratch) {
    Dispatch d;
    d.pipeline = pipeline;
    BoundOperand b;
    const auto bind = [&](const Operand& op, uint32_t slot, int32_t& offset) {
        if (!op.buffer) return;  // unbound: the dummy buffer, never read (flags say so)
        if (!bind_operand(op, c, Hq, lim, b)) throw Error(ErrorCode::vulkan_error, std::string("internal: chunk no longer binds ") + op.name);
        d.bindings[slot] = b.range;
        offset = b.offset;
    };
    bind(ops.q, kQ, kp.offsets0[0]);
    bind(ops.k, kK, kp.offsets0[1]);
    bind(ops.v, kV, kp.offsets0[2]);
    bind(ops.o, kOut, kp.offsets0[3]);
    bind(ops.mask, kMask, kp.offsets1[0]);
    bind(ops.lse, kLse, kp.offsets1[1]);
    if (ops.weights.buffer) {
        bind(ops.weights, kP, kp.offsets1[2]);
    } else {
        d.bindings[kP] = p_scratch;
        kp.offsets1[2] = 0;  // scratch P: the caller shifts it to the chunk's first row
    }
    d.bindings[kKeyLengths] = key_lengths;
    kp.chunk = {int32_t(c.bh0), int32_t(c.bh0 / Hq), int32_t(c.bh0 % Hq), int32_t(c.row0 / row_unit)};
    d.params = kp;
    return d;
}

uint32_t groups_for(int64_t n, int64_t per_group) { return static_cast<uint32_t>((n + per_group - 1) / per_group); }

// One dispatch of attention_fused_rowwise: key block `key_block` of chunk `chunk` over `items` work
// items listed from word `first_word` of the binding-6 buffer.
struct RowwiseDispatch {
    std::size_t chunk = 0;
    int32_t key_block = 0;
    int32_t first_word = 0;
    uint32_t items = 0;
};

// Appends the work lists of one chunk. Row tile t runs the key blocks first(t) .. last(t): first(t)
// holds its first row's window start (block 0 without a window), last(t) its last row's key end; the
// first one also finalises rows that see no key (zeros, lse -inf). Blocks outside are skipped.
void plan_rowwise_chunk(const AttentionProblem& p, const AttentionOptions& o, const FusedConfig& fc, const Chunk& c,
                        std::size_t chunk_index, uint32_t max_groups, std::vector<int32_t>& words,
                        std::vector<RowwiseDispatch>& out) {
    const int64_t tiles = (c.row_count + fc.rows - 1) / fc.rows;
    std::vector<std::pair<int64_t, int64_t>> blocks(static_cast<std::size_t>(c.slices * tiles));
    int64_t most = 0;
    for (int64_t s = 0; s < c.slices; ++s)
        for (int64_t t = 0; t < tiles; ++t) {
            const int64_t first_row = c.row0 + t * fc.rows;
            const int64_t b = (c.bh0 + s) / p.Hq;
            // A packed sequence's rows end at its own length: tiles past it are padding of the launch.
            const int64_t last_row = std::min(c.row0 + (t + 1) * fc.rows, p.q_length(b)) - 1;
            if (last_row < first_row) {
                blocks[static_cast<std::size_t>(s * tiles + t)] = {1, 0};  // never listed
                continue;
            }
            const int64_t end = key_end_for_row(p, o, b, last_row);
            const int64_t first = key_start_for_row(p, b, first_row) / fc.keys;
            const int64_t last = std::max(first, (end + fc.keys - 1) / fc.keys - 1);
            blocks[static_cast<std::size_t>(s * tiles + t)] = {first, last};
            most = std::max(most, last + 1);
        }
    for (int64_t kb = 0; kb < most; ++kb) {
        RowwiseDispatch d;
        for (int64_t s = 0; s < c.slices; ++s)
            for (int64_t t = 0; t < tiles; ++t) {
                const auto [first, last] = blocks[static_cast<std::size_t>(s * tiles + t)];
                if (kb < first || kb > last) continue;
                if (d.items == 0) {
                    d = {chunk_index, static_cast<int32_t>(kb), static_cast<int32_t>(words.size()), 0};
                }
                words.push_back(static_cast<int32_t>(s));
                words.push_back(static_cast<int32_t>(t));
                if (++d.items == max_groups) {
                    out.push_back(d);
                    d = {};
                }
            }
        if (d.items > 0) out.push_back(d);
    }
    if (words.size() > static_cast<std::size_t>(INT32_MAX))
        throw Error(ErrorCode::unsupported, "q: too many row tiles for one call of the rowwise kernel");
}

// Temporary device memory an f16-output call may use for its f32 working rows (and per-row scratch):
// 1/16 of its inputs and outputs, so that large calls stay within ~1.07x of them, but at least 8 MiB
// on CPU devices and 64 MiB on GPUs, where a chunk must still fill the device (a 64 MiB chunk is
// >= 256k f32 rows of Dv = 64). Measured on lavapipe, f16 prefill H8 N2048 D64: a 1 MiB floor (4
// chunks of 2 slices) ran at 22.6 GFLOP/s against 45 unchunked; 8 MiB leaves N <= 4096 unchunked.
uint64_t workspace_budget(const DeviceInfo& dev, uint64_t in_out_bytes) {
    // Test hook: a small budget, so that the chunked f16 output is exercised on small problems.
    if (const char* env = std::getenv("VKATTN_TEST_WORKSPACE")) return std::max<uint64_t>(256, std::strtoull(env, nullptr, 10));
    const uint64_t floor = dev.type == DeviceType::cpu ? (uint64_t{8} << 20) : (uint64_t{64} << 20);
    return std::max(floor, in_out_bytes / 16);
}

}  // namespace
}  // namespace detail

AttentionPlan plan_attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
    // The plan is the call itself, run through a sizing target: nothing is allocated, recorded or
    // compiled, and the plan cannot drift from what the call runs.
    detail::PlanningOnly planning(detail::state_of(ctx));
    AttentionOptions checked = o;
    checked.measure_time = false;
    detail::SizingTarget target;
    const AttentionResult r = detail::attention_call(ctx, q, k, v, checked, target);
    AttentionPlan plan;
    plan.path = r.path;
    plan.variant = r.variant;
    if (plan.path == Path::fused)
        plan.reason = o.path == Path::fused ? "fused requested" : "fused: the default (no weights requested)";
    else
        plan.reason = o.path == Path::explicit_ ? "explicit requested" : "explicit: weights requested";
    plan.workspace_bytes = target.bytes();
    plan.dispatches = r.dispatches;
    return plan;
}

namespace detail {

AttentionResult attention_call(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o_in,
                               CallTarget& target, const SequenceLayout* seq) {
    ContextState& st = detail::state_of(ctx);
    std::lock_guard lock(st.mutex);
    st.ensure_alive();
    // Packed sequences run as a batch of S entries of up to Lq rows whose rows the kernels find through
    // the sequence table (sequences.hpp); their key lengths and alignment are the sequences'.
    AttentionOptions seq_options;
    const AttentionProblem p = seq ? validate_sequences(ctx, q, k, v, o_in, *seq, seq_options) : validate_attention(ctx, q, k, v, o_in);
    const AttentionOptions& o = seq ? seq_options : o_in;
    const DeviceInfo& dev = st.info;
    AttentionResult result;
    result.path = choose_path(o);

    // Plan first: an unsupported configuration fails before anything is allocated.
    // The explicit path runs the fused kernel too (its output, lse, and each row's final (m, l)), then the
    // weights pass P = exp(s - m) / l over the same rows: one pass over the keys more than the fused path.
    const bool explicit_path = result.path == Path::explicit_;
    FusedConfig fc = st.forced_fused ? *st.forced_fused : choose_fused_config(dev, head_dim_class(std::max(p.D, p.Dv)), p.plan_dtype(), st.tuning.get());
    // Quantised K/V are read by the rowwise kernels only (decode_split, fused_rowwise, weights_rowwise): on
    // GPUs too, where the tiled kernel would run otherwise.
    if (dtype_is_quantized(p.kv_dtype) && fc.kernel != FusedKernel::rowwise)
        fc = choose_rowwise_config(dev, head_dim_class(std::max(p.D, p.Dv)), p.plan_dtype());
    // The rowwise kernels keep quantised K/V blocks raw in shared memory: fewer bytes than the f32 block the
    // keys were fitted to (rowwise_shared_bytes).
    if (dtype_is_quantized(p.kv_dtype)) fc.shared_bytes = rowwise_shared_bytes(fc.keys, fc.dcap, p.kv_dtype);
    fit_fused_rows(fc, p.Lq);
    ExplicitConfig ec;
    // Chunks start on a row tile of every pass (the explicit path's weights pass has rows of its own).
    const auto explicit_row_tile = [&] {
        return std::lcm<int64_t>(fc.rows, fc.kernel == FusedKernel::rowwise ? ec.rowwise_rows : ec.tile);
    };
    int64_t row_tile = fc.rows;
    result.variant = fused_variant_name(fc, p.dtype);
    if (explicit_path) {
        ec = choose_explicit_config(dev);
        row_tile = explicit_row_tile();
        result.variant = explicit_variant_name(ec, fc, p.dtype);
    }

    const auto result_tensor = [&](const char* name, const Shape& shape, DType dtype) { return target.result(ctx, shape, dtype, name); };
    const int64_t group = p.Hq / p.Hkv;
    Operands ops;
    std::optional<Tensor> seq_weights;  // packed sequences on the explicit path: the weights, or scratch of their layout
    if (seq) {
        if (o.return_lse) result.lse = result_tensor("lse", {p.Hq, seq->total_q}, DType::f32);
        if (explicit_path) {
            const Shape shape = {std::max<int64_t>(1, seq->total_weights)};
            seq_weights = o.return_weights ? result_tensor("weights", shape, DType::f32) : target.temporary(ctx, shape, DType::f32, "scratch");
            if (o.return_weights) result.weights = seq_weights;
        }
        ops.q = packed_operand(q, "q", 1);
        ops.k = packed_operand(k, "k", group);
        ops.v = packed_operand(v, "v", group);
        if (result.lse) ops.lse = flat_operand(*result.lse, "lse", p.Hq * seq->total_q);
        if (seq_weights) ops.weights = flat_operand(*seq_weights, "weights", seq_weights->numel());
    } else {
        if (o.return_lse) result.lse = result_tensor("lse", {p.B, p.Hq, p.Lq}, DType::f32);
        if (o.return_weights) result.weights = result_tensor("weights", {p.B, p.Hq, p.Lq, p.Lk}, DType::f32);
        ops.q = operand_of(q, "q", 1, true);
        ops.k = operand_of(k, "k", group, false);
        ops.v = operand_of(v, "v", group, false);
        if (o.mask) ops.mask = mask_operand(*o.mask, p);
        if (result.lse) ops.lse = contiguous_operand(*result.lse, "lse", p, 1);
        if (result.weights) ops.weights = contiguous_operand(*result.weights, "weights", p, p.Lk);
    }
    // The output's shape: [B, Hq, Lq, Dv], or packed [total_q, Hq, Dv].
    const Shape out_shape = seq ? Shape{seq->total_q, p.Hq, p.Dv} : Shape{p.B, p.Hq, p.Lq, p.Dv};
    const auto out_operand = [&](const Tensor& t) { return seq ? packed_operand(t, "out", 1) : operand_of(t, "out", 1, true); };

    // Short queries on CPU devices: split-KV decoding (attention_decode.cpp) instead of the rowwise kernel.
    // (It checks the f32 output's size itself: the output operand does not exist yet.)
    DecodeConfig dc;
    const bool decode = result.path == Path::fused &&
                        choose_decode_config(dev, p, o, fc, {ops.q, ops.k, ops.v, ops.mask, ops.lse, ops.weights}, dc);
    if (decode) result.variant = decode_variant_name(dc, p.dtype);
    // Few (row tile, head) workgroups over many keys on the tiled kernel: split-KV (attention_split_kv.cpp).
    // Short query blocks with GQA on the tiled kernel: one workgroup's rows span the group's heads.
    const std::vector<Operand> inputs = {ops.q, ops.k, ops.v, ops.mask, ops.lse, ops.weights};
    const bool packed = result.path == Path::fused && !decode && !seq && choose_gqa_packing(dev, p, fc, inputs);
    if (packed) result.variant += gqa_packing_variant_suffix(p);
    KvSplitConfig ks;
    const bool split_kv = result.path == Path::fused && !decode && choose_kv_split_config(dev, p, o, fc, packed, inputs, ks);
    if (split_kv) result.variant += kv_split_variant_suffix(ks, dev);
    if (fc.kernel == FusedKernel::tiled && has_loop_iteration_limit(dev) &&
        tiled_loop_iterations(fc, p.D, p.Dv, split_kv ? ks.keys_per_split : p.Lk) > 60000)
        throw Error(ErrorCode::unsupported,
                    "k: " + std::to_string(p.Lk) + " keys would exceed this device's limit of 65535 shader loop "
                    "iterations in the tiled fused kernel (lavapipe); use the default kernel (unset VKATTN_FUSED_KERNEL)");

    // Scratch per query row: (m, l), the rowwise kernel's between key blocks and the explicit path's for
    // its weights pass; and on the explicit path without return_weights, the row of P that pass writes.
    const bool rowwise = fc.kernel == FusedKernel::rowwise && !decode;
    const int64_t state_per_row = rowwise || explicit_path ? 2 : 0;
    const int64_t p_scratch_per_row = explicit_path && !result.weights && !seq ? p.Lk : 0;
    const int64_t scratch_per_row = state_per_row + p_scratch_per_row;

    // Binding 6: the B key lengths (zeros when unused), then the Hq ALiBi slopes and the Hq sinks (as
    // float bits) when given (base_params points at them), then (rowwise kernel) its work lists, appended below.
    std::vector<int32_t> words(static_cast<std::size_t>(p.B), 0);
    if (!o.key_lengths.empty()) std::copy(o.key_lengths.begin(), o.key_lengths.end(), words.begin());
    for (const std::vector<float>* floats : {&o.alibi_slopes, &o.sinks})
        for (float x : *floats) {
            int32_t bits;
            std::memcpy(&bits, &x, 4);
            words.push_back(bits);
        }
    // Packed sequences: the sequence table, then (paged) the block table (sequence_rows.glsl).
    int32_t seq_words = -1, table_words = -1;
    if (seq) {
        seq_words = static_cast<int32_t>(words.size());
        append_sequence_words(*seq, words);
        if (seq->paged) {
            table_words = static_cast<int32_t>(words.size());
            words.insert(words.end(), seq->block_table.begin(), seq->block_table.end());
        }
    }
    // The words go to the device with the parameters when the dispatches are recorded (host_words).
    BoundRange key_lengths_range;
    if (!o.key_lengths.empty() || p.alibi || p.sinks || rowwise) key_lengths_range.host_words = true;

    const int64_t max_row_groups = result.path == Path::fused ? dev.max_workgroup_count[0]
                                                                : std::min<int64_t>(dev.max_workgroup_count[0], dev.max_workgroup_count[1]);
    ChunkLimits lim = chunk_limits(dev, row_tile, max_row_groups);

    // The kernels accumulate in f32. With f32 output they write the output itself; with f16 output
    // they write an f32 working buffer that a convert pass packs into the output. That working
    // buffer covers one chunk at a time (see workspace_budget), so that large f16 problems need
    // little more memory than their inputs and outputs; each chunk's convert runs right after it.
    const int64_t work_per_row = (p.Dv + scratch_per_row) * 4;
    // (Odd Dv: a chunk's first element may sit mid-word in the f16 output; such problems keep a whole f32 output.)
    const bool out16 = p.out_dtype == DType::f16 || p.out_dtype == DType::bf16;  // packed 16-bit output
    const bool staged = out16 && !decode && !split_kv && !packed && !seq && p.Dv % 2 == 0;
    if (staged) {
        const uint64_t in_out = detail::buffer_of(q)->size + detail::buffer_of(k)->size + detail::buffer_of(v)->size +
                                static_cast<uint64_t>(p.B * p.Hq * p.Lq * p.Dv) * 2;
        const int64_t budget = static_cast<int64_t>(std::min<uint64_t>(workspace_budget(dev, in_out), lim.max_range / 4 * 4));
        const int64_t slice_bytes = p.Lq * work_per_row;
        if (slice_bytes <= budget) {
            lim.max_slices = std::min<int64_t>(lim.max_slices, budget / slice_bytes);
        } else {
            lim.max_slices = 1;
            lim.max_rows = std::min(lim.max_rows, std::max(row_tile, budget / work_per_row / row_tile * row_tile));
        }
    }

    // Decode and split-KV end with the combine pass, which packs an f16 output itself when every row
    // starts on a word (even Dv; an f16 output is contiguous): no f32 working rows, no convert pass.
    const bool combine_packs = (decode || split_kv) && out16 && p.Dv % 2 == 0;
    Tensor out32;
    std::optional<Tensor> combined16;
    if (combine_packs) {
        combined16 = o.out ? *o.out : result_tensor("out", out_shape, p.out_dtype);
        ops.o = out_operand(*combined16);
    } else if (!staged) {
        // f32 output: the result itself; 16-bit output: f32 working rows that finish_call packs.
        out32 = out16 ? target.temporary(ctx, out_shape, DType::f32, "out")
                : o.out                   ? *o.out
                                          : result_tensor("out", out_shape, DType::f32);
        ops.o = out_operand(out32);
    }
    std::vector<Operand> all = {ops.q, ops.k, ops.v, ops.o, ops.mask, ops.lse, ops.weights};
    std::vector<Chunk> chunks;
    for (;;) {
        try {
            chunks = plan_chunks(all, p.B, p.Hq, p.Lq, lim, scratch_per_row * 4);
            break;
        } catch (const Error& e) {
            // The rowwise kernel's row tiles are large: with strided operands and a small
            // maxStorageBufferRange one tile may not fit a binding, so fall back to smaller tiles.
            if (!rowwise || fc.rows <= 8 || e.code() != ErrorCode::unsupported) throw;
            fc.rows /= 2;
            fc.workgroup = fc.rows;
            row_tile = explicit_path ? explicit_row_tile() : fc.rows;
            lim.row_tile = row_tile;
            lim.max_rows = std::max<int64_t>(row_tile, lim.max_rows / 2);
            result.variant = explicit_path ? explicit_variant_name(ec, fc, p.dtype) : fused_variant_name(fc, p.dtype);
        }
    }
    if (staged) {
        // The working buffer: [local slice][row - row0][Dv], sized for the largest chunk.
        int64_t rows = 0, slices = 0;
        for (const Chunk& c : chunks) rows = std::max(rows, c.row_count), slices = std::max(slices, c.slices);
        out32 = target.temporary(ctx, {slices * rows * p.Dv}, DType::f32, "out");
        ops.o.buffer = detail::buffer_of(out32).get();
        ops.o.name = "out";
        ops.o.elem_size = 4;
        ops.o.offset = out32.offset();
        ops.o.strides = {p.Hq * rows * p.Dv, rows * p.Dv, p.Dv, 1};
        ops.o.rows = rows;
        ops.o.cols = p.Dv;
        ops.o.chunk_local = true;
        if (static_cast<uint64_t>(out32.numel()) * 4 > lim.max_range)
            throw Error(ErrorCode::vulkan_error, "internal: the f32 working buffer does not fit one binding");
    }

    // Two chunk-local temporaries: (m, l) per row, and the explicit path's P rows when no weights were asked for.
    std::optional<Tensor> scratch, p_scratch;
    BoundRange scratch_range, p_scratch_range;
    int64_t most_rows = 0;
    for (const Chunk& c : chunks) most_rows = std::max(most_rows, c.slices * c.row_count);
    if (state_per_row > 0) {
        scratch = target.temporary(ctx, {most_rows * state_per_row}, DType::f32, "scratch");
        scratch_range = range_of(*scratch);
    }
    if (p_scratch_per_row > 0) {
        p_scratch = target.temporary(ctx, {most_rows * p_scratch_per_row}, DType::f32, "scratch");
        p_scratch_range = range_of(*p_scratch);
    }
    if ((packed || split_kv) && chunks.size() != 1)
        throw Error(ErrorCode::vulkan_error, "internal: a packed or split problem was split into chunks");
    if (decode || split_kv) {
        if (chunks.size() != 1) throw Error(ErrorCode::vulkan_error, "internal: split-KV problem split into chunks");
        scratch = target.temporary(ctx, {decode ? dc.scratch_floats : ks.scratch_floats}, DType::f32, "scratch");
        scratch_range = range_of(*scratch);
    }

    // The rowwise kernel runs one dispatch per key block over a work list of (local slice, row tile)
    // pairs that still see keys in that block; the lists follow the B key lengths in binding 6.
    std::vector<RowwiseDispatch> rowwise_work;
    if (rowwise) {
        for (std::size_t ci = 0; ci < chunks.size(); ++ci)
            plan_rowwise_chunk(p, o, fc, chunks[ci], ci, dev.max_workgroup_count[0], words, rowwise_work);
    }

    const std::string suffix = p.storage_suffix();
    KernelParams kp = base_params(p, o, ops);
    if (seq) kp.seq = {seq_words, table_words, seq->page_shift, static_cast<int32_t>(seq->pages_per_row)};
    std::optional<Tensor> staged_out;
    if (staged) staged_out = o.out ? *o.out : result_tensor("out", {p.B, p.Hq, p.Lq, p.Dv}, p.out_dtype);
    std::vector<Dispatch> dispatches;
    // Records the dispatches of chunk ci.
    const auto record_chunk = [&](std::size_t ci) {
        const Chunk& c = chunks[ci];
        // Scratch rows are chunk-local: shift binding 8's index to the chunk's first row (per_row floats a row).
        const auto scratch_fix = [&](Dispatch& d, int64_t per_row) { d.params.offsets1[2] = static_cast<int32_t>(-c.row0 * per_row); };
        // The fused pass of the explicit path keeps (m, l) in the scratch (binding 8), never in the weights,
        // and leaves each row's final pair there (FLAG_ROW_STATE).
        Operands fused_ops = ops;
        KernelParams fused_kp = kp;
        if (explicit_path) {
            fused_ops.weights = Operand{};
            fused_kp.flags[2] |= kFlagRowState;
        }
        // The weights pass: P to binding 8 (the weights, or the P scratch), the (m, l) scratch read through
        // binding 4 (the output's slot: this pass writes no output).
        const auto append_weights_pass = [&] {
            if (!explicit_path) return;
            const auto weights_dispatch = [&](VkPipeline pl, int64_t row_unit) {
                Dispatch d = chunk_dispatch(pl, kp, ops, c, p.Hq, lim, row_unit, key_lengths_range, p_scratch_range);
                if (!ops.weights.buffer) scratch_fix(d, p_scratch_per_row);
                d.bindings[kOut] = scratch_range;
                d.params.offsets0[3] = static_cast<int32_t>(-c.row0 * state_per_row);
                return d;
            };
            if (fc.kernel == FusedKernel::rowwise) {
                const int wr = ec.rowwise_rows, wk = std::min(ec.rowwise_keys, fc.keys);
                Dispatch d = weights_dispatch(st.pipeline("attention_weights_rowwise" + suffix, {wr, wk, fc.dcap, p.features()}), wr);
                d.groups = {groups_for(c.row_count, wr), 1, static_cast<uint32_t>(c.slices)};
                for (int64_t kb = 0; kb * wk < p.Lk; ++kb) {
                    d.params.flags[3] = static_cast<int32_t>(kb);
                    dispatches.push_back(d);
                }
            } else {
                Dispatch d = weights_dispatch(st.pipeline("attention_weights" + suffix, {ec.tile}), ec.tile);
                d.groups = {groups_for(p.Lk, ec.tile), groups_for(c.row_count, ec.tile), static_cast<uint32_t>(c.slices)};
                dispatches.push_back(d);
            }
        };
        if (decode) {
            record_decode(st, dc, p, chunk_dispatch(VK_NULL_HANDLE, kp, ops, c, p.Hq, lim, 1, key_lengths_range, scratch_range),
                          combine_packs, dispatches);
            return;
        }
        if (rowwise) {
            VkPipeline pl = st.pipeline("attention_fused_rowwise" + suffix, {fc.rows, fc.keys, fc.dcap, p.features()});
            const Dispatch base = chunk_dispatch(pl, fused_kp, fused_ops, c, p.Hq, lim, fc.rows, key_lengths_range, scratch_range);
            for (const RowwiseDispatch& w : rowwise_work) {
                if (w.chunk != ci) continue;
                Dispatch d = base;
                scratch_fix(d, state_per_row);
                d.params.flags[3] = w.key_block;
                d.params.offsets1[3] = w.first_word;
                d.groups = {w.items, 1, 1};
                dispatches.push_back(d);
            }
            append_weights_pass();
            return;
        }
        {
            VkPipeline pl = st.pipeline((fc.subgroup_reduce ? "attention_fused_sg" : "attention_fused") + suffix,
                                        {fc.workgroup, fc.rows, fc.keys, fc.dcap, fc.threads_per_row}, fc.subgroup_reduce);
            Dispatch d = chunk_dispatch(pl, fused_kp, fused_ops, c, p.Hq, lim, fc.rows, key_lengths_range, scratch_range);
            if (explicit_path) scratch_fix(d, state_per_row);
            d.groups = {groups_for(c.row_count, fc.rows), static_cast<uint32_t>(c.slices), 1};
            if (packed) {
                const std::array<int64_t, 2> grid = tiled_grid(p, fc, true);
                d.params.flags[2] |= kFlagPackGroup;
                d.groups = {static_cast<uint32_t>(grid[0]), static_cast<uint32_t>(grid[1]), 1};
            }
            if (split_kv)
                record_kv_split(st, ks, p, d, combine_packs, dispatches);
            else
                dispatches.push_back(d);
            append_weights_pass();
        }
    };
    for (std::size_t ci = 0; ci < chunks.size(); ++ci) {
        record_chunk(ci);
        // Staged f16 output: the chunk's rows are contiguous in the working buffer (from 0) and in the
        // output; they are packed once the chunk's last dispatch has written them.
        const Chunk& c = chunks[ci];
        if (staged)
            append_convert(st, lim, out32, *staged_out, staged_out->offset() + (c.bh0 * p.Lq + c.row0) * p.Dv,
                           c.slices * c.row_count * p.Dv, dispatches);
    }

    if (dtype_is_quantized(p.kv_dtype)) result.variant += "+kv_" + std::string(dtype_name(p.kv_dtype));
    std::optional<Tensor> packed_out;
    if (out16)
        packed_out = staged          ? *staged_out
                     : combine_packs ? *combined16
                     : o.out         ? *o.out
                                     : result_tensor("out", out_shape, p.out_dtype);
    finish_call(st, target, result, out32, packed_out, staged || combine_packs, lim, dispatches, words, o.measure_time);
    return result;
}

}  // namespace detail

AttentionResult attention_full(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
    detail::SyncTarget target;
    return detail::attention_call(ctx, q, k, v, o, target);
}

Tensor attention(Context& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options) {
    return attention_full(ctx, q, k, v, options).out;
}

}  // namespace vkattn
