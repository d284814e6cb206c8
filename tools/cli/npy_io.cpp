#include "cli/npy_io.hpp"
#include "vkattn/npy.hpp"

#include <cstring>

namespace vkattn::cli {

Tensor upload_npy(Context& ctx, const NpyArray& a, std::optional<DType> convert_to) {
    if (convert_to && *convert_to != a.dtype) return ctx.upload(a.to_floats(), a.shape, *convert_to);
    return ctx.upload_raw(a.bytes.data(), a.bytes.size(), a.shape, a.dtype);
}

void save_npy(const std::string& path, const Tensor& t) {
    NpyArray a;
    a.shape = t.shape();
    // numpy has no bf16 (nor block formats): those are written as f32, exactly.
    a.dtype = t.dtype() == DType::f16 ? DType::f16 : DType::f32;
    if (t.dtype() == DType::f16) {
        const std::vector<uint16_t> h = t.download<uint16_t>();
        a.bytes.resize(h.size() * 2);
        std::memcpy(a.bytes.data(), h.data(), a.bytes.size());
    } else {
        const std::vector<float> f = t.download<float>();
        a.bytes.resize(f.size() * 4);
        std::memcpy(a.bytes.data(), f.data(), a.bytes.size());
    }
    write_npy(path, a);
}

}  // namespace vkattn::cli
