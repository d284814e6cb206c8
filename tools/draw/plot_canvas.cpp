#include "draw/plot_canvas.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>

#include "draw/font5x7.hpp"
#include "vkattn/error.hpp"

namespace vkattn::cli {

Canvas::Canvas(int width, int height, Rgb bg)
    : width_(width), height_(height), rgb_(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3) {
    for (std::size_t i = 0; i < rgb_.size(); i += 3) rgb_[i] = bg.r, rgb_[i + 1] = bg.g, rgb_[i + 2] = bg.b;
}

void Canvas::pixel(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    const std::size_t i = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) + static_cast<std::size_t>(x)) * 3;
    rgb_[i] = c.r, rgb_[i + 1] = c.g, rgb_[i + 2] = c.b;
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = std::min(y0, y1); y <= std::max(y0, y1); ++y)
        for (int x = std::min(x0, x1); x <= std::max(x0, x1); ++x) pixel(x, y, c);
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb c, int thickness, int dash) {
    const double dx = x1 - x0, dy = y1 - y0;
    const double length = std::hypot(dx, dy);
    const int steps = std::max(1, static_cast<int>(std::ceil(length * 2)));  // half-pixel steps
    const int lo = -(thickness - 1) / 2, hi = thickness / 2;
    for (int i = 0; i <= steps; ++i) {
        const double t = static_cast<double>(i) / steps;
        if (dash > 0) {
            const double along = std::fmod(dash_phase_ + t * length, dash * 1.5);
            if (along >= dash) continue;
        }
        const int x = static_cast<int>(std::lround(x0 + t * dx)), y = static_cast<int>(std::lround(y0 + t * dy));
        for (int oy = lo; oy <= hi; ++oy)
            for (int ox = lo; ox <= hi; ++ox) pixel(x + ox, y + oy, c);
    }
    dash_phase_ = dash > 0 ? std::fmod(dash_phase_ + length, dash * 1.5) : 0;  // dashes continue across segments
}

void Canvas::marker(double xf, double yf, Marker m, int r, Rgb c) {
    const int x = static_cast<int>(std::lround(xf)), y = static_cast<int>(std::lround(yf));
    for (int oy = -r; oy <= r; ++oy)
        for (int ox = -r; ox <= r; ++ox) {
            bool on = false;
            switch (m) {
                case Marker::circle: on = ox * ox + oy * oy <= r * r + r / 2; break;
                case Marker::square: on = true; break;
                case Marker::triangle: on = 2 * std::abs(ox) <= oy + r; break;  // apex up
                case Marker::diamond: on = std::abs(ox) + std::abs(oy) <= r; break;
                case Marker::cross: on = std::abs(std::abs(ox) - std::abs(oy)) <= 1; break;
                case Marker::plus: on = std::abs(ox) <= 1 || std::abs(oy) <= 1; break;
            }
            if (on) pixel(x + ox, y + oy, c);
        }
}

int Canvas::text_width(const std::string& s, int scale) {
    return s.empty() ? 0 : static_cast<int>(s.size()) * (kGlyphWidth + 1) * scale - scale;
}
int Canvas::text_height(int scale) { return kGlyphHeight * scale; }

void Canvas::text(int x, int y, const std::string& s, Rgb c, int scale) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto rows = glyph_rows(s[i]);
        const int gx = x + static_cast<int>(i) * (kGlyphWidth + 1) * scale;
        for (int r = 0; r < kGlyphHeight; ++r)
            for (int col = 0; col < kGlyphWidth; ++col)
                if (rows[static_cast<std::size_t>(r)] & (1u << (kGlyphWidth - 1 - col)))
                    fill_rect(gx + col * scale, y + r * scale, gx + col * scale + scale - 1, y + r * scale + scale - 1, c);
    }
}

void Canvas::text_up(int x, int y, const std::string& s, Rgb c, int scale) {
    // Rotated counter-clockwise: a glyph's row r becomes column x + r, its column col the row y - col.
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto rows = glyph_rows(s[i]);
        const int gy = y - static_cast<int>(i) * (kGlyphWidth + 1) * scale;
        for (int r = 0; r < kGlyphHeight; ++r)
            for (int col = 0; col < kGlyphWidth; ++col)
                if (rows[static_cast<std::size_t>(r)] & (1u << (kGlyphWidth - 1 - col)))
                    fill_rect(x + r * scale, gy - col * scale - scale + 1, x + r * scale + scale - 1, gy - col * scale, c);
    }
}

double nice_step(double range, int ticks) {
    const double raw = range / ticks, p = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0})
        if (raw <= m * p) return m * p;
    return 10 * p;
}

void Canvas::write_png(const std::string& path) const {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(width_);
    image.height = static_cast<png_uint_32>(height_);
    image.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&image, path.c_str(), 0, rgb_.data(), 0, nullptr)) {
        const std::string why = image.message[0] ? image.message : "unknown libpng error";
        png_image_free(&image);
        throw Error(ErrorCode::io_error, "--out: cannot write '" + path + "': " + why);
    }
}

}  // namespace vkattn::cli
