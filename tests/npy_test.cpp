// Tests of the .npy reader and writer: round trips, numpy-style headers, and every rejection.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "vkattn/error.hpp"
#include "vkattn/npy.hpp"

using namespace vkattn;

namespace {

// A per-process scratch directory, removed at exit.
class TempDir {
public:
    TempDir() : path_(std::filesystem::temp_directory_path() / ("vkattn_npy_test_" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    std::string dir() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

const TempDir& temp() {
    static const TempDir dir;
    return dir;
}

// Builds .npy bytes as numpy writes them: magic, version, length, header padded with spaces to a
// multiple of 64 and ending in '\n', then `payload`.
std::vector<uint8_t> npy_bytes(const std::string& dict, const std::vector<uint8_t>& payload, int major = 1) {
    const std::size_t len_bytes = major == 1 ? 2 : 4;
    std::string header = dict;
    const std::size_t preamble = 8 + len_bytes;
    while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
    for (std::size_t i = 0; i < len_bytes; ++i) out.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

std::vector<uint8_t> f32_payload(const std::vector<float>& values) {
    std::vector<uint8_t> out(values.size() * 4);
    std::memcpy(out.data(), values.data(), out.size());  // the tests run on little-endian hosts
    return out;
}

NpyArray parse(const std::vector<uint8_t>& bytes) { return parse_npy(bytes.data(), bytes.size(), "mem.npy"); }

// The io_error message of parsing `bytes`, or "(no error)".
std::string parse_error(const std::vector<uint8_t>& bytes) {
    try {
        parse(bytes);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::io_error);
        return e.message();
    }
    return "(no error)";
}

std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

#define EXPECT_CONTAINS(haystack, needle) \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "message: " << (haystack)

}  // namespace

// ---- round trips ----

TEST(Npy, RoundTripEveryDtypeAndShape) {
    const std::vector<Shape> shapes = {{}, {5}, {2, 3, 4}, {0, 3}};
    for (DType dtype : {DType::f32, DType::f16, DType::i32, DType::u8}) {
        for (const Shape& shape : shapes) {
            NpyArray a;
            a.shape = shape;
            a.dtype = dtype;
            a.bytes.resize(static_cast<std::size_t>(a.numel()) * dtype_size(dtype));
            for (std::size_t i = 0; i < a.bytes.size(); ++i) a.bytes[i] = static_cast<uint8_t>(i * 37 + 11);
            const std::string path = temp().file("rt.npy");
            write_npy(path, a);
            const NpyArray b = read_npy(path);
            EXPECT_EQ(b.shape, a.shape);
            EXPECT_EQ(b.dtype, a.dtype);
            EXPECT_EQ(b.bytes, a.bytes);
        }
    }
}

TEST(Npy, WrittenHeaderIsVersion1PaddedTo64) {
    const std::string path = temp().file("hdr.npy");
    write_npy(path, NpyArray::from_floats({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f32));
    const std::vector<uint8_t> bytes = file_bytes(path);
    ASSERT_GE(bytes.size(), 10u);
    EXPECT_EQ(bytes[6], 1);
    EXPECT_EQ(bytes[7], 0);
    const std::size_t header_len = static_cast<std::size_t>(bytes[8] | (bytes[9] << 8));
    EXPECT_EQ((10 + header_len) % 64, 0u);
    EXPECT_EQ(bytes[10 + header_len - 1], '\n');
    const std::string header(bytes.begin() + 10, bytes.begin() + 10 + static_cast<std::ptrdiff_t>(header_len));
    EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u) << header;
    EXPECT_EQ(bytes.size(), 10 + header_len + 24);
}

TEST(Npy, ScalarAndOneDimShapesAreWrittenLikeNumpy) {
    const std::string path = temp().file("shapes.npy");
    write_npy(path, NpyArray::from_floats({7}, {}, DType::f16));
    std::vector<uint8_t> bytes = file_bytes(path);
    EXPECT_CONTAINS(std::string(bytes.begin(), bytes.end()), "'descr': '<f2', 'fortran_order': False, 'shape': (), }");
    write_npy(path, NpyArray::from_floats({1, 2, 3, 4, 5}, {5}, DType::f32));
    bytes = file_bytes(path);
    EXPECT_CONTAINS(std::string(bytes.begin(), bytes.end()), "'shape': (5,), }");
}

TEST(Npy, FromFloatsAndToFloats) {
    const std::vector<float> values = {0.5f, -2.0f, 65504.0f, 0.1f};
    const NpyArray f32 = NpyArray::from_floats(values, {2, 2}, DType::f32);
    EXPECT_EQ(f32.bytes.size(), 16u);
    EXPECT_EQ(f32.to_floats(), values);
    const NpyArray f16 = NpyArray::from_floats(values, {4}, DType::f16);
    EXPECT_EQ(f16.bytes.size(), 8u);
    EXPECT_EQ(f16.to_floats(), (std::vector<float>{0.5f, -2.0f, 65504.0f, round_to_half(0.1f)}));
    EXPECT_EQ(f16.numel(), 4);
    EXPECT_EQ(NpyArray::from_floats({3}, {}, DType::f32).numel(), 1);
    EXPECT_THROW(NpyArray::from_floats(values, {3}, DType::f32), Error);
    EXPECT_THROW(NpyArray::from_floats(values, {4}, DType::i32), Error);
}

TEST(Npy, IntegerAndByteToFloats) {
    NpyArray i32;
    i32.dtype = DType::i32;
    i32.shape = {2};
    i32.bytes = {0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0};  // -1, 7
    EXPECT_EQ(i32.to_floats(), (std::vector<float>{-1, 7}));
    NpyArray u8;
    u8.dtype = DType::u8;
    u8.shape = {3};
    u8.bytes = {0, 1, 255};
    EXPECT_EQ(u8.to_floats(), (std::vector<float>{0, 1, 255}));
}

// ---- headers as numpy and other writers produce them ----

TEST(Npy, ParsesNumpyStyleHeader) {
    const NpyArray a = parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                       f32_payload({1, 2, 3, 4, 5, 6})));
    EXPECT_EQ(a.shape, (Shape{2, 3}));
    EXPECT_EQ(a.dtype, DType::f32);
    EXPECT_EQ(a.to_floats(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, ParsesKeysInAnyOrderWithoutTrailingComma) {
    const NpyArray a = parse(npy_bytes("{\"shape\":(3,),\"fortran_order\":False,\"descr\":\"<f4\"}", f32_payload({1, 2, 3})));
    EXPECT_EQ(a.shape, (Shape{3}));
    const NpyArray b = parse(npy_bytes("{ 'fortran_order' : False , 'shape' : ( 1 , 2 , ) , 'descr' : '<f4' }",
                                       f32_payload({1, 2})));
    EXPECT_EQ(b.shape, (Shape{1, 2}));
}

TEST(Npy, ParsesScalarAndEmptyShapes) {
    const NpyArray scalar = parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32_payload({42})));
    EXPECT_TRUE(scalar.shape.empty());
    EXPECT_EQ(scalar.to_floats(), (std::vector<float>{42}));
    const NpyArray empty = parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", {}));
    EXPECT_EQ(empty.numel(), 0);
}

TEST(Npy, ParsesEveryDescriptor) {
    struct Case {
        const char* descr;
        DType dtype;
        std::size_t elem;
    };
    for (const Case& c : {Case{"<f4", DType::f32, 4}, Case{"<f2", DType::f16, 2}, Case{"<i4", DType::i32, 4},
                          Case{"|u1", DType::u8, 1}, Case{"|b1", DType::u8, 1}, Case{"=f4", DType::f32, 4},
                          Case{"=f2", DType::f16, 2}, Case{"=i4", DType::i32, 4}}) {
        const std::string dict = std::string("{'descr': '") + c.descr + "', 'fortran_order': False, 'shape': (2,), }";
        const NpyArray a = parse(npy_bytes(dict, std::vector<uint8_t>(2 * c.elem, 1)));
        EXPECT_EQ(a.dtype, c.dtype) << c.descr;
        EXPECT_EQ(a.bytes.size(), 2 * c.elem) << c.descr;
    }
}

TEST(Npy, ParsesVersions2And3AndIgnoresTrailingBytes) {
    for (int major : {2, 3}) {
        std::vector<uint8_t> payload = f32_payload({1, 2});
        payload.push_back(0xee);  // trailing garbage is ignored like numpy.load does
        const NpyArray a = parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", payload, major));
        EXPECT_EQ(a.to_floats(), (std::vector<float>{1, 2})) << "version " << major;
    }
}

TEST(Npy, ParsesPython2LongDimensions) {
    const NpyArray a = parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }", f32_payload({1, 2})));
    EXPECT_EQ(a.shape, (Shape{2, 1}));
}

