// Tensor views, uploads and downloads.
#include <cstring>
#include <numeric>

#include "runtime/access.hpp"
#include "runtime/context_state.hpp"
#include "vkattn/context.hpp"
#include "vkattn/error.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {
namespace {

constexpr uint32_t kPoisonPattern = 0x7FC07FC0u;

void check_shape(const Shape& shape, const char* what) {
    if (shape.empty()) throw Error(ErrorCode::invalid_argument, std::string(what) + ": shape must have at least one dimension");
    for (std::size_t i = 0; i < shape.size(); ++i)
        if (shape[i] <= 0)
            throw Error(ErrorCode::invalid_argument, std::string(what) + ": dimension " + std::to_string(i) + " of shape " +
                                                         to_string(shape) + " must be positive");
}

int64_t checked_numel(const Shape& shape, const char* what) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d > 0 && n > (int64_t{1} << 50) / d)
            throw Error(ErrorCode::invalid_argument, std::string(what) + ": shape " + to_string(shape) + " is too large");
        n *= d;
    }
    return n;
}

// Calls f(logical_index, element_offset) for every element in row-major logical order.
template <typename F>
void for_each_element(const Shape& shape, const Strides& strides, int64_t base, F&& f) {
    const std::size_t rank = shape.size();
    std::vector<int64_t> idx(rank, 0);
    const int64_t n = std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
    int64_t off = base;
    for (int64_t li = 0; li < n; ++li) {
        f(li, off);
        for (std::size_t d = rank; d-- > 0;) {
            if (++idx[d] < shape[d]) { off += strides[d]; break; }
            off -= strides[d] * (shape[d] - 1);
            idx[d] = 0;
        }
    }
}

}  // namespace

Strides contiguous_strides(const Shape& shape) {
    Strides s(shape.size(), 1);
    for (std::size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
    return s;
}

std::string to_string(const Shape& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

int64_t Tensor::numel() const {
    return std::accumulate(shape_.begin(), shape_.end(), int64_t{1}, std::multiplies<>());
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_); }

Tensor Tensor::transposed(int a, int b) const {
    const int r = rank();
    if (a < 0) a += r;
    if (b < 0) b += r;
    if (a < 0 || a >= r || b < 0 || b >= r)
        throw Error(ErrorCode::invalid_argument, "transposed: dimensions out of range for rank " + std::to_string(r));
    Tensor t = *this;
    std::swap(t.shape_[a], t.shape_[b]);
    std::swap(t.strides_[a], t.strides_[b]);
    return t;
}

Tensor Tensor::view(const Shape& shape, const Strides& strides, int64_t offset_elements) const {
    if (!buffer_) throw Error(ErrorCode::invalid_argument, "view: tensor is empty");
    check_shape(shape, "view");
    if (strides.size() != shape.size())
        throw Error(ErrorCode::invalid_argument, "view: strides have " + std::to_string(strides.size()) +
                                                     " entries for a shape of rank " + std::to_string(shape.size()));
    if (offset_elements < 0)
        throw Error(ErrorCode::invalid_argument, "view: offset " + std::to_string(offset_elements) + " is negative");
    int64_t last = offset_elements;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (strides[i] < 0) throw Error(ErrorCode::invalid_argument, "view: stride " + std::to_string(i) + " is negative");
        // Checked: a huge stride must be an error, not a signed overflow that wraps back into range.
        int64_t reach = 0;
        if (__builtin_mul_overflow(strides[i], shape[i] - 1, &reach) || __builtin_add_overflow(last, reach, &last))
            throw Error(ErrorCode::invalid_argument, "view: stride " + std::to_string(i) + " (" + std::to_string(strides[i]) +
                                                         ") of shape " + to_string(shape) + " overflows the element index");
    }
    const int64_t capacity = static_cast<int64_t>(buffer_->buffer->size / dtype_size(dtype_));
    if (last >= capacity)
        throw Error(ErrorCode::invalid_argument, "view: shape " + to_string(shape) + " with these strides reaches element " +
                                                     std::to_string(last) + " of a buffer of " + std::to_string(capacity));
    Tensor t = *this;
    t.shape_ = shape;
    t.strides_ = strides;
    t.offset_ = offset_elements;
    return t;
}

