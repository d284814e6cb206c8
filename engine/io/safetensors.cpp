// The `.safetensors` reader: every length, offset and shape is checked before any data is touched.
#include "vkattn/safetensors.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "vkattn/error.hpp"

namespace vkattn {

namespace {

constexpr uint64_t kMaxHeader = uint64_t{100} << 20;  // the format's own limit (100 MB)

[[noreturn]] void bad(const std::string& what, const std::string& msg) { throw Error(ErrorCode::io_error, what + ": " + msg); }

std::size_t dtype_bytes(const std::string& d) {
    if (d == "F64" || d == "I64" || d == "U64") return 8;
    if (d == "F32" || d == "I32" || d == "U32") return 4;
    if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
    if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
    return 0;
}

}  // namespace

SafeTensors SafeTensors::open(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::io_error, path + ": cannot open");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw Error(ErrorCode::io_error, path + ": read failed");
    return parse(std::move(bytes), path);
}

SafeTensors SafeTensors::parse(std::vector<uint8_t> bytes, const std::string& what) {
    SafeTensors st;
    st.what_ = what;
    if (bytes.size() < 8) bad(what, "truncated: " + std::to_string(bytes.size()) + " bytes, less than the 8-byte header length");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
    if (n > kMaxHeader) bad(what, "header length " + std::to_string(n) + " exceeds the 100 MiB limit");
    if (n > bytes.size() - 8)
        bad(what, "truncated: header length " + std::to_string(n) + " but only " + std::to_string(bytes.size() - 8) + " bytes follow");
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    } catch (const nlohmann::json::exception& e) {
        bad(what, std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) bad(what, "header is not a JSON object");
    st.data_start_ = 8 + n;
    const uint64_t data_size = bytes.size() - st.data_start_;
    std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> ranges;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const nlohmann::json& e = it.value();
        if (name == "__metadata__") {
            if (!e.is_object()) bad(what, "__metadata__ is not an object");
            for (auto m = e.begin(); m != e.end(); ++m) {
                if (!m.value().is_string()) bad(what, "__metadata__['" + m.key() + "'] is not a string");
                st.metadata_[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string t = "tensor '" + name + "'";
        if (!e.is_object()) bad(what, t + ": entry is not an object");
        if (!e.contains("dtype") || !e["dtype"].is_string()) bad(what, t + ": missing or non-string 'dtype'");
        if (!e.contains("shape") || !e["shape"].is_array()) bad(what, t + ": missing or non-array 'shape'");
        if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
            bad(what, t + ": 'data_offsets' must be an array [begin, end]");
        SafeTensorInfo info;
        info.dtype = e["dtype"].get<std::string>();
        const std::size_t es = dtype_bytes(info.dtype);
        if (es == 0) bad(what, t + ": unknown dtype '" + info.dtype + "'");
        uint64_t count = 1;
        for (const auto& d : e["shape"]) {
            if (!d.is_number_unsigned()) bad(what, t + ": shape entries must be non-negative integers");
            const uint64_t v = d.get<uint64_t>();
            if (v > (uint64_t{1} << 40) || (v != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / v))
                bad(what, t + ": shape is too large");
            count *= v;
            info.shape.push_back(static_cast<int64_t>(v));
        }
        for (const auto& d : e["data_offsets"])
            if (!d.is_number_unsigned()) bad(what, t + ": data_offsets must be non-negative integers");
        info.begin = e["data_offsets"][0].get<uint64_t>();
        info.end = e["data_offsets"][1].get<uint64_t>();
        if (info.begin > info.end) bad(what, t + ": data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) + "] are reversed");
        if (info.end > data_size)
            bad(what, t + ": truncated: data_offsets end " + std::to_string(info.end) + " is past the " + std::to_string(data_size) +
                          " bytes of data");
        if (info.end - info.begin != count * es)
            bad(what, t + ": data_offsets cover " + std::to_string(info.end - info.begin) + " bytes but shape " + to_string(info.shape) +
                          " of " + info.dtype + " needs " + std::to_string(count * es));
        ranges.push_back({{info.begin, info.end}, name});
        st.entries_[name] = info;
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first.first < ranges[i - 1].first.second)
            bad(what, "tensors '" + ranges[i - 1].second + "' and '" + ranges[i].second + "' have overlapping data_offsets");
    st.bytes_ = std::move(bytes);
    return st;
}

const SafeTensorInfo& SafeTensors::info(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
        std::string has;
        for (const auto& [k, v] : entries_) has += (has.empty() ? "" : ", ") + k;
        throw Error(ErrorCode::invalid_argument, what_ + ": no tensor named '" + name + "' (has: " + (has.empty() ? "none" : has) + ")");
    }
    return it->second;
}

std::vector<std::string> SafeTensors::names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : entries_) out.push_back(k);
    return out;
}

std::vector<float> SafeTensors::floats(const std::string& name) const {
    const SafeTensorInfo& e = info(name);
    const uint8_t* p = bytes_.data() + data_start_ + e.begin;
    const std::size_t es = dtype_bytes(e.dtype);
    const std::size_t n = static_cast<std::size_t>((e.end - e.begin) / es);
    std::vector<float> out(n);
    if (n == 0) {  // an empty tensor (a zero in its shape): nothing to read, and memcpy must not see out.data() == nullptr
        if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16")
            throw Error(ErrorCode::invalid_argument, what_ + ": tensor '" + name + "' has dtype " + e.dtype + "; only F32, F16 and BF16 are supported");
        return out;
    }
    if (e.dtype == "F32") {
        std::memcpy(out.data(), p, n * 4);
    } else if (e.dtype == "F16" || e.dtype == "BF16") {
        for (std::size_t i = 0; i < n; ++i) {
            const uint16_t h = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
            out[i] = e.dtype == "F16" ? half_to_float(h) : bf16_to_float(h);
        }
    } else {
        throw Error(ErrorCode::invalid_argument, what_ + ": tensor '" + name + "' has dtype " + e.dtype + "; only F32, F16 and BF16 are supported");
    }
    return out;
}

Tensor SafeTensors::upload(Context& ctx, const std::string& name, DType dtype) const {
    const SafeTensorInfo& e = info(name);
    if (std::find(e.shape.begin(), e.shape.end(), 0) != e.shape.end())
        throw Error(ErrorCode::invalid_argument, what_ + ": tensor '" + name + "' has an empty shape " + to_string(e.shape));
    return ctx.upload(floats(name), e.shape.empty() ? Shape{1} : e.shape, dtype);
}

void write_safetensors(const std::string& path, const std::map<std::string, std::pair<Shape, std::vector<float>>>& tensors) {
    nlohmann::json header = nlohmann::json::object();
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        const uint64_t bytes = t.second.size() * 4;
        header[name] = {{"dtype", "F32"}, {"shape", t.first}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string h = header.dump();
    while ((h.size() + 8) % 8 != 0) h.push_back(' ');
    std::ofstream out(path, std::ios::binary);
    if (!out) throw Error(ErrorCode::io_error, path + ": cannot open for writing");
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(h.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& [name, t] : tensors) out.write(reinterpret_cast<const char*>(t.second.data()), static_cast<std::streamsize>(t.second.size() * 4));
    if (!out) throw Error(ErrorCode::io_error, path + ": write failed");
}

}  // namespace vkattn
