#pragma once
// An RGB raster for `vkattn bench plot` and `vkattn heatmap`: thick solid or dashed lines, markers, rectangles, text in the
// 5x7 bitmap font (horizontal or rotated), and PNG output through libpng.
#include <cstdint>
#include <string>
#include <vector>

namespace vkattn::cli {

struct Rgb {
    uint8_t r = 0, g = 0, b = 0;
};

enum class Marker { circle, square, triangle, diamond, cross, plus };

class Canvas {
public:
    Canvas(int width, int height, Rgb background);
    int width() const { return width_; }
    int height() const { return height_; }

    void pixel(int x, int y, Rgb c);
    void fill_rect(int x0, int y0, int x1, int y1, Rgb c);  ///< inclusive corners
    /// A line `thickness` pixels wide; with `dash` > 0, dash pixels drawn then dash/2 skipped, repeating.
    void line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1, int dash = 0);
    void marker(double x, double y, Marker m, int radius, Rgb c);

    /// Text with its top-left corner at (x, y); each font pixel becomes scale x scale pixels.
    void text(int x, int y, const std::string& s, Rgb c, int scale = 1);
    /// Text rotated a quarter turn counter-clockwise (reads bottom to top), its bottom-left at (x, y).
    void text_up(int x, int y, const std::string& s, Rgb c, int scale = 1);
    static int text_width(const std::string& s, int scale = 1);
    static int text_height(int scale = 1);

    /// Writes an 8-bit RGB PNG. Throws Error(io_error) naming the path on failure.
    void write_png(const std::string& path) const;

private:
    int width_, height_;
    std::vector<uint8_t> rgb_;
    double dash_phase_ = 0;
};

/// A round axis step near range / ticks: 1, 2 or 5 times a power of ten.
double nice_step(double range, int ticks = 6);

}  // namespace vkattn::cli
