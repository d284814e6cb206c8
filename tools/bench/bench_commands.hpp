#pragma once
// The subcommands of `vkattn bench`: compare (devices side by side) and plot (a PNG of throughput).
#include "cli/commands.hpp"

namespace vkattn::cli {

Command add_bench_compare_command(CLI::App& bench);
Command add_bench_plot_command(CLI::App& bench);

}  // namespace vkattn::cli
