#include "draw/heatmap_figure.hpp"

#include <algorithm>
#include <cmath>

#include "draw/heatmap_render.hpp"
#include "draw/picture_file.hpp"
#include "draw/utf8.hpp"
#include "vkattn/error.hpp"

namespace vkattn::cli {
namespace {

[[noreturn]] void bad(const std::string& message) { throw Error(ErrorCode::invalid_argument, message); }

std::string count_text(int64_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); }

void check_tokens(const std::vector<std::string>& tokens, int64_t length, const std::string& option, const char* axis) {
    for (std::size_t i = 0; i < tokens.size(); ++i)
        if (const auto at = first_invalid_utf8(tokens[i]))
            bad(option + ": line " + std::to_string(i + 1) + " is not valid UTF-8 (byte " + std::to_string(*at + 1) +
                " of the line); labels are drawn as UTF-8 text, save the file as UTF-8");
    if (tokens.empty() || static_cast<int64_t>(tokens.size()) == length) return;
    bad(option + ": " + count_text(static_cast<int64_t>(tokens.size()), "token") + " (lines), but the weights have " + axis +
        " = " + std::to_string(length) + "; give one token per line");
}

/// The label of each cell: the token (or the index) of the first position it covers.
std::vector<std::string> cell_labels(const Bins& bins, const std::vector<std::string>& tokens) {
    std::vector<std::string> labels;
    for (int64_t i = 0; i < bins.count(); ++i) {
        const int64_t first = bins.starts[static_cast<std::size_t>(i)];
        labels.push_back(tokens.empty() ? std::to_string(first) : tokens[static_cast<std::size_t>(first)]);
    }
    return labels;
}

}  // namespace

void check_request(const HeatmapRequest& r, const Shape& shape) {
    if (shape.size() != 4) bad("weights: expected rank 4 [B, H, Lq, Lk], got shape " + to_string(shape));
    const int64_t B = shape[0], H = shape[1], Lq = shape[2], Lk = shape[3];
    if (r.batch < 0 || r.batch >= B)
        bad("--batch: " + std::to_string(r.batch) + " is out of range; the weights have B = " + std::to_string(B) +
            " (valid: 0.." + std::to_string(B - 1) + ")");
    if (r.mode == HeatmapMode::head && (r.head < 0 || r.head >= H))
        bad("--head: " + std::to_string(r.head) + " is out of range; the weights have H = " + std::to_string(H) +
            " (valid: 0.." + std::to_string(H - 1) + ")");
    if (r.max_cells < 0) bad("--max-cells: " + std::to_string(r.max_cells) + " must be >= 0 (0: no downsampling)");
    check_tokens(r.query_tokens, Lq, r.query_option, "Lq");
    check_tokens(r.key_tokens, Lk, r.key_option, "Lk");
    if (const auto at = first_invalid_utf8(r.title))
        bad("--title: not valid UTF-8 (byte " + std::to_string(*at + 1) + "); the title is drawn as UTF-8 text");
}

HeatmapFigure build_figure(const AttentionWeights& w, const HeatmapRequest& r) {
    if (w.B <= 0 || w.H <= 0 || w.Lq <= 0 || w.Lk <= 0 || static_cast<int64_t>(w.values.size()) != w.B * w.H * w.Lq * w.Lk)
        bad("weights: " + std::to_string(w.values.size()) + " values for shape " + to_string(Shape{w.B, w.H, w.Lq, w.Lk}) +
            " (build them with make_weights)");
    check_request(r, {w.B, w.H, w.Lq, w.Lk});

    HeatmapFigure f;
    f.row_bins = make_bins(w.Lq, r.max_cells);
    f.col_bins = make_bins(w.Lk, r.max_cells);
    f.row_labels = cell_labels(f.row_bins, r.query_tokens);
    f.col_labels = cell_labels(f.col_bins, r.key_tokens);
    const auto add = [&](std::string caption, const Matrix& m) {
        f.panels.push_back({std::move(caption), average_pool(m, f.row_bins, f.col_bins)});
    };
    switch (r.mode) {
        case HeatmapMode::head: add("head " + std::to_string(r.head), head_matrix(w, r.batch, r.head)); break;
        case HeatmapMode::grid:
            for (int64_t h = 0; h < w.H; ++h) add("head " + std::to_string(h), head_matrix(w, r.batch, h));
            break;
        case HeatmapMode::mean: add("mean of " + count_text(w.H, "head"), mean_over_heads(w, r.batch)); break;
    }

    double lo = 0, hi = 0;  // the scale always includes 0: weights are probabilities
    for (const HeatmapPanel& p : f.panels)
        for (float v : p.cells.values) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
    if (r.vmax) {
        if (!std::isfinite(*r.vmax) || *r.vmax <= lo)
            bad("--vmax: " + std::to_string(*r.vmax) + " must be finite and above the smallest weight shown (" +
                std::to_string(lo) + ")");
        hi = *r.vmax;
    }
    if (hi <= lo) hi = lo + 1;  // all weights zero (every key masked): a scale of [0, 1]
    f.vmin = lo, f.vmax = hi;

    f.title = r.title.empty() ? r.source + " weights" : r.title;
    f.subtitle = "batch " + std::to_string(r.batch) + " of " + std::to_string(w.B) + ", " + count_text(w.H, "head") + ", Lq " +
                 std::to_string(w.Lq) + " x Lk " + std::to_string(w.Lk);
    if (f.row_bins.count() < w.Lq || f.col_bins.count() < w.Lk)
        f.subtitle += ", averaged to " + std::to_string(f.row_bins.count()) + " x " + std::to_string(f.col_bins.count()) + " cells";
    return f;
}

RenderedHeatmap write_heatmap(const AttentionWeights& weights, const HeatmapRequest& request, const std::string& out_path) {
    picture_format(out_path, request.out_option);  // a bad extension fails before any drawing
    RenderedHeatmap r = render_heatmap(build_figure(weights, request));
    write_picture(r.drawing, out_path, request.out_option);
    return r;
}

RenderedHeatmap write_heatmap(const Tensor& weights, const HeatmapRequest& request, const std::string& out_path) {
    return write_heatmap(download_weights(weights), request, out_path);
}

}  // namespace vkattn::cli
