#pragma once
// A tiny bitmap font for `vkattn bench plot`: printable ASCII in 5x7 cells plus one descender row
// (so a glyph is 5 wide and 8 tall). Unknown characters draw as a box.
#include <array>
#include <cstdint>

namespace vkattn::cli {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 8;

/// Rows of the glyph for `c`, top first; bit 4 is the leftmost pixel.
std::array<uint8_t, kGlyphHeight> glyph_rows(char c);

}  // namespace vkattn::cli
