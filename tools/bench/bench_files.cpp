#include "bench/bench_files.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/cli_common.hpp"

namespace vkattn::cli {
namespace {

constexpr std::uintmax_t kMaxFileBytes = 256ull << 20;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string read_text(const std::string& path, const std::string& where) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw UsageError(where + ": is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw UsageError(where + ": cannot read (" + std::strerror(errno) + ")");
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec && size > kMaxFileBytes) throw UsageError(where + ": larger than 256 MiB, not a bench file");
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) throw UsageError(where + ": read error");
    return s.str();
}

using Json = nlohmann::json;

/// Member `key` of `object` as a string, or `fallback` when absent or not a string.
std::string string_or(const Json& object, const char* key, const std::string& fallback = "") {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

/// Member `key` of `object` as a number, or `fallback` when absent, null or not a number.
double number_or(const Json& object, const char* key, double fallback) {
    const auto it = object.find(key);
    return it != object.end() && it->is_number() ? it->get<double>() : fallback;
}

int64_t integer_of(const Json& row, const char* key) {
    const double v = number_or(row, key, 0);
    return v >= 0 && v < 1e15 ? static_cast<int64_t>(v) : 0;
}

/// nlohmann's message without its "[json.exception.parse_error.101] " tag, e.g. "parse error at line
/// L, column C: <problem>; last read: '<text>'" or "number overflow parsing '1e999'". The quoted text
/// is the file's own bytes: control and non-ASCII bytes are shown as \xNN so the message stays one
/// printable line.
std::string parse_problem(const Json::exception& e) {
    std::string what = e.what();
    const std::size_t tag_end = what.find("] ");
    if (what.rfind("[json.exception.", 0) == 0 && tag_end != std::string::npos) what.erase(0, tag_end + 2);
    std::string shown;
    for (const unsigned char c : what) {
        if (c >= 0x20 && c < 0x7F) {
            shown += static_cast<char>(c);
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02X", c);
            shown += hex;
        }
    }
    return shown;
}

BenchFileRow row_of(const Json& v, std::size_t index, const std::string& where) {
    const std::string at = where + ": row " + std::to_string(index + 1);
    if (!v.is_object()) throw UsageError(at + " is not an object");
    BenchFileRow r;
    const auto name = v.find("name");
    if (name == v.end() || !name->is_string() || name->get_ref<const std::string&>().empty())
        throw UsageError(at + " has no \"name\" string");
    r.name = name->get<std::string>();
    r.kind = string_or(v, "kind");
    if (r.kind.empty()) r.kind = r.name.substr(0, r.name.find(' '));  // first-cut files: "decode f16", ...
    r.status = string_or(v, "status", "ok");
    r.note = string_or(v, "note");
    r.dtype = string_or(v, "dtype");
    r.causal = string_or(v, "causal", "none");
    r.variant = string_or(v, "variant");
    r.check = string_or(v, "check");
    r.bound = string_or(v, "bound");
    r.Hq = integer_of(v, "Hq"), r.Hkv = integer_of(v, "Hkv"), r.Lq = integer_of(v, "Lq"), r.Lk = integer_of(v, "Lk");
    r.D = integer_of(v, "D");
    r.gflops = number_or(v, "gflops", kNaN);
    r.gbps = number_or(v, "gbps", kNaN);
    r.median_ms = number_or(v, "median_ms", kNaN);
    r.pct_peak = number_or(v, "pct_peak", kNaN);
    return r;
}

}  // namespace

const BenchFileRow* BenchFile::find(const std::string& name) const {
    for (const BenchFileRow& r : rows)
        if (r.name == name) return &r;
    return nullptr;
}

std::string short_device_name(const std::string& name) {
    const std::size_t p = name.find(" (");
    return p == std::string::npos || p == 0 ? name : name.substr(0, p);
}

BenchFile load_bench_file(const std::string& path, const std::string& command) {
    const std::string where = command + ": '" + path + "'";
    const std::string text = read_text(path, where);
    Json doc;
    try {
        doc = Json::parse(text);
    } catch (const Json::exception& e) {  // parse_error, or out_of_range for a number past double
        throw UsageError(where + " is not valid JSON: " + parse_problem(e));
    }
    BenchFile f;
    f.path = path;
    const Json* rows = nullptr;
    if (doc.is_array()) {  // the first format: rows only, each naming its device
        rows = &doc;
    } else if (doc.is_object() && string_or(doc, "format") == "vkattn-bench") {
        if (const auto it = doc.find("rows"); it != doc.end()) rows = &*it;
        if (const auto d = doc.find("device"); d != doc.end() && d->is_object()) {
            f.device = string_or(*d, "name");
            f.vendor = string_or(*d, "vendor");
            f.driver = string_or(*d, "driver");
            f.driver_info = string_or(*d, "driver_info");
        }
        if (const auto r = doc.find("roofline"); r != doc.end() && r->is_object()) {
            f.fp32_gflops = number_or(*r, "fp32_gflops", kNaN);
            f.fp16_gflops = number_or(*r, "fp16_gflops", kNaN);
            f.copy_gbps = number_or(*r, "copy_gbps", kNaN);
        }
        f.date = string_or(doc, "date");
    } else {
        throw UsageError(where + " is not a vkattn bench file (expected {\"format\": \"vkattn-bench\", ...})");
    }
    if (!rows || !rows->is_array()) throw UsageError(where + " has no \"rows\" array");
    for (std::size_t i = 0; i < rows->size(); ++i) {
        const Json& row = (*rows)[i];
        f.rows.push_back(row_of(row, i, where));
        if (f.device.empty()) f.device = string_or(row, "device");
        if (f.driver.empty()) f.driver = string_or(row, "driver");
        if (f.driver_info.empty()) f.driver_info = string_or(row, "driver_info");
        if (f.vendor.empty()) f.vendor = string_or(row, "vendor");
    }
    if (f.device.empty()) f.device = "unknown device";
    return f;
}

}  // namespace vkattn::cli
