// vkattn: the command-line front end of the engine. Parses the subcommand, runs it, and turns every
// failure into one line "vkattn: error: <message>" on stderr with exit status 2 (bad arguments or
// input) or 1 (verification failure or runtime error).
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "testing/fault_injection.hpp"

namespace {

std::string one_line(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    for (char& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}

int fail(const std::string& message, int status) {
    std::cout.flush();
    std::cerr << "vkattn: error: " << one_line(message) << std::endl;
    return status;
}

int status_of(vkattn::ErrorCode code) {
    switch (code) {
        case vkattn::ErrorCode::invalid_argument:
        case vkattn::ErrorCode::io_error: return vkattn::cli::kExitUsage;
        default: return vkattn::cli::kExitFailure;
    }
}

}  // namespace

int main(int argc, char** argv) {
    using namespace vkattn::cli;
    CLI::App app{"vkattn " + std::string(vkattn::version()) + ": portable attention on any Vulkan device", "vkattn"};
    app.set_version_flag("--version", std::string(vkattn::version()));
    app.require_subcommand(1);
    app.failure_message([](const CLI::App*, const CLI::Error& e) { return "vkattn: error: " + one_line(e.what()) + "\n"; });

    const std::vector<Command> commands = {add_devices_command(app), add_run_command(app), add_verify_command(app),
                                           add_bench_command(app), add_tune_command(app), add_decode_command(app), add_serve_sim_command(app),
                                           add_heatmap_command(app), add_linear_command(app), add_mha_command(app),
                                           add_additive_command(app)};
    // CLI11 reports an unknown subcommand only as "A subcommand is required"; name it instead.
    const auto known = [&](const std::string& name) {
        for (const Command& c : commands)
            if (c.app->get_name() == name) return true;
        return false;
    };
    if (argc > 1 && argv[1][0] != '-' && !known(argv[1]))
        return fail(std::string("unknown subcommand '") + argv[1] + "' (expected devices, run, verify, bench, tune, decode, serve-sim, heatmap, linear, mha or additive; see --help)",
                    kExitUsage);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kExitOk : kExitUsage;
    }

    try {
        // VKATTN_FAULT=site:N makes the N-th call at a Vulkan site fail (docs/faults.md).
        vkattn::detail::fault::arm_from_environment();
        for (const Command& c : commands)
            if (c.app->parsed()) return c.run();
        return fail("no subcommand given", kExitUsage);
    } catch (const UsageError& e) {
        return fail(e.what(), kExitUsage);
    } catch (const vkattn::Error& e) {
        return fail(e.message(), status_of(e.code()));
    } catch (const std::bad_alloc&) {
        return fail("out of host memory", kExitFailure);
    } catch (const std::exception& e) {
        return fail(e.what(), kExitFailure);
    } catch (...) {
        return fail("unknown exception", kExitFailure);
    }
}
