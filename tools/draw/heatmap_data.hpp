#pragma once
// The numbers behind `vkattn heatmap`: attention weights [B, H, Lq, Lk] on the host, the matrix of one
// head or the mean over heads, average pooling to a bounded number of cells per axis, and token labels
// read from text files.
#include <cstdint>
#include <string>
#include <vector>

#include "vkattn/tensor.hpp"

namespace vkattn::cli {

/// Attention weights on the host, [B, H, Lq, Lk] in row-major order. Any attention kind that produces
/// per-head weights (dot-product, additive, a multi-head layer) can be shown once it is in this form.
struct AttentionWeights {
    int64_t B = 0, H = 0, Lq = 0, Lk = 0;
    std::vector<float> values;
};

/// Checks the shape (rank 4, non-empty), the element count and that every value is finite; throws
/// Error(invalid_argument) naming `what` otherwise.
AttentionWeights make_weights(std::vector<float> values, const Shape& shape, const std::string& what = "weights");
/// Downloads a [B, H, Lq, Lk] tensor (any float dtype, any strides) and checks it like make_weights.
AttentionWeights download_weights(const Tensor& weights, const std::string& what = "weights");

/// A rows x cols matrix, row-major.
struct Matrix {
    int64_t rows = 0, cols = 0;
    std::vector<float> values;
    float at(int64_t r, int64_t c) const { return values[static_cast<std::size_t>(r * cols + c)]; }
};

/// The [Lq, Lk] weights of batch b, head h (both checked by the caller).
Matrix head_matrix(const AttentionWeights& w, int64_t b, int64_t h);
/// The mean over heads of batch b.
Matrix mean_over_heads(const AttentionWeights& w, int64_t b);

/// How one axis is split into cells: cell i covers [starts[i], starts[i + 1]), starts.back() == length.
struct Bins {
    std::vector<int64_t> starts;
    int64_t count() const { return static_cast<int64_t>(starts.size()) - 1; }
};
/// `length` positions in min(length, max_cells) nearly equal bins; max_cells == 0 means one per position.
Bins make_bins(int64_t length, int64_t max_cells);
/// The mean of each (row bin, column bin) block.
Matrix average_pool(const Matrix& m, const Bins& rows, const Bins& cols);

/// One token per line (a trailing newline ends the last line; "\r\n" endings accepted). Throws
/// Error(io_error) naming `option` and the path when the file cannot be read.
std::vector<std::string> read_tokens(const std::string& path, const std::string& option);

}  // namespace vkattn::cli
