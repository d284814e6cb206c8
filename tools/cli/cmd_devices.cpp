// `vkattn devices`: every Vulkan device, what vkattn probed about it, whether it is selected and why,
// and which kernel variants it would run.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli/cli_common.hpp"
#include "vkattn/profile.hpp"
#include "cli/commands.hpp"
#include "vkattn/kernel_design.hpp"
#include "vkattn/tuning.hpp"

namespace vkattn::cli {
namespace {

std::string hex(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%04x", v);
    return buf;
}

void field(const std::string& name, const std::string& value) {
    std::cout << "    " << name << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') << value << '\n';
}

std::string subgroup_text(const DeviceInfo& d) {
    std::string s = std::to_string(d.subgroup_size);
    if (d.subgroup_size_control)
        s += " (size control: " + std::to_string(d.min_subgroup_size) + ".." + std::to_string(d.max_subgroup_size) + ")";
    else
        s += " (no size control)";
    s += "; basic " + yes_no(d.subgroup_basic) + ", arithmetic " + yes_no(d.subgroup_arithmetic) + ", shuffle " +
         yes_no(d.subgroup_shuffle) + ", full subgroups " + yes_no(d.compute_full_subgroups);
    return s;
}

// "16384 B (16 KiB)  [probed: 32768 B (32 KiB)]" where the profile changed a value.
std::string clamped(const std::string& now, const std::string& probed) { return now == probed ? now : now + "  [probed: " + probed + "]"; }

void print_design(const DeviceInfo& d) {
    for (const std::string& line : kernel_design_table(d)) std::cout << "      " << line << '\n';
}

void print_device(const DeviceChoice& c, const std::string& profile, bool verbose) {
    const DeviceInfo& p = c.info;
    const DeviceInfo d = apply_profile(p, profile);
    std::cout << (c.selected ? "* " : "  ") << "[" << d.index << "] " << d.name << '\n';
    field("status", c.reason);
    field("vendor", d.vendor + " (" + hex(d.vendor_id) + "), device id " + hex(d.device_id));
    field("type", to_string(d.type));
    field("driver", d.driver_name + (d.driver_info.empty() ? "" : " / " + d.driver_info) + " (version " +
                        hex(d.driver_version) + ")");
    field("api version", format_api_version(d.api_version));
    field("limits profile", d.profile + (d.profile == "desktop" ? " (the probed limits)" : " (values below are clamped)"));
    field("subgroup size", clamped(subgroup_text(d), subgroup_text(p)));
    field("shared memory", clamped(format_bytes(d.shared_memory_bytes), format_bytes(p.shared_memory_bytes)));
    field("fp16 arithmetic", clamped(yes_no(d.fp16_arithmetic), yes_no(p.fp16_arithmetic)));
    field("16-bit storage", yes_no(d.storage_16bit));
    field("max storage range", format_bytes(d.max_storage_buffer_range));
    field("max buffer size", format_bytes(d.max_buffer_size));
    field("device-local heap", format_bytes(d.device_local_bytes) +
                                   (d.host_visible_device_memory ? ", host-visible device memory" : ""));
    const auto workgroup = [](const DeviceInfo& x) {
        return "max " + std::to_string(x.max_workgroup_invocations) + " invocations, size " + std::to_string(x.max_workgroup_size[0]) +
               "x" + std::to_string(x.max_workgroup_size[1]) + "x" + std::to_string(x.max_workgroup_size[2]);
    };
    field("workgroup", clamped(workgroup(d), workgroup(p)));
    field("timestamps", d.timestamps ? "yes (period " + format_fixed(d.timestamp_period_ns, 2) + " ns)" : "no");
    field("cooperative matrix", yes_no(d.cooperative_matrix_nv) + " (NV)");
    field("compute units", std::to_string(d.compute_units) + " (" + d.compute_units_source + ")");
    field("usable", d.usable ? "yes" : "no: " + d.unusable_reason);
    if (!d.usable) return;
    std::cout << "    kernel variants:\n";
    for (const std::string& line : kernel_variants(d)) std::cout << "      " << line << '\n';
    if (verbose) print_design(d);
}

// `--design-for NAME`: the variants and design table of a reference device (limits as its vendor's
// driver reports them; readings, not probes), under the selected limits profile.
int run_design_for(const std::string& name, const std::string& profile) {
    const DeviceInfo d = apply_profile(reference_device(name), profile);
    std::cout << d.name << " (reference limits, not a probed device; profile " << d.profile << ")\n";
    field("subgroup size", subgroup_text(d));
    field("shared memory", format_bytes(d.shared_memory_bytes));
    field("workgroup", "max " + std::to_string(d.max_workgroup_invocations) + " invocations");
    field("compute units", std::to_string(d.compute_units));
    std::cout << "    kernel variants:\n";
    for (const std::string& line : kernel_variants(d)) std::cout << "      " << line << '\n';
    print_design(d);
    return kExitOk;
}

int run_devices(const CommonOptions& common, const std::string& design_for) {
    if (!design_for.empty()) return run_design_for(design_for, checked_profile(common));
    const DeviceSelector selector = device_selector(common);
    const std::string profile = checked_profile(common);
    const std::vector<DeviceChoice> choices = enumerate_devices(selector);
    if (choices.empty()) {
        std::cout << "no Vulkan devices (install mesa-vulkan-drivers for the CPU device lavapipe)\n";
        return kExitFailure;
    }
    std::cout << choices.size() << " Vulkan device(s); * marks the one vkattn selects\n";
    for (const DeviceChoice& c : choices) {
        std::cout << '\n';
        print_device(c, profile, common.verbose);
    }
    bool any_selected = false;
    for (const DeviceChoice& c : choices) any_selected = any_selected || c.selected;
    if (!any_selected) {
        std::cout.flush();
        const char* env = std::getenv("VKATTN_DEVICE");
        if (!common.device_given && !(env && *env)) throw Error(ErrorCode::no_device, "no usable Vulkan device");
        throw UsageError(std::string(common.device_given ? "--device '" + common.device + "'" : "VKATTN_DEVICE '" + std::string(env) + "'") +
                         " matches no usable device (see the status lines above)");
    }
    if (common.verbose || common.validation) {
        // Open the selected device for real: device creation logs, and the validation layer checks it.
        Context ctx = open_context(common);
        std::cout << "\nopened [" << ctx.device().index << "] " << ctx.device().name << '\n';
        report_validation(ctx, common);
    }
    return kExitOk;
}

}  // namespace

Command add_devices_command(CLI::App& parent) {
    auto common = std::make_shared<CommonOptions>();
    CLI::App* app = parent.add_subcommand("devices", "List Vulkan devices, their capabilities, and the kernel variants vkattn would run");
    add_common_options(*app, *common);
    auto design_for = std::make_shared<std::string>();
    app->add_option("--design-for", *design_for,
                    "Print the kernel variants and design table for a reference device instead (nvidia, amd, intel, mobile: "
                    "limits as the vendors' drivers report them, not probed)");
    return {app, [common, design_for] { return run_devices(*common, *design_for); }};
}

}  // namespace vkattn::cli