// ---- rejections ----

TEST(NpyReject, MissingFileAndDirectory) {
    const std::string missing = temp().file("does_not_exist.npy");
    try {
        read_npy(missing);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::io_error);
        EXPECT_EQ(e.message().rfind(missing + ": cannot open", 0), 0u) << e.message();
    }
    try {
        read_npy(temp().dir());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::io_error);
        EXPECT_EQ(e.message().rfind(temp().dir() + ": ", 0), 0u) << e.message();
    }
}

TEST(NpyReject, WriteToMissingDirectory) {
    const std::string path = temp().file("no/such/dir/x.npy");
    try {
        write_npy(path, NpyArray::from_floats({1}, {1}, DType::f32));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::io_error);
        EXPECT_CONTAINS(e.message(), path + ": cannot open for writing");
    }
}

TEST(NpyReject, ReadErrorsNameThePath) {
    const std::string path = temp().file("garbage.npy");
    write_bytes(path, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
    try {
        read_npy(path);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.message(), path + ": bad magic (not a .npy file)");
        EXPECT_EQ(std::string(e.what()), "io_error: " + path + ": bad magic (not a .npy file)");
    }
}

TEST(NpyReject, BadMagicAndTruncatedHeader) {
    EXPECT_EQ(parse_error({}), "mem.npy: bad magic (not a .npy file)");
    EXPECT_EQ(parse_error({0x93, 'N', 'U', 'M'}), "mem.npy: bad magic (not a .npy file)");
    EXPECT_CONTAINS(parse_error({0x93, 'N', 'U', 'M', 'P', 'Y', 1}), "truncated header");
    EXPECT_CONTAINS(parse_error({0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 5}), "truncated header");
    std::vector<uint8_t> bytes = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", {});
    bytes.resize(40);
    EXPECT_EQ(parse_error(bytes), "mem.npy: truncated header: header length is 118 bytes but only 30 follow");
    EXPECT_CONTAINS(parse_error({0x93, 'N', 'U', 'M', 'P', 'Y', 4, 0, 0, 0}), "unsupported .npy format version 4.0");
}

