// Checks of a caller's output tensor (output_check.hpp).
#include "runtime/output_check.hpp"

#include "runtime/access.hpp"
#include "vkattn/error.hpp"

namespace vkattn::detail {

namespace {

// The bytes [first, last] of the buffer a view reaches (its first and last element's bytes).
std::pair<int64_t, int64_t> byte_span(const Tensor& t) {
    int64_t last = t.offset();
    for (int i = 0; i < t.rank(); ++i) last += t.strides()[static_cast<std::size_t>(i)] * (t.dim(i) - 1);
    // (Block formats: the whole blocks holding the first and last element.)
    const int64_t n = dtype_block_elements(t.dtype()), bb = static_cast<int64_t>(dtype_block_bytes(t.dtype()));
    return {t.offset() / n * bb, (last / n + 1) * bb - 1};
}

// Whether two views are of one buffer: the same VkBuffer (two wraps of one application buffer are), or
// for planning stand-ins, which have no VkBuffer, the same stand-in.
bool same_buffer(const Tensor& a, const Tensor& b) {
    const VkBuffer ha = buffer_of(a)->buffer.get(), hb = buffer_of(b)->buffer.get();
    return ha != VK_NULL_HANDLE ? ha == hb : buffer_of(a) == buffer_of(b);
}

}  // namespace

void check_output(Context& ctx, const Tensor& out, const char* name, const Shape& want, const std::string& shape_label, DType dtype,
                  const std::string& dtype_rule, const std::vector<std::pair<const Tensor*, const char*>>& reads) {
    const std::string n(name);
    const auto fail = [&](const std::string& rule) { throw Error(ErrorCode::invalid_argument, n + ": " + rule); };
    if (!out.defined()) fail("tensor is empty");
    if (buffer_of(out)->owner.get() != &state_of(ctx)) fail("tensor belongs to another Context");
    if (out.shape() != want) fail("shape " + to_string(out.shape()) + " must be " + shape_label + " = " + to_string(want));
    if (out.dtype() != dtype)
        fail("dtype " + std::string(dtype_name(out.dtype())) + " is not the output dtype " + std::string(dtype_name(dtype)) + " (" +
             dtype_rule + ")");
    for (int i = 0; i < out.rank(); ++i)
        if (out.strides()[static_cast<std::size_t>(i)] == 0 && out.dim(i) > 1)
            fail("stride " + std::to_string(i) + " is 0, so several outputs would land on one element");
    if (out.dtype() == DType::f16) {
        if (!out.is_contiguous()) fail("an f16 output must be contiguous (it is written in 32-bit words)");
        if (out.offset() % 2 != 0 || out.numel() % 2 != 0)
            fail("an f16 output must start at a 4-byte boundary and hold an even number of elements (it is written in "
                 "32-bit words); offset " + std::to_string(out.offset()) + ", " + std::to_string(out.numel()) + " elements");
    }
    const auto [o0, o1] = byte_span(out);
    for (const auto& [t, read_name] : reads) {
        if (!t || !t->defined() || !same_buffer(*t, out)) continue;
        const auto [r0, r1] = byte_span(*t);
        if (o0 <= r1 && r0 <= o1)
            fail(std::string("overlaps ") + read_name + " in the same buffer (bytes " + std::to_string(o0) + ".." + std::to_string(o1) +
                 " and " + std::to_string(r0) + ".." + std::to_string(r1) + "); the kernels would read what they write");
    }
}

}  // namespace vkattn::detail
