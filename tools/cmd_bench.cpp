// `vkattn bench`: times standard attention shapes on the device (GPU timestamps), checks each one
// against the host reference when that is cheap enough, and optionally writes the rows as JSON.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "problem.hpp"

namespace vkattn::cli {
namespace {

struct BenchArgs {
    CommonOptions common;
    std::string shapes = "quick";
    std::string repeat = "100";
    std::string json;
    bool no_check = false;
};

/// Problems above this many floating-point operations are not checked (the host reference is slow).
constexpr double kCheckLimitFlops = 2e9;
/// Timed runs stop once this much time was measured (and at least kMinRepeats ran).
constexpr double kTargetMilliseconds = 200;
constexpr int kMinRepeats = 3;

ProblemSpec shape(std::string name, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D, DType dtype, Causal causal,
                  Path path = Path::automatic) {
    ProblemSpec s;
    s.name = std::move(name);
    s.B = 1, s.Hq = Hq, s.Hkv = Hkv, s.Lq = Lq, s.Lk = Lk, s.D = D, s.Dv = D;
    s.dtype = dtype;
    s.causal = causal;
    s.path = path;
    return s;
}

std::vector<ProblemSpec> bench_shapes(const std::string& set) {
    std::vector<ProblemSpec> v;
    const auto square = [&](int64_t n, DType dt, Causal c) {
        v.push_back(shape(std::string("self ") + std::string(dtype_name(dt)) + (c == Causal::none ? "" : " causal"), 8, 8, n, n,
                          64, dt, c));
    };
    if (set == "quick") {
        square(256, DType::f32, Causal::none);
        square(256, DType::f16, Causal::none);
        square(256, DType::f16, Causal::top_left);
        v.push_back(shape("decode f16", 32, 8, 1, 1024, 128, DType::f16, Causal::none));
        v.push_back(shape("explicit f32", 8, 8, 128, 128, 64, DType::f32, Causal::none, Path::explicit_));
        return v;
    }
    for (int64_t n : {256, 512, 1024})
        for (DType dt : {DType::f32, DType::f16})
            for (Causal c : {Causal::none, Causal::top_left}) square(n, dt, c);
    v.push_back(shape("decode f16", 32, 8, 1, 4096, 128, DType::f16, Causal::none));
    v.push_back(shape("explicit f32", 8, 8, 256, 256, 64, DType::f32, Causal::none, Path::explicit_));
    return v;
}

struct BenchRow {
    ProblemSpec spec;
    std::string variant, path;
    int repeats = 0;
    double median_ms = 0, min_ms = 0, max_ms = 0;
    double gflop = 0, gflops = 0;
    std::string timer;  ///< "gpu" (timestamps) or "host" (wall clock; timestamps unsupported)
    std::string check;  ///< "pass", "FAIL", "skipped", "off"
    double max_abs_err = std::numeric_limits<double>::quiet_NaN();
    double bound = std::numeric_limits<double>::quiet_NaN();
};

BenchRow bench_one(Context& ctx, const ProblemSpec& s, int max_repeats, bool check, uint64_t seed) {
    BenchRow row;
    row.spec = s;
    row.gflop = attention_flops(s) / 1e9;
    const GeneratedProblem g = generate_problem(s, seed);
    DeviceProblem d = upload_problem(ctx, s, g);
    d.options.measure_time = true;

    // The first call compiles pipelines (when not cached); it doubles as the checked run.
    const AttentionResult first = attention_full(ctx, d.q, d.k, d.v, d.options);
    row.variant = first.variant;
    row.path = to_string(first.path);
    if (!check) {
        row.check = "off";
    } else if (attention_flops(s) > kCheckLimitFlops) {
        row.check = "skipped";
    } else {
        const Comparison c = compare_output(first.out.download<float>(), g, s.dtype);
        row.check = c.pass ? "pass" : "FAIL";
        row.max_abs_err = c.max_abs_err;
        row.bound = c.bound;
        if (!c.pass) std::cerr << "vkattn: bench: " << s.name << ": check failed: " << c.why << '\n';
    }
    (void)attention_full(ctx, d.q, d.k, d.v, d.options);  // warm-up

    std::vector<double> ms;
    double total = 0;
    const bool gpu_timer = ctx.device().timestamps && first.gpu_milliseconds >= 0;
    row.timer = gpu_timer ? "gpu" : "host";
    while (static_cast<int>(ms.size()) < max_repeats) {
        const auto t0 = std::chrono::steady_clock::now();
        const AttentionResult r = attention_full(ctx, d.q, d.k, d.v, d.options);
        const double host = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        const double t = gpu_timer && r.gpu_milliseconds >= 0 ? r.gpu_milliseconds : host;
        ms.push_back(t);
        total += t;
        if (static_cast<int>(ms.size()) >= kMinRepeats && total >= kTargetMilliseconds) break;
    }
    std::sort(ms.begin(), ms.end());
    row.repeats = static_cast<int>(ms.size());
    const std::size_t n = ms.size();
    row.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    row.min_ms = ms.front();
    row.max_ms = ms.back();
    row.gflops = row.median_ms > 0 ? row.gflop / (row.median_ms / 1e3) : 0;
    return row;
}

void write_json(const std::string& path, const std::vector<BenchRow>& rows, const DeviceInfo& dev) {
    std::ofstream f(path);
    if (!f) throw Error(ErrorCode::io_error, "--json: cannot open '" + path + "' for writing");
    f << "[\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const BenchRow& r = rows[i];
        const ProblemSpec& s = r.spec;
        f << "  {\"name\": " << json_string(s.name) << ", \"device\": " << json_string(dev.name)
          << ", \"driver\": " << json_string(dev.driver_name) << ", \"driver_info\": " << json_string(dev.driver_info)
          << ", \"api_version\": " << json_string(format_api_version(dev.api_version)) << ", \"B\": " << s.B
          << ", \"Hq\": " << s.Hq << ", \"Hkv\": " << s.Hkv << ", \"Lq\": " << s.Lq << ", \"Lk\": " << s.Lk << ", \"D\": " << s.D
          << ", \"Dv\": " << s.Dv << ", \"dtype\": " << json_string(std::string(dtype_name(s.dtype)))
          << ", \"causal\": " << json_string(to_string(s.causal)) << ", \"path\": " << json_string(r.path)
          << ", \"variant\": " << json_string(r.variant) << ", \"timer\": " << json_string(r.timer)
          << ", \"repeats\": " << r.repeats << ", \"median_ms\": " << json_number(r.median_ms)
          << ", \"min_ms\": " << json_number(r.min_ms) << ", \"max_ms\": " << json_number(r.max_ms)
          << ", \"gflop\": " << json_number(r.gflop) << ", \"gflops\": " << json_number(r.gflops)
          << ", \"check\": " << json_string(r.check) << ", \"max_abs_err\": " << json_number(r.max_abs_err)
          << ", \"bound\": " << json_number(r.bound) << "}" << (i + 1 < rows.size() ? "," : "") << '\n';
    }
    f << "]\n";
    f.close();
    if (!f) throw Error(ErrorCode::io_error, "--json: error writing '" + path + "'");
}

int run_bench(const BenchArgs& a) {
    const int repeats = static_cast<int>(parse_integer(a.repeat, "--repeat", 1, 1000000));
    const int max_repeats = std::max(repeats, kMinRepeats);
    if (!a.json.empty()) {  // fail on an unwritable path before spending minutes benchmarking
        std::ofstream probe(a.json, std::ios::app);
        if (!probe) throw UsageError("--json: cannot open '" + a.json + "' for writing");
    }
    const std::vector<ProblemSpec> specs = bench_shapes(a.shapes);
    Context ctx = open_context(a.common);
    const DeviceInfo& dev = ctx.device();
    std::cout << "bench: [" << dev.index << "] " << dev.name << ", driver " << dev.driver_name << " (" << dev.driver_info
              << "), timer " << (dev.timestamps ? "GPU timestamps" : "host clock (no timestamps)") << ", up to "
              << max_repeats << " repeats or " << kTargetMilliseconds << " ms per shape\n";

    std::vector<BenchRow> rows;
    bool check_failed = false;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const ProblemSpec& s = specs[i];
        std::cerr << "[" << i + 1 << "/" << specs.size() << "] " << s.name << " " << shape_text(s) << " ..." << std::endl;
        rows.push_back(bench_one(ctx, s, max_repeats, !a.no_check, case_seed(0, s.name)));
        check_failed = check_failed || rows.back().check == "FAIL";
    }

