// vkattn::matmul: validation, tiling per device, one dispatch per K block, optional f16 packing.
#include <algorithm>

#include "attention/call_target.hpp"
#include "attention/chunking.hpp"
#include "runtime/convert.hpp"
#include "runtime/output_check.hpp"
#include "runtime/access.hpp"
#include "layers/matmul_engine.hpp"
#include "vkattn/error.hpp"
#include "vkattn/matmul.hpp"

namespace vkattn {
namespace detail {

namespace {

[[noreturn]] void fail(const std::string& msg) { throw Error(ErrorCode::invalid_argument, msg); }

constexpr int64_t kMaxIndex = (int64_t{1} << 31) - 1;

uint32_t groups_for(int64_t n, int64_t per) { return static_cast<uint32_t>((n + per - 1) / per); }

void check_operand(Context& ctx, const Tensor& t, const char* name) {
    if (!t.defined()) fail(std::string(name) + ": tensor is empty");
    if (detail::buffer_of(t)->owner.get() != &detail::state_of(ctx)) fail(std::string(name) + ": tensor belongs to another Context");
    if (t.dtype() != DType::f32 && t.dtype() != DType::f16)
        fail(std::string(name) + ": dtype " + std::string(dtype_name(t.dtype())) + " is not supported (f32 or f16)");
    for (int i = 0; i < t.rank(); ++i)
        if (t.dim(i) < 1 || t.dim(i) > kMaxIndex)
            fail(std::string(name) + ": dimension " + std::to_string(i) + " of shape " + to_string(t.shape()) +
                 " must be in [1, 2^31)");
}

}  // namespace

MatmulConfig choose_matmul_config(const DeviceInfo& dev) {
    MatmulConfig c;
    const int max_wg = static_cast<int>(std::min(dev.max_workgroup_invocations, dev.max_workgroup_size[0]));
    if (dev.type == DeviceType::cpu) {
        // lavapipe (measured, 1024^3 f32, CPU time of the call, interleaved runs): per dispatch each
        // row reads kblock values of A and reads and writes its outputs on llvmpipe's per-lane path,
        // against FMAs of every column, so each W block fills shared memory (64 x 128 f32 = 32 KiB;
        // 128 x 64 and 32 x 256 were no faster), and two blocks one after the other (128 columns) halve
        // the A reads per FMA: 256 x 1 rows with 2 blocks beat 128 x 2 rows with 1 (the same unrolled
        // code) in 4 of 4 interleaved pairs, and 128 x 2 rows with 2 blocks (twice the code) was no faster.
        c.rows = 256, c.cols = 64, c.kblock = 128, c.rm = 1, c.tiles = 2;
    } else {
        // GPUs: the tiling it had (a reading, not measured: vkattn has not been timed on a GPU here).
        c.rows = 64, c.cols = 32, c.kblock = 64, c.rm = 1;
    }
    while (c.rows > max_wg && c.rows > 8) c.rows /= 2;
    while (static_cast<uint32_t>(c.cols * c.kblock * 4) > dev.shared_memory_bytes && c.kblock > 16) c.kblock /= 2;
    while (static_cast<uint32_t>(c.cols * c.kblock * 4) > dev.shared_memory_bytes && c.cols > 8) c.cols /= 2;
    if (c.rows > max_wg || static_cast<uint32_t>(c.cols * c.kblock * 4) > dev.shared_memory_bytes)
        throw Error(ErrorCode::unsupported, "matmul: the device's workgroup or shared memory limits are too small");
    return c;
}

std::string matmul_variant_name(const MatmulConfig& c, DType dtype) {
    return "matmul." + std::string(dtype_name(dtype)) + "[rows" + std::to_string(c.rows) + "x" + std::to_string(c.rm) + ",n" +
           (c.tiles > 1 ? std::to_string(c.tiles) + "x" : std::string()) + std::to_string(c.cols) + ",k" + std::to_string(c.kblock) + "]";
}

BoundRange bind_elements(const ContextState& st, const DeviceBuffer& buffer, std::size_t elem_size, int64_t lo, int64_t hi,
                         const std::string& what, int64_t& base) {
    const uint64_t align = std::max<uint64_t>(st.info.min_storage_offset_alignment, 4);
    const uint64_t max_range = std::min<uint64_t>(st.info.max_storage_buffer_range, (uint64_t{1} << 31) - 4);
    const uint64_t first = static_cast<uint64_t>(lo) * elem_size;
    const uint64_t begin = first / align * align;
    const uint64_t end = std::min<uint64_t>((static_cast<uint64_t>(hi) + 1) * elem_size, buffer.size);
    const uint64_t range = (end - begin + 3) / 4 * 4;
    if (range > max_range || begin + range > buffer.size + 3)
        throw Error(ErrorCode::unsupported, what + ": spans " + std::to_string(range) + " bytes; this device binds at most " +
                                                std::to_string(max_range) + " at once");
    base = static_cast<int64_t>(begin / elem_size);
    return {buffer.buffer.get(), begin, std::min<uint64_t>(range, buffer.size - begin)};
}

MatmulResult run_matmul(ContextState& st, Context& ctx, const MatmulProblem& p, CallTarget& target) {
    const MatmulConfig cfg = choose_matmul_config(st.info);
    const DeviceInfo& dev = st.info;
    if (groups_for(p.M, int64_t{cfg.rows} * cfg.rm) > dev.max_workgroup_count[0] || groups_for(p.N, int64_t{cfg.cols} * cfg.tiles) > dev.max_workgroup_count[1] ||
        p.B1 * p.B2 > static_cast<int64_t>(dev.max_workgroup_count[2]))
        throw Error(ErrorCode::unsupported, "a: shape [" + std::to_string(p.B1 * p.B2) + " batches, " + std::to_string(p.M) +
                                                " rows] x " + std::to_string(p.N) + " columns exceeds the device's workgroup counts");
    const std::size_t es = dtype_size(p.a.dtype());

    // Element spans of A (over all segments), W and the bias.
    int64_t a_lo = INT64_MAX, a_hi = 0, k_total = 0;
    const int64_t a_outer = (p.B1 - 1) * p.a_strides[0] + (p.B2 - 1) * p.a_strides[1] + (p.M - 1) * p.a_strides[2];
    for (const KSegment& s : p.segments) {
        a_lo = std::min(a_lo, s.a_offset);
        a_hi = std::max(a_hi, s.a_offset + a_outer + (s.length - 1) * s.a_k_stride);
        k_total = std::max(k_total, s.w_k0 + s.length);
    }
    int64_t a_base = 0, w_base = 0, bias_base = 0;
    const BoundRange a_range = bind_elements(st, *detail::buffer_of(p.a), es, a_lo, a_hi, "a", a_base);
    const int64_t w_hi = p.w.offset() + (p.N - 1) * p.w.strides()[0] + (k_total - 1) * p.w.strides()[1];
    const BoundRange w_range = bind_elements(st, *detail::buffer_of(p.w), es, p.w.offset(), w_hi, "w", w_base);
    BoundRange bias_range;
    if (p.bias)
        bias_range = bind_elements(st, *detail::buffer_of(*p.bias), es, p.bias->offset(), p.bias->offset() + (p.N - 1) * p.bias->strides()[0],
                                   "bias", bias_base);
    const int64_t y_count = p.B1 * p.B2 * p.M * p.N;
    if (y_count * 4 > static_cast<int64_t>(std::min<uint64_t>(dev.max_storage_buffer_range, (uint64_t{1} << 31) - 4)))
        throw Error(ErrorCode::unsupported, "out: " + std::to_string(y_count) + " f32 values exceed one binding on this device");
    for (int64_t s : {p.a_strides[0], p.a_strides[1], p.a_strides[2], p.w.strides()[0], p.w.strides()[1]})
        if (s > kMaxIndex) throw Error(ErrorCode::unsupported, "a / w: a stride exceeds int32 indexing");
    if (p.bias && p.bias->strides()[0] != 1)
        throw Error(ErrorCode::invalid_argument, "bias: must be contiguous (stride 1), got stride " + std::to_string(p.bias->strides()[0]));

    MatmulResult result;
    result.variant = matmul_variant_name(cfg, p.a.dtype());
    // Y in f32: the caller's f32 output (any strides, viewed as [B1, B2, M, N]), else new f32 rows,
    // which an f16 output is packed from.
    const Shape y_shape = {p.B1, p.B2, p.M, p.N};
    const auto fresh = [&](DType dt) {
        return p.temporary || dt != p.out_dtype ? target.temporary(ctx, y_shape, dt, "out") : target.result(ctx, y_shape, dt, "out");
    };
    const Tensor y32 = p.out && p.out->dtype() == DType::f32 ? *p.out : fresh(DType::f32);
    int64_t y_hi = y32.offset(), y_base = 0;
    for (int i = 0; i < 4; ++i) y_hi += (y32.dim(i) - 1) * y32.strides()[static_cast<std::size_t>(i)];
    const BoundRange y_range = bind_elements(st, *detail::buffer_of(y32), 4, y32.offset(), y_hi, "out", y_base);
    for (int64_t s : y32.strides())
        if (s > kMaxIndex) throw Error(ErrorCode::unsupported, "out: a stride exceeds int32 indexing");
    const VkPipeline pl = st.pipeline(p.a.dtype() == DType::f16 ? "matmul_f16" : "matmul_f32", {cfg.rows, cfg.cols, cfg.kblock, cfg.rm, cfg.tiles});

    KernelParams kp;
    kp.dims0 = {int32_t(p.B1), int32_t(p.B2), int32_t(p.M), int32_t(p.N)};
    kp.k_stride = {0, 0, int32_t(p.w.strides()[0]), int32_t(p.w.strides()[1])};
    kp.o_stride = {int32_t(y32.strides()[0]), int32_t(y32.strides()[1]), int32_t(y32.strides()[2]), int32_t(y32.strides()[3])};
    kp.offsets0[2] = p.bias ? int32_t(p.bias->offset() - bias_base) : 0;
    kp.offsets0[3] = int32_t(y32.offset() - y_base);
    kp.dims1[2] = p.bias ? 1 : 0;

    std::vector<Dispatch> dispatches;
    bool first = true;
    for (const KSegment& s : p.segments)
        for (int64_t k0 = 0; k0 < s.length; k0 += cfg.kblock) {
            Dispatch d;
            d.pipeline = pl;
            d.params = kp;
            d.params.dims1[0] = int32_t(std::min<int64_t>(cfg.kblock, s.length - k0));
            d.params.dims1[1] = first ? 1 : 0;
            d.params.q_stride = {int32_t(p.a_strides[0]), int32_t(p.a_strides[1]), int32_t(p.a_strides[2]), int32_t(s.a_k_stride)};
            d.params.offsets0[0] = int32_t(s.a_offset + k0 * s.a_k_stride - a_base);
            d.params.offsets0[1] = int32_t(p.w.offset() + (s.w_k0 + k0) * p.w.strides()[1] - w_base);
            d.bindings[kQ] = a_range;
            d.bindings[kK] = w_range;
            d.bindings[kV] = bias_range;
            d.bindings[kOut] = y_range;
            d.groups = {groups_for(p.M, int64_t{cfg.rows} * cfg.rm), groups_for(p.N, int64_t{cfg.cols} * cfg.tiles), static_cast<uint32_t>(p.B1 * p.B2)};
            dispatches.push_back(d);
            first = false;
        }
    if (p.out_dtype == DType::f16) {
        result.out = p.out ? *p.out : fresh(DType::f16);
        append_convert(st, chunk_limits(dev, 1, dev.max_workgroup_count[0]), y32, result.out, result.out.offset(), y_count, dispatches);
    } else {
        result.out = y32;
    }
    result.dispatches = static_cast<uint32_t>(dispatches.size());
    result.gpu_milliseconds = target.finish(st, dispatches, {}, p.measure_time);
    return result;
}

void check_matmul_out(Context& ctx, const Tensor& out, const Shape& shape, DType dtype, const char* name,
                      const std::vector<std::pair<const Tensor*, const char*>>& reads) {
    check_output(ctx, out, name, shape, "[..., M, N]", dtype, "out_dtype, else a's dtype", reads);
}

namespace {
// `out` ([.., M, N], rank 2 to 4) as [B1, B2, M, N]; a missing or size-1 batch dimension has stride 0.
Tensor as_four_dims(const Tensor& out) {
    const int r = out.rank();
    const auto dim_at = [&](int i) { return i < 0 ? int64_t{1} : out.dim(i); };
    const auto stride_at = [&](int i) { return i < 0 || out.dim(i) == 1 ? int64_t{0} : out.strides()[static_cast<std::size_t>(i)]; };
    return out.view({dim_at(r - 4), dim_at(r - 3), out.dim(r - 2), out.dim(r - 1)},
                    {stride_at(r - 4), stride_at(r - 3), out.strides()[static_cast<std::size_t>(r - 2)], out.strides()[static_cast<std::size_t>(r - 1)]},
                    out.offset());
}
}  // namespace

MatmulResult matmul_call(Context& ctx, const Tensor& a, const Tensor& w, const std::optional<Tensor>& bias, const MatmulOptions& o,
                         CallTarget& target) {
    ContextState& st = detail::state_of(ctx);
    std::lock_guard lock(st.mutex);
    st.ensure_alive();
    check_operand(ctx, a, "a");
    check_operand(ctx, w, "w");
    if (a.rank() < 2 || a.rank() > 4) fail("a: expected rank 2, 3 or 4 ([M, K], [B, M, K], [B1, B2, M, K]), got shape " + to_string(a.shape()));
    if (w.rank() != 2)
        fail("w: expected rank 2 (" + std::string(o.transpose_w ? "[N, K]" : "[K, N]") + "), got shape " + to_string(w.shape()));
    if (w.dtype() != a.dtype()) fail("w: dtype " + std::string(dtype_name(w.dtype())) + " does not match a's " + std::string(dtype_name(a.dtype())));
    const int64_t K = a.dim(-1), M = a.dim(-2);
    const Tensor wt = o.transpose_w ? w : w.transposed(0, 1);  // [N, K]
    if (wt.dim(1) != K)
        fail("w: shape " + to_string(w.shape()) + " does not match a's K = " + std::to_string(K) +
             (o.transpose_w ? " (w is [N, K]; set transpose_w = false for [K, N])" : " (w is [K, N])"));
    const int64_t N = wt.dim(0);
    if (bias) {
        check_operand(ctx, *bias, "bias");
        if (bias->rank() != 1 || bias->dim(0) != N)
            fail("bias: shape " + to_string(bias->shape()) + " must be [N] = [" + std::to_string(N) + "]");
        if (bias->dtype() != a.dtype())
            fail("bias: dtype " + std::string(dtype_name(bias->dtype())) + " does not match a's " + std::string(dtype_name(a.dtype())));
    }
    const DType out_dtype = o.out_dtype.value_or(a.dtype());
    if (out_dtype != DType::f32 && out_dtype != DType::f16)
        fail("out_dtype: " + std::string(dtype_name(out_dtype)) + " is not supported (f32 or f16)");
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    out_shape.push_back(N);
    if (o.out) check_matmul_out(ctx, *o.out, out_shape, out_dtype, "out", {{&a, "a"}, {&w, "w"}, {bias ? &*bias : nullptr, "bias"}});

    MatmulProblem p;
    p.a = a;
    const Strides& s = a.strides();
    const int r = a.rank();
    p.M = M, p.N = N;
    p.B1 = r == 4 ? a.dim(0) : 1;
    p.B2 = r >= 3 ? a.dim(r - 3) : 1;
    p.a_strides = {r == 4 ? s[0] : 0, r >= 3 ? s[r - 3] : 0, s[r - 2]};
    p.segments = {{a.offset(), s[r - 1], 0, K}};
    p.w = wt;
    p.bias = bias;
    p.out_dtype = out_dtype;
    if (o.out) p.out = out_dtype == DType::f32 ? as_four_dims(*o.out) : o.out->view({p.B1, p.B2, M, N}, contiguous_strides({p.B1, p.B2, M, N}), o.out->offset());
    p.measure_time = o.measure_time;
    MatmulResult res = run_matmul(st, ctx, p, target);
    res.out = o.out ? *o.out : res.out.view(out_shape, contiguous_strides(out_shape));
    return res;
}

}  // namespace detail

MatmulResult matmul_full(Context& ctx, const Tensor& a, const Tensor& w, const std::optional<Tensor>& bias, const MatmulOptions& o) {
    detail::SyncTarget target;
    return detail::matmul_call(ctx, a, w, bias, o, target);
}

Tensor matmul(Context& ctx, const Tensor& a, const Tensor& w, const std::optional<Tensor>& bias, const MatmulOptions& o) {
    return matmul_full(ctx, a, w, bias, o).out;
}

}  // namespace vkattn
