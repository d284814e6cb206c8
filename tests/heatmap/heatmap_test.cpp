// The heatmap renderer without the command line or a device: the PNG it writes is decoded again with
// cairo, and in every heatmap row the brightest pixel must lie in the cell of that row's largest weight.
#include <cairo.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "draw/cairo_handles.hpp"
#include "draw/heatmap_colormap.hpp"
#include "draw/heatmap_render.hpp"
#include "draw/picture_file.hpp"
#include "draw/utf8.hpp"
#include "vkattn/error.hpp"

namespace vkattn::cli {
namespace {

struct Image {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;
    Rgb at(int x, int y) const {
        const std::size_t i = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 3;
        return {rgb[i], rgb[i + 1], rgb[i + 2]};
    }
};

/// The PNG at `path` decoded by cairo's PNG reader into 8-bit RGB.
Image read_png(const std::string& path) {
    const CairoSurface s(cairo_image_surface_create_from_png(path.c_str()));
    if (cairo_surface_status(s.get()) != CAIRO_STATUS_SUCCESS) {
        ADD_FAILURE() << "cannot read " << path << ": " << cairo_status_to_string(cairo_surface_status(s.get()));
        return {};
    }
    const cairo_format_t format = cairo_image_surface_get_format(s.get());
    if (format != CAIRO_FORMAT_RGB24 && format != CAIRO_FORMAT_ARGB32) {
        ADD_FAILURE() << path << ": unexpected pixel format " << format;
        return {};
    }
    Image out{cairo_image_surface_get_width(s.get()), cairo_image_surface_get_height(s.get()), {}};
    const unsigned char* data = cairo_image_surface_get_data(s.get());
    const int stride = cairo_image_surface_get_stride(s.get());
    for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x) {
            uint32_t px;  // native-endian 0xAARRGGBB; the pictures are opaque, so no un-premultiplying
            std::memcpy(&px, data + static_cast<std::size_t>(y) * static_cast<std::size_t>(stride) + 4 * static_cast<std::size_t>(x), 4);
            out.rgb.push_back(static_cast<uint8_t>(px >> 16)), out.rgb.push_back(static_cast<uint8_t>(px >> 8)),
                out.rgb.push_back(static_cast<uint8_t>(px));
        }
    return out;
}

/// "r,g,b", to compare colours with readable failures.
std::string str(Rgb c) { return std::to_string(c.r) + "," + std::to_string(c.g) + "," + std::to_string(c.b); }

/// prefix followed by the number (appended: GCC 12 warns falsely about "literal" + std::to_string(...)).
std::string numbered(std::string prefix, int64_t n) {
    prefix += std::to_string(n);
    return prefix;
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / (numbered("vkattn_heatmap_test_", ::getpid()) + "_" + name)).string();
}

/// The largest value of row r minus the second largest.
double row_gap(const std::vector<float>& m, int64_t cols, int64_t r) {
    std::vector<float> row(m.begin() + r * cols, m.begin() + (r + 1) * cols);
    std::sort(row.rbegin(), row.rend());
    return cols > 1 ? row[0] - row[1] : 1.0;
}

/// Softmax rows of noise with one spike each (random place and height). A row is drawn again until its
/// largest weight beats the second largest by 0.02, so that the brightest colour is unambiguous after
/// the 256-level quantisation of the colour scale.
AttentionWeights spiky_weights(int64_t B, int64_t H, int64_t Lq, int64_t Lk, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_int_distribution<int64_t> pos(0, Lk - 1);
    std::uniform_real_distribution<float> spike(1.5f, 4.0f);
    std::vector<float> v(static_cast<std::size_t>(B * H * Lq * Lk));
    for (int64_t row = 0; row < B * H * Lq; ++row) {
        float* x = v.data() + row * Lk;
        for (int64_t j = 0; j < Lk; ++j) x[j] = normal(rng);
        x[pos(rng)] += spike(rng);
        const float mx = *std::max_element(x, x + Lk);
        double sum = 0;
        for (int64_t j = 0; j < Lk; ++j) sum += x[j] = std::exp(x[j] - mx);
        for (int64_t j = 0; j < Lk; ++j) x[j] = static_cast<float>(x[j] / sum);
        if (row_gap(v, Lk, row) < 0.02) --row;  // draw this row again
    }
    return make_weights(std::move(v), {B, H, Lq, Lk});
}

