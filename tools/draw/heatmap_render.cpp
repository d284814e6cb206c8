#include "draw/heatmap_render.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "draw/heatmap_colormap.hpp"

namespace vkattn::cli {
namespace {

constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGray{90, 90, 90}, kFrame{60, 60, 60};
constexpr int kMargin = 24;
constexpr int kMaxLabelChars = 14;
constexpr int kGapX = 40, kGapY = 28;
constexpr int kBarWidth = 24;

std::string shorten(const std::string& s) {
    return static_cast<int>(s.size()) <= kMaxLabelChars ? s : s.substr(0, kMaxLabelChars - 1) + "~";
}

/// Every `stride`-th label, so that labels `height` pixels tall fit cells `cell` pixels apart.
int label_stride(int cell, int height) { return std::max(1, (height + 2 + cell - 1) / cell); }

std::string tick_text(double v, double step) {
    const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 6);
    char b[32];
    std::snprintf(b, sizeof b, "%.*f", decimals, std::abs(v) < step * 1e-6 ? 0.0 : v);
    return b;
}

struct Layout {
    int64_t rows = 0, cols = 0;
    int columns = 1, grid_rows = 1;
    int cell = 1, label_scale = 1;
    int row_stride = 1, col_stride = 1;
    int row_label_w = 0, col_label_h = 0;
    int block_w = 0, block_h = 0;
    int area_dx = 0, area_dy = 0;  ///< the cell area's offset inside a block
    int title_scale = 3, header_h = 0;
};

Layout lay_out(const HeatmapFigure& f) {
    Layout L;
    L.rows = f.row_bins.count(), L.cols = f.col_bins.count();
    const int n = static_cast<int>(f.panels.size());
    L.columns = n == 1 ? 1 : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
    L.grid_rows = (n + L.columns - 1) / L.columns;
    const int target = n == 1 ? 560 : std::max(160, 1000 / L.columns);
    L.cell = static_cast<int>(std::clamp<int64_t>(target / std::max(L.rows, L.cols), 1, 48));
    L.label_scale = L.cell >= 18 ? 2 : 1;
    const int label_h = Canvas::text_height(L.label_scale);
    L.row_stride = label_stride(L.cell, label_h);
    L.col_stride = label_stride(L.cell, label_h);
    for (int64_t i = 0; i < L.rows; i += L.row_stride)
        L.row_label_w = std::max(L.row_label_w, Canvas::text_width(shorten(f.row_labels[static_cast<std::size_t>(i)]), L.label_scale));
    for (int64_t j = 0; j < L.cols; j += L.col_stride)
        L.col_label_h = std::max(L.col_label_h, Canvas::text_width(shorten(f.col_labels[static_cast<std::size_t>(j)]), L.label_scale));
    const int axis_h = Canvas::text_height(2);
    L.area_dx = axis_h + 8 + L.row_label_w + 8;
    L.area_dy = axis_h + 10;  // the caption above the cells
    const int area_w = static_cast<int>(L.cols) * L.cell, area_h = static_cast<int>(L.rows) * L.cell;
    L.block_w = L.area_dx + area_w;
    L.block_h = L.area_dy + area_h + 8 + L.col_label_h + 10 + axis_h;
    L.header_h = Canvas::text_height(3) + 10 + Canvas::text_height(2) + 22;
    return L;
}

void draw_frame(Canvas& c, int x0, int y0, int x1, int y1) {
    c.line(x0 - 1, y0 - 1, x1 + 1, y0 - 1, kFrame);
    c.line(x0 - 1, y1 + 1, x1 + 1, y1 + 1, kFrame);
    c.line(x0 - 1, y0 - 1, x0 - 1, y1 + 1, kFrame);
    c.line(x1 + 1, y0 - 1, x1 + 1, y1 + 1, kFrame);
}

void draw_panel(Canvas& c, const HeatmapFigure& f, const Layout& L, const HeatmapPanel& p, int bx, int by, PanelPlacement& at) {
    at = {bx + L.area_dx, by + L.area_dy, L.cell, L.rows, L.cols};
    const int x1 = at.x0 + static_cast<int>(L.cols) * L.cell - 1, y1 = at.y0 + static_cast<int>(L.rows) * L.cell - 1;
    for (int64_t r = 0; r < L.rows; ++r)
        for (int64_t col = 0; col < L.cols; ++col) {
            const int x = at.x0 + static_cast<int>(col) * L.cell, y = at.y0 + static_cast<int>(r) * L.cell;
            c.fill_rect(x, y, x + L.cell - 1, y + L.cell - 1, viridis((p.cells.at(r, col) - f.vmin) / (f.vmax - f.vmin)));
        }
    draw_frame(c, at.x0, at.y0, x1, y1);

    const int s = L.label_scale, label_h = Canvas::text_height(s);
    for (int64_t r = 0; r < L.rows; r += L.row_stride) {
        const std::string t = shorten(f.row_labels[static_cast<std::size_t>(r)]);
        c.text(at.x0 - 8 - Canvas::text_width(t, s), at.y0 + static_cast<int>(r) * L.cell + (L.cell - label_h) / 2 + s, t, kBlack, s);
    }
    for (int64_t col = 0; col < L.cols; col += L.col_stride) {
        const std::string t = shorten(f.col_labels[static_cast<std::size_t>(col)]);
        // Rotated, reading upwards, its end next to the cells.
        c.text_up(at.x0 + static_cast<int>(col) * L.cell + (L.cell - label_h) / 2 + s, y1 + 8 + Canvas::text_width(t, s), t, kBlack, s);
    }
    const int mid_x = (at.x0 + x1) / 2, mid_y = (at.y0 + y1) / 2;
    c.text(mid_x - Canvas::text_width(p.caption, 2) / 2, by, p.caption, kBlack, 2);
    c.text(mid_x - Canvas::text_width(f.col_axis, 2) / 2, y1 + 8 + L.col_label_h + 10, f.col_axis, kGray, 2);
    c.text_up(bx, mid_y + Canvas::text_width(f.row_axis, 2) / 2, f.row_axis, kGray, 2);
}

}  // namespace

