#pragma once
// A picture for `vkattn bench plot` and `vkattn heatmap`, drawn with cairo on a recording surface so that
// the same drawing can be written as PNG or as SVG (draw/picture_file.hpp): filled rectangles (pixel
// exact at integer corners), anti-aliased lines (solid or dashed) and markers, and UTF-8 text in DejaVu
// Sans (draw/text_font.hpp), horizontal or rotated.
#include <cairo.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "draw/cairo_handles.hpp"

namespace vkattn::cli {

struct Rgb {
    uint8_t r = 0, g = 0, b = 0;
};

enum class Marker { circle, square, triangle, diamond, cross, plus };

class Drawing {
public:
    Drawing(int width, int height, Rgb background);
    int width() const { return width_; }
    int height() const { return height_; }

    /// Fills pixels x0..x1, y0..y1 (inclusive corners, in any order) exactly, without anti-aliasing blur.
    void fill_rect(int x0, int y0, int x1, int y1, Rgb c);
    /// A line through the centres of pixels (x0, y0) and (x1, y1), `thickness` pixels wide; with `dash` > 0,
    /// dash pixels drawn then dash/2 skipped, repeating.
    void line(double x0, double y0, double x1, double y1, Rgb c, double thickness = 1, double dash = 0);
    /// Connected segments through pixel centres; dashes continue from one segment to the next.
    void polyline(const std::vector<std::pair<double, double>>& points, Rgb c, double thickness, double dash = 0);
    void marker(double x, double y, Marker m, double radius, Rgb c);

    /// UTF-8 text `size` pixels high (em size), the top-left corner of its line box at (x, y): the line
    /// box is text_height(size) tall (draw/text_font.hpp).
    void text(double x, double y, const std::string& s, Rgb c, double size);
    /// Text turned a quarter counter-clockwise (reading bottom to top): its line box's top at x, its start at y.
    void text_up(double x, double y, const std::string& s, Rgb c, double size);

    /// What was drawn, to be painted onto a PNG or SVG surface.
    cairo_surface_t* recording() const { return surface_.get(); }

private:
    void set_colour(Rgb c);
    void show_text(const std::string& s, double size);
    int width_, height_;
    CairoSurface surface_;
    CairoContext cr_;
};

/// A round axis step near range / ticks: 1, 2 or 5 times a power of ten.
double nice_step(double range, int ticks = 6);

}  // namespace vkattn::cli
