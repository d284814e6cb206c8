// Builds compute pipelines from the embedded SPIR-V, once per (shader, specialization constants).
#include <chrono>
#include <span>
#include <string_view>

#include "runtime/context_state.hpp"
#include "runtime/test_seams.hpp"
#include "runtime/embedded_shaders.hpp"
#include "runtime/spirv_reflect.hpp"
#include "runtime/vk_check.hpp"

namespace vkattn::detail {

std::span<const uint32_t> find_embedded_shader(const std::string& name) {
    for (std::size_t i = 0; i < kEmbeddedShaderCount; ++i)
        if (kEmbeddedShaders[i].name == name) return kEmbeddedShaders[i].words;
    throw Error(ErrorCode::vulkan_error, "internal: no embedded shader named '" + name + "'");
}

namespace {

std::string pipeline_key(const std::string& shader, const std::vector<int32_t>& spec) {
    std::string key = shader;
    for (int32_t v : spec) key.append(":").append(std::to_string(v));  // append: avoids GCC 12 false -Wrestrict
    return key;
}

std::string limits_of(const DeviceInfo& info) {
    return "device '" + info.name + "' under limits profile '" + info.profile + "'";
}

// The runtime guard of the limits profile: the planner must have chosen a variant that fits.
void check_fits(const ShaderNeeds& n, const DeviceInfo& info, uint32_t forced_subgroup_size, const std::string& key) {
    const auto refuse = [&](const std::string& why) {
        throw Error(ErrorCode::unsupported, "pipeline " + key + ": " + why + " (" + limits_of(info) + ")");
    };
    if (n.invocations() > info.max_workgroup_invocations)
        refuse("workgroup of " + std::to_string(n.invocations()) + " invocations exceeds the limit of " +
               std::to_string(info.max_workgroup_invocations));
    for (int d = 0; d < 3; ++d)
        if (n.workgroup[d] > info.max_workgroup_size[d])
            refuse("workgroup size " + std::to_string(n.workgroup[d]) + " in dimension " + std::to_string(d) +
                   " exceeds the limit of " + std::to_string(info.max_workgroup_size[d]));
    if (n.shared_bytes > info.shared_memory_bytes)
        refuse(std::to_string(n.shared_bytes) + " bytes of shared memory exceed the limit of " + std::to_string(info.shared_memory_bytes));
    if (n.float16_arithmetic && !info.fp16_arithmetic) refuse("uses fp16 arithmetic, which is off");
    if (n.subgroup_operations && !info.subgroup_basic) refuse("uses subgroup operations, which are off");
    if (forced_subgroup_size && info.max_workgroup_subgroups &&
        n.invocations() > uint64_t{info.max_workgroup_subgroups} * forced_subgroup_size)
        refuse("workgroup of " + std::to_string(n.invocations()) + " invocations is more than " +
               std::to_string(info.max_workgroup_subgroups) + " subgroups of the required size " + std::to_string(forced_subgroup_size));
}

}  // namespace

VkPipeline ContextState::pipeline(const std::string& shader, const std::vector<int32_t>& spec, bool full_subgroups) {
    std::lock_guard lock(mutex);
    ensure_alive();
    const std::string key = pipeline_key(shader, spec) + (full_subgroups ? ":full-subgroups" : "");
    if (auto it = pipelines.find(key); it != pipelines.end()) return it->second.get();
    if (planning_only) return VK_NULL_HANDLE;  // a plan names its pipelines without building them

    const auto start = std::chrono::steady_clock::now();
    VkDevice dev = device.get();
    std::span<const uint32_t> words = find_embedded_shader(shader);
    check_fits(reflect_shader(words, spec), info, options.subgroup_size, key);
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
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo required{
        VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO};
    required.requiredSubgroupSize = options.subgroup_size;  // checked against the device in initialise()
    if (options.subgroup_size) ci.stage.pNext = &required;
    if (full_subgroups) {
        if (!info.compute_full_subgroups)
            throw Error(ErrorCode::unsupported, "pipeline " + key + ": needs full subgroups, which " + limits_of(info) + " cannot require");
        ci.stage.flags |= VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT;
    }
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
