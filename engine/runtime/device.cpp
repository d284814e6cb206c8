// Public device enumeration and selector parsing.
#include <algorithm>
#include <cctype>

#include "runtime/device_probe.hpp"
#include "runtime/instance.hpp"
#include "runtime/vk_check.hpp"
#include "vkattn/device.hpp"
#include "vkattn/error.hpp"

namespace vkattn {

const char* to_string(DeviceType t) noexcept {
    switch (t) {
        case DeviceType::discrete_gpu: return "discrete";
        case DeviceType::integrated_gpu: return "integrated";
        case DeviceType::virtual_gpu: return "virtual";
        case DeviceType::cpu: return "cpu";
        default: return "other";
    }
}

DeviceSelector DeviceSelector::parse(const std::string& text) {
    DeviceSelector s;
    if (text.empty() || text == "auto" || text == "default") return s;
    if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
        if (text.size() > 6) throw Error(ErrorCode::invalid_argument, "device: index '" + text + "' is out of range");
        s.index = static_cast<uint32_t>(std::stoul(text));
        return s;
    }
    for (DeviceType t : {DeviceType::discrete_gpu, DeviceType::integrated_gpu, DeviceType::virtual_gpu, DeviceType::cpu})
        if (text == to_string(t)) {
            s.type = t;
            return s;
        }
    s.name_contains = text;
    return s;
}

std::vector<DeviceChoice> enumerate_devices(const DeviceSelector& selector) {
    detail::Instance instance(false, ValidationChecks::standard, nullptr);
    uint32_t n = 0;
    detail::vk_check(vkEnumeratePhysicalDevices(instance.get(), &n, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> physicals(n);
    detail::vk_check(vkEnumeratePhysicalDevices(instance.get(), &n, physicals.data()), "vkEnumeratePhysicalDevices");
    std::vector<DeviceChoice> choices;
    for (uint32_t i = 0; i < n; ++i) choices.push_back({detail::probe_device(physicals[i], i), false, {}});
    detail::choose_devices(choices, selector);
    return choices;
}

const char* version() noexcept { return VKATTN_VERSION_STRING; }

}  // namespace vkattn
