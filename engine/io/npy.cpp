// Reading and writing NumPy .npy files. The parser treats its input as hostile: every length is
// checked before use, so arbitrary bytes give an Error(io_error), never a crash (it is fuzzed).
#include "vkattn/npy.hpp"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include "vkattn/error.hpp"

namespace vkattn {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr const char* kSupported = "(supported: <f4, <f2, <i4, |u1, |b1)";

struct IoFailure {
    std::string problem;
};

[[noreturn]] void bad(std::string problem) { throw IoFailure{std::move(problem)}; }

// Product of the dimensions, or nullopt when it does not fit in int64.
std::optional<int64_t> shape_product(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) return std::nullopt;
        if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return std::nullopt;
        n *= d;
    }
    return n;
}

// numpy's repr of a shape tuple: "()", "(5,)", "(2, 3, 4)".
std::string shape_repr(const Shape& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1) s += ',';
    return s + ")";
}

// Maps a descriptor to a dtype. '=' means native order, which is little-endian only on such hosts.
std::optional<DType> descr_to_dtype(std::string_view d) {
    if (d == "|u1" || d == "|b1") return DType::u8;
    if (d.size() != 3) return std::nullopt;
    const bool little = d[0] == '<' || (d[0] == '=' && std::endian::native == std::endian::little);
    if (!little) return std::nullopt;
    const std::string_view code = d.substr(1);
    if (code == "f4") return DType::f32;
    if (code == "f2") return DType::f16;
    if (code == "i4") return DType::i32;
    return std::nullopt;
}

const char* dtype_to_descr(DType t) {
    switch (t) {
        case DType::f32: return "<f4";
        case DType::f16: return "<f2";
        case DType::i32: return "<i4";
        case DType::u8: return "|u1";
        default: break;  // numpy has no bf16 or block formats
    }
    return "?";
}

// A tiny parser for the Python dict literal in the header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
public:
    explicit HeaderParser(std::string_view text) : text_(text) {}

    struct Fields {
        std::optional<std::string> descr;
        std::optional<bool> fortran_order;
        std::optional<Shape> shape;
    };

    Fields parse() {
        Fields f;
        expect('{');
        while (!peek_is('}')) {
            const std::string key = string_literal();
            expect(':');
            if (key == "descr") assign_once(f.descr, string_literal(), key);
            else if (key == "fortran_order") assign_once(f.fortran_order, boolean(), key);
            else if (key == "shape") assign_once(f.shape, tuple(), key);
            else bad("unexpected key '" + key + "' in header");
            if (!peek_is(',')) break;
            ++pos_;  // trailing comma before '}' is allowed, as numpy writes it
        }
        expect('}');
        return f;
    }

