#pragma once
// UTF-8 as the drawing code needs it: checking that a label is valid, decoding it to code points, and
// shortening it without cutting a character in half.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace vkattn::cli {

/// The byte offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
/// surrogates and values above U+10FFFF are not well-formed); nullopt when all of `s` is valid.
std::optional<std::size_t> first_invalid_utf8(const std::string& s);

/// The code points of `s`. Throws Error(invalid_argument) "<what>: not valid UTF-8 at byte N" when `s`
/// is not well-formed.
std::vector<char32_t> decode_utf8(const std::string& s, const std::string& what = "text");

/// The first `n` code points of `s` (all of `s` when it has no more), cut at a code-point boundary.
/// `s` must be valid UTF-8.
std::string utf8_prefix(const std::string& s, std::size_t n);

/// The number of code points in valid UTF-8 `s`.
std::size_t utf8_length(const std::string& s);

}  // namespace vkattn::cli
