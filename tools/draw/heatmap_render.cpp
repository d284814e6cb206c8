#include "draw/heatmap_render.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "draw/heatmap_colormap.hpp"
#include "draw/utf8.hpp"

namespace vkattn::cli {
namespace {

constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGray{90, 90, 90}, kFrame{60, 60, 60};
constexpr int kMargin = 24;
constexpr int kGapX = 40, kGapY = 28;
constexpr int kBarWidth = 24;
// Font sizes (em, pixels): the title, the subtitle / captions / axis names / colour-bar ticks, and the
// token labels (large when cells are at least 18 pixels, small otherwise).
constexpr double kTitleSize = 22, kTextSize = 15, kLabelLarge = 14, kLabelSmall = 9;

int width_of(const std::string& s, double size) { return static_cast<int>(std::ceil(text_width(s, size))); }
int height_of(double size) { return static_cast<int>(std::ceil(text_height(size))); }

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
    int cell = 1;
    double label_size = kLabelSmall;
    int row_stride = 1, col_stride = 1;
    int row_label_w = 0, col_label_h = 0;
    int block_w = 0, block_h = 0;
    int area_dx = 0, area_dy = 0;  ///< the cell area's offset inside a block
    int header_h = 0;
};

Layout lay_out(const HeatmapFigure& f) {
    Layout L;
    L.rows = f.row_bins.count(), L.cols = f.col_bins.count();
    const int n = static_cast<int>(f.panels.size());
    L.columns = n == 1 ? 1 : static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
    L.grid_rows = (n + L.columns - 1) / L.columns;
    const int target = n == 1 ? 560 : std::max(160, 1000 / L.columns);
    L.cell = static_cast<int>(std::clamp<int64_t>(target / std::max(L.rows, L.cols), 1, 48));
    L.label_size = L.cell >= 18 ? kLabelLarge : kLabelSmall;
    const int label_h = height_of(L.label_size);
    L.row_stride = label_stride(L.cell, label_h);
    L.col_stride = label_stride(L.cell, label_h);
    for (int64_t i = 0; i < L.rows; i += L.row_stride)
        L.row_label_w = std::max(L.row_label_w, width_of(fit_label(f.row_labels[static_cast<std::size_t>(i)]), L.label_size));
    for (int64_t j = 0; j < L.cols; j += L.col_stride)
        L.col_label_h = std::max(L.col_label_h, width_of(fit_label(f.col_labels[static_cast<std::size_t>(j)]), L.label_size));
    const int axis_h = height_of(kTextSize);
    L.area_dx = axis_h + 8 + L.row_label_w + 8;
    L.area_dy = axis_h + 10;  // the caption above the cells
    const int area_w = static_cast<int>(L.cols) * L.cell, area_h = static_cast<int>(L.rows) * L.cell;
    L.block_w = L.area_dx + area_w;
    L.block_h = L.area_dy + area_h + 8 + L.col_label_h + 10 + axis_h;
    L.header_h = height_of(kTitleSize) + 8 + height_of(kTextSize) + 20;
    return L;
}

/// A one-pixel frame just outside the inclusive rectangle.
void draw_frame(Drawing& d, int x0, int y0, int x1, int y1) {
    d.fill_rect(x0 - 1, y0 - 1, x1 + 1, y0 - 1, kFrame);
    d.fill_rect(x0 - 1, y1 + 1, x1 + 1, y1 + 1, kFrame);
    d.fill_rect(x0 - 1, y0 - 1, x0 - 1, y1 + 1, kFrame);
    d.fill_rect(x1 + 1, y0 - 1, x1 + 1, y1 + 1, kFrame);
}

void draw_panel(Drawing& d, const HeatmapFigure& f, const Layout& L, const HeatmapPanel& p, int bx, int by, PanelPlacement& at) {
    at = {bx + L.area_dx, by + L.area_dy, L.cell, L.rows, L.cols};
    const int x1 = at.x0 + static_cast<int>(L.cols) * L.cell - 1, y1 = at.y0 + static_cast<int>(L.rows) * L.cell - 1;
    for (int64_t r = 0; r < L.rows; ++r)
        for (int64_t col = 0; col < L.cols; ++col) {
            const int x = at.x0 + static_cast<int>(col) * L.cell, y = at.y0 + static_cast<int>(r) * L.cell;
            d.fill_rect(x, y, x + L.cell - 1, y + L.cell - 1, viridis((p.cells.at(r, col) - f.vmin) / (f.vmax - f.vmin)));
        }
    draw_frame(d, at.x0, at.y0, x1, y1);

    const double s = L.label_size, label_h = text_height(s);
    for (int64_t r = 0; r < L.rows; r += L.row_stride) {
        const std::string t = fit_label(f.row_labels[static_cast<std::size_t>(r)]);
        d.text(at.x0 - 8 - text_width(t, s), at.y0 + static_cast<double>(r) * L.cell + (L.cell - label_h) / 2, t, kBlack, s);
    }
    for (int64_t col = 0; col < L.cols; col += L.col_stride) {
        const std::string t = fit_label(f.col_labels[static_cast<std::size_t>(col)]);
        // Rotated, reading upwards, its end next to the cells.
        d.text_up(at.x0 + static_cast<double>(col) * L.cell + (L.cell - label_h) / 2, y1 + 8 + text_width(t, s), t, kBlack, s);
    }
    const double mid_x = (at.x0 + x1) / 2.0, mid_y = (at.y0 + y1) / 2.0;
    d.text(mid_x - text_width(p.caption, kTextSize) / 2, by, p.caption, kBlack, kTextSize);
    d.text(mid_x - text_width(f.col_axis, kTextSize) / 2, y1 + 8 + L.col_label_h + 10, f.col_axis, kGray, kTextSize);
    d.text_up(bx, mid_y + text_width(f.row_axis, kTextSize) / 2, f.row_axis, kGray, kTextSize);
}

}  // namespace