    std::cout << '\n';
    Table table({"name", "shape", "dtype", "causal", "variant", "median ms", "min ms", "max ms", "GFLOP/s", "n", "timer", "check"},
                {false, false, false, false, false, true, true, true, true, true, false, false});
    bool skipped = false;
    for (const BenchRow& r : rows) {
        skipped = skipped || r.check == "skipped";
        table.add_row({r.spec.name, shape_text(r.spec), std::string(dtype_name(r.spec.dtype)), to_string(r.spec.causal), r.variant,
                       format_fixed(r.median_ms, 3), format_fixed(r.min_ms, 3), format_fixed(r.max_ms, 3),
                       format_fixed(r.gflops, 2), std::to_string(r.repeats), r.timer, r.check});
    }
    table.print(std::cout);
    std::cout << "GFLOP/s counts 2*(D+Dv) flops per visible (query, key) pair, at the median time.\n";
    if (skipped)
        std::cout << "check skipped: problems above " << format_fixed(kCheckLimitFlops / 1e9, 0)
                  << " GFLOP are not compared with the host reference (too slow).\n";
    if (!a.json.empty()) {
        write_json(a.json, rows, dev);
        std::cout << "wrote " << a.json << '\n';
    }
    if (a.common.verbose)
        std::cerr << "vkattn: " << ctx.pipeline_count() << " pipeline(s), " << format_fixed(ctx.pipeline_compile_seconds(), 2)
                  << " s compiling\n";
    report_validation(ctx, a.common);
    return check_failed ? kExitFailure : kExitOk;
}

}  // namespace

Command add_bench_command(CLI::App& parent) {
    auto a = std::make_shared<BenchArgs>();
    CLI::App* app = parent.add_subcommand("bench", "Time standard attention shapes on the device");
    app->add_option("--shapes", a->shapes, "Shape set")->check(CLI::IsMember({"quick", "standard"}))->capture_default_str();
    app->add_option("--repeat", a->repeat,
                    "At most R timed runs per shape (at least 3; stops early after 200 ms of measured time)")
        ->capture_default_str()
        ->type_name("R");
    app->add_option("--json", a->json, "Also write the rows as a JSON array to FILE")->type_name("FILE");
    app->add_flag("--no-check", a->no_check, "Do not compare results with the host reference");
    add_common_options(*app, a->common);
    return {app, [a] { return run_bench(*a); }};
}

}  // namespace vkattn::cli
