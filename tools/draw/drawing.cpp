#include "draw/drawing.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "draw/text_font.hpp"
#include "vkattn/error.hpp"

namespace vkattn::cli {

Drawing::Drawing(int width, int height, Rgb background) : width_(width), height_(height) {
    if (width <= 0 || height <= 0)
        throw Error(ErrorCode::invalid_argument,
                    "drawing: size " + std::to_string(width) + " x " + std::to_string(height) + " must be positive");
    const cairo_rectangle_t extents{0, 0, static_cast<double>(width), static_cast<double>(height)};
    surface_.reset(cairo_recording_surface_create(CAIRO_CONTENT_COLOR, &extents));
    cr_.reset(cairo_create(surface_.get()));
    if (cairo_status(cr_.get()) != CAIRO_STATUS_SUCCESS)
        throw Error(ErrorCode::out_of_memory, std::string("drawing: cairo: ") + cairo_status_to_string(cairo_status(cr_.get())));
    set_colour(background);
    cairo_paint(cr_.get());
}

void Drawing::set_colour(Rgb c) { cairo_set_source_rgb(cr_.get(), c.r / 255.0, c.g / 255.0, c.b / 255.0); }

void Drawing::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
    cairo_t* cr = cr_.get();
    set_colour(c);
    cairo_rectangle(cr, std::min(x0, x1), std::min(y0, y1), std::abs(x1 - x0) + 1, std::abs(y1 - y0) + 1);
    cairo_fill(cr);
}

void Drawing::line(double x0, double y0, double x1, double y1, Rgb c, double thickness, double dash) {
    polyline({{x0, y0}, {x1, y1}}, c, thickness, dash);
}

void Drawing::polyline(const std::vector<std::pair<double, double>>& points, Rgb c, double thickness, double dash) {
    if (points.size() < 2) return;
    cairo_t* cr = cr_.get();
    cairo_save(cr);
    set_colour(c);
    cairo_set_line_width(cr, thickness);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, dash > 0 ? CAIRO_LINE_CAP_BUTT : CAIRO_LINE_CAP_SQUARE);
    if (dash > 0) {
        const double pattern[] = {dash, dash / 2};
        cairo_set_dash(cr, pattern, 2, 0);
    }
    cairo_move_to(cr, points[0].first + 0.5, points[0].second + 0.5);
    for (std::size_t i = 1; i < points.size(); ++i) cairo_line_to(cr, points[i].first + 0.5, points[i].second + 0.5);
    cairo_stroke(cr);
    cairo_restore(cr);
}

void Drawing::marker(double xf, double yf, Marker m, double r, Rgb c) {
    cairo_t* cr = cr_.get();
    const double x = xf + 0.5, y = yf + 0.5;
    cairo_save(cr);
    set_colour(c);
    switch (m) {
        case Marker::circle: cairo_arc(cr, x, y, r, 0, 2 * std::numbers::pi); break;
        case Marker::square: cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r); break;
        case Marker::triangle:  // apex up
            cairo_move_to(cr, x, y - r), cairo_line_to(cr, x + r, y + r), cairo_line_to(cr, x - r, y + r);
            cairo_close_path(cr);
            break;
        case Marker::diamond:
            cairo_move_to(cr, x, y - r), cairo_line_to(cr, x + r, y), cairo_line_to(cr, x, y + r), cairo_line_to(cr, x - r, y);
            cairo_close_path(cr);
            break;
        case Marker::cross:
        case Marker::plus: {
            const double a = m == Marker::cross ? r * 0.85 : 0, b = m == Marker::cross ? r * 0.85 : r;
            if (m == Marker::cross) cairo_move_to(cr, x - a, y - b), cairo_line_to(cr, x + a, y + b), cairo_move_to(cr, x - a, y + b), cairo_line_to(cr, x + a, y - b);
            else cairo_move_to(cr, x - b, y), cairo_line_to(cr, x + b, y), cairo_move_to(cr, x, y - b), cairo_line_to(cr, x, y + b);
            cairo_set_line_width(cr, 3);
            cairo_stroke(cr);
            cairo_restore(cr);
            return;
        }
    }
    cairo_fill(cr);
    cairo_restore(cr);
}

void Drawing::show_text(const std::string& s, double size) {
    const ShapedText shaped = shape_text(s, size);
    if (shaped.glyphs.empty()) return;
    cairo_t* cr = cr_.get();
    cairo_set_font_face(cr, font_face());
    cairo_set_font_size(cr, size);
    cairo_set_font_options(cr, font_options());
    cairo_show_glyphs(cr, shaped.glyphs.data(), static_cast<int>(shaped.glyphs.size()));
}

void Drawing::text(double x, double y, const std::string& s, Rgb c, double size) {
    cairo_t* cr = cr_.get();
    cairo_save(cr);
    set_colour(c);
    cairo_translate(cr, x, y + text_ascent(size));
    show_text(s, size);
    cairo_restore(cr);
}

void Drawing::text_up(double x, double y, const std::string& s, Rgb c, double size) {
    cairo_t* cr = cr_.get();
    cairo_save(cr);
    set_colour(c);
    cairo_translate(cr, x + text_ascent(size), y);
    cairo_rotate(cr, -std::numbers::pi / 2);
    show_text(s, size);
    cairo_restore(cr);
}

double nice_step(double range, int ticks) {
    const double raw = range / ticks, p = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0})
        if (raw <= m * p) return m * p;
    return 10 * p;
}

}  // namespace vkattn::cli
