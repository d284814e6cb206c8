#pragma once
// Writing a Drawing to a file whose extension chooses the format: .png (8-bit RGB, cairo's PNG writer)
// or .svg (cairo-svg: vector shapes, text as the font's glyph outlines, sized in px).
#include <string>

#include "draw/drawing.hpp"

namespace vkattn::cli {

enum class PictureFormat { png, svg };

/// The format named by the extension of `path` (.png or .svg, in any letter case). Throws
/// Error(invalid_argument) "<option>: ..." naming the path and the extensions accepted otherwise.
PictureFormat picture_format(const std::string& path, const std::string& option = "--out");

/// Writes `d` to `path` in the format its extension names. Throws Error(invalid_argument) for another
/// extension and Error(io_error) "<option>: cannot write '<path>': <reason>" when the file cannot be written.
void write_picture(const Drawing& d, const std::string& path, const std::string& option = "--out");

}  // namespace vkattn::cli
