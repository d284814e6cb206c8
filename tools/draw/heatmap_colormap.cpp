#include "draw/heatmap_colormap.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>

namespace vkattn::cli {
namespace {

// viridis (the CC0 colormap of matplotlib) sampled at t = i / 32, rounded to 8 bits.
constexpr Rgb kViridis[33] = {
    {68, 1, 84},    {71, 13, 96},   {72, 24, 106},  {72, 35, 116},  {71, 45, 123},  {69, 55, 129},  {66, 64, 134},
    {62, 73, 137},  {59, 82, 139},  {55, 91, 141},  {51, 99, 141},  {47, 107, 142}, {44, 114, 142}, {41, 122, 142},
    {38, 130, 142}, {35, 137, 142}, {33, 145, 140}, {31, 151, 139}, {31, 159, 136}, {33, 166, 133}, {39, 173, 129},
    {49, 181, 123}, {61, 188, 116}, {76, 194, 108}, {92, 200, 99},  {110, 206, 88}, {129, 211, 77}, {149, 216, 64},
    {170, 220, 50}, {192, 223, 37}, {213, 226, 26}, {234, 229, 26}, {253, 231, 37},
};

uint8_t mix(uint8_t a, uint8_t b, double f) {
    return static_cast<uint8_t>(std::lround(a + (static_cast<double>(b) - a) * f));
}

/// 256 levels interpolated from the samples. Rounding each channel can let a level come out a
/// fraction darker than the one below it (red falls while green rises); such a level gets its green
/// raised until it is brighter, so that brighter always means a larger value.
std::array<Rgb, 256> make_levels() {
    std::array<Rgb, 256> lut{};
    for (std::size_t k = 0; k < lut.size(); ++k) {
        const double x = static_cast<double>(k) * 32 / 255;
        const std::size_t i = std::min<std::size_t>(static_cast<std::size_t>(x), 31);
        const double f = x - static_cast<double>(i);
        const Rgb a = kViridis[i], b = kViridis[i + 1];
        lut[k] = {mix(a.r, b.r, f), mix(a.g, b.g, f), mix(a.b, b.b, f)};
        while (k > 0 && luminance(lut[k]) <= luminance(lut[k - 1]) && lut[k].g < 255) ++lut[k].g;
    }
    return lut;
}

}  // namespace

Rgb viridis(double t) {
    static const std::array<Rgb, 256> levels = make_levels();
    if (!(t > 0)) t = 0;  // also NaN
    if (t > 1) t = 1;
    return levels[static_cast<std::size_t>(std::lround(t * 255))];
}

double luminance(Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; }

}  // namespace vkattn::cli
