// The one exception type of the API and the names of its codes.
#include "vkattn/error.hpp"

namespace vkattn {

const char* to_string(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::invalid_argument: return "invalid_argument";
        case ErrorCode::unsupported: return "unsupported";
        case ErrorCode::no_device: return "no_device";
        case ErrorCode::out_of_memory: return "out_of_memory";
        case ErrorCode::device_lost: return "device_lost";
        case ErrorCode::vulkan_error: return "vulkan_error";
        case ErrorCode::io_error: return "io_error";
    }
    // Only reachable with a value cast from an out-of-range integer.
    return "unknown_error";
}

namespace {
// Built with append rather than operator+: GCC 12 reports a false -Wrestrict on the latter here.
std::string describe(ErrorCode code, const std::string& message) {
    std::string text = to_string(code);
    text.append(": ").append(message);
    return text;
}
}  // namespace

Error::Error(ErrorCode code, const std::string& message)
    : std::runtime_error(describe(code, message)), code_(code), message_(message) {}

}  // namespace vkattn