RenderedHeatmap render_heatmap(const HeatmapFigure& f) {
    const Layout L = lay_out(f);
    const int grid_w = L.columns * L.block_w + (L.columns - 1) * kGapX;
    const int grid_h = L.grid_rows * L.block_h + (L.grid_rows - 1) * kGapY;

    // The colour bar spans the cell areas from the first row of panels to the last, at least 160 pixels.
    const int top = kMargin + L.header_h;
    const int bar_y0 = top + L.area_dy;
    const int bar_y1 = bar_y0 + std::max(160, (L.grid_rows - 1) * (L.block_h + kGapY) + static_cast<int>(L.rows) * L.cell) - 1;
    const double range = f.vmax - f.vmin, step = nice_step(range, 5);
    std::vector<double> ticks;
    for (double v = std::ceil(f.vmin / step - 1e-9) * step; v <= f.vmax + step * 1e-9; v += step) ticks.push_back(v);
    int tick_w = 0;
    for (double v : ticks) tick_w = std::max(tick_w, Canvas::text_width(tick_text(v, step), 2));
    const std::string bar_caption = "weight";
    const int bar_x0 = kMargin + grid_w + kGapX, bar_x1 = bar_x0 + kBarWidth - 1;

    const int title_w = Canvas::text_width(f.title, 3), sub_w = Canvas::text_width(f.subtitle, 2);
    const int width = std::max({bar_x1 + 12 + tick_w, bar_x0 + Canvas::text_width(bar_caption, 2), kMargin + title_w,
                                kMargin + sub_w}) +
                      kMargin;
    const int height = std::max(top + grid_h, bar_y1 + Canvas::text_height(2)) + kMargin;
    RenderedHeatmap out{Canvas(width, height, kWhite), {}, {bar_x0, bar_y0, bar_x1, bar_y1}};
    Canvas& c = out.canvas;

    c.text((width - title_w) / 2, kMargin, f.title, kBlack, 3);
    c.text((width - sub_w) / 2, kMargin + Canvas::text_height(3) + 10, f.subtitle, kGray, 2);

    out.panels.resize(f.panels.size());
    for (std::size_t i = 0; i < f.panels.size(); ++i) {
        const int gx = static_cast<int>(i) % L.columns, gy = static_cast<int>(i) / L.columns;
        draw_panel(c, f, L, f.panels[i], kMargin + gx * (L.block_w + kGapX), top + gy * (L.block_h + kGapY), out.panels[i]);
    }

    for (int y = bar_y0; y <= bar_y1; ++y)
        c.fill_rect(bar_x0, y, bar_x1, y, viridis(static_cast<double>(bar_y1 - y) / (bar_y1 - bar_y0)));
    draw_frame(c, bar_x0, bar_y0, bar_x1, bar_y1);
    c.text(bar_x0 + kBarWidth / 2 - Canvas::text_width(bar_caption, 2) / 2, top - 6, bar_caption, kBlack, 2);
    for (double v : ticks) {
        const int y = bar_y1 - static_cast<int>(std::lround((v - f.vmin) / range * (bar_y1 - bar_y0)));
        c.line(bar_x1 + 2, y, bar_x1 + 5, y, kBlack);
        c.text(bar_x1 + 12, y - Canvas::text_height(2) / 2 + 1, tick_text(v, step), kBlack, 2);
    }
    return out;
}

}  // namespace vkattn::cli
