#pragma once
// How the library's own operations reach what the public classes keep private: a Context's state
// (detail::ContextState, runtime/context_state.hpp) and a Tensor's device buffer (detail::DeviceBuffer,
// runtime/buffer.hpp). The public headers only befriend ContextAccess and TensorAccess and declare
// Context::State and Tensor::Memory, which users cannot name; this header defines them.
#include <memory>
#include <utility>

#include "runtime/buffer.hpp"
#include "runtime/context_state.hpp"
#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// A Context's state is the engine's ContextState.
struct Context::State : detail::ContextState {};

/// What a Tensor views: a device buffer shared by every view of it.
struct Tensor::Memory {
    std::shared_ptr<detail::DeviceBuffer> buffer;
};

struct ContextAccess {
    static detail::ContextState& state(Context& c) { return *c.state_; }
    /// A handle to `state` for the library's own use (a Batch reaching its context): destroying it
    /// leaves the context as it is.
    static Context borrow(const std::shared_ptr<detail::ContextState>& state) {
        return Context(std::static_pointer_cast<Context::State>(state), Context::Borrowed{});
    }
};

struct TensorAccess {
    static const std::shared_ptr<detail::DeviceBuffer>& buffer(const Tensor& t) {
        static const std::shared_ptr<detail::DeviceBuffer> none;
        return t.buffer_ ? t.buffer_->buffer : none;
    }
    /// A contiguous tensor over all of `buffer`, offset 0.
    static Tensor make(std::shared_ptr<detail::DeviceBuffer> buffer, const Shape& shape, DType dtype) {
        Tensor t;
        t.buffer_ = std::make_shared<Tensor::Memory>(Tensor::Memory{std::move(buffer)});
        t.shape_ = shape;
        t.strides_ = contiguous_strides(shape);
        t.dtype_ = dtype;
        return t;
    }
    /// A view of `buffer`: shape, strides and the first element's offset in elements (all checked by the caller).
    static Tensor make_view(std::shared_ptr<detail::DeviceBuffer> buffer, const Shape& shape, const Strides& strides,
                            int64_t offset_elements, DType dtype) {
        Tensor t = make(std::move(buffer), shape, dtype);
        t.strides_ = strides;
        t.offset_ = offset_elements;
        return t;
    }
};

namespace detail {
/// The state of `ctx`, for the library's operations.
inline ContextState& state_of(Context& ctx) { return ContextAccess::state(ctx); }
/// The device buffer behind `t` (null for an empty tensor).
inline const std::shared_ptr<DeviceBuffer>& buffer_of(const Tensor& t) { return TensorAccess::buffer(t); }
}  // namespace detail

}  // namespace vkattn
