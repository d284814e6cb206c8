#pragma once
// The subcommands of `vkattn`. Each add_*_command registers its options on a new CLI11 subcommand
// and returns the function that runs it once parsing succeeded (its result is the exit status).
#include <functional>

namespace CLI {
class App;
}

namespace vkattn::cli {

struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

Command add_devices_command(CLI::App& parent);
Command add_run_command(CLI::App& parent);
Command add_verify_command(CLI::App& parent);
Command add_bench_command(CLI::App& parent);
Command add_tune_command(CLI::App& parent);
Command add_decode_command(CLI::App& parent);
Command add_serve_sim_command(CLI::App& parent);
Command add_heatmap_command(CLI::App& parent);
Command add_linear_command(CLI::App& parent);
Command add_mha_command(CLI::App& parent);
Command add_additive_command(CLI::App& parent);

}  // namespace vkattn::cli
