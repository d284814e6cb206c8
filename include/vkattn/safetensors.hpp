#pragma once
/// \file safetensors.hpp
/// Reading `.safetensors` files: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and [begin, end) byte range of the data section, then the data.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vkattn/context.hpp"
#include "vkattn/tensor.hpp"

namespace vkattn {

/// One tensor entry of the header.
struct SafeTensorInfo {
    std::string dtype;     ///< as stored: "F32", "F16", "BF16" (readable); others are listed but not readable
    Shape shape;
    uint64_t begin = 0;    ///< byte offsets inside the data section
    uint64_t end = 0;
};

/// A parsed `.safetensors` file held in memory. Every structural rule is checked when it is opened:
/// header length within the file and at most 100 MiB, valid JSON object, each entry with a known
/// dtype string, a shape of non-negative integers, data_offsets [begin, end] inside the data section
/// with end - begin equal to the shape's bytes, and no two entries' ranges overlapping.
/// Errors are Error(io_error) naming the file and the tensor.
class SafeTensors {
public:
    /// Reads and checks a file.
    static SafeTensors open(const std::string& path);
    /// Checks bytes already in memory; `what` names the source in errors.
    static SafeTensors parse(std::vector<uint8_t> bytes, const std::string& what);

    const std::string& source() const { return what_; }
    bool contains(const std::string& name) const { return entries_.count(name) != 0; }
    /// The entry, or Error(invalid_argument) "<source>: no tensor named '<name>' (has: ...)".
    const SafeTensorInfo& info(const std::string& name) const;
    std::vector<std::string> names() const;
    /// The "__metadata__" string map (may be empty).
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    /// The tensor's values as floats (F32, F16 and BF16 widened exactly); Error(invalid_argument) for other dtypes.
    std::vector<float> floats(const std::string& name) const;
    /// Uploads the tensor as `dtype` (f32 or f16) with its stored shape.
    Tensor upload(Context& ctx, const std::string& name, DType dtype) const;

private:
    std::string what_;
    std::vector<uint8_t> bytes_;
    uint64_t data_start_ = 0;
    std::map<std::string, SafeTensorInfo> entries_;
    std::map<std::string, std::string> metadata_;
};

/// Writes a `.safetensors` file of F32 tensors (used by tests and tools); Error(io_error) on failure.
void write_safetensors(const std::string& path, const std::map<std::string, std::pair<Shape, std::vector<float>>>& tensors);

}  // namespace vkattn
