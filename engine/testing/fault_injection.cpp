#include "testing/fault_injection.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "vkattn/error.hpp"

namespace vkattn::detail::fault {
namespace {

struct SiteState {
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> fail_at{0};  // 0: not armed; else the value of `calls` that fails
    std::atomic<int> result{VK_SUCCESS};
};

std::array<SiteState, kSiteCount> g_sites;
std::atomic<bool> g_armed{false};  // fast path: false while no site is armed
std::atomic<uint64_t> g_injected{0};
std::once_flag g_env_once;

SiteState& state(Site s) { return g_sites[static_cast<std::size_t>(s)]; }

void read_environment() {
    const char* spec = std::getenv("VKATTN_FAULT");
    if (spec && *spec) arm_from_spec(spec);
}

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

VkResult inject(Site site) {
    std::call_once(g_env_once, read_environment);
    SiteState& s = state(site);
    const uint64_t n = s.calls.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!g_armed.load(std::memory_order_acquire)) return VK_SUCCESS;
    uint64_t target = n;
    // Exactly one caller wins the armed call, even with several threads at the same site.
    if (!s.fail_at.compare_exchange_strong(target, 0, std::memory_order_acq_rel)) return VK_SUCCESS;
    g_injected.fetch_add(1, std::memory_order_relaxed);
    return static_cast<VkResult>(s.result.load(std::memory_order_relaxed));
}

void arm(Site site, uint64_t nth, VkResult result) {
    if (nth == 0) throw Error(ErrorCode::invalid_argument, std::string("fault: call number for ") + site_name(site) + " must be >= 1");
    if (result == VK_SUCCESS) throw Error(ErrorCode::invalid_argument, "fault: an injected result must be an error");
    SiteState& s = state(site);
    s.result.store(result, std::memory_order_relaxed);
    s.fail_at.store(s.calls.load(std::memory_order_relaxed) + nth, std::memory_order_release);
    g_armed.store(true, std::memory_order_release);
}

void disarm() noexcept {
    for (SiteState& s : g_sites) s.fail_at.store(0, std::memory_order_release);
    g_armed.store(false, std::memory_order_release);
}

uint64_t calls(Site site) noexcept { return state(site).calls.load(std::memory_order_relaxed); }

void reset_calls() noexcept {
    for (SiteState& s : g_sites) s.calls.store(0, std::memory_order_relaxed);
}

uint64_t injected() noexcept { return g_injected.load(std::memory_order_relaxed); }

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

}  // namespace vkattn::detail::fault
