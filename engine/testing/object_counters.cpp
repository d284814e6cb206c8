#include "testing/object_counters.hpp"

namespace vkattn::detail {
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
    for (std::size_t k = 0; k < kObjectKindCount; ++k) s.objects[k] = object_count(static_cast<ObjectKind>(k));
    s.device_memory_bytes = device_bytes_count();
    return s;
}

}  // namespace vkattn::detail
