#include "draw/heatmap_data.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include "vkattn/error.hpp"

namespace vkattn::cli {

AttentionWeights make_weights(std::vector<float> values, const Shape& shape, const std::string& what) {
    if (shape.size() != 4)
        throw Error(ErrorCode::invalid_argument, what + ": expected rank 4 [B, H, Lq, Lk], got shape " + to_string(shape));
    for (int64_t d : shape)
        if (d <= 0) throw Error(ErrorCode::invalid_argument, what + ": shape " + to_string(shape) + " has an empty dimension");
    AttentionWeights w;
    w.B = shape[0], w.H = shape[1], w.Lq = shape[2], w.Lk = shape[3];
    if (static_cast<int64_t>(values.size()) != w.B * w.H * w.Lq * w.Lk)
        throw Error(ErrorCode::invalid_argument, what + ": " + std::to_string(values.size()) + " values for shape " +
                                                     to_string(shape));
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i])) {
            const int64_t n = static_cast<int64_t>(i);
            throw Error(ErrorCode::invalid_argument,
                        what + ": non-finite value at [" + std::to_string(n / (w.H * w.Lq * w.Lk)) + ", " +
                            std::to_string(n / (w.Lq * w.Lk) % w.H) + ", " + std::to_string(n / w.Lk % w.Lq) + ", " +
                            std::to_string(n % w.Lk) + "]");
        }
    w.values = std::move(values);
    return w;
}

AttentionWeights download_weights(const Tensor& t, const std::string& what) {
    if (!t.defined()) throw Error(ErrorCode::invalid_argument, what + ": the tensor is undefined");
    if (t.dtype() != DType::f32 && t.dtype() != DType::f16)
        throw Error(ErrorCode::invalid_argument, what + ": expected f32 or f16, got " + std::string(dtype_name(t.dtype())));
    if (t.rank() != 4)
        throw Error(ErrorCode::invalid_argument, what + ": expected rank 4 [B, H, Lq, Lk], got shape " + to_string(t.shape()));
    return make_weights(t.download<float>(), t.shape(), what);
}

Matrix head_matrix(const AttentionWeights& w, int64_t b, int64_t h) {
    Matrix m{w.Lq, w.Lk, {}};
    const auto first = w.values.begin() + static_cast<std::ptrdiff_t>((b * w.H + h) * w.Lq * w.Lk);
    m.values.assign(first, first + static_cast<std::ptrdiff_t>(w.Lq * w.Lk));
    return m;
}

Matrix mean_over_heads(const AttentionWeights& w, int64_t b) {
    std::vector<double> sum(static_cast<std::size_t>(w.Lq * w.Lk), 0.0);
    for (int64_t h = 0; h < w.H; ++h) {
        const std::size_t base = static_cast<std::size_t>((b * w.H + h) * w.Lq * w.Lk);
        for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += w.values[base + i];
    }
    Matrix m{w.Lq, w.Lk, std::vector<float>(sum.size())};
    for (std::size_t i = 0; i < sum.size(); ++i) m.values[i] = static_cast<float>(sum[i] / static_cast<double>(w.H));
    return m;
}

Bins make_bins(int64_t length, int64_t max_cells) {
    const int64_t n = max_cells > 0 && max_cells < length ? max_cells : length;
    Bins b;
    for (int64_t i = 0; i <= n; ++i) b.starts.push_back(i * length / n);
    return b;
}

Matrix average_pool(const Matrix& m, const Bins& rows, const Bins& cols) {
    Matrix p{rows.count(), cols.count(), {}};
    p.values.reserve(static_cast<std::size_t>(p.rows * p.cols));
    for (int64_t r = 0; r < p.rows; ++r)
        for (int64_t c = 0; c < p.cols; ++c) {
            double sum = 0;
            const std::size_t ri = static_cast<std::size_t>(r), ci = static_cast<std::size_t>(c);
            for (int64_t i = rows.starts[ri]; i < rows.starts[ri + 1]; ++i)
                for (int64_t j = cols.starts[ci]; j < cols.starts[ci + 1]; ++j) sum += m.at(i, j);
            const double n = static_cast<double>((rows.starts[ri + 1] - rows.starts[ri]) * (cols.starts[ci + 1] - cols.starts[ci]));
            p.values.push_back(static_cast<float>(sum / n));
        }
    return p;
}

std::vector<std::string> read_tokens(const std::string& path, const std::string& option) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::io_error, option + ": cannot open '" + path + "'");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw Error(ErrorCode::io_error, option + ": cannot read '" + path + "'");
    const std::string s = text.str();
    std::vector<std::string> tokens;
    std::size_t begin = 0;
    while (begin < s.size()) {
        std::size_t end = s.find('\n', begin);
        if (end == std::string::npos) end = s.size();
        std::string line = s.substr(begin, end - begin);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        tokens.push_back(std::move(line));
        begin = end + 1;
    }
    return tokens;
}

}  // namespace vkattn::cli