private:
    template <typename T>
    static void assign_once(std::optional<T>& slot, T value, const std::string& key) {
        if (slot) bad("duplicate key '" + key + "' in header");
        slot = std::move(value);
    }

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                       text_[pos_] == '\r'))
            ++pos_;
    }
    bool peek_is(char c) {
        skip_space();
        return pos_ < text_.size() && text_[pos_] == c;
    }
    void expect(char c) {
        if (!peek_is(c)) bad(std::string("malformed header: expected '") + c + "' at offset " + std::to_string(pos_));
        ++pos_;
    }
    bool consume_word(std::string_view word) {
        skip_space();
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    std::string string_literal() {
        skip_space();
        if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
            bad("malformed header: expected a quoted string at offset " + std::to_string(pos_));
        const char quote = text_[pos_++];
        const std::size_t end = text_.find(quote, pos_);
        if (end == std::string_view::npos) bad("malformed header: unterminated string");
        std::string s(text_.substr(pos_, end - pos_));
        pos_ = end + 1;
        return s;
    }

    bool boolean() {
        if (consume_word("True")) return true;
        if (consume_word("False")) return false;
        bad("malformed header: 'fortran_order' must be True or False");
    }

    int64_t integer() {
        skip_space();
        const bool negative = pos_ < text_.size() && text_[pos_] == '-';
        if (negative) ++pos_;
        if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9')
            bad("malformed header: expected an integer in 'shape' at offset " + std::to_string(pos_));
        int64_t value = 0;
        for (; pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; ++pos_) {
            const int digit = text_[pos_] - '0';
            if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) bad("dimension too large in 'shape'");
            value = value * 10 + digit;
        }
        if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 long literal, e.g. (3L,)
        if (negative) bad("negative dimension -" + std::to_string(value) + " in 'shape'");
        return value;
    }

    // "()" or "(n,)" or "(a, b, ...)" with an optional trailing comma.
    Shape tuple() {
        Shape shape;
        expect('(');
        while (!peek_is(')')) {
            shape.push_back(integer());
            if (!peek_is(',')) break;
            ++pos_;
        }
        expect(')');
        return shape;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

uint32_t read_le(const uint8_t* p, std::size_t bytes) {
    uint32_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
    return v;
}

// Returns the header text and sets `data_offset` to where the array data starts.
std::string_view read_preamble(const uint8_t* data, std::size_t size, std::size_t& data_offset) {
    if (size < kMagicSize || std::memcmp(data, kMagic, kMagicSize) != 0) bad("bad magic (not a .npy file)");
    if (size < kMagicSize + 2) bad("truncated header (file ends inside the version field)");
    const int major = data[6], minor = data[7];
    if (major < 1 || major > 3 || minor != 0)
        bad("unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor));
    // Version 1.0 stores the header length in 2 bytes; 2.0 and 3.0 (UTF-8 header) in 4.
    const std::size_t len_bytes = major == 1 ? 2 : 4;
    const std::size_t header_start = kMagicSize + 2 + len_bytes;
    if (size < header_start) bad("truncated header (file ends inside the header length field)");
    const std::size_t header_len = read_le(data + 8, len_bytes);
    if (header_len > size - header_start)
        bad("truncated header: header length is " + std::to_string(header_len) + " bytes but only " +
            std::to_string(size - header_start) + " follow");
    data_offset = header_start + header_len;
    return {reinterpret_cast<const char*>(data + header_start), header_len};
}

NpyArray parse_or_throw(const uint8_t* data, std::size_t size) {
    std::size_t data_offset = 0;
    const std::string_view header = read_preamble(data, size, data_offset);
    const HeaderParser::Fields f = HeaderParser(header).parse();
    if (!f.descr) bad("header is missing 'descr'");
    if (!f.fortran_order) bad("header is missing 'fortran_order'");
    if (!f.shape) bad("header is missing 'shape'");
    const std::optional<DType> dtype = descr_to_dtype(*f.descr);
    if (!dtype) bad("unsupported dtype '" + *f.descr + "' " + kSupported);
    if (*f.fortran_order) bad("Fortran-order (fortran_order: True) arrays are not supported");

    const std::optional<int64_t> numel = shape_product(*f.shape);
    const auto elem = static_cast<int64_t>(dtype_size(*dtype));
    if (!numel || *numel > std::numeric_limits<int64_t>::max() / elem)
        bad("shape " + shape_repr(*f.shape) + " is too large");
    const auto expected = static_cast<uint64_t>(*numel * elem);
    const uint64_t present = size - data_offset;
    if (present < expected)
        bad("truncated data: shape " + shape_repr(*f.shape) + " of '" + *f.descr + "' needs " +
            std::to_string(expected) + " bytes, only " + std::to_string(present) + " present");

    NpyArray array;
    array.shape = *f.shape;
    array.dtype = *dtype;
    // Trailing bytes past the array are ignored, as numpy.load does.
    array.bytes.assign(data + data_offset, data + data_offset + expected);
    return array;
}

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

[[noreturn]] void io_fail(const std::string& path, const std::string& problem) {
    throw Error(ErrorCode::io_error, path + ": " + problem);
}

std::string npy_header(const NpyArray& array) {
    std::string dict = std::string("{'descr': '") + dtype_to_descr(array.dtype) +
                       "', 'fortran_order': False, 'shape': " + shape_repr(array.shape) + ", }";
    // numpy pads with spaces so that magic + version + length + header is a multiple of 64, ending in '\n'.
    const std::size_t preamble = kMagicSize + 2 + 2;
    const std::size_t total = (preamble + dict.size() + 1 + 63) / 64 * 64;
    dict.append(total - preamble - dict.size() - 1, ' ');
    dict += '\n';
    return dict;
}

}  // namespace

int64_t NpyArray::numel() const {
    const std::optional<int64_t> n = shape_product(shape);
    if (!n) throw Error(ErrorCode::invalid_argument, "shape: " + shape_repr(shape) + " is negative or too large");
    return *n;
}

std::vector<float> NpyArray::to_floats() const {
    const auto n = static_cast<std::size_t>(numel());
    if (bytes.size() != n * dtype_size(dtype))
        throw Error(ErrorCode::invalid_argument, "bytes: " + std::to_string(bytes.size()) + " bytes do not match shape " +
                                                     shape_repr(shape) + " of " + std::string(dtype_name(dtype)));
    std::vector<float> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        const uint8_t* e = bytes.data() + i * dtype_size(dtype);
        switch (dtype) {
            case DType::f32: out[i] = std::bit_cast<float>(read_le(e, 4)); break;
            case DType::f16: out[i] = half_to_float(static_cast<uint16_t>(read_le(e, 2))); break;
            case DType::i32: out[i] = static_cast<float>(static_cast<int32_t>(read_le(e, 4))); break;
            case DType::u8: out[i] = static_cast<float>(e[0]); break;
            case DType::bf16: out[i] = bf16_to_float(static_cast<uint16_t>(read_le(e, 2))); break;
            default: break;  // (block formats never come from a .npy file)
        }
    }
    return out;
}

