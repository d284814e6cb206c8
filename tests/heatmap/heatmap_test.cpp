// The heatmap renderer without the command line or a device: the PNG it writes is decoded again with
// cairo, and in every heatmap row the brightest pixel must lie in the cell of that row's largest weight.
// Also: UTF-8 labels are drawn as written (every code point with its own glyph of DejaVu Sans, accents
// visible where they belong), the SVG output, and the picture-format and label errors.
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

// ---- UTF-8 labels -------------------------------------------------------------------------------

/// The tokens of the English -> French example; each must be drawn with one real glyph per character.
const std::vector<std::string> kAccented = {"économie", "européenne", "naïve", "Straße", "–", "l'", "façade", "Œuvre"};

TEST(HeatmapLabels, Utf8DecodingAndCutting) {
    EXPECT_EQ(decode_utf8("é–ß"), (std::vector<char32_t>{U'é', U'–', U'ß'}));
    EXPECT_EQ(utf8_length("économie"), 8u);
    EXPECT_EQ(utf8_prefix("économie", 1), "é");
    EXPECT_EQ(utf8_prefix("économie", 20), "économie");
    EXPECT_EQ(first_invalid_utf8("ok é"), std::nullopt);
    EXPECT_EQ(first_invalid_utf8("caf\xe9!"), std::optional<std::size_t>(3));   // Latin-1 é
    EXPECT_EQ(first_invalid_utf8("\xc3"), std::optional<std::size_t>(0));       // cut sequence
    EXPECT_EQ(first_invalid_utf8("a\xc0\xaf"), std::optional<std::size_t>(1));  // overlong '/'
    EXPECT_EQ(first_invalid_utf8("\xed\xa0\x80"), std::optional<std::size_t>(0));  // a surrogate
    EXPECT_EQ(error_of([] { decode_utf8("x\xff", "label"); }).message(), "label: not valid UTF-8 at byte 1");
}

TEST(HeatmapLabels, LongLabelsAreCutAtCharacterBoundaries) {
    EXPECT_EQ(fit_label("économie"), "économie");
    EXPECT_EQ(fit_label("abcdefghijklmn"), "abcdefghijklmn");  // 14 characters: kept
    EXPECT_EQ(fit_label("abcdefghijklmno"), "abcdefghijklm~");
    // 14 characters but 20 bytes: kept whole (the limit counts characters, not bytes).
    const std::string accented = "éééééééééééééé";
    ASSERT_EQ(accented.size(), 28u);
    EXPECT_EQ(fit_label(accented), accented);
    // Longer: 13 characters and "~", each é whole.
    const std::string cut = fit_label("économie-européenne");
    EXPECT_EQ(cut, "économie-euro~");
    EXPECT_EQ(first_invalid_utf8(cut), std::nullopt);
    EXPECT_EQ(utf8_length(cut), kMaxLabelChars);
    EXPECT_EQ(fit_label("ßßßßßßßßßßßßßßßß"), "ßßßßßßßßßßßßß~");
}

// (a) The glyphs each label is drawn with: one per character of the label, the same characters (nothing
// dropped, nothing replaced by '?' or U+FFFD) and every one a real glyph of the font (not index 0,
// .notdef). Different characters get different glyphs, so "é" is not drawn as "e".
TEST(HeatmapLabels, EveryCharacterHasItsOwnRealGlyph) {
    std::map<char32_t, unsigned long> glyph_of;
    for (const std::string& label : kAccented) {
        const std::vector<TextGlyph> glyphs = label_glyphs(label);
        const std::vector<char32_t> want = decode_utf8(label);
        ASSERT_EQ(glyphs.size(), want.size()) << label;
        for (std::size_t i = 0; i < glyphs.size(); ++i) {
            EXPECT_EQ(glyphs[i].code_point, want[i]) << label << ": character " << i << " is drawn as another";
            EXPECT_NE(glyphs[i].code_point, U'\uFFFD') << label;
            EXPECT_NE(glyphs[i].index, 0u) << label << ": character " << i << " (U+" << std::hex
                                           << static_cast<uint32_t>(want[i]) << ") has no glyph in " << kFontFamily;
            const auto [it, fresh] = glyph_of.emplace(glyphs[i].code_point, glyphs[i].index);
            EXPECT_EQ(it->second, glyphs[i].index) << label << ": one character, two glyphs";
        }
    }
    std::map<unsigned long, char32_t> char_of;
    for (const auto& [cp, index] : glyph_of) {
        const auto [it, fresh] = char_of.emplace(index, cp);
        EXPECT_TRUE(fresh) << "U+" << std::hex << static_cast<uint32_t>(cp) << " and U+" << static_cast<uint32_t>(it->second)
                           << " share glyph " << std::dec << index;
    }
    EXPECT_NE(label_glyphs("é")[0].index, label_glyphs("e")[0].index);
    EXPECT_NE(label_glyphs("é")[0].index, label_glyphs("?")[0].index);
}

