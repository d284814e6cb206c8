#include "testing/object_counters.hpp"

namespace vkattn::detail {
namespace {

std::array<std::atomic<int64_t>, kObjectKindCount> g_objects{};
std::atomic<int64_t> g_device_bytes{0};

}  // namespace

const char* object_kind_name(ObjectKind kind) noexcept {
    switch (kind) {
        case ObjectKind::instance: return "instance";
        case ObjectKind::device: return "device";
        case ObjectKind::buffer: return "buffer";
        case ObjectKind::memory: return "memory";
        case ObjectKind::shader_module: return "shader_module";
        case ObjectKind::pipeline: return "pipeline";
        case ObjectKind::pipeline_layout: return "pipeline_layout";
        case ObjectKind::pipeline_cache: return "pipeline_cache";
        case ObjectKind::descriptor_set_layout: return "descriptor_set_layout";
        case ObjectKind::descriptor_pool: return "descriptor_pool";
        case ObjectKind::command_pool: return "command_pool";
        case ObjectKind::command_buffer: return "command_buffer";
        case ObjectKind::fence: return "fence";
        case ObjectKind::query_pool: return "query_pool";
    }
    return "unknown";
}

void count_object(ObjectKind kind, int delta) noexcept {
    g_objects[static_cast<std::size_t>(kind)].fetch_add(delta, std::memory_order_relaxed);
}

void count_device_bytes(int64_t delta) noexcept { g_device_bytes.fetch_add(delta, std::memory_order_relaxed); }

int64_t LiveObjects::total_objects() const {
    int64_t n = 0;
    for (int64_t c : objects) n += c;
    return n;
}

std::string LiveObjects::to_string() const {
    std::string s;
    for (std::size_t k = 0; k < kObjectKindCount; ++k) {
        if (objects[k] == 0) continue;
        s.append(object_kind_name(static_cast<ObjectKind>(k))).append("=").append(std::to_string(objects[k])).append(" ");
    }
    s.append("device_memory_bytes=").append(std::to_string(device_memory_bytes));
    return s;
}

LiveObjects live_objects() noexcept {
    LiveObjects s;
    for (std::size_t k = 0; k < kObjectKindCount; ++k) s.objects[k] = g_objects[k].load(std::memory_order_relaxed);
    s.device_memory_bytes = g_device_bytes.load(std::memory_order_relaxed);
    return s;
}

}  // namespace vkattn::detail