template <typename T>
std::vector<T> Tensor::download() const {
    if (!buffer_) throw Error(ErrorCode::invalid_argument, "download: tensor is empty");
    const std::size_t es = dtype_size(dtype_);
    constexpr bool to_float = std::is_same_v<T, float>;
    constexpr DType raw_type = std::is_same_v<T, int32_t> ? DType::i32 : std::is_same_v<T, uint16_t> ? DType::f16 : DType::u8;
    if (!to_float && dtype_ != raw_type)
        throw Error(ErrorCode::invalid_argument, std::string("download: cannot read a ") + std::string(dtype_name(dtype_)) +
                                                     " tensor as this element type");
    if (to_float && (dtype_ == DType::i32 || dtype_ == DType::u8))
        throw Error(ErrorCode::invalid_argument, "download<float>: tensor holds integers");
    // Read the span of the buffer the view covers, then gather through the strides on the host.
    int64_t last = offset_;
    for (int i = 0; i < rank(); ++i) last += strides_[i] * (shape_[i] - 1);
    std::vector<uint8_t> raw(static_cast<std::size_t>(last - offset_ + 1) * es);
    buffer_->buffer->owner->read_bytes(*buffer_->buffer, static_cast<VkDeviceSize>(offset_) * es, raw.data(), raw.size());
    std::vector<T> out(static_cast<std::size_t>(numel()));
    for_each_element(shape_, strides_, 0, [&](int64_t li, int64_t off) {
        const uint8_t* p = raw.data() + off * es;
        if constexpr (to_float) {
            if (dtype_ == DType::f16) {
                uint16_t h;
                std::memcpy(&h, p, 2);
                out[li] = half_to_float(h);
            } else {
                std::memcpy(&out[li], p, 4);
            }
        } else {
            std::memcpy(&out[li], p, sizeof(T));
        }
    });
    return out;
}

template std::vector<float> Tensor::download<float>() const;
template std::vector<uint16_t> Tensor::download<uint16_t>() const;
template std::vector<int32_t> Tensor::download<int32_t>() const;
template std::vector<uint8_t> Tensor::download<uint8_t>() const;

Tensor Context::empty(const Shape& shape, DType dtype) {
    check_shape(shape, "empty");
    const int64_t n = checked_numel(shape, "empty");
    Tensor t = TensorAccess::make(
        detail::create_buffer(state_, static_cast<VkDeviceSize>(n) * dtype_size(dtype), detail::MemoryKind::device), shape, dtype);
    if (state_->test_switches.poison_allocations) state_->fill_buffer(*detail::buffer_of(t), kPoisonPattern);
    return t;
}

Tensor Context::upload(std::span<const float> data, const Shape& shape, DType dtype) {
    check_shape(shape, "upload");
    const int64_t n = checked_numel(shape, "upload");
    if (static_cast<int64_t>(data.size()) != n)
        throw Error(ErrorCode::invalid_argument, "upload: shape " + to_string(shape) + " needs " + std::to_string(n) +
                                                     " values, got " + std::to_string(data.size()));
    if (dtype == DType::f32) return upload_raw(data.data(), data.size() * 4, shape, dtype);
    if (dtype != DType::f16)
        throw Error(ErrorCode::invalid_argument, std::string("upload: float data can be stored as f32 or f16, not ") +
                                                     std::string(dtype_name(dtype)));
    std::vector<uint16_t> halves(data.size());
    for (std::size_t i = 0; i < data.size(); ++i) halves[i] = float_to_half(data[i]);
    return upload_raw(halves.data(), halves.size() * 2, shape, dtype);
}

Tensor Context::upload_raw(const void* data, std::size_t bytes, const Shape& shape, DType dtype) {
    check_shape(shape, "upload_raw");
    const std::size_t want = static_cast<std::size_t>(checked_numel(shape, "upload_raw")) * dtype_size(dtype);
    if (bytes != want)
        throw Error(ErrorCode::invalid_argument, "upload_raw: shape " + to_string(shape) + " of " + std::string(dtype_name(dtype)) +
                                                     " needs " + std::to_string(want) + " bytes, got " + std::to_string(bytes));
    Tensor t = empty(shape, dtype);
    state_->write_bytes(*detail::buffer_of(t), 0, data, bytes);
    return t;
}

}  // namespace vkattn
