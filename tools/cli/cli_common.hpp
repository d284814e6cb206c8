#pragma once
// Helpers shared by the subcommands of `vkattn`: the common options, strict number parsing,
// and text/JSON formatting.
#include <cstdint>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

#include "vkattn/vkattn.hpp"

namespace CLI {
class App;
}

namespace vkattn::cli {

/// A bad command-line argument or input: `vkattn` exits with status 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Exit statuses.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  ///< verification failure or runtime error
constexpr int kExitUsage = 2;    ///< bad arguments or invalid input

/// Options every subcommand takes.
struct CommonOptions {
    std::string device;       ///< --device; empty: VKATTN_DEVICE, else the default rule
    bool device_given = false;
    bool verbose = false;     ///< --verbose
    bool validation = false;  ///< --validation
    std::string profile;      ///< --profile; empty: VKATTN_PROFILE, else desktop
};

/// Adds --device, --verbose, --validation and --profile to a subcommand.
void add_common_options(CLI::App& command, CommonOptions& common);

/// The selector --device asks for (--device overrides VKATTN_DEVICE, which overrides the default rule).
/// Throws UsageError naming --device when the text cannot be a selector.
DeviceSelector device_selector(const CommonOptions& common);

/// The limits profile the options select (--profile, else VKATTN_PROFILE, else desktop), checked:
/// an unknown --profile is a UsageError naming --profile and listing the valid names.
std::string checked_profile(const CommonOptions& common);

/// ContextOptions for the common options.
ContextOptions context_options(const CommonOptions& common);

/// Creates the Context. A selection that matches no device is a UsageError when the user asked for one.
Context open_context(const CommonOptions& common);

/// With --validation, prints how many validation messages the run produced (to stderr).
void report_validation(const Context& ctx, const CommonOptions& common);

/// Checks a decode's last step against the reference (FlashAttention's rule: within twice the naive
/// kernel's error in the same precision, NaN never passes) and prints "check of the last step: pass|FAIL
/// (max abs error E, bound B)". Returns whether it passed.
bool check_last_step(const std::vector<float>& out, const std::vector<float>& reference, const std::vector<float>& naive);

// ---- strict parsing: the whole text must be the number; errors name the argument ----

double parse_double(const std::string& text, const std::string& argument);
int64_t parse_integer(const std::string& text, const std::string& argument, int64_t min, int64_t max);
/// "3,5,7" -> {3, 5, 7}.
std::vector<int32_t> parse_int_list(const std::string& text, const std::string& argument);

// ---- formatting ----

/// "1.3.230".
std::string format_api_version(uint32_t version);
/// "32768 B (32 KiB)".
std::string format_bytes(uint64_t bytes);
/// Fixed-point with `decimals` digits after the point.
std::string format_fixed(double value, int decimals);
/// Scientific with `digits` after the point ("1.23e-07"); "-" for NaN.
std::string format_sci(double value, int digits = 2);
std::string yes_no(bool b);

/// A text table: columns sized to their widest cell, numbers right-aligned.
class Table {
public:
    explicit Table(std::vector<std::string> header, std::vector<bool> right_aligned = {});
    void add_row(std::vector<std::string> cells);
    void print(std::ostream& out) const;

private:
    std::vector<std::string> header_;
    std::vector<bool> right_;
    std::vector<std::vector<std::string>> rows_;
};

/// A table printed row by row as results arrive; each cell is padded to its column's fixed width.
class StreamingTable {
public:
    StreamingTable(std::vector<std::string> header, std::vector<int> widths, std::vector<bool> right_aligned = {});
    void print_header(std::ostream& out) const;
    void print_row(std::ostream& out, const std::vector<std::string>& cells) const;

private:
    std::string line(const std::vector<std::string>& cells) const;
    std::vector<std::string> header_;
    std::vector<int> widths_;
    std::vector<bool> right_;
};

}  // namespace vkattn::cli
