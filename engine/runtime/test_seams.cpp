#include "runtime/test_seams.hpp"

#include <mutex>

namespace vkattn::detail {
namespace fault {
namespace {
std::array<SiteState, kSiteCount> g_sites;
std::atomic<bool> g_armed{false};
std::atomic<uint64_t> g_injected{0};
}  // namespace

SiteState& site_state(Site site) noexcept { return g_sites[static_cast<std::size_t>(site)]; }
std::atomic<bool>& any_armed() noexcept { return g_armed; }
std::atomic<uint64_t>& injected_count() noexcept { return g_injected; }

VkResult inject(Site site) {
    SiteState& s = site_state(site);
    const uint64_t n = s.calls.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!g_armed.load(std::memory_order_acquire)) return VK_SUCCESS;
    uint64_t target = n;
    // Exactly one caller wins the armed call, even with several threads at the same site.
    if (!s.fail_at.compare_exchange_strong(target, 0, std::memory_order_acq_rel)) return VK_SUCCESS;
    g_injected.fetch_add(1, std::memory_order_relaxed);
    return static_cast<VkResult>(s.result.load(std::memory_order_relaxed));
}

}  // namespace fault

namespace {
std::array<std::atomic<int64_t>, kObjectKindCount> g_objects{};
std::atomic<int64_t> g_device_bytes{0};
std::mutex g_switches_mutex;
TestSwitches g_switches;
}  // namespace

void count_object(ObjectKind kind, int delta) noexcept {
    g_objects[static_cast<std::size_t>(kind)].fetch_add(delta, std::memory_order_relaxed);
}
void count_device_bytes(int64_t delta) noexcept { g_device_bytes.fetch_add(delta, std::memory_order_relaxed); }
int64_t object_count(ObjectKind kind) noexcept { return g_objects[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed); }
int64_t device_bytes_count() noexcept { return g_device_bytes.load(std::memory_order_relaxed); }

TestSwitches default_test_switches() noexcept {
    std::lock_guard lock(g_switches_mutex);
    return g_switches;
}
void set_default_test_switches(const TestSwitches& switches) noexcept {
    std::lock_guard lock(g_switches_mutex);
    g_switches = switches;
}

}  // namespace vkattn::detail
