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

// Block formats (q8_0, q4_0) are addressed in elements like every dtype, element e living in block e / 32:
// a view must keep every row of the last dim inside whole blocks.
void check_blocks(const Shape& shape, const Strides& strides, int64_t offset, DType dtype, const char* what) {
    if (!dtype_is_quantized(dtype)) return;
    const std::string name(dtype_name(dtype));
    if (shape.back() % 32 != 0)
        throw Error(ErrorCode::invalid_argument, std::string(what) + ": the last dim of a " + name + " tensor must be a multiple of 32 "
                                                     "(its block size), got shape " + to_string(shape));
    if (strides.back() != 1 && shape.back() > 1)
        throw Error(ErrorCode::invalid_argument, std::string(what) + ": the last dim of a " + name + " tensor must be contiguous (stride 1)");
    for (std::size_t i = 0; i + 1 < strides.size(); ++i)
        if (strides[i] % 32 != 0)
            throw Error(ErrorCode::invalid_argument, std::string(what) + ": stride " + std::to_string(i) + " (" + std::to_string(strides[i]) +
                                                         ") of a " + name + " tensor must be a multiple of 32 (whole blocks)");
    if (offset % 32 != 0)
        throw Error(ErrorCode::invalid_argument, std::string(what) + ": the offset of a " + name + " tensor must be a multiple of 32 (whole blocks)");
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
    check_blocks(shape, strides, offset_elements, dtype_, "view");
    const int64_t capacity = static_cast<int64_t>(buffer_->buffer->size / dtype_block_bytes(dtype_)) * dtype_block_elements(dtype_);
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
    constexpr bool to_float = std::is_same_v<T, float>;
    constexpr DType raw_type = std::is_same_v<T, int32_t> ? DType::i32 : std::is_same_v<T, uint16_t> ? DType::f16 : DType::u8;
    if (dtype_is_quantized(dtype_)) {
        // Blocks: float gives the dequantised values in logical order; uint8_t the raw blocks of a contiguous tensor.
        if constexpr (std::is_same_v<T, uint8_t>) {
            if (!is_contiguous()) throw Error(ErrorCode::invalid_argument, "download<uint8_t>: a block-format tensor must be contiguous");
            std::vector<uint8_t> raw(dtype_storage_bytes(dtype_, numel()));
            buffer_->buffer->owner->read_bytes(*buffer_->buffer, dtype_storage_bytes(dtype_, offset_), raw.data(), raw.size());
            return raw;
        } else if constexpr (to_float) {
            int64_t last = offset_;
            for (int i = 0; i < rank(); ++i) last += strides_[i] * (shape_[i] - 1);
            const int64_t first_block = offset_ / 32, blocks = last / 32 - first_block + 1;
            std::vector<uint8_t> raw(dtype_storage_bytes(dtype_, blocks * 32));
            buffer_->buffer->owner->read_bytes(*buffer_->buffer, dtype_storage_bytes(dtype_, first_block * 32), raw.data(), raw.size());
            std::vector<float> values(static_cast<std::size_t>(blocks * 32));
            dequantize_blocks(dtype_, raw.data(), blocks * 32, values.data());
            std::vector<float> out(static_cast<std::size_t>(numel()));
            for_each_element(shape_, strides_, offset_ - first_block * 32, [&](int64_t li, int64_t off) { out[li] = values[off]; });
            return out;
        } else {
            throw Error(ErrorCode::invalid_argument, std::string("download: cannot read a ") + std::string(dtype_name(dtype_)) +
                                                         " tensor as this element type (float or uint8_t)");
        }
    }
    const std::size_t es = dtype_size(dtype_);
    if (!to_float && dtype_ != raw_type && !(raw_type == DType::f16 && dtype_ == DType::bf16))
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
            if (dtype_ == DType::f16 || dtype_ == DType::bf16) {
                uint16_t h;
                std::memcpy(&h, p, 2);
                out[li] = dtype_ == DType::f16 ? half_to_float(h) : bf16_to_float(h);
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
    check_blocks(shape, contiguous_strides(shape), 0, dtype, "empty");
    Tensor t = TensorAccess::make(
        // Block formats: rounded up to whole words, so that the kernels' word loads of the last block (2-byte
        // aligned) stay inside the buffer.
        detail::create_buffer(state_, static_cast<VkDeviceSize>((dtype_storage_bytes(dtype, n) + 3) / 4 * 4), detail::MemoryKind::device),
        shape, dtype);
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
    if (dtype_is_quantized(dtype)) {
        check_blocks(shape, contiguous_strides(shape), 0, dtype, "upload");
        std::vector<uint8_t> blocks(dtype_storage_bytes(dtype, n));
        quantize_blocks(dtype, data.data(), n, blocks.data());
        return upload_raw(blocks.data(), blocks.size(), shape, dtype);
    }
    if (dtype != DType::f16 && dtype != DType::bf16)
        throw Error(ErrorCode::invalid_argument, std::string("upload: float data can be stored as f32, f16, bf16, q8_0 or q4_0, not ") +
                                                     std::string(dtype_name(dtype)));
    std::vector<uint16_t> halves(data.size());
    for (std::size_t i = 0; i < data.size(); ++i) halves[i] = dtype == DType::f16 ? float_to_half(data[i]) : float_to_bf16(data[i]);
    return upload_raw(halves.data(), halves.size() * 2, shape, dtype);
}

Tensor Context::upload_raw(const void* data, std::size_t bytes, const Shape& shape, DType dtype) {
    check_shape(shape, "upload_raw");
    check_blocks(shape, contiguous_strides(shape), 0, dtype, "upload_raw");
    const std::size_t want = dtype_storage_bytes(dtype, checked_numel(shape, "upload_raw"));
    if (bytes != want)
        throw Error(ErrorCode::invalid_argument, "upload_raw: shape " + to_string(shape) + " of " + std::string(dtype_name(dtype)) +
                                                     " needs " + std::to_string(want) + " bytes, got " + std::to_string(bytes));
    Tensor t = empty(shape, dtype);
    state_->write_bytes(*detail::buffer_of(t), 0, data, bytes);
    return t;
}

}  // namespace vkattn