/// For every pixel row of the panel, the brightest pixel (the first, on a tie of colours) must be in
/// the column of the row's largest value.
void expect_brightest_is_max(const Image& img, const PanelPlacement& p, const Matrix& m, const std::string& what) {
    ASSERT_EQ(p.rows, m.rows) << what;
    ASSERT_EQ(p.cols, m.cols) << what;
    ASSERT_LE(p.x0 + p.cols * p.cell, img.width) << what;
    ASSERT_LE(p.y0 + p.rows * p.cell, img.height) << what;
    int checked = 0;
    for (int64_t r = 0; r < m.rows; ++r) {
        const int64_t want = std::max_element(m.values.begin() + r * m.cols, m.values.begin() + (r + 1) * m.cols) -
                             (m.values.begin() + r * m.cols);
        for (int y = p.y0 + static_cast<int>(r) * p.cell; y < p.y0 + static_cast<int>(r + 1) * p.cell; ++y) {
            int best_x = p.x0;
            for (int x = p.x0; x < p.x0 + static_cast<int>(p.cols) * p.cell; ++x)
                if (luminance(img.at(x, y)) > luminance(img.at(best_x, y))) best_x = x;
            const int64_t got = (best_x - p.x0) / p.cell;
            EXPECT_EQ(got, want) << what << ": pixel row " << y << " (cell row " << r << ") is brightest at x " << best_x;
            ++checked;
        }
    }
    EXPECT_EQ(checked, p.rows * p.cell) << what;
}

TEST(HeatmapColormap, EndsAtViridisAndBrightensMonotonically) {
    const Rgb lo = viridis(0), hi = viridis(1);
    EXPECT_EQ(str(lo), "68,1,84");
    EXPECT_EQ(str(hi), "253,231,37");
    for (int k = 1; k < 256; ++k)
        EXPECT_GT(luminance(viridis(k / 255.0)), luminance(viridis((k - 1) / 255.0))) << "level " << k;
    EXPECT_EQ(str(viridis(std::nan(""))), str(lo));
    EXPECT_EQ(str(viridis(-3)), str(lo));
    EXPECT_EQ(str(viridis(7)), str(hi));
}

TEST(HeatmapData, BinsAndAveragePooling) {
    EXPECT_EQ(make_bins(10, 4).starts, (std::vector<int64_t>{0, 2, 5, 7, 10}));
    EXPECT_EQ(make_bins(3, 0).starts, (std::vector<int64_t>{0, 1, 2, 3}));
    EXPECT_EQ(make_bins(3, 8).starts, (std::vector<int64_t>{0, 1, 2, 3}));
    Matrix m{4, 6, {}};
    for (int i = 0; i < 24; ++i) m.values.push_back(static_cast<float>(i));
    const Matrix p = average_pool(m, make_bins(4, 2), make_bins(6, 3));
    ASSERT_EQ(p.rows, 2);
    ASSERT_EQ(p.cols, 3);
    EXPECT_FLOAT_EQ(p.at(0, 0), (0 + 1 + 6 + 7) / 4.0f);
    EXPECT_FLOAT_EQ(p.at(1, 2), (16 + 17 + 22 + 23) / 4.0f);
}

TEST(HeatmapData, MeanOverHeadsAndHeadMatrix) {
    const AttentionWeights w = make_weights({1, 2, 3, 4, 10, 20, 30, 40, 5, 5, 5, 5, 7, 7, 7, 7}, {2, 2, 2, 2});
    const Matrix h = head_matrix(w, 1, 1);
    EXPECT_EQ(h.values, (std::vector<float>{7, 7, 7, 7}));
    const Matrix m = mean_over_heads(w, 0);
    EXPECT_EQ(m.values, (std::vector<float>{5.5f, 11, 16.5f, 22}));
}

TEST(HeatmapData, ReadTokensLines) {
    const std::string path = temp_path("tokens.txt");
    std::ofstream(path, std::ios::binary) << "the\r\ncat\n\nsat\n";
    EXPECT_EQ(read_tokens(path, "--query-tokens"), (std::vector<std::string>{"the", "cat", "", "sat"}));
    std::ofstream(path, std::ios::binary) << "no newline";
    EXPECT_EQ(read_tokens(path, "--query-tokens"), (std::vector<std::string>{"no newline"}));
    std::filesystem::remove(path);
}

TEST(HeatmapRender, SingleHeadBrightestPixelIsTheRowMaximum) {
    const AttentionWeights w = spiky_weights(2, 3, 7, 13, 11);
    HeatmapRequest req;
    req.batch = 1, req.head = 2, req.max_cells = 0;
    const std::string path = temp_path("single.png");
    const RenderedHeatmap r = write_heatmap(w, req, path);
    const Image img = read_png(path);
    EXPECT_EQ(img.width, r.drawing.width());
    EXPECT_EQ(img.height, r.drawing.height());
    ASSERT_EQ(r.panels.size(), 1u);
    EXPECT_EQ(r.panels[0].cell, 560 / 13);  // a single panel spans about 560 pixels
    expect_brightest_is_max(img, r.panels[0], head_matrix(w, 1, 2), "head 2");
    std::filesystem::remove(path);
}

