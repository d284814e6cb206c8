// libFuzzer target: arbitrary bytes through the .npy parser. It must either return an array whose
// byte count matches its shape and dtype, or throw vkattn::Error(io_error) -- never crash or read
// out of bounds.
#include <vkattn/npy.hpp>
#include <vkattn/error.hpp>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        vkattn::NpyArray a = vkattn::parse_npy(data, size, "fuzz");
        const int64_t n = a.numel();
        if (static_cast<uint64_t>(n) * vkattn::dtype_size(a.dtype) != a.bytes.size()) std::abort();
        if (n < 1000000) (void)a.to_floats();
    } catch (const vkattn::Error& e) {
        if (e.code() != vkattn::ErrorCode::io_error && e.code() != vkattn::ErrorCode::invalid_argument) std::abort();
    }
    return 0;
}
