// `vkattn verify`: runs random problems on the device and checks each against the host reference,
// bounding the error by what a straightforward implementation in the kernel's precision gets.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <limits>
#include <memory>
#include <random>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/problem.hpp"

namespace vkattn::cli {
namespace {

struct VerifyArgs {
    CommonOptions common;
    std::string seed;
    bool quick = false;
    std::string random;
    std::string case_filter;
};

struct VerifyCase {
    ProblemSpec spec;
    bool quick = false;  ///< part of --quick
};

ProblemSpec make(std::string name, int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D, int64_t Dv,
                 DType dtype, Path path) {
    ProblemSpec s;
    s.name = std::move(name);
    s.B = B, s.Hq = Hq, s.Hkv = Hkv, s.Lq = Lq, s.Lk = Lk, s.D = D, s.Dv = Dv;
    s.dtype = dtype;
    s.path = path;
    return s;
}

/// The fixed list: dtypes, both paths, MHA/GQA/MQA, both causal alignments, key lengths, additive and
/// boolean masks, cross attention, odd sizes, large and unequal head dims, strided inputs.
std::vector<VerifyCase> fixed_cases() {
    constexpr DType f32 = DType::f32, f16 = DType::f16;
    constexpr Path fused = Path::fused, expl = Path::explicit_;
    std::vector<VerifyCase> cases;
    const auto add = [&](ProblemSpec s, bool quick) { cases.push_back({std::move(s), quick}); };

    add(make("mha f32", 2, 4, 4, 96, 96, 64, 64, f32, fused), true);
    add(make("mha f16", 2, 4, 4, 96, 96, 64, 64, f16, fused), true);
    {
        auto s = make("gqa causal top-left f32", 1, 8, 2, 96, 160, 64, 64, f32, fused);
        s.causal = Causal::top_left;
        add(s, true);
    }
    {
        auto s = make("mqa causal bottom-right f16", 1, 8, 1, 64, 200, 128, 128, f16, fused);
        s.causal = Causal::bottom_right;
        add(s, false);
    }
    {
        auto s = make("key lengths f32", 3, 2, 2, 64, 100, 64, 64, f32, fused);
        s.key_lengths = true;
        add(s, false);
    }
    {
        auto s = make("additive mask f16", 2, 4, 4, 80, 120, 64, 64, f16, fused);
        s.mask = MaskKind::additive;
        add(s, true);
    }
    {
        auto s = make("bool mask [B,1,Lq,Lk] f32", 2, 4, 2, 70, 90, 64, 64, f32, fused);
        s.mask = MaskKind::boolean;
        s.mask_per_batch = true;
        add(s, false);
    }
    add(make("cross odd sizes f32", 1, 2, 2, 113, 203, 80, 80, f32, fused), true);
    {
        auto s = make("cross odd causal f16", 1, 2, 1, 113, 203, 80, 80, f16, fused);
        s.causal = Causal::bottom_right;
        add(s, false);
    }
    add(make("head dim 256 f32", 1, 2, 2, 48, 64, 256, 256, f32, fused), false);
    add(make("Dv != D f16", 1, 4, 2, 64, 96, 64, 128, f16, fused), false);
    {
        auto s = make("explicit masks f32", 2, 4, 2, 50, 77, 64, 64, f32, expl);
        s.causal = Causal::top_left;
        s.mask = MaskKind::additive;
        s.key_lengths = true;
        add(s, true);
    }
    {
        auto s = make("explicit gqa bool f16", 1, 6, 3, 64, 64, 96, 96, f16, expl);
        s.mask = MaskKind::boolean;
        add(s, false);
    }
    {
        auto s = make("strided blhd f32", 2, 4, 4, 64, 64, 64, 64, f32, fused);
        s.strided = true;
        add(s, false);
    }
    add(make("decode Lq=1 f16", 1, 8, 2, 1, 257, 128, 128, f16, fused), false);
    // Long key sequences: every key of a row streams through one workgroup's loop.
    add(make("long keys Lk=4096 f32", 1, 2, 1, 8, 4096, 64, 64, f32, fused), false);
    return cases;
}

/// A random problem of moderate size; every option drawn from `rng`.
ProblemSpec random_case(std::mt19937_64& rng, int index) {
    const auto pick = [&](std::initializer_list<int64_t> values) {
        std::uniform_int_distribution<std::size_t> d(0, values.size() - 1);
        return *(values.begin() + static_cast<std::ptrdiff_t>(d(rng)));
    };
    const auto coin = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
    ProblemSpec s;
    s.name = "random " + std::to_string(index);
    s.B = pick({1, 2, 3});
    s.Hkv = pick({1, 2, 4});
    s.Hq = s.Hkv * pick({1, 2, 4});
    s.Lq = std::uniform_int_distribution<int64_t>(1, 150)(rng);
    s.Lk = std::uniform_int_distribution<int64_t>(1, 250)(rng);
    s.D = pick({16, 32, 48, 64, 80, 96, 128});
    s.Dv = coin(0.7) ? s.D : pick({16, 32, 64, 96, 128});
    s.dtype = coin(0.5) ? DType::f32 : DType::f16;
    s.path = coin(0.3) ? Path::explicit_ : Path::fused;
    s.causal = static_cast<Causal>(pick({0, 0, 1, 2}));
    s.mask = static_cast<MaskKind>(pick({0, 0, 1, 2}));
    s.mask_per_batch = coin(0.5);
    s.key_lengths = coin(0.3);
    s.strided = coin(0.2);
    const std::string options = options_text(s);
    if (!options.empty()) s.name += " " + options;
    return s;
}

uint64_t choose_seed(const std::string& text) {
    if (!text.empty())
        return static_cast<uint64_t>(parse_integer(text, "--seed", 0, std::numeric_limits<int64_t>::max()));
    std::random_device rd;
    return ((static_cast<uint64_t>(rd()) << 32) | rd()) & 0x7FFFFFFFFFFFFFFFull;
}

std::string dtype_of(const ProblemSpec& s) {
    std::string t(dtype_name(s.dtype));
    if (s.strided) t += " blhd";
    return t;
}

int run_verify(const VerifyArgs& a) {
    const uint64_t seed = choose_seed(a.seed);
    std::vector<ProblemSpec> specs;
    if (!a.random.empty()) {
        const int64_t n = parse_integer(a.random, "--random", 1, 10000);
        std::mt19937_64 rng(mix_seed(seed));
        for (int i = 0; i < n; ++i) specs.push_back(random_case(rng, i + 1));
    } else {
        for (const VerifyCase& c : fixed_cases())
            if (!a.quick || c.quick) specs.push_back(c.spec);
    }
    if (!a.case_filter.empty()) {
        std::erase_if(specs, [&](const ProblemSpec& s) { return s.name.find(a.case_filter) == std::string::npos; });
        if (specs.empty()) throw UsageError("--case: no case name contains '" + a.case_filter + "'");
    }

    Context ctx = open_context(a.common);
    std::cout << "verify: " << specs.size() << " case(s) on [" << ctx.device().index << "] " << ctx.device().name << " ("
              << ctx.device().driver_name << "), seed " << seed << " (reproduce with --seed " << seed << ")\n";
    std::cout << "pass: no NaN/Inf, max|gpu-ref| <= bound = 2*max|naive-ref| + 1e-6, and for f32 rel err <= "
              << format_sci(kF32RelativeLimit, 0) << "\n\n";
    const StreamingTable table({"case", "shape", "dtype", "path/variant", "max abs err", "rel err", "bound", "result"},
                               {27, 27, 8, 31, 11, 9, 9, 6}, {false, false, false, false, true, true, true, false});
    table.print_header(std::cout);

    int passed = 0, failed = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const ProblemSpec& s = specs[i];
        const uint64_t seed_of_case = case_seed(seed, s.name);
        std::string variant = "-", why;
        Comparison c;
        c.max_abs_err = c.rel_err = c.bound = std::numeric_limits<double>::quiet_NaN();
        try {
            const GeneratedProblem g = generate_problem(s, seed_of_case);
            const DeviceProblem d = upload_problem(ctx, s, g);
            const AttentionResult r = attention_full(ctx, d.q, d.k, d.v, d.options);
            variant = r.variant;
            c = compare_output(r.out.download<float>(), g, s.dtype);
            why = c.why;
        } catch (const Error& e) {
            why = std::string("engine error: ") + to_string(e.code()) + ": " + e.message();
            c.pass = false;
            if (e.code() == ErrorCode::device_lost) {
                failed += static_cast<int>(specs.size() - i);
                table.print_row(std::cout, {s.name, shape_text(s), dtype_of(s), variant, "-", "-", "-", "FAIL"});
                std::cout << "    " << why << " (remaining cases not run)\n";
                break;
            }
        }
        (c.pass ? passed : failed) += 1;
        table.print_row(std::cout, {s.name, shape_text(s), dtype_of(s), variant, format_sci(c.max_abs_err),
                                    format_sci(c.rel_err), format_sci(c.bound), c.pass ? "PASS" : "FAIL"});
        if (!c.pass) std::cout << "    " << why << " (case seed " << seed_of_case << ")\n" << std::flush;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (a.common.verbose)
        std::cerr << "vkattn: " << ctx.pipeline_count() << " pipeline(s), " << format_fixed(ctx.pipeline_compile_seconds(), 2)
                  << " s compiling, " << format_fixed(seconds, 2) << " s total\n";
    report_validation(ctx, a.common);
    std::cout << "\nverify: " << passed << " passed, " << failed << " failed\n";
    return failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace

Command add_verify_command(CLI::App& parent) {
    auto a = std::make_shared<VerifyArgs>();
    CLI::App* app = parent.add_subcommand("verify", "Check the kernels on this device against the host reference");
    app->add_option("--seed", a->seed, "Random seed (default: random; printed so a run can be repeated)")->type_name("N");
    CLI::Option* quick = app->add_flag("--quick", a->quick, "Run only a representative subset of the fixed cases");
    app->add_option("--random", a->random, "Instead of the fixed cases, run N randomly drawn problems")
        ->type_name("N")
        ->excludes(quick);
    app->add_option("--case", a->case_filter, "Run only the cases whose name contains TEXT")->type_name("TEXT");
    add_common_options(*app, a->common);
    return {app, [a] { return run_verify(*a); }};
}

}  // namespace vkattn::cli