TEST(HeatmapRender, GridBrightestPixelIsTheRowMaximumInEveryHead) {
    const AttentionWeights w = spiky_weights(1, 5, 16, 16, 12);
    HeatmapRequest req;
    req.mode = HeatmapMode::grid, req.max_cells = 0;
    const std::string path = temp_path("grid.png");
    const RenderedHeatmap r = write_heatmap(w, req, path);
    const Image img = read_png(path);
    EXPECT_EQ(img.width, r.drawing.width());
    EXPECT_EQ(img.height, r.drawing.height());
    ASSERT_EQ(r.panels.size(), 5u);
    EXPECT_EQ(r.panels[1].y0, r.panels[0].y0);  // 3 columns: heads 0-2 side by side, 3-4 below
    EXPECT_GT(r.panels[3].y0, r.panels[0].y0);
    EXPECT_EQ(r.panels[3].x0, r.panels[0].x0);
    for (int64_t h = 0; h < 5; ++h)
        expect_brightest_is_max(img, r.panels[static_cast<std::size_t>(h)], head_matrix(w, 0, h), numbered("head ", h));
    std::filesystem::remove(path);
}

TEST(HeatmapRender, MeanBrightestPixelIsTheRowMaximumOfTheMean) {
    // Heads that disagree: the mean's maximum is not any one head's. Rows are redrawn (deterministically)
    // until the mean has a clear maximum in every row.
    AttentionWeights w;
    for (uint64_t seed = 20;; ++seed) {
        w = spiky_weights(1, 4, 12, 9, seed);
        const Matrix m = mean_over_heads(w, 0);
        bool clear = true;
        for (int64_t r = 0; r < m.rows; ++r) clear = clear && row_gap(m.values, m.cols, r) > 0.02;
        if (clear) break;
        ASSERT_LT(seed, 200u) << "no seed gives clear maxima";
    }
    HeatmapRequest req;
    req.mode = HeatmapMode::mean, req.max_cells = 0;
    const std::string path = temp_path("mean.png");
    const RenderedHeatmap r = write_heatmap(w, req, path);
    const Image img = read_png(path);
    EXPECT_EQ(img.width, r.drawing.width());
    EXPECT_EQ(img.height, r.drawing.height());
    ASSERT_EQ(r.panels.size(), 1u);
    expect_brightest_is_max(img, r.panels[0], mean_over_heads(w, 0), "mean");
    std::filesystem::remove(path);
}

TEST(HeatmapRender, ColourBarRunsFromVmaxAtTheTopToZeroAtTheBottom) {
    const AttentionWeights w = spiky_weights(1, 1, 5, 5, 3);
    const HeatmapFigure f = build_figure(w, {});
    EXPECT_EQ(f.vmin, 0.0);
    EXPECT_DOUBLE_EQ(f.vmax, *std::max_element(w.values.begin(), w.values.end()));
    const RenderedHeatmap r = render_heatmap(f);
    const std::string path = temp_path("bar.png");
    write_picture(r.drawing, path);
    const Image img = read_png(path);
    const BarPlacement& b = r.bar;
    EXPECT_GE(b.y1 - b.y0 + 1, 160);
    const int x = (b.x0 + b.x1) / 2;
    for (int y = b.y0 + 1; y <= b.y1; ++y) EXPECT_LE(luminance(img.at(x, y)), luminance(img.at(x, y - 1))) << "bar row " << y;
    EXPECT_EQ(str(img.at(x, b.y0)), str(viridis(1)));
    EXPECT_EQ(str(img.at(x, b.y1)), str(viridis(0)));
    // The largest weight's cell has the top colour.
    const Matrix m = head_matrix(w, 0, 0);
    const int64_t k = std::max_element(m.values.begin(), m.values.end()) - m.values.begin();
    const PanelPlacement& p = r.panels[0];
    const Rgb top = img.at(p.x0 + static_cast<int>(k % 5) * p.cell + 1, p.y0 + static_cast<int>(k / 5) * p.cell + 1);
    EXPECT_EQ(str(top), str(viridis(1)));
    std::filesystem::remove(path);
}

