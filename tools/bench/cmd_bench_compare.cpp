// `vkattn bench compare a.json b.json ...`: the cases of several bench files side by side (one column
// per file, usually one per device), with each file's ratio to the first: the cross-brand table.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <memory>
#include <set>

#include "bench/bench_commands.hpp"
#include "bench/bench_files.hpp"
#include "cli/cli_common.hpp"

namespace vkattn::cli {
namespace {

struct CompareArgs {
    std::vector<std::string> files;
    std::string metric = "gflops";
    std::string format = "text";
};

struct Metric {
    const char* unit;
    bool higher_is_better;
    int decimals;
    double BenchFileRow::*field;
};

Metric metric_of(const std::string& name) {
    if (name == "gflops") return {"GFLOP/s", true, 2, &BenchFileRow::gflops};
    if (name == "gbps") return {"GB/s", true, 2, &BenchFileRow::gbps};
    if (name == "ms") return {"ms", false, 3, &BenchFileRow::median_ms};
    return {"% peak", true, 1, &BenchFileRow::pct_peak};
}

std::string file_tag(std::size_t i) {
    std::string t;
    for (std::size_t n = i + 1; n > 0; n = (n - 1) / 26) t.insert(t.begin(), char('A' + (n - 1) % 26));
    return t;
}

/// The cell of one file for one case: the figure, or why there is none.
std::string cell(const BenchFileRow* r, const Metric& m, double* value) {
    *value = std::nan("");
    if (!r) return "-";
    if (r->status != "ok") return r->status;
    const double v = r->*m.field;
    if (!std::isfinite(v)) return "n/a";
    *value = v;
    std::string s = format_fixed(v, m.decimals);
    if (r->check.rfind("FAIL", 0) == 0) s += " (FAIL)";
    return s;
}

void print_markdown(std::ostream& out, const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    const auto line = [&](const std::vector<std::string>& cells) {
        out << '|';
        for (const std::string& c : cells) out << ' ' << c << " |";
        out << '\n';
    };
    line(header);
    out << '|';
    for (std::size_t i = 0; i < header.size(); ++i) out << (i == 0 ? " --- |" : " ---: |");
    out << '\n';
    for (const auto& r : rows) line(r);
}

int run_compare(const CompareArgs& a) {
    const Metric m = metric_of(a.metric);
    std::vector<BenchFile> files;
    for (const std::string& p : a.files) files.push_back(load_bench_file(p, "compare"));

    const bool md = a.format == "markdown";
    std::cout << (md ? "" : "compare: ") << files.size() << " file(s), " << m.unit << " at the median time"
              << (files.size() > 1 ? std::string(", ratio = ") + (m.higher_is_better ? "X / A" : "A / X") +
                                         " (above 1: faster than A)"
                                   : std::string())
              << (md ? "\n\n" : "\n");
    for (std::size_t i = 0; i < files.size(); ++i) {
        const BenchFile& f = files[i];
        std::cout << (md ? "- **" : "  ") << file_tag(i) << (md ? "**: `" : "  ") << f.path << (md ? "`" : "") << ": " << f.device
                  << (f.vendor.empty() ? "" : ", " + f.vendor) << ", " << f.driver
                  << (f.driver_info.empty() ? "" : " (" + f.driver_info + ")") << (f.date.empty() ? "" : ", " + f.date)
                  << "; roofline fp32 "
                  << (std::isfinite(f.fp32_gflops) ? format_fixed(f.fp32_gflops, 1) + " GFLOP/s" : std::string("n/a"))
                  << ", copy " << (std::isfinite(f.copy_gbps) ? format_fixed(f.copy_gbps, 1) + " GB/s" : std::string("n/a"))
                  << '\n';
    }
    std::cout << '\n';

    // Every case name, in the order of first appearance (the first file's order first).
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const BenchFile& f : files)
        for (const BenchFileRow& r : f.rows)
            if (seen.insert(r.name).second) names.push_back(r.name);

    std::vector<std::string> header = {"case"};
    for (std::size_t i = 0; i < files.size(); ++i) {
        header.push_back(file_tag(i) + " " + short_device_name(files[i].device));
        if (i > 0) header.push_back(file_tag(i) + "/A");
    }
    std::vector<std::vector<std::string>> rows;
    std::vector<double> log_sum(files.size(), 0);
    std::vector<int> common(files.size(), 0);
    for (const std::string& name : names) {
        std::vector<std::string> row = {name};
        double first = std::nan("");
        for (std::size_t i = 0; i < files.size(); ++i) {
            double v = 0;
            row.push_back(cell(files[i].find(name), m, &v));
            if (i == 0) first = v;
            if (i == 0) continue;
            const double ratio = m.higher_is_better ? v / first : first / v;
            const bool ok = std::isfinite(ratio) && ratio > 0;
            row.push_back(ok ? format_fixed(ratio, 2) + "x" : "-");
            if (ok) log_sum[i] += std::log(ratio), ++common[i];
        }
        rows.push_back(std::move(row));
    }
    if (md) {
        print_markdown(std::cout, header, rows);
    } else {
        std::vector<bool> right(header.size(), true);
        right[0] = false;
        Table t(header, right);
        for (auto& r : rows) t.add_row(r);
        t.print(std::cout);
    }
    for (std::size_t i = 1; i < files.size(); ++i)
        std::cout << (md ? "\n" : "") << "geometric mean " << file_tag(i) << "/A over " << common[i] << " common case(s): "
                  << (common[i] ? format_fixed(std::exp(log_sum[i] / common[i]), 2) + "x" : std::string("n/a")) << '\n';
    return kExitOk;
}

}  // namespace

Command add_bench_compare_command(CLI::App& bench) {
    auto a = std::make_shared<CompareArgs>();
    CLI::App* app = bench.add_subcommand("compare", "Print bench JSON files side by side per case (ratios to the first)");
    app->add_option("files", a->files, "Files written by `vkattn bench --json`")->required()->type_name("FILE.json");
    app->add_option("--metric", a->metric, "What to compare")
        ->check(CLI::IsMember({"gflops", "gbps", "ms", "pct_peak"}))
        ->capture_default_str();
    app->add_option("--format", a->format, "Table format")->check(CLI::IsMember({"text", "markdown"}))->capture_default_str();
    return {app, [a] { return run_compare(*a); }};
}

}  // namespace vkattn::cli
