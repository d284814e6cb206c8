#include "draw/utf8.hpp"

#include "vkattn/error.hpp"

namespace vkattn::cli {
namespace {

/// The length of the well-formed sequence starting at s[i] and its code point; length 0 when ill-formed.
std::size_t sequence_at(const std::string& s, std::size_t i, char32_t& cp) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    if (b0 < 0x80) return cp = b0, 1;
    std::size_t n;
    char32_t min;
    if ((b0 & 0xE0) == 0xC0) n = 2, cp = b0 & 0x1F, min = 0x80;
    else if ((b0 & 0xF0) == 0xE0) n = 3, cp = b0 & 0x0F, min = 0x800;
    else if ((b0 & 0xF8) == 0xF0) n = 4, cp = b0 & 0x07, min = 0x10000;
    else return 0;  // a continuation byte or 0xF8..0xFF
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

}  // namespace

std::optional<std::size_t> first_invalid_utf8(const std::string& s) {
    char32_t cp;
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = sequence_at(s, i, cp);
        if (n == 0) return i;
        i += n;
    }
    return std::nullopt;
}

std::vector<char32_t> decode_utf8(const std::string& s, const std::string& what) {
    std::vector<char32_t> out;
    char32_t cp;
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = sequence_at(s, i, cp);
        if (n == 0) throw Error(ErrorCode::invalid_argument, what + ": not valid UTF-8 at byte " + std::to_string(i));
        out.push_back(cp);
        i += n;
    }
    return out;
}

std::string utf8_prefix(const std::string& s, std::size_t n) {
    std::size_t i = 0;
    for (std::size_t count = 0; i < s.size() && count < n; ++count) {
        ++i;
        while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;  // continuation bytes
    }
    return s.substr(0, i);
}

std::size_t utf8_length(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

}  // namespace vkattn::cli
