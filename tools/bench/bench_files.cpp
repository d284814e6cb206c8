#include "bench/bench_files.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "cli/cli_common.hpp"
#include "bench/json_value.hpp"

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

int64_t integer_of(const JsonValue& row, const char* key) {
    const double v = row.number_or(key, 0);
    return v >= 0 && v < 1e15 ? static_cast<int64_t>(v) : 0;
}

BenchFileRow row_of(const JsonValue& v, std::size_t index, const std::string& where) {
    const std::string at = where + ": row " + std::to_string(index + 1);
    if (!v.is_object()) throw UsageError(at + " is not an object");
    BenchFileRow r;
    const JsonValue* name = v.find("name");
    if (!name || !name->is_string() || name->string().empty()) throw UsageError(at + " has no \"name\" string");
    r.name = name->string();
    r.kind = v.string_or("kind");
    if (r.kind.empty()) r.kind = r.name.substr(0, r.name.find(' '));  // first-cut files: "decode f16", ...
    r.status = v.string_or("status", "ok");
    r.note = v.string_or("note");
    r.dtype = v.string_or("dtype");
    r.causal = v.string_or("causal", "none");
    r.variant = v.string_or("variant");
    r.check = v.string_or("check");
    r.bound = v.string_or("bound");
    r.Hq = integer_of(v, "Hq"), r.Hkv = integer_of(v, "Hkv"), r.Lq = integer_of(v, "Lq"), r.Lk = integer_of(v, "Lk");
    r.D = integer_of(v, "D");
    r.gflops = v.number_or("gflops", kNaN);
    r.gbps = v.number_or("gbps", kNaN);
    r.median_ms = v.number_or("median_ms", kNaN);
    r.pct_peak = v.number_or("pct_peak", kNaN);
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
    JsonValue doc;
    try {
        doc = parse_json(text);
    } catch (const JsonError& e) {
        throw UsageError(where + " is not valid JSON: " + e.what());
    }
    BenchFile f;
    f.path = path;
    const JsonValue* rows = nullptr;
    if (doc.is_array()) {  // the first format: rows only, each naming its device
        rows = &doc;
    } else if (doc.is_object() && doc.string_or("format") == "vkattn-bench") {
        rows = doc.find("rows");
        if (const JsonValue* d = doc.find("device"); d && d->is_object()) {
            f.device = d->string_or("name");
            f.vendor = d->string_or("vendor");
            f.driver = d->string_or("driver");
            f.driver_info = d->string_or("driver_info");
        }
        if (const JsonValue* r = doc.find("roofline"); r && r->is_object()) {
            f.fp32_gflops = r->number_or("fp32_gflops", kNaN);
            f.fp16_gflops = r->number_or("fp16_gflops", kNaN);
            f.copy_gbps = r->number_or("copy_gbps", kNaN);
        }
        f.date = doc.string_or("date");
    } else {
        throw UsageError(where + " is not a vkattn bench file (expected {\"format\": \"vkattn-bench\", ...})");
    }
    if (!rows || !rows->is_array()) throw UsageError(where + " has no \"rows\" array");
    for (std::size_t i = 0; i < rows->items().size(); ++i) {
        f.rows.push_back(row_of(rows->items()[i], i, where));
        if (f.device.empty()) f.device = rows->items()[i].string_or("device");
        if (f.driver.empty()) f.driver = rows->items()[i].string_or("driver");
        if (f.driver_info.empty()) f.driver_info = rows->items()[i].string_or("driver_info");
        if (f.vendor.empty()) f.vendor = rows->items()[i].string_or("vendor");
    }
    if (f.device.empty()) f.device = "unknown device";
    return f;
}

}  // namespace vkattn::cli