TEST(HeatmapRender, LongSequencesAreAveragedAndLabelsThinned) {
    const int64_t L = 300;
    const AttentionWeights w = spiky_weights(1, 1, L, L, 5);
    HeatmapRequest req;
    req.max_cells = 64;
    for (int64_t i = 0; i < L; ++i) req.query_tokens.push_back(numbered("q", i)), req.key_tokens.push_back(numbered("k", i));
    const HeatmapFigure f = build_figure(w, req);
    ASSERT_EQ(f.panels[0].cells.rows, 64);
    ASSERT_EQ(f.panels[0].cells.cols, 64);
    ASSERT_EQ(f.row_labels.size(), 64u);
    for (std::size_t i = 0; i < 64; ++i) EXPECT_EQ(f.row_labels[i], numbered("q", f.row_bins.starts[i]));
    EXPECT_EQ(f.col_labels[63], numbered("k", f.col_bins.starts[63]));
    EXPECT_NE(f.subtitle.find("averaged to 64 x 64 cells"), std::string::npos) << f.subtitle;
    // Each drawn cell has the colour of its block's mean.
    const Matrix m = head_matrix(w, 0, 0);
    const Matrix pooled = average_pool(m, f.row_bins, f.col_bins);
    const RenderedHeatmap r = render_heatmap(f);
    const std::string path = temp_path("pooled.png");
    write_picture(r.drawing, path);
    const Image img = read_png(path);
    const PanelPlacement& p = r.panels[0];
    EXPECT_EQ(p.rows, 64);
    for (int64_t i = 0; i < 64; i += 7)
        for (int64_t j = 0; j < 64; j += 5) {
            const Rgb want = viridis((pooled.at(i, j) - f.vmin) / (f.vmax - f.vmin));
            const Rgb got = img.at(p.x0 + static_cast<int>(j) * p.cell, p.y0 + static_cast<int>(i) * p.cell);
            EXPECT_EQ(str(got), str(want)) << "cell " << i << "," << j;
        }
    std::filesystem::remove(path);
}

/// The Error a call throws, or a failure when it throws nothing.
template <typename F>
Error error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no error thrown";
    return Error(ErrorCode::vulkan_error, "");
}

TEST(HeatmapErrors, MessagesNameTheArgument) {
    const AttentionWeights w = spiky_weights(2, 4, 10, 6, 1);
    HeatmapRequest req;
    req.head = 4;
    Error e = error_of([&] { build_figure(w, req); });
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_EQ(e.message(), "--head: 4 is out of range; the weights have H = 4 (valid: 0..3)");

    req = {};
    req.batch = 2;
    EXPECT_EQ(error_of([&] { build_figure(w, req); }).message(), "--batch: 2 is out of range; the weights have B = 2 (valid: 0..1)");

    req = {};
    req.query_tokens.assign(9, "x");
    EXPECT_EQ(error_of([&] { build_figure(w, req); }).message(),
              "--query-tokens: 9 tokens (lines), but the weights have Lq = 10; give one token per line");
    req = {};
    req.key_tokens.assign(7, "x");
    EXPECT_EQ(error_of([&] { build_figure(w, req); }).message(),
              "--key-tokens: 7 tokens (lines), but the weights have Lk = 6; give one token per line");

    req = {};
    req.vmax = 0.0;
    EXPECT_NE(error_of([&] { build_figure(w, req); }).message().find("--vmax:"), std::string::npos);
    req = {};
    req.max_cells = -1;
    EXPECT_NE(error_of([&] { build_figure(w, req); }).message().find("--max-cells:"), std::string::npos);

    e = error_of([&] { read_tokens("/nonexistent/keys.txt", "--key-tokens"); });
    EXPECT_EQ(e.code(), ErrorCode::io_error);
    EXPECT_EQ(e.message(), "--key-tokens: cannot open '/nonexistent/keys.txt'");

    e = error_of([&] { write_heatmap(w, {}, "/nonexistent/dir/out.png"); });
    EXPECT_EQ(e.code(), ErrorCode::io_error);
    EXPECT_NE(e.message().find("/nonexistent/dir/out.png"), std::string::npos) << e.message();
}

TEST(HeatmapErrors, WeightsMustBeRank4FiniteAndComplete) {
    EXPECT_EQ(error_of([] { make_weights({1, 2, 3}, {1, 3}); }).message(), "weights: expected rank 4 [B, H, Lq, Lk], got shape [1, 3]");
    EXPECT_EQ(error_of([] { make_weights({1, 2, 3}, {1, 1, 2, 2}); }).message(), "weights: 3 values for shape [1, 1, 2, 2]");
    EXPECT_EQ(error_of([] { make_weights({}, {1, 0, 2, 2}); }).message(), "weights: shape [1, 0, 2, 2] has an empty dimension");
    EXPECT_EQ(error_of([] { make_weights({0, 0, 0, 0, 0, NAN}, {1, 2, 1, 3}); }).message(), "weights: non-finite value at [0, 1, 0, 2]");
    AttentionWeights by_hand{1, 2, 3, 3, std::vector<float>(9)};  // one head's worth of values for two heads
    EXPECT_EQ(error_of([&] { build_figure(by_hand, {}); }).message(),
              "weights: 9 values for shape [1, 2, 3, 3] (build them with make_weights)");
}

}  // namespace
}  // namespace vkattn::cli
