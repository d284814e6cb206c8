#pragma once
// Device tensors to and from .npy arrays, shared by `vkattn run` and `vkattn linear`.
#include <optional>
#include <string>

#include "vkattn/npy.hpp"
#include "vkattn/vkattn.hpp"

namespace vkattn::cli {

/// Uploads an array as it is stored, or converted to `convert_to` when that differs from its dtype.
Tensor upload_npy(Context& ctx, const NpyArray& a, std::optional<DType> convert_to);

/// Downloads a tensor in its logical order and writes it with its dtype (f16 bits kept exactly).
void save_npy(const std::string& path, const Tensor& t);

}  // namespace vkattn::cli
