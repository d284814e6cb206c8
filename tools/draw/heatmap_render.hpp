#pragma once
// Drawing a HeatmapFigure: each panel's cells coloured by viridis, token labels on both axes (thinned
// so that they never overlap; UTF-8, drawn as written in DejaVu Sans), axis names, panel captions, a
// title, and a colour bar with tick labels.
#include <cstdint>
#include <string>
#include <vector>

#include "draw/drawing.hpp"
#include "draw/heatmap_figure.hpp"
#include "draw/text_font.hpp"

namespace vkattn::cli {

/// Where one panel's cells went: cell (r, c) fills x0 + c·cell .. x0 + (c + 1)·cell - 1 (and so in y).
struct PanelPlacement {
    int x0 = 0, y0 = 0, cell = 0;
    int64_t rows = 0, cols = 0;
};

/// The colour bar, corners inclusive; its top row is vmax, its bottom row vmin.
struct BarPlacement {
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

struct RenderedHeatmap {
    Drawing drawing;
    std::vector<PanelPlacement> panels;
    BarPlacement bar;
};

/// Lays the figure out and draws it. Cells are square, 1 to 48 pixels, sized so that a single panel
/// spans about 560 pixels (a grid panel about 1000 / columns).
RenderedHeatmap render_heatmap(const HeatmapFigure& figure);

/// The longest label drawn, in code points (characters, not bytes).
inline constexpr std::size_t kMaxLabelChars = 14;
/// A token as its label shows it: unchanged up to kMaxLabelChars code points; a longer one keeps its first
/// kMaxLabelChars - 1 and ends in "~". Never cuts inside a character, never drops or replaces one.
std::string fit_label(const std::string& token);
/// The glyphs the label of `token` is drawn with (fit_label, then the label font).
std::vector<TextGlyph> label_glyphs(const std::string& token);

}  // namespace vkattn::cli
