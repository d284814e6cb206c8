// libFuzzer target: arbitrary bytes through the .npy parser. It must either return an array whose
// byte count matches its shape and dtype, or throw vkattn::Error(io_error) -- never crash or read
// out of bounds. Also replayed by the test suite (fuzz_targets.hpp).
#include "fuzz_targets.hpp"
#include "vkattn/npy.hpp"

#include <vkattn/error.hpp>
#include <vkattn/npy.hpp>

namespace vkattn::fuzz {

void npy_one_input(const uint8_t* data, size_t size) {
    try {
        NpyArray a = parse_npy(data, size, "fuzz");
        const int64_t n = a.numel();
        if (static_cast<uint64_t>(n) * dtype_size(a.dtype) != a.bytes.size()) finding("byte count does not match the shape");
        if (n < 1000000) (void)a.to_floats();
    } catch (const Error& e) {
        if (e.code() != ErrorCode::io_error && e.code() != ErrorCode::invalid_argument)
            finding(std::string("unexpected error code: ") + e.what());
    }
}

}  // namespace vkattn::fuzz

#ifndef VKATTN_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vkattn::fuzz::npy_one_input(data, size);
    return 0;
}
#endif