TEST(NpyReject, TruncatedDataSaysHowManyBytes) {
    const std::vector<uint8_t> bytes =
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", std::vector<uint8_t>(20, 0));
    EXPECT_EQ(parse_error(bytes), "mem.npy: truncated data: shape (2, 3) of '<f4' needs 24 bytes, only 20 present");
}

TEST(NpyReject, UnsupportedDtypes) {
    const std::string supported = " (supported: <f4, <f2, <i4, |u1, |b1)";
    for (const char* descr : {"<f8", ">f4", ">i4", "<i8", "|i1", "<c8", "f4"}) {
        const std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (1,), }";
        EXPECT_EQ(parse_error(npy_bytes(dict, std::vector<uint8_t>(16, 0))),
                  std::string("mem.npy: unsupported dtype '") + descr + "'" + supported);
    }
}

TEST(NpyReject, FortranOrder) {
    const std::vector<uint8_t> bytes = npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                                                 std::vector<uint8_t>(16, 0));
    EXPECT_CONTAINS(parse_error(bytes), "Fortran-order");
}

TEST(NpyReject, BadDimensions) {
    const auto with_shape = [](const std::string& shape) {
        return parse_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", {}));
    };
    EXPECT_EQ(with_shape("(2, -3)"), "mem.npy: negative dimension -3 in 'shape'");
    EXPECT_EQ(with_shape("(99999999999999999999,)"), "mem.npy: dimension too large in 'shape'");
    EXPECT_EQ(with_shape("(4294967296, 4294967296)"), "mem.npy: shape (4294967296, 4294967296) is too large");
    EXPECT_EQ(with_shape("(2305843009213693952,)"), "mem.npy: shape (2305843009213693952,) is too large");  // 2^61 * 4 bytes
    EXPECT_CONTAINS(with_shape("(1, x)"), "expected an integer");
    EXPECT_CONTAINS(with_shape("[2, 3]"), "expected '('");
}

TEST(NpyReject, MalformedHeaders) {
    const std::vector<uint8_t> none;
    EXPECT_CONTAINS(parse_error(npy_bytes("{'descr': '<f4', 'shape': (1,), }", none)), "missing 'fortran_order'");
    EXPECT_CONTAINS(parse_error(npy_bytes("{'descr': '<f4', 'fortran_order': False}", none)), "missing 'shape'");
    EXPECT_CONTAINS(parse_error(npy_bytes("{'fortran_order': False, 'shape': (1,)}", none)), "missing 'descr'");
    EXPECT_CONTAINS(parse_error(npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", none)),
                    "duplicate key 'descr'");
    EXPECT_CONTAINS(parse_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}", none)),
                    "unexpected key 'x'");
    EXPECT_CONTAINS(parse_error(npy_bytes("{'descr': '<f4, 'fortran_order': False, 'shape': ()}", none)), "malformed header");
    EXPECT_CONTAINS(parse_error(npy_bytes("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}", none)), "True or False");
    EXPECT_CONTAINS(parse_error(npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}", none)),
                    "malformed header");
    EXPECT_CONTAINS(parse_error(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': ()", none)), "expected '}'");
    EXPECT_CONTAINS(parse_error(npy_bytes("", none)), "expected '{'");
}

TEST(NpyReject, WriteRejectsInconsistentArray) {
    NpyArray a;
    a.shape = {2, 2};
    a.dtype = DType::f32;
    a.bytes.resize(15);
    EXPECT_THROW(write_npy(temp().file("bad.npy"), a), Error);
}

// Random bytes and random corruptions of a valid file must give either an array or an Error.
TEST(NpyReject, SurvivesCorruptedInput) {
    const std::vector<uint8_t> valid =
        npy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (3, 2), }", std::vector<uint8_t>(12, 0x3c));
    std::mt19937 rng(1234);
    for (int trial = 0; trial < 20000; ++trial) {
        std::vector<uint8_t> bytes = valid;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
        if (rng() % 3 == 0) bytes.resize(rng() % bytes.size());
        try {
            const NpyArray a = parse(bytes);
            EXPECT_EQ(a.bytes.size(), static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype));
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::io_error);
        }
    }
}
