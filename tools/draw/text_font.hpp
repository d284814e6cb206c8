#pragma once
// The typeface of every picture: "DejaVu Sans", found through fontconfig and drawn by cairo (FreeType),
// anti-aliased. Text is UTF-8 and is drawn one glyph per code point, so accented tokens ("économie",
// "naïve", "Straße") appear as written. Hinting is off, so that text measures the same in PNG and SVG.
#include <cairo.h>

#include <string>
#include <vector>

namespace vkattn::cli {

/// The family fontconfig must find (Debian: fonts-dejavu-core).
inline constexpr const char* kFontFamily = "DejaVu Sans";

/// One glyph of a drawn text: the code point it stands for and its index in the font (0 is the font's
/// missing-glyph box, .notdef).
struct TextGlyph {
    char32_t code_point = 0;
    unsigned long index = 0;
};

/// Text laid out along a baseline starting at the origin: one cairo glyph per code point.
struct ShapedText {
    std::vector<char32_t> code_points;
    std::vector<cairo_glyph_t> glyphs;
    double width = 0;  ///< the advance of the whole text
};

/// The font face, looked up once. Throws Error(unsupported) naming the family and the package when
/// fontconfig finds no DejaVu Sans (it would otherwise silently substitute another family).
cairo_font_face_t* font_face();
/// The rendering options of all text: grey anti-aliasing, no hinting, unhinted metrics.
const cairo_font_options_t* font_options();

/// Lays out UTF-8 `text` at `size` pixels (the em size). Throws Error(invalid_argument) when `text` is
/// not valid UTF-8.
ShapedText shape_text(const std::string& text, double size);
/// The glyphs `text` is drawn with.
std::vector<TextGlyph> text_glyphs(const std::string& text, double size);

double text_width(const std::string& text, double size);
/// The font's ascent and ascent + descent at `size`: the height of a line box.
double text_ascent(double size);
double text_height(double size);

}  // namespace vkattn::cli
