#pragma once
// What `vkattn heatmap` draws, decided from the weights and the request: the panels (one head, every head
// in a grid, or the mean over heads of one batch), the pooling, the axis labels, the title and the colour
// range; and the whole path from weights to a PNG or SVG file for any attention kind that returns weights.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "draw/heatmap_data.hpp"

namespace vkattn::cli {

struct RenderedHeatmap;

enum class HeatmapMode { head, grid, mean };

struct HeatmapRequest {
    int64_t batch = 0;
    HeatmapMode mode = HeatmapMode::head;
    int64_t head = 0;                              ///< the head shown in head mode
    std::vector<std::string> query_tokens;         ///< one per query (Lq) or empty: indices
    std::vector<std::string> key_tokens;           ///< one per key (Lk) or empty: indices
    std::string title;                             ///< empty: "<source> weights"
    std::string source = "attention";              ///< names the attention kind in the default title
    int64_t max_cells = 256;                       ///< average-pool each axis to at most this many cells; 0: never
    std::optional<double> vmax;                    ///< top of the colour scale; default: the largest value shown
    std::string query_option = "--query-tokens";   ///< argument names used in error messages
    std::string key_option = "--key-tokens";
    std::string out_option = "--out";
};

struct HeatmapPanel {
    std::string caption;  ///< "head 3", "mean of 8 heads"
    Matrix cells;         ///< pooled values, one per cell
};

struct HeatmapFigure {
    std::string title, subtitle;
    std::vector<HeatmapPanel> panels;  ///< all with the same cell counts
    Bins row_bins, col_bins;           ///< which queries / keys each cell covers
    std::vector<std::string> row_labels, col_labels;  ///< one per cell: the token (or index) a cell starts at
    std::string row_axis = "query", col_axis = "key";
    double vmin = 0, vmax = 1;         ///< the colour scale, vmin < vmax
};

/// Checks the request against weights of shape [B, H, Lq, Lk] (batch and head in range, token counts
/// equal to Lq and Lk, tokens and title valid UTF-8, max_cells >= 0). Throws Error(invalid_argument)
/// naming the argument.
void check_request(const HeatmapRequest& request, const Shape& weights_shape);

/// Checks the request against the weights (batch and head in range, token counts equal to Lq and Lk,
/// max_cells and vmax sane) and builds the figure. Throws Error(invalid_argument) naming the argument.
HeatmapFigure build_figure(const AttentionWeights& weights, const HeatmapRequest& request);

/// build_figure + render + write: the picture of `weights` [B, H, Lq, Lk] as PNG or SVG, chosen by the
/// extension of `out_path` (draw/picture_file.hpp). Returns the rendering (with where every panel and the
/// colour bar went). Throws Error(invalid_argument) for another extension and Error(io_error) naming
/// `out_path` when it cannot be written.
RenderedHeatmap write_heatmap(const AttentionWeights& weights, const HeatmapRequest& request, const std::string& out_path);
/// The same from a device tensor [B, H, Lq, Lk] (e.g. AttentionResult::weights).
RenderedHeatmap write_heatmap(const Tensor& weights, const HeatmapRequest& request, const std::string& out_path);

}  // namespace vkattn::cli