/// The ink (pixels darker than luminance 160) inside x0..x1, y0..y1 (inclusive): its bounding box, or
/// an empty box (x0 > x1) when there is none.
struct Box {
    int x0 = 1, y0 = 1, x1 = 0, y1 = 0;
    bool empty() const { return x0 > x1; }
};
Box ink(const Image& img, int x0, int y0, int x1, int y1) {
    Box b{INT32_MAX, INT32_MAX, INT32_MIN, INT32_MIN};
    for (int y = std::max(0, y0); y <= std::min(y1, img.height - 1); ++y)
        for (int x = std::max(0, x0); x <= std::min(x1, img.width - 1); ++x)
            if (luminance(img.at(x, y)) < 160)
                b.x0 = std::min(b.x0, x), b.y0 = std::min(b.y0, y), b.x1 = std::max(b.x1, x), b.y1 = std::max(b.y1, y);
    return b.x0 > b.x1 ? Box{} : b;
}

/// A 3 x 3 heatmap whose first query and first key are `first` ("économie" or "economie").
struct LabelledPicture {
    RenderedHeatmap r;
    Image img;
};
LabelledPicture labelled(const std::string& first, const std::string& name) {
    const AttentionWeights w = make_weights({0.7f, 0.2f, 0.1f, 0.1f, 0.8f, 0.1f, 0.2f, 0.2f, 0.6f}, {1, 1, 3, 3});
    HeatmapRequest req;
    req.query_tokens = {first, "européenne", "l'"};
    req.key_tokens = {first, "européenne", "l'"};
    const std::string path = temp_path(name);
    LabelledPicture out{write_heatmap(w, req, path), read_png(path)};
    std::filesystem::remove(path);
    return out;
}

// (b) The picture itself: "économie" and "economie" give pictures that differ only where the first letter
// of the two labels is, and there "économie" has ink above the "e" (the accent), on the row label (to the
// left of the cells) and on the rotated column label (below them). The label region is not blank: the
// ink spans the whole label.
TEST(HeatmapLabels, AccentsAreDrawnWhereTheLabelIs) {
    // é and e have the same advance in DejaVu Sans, so both pictures have the same layout.
    ASSERT_DOUBLE_EQ(text_width("économie", 14), text_width("economie", 14));
    const LabelledPicture a = labelled("économie", "accent.png"), b = labelled("economie", "plain.png");
    ASSERT_EQ(a.img.width, b.img.width);
    ASSERT_EQ(a.img.height, b.img.height);
    ASSERT_EQ(a.r.panels[0].x0, b.r.panels[0].x0);
    ASSERT_EQ(a.r.panels[0].y0, b.r.panels[0].y0);
    const PanelPlacement& p = a.r.panels[0];
    ASSERT_GE(p.cell, 18) << "large labels expected";
    const double w_all = text_width("économie", 14), w_rest = text_width("conomie", 14);
    const int cells_y1 = p.y0 + 3 * p.cell - 1;

    // Where the row label "économie" is: right-aligned 8 pixels left of the cells, in row 0's band; its
    // first letter spans [end - w_all, end - w_rest]. The column label reads upwards from below the cells
    // in column 0's band, its first letter lowest.
    const int row_end = p.x0 - 8, row_first_x0 = static_cast<int>(row_end - w_all) - 1,
              row_first_x1 = static_cast<int>(std::ceil(row_end - w_rest)) + 1;
    const int col_end = cells_y1 + 8, col_first_y0 = static_cast<int>(col_end + w_rest) - 1,
              col_first_y1 = static_cast<int>(std::ceil(col_end + w_all)) + 1;

    int differing = 0;
    for (int y = 0; y < a.img.height; ++y)
        for (int x = 0; x < a.img.width; ++x) {
            if (str(a.img.at(x, y)) == str(b.img.at(x, y))) continue;
            ++differing;
            const bool in_row_label = x >= row_first_x0 && x <= row_first_x1 && y >= p.y0 && y < p.y0 + p.cell;
            const bool in_col_label = y >= col_first_y0 && y <= col_first_y1 && x >= p.x0 && x < p.x0 + p.cell;
            EXPECT_TRUE(in_row_label || in_col_label) << "pixel " << x << "," << y << " differs outside the first letters";
        }
    EXPECT_GT(differing, 10) << "\"économie\" and \"economie\" are drawn alike";

    // Row label: ink over the whole label width, and above the "e" of "economie" where the accent is.
    const Box row = ink(a.img, 0, p.y0, p.x0 - 2, p.y0 + p.cell - 1);
    ASSERT_FALSE(row.empty()) << "no row label drawn";
    EXPECT_NEAR(row.x0, row_end - w_all, 2.5) << "the row label does not start where \"économie\" would";
    EXPECT_NEAR(row.x1, row_end, 2.5);
    const Box e_row = ink(b.img, row_first_x0, p.y0, row_first_x1, p.y0 + p.cell - 1);
    const Box accent_row = ink(a.img, row_first_x0, p.y0, row_first_x1, e_row.y0 - 2);
    ASSERT_FALSE(e_row.empty());
    EXPECT_FALSE(accent_row.empty()) << "no accent above the e of the row label";

    // Column label: ink along the whole label, and to the left of the "e" (above it, the text turned).
    const Box col = ink(a.img, p.x0, cells_y1 + 2, p.x0 + p.cell - 1, a.img.height - 1);
    ASSERT_FALSE(col.empty()) << "no column label drawn";
    EXPECT_NEAR(col.y0, col_end, 2.5);
    EXPECT_NEAR(col.y1, col_end + w_all, 2.5) << "the column label does not end where \"économie\" would";
    const Box e_col = ink(b.img, p.x0, col_first_y0, p.x0 + p.cell - 1, col_first_y1);
    const Box accent_col = ink(a.img, p.x0, col_first_y0, e_col.x0 - 2, col_first_y1);
    ASSERT_FALSE(e_col.empty());
    EXPECT_FALSE(accent_col.empty()) << "no accent beside the e of the column label";
}

