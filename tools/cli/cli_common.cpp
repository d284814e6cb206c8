#include "cli/cli_common.hpp"
#include "vkattn/profile.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <system_error>

namespace vkattn::cli {

std::string checked_profile(const CommonOptions& common) {
    const std::string name = effective_profile(common.profile);
    try {
        apply_profile(DeviceInfo{}, name, common.profile.empty() ? "VKATTN_PROFILE" : "--profile");
    } catch (const Error& e) {
        throw UsageError(e.message());
    }
    return name;
}

DeviceSelector device_selector(const CommonOptions& common) {
    if (!common.device_given) return {};  // the engine applies VKATTN_DEVICE, then the default rule
    if (common.device.empty()) throw UsageError("--device: empty selector (give an index, a name substring or a type)");
    try {
        DeviceSelector s = DeviceSelector::parse(common.device);
        s.ignore_environment = true;  // an explicit --device wins over VKATTN_DEVICE
        return s;
    } catch (const Error& e) {
        std::string msg = e.message();
        if (msg.rfind("device: ", 0) == 0) msg = msg.substr(8);
        throw UsageError("--device: " + msg);
    }
}

ContextOptions context_options(const CommonOptions& common) {
    ContextOptions o;
    o.device = device_selector(common);
    o.verbose = common.verbose;
    o.validation = common.validation;
    o.profile = checked_profile(common);
    return o;
}

Context open_context(const CommonOptions& common) {
    ContextOptions options = context_options(common);
    const char* env = std::getenv("VKATTN_DEVICE");
    const bool asked = !options.device.empty() || (env && *env);
    try {
        return Context(std::move(options));
    } catch (const Error& e) {
        // A selection that matches nothing is a bad argument; no device at all is a runtime failure.
        if (e.code() == ErrorCode::no_device && asked) {
            const std::string source = common.device_given ? "--device" : "VKATTN_DEVICE";
            std::string msg = e.message();
            if (msg.rfind("device: ", 0) == 0) msg = msg.substr(8);
            throw UsageError(source + ": " + msg);
        }
        throw;
    }
}

void report_validation(const Context& ctx, const CommonOptions& common) {
    if (!common.validation) return;
    std::cerr << "vkattn: validation layer: " << ctx.validation_message_count() << " message(s)\n";
}

bool check_last_step(const std::vector<float>& out, const std::vector<float>& reference, const std::vector<float>& naive) {
    double err = 0, bound = 0;
    for (std::size_t e = 0; e < out.size(); ++e) {
        err = std::isfinite(out[e]) ? std::max(err, std::fabs(double(out[e]) - reference[e])) : INFINITY;
        bound = std::max(bound, std::fabs(double(naive[e]) - reference[e]));
    }
    const bool pass = out.size() == reference.size() && err <= 2 * bound + 1e-6;
    std::cout << "check of the last step: " << (pass ? "pass" : "FAIL") << " (max abs error " << err << ", bound "
              << 2 * bound + 1e-6 << ")\n";
    return pass;
}

// ---- parsing ----

namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string_view strip_plus(std::string_view s) {
    if (s.size() > 1 && s.front() == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
    return s;
}

}  // namespace

double parse_double(const std::string& text, const std::string& argument) {
    const std::string_view s = strip_plus(text);
    double value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size())
        throw UsageError(argument + ": " + quoted(text) + " is not a number");
    if (ec == std::errc::result_out_of_range) throw UsageError(argument + ": " + quoted(text) + " is out of range");
    return value;
}

int64_t parse_integer(const std::string& text, const std::string& argument, int64_t min, int64_t max) {
    const std::string_view s = strip_plus(text);
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size())
        throw UsageError(argument + ": " + quoted(text) + " is not an integer");
    if (ec == std::errc::result_out_of_range || value < min || value > max)
        throw UsageError(argument + ": " + quoted(text) + " is outside [" + std::to_string(min) + ", " +
                         std::to_string(max) + "]");
    return value;
}

