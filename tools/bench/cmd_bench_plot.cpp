// `vkattn bench plot a.json ... --out plot.png|plot.svg`: prefill throughput (GFLOP/s) against the
// sequence length N, one line per device (marker) and (dtype, head dim) (colour), dashed when causal.
// Drawn with cairo (draw/drawing.hpp); the extension of --out chooses PNG or SVG.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <tuple>

#include "bench/bench_commands.hpp"
#include "bench/bench_files.hpp"
#include "cli/cli_common.hpp"
#include "draw/drawing.hpp"
#include "draw/picture_file.hpp"
#include "draw/text_font.hpp"
#include "draw/utf8.hpp"

namespace vkattn::cli {
namespace {

struct PlotArgs {
    std::vector<std::string> files;
    std::string out;
    std::string heads;
    std::string y_scale = "auto";
};

constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrid{225, 225, 225}, kGray{90, 90, 90};
constexpr Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
                            {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
constexpr Marker kMarkers[] = {Marker::circle, Marker::square, Marker::triangle, Marker::diamond, Marker::cross, Marker::plus};

struct Point {
    double n, gflops;
};
/// (dtype order, D) decides the colour; causal the dash; the file the marker.
using ColourKey = std::tuple<int, int64_t, std::string>;
using SeriesKey = std::tuple<std::size_t, ColourKey, bool>;

int dtype_order(const std::string& d) { return d == "f32" ? 0 : d == "f16" ? 1 : 2; }

std::string legend_letter(std::size_t i) { return std::string(1, static_cast<char>('A' + i % 26)); }

std::string y_label(double v) {
    char b[32];
    if (v >= 1e6) std::snprintf(b, sizeof b, "%gM", v / 1e6);
    else if (v >= 1e4) std::snprintf(b, sizeof b, "%gk", v / 1e3);
    else std::snprintf(b, sizeof b, "%g", v);
    return b;
}

std::string n_label(double n) {
    return n >= 1024 ? std::to_string(static_cast<int64_t>(n) / 1024) + "k" : std::to_string(static_cast<int64_t>(n));
}

/// Font sizes (em, pixels) of the title and of all other text.
constexpr double kTitleSize = 22, kTextSize = 15;
/// The longest device name in the legend, in characters; longer names keep 27 and end in "~".
constexpr std::size_t kMaxNameChars = 28;

int run_plot(const PlotArgs& a) {
    picture_format(a.out, "--out");  // a bad extension fails before the files are read
    std::vector<BenchFile> files;
    for (const std::string& p : a.files) files.push_back(load_bench_file(p, "plot"));
    const int64_t heads_arg = a.heads.empty() ? 0 : parse_integer(a.heads, "--heads", 1, 1 << 20);

    // Measured prefill rows, grouped by head count to pick the one plotted.
    std::map<int64_t, int> per_heads;
    const auto usable = [](const BenchFileRow& r) {
        return r.kind == "prefill" && r.status == "ok" && r.check.rfind("FAIL", 0) != 0 && std::isfinite(r.gflops) && r.gflops > 0 &&
               r.Lq > 0 && r.Lq == r.Lk;
    };
    for (const BenchFile& f : files)
        for (const BenchFileRow& r : f.rows)
            if (usable(r)) ++per_heads[r.Hq];
    int64_t heads = heads_arg;
    if (!heads)
        for (const auto& [h, count] : per_heads)
            if (!heads || count >= per_heads[heads]) heads = h;
    if (!per_heads.count(heads))
        throw UsageError("plot: no measured prefill rows" + (heads_arg ? " with H=" + std::to_string(heads_arg) : std::string()) +
                         " in the given files (run `vkattn bench --shapes prefill --json FILE`)");

    std::map<SeriesKey, std::vector<Point>> series;
    std::map<ColourKey, std::size_t> colours;
    double nmin = 1e300, nmax = 0, ymin = 1e300, ymax = 0;
    for (std::size_t fi = 0; fi < files.size(); ++fi)
        for (const BenchFileRow& r : files[fi].rows) {
            if (!usable(r) || r.Hq != heads) continue;
            const ColourKey ck{dtype_order(r.dtype), r.D, r.dtype};
            colours.emplace(ck, 0);
            series[{fi, ck, r.causal != "none"}].push_back({double(r.Lq), r.gflops});
            nmin = std::min(nmin, double(r.Lq)), nmax = std::max(nmax, double(r.Lq));
            ymin = std::min(ymin, r.gflops), ymax = std::max(ymax, r.gflops);
        }
    std::size_t next_colour = 0;
    for (auto& [key, index] : colours) index = next_colour++ % std::size(kPalette);

    const bool log_y = a.y_scale == "log" || (a.y_scale == "auto" && ymax / ymin > 20);
    double y_lo, y_hi;
    if (log_y) {
        y_lo = std::floor(std::log10(ymin)), y_hi = std::ceil(std::log10(ymax));
        if (y_hi <= y_lo) y_hi = y_lo + 1;
    } else {
        y_lo = 0, y_hi = std::ceil(ymax * 1.08 / nice_step(ymax * 1.08)) * nice_step(ymax * 1.08);
    }
    const double x_lo = std::log2(nmin) - 0.35, x_hi = std::log2(nmax) + 0.35;

    Drawing c(1400, 860, kWhite);
    const int left = 110, top = 70, right = 1000, bottom = 760;
    const auto px = [&](double n) { return left + (std::log2(n) - x_lo) / (x_hi - x_lo) * (right - left); };
    const auto py = [&](double y) {
        const double v = log_y ? std::log10(y) : y;
        return bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top);
    };

    // Grid, ticks and their labels.
    std::vector<double> yticks;
    if (log_y) {
        for (double e = y_lo; e <= y_hi + 1e-9; ++e)
            for (double m : {1.0, 2.0, 5.0})
                if (const double v = m * std::pow(10.0, e); std::log10(v) <= y_hi + 1e-9) yticks.push_back(v);
    } else {
        for (double v = 0, step = nice_step(y_hi); v <= y_hi + step * 1e-6; v += step) yticks.push_back(v);
    }
    for (double v : yticks) {
        const double y = log_y ? py(v) : py(std::max(v, 0.0));
        c.line(left, y, right, y, kGrid);
        c.line(left - 6, y, left, y, kBlack);
        const std::string t = y_label(v);
        c.text(left - 10 - text_width(t, kTextSize), y - text_height(kTextSize) / 2, t, kBlack, kTextSize);
    }
    for (double n = std::exp2(std::ceil(x_lo)); std::log2(n) <= x_hi; n *= 2) {
        const double x = px(n);
        c.line(x, top, x, bottom, kGrid);
        c.line(x, bottom, x, bottom + 6, kBlack);
        const std::string t = n_label(n);
        c.text(x - text_width(t, kTextSize) / 2, bottom + 10, t, kBlack, kTextSize);
    }
    c.line(left, top, left, bottom, kBlack, 2);
    c.line(left, bottom, right, bottom, kBlack, 2);
    c.line(left, top, right, top, kBlack);
    c.line(right, top, right, bottom, kBlack);

    const std::string title = "vkattn prefill throughput (B=1, H=" + std::to_string(heads) + ")";
    c.text((left + right - text_width(title, kTitleSize)) / 2, 20, title, kBlack, kTitleSize);
    const std::string xl = "sequence length N = Lq = Lk (log scale)";
    c.text((left + right - text_width(xl, kTextSize)) / 2, bottom + 42, xl, kBlack, kTextSize);
    const std::string yl = std::string("GFLOP/s") + (log_y ? " (log scale)" : "");
    c.text_up(18, (top + bottom + text_width(yl, kTextSize)) / 2, yl, kBlack, kTextSize);

    // The data: lines first, then markers on top.
    for (auto& [key, points] : series) {
        std::sort(points.begin(), points.end(), [](const Point& p, const Point& q) { return p.n < q.n; });
        const Rgb col = kPalette[colours[std::get<1>(key)]];
        const bool causal = std::get<2>(key);
        std::vector<std::pair<double, double>> path;
        for (const Point& p : points) path.emplace_back(px(p.n), py(p.gflops));
        c.polyline(path, col, 3, causal ? 12 : 0);
    }
    for (const auto& [key, points] : series)
        for (const Point& p : points)
            c.marker(px(p.n), py(p.gflops), kMarkers[std::get<0>(key) % std::size(kMarkers)], 5,
                     kPalette[colours[std::get<1>(key)]]);

    // Legend: devices (markers), then colours and line styles.
    int y = top;
    const int lx = right + 30;
    c.text(lx, y, "devices (marker):", kBlack, kTextSize), y += 26;
    for (std::size_t fi = 0; fi < files.size(); ++fi) {
        c.marker(lx + 12, y + 8, kMarkers[fi % std::size(kMarkers)], 6, kGray);
        std::string name = legend_letter(fi) + " " + short_device_name(files[fi].device);
        if (first_invalid_utf8(name)) name = legend_letter(fi) + " (device name not UTF-8)";
        if (utf8_length(name) > kMaxNameChars) name = utf8_prefix(name, kMaxNameChars - 1) + "~";
        c.text(lx + 30, y, name, kBlack, kTextSize), y += 24;
    }
    y += 14;
    c.text(lx, y, "dtype, head dim (colour):", kBlack, kTextSize), y += 26;
    for (const auto& [key, index] : colours) {
        c.line(lx, y + 8, lx + 24, y + 8, kPalette[index], 4);
        c.text(lx + 30, y, std::get<2>(key) + " D" + std::to_string(std::get<1>(key)), kBlack, kTextSize), y += 24;
    }
    y += 14;
    c.line(lx, y + 8, lx + 24, y + 8, kGray, 3), c.text(lx + 30, y, "not causal", kBlack, kTextSize), y += 24;
    c.line(lx, y + 8, lx + 24, y + 8, kGray, 3, 8), c.text(lx + 30, y, "causal (top-left)", kBlack, kTextSize), y += 40;
    c.text(lx, y, "f16: stored f16,", kGray, kTextSize), y += 22;
    c.text(lx, y, "computed in f32", kGray, kTextSize);

    write_picture(c, a.out, "--out");
    std::size_t points = 0;
    for (const auto& [key, p] : series) points += p.size();
    std::cout << "plot: wrote " << a.out << " (" << series.size() << " series, " << points << " points, H=" << heads
              << (log_y ? ", log y" : ", linear y") << ")\n";
    return kExitOk;
}

}  // namespace

Command add_bench_plot_command(CLI::App& bench) {
    auto a = std::make_shared<PlotArgs>();
    CLI::App* app = bench.add_subcommand("plot", "Plot prefill GFLOP/s against N from bench JSON files as a PNG or SVG");
    app->add_option("files", a->files, "Files written by `vkattn bench --json`")->required()->type_name("FILE.json");
    app->add_option("--out", a->out, "The picture to write; the extension chooses the format (.png or .svg)")
        ->required()
        ->type_name("FILE.png|FILE.svg");
    app->add_option("--heads", a->heads, "Plot the cases with this many query heads (default: the most measured)")
        ->type_name("H");
    app->add_option("--y-scale", a->y_scale, "auto (log when the values span more than 20x), linear or log")
        ->check(CLI::IsMember({"auto", "linear", "log"}))
        ->capture_default_str();
    return {app, [a] { return run_plot(*a); }};
}

}  // namespace vkattn::cli
