#pragma once
// Drawing a HeatmapFigure: each panel's cells coloured by viridis, token labels on both axes (thinned
// so that they never overlap), axis names, panel captions, a title, and a colour bar with tick labels.
#include <cstdint>
#include <vector>

#include "draw/heatmap_figure.hpp"
#include "draw/plot_canvas.hpp"

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
    Canvas canvas;
    std::vector<PanelPlacement> panels;
    BarPlacement bar;
};

/// Lays the figure out and draws it. Cells are square, 1 to 48 pixels, sized so that a single panel
/// spans about 560 pixels (a grid panel about 1000 / columns).
RenderedHeatmap render_heatmap(const HeatmapFigure& figure);

}  // namespace vkattn::cli