TEST(HeatmapLabels, TokensAndTitleMustBeUtf8) {
    const AttentionWeights w = spiky_weights(1, 1, 2, 2, 4);
    HeatmapRequest req;
    req.query_tokens = {"ok", "caf\xe9"};
    EXPECT_EQ(error_of([&] { build_figure(w, req); }).message(),
              "--query-tokens: line 2 is not valid UTF-8 (byte 4 of the line); labels are drawn as UTF-8 text, save the file as UTF-8");
    req = {};
    req.title = "\xff";
    EXPECT_EQ(error_of([&] { build_figure(w, req); }).message(), "--title: not valid UTF-8 (byte 1); the title is drawn as UTF-8 text");
}

// ---- SVG and the output format -----------------------------------------------------------------------

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(HeatmapOutput, TheExtensionChoosesPngOrSvg) {
    const AttentionWeights w = spiky_weights(1, 2, 4, 5, 8);
    HeatmapRequest req;
    req.key_tokens = {"l'", "économie", "européenne", "–", "Straße"};
    const std::string png = temp_path("out.PNG"), svg = temp_path("out.svg");
    const RenderedHeatmap a = write_heatmap(w, req, png);
    const RenderedHeatmap b = write_heatmap(w, req, svg);
    EXPECT_EQ(slurp(png).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    const std::string doc = slurp(svg);
    EXPECT_EQ(doc.rfind("<?xml", 0), 0u) << doc.substr(0, 80);
    EXPECT_NE(doc.find("<svg"), std::string::npos);
    const std::string size = "width=\"" + std::to_string(b.drawing.width()) + "px\" height=\"" + std::to_string(b.drawing.height()) + "px\"";
    EXPECT_NE(doc.find(size), std::string::npos) << "no " << size << " in " << doc.substr(0, 300);
    EXPECT_NE(doc.find("</svg>"), std::string::npos) << "the SVG is cut short";
    EXPECT_NE(doc.find("<symbol"), std::string::npos) << "no glyphs in the SVG";
    EXPECT_EQ(a.drawing.width(), b.drawing.width());
    std::filesystem::remove(png), std::filesystem::remove(svg);

    EXPECT_EQ(picture_format("a/b.svg"), PictureFormat::svg);
    EXPECT_EQ(picture_format("x.Png"), PictureFormat::png);
    Error e = error_of([&] { write_heatmap(w, req, "plot.jpg"); });
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_EQ(e.message(), "--out: 'plot.jpg' has the extension .jpg; the extension chooses the format: .png or .svg");
    EXPECT_EQ(error_of([] { picture_format("dir.svg/plot", "--out"); }).message(),
              "--out: 'dir.svg/plot' has no extension; the extension chooses the format: .png or .svg");
    EXPECT_FALSE(std::filesystem::exists("plot.jpg"));
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
