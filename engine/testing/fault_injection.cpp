#include "testing/fault_injection.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "vkattn/error.hpp"

namespace vkattn::detail::fault {
namespace {

SiteState& state(Site s) { return site_state(s); }

}  // namespace

const char* site_name(Site site) noexcept {
    switch (site) {
        case Site::alloc: return "alloc";
        case Site::buffer: return "buffer";
        case Site::map: return "map";
        case Site::shader: return "shader";
        case Site::pipeline: return "pipeline";
        case Site::dpool: return "dpool";
        case Site::dset: return "dset";
        case Site::cmdbuf: return "cmdbuf";
        case Site::submit: return "submit";
        case Site::lost: return "lost";
        case Site::init: return "init";
        case Site::cache: return "cache";
    }
    return "unknown";
}

VkResult default_result(Site site) noexcept {
    switch (site) {
        case Site::map: return VK_ERROR_MEMORY_MAP_FAILED;
        case Site::shader:
        case Site::cmdbuf:
        case Site::init:
        case Site::cache: return VK_ERROR_OUT_OF_HOST_MEMORY;
        case Site::pipeline: return VK_ERROR_INITIALIZATION_FAILED;
        case Site::dset: return VK_ERROR_OUT_OF_POOL_MEMORY;
        case Site::lost: return VK_ERROR_DEVICE_LOST;
        default: return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    }
}

void arm(Site site, uint64_t nth, VkResult result) {
    if (nth == 0) throw Error(ErrorCode::invalid_argument, std::string("fault: call number for ") + site_name(site) + " must be >= 1");
    if (result == VK_SUCCESS) throw Error(ErrorCode::invalid_argument, "fault: an injected result must be an error");
    SiteState& s = state(site);
    s.result.store(result, std::memory_order_relaxed);
    s.fail_at.store(s.calls.load(std::memory_order_relaxed) + nth, std::memory_order_release);
    any_armed().store(true, std::memory_order_release);
}

void disarm() noexcept {
    for (Site s : kAllSites) state(s).fail_at.store(0, std::memory_order_release);
    any_armed().store(false, std::memory_order_release);
}

uint64_t calls(Site site) noexcept { return state(site).calls.load(std::memory_order_relaxed); }

void reset_calls() noexcept {
    for (Site s : kAllSites) state(s).calls.store(0, std::memory_order_relaxed);
}

uint64_t injected() noexcept { return injected_count().load(std::memory_order_relaxed); }

void arm_from_spec(const std::string& spec) {
    std::size_t pos = 0;
    while (pos <= spec.size()) {
        const std::size_t end = std::min(spec.find(',', pos), spec.size());
        const std::string entry = spec.substr(pos, end - pos);
        const std::size_t colon = entry.find(':');
        bool known = false;
        if (colon != std::string::npos) {
            const std::string name = entry.substr(0, colon), count = entry.substr(colon + 1);
            char* stop = nullptr;
            const unsigned long long nth = std::strtoull(count.c_str(), &stop, 10);
            for (Site s : kAllSites)
                if (name == site_name(s) && !count.empty() && stop && *stop == '\0' && nth > 0) {
                    arm(s, nth);
                    known = true;
                }
        }
        if (!known)
            throw Error(ErrorCode::invalid_argument,
                        "VKATTN_FAULT: entry '" + entry + "' is not SITE:N with N >= 1 and SITE one of "
                        "alloc, buffer, map, shader, pipeline, dpool, dset, cmdbuf, submit, lost, init, cache");
        pos = end + 1;
    }
}

void arm_from_environment() {
    const char* spec = std::getenv("VKATTN_FAULT");
    if (spec && *spec) arm_from_spec(spec);
}

}  // namespace vkattn::detail::fault
