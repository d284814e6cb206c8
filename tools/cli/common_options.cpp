// --device, --verbose, --validation and --profile, added to every subcommand (cli_common.hpp). Apart from
// cli_common.cpp because it includes CLI11, which the benchmark library (vkattn_bench) does not need.
#include <CLI/CLI.hpp>

#include "cli/cli_common.hpp"
#include "vkattn/profile.hpp"

namespace vkattn::cli {

void add_common_options(CLI::App& command, CommonOptions& common) {
    command
        .add_option_function<std::string>(
            "--device",
            [&common](const std::string& text) {
                common.device = text;
                common.device_given = true;
            },
            "Device: index, name substring, or discrete|integrated|virtual|cpu (default: $VKATTN_DEVICE, "
            "else discrete > integrated > virtual > cpu)")
        ->type_name("SEL");
    command.add_flag("--verbose", common.verbose, "Log device choice, plan and pipeline compile times to stderr");
    command.add_flag("--validation", common.validation, "Enable the Khronos validation layer (VK_LAYER_KHRONOS_validation)");
    std::string names;
    for (const std::string& n : profile_names()) names += (names.empty() ? "" : "|") + n;
    command.add_option("--profile", common.profile, "Limits profile: plan as if the device were weaker (" + names +
                                                        "; default: $VKATTN_PROFILE, else desktop)")
        ->type_name("NAME");
}

}  // namespace vkattn::cli
