#pragma once
// Wall-clock time stamps of the engine's caches (pipeline cache, roofline figures, tuning table).
#include <string>

namespace vkattn::detail {

/// The current UTC time as "2024-05-01T12:00:00Z": when a cache entry (roofline, tuning) was measured.
std::string utc_now();

}  // namespace vkattn::detail
