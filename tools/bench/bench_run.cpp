#include "bench/bench_run.hpp"

#include "cli/cli_common.hpp"
#include "runtime/clock.hpp"

namespace vkattn::cli {

std::string seconds_text(double s) { return format_fixed(s, s < 10 ? 1 : 0) + " s"; }

void check_bench_selection(const std::string& shapes, const std::vector<std::string>& filters) {
    if (filter_cases(bench_cases(shapes, false), filters).empty())
        throw UsageError("--filter: no case of set '" + shapes + "' has a name containing any of the given texts");
}

BenchReport new_bench_report(Context& ctx, const BenchRunOptions& o) {
    const DeviceInfo& dev = ctx.device();
    BenchReport rep;
    rep.device = dev;
    rep.shapes = o.shapes;
    rep.filters = o.filters;
    rep.date = vkattn::detail::utc_now();  // the engine's clock: the same stamps as its cache files
    rep.max_seconds_per_case = o.max_seconds_per_case >= 0      ? o.max_seconds_per_case
                               : dev.type == DeviceType::cpu ? kDefaultCpuBudgetSeconds
                                                             : 0;
    RooflineOptions ro;
    ro.remeasure = o.remeasure;
    ro.progress = o.progress;
    rep.roofline = measure_roofline(ctx, ro);
    return rep;
}

std::vector<BenchCase> bench_report_cases(const BenchReport& rep) {
    return filter_cases(bench_cases(rep.shapes, rep.device.type == DeviceType::cpu), rep.filters);
}

bool measure_bench_cases(Context& ctx, BenchReport& rep, const std::vector<BenchCase>& cases, const BenchRunOptions& o) {
    const auto say = [&o](const std::string& line) {
        if (o.progress) o.progress(line);
    };
    MeasureSettings settings = o.settings;
    settings.budget_seconds = rep.max_seconds_per_case;
    BenchEstimator estimator(rep.roofline);
    bool failed = false, lost = false;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const BenchCase& c = cases[i];
        settings.seed = case_seed(0, c.spec.name);
        BenchRow row;
        row.bench = c;
        row.flops = case_flops(c);
        row.bytes = case_bytes(c);
        row.estimated_seconds = estimator.estimate_seconds(c, settings);
        const std::string where = "[" + std::to_string(i + 1) + "/" + std::to_string(cases.size()) + "] " + c.spec.name;
        if (lost) {
            row.status = "not run";
            row.note = "the device was lost earlier";
        } else if (rep.max_seconds_per_case > 0 && row.estimated_seconds > rep.max_seconds_per_case) {
            row.status = "skipped";
            row.note = "estimated " + seconds_text(row.estimated_seconds) + " > " + seconds_text(rep.max_seconds_per_case);
            say(where + ": skipped, " + row.note + " (--max-seconds-per-case)");
        } else {
            say(where + ": estimated " + seconds_text(row.estimated_seconds) + " ...");
            try {
                const double estimate = row.estimated_seconds;
                row = measure_case(ctx, c, settings);
                row.estimated_seconds = estimate;
                estimator.add(row);
                failed = failed || row.check.starts_with("FAIL");
                if (row.status == "skipped")
                    say("    skipped, " + row.note + " (--max-seconds-per-case)");
                else
                    say("    " + format_fixed(row.median_ms, 3) + " ms, " + format_fixed(row.gflops, 2) + " GFLOP/s, " +
                        format_fixed(row.gbps, 2) + " GB/s, check " + row.check + " (" + seconds_text(row.wall_seconds) + ")");
                if (row.check.starts_with("FAIL")) say("vkattn: bench: " + c.spec.name + ": " + row.note);
            } catch (const Error& e) {
                row.status = "error";
                row.note = std::string(to_string(e.code())) + ": " + e.message();
                failed = true;
                lost = e.code() == ErrorCode::device_lost;
                say("vkattn: bench: " + c.spec.name + ": " + row.note);
            }
        }
        rep.rows.push_back(std::move(row));
        if (o.after_case) o.after_case(rep);
    }
    return failed;
}

}  // namespace vkattn::cli
