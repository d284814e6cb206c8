// `vkattn tune`: times the fused kernel's candidate tilings on this device and caches the winners
// (per device UUID and driver version); the planner prefers them from then on (also in bench rows,
// whose variant names then end in ",tuned").
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "vkattn/tuning.hpp"

namespace vkattn::cli {

namespace {

struct TuneArgs {
    CommonOptions common;
    std::string head_dims = "64,128";
    std::string dtypes = "f32,f16";
    int64_t heads = 8, seq = 2048;
    int repeats = 5;
    std::size_t max_candidates = 0;
    bool dry_run = false;
};

int run_tune(const TuneArgs& a) {
    TuneOptions o;
    o.head_dims.clear();
    for (int32_t d : parse_int_list(a.head_dims, "--head-dims")) {
        if (d < 1 || d > 512) throw UsageError("--head-dims: " + std::to_string(d) + " is not in [1, 512]");
        o.head_dims.push_back(d);
    }
    o.dtypes.clear();
    std::string rest = a.dtypes;
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string t = rest.substr(0, comma);
        if (t == "f32") o.dtypes.push_back(DType::f32);
        else if (t == "f16") o.dtypes.push_back(DType::f16);
        else throw UsageError("--dtypes: '" + t + "' is not f32 or f16");
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
    if (o.dtypes.empty()) throw UsageError("--dtypes: empty");
    o.heads = a.heads, o.seq = a.seq, o.repeats = a.repeats, o.max_candidates = a.max_candidates;
    o.save = !a.dry_run;
    o.progress = [](const std::string& line) { std::cerr << line << std::endl; };

    Context ctx = open_context(a.common);
    std::cout << "tune: " << ctx.device().name << " (" << ctx.device().driver_name << " " << ctx.device().driver_info << ")\n";
    const TuneReport rep = tune(ctx, o);
    for (const TuneResult& r : rep.results) {
        std::cout << '\n' << r.key << " on " << r.problem << ":\n";
        Table t({"candidate", "median ms", "min ms", "max ms", "GFLOP/s", "vs default", ""},
                {false, true, true, true, true, true, false});
        const double def = r.candidates.front().median_ms;
        for (std::size_t i = 0; i < r.candidates.size(); ++i) {
            const TuneCandidate& c = r.candidates[i];
            if (!c.error.empty()) {
                t.add_row({c.variant, "failed: " + c.error});
                continue;
            }
            t.add_row({c.variant, format_fixed(c.median_ms, 3), format_fixed(c.min_ms, 3), format_fixed(c.max_ms, 3),
                       format_fixed(c.gflops, 2), format_fixed(def / c.median_ms, 2) + "x",
                       std::string(c.is_default ? "default" : "") + (i == r.winner ? (c.is_default ? ", winner" : "winner") : "")});
        }
        t.print(std::cout);
    }
    if (a.dry_run)
        std::cout << "\n--dry-run: nothing saved\n";
    else if (rep.cache_file.empty())
        std::cout << "\nwinners not saved: the cache directory is off or not writable\n";
    else
        std::cout << "\nwinners saved to " << rep.cache_file << "; the planner uses them on this device and driver\n";
    report_validation(ctx, a.common);
    return kExitOk;
}

}  // namespace

Command add_tune_command(CLI::App& parent) {
    auto a = std::make_shared<TuneArgs>();
    CLI::App* app = parent.add_subcommand("tune", "Time the fused kernel's candidate tiles on this device and cache the fastest");
    app->add_option("--head-dims", a->head_dims, "Head dims to tune, comma separated (each tunes its class 64/128/256/512)")
        ->capture_default_str();
    app->add_option("--dtypes", a->dtypes, "Input dtypes to tune: f32, f16 or both")->capture_default_str();
    app->add_option("--heads", a->heads, "Heads of the tuning problem (B = 1)")->capture_default_str()->check(CLI::Range(1, 256));
    app->add_option("--seq", a->seq, "Queries = keys of the tuning problem")->capture_default_str()->check(CLI::Range(16, 65536));
    app->add_option("--repeat", a->repeats, "Timed runs per candidate (median)")->capture_default_str()->check(CLI::Range(1, 1000));
    app->add_option("--max-candidates", a->max_candidates, "Time only the default and the first n - 1 others (0: all)")
        ->capture_default_str();
    app->add_flag("--dry-run", a->dry_run, "Time and print, but do not save the winners");
    add_common_options(*app, a->common);
    return {app, [a] { return run_tune(*a); }};
}

}  // namespace vkattn::cli