NpyArray NpyArray::from_floats(const std::vector<float>& values, const Shape& shape, DType dtype) {
    if (dtype != DType::f32 && dtype != DType::f16)
        throw Error(ErrorCode::invalid_argument, "dtype: from_floats stores f32 or f16, got " + std::string(dtype_name(dtype)));
    NpyArray array;
    array.shape = shape;
    array.dtype = dtype;
    if (static_cast<int64_t>(values.size()) != array.numel())
        throw Error(ErrorCode::invalid_argument, "values: expected " + std::to_string(array.numel()) +
                                                     " elements for shape " + shape_repr(shape) + ", got " +
                                                     std::to_string(values.size()));
    const std::size_t elem = dtype_size(dtype);
    array.bytes.resize(values.size() * elem);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const uint32_t bits = dtype == DType::f32 ? std::bit_cast<uint32_t>(values[i]) : float_to_half(values[i]);
        for (std::size_t b = 0; b < elem; ++b) array.bytes[i * elem + b] = static_cast<uint8_t>(bits >> (8 * b));
    }
    return array;
}

NpyArray parse_npy(const uint8_t* data, std::size_t size, const std::string& what) {
    if (data == nullptr && size != 0) throw Error(ErrorCode::io_error, what + ": null data");
    try {
        return parse_or_throw(data, size);
    } catch (const IoFailure& f) {
        throw Error(ErrorCode::io_error, what + ": " + f.problem);
    }
}

NpyArray read_npy(const std::string& path) {
    errno = 0;
    File file(std::fopen(path.c_str(), "rb"));
    if (!file) io_fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
    std::vector<uint8_t> content;
    uint8_t chunk[1 << 16];
    std::size_t got = 0;
    while ((got = std::fread(chunk, 1, sizeof chunk, file.get())) > 0) content.insert(content.end(), chunk, chunk + got);
    // fopen succeeds on a directory; the read then fails with EISDIR.
    if (std::ferror(file.get())) io_fail(path, std::string("read failed (") + std::strerror(errno) + ")");
    return parse_npy(content.data(), content.size(), path);
}

void write_npy(const std::string& path, const NpyArray& array) {
    const int64_t n = array.numel();
    if (array.bytes.size() != static_cast<std::size_t>(n) * dtype_size(array.dtype))
        throw Error(ErrorCode::invalid_argument, "array: " + std::to_string(array.bytes.size()) +
                                                     " bytes do not match shape " + shape_repr(array.shape) + " of " +
                                                     std::string(dtype_name(array.dtype)));
    const std::string header = npy_header(array);
    if (header.size() > 0xffff) throw Error(ErrorCode::invalid_argument, "array: shape has too many dimensions for a .npy 1.0 header");
    std::string preamble(kMagic, kMagicSize);
    preamble += '\x01';
    preamble += '\x00';
    preamble += static_cast<char>(header.size() & 0xff);
    preamble += static_cast<char>(header.size() >> 8);
    preamble += header;

    errno = 0;
    File file(std::fopen(path.c_str(), "wb"));
    if (!file) io_fail(path, std::string("cannot open for writing (") + std::strerror(errno) + ")");
    const bool ok = std::fwrite(preamble.data(), 1, preamble.size(), file.get()) == preamble.size() &&
                    (array.bytes.empty() ||  // fwrite must not see the null data() of an empty vector
                     std::fwrite(array.bytes.data(), 1, array.bytes.size(), file.get()) == array.bytes.size());
    // Closing flushes; a full disk may only show up here.
    if (!ok || std::fclose(file.release()) != 0) io_fail(path, std::string("write failed (") + std::strerror(errno) + ")");
}

}  // namespace vkattn
