#pragma once
/// \file error.hpp
/// The one exception type thrown by the vkattn C++ API.
#include <stdexcept>
#include <string>

namespace vkattn {

/// What kind of failure an Error reports.
enum class ErrorCode {
    invalid_argument,  ///< a shape, dtype, stride, mask or option broke a rule; the message names it
    unsupported,       ///< the request is valid but this device cannot run it (e.g. head dim 512 without enough shared memory)
    no_device,         ///< no Vulkan device matched the selection
    out_of_memory,     ///< host or device memory ran out
    device_lost,       ///< the device was lost; the context cannot be used any more
    vulkan_error,      ///< any other Vulkan failure; the message carries the VkResult
    io_error,          ///< a file could not be read or written, or its contents are malformed
};

/// Human-readable name of an error code ("invalid_argument", ...).
const char* to_string(ErrorCode code) noexcept;

/// Every failure of the API is thrown as this type. `what()` is "<code>: <message>";
/// `message()` is the message alone, which names the argument and the rule broken.
class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message);
    ErrorCode code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }

private:
    ErrorCode code_;
    std::string message_;
};

}  // namespace vkattn
