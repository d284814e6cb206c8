// Builds compute pipelines from the embedded SPIR-V, once per (shader, specialization constants).
#include <chrono>
#include <span>
#include <string_view>

#include "context_state.hpp"
#include "fault_injection.hpp"
#include "vk_check.hpp"

namespace vkattn::detail {

struct EmbeddedShader {
    std::string_view name;
    std::span<const uint32_t> words;
};
extern const EmbeddedShader kEmbeddedShaders[];
extern const std::size_t kEmbeddedShaderCount;

namespace {

std::span<const uint32_t> find_shader(const std::string& name) {
    for (std::size_t i = 0; i < kEmbeddedShaderCount; ++i)
        if (kEmbeddedShaders[i].name == name) return kEmbeddedShaders[i].words;
    throw Error(ErrorCode::vulkan_error, "internal: no embedded shader named '" + name + "'");
}

std::string pipeline_key(const std::string& shader, const std::vector<int32_t>& spec) {
    std::string key = shader;
    for (int32_t v : spec) key.append(":").append(std::to_string(v));  // append: avoids GCC 12 false -Wrestrict
    return key;
}

}  // namespace

VkPipeline ContextState::pipeline(const std::string& shader, const std::vector<int32_t>& spec) {
    std::lock_guard lock(mutex);
    ensure_alive();
    const std::string key = pipeline_key(shader, spec);
    if (auto it = pipelines.find(key); it != pipelines.end()) return it->second.get();

    const auto start = std::chrono::steady_clock::now();
    VkDevice dev = device.get();
    std::span<const uint32_t> words = find_shader(shader);
    VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mi.codeSize = words.size_bytes();
    mi.pCode = words.data();
    VkShaderModule module = VK_NULL_HANDLE;
    VkResult r = fault::inject(fault::Site::shader);
    if (r == VK_SUCCESS) r = vkCreateShaderModule(dev, &mi, nullptr, &module);
    vk_check(r, "vkCreateShaderModule");
    UniqueShaderModule owned_module(dev, module);

    std::vector<VkSpecializationMapEntry> entries(spec.size());
    for (uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, i * 4u, 4u};
    VkSpecializationInfo si{};
    si.mapEntryCount = static_cast<uint32_t>(entries.size());
    si.pMapEntries = entries.data();
    si.dataSize = spec.size() * 4;
    si.pData = spec.data();

    VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = module;
    ci.stage.pName = "main";
    ci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
    ci.layout = pipeline_layout.get();
    VkPipeline p = VK_NULL_HANDLE;
    r = fault::inject(fault::Site::pipeline);
    if (r == VK_SUCCESS) r = vkCreateComputePipelines(dev, pipeline_cache->get(), 1, &ci, nullptr, &p);
    vk_check(r, "vkCreateComputePipelines");
    auto [it, inserted] = pipelines.emplace(key, UniquePipeline(dev, p));

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    compile_seconds += seconds;
    if (options.verbose) {
        char line[160];
        std::snprintf(line, sizeof line, "vkattn: pipeline %s built in %.2f s", key.c_str(), seconds);
        log(line);
    }
    return it->second.get();
}

}  // namespace vkattn::detail
