#pragma once
// The viridis colormap (perceptually uniform, lightness rising monotonically from dark purple to yellow)
// for `vkattn heatmap`.
#include "draw/drawing.hpp"

namespace vkattn::cli {

/// The colour of t in [0, 1] (clamped; NaN maps to 0): one of 256 levels interpolated linearly between
/// 33 samples of viridis (within 2/255 of matplotlib's table), each level brighter than the one below.
Rgb viridis(double t);

/// Relative luminance (Rec. 709 weights) of an 8-bit colour, in [0, 255].
double luminance(Rgb c);

}  // namespace vkattn::cli