std::string fit_label(const std::string& token) {
    return utf8_length(token) <= kMaxLabelChars ? token : utf8_prefix(token, kMaxLabelChars - 1) + "~";
}

std::vector<TextGlyph> label_glyphs(const std::string& token) { return text_glyphs(fit_label(token), kLabelLarge); }

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
    for (double v : ticks) tick_w = std::max(tick_w, width_of(tick_text(v, step), kTextSize));
    const std::string bar_caption = "weight";
    const int bar_x0 = kMargin + grid_w + kGapX, bar_x1 = bar_x0 + kBarWidth - 1;

    const int title_w = width_of(f.title, kTitleSize), sub_w = width_of(f.subtitle, kTextSize);
    const int caption_w = width_of(bar_caption, kTextSize);
    const int width = std::max({bar_x1 + 12 + tick_w, bar_x0 + kBarWidth / 2 + (caption_w + 1) / 2, kMargin + title_w,
                                kMargin + sub_w}) +
                      kMargin;
    const int text_h = height_of(kTextSize);
    const int height = std::max(top + grid_h, bar_y1 + text_h) + kMargin;
    RenderedHeatmap out{Drawing(width, height, kWhite), {}, {bar_x0, bar_y0, bar_x1, bar_y1}};
    Drawing& d = out.drawing;

    d.text((width - text_width(f.title, kTitleSize)) / 2, kMargin, f.title, kBlack, kTitleSize);
    d.text((width - text_width(f.subtitle, kTextSize)) / 2, kMargin + height_of(kTitleSize) + 8, f.subtitle, kGray, kTextSize);

    out.panels.resize(f.panels.size());
    for (std::size_t i = 0; i < f.panels.size(); ++i) {
        const int gx = static_cast<int>(i) % L.columns, gy = static_cast<int>(i) / L.columns;
        draw_panel(d, f, L, f.panels[i], kMargin + gx * (L.block_w + kGapX), top + gy * (L.block_h + kGapY), out.panels[i]);
    }

    for (int y = bar_y0; y <= bar_y1; ++y)
        d.fill_rect(bar_x0, y, bar_x1, y, viridis(static_cast<double>(bar_y1 - y) / (bar_y1 - bar_y0)));
    draw_frame(d, bar_x0, bar_y0, bar_x1, bar_y1);
    d.text(bar_x0 + kBarWidth / 2.0 - text_width(bar_caption, kTextSize) / 2, bar_y0 - 8 - text_h, bar_caption, kBlack, kTextSize);
    for (double v : ticks) {
        const int y = bar_y1 - static_cast<int>(std::lround((v - f.vmin) / range * (bar_y1 - bar_y0)));
        d.fill_rect(bar_x1 + 3, y, bar_x1 + 6, y, kBlack);
        d.text(bar_x1 + 12, y - text_h / 2.0, tick_text(v, step), kBlack, kTextSize);
    }
    return out;
}

}  // namespace vkattn::cli
