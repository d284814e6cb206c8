// libFuzzer target: arbitrary bytes through the .safetensors reader and the multi-head attention
// loader's header checks (plan_mha_weights: names and shapes, no device). The reader must either throw
// vkattn::Error(io_error) or return a file whose every entry lies inside the data section, covers
// exactly its shape's bytes, overlaps no other entry, and reads back as that many floats (F32, F16,
// BF16) or is refused with Error(invalid_argument) (other dtypes). The loader must either refuse with
// Error(invalid_argument) or return dimensions that agree with the tensors' shapes. Anything else (a
// crash, a sanitizer report, another exception type, a broken rule) is a finding. No Vulkan is loaded,
// so the fuzzer keeps leak checking on. Also replayed by the test suite (fuzz_targets.hpp).
#include "fuzz_targets.hpp"

#include <vkattn/error.hpp>
#include <vkattn/mha.hpp>
#include <vkattn/safetensors.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace vkattn::fuzz {
namespace {

uint64_t element_bytes(const std::string& d) {
    if (d == "F64" || d == "I64" || d == "U64") return 8;
    if (d == "F32" || d == "I32" || d == "U32") return 4;
    if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
    if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
    return 0;
}

void expect_error(const Error& e, ErrorCode code, const char* where) {
    if (e.code() != code) finding(std::string(where) + ": unexpected error code: " + e.what());
    if (e.message().empty()) finding(std::string(where) + ": error without a message");
}

// The layer's header checks under a few head counts, with the prefix of any "...out_proj.weight" entry.
void check_mha_layout(const SafeTensors& st, std::size_t size) {
    std::vector<std::string> prefixes = {""};
    const std::string suffix = "out_proj.weight";
    for (const std::string& n : st.names())
        if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0 && prefixes.size() < 3)
            prefixes.push_back(n.substr(0, n.size() - suffix.size()));
    const int64_t heads[] = {1, 2, 4, 3};
    for (const std::string& prefix : prefixes) {
        MhaLoadOptions o;
        o.prefix = prefix;
        o.heads = heads[size % 4];
        o.kv_heads = (size / 4) % 2 ? 1 : 0;
        try {
            const MhaLayout l = plan_mha_weights(st, o);
            const auto shape = [&](const char* n) { return st.info(prefix + n).shape; };
            const int64_t HD = l.heads * l.head_dim, KD = l.kv_heads * l.head_dim;
            if (l.embed_dim < 1 || l.head_dim < 1 || l.kdim < 1 || l.vdim < 1) finding("mha layout accepted an empty dimension");
            if (shape("out_proj.weight") != Shape{l.embed_dim, HD}) finding("mha layout: out_proj.weight disagrees with the layout");
            if (l.packed) {
                if (shape("in_proj_weight") != Shape{HD + 2 * KD, l.embed_dim}) finding("mha layout: in_proj_weight disagrees with the layout");
            } else {
                if (shape("q_proj_weight") != Shape{HD, l.embed_dim} || shape("k_proj_weight") != Shape{KD, l.kdim} ||
                    shape("v_proj_weight") != Shape{KD, l.vdim})
                    finding("mha layout: q/k/v_proj_weight disagree with the layout");
            }
            if (l.has_in_proj_bias && shape("in_proj_bias") != Shape{HD + 2 * KD}) finding("mha layout: in_proj_bias disagrees");
            if (l.has_out_proj_bias && shape("out_proj.bias") != Shape{l.embed_dim}) finding("mha layout: out_proj.bias disagrees");
        } catch (const Error& e) {
            expect_error(e, ErrorCode::invalid_argument, "plan_mha_weights");
        }
    }
}

}  // namespace

void safetensors_one_input(const uint8_t* data, size_t size) {
    SafeTensors st;
    try {
        st = SafeTensors::parse(std::vector<uint8_t>(data, data + size), "fuzz.safetensors");
    } catch (const Error& e) {
        expect_error(e, ErrorCode::io_error, "parse");
        return;
    }
    // Accepted: the layout the header describes must be sound.
    if (size < 8) finding("a file shorter than the header length was accepted");
    uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = (header << 8) | data[i];
    if (header > size - 8) finding("a header longer than the file was accepted");
    const uint64_t data_size = size - 8 - header;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const std::string& name : st.names()) {
        const SafeTensorInfo& info = st.info(name);
        const uint64_t es = element_bytes(info.dtype);
        if (es == 0) finding("tensor '" + name + "': unknown dtype '" + info.dtype + "' accepted");
        uint64_t n = 1;
        for (int64_t d : info.shape) {
            if (d < 0) finding("tensor '" + name + "': negative dimension accepted");
            n *= static_cast<uint64_t>(d);  // bounded by the byte range checked below
        }
        if (info.begin > info.end || info.end > data_size) finding("tensor '" + name + "': data_offsets outside the data section");
        if (info.end - info.begin != n * es) finding("tensor '" + name + "': data_offsets do not cover the shape's bytes");
        if (info.end > info.begin) ranges.push_back({info.begin, info.end});
        try {
            const std::vector<float> v = st.floats(name);
            if (v.size() != n) finding("tensor '" + name + "': floats() returned " + std::to_string(v.size()) + " values, shape has " + std::to_string(n));
            if (info.dtype != "F32" && info.dtype != "F16" && info.dtype != "BF16") finding("tensor '" + name + "': dtype " + info.dtype + " read as floats");
        } catch (const Error& e) {
            expect_error(e, ErrorCode::invalid_argument, "floats");
            if (info.dtype == "F32" || info.dtype == "F16" || info.dtype == "BF16") finding("tensor '" + name + "': readable dtype refused: " + e.what());
        }
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second) finding("overlapping data_offsets accepted");
    try {
        st.info("\x01no such tensor");
        finding("info() of a missing name returned");
    } catch (const Error& e) {
        expect_error(e, ErrorCode::invalid_argument, "info");
    }
    check_mha_layout(st, size);
}

}  // namespace vkattn::fuzz

#ifndef VKATTN_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vkattn::fuzz::safetensors_one_input(data, size);
    return 0;
}
#endif