std::vector<int32_t> parse_int_list(const std::string& text, const std::string& argument) {
    std::vector<int32_t> values;
    if (text.empty()) throw UsageError(argument + ": empty list (expected comma-separated integers, e.g. 3,5,7)");
    std::size_t start = 0;
    for (int item = 1;; ++item) {
        const std::size_t comma = text.find(',', start);
        const std::string piece = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const std::string where = argument + " item " + std::to_string(item);
        if (piece.empty()) throw UsageError(where + ": empty (expected comma-separated integers, e.g. 3,5,7)");
        values.push_back(static_cast<int32_t>(
            parse_integer(piece, where, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max())));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return values;
}

// ---- formatting ----

std::string format_api_version(uint32_t v) {
    return std::to_string(v >> 22 & 0x7F) + "." + std::to_string(v >> 12 & 0x3FF) + "." + std::to_string(v & 0xFFF);
}

std::string format_bytes(uint64_t bytes) {
    std::string s = std::to_string(bytes) + " B";
    const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = -1;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        ++u;
    }
    if (u >= 0) s += " (" + format_fixed(v, v == std::floor(v) ? 0 : 1) + " " + units[u] + ")";
    return s;
}

std::string format_fixed(double value, int decimals) {
    if (std::isnan(value)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    return buf;
}

std::string format_sci(double value, int digits) {
    if (std::isnan(value)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*e", digits, value);
    return buf;
}

std::string yes_no(bool b) { return b ? "yes" : "no"; }

Table::Table(std::vector<std::string> header, std::vector<bool> right_aligned)
    : header_(std::move(header)), right_(std::move(right_aligned)) {
    right_.resize(header_.size(), false);
}

void Table::add_row(std::vector<std::string> cells) {
    cells.resize(header_.size());
    rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
    std::vector<std::size_t> width(header_.size());
    for (std::size_t c = 0; c < header_.size(); ++c) {
        width[c] = header_[c].size();
        for (const auto& r : rows_) width[c] = std::max(width[c], r[c].size());
    }
    const auto print_line = [&](const std::vector<std::string>& cells) {
        std::string line;
        for (std::size_t c = 0; c < cells.size(); ++c) {
            const std::string pad(width[c] - cells[c].size(), ' ');
            if (c) line += "  ";
            line += right_[c] ? pad + cells[c] : cells[c] + (c + 1 < cells.size() ? pad : "");
        }
        out << line << '\n';
    };
    print_line(header_);
    std::vector<std::string> rule;
    for (std::size_t w : width) rule.push_back(std::string(w, '-'));
    print_line(rule);
    for (const auto& r : rows_) print_line(r);
}

StreamingTable::StreamingTable(std::vector<std::string> header, std::vector<int> widths, std::vector<bool> right_aligned)
    : header_(std::move(header)), widths_(std::move(widths)), right_(std::move(right_aligned)) {
    widths_.resize(header_.size(), 8);
    right_.resize(header_.size(), false);
}

std::string StreamingTable::line(const std::vector<std::string>& cells) const {
    std::string line;
    for (std::size_t c = 0; c < header_.size(); ++c) {
        const std::string cell = c < cells.size() ? cells[c] : "";
        const std::size_t w = static_cast<std::size_t>(widths_[c]);
        const std::string pad(cell.size() < w ? w - cell.size() : 0, ' ');
        if (c) line += "  ";
        line += right_[c] ? pad + cell : cell + (c + 1 < header_.size() ? pad : "");
    }
    return line;
}

void StreamingTable::print_header(std::ostream& out) const {
    out << line(header_) << '\n';
    std::vector<std::string> rule;
    for (int w : widths_) rule.push_back(std::string(static_cast<std::size_t>(w), '-'));
    out << line(rule) << '\n';
}

void StreamingTable::print_row(std::ostream& out, const std::vector<std::string>& cells) const {
    out << line(cells) << '\n' << std::flush;
}

}  // namespace vkattn::cli
