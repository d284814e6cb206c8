#pragma once
/// \file version.hpp
namespace vkattn {
/// Library version, "MAJOR.MINOR.PATCH".
const char* version() noexcept;
}  // namespace vkattn
