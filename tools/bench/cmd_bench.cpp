// `vkattn bench`: times the standard attention shapes on the device (each checked once against the host
// reference, then GPU-timestamped after a warm-up), places every row on the device's measured roofline,
// and prints a table, optionally JSON and CSV. Subcommands: roofline (the figures alone), compare
// (files side by side) and plot (a PNG).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>

#include "bench/bench_commands.hpp"
#include "bench/bench_linear.hpp"
#include "bench/bench_overhead.hpp"
#include "bench/bench_report.hpp"
#include "bench/bench_run.hpp"
#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "vkattn/roofline.hpp"

namespace vkattn::cli {
namespace {

struct BenchArgs {
    CommonOptions common;
    std::string shapes = "quick";
    std::vector<std::string> filters;
    std::string repeat;  // empty: 100 (overhead set: 7 runs)
    std::string max_seconds;
    std::string json, csv;
    bool no_check = false;
    bool remeasure = false;
};

/// Fails on an unwritable output path before minutes of benchmarking, without truncating the file.
void probe_writable(const std::string& path, const std::string& option) {
    if (path.empty()) return;
    std::ofstream probe(path, std::ios::app);
    if (!probe) throw UsageError(option + ": cannot open '" + path + "' for writing");
}

RooflineFigures roofline_for(Context& ctx, bool remeasure) {
    RooflineOptions o;
    o.remeasure = remeasure;
    o.progress = [](const std::string& line) { std::cerr << line << std::endl; };
    return measure_roofline(ctx, o);
}

int run_bench(const BenchArgs& a) {
    if (a.shapes == "overhead") {
        // Host time per operation, not kernel time: its own runner (bench_overhead.cpp).
        probe_writable(a.json, "--json");
        if (!a.csv.empty()) throw UsageError("--csv: the overhead set writes JSON only (--json)");
        OverheadArgs o;
        o.common = a.common;
        o.json = a.json;
        o.filters = a.filters;
        if (!a.repeat.empty()) o.repeats = static_cast<int>(parse_integer(a.repeat, "--repeat", 1, 1000));
        return run_overhead_bench(o);
    }
    BenchRunOptions run;
    run.shapes = a.shapes;
    run.filters = a.filters;
    run.settings.max_repeats = static_cast<int>(parse_integer(a.repeat.empty() ? "100" : a.repeat, "--repeat", 1, 1000000));
    run.settings.check = !a.no_check;
    run.max_seconds_per_case = a.max_seconds.empty() ? -1 : parse_double(a.max_seconds, "--max-seconds-per-case");
    if (!a.max_seconds.empty() && !(run.max_seconds_per_case >= 0 && std::isfinite(run.max_seconds_per_case)))
        throw UsageError("--max-seconds-per-case: '" + a.max_seconds + "' must be a non-negative number (0: no limit)");
    run.remeasure = a.remeasure;
    run.progress = [](const std::string& line) { std::cerr << line << std::endl; };
    // The JSON file holds every row measured so far: a run stopped by a time limit (the GPU kit's steps)
    // still leaves its finished rows to `bench compare` and compare_torch.py --from-bench.
    if (!a.json.empty()) run.after_case = [path = a.json](const BenchReport& rep) { write_bench_json(path, rep); };
    check_bench_selection(a.shapes, a.filters);
    probe_writable(a.json, "--json");
    probe_writable(a.csv, "--csv");

    Context ctx = open_context(a.common);
    const DeviceInfo& dev = ctx.device();
    const bool cpu = dev.type == DeviceType::cpu;
    BenchReport rep = new_bench_report(ctx, run);
    const std::vector<BenchCase> cases = bench_report_cases(rep);

    std::cout << "bench: [" << dev.index << "] " << dev.name << ", " << dev.vendor << ", " << to_string(dev.type) << ", driver "
              << dev.driver_name << " (" << dev.driver_info << ")\n"
              << "timer: " << (dev.timestamps ? "GPU timestamps" : "host clock (the device has no timestamps)")
              << "; per case: one checked run, one warm-up, then repeats until " << kBenchTargetMilliseconds << " ms (at least "
              << kBenchMinRepeats << ", at most " << std::max(run.settings.max_repeats, kBenchMinRepeats) << ")\n"
              << "shapes: " << a.shapes << ", " << cases.size() << " case(s)"
              << (rep.max_seconds_per_case > 0 ? ", skipping cases estimated over " + seconds_text(rep.max_seconds_per_case) +
                                                     " (--max-seconds-per-case)"
                                               : std::string(", no time budget"))
              << (cpu && (a.shapes == "standard" || a.shapes == "prefill") ? "; prefill N=16384 runs on GPUs only" : "")
              << '\n';
    print_roofline(std::cout, rep.roofline);
    std::cout << std::endl;

    const auto start = std::chrono::steady_clock::now();
    const bool failed = measure_bench_cases(ctx, rep, cases, run);

    std::cout << '\n';
    print_bench_table(std::cout, rep);
    print_scaling_summary(std::cout, rep);
    print_linear_summary(std::cout, rep);
    print_explicit_summary(std::cout, rep);
    print_kv_format_summary(std::cout, rep);
    int skipped = 0;
    for (const BenchRow& r : rep.rows) skipped += r.status == "skipped";
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "bench: " << rep.rows.size() - static_cast<std::size_t>(skipped) << " case(s) run, " << skipped
              << " skipped over the time budget, " << seconds_text(total) << '\n';
    if (!a.json.empty()) {
        write_bench_json(a.json, rep);
        std::cout << "wrote " << a.json << '\n';
    }
    if (!a.csv.empty()) {
        write_bench_csv(a.csv, rep);
        std::cout << "wrote " << a.csv << '\n';
    }
    if (a.common.verbose)
        std::cerr << "vkattn: " << ctx.pipeline_count() << " pipeline(s), " << format_fixed(ctx.pipeline_compile_seconds(), 2)
                  << " s compiling\n";
    report_validation(ctx, a.common);
    return failed ? kExitFailure : kExitOk;
}

struct RooflineArgs {
    CommonOptions common;
    bool remeasure = false;
};

int run_roofline(const RooflineArgs& a) {
    Context ctx = open_context(a.common);
    const RooflineFigures r = roofline_for(ctx, a.remeasure);
    std::cout << "[" << ctx.device().index << "] " << ctx.device().name << ", driver " << ctx.device().driver_name << " ("
              << ctx.device().driver_info << ")\n";
    print_roofline(std::cout, r);
    if (!r.cache_file.empty()) std::cout << "cache: " << r.cache_file << '\n';
    if (!r.samples.empty()) {
        std::cout << '\n';
        Table t({"kernel", "configuration", "value", "median ms", "min ms", "max ms", "n"},
                {false, false, true, true, true, true, true});
        for (const RooflineSample& s : r.samples)
            t.add_row({s.kernel, s.config, format_fixed(s.value, 2) + (s.kernel == "copy" ? " GB/s" : " GFLOP/s"),
                       format_fixed(s.median_ms, 2), format_fixed(s.min_ms, 2), format_fixed(s.max_ms, 2),
                       std::to_string(s.repeats)});
        t.print(std::cout);
    }
    report_validation(ctx, a.common);
    return kExitOk;
}

}  // namespace

Command add_bench_command(CLI::App& parent) {
    auto a = std::make_shared<BenchArgs>();
    CLI::App* app = parent.add_subcommand("bench", "Time standard attention shapes on the device against its measured roofline");
    app->add_option("--shapes", a->shapes, "Shape set: quick, standard, prefill, decode, memory (f16 prefill at N=32768) local (sliding window, linear in N), linear (linear vs softmax attention), weights (explicit vs fused path), matmul (the layers' matmul, % of the fp32 peak), mha (multi-head attention layer), gpu (sized for a datacenter GPU: f16 prefill H32 N 1k-16k, GQA decode to 128k keys, explicit; the GPU kit's set) or overhead (host time per operation: synchronous, batched, recorded)")
        ->check(CLI::IsMember([] {
            std::vector<std::string> sets = bench_set_names();
            sets.push_back("overhead");  // not a set of cases: bench_overhead.cpp
            return sets;
        }()))
        ->capture_default_str();
    app->add_option("--filter", a->filters, "Run only the cases whose name contains TEXT (repeatable: any of them)")
        ->type_name("TEXT")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app->add_option("--repeat", a->repeat, "At most R timed runs per shape (default 100; at least 3; stops once 200 ms were measured); overhead set: R runs of 256 operations per shape and mode (default 7)")
        ->capture_default_str()
        ->type_name("R");
    app->add_option("--max-seconds-per-case", a->max_seconds,
                    "Skip (and list) cases whose estimated time exceeds S seconds; 0: no limit (default: 20 on CPU "
                    "devices, no limit on GPUs)")
        ->type_name("S");
    app->add_option("--json", a->json, "Also write the results as JSON to FILE (read by bench compare / plot)")->type_name("FILE");
    app->add_option("--csv", a->csv, "Also write the rows as CSV to FILE")->type_name("FILE");
    app->add_flag("--no-check", a->no_check, "Do not compare results with the host reference");
    app->add_flag("--remeasure", a->remeasure, "Measure the roofline again instead of using the cached figures");
    add_common_options(*app, a->common);

    auto r = std::make_shared<RooflineArgs>();
    CLI::App* roof = app->add_subcommand("roofline", "Measure (or show the cached) fp32/fp16 FMA peaks and copy bandwidth");
    roof->add_flag("--remeasure", r->remeasure, "Measure again instead of using the cached figures");
    add_common_options(*roof, r->common);

    const Command compare = add_bench_compare_command(*app);
    const Command plot = add_bench_plot_command(*app);
    app->require_subcommand(0, 1);
    return {app, [a, r, roof, compare, plot] {
                if (roof->parsed()) return run_roofline(*r);
                if (compare.app->parsed()) return compare.run();
                if (plot.app->parsed()) return plot.run();
                return run_bench(*a);
            }};
}

}  // namespace vkattn::cli
