// Context creation (instance, device selection, queue, layouts) and its public methods.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "runtime/access.hpp"
#include "runtime/context_state.hpp"
#include "tuning/tuning_table.hpp"
#include "runtime/device_probe.hpp"
#include "runtime/recording.hpp"
#include "runtime/test_seams.hpp"
#include "runtime/validation_options.hpp"
#include "runtime/vk_check.hpp"
#include "vkattn/context.hpp"
#include "vkattn/error.hpp"
#include "vkattn/profile.hpp"

namespace vkattn {
namespace detail {

bool env_flag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}

// A forced subgroup size: a power of two the device allows on compute pipelines. The workgroup limit
// shrinks to what that many-lane subgroups can make (maxComputeWorkgroupSubgroups of them).
void apply_subgroup_size(DeviceInfo& info, uint32_t size) {
    if (size == 0) return;
    const std::string what = "subgroup_size: " + std::to_string(size);
    if (!info.subgroup_size_control)
        throw Error(ErrorCode::unsupported, what + ": device '" + info.name + "' under limits profile '" + info.profile +
                                                "' cannot require a subgroup size on compute pipelines");
    if ((size & (size - 1)) != 0 || size < info.min_subgroup_size || size > info.max_subgroup_size)
        throw Error(ErrorCode::invalid_argument, what + " is not a power of two in [" + std::to_string(info.min_subgroup_size) +
                                                     ", " + std::to_string(info.max_subgroup_size) + "] (device '" + info.name + "')");
    info.subgroup_size = size;
    if (info.max_workgroup_subgroups) {
        const uint32_t most = info.max_workgroup_subgroups * size;
        info.max_workgroup_invocations = std::min(info.max_workgroup_invocations, most);
        for (uint32_t& s : info.max_workgroup_size) s = std::min(s, most);
    }
}

ContextState::~ContextState() {
    // Every submission of vkattn's has been waited for (a synchronous call's before it returns, a
    // batch's when the Context went: release()), so there is nothing of ours in flight; an adopted
    // device is the application's to wait on.
    if (device.get() != VK_NULL_HANDLE && device.owned()) vkDeviceWaitIdle(device.get());
    // Command buffers kept for batches (runtime/submissions.cpp); the pool frees them too, but the
    // object counters count them one by one.
    for (VkCommandBuffer cmd : spare_command_buffers) {
        vkFreeCommandBuffers(device.get(), command_pool.get(), 1, &cmd);
        count_object(ObjectKind::command_buffer, -1);
    }
}

void ContextState::initialise(ContextOptions opts) {
    options = std::move(opts);
    test_switches = default_test_switches();
    const ValidationRequest validation = resolve_validation(options.validation, options.validation_checks);
    options.validation = validation.enabled;
    options.validation_checks = validation.checks;
    options.verbose = options.verbose || env_flag("VKATTN_VERBOSE");
    const std::string profile = effective_profile(options.profile);
    const std::string profile_argument = options.profile.empty() ? "VKATTN_PROFILE" : "profile";
    apply_profile(DeviceInfo{}, profile, profile_argument);  // an unknown name fails before any Vulkan work
    log = options.on_message ? options.on_message : [](const std::string& s) { std::cerr << s << '\n'; };
    instance = std::make_unique<Instance>(options.validation, options.validation_checks, log);

    uint32_t n = 0;
    vk_check(vkEnumeratePhysicalDevices(instance->get(), &n, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> physicals(n);
    vk_check(vkEnumeratePhysicalDevices(instance->get(), &n, physicals.data()), "vkEnumeratePhysicalDevices");
    std::vector<DeviceChoice> choices;
    for (uint32_t i = 0; i < n; ++i) choices.push_back({probe_device(physicals[i], i), false, {}});
    choose_devices(choices, options.device);
    const uint32_t index = chosen_index(choices, options.device);
    physical = physicals[index];
    probed = choices[index].info;
    info = apply_profile(probed, profile, profile_argument);
    apply_subgroup_size(info, options.subgroup_size);
    if (options.verbose) {
        for (const auto& c : choices) log("vkattn: device [" + std::to_string(c.info.index) + "] " + c.info.name + ": " + c.reason);
        log("vkattn: limits profile " + profile + ": " + std::to_string(info.shared_memory_bytes) + " B shared, " +
            std::to_string(info.max_workgroup_invocations) + " invocations, fp16 arithmetic " + (info.fp16_arithmetic ? "on" : "off") +
            ", subgroup operations " + (info.subgroup_basic ? "on" : "off"));
    }
    vkGetPhysicalDeviceMemoryProperties(physical, &memory_properties);

    queue_family = find_compute_queue_family(physical);
    const float priority = 1.0f;
    VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qi.queueFamilyIndex = queue_family;
    qi.queueCount = 1;
    qi.pQueuePriorities = &priority;
    VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    // f16 arithmetic (the fp16 roofline kernel) needs shaderFloat16 enabled: core in Vulkan 1.2,
    // VK_KHR_shader_float16_int8 before (device_probe only reports it when one of the two holds).
    // Features follow `info`, the limits after the profile: a profile without fp16 leaves it
    // disabled, so the validation layer also refuses any shader that would still use it.
    std::vector<const char*> device_extensions;
    void** chain = const_cast<void**>(&di.pNext);
    VkPhysicalDeviceShaderFloat16Int8Features f16_features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    if (info.fp16_arithmetic) {
        f16_features.shaderFloat16 = VK_TRUE;
        *chain = &f16_features;
        chain = &f16_features.pNext;
        if (info.api_version < VK_API_VERSION_1_2) device_extensions.push_back(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    }
    // A required subgroup size needs the subgroupSizeControl feature (Vulkan 1.3 or the extension);
    // pipelines that require full subgroups (the tiled kernel's sg variant) need computeFullSubgroups,
    // enabled whenever the device has it (after the profile: the no-subgroup profiles turn it off).
    VkPhysicalDeviceSubgroupSizeControlFeatures size_control{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    if (options.subgroup_size || info.compute_full_subgroups) {
        size_control.subgroupSizeControl = options.subgroup_size ? VK_TRUE : VK_FALSE;
        size_control.computeFullSubgroups = info.compute_full_subgroups ? VK_TRUE : VK_FALSE;
        *chain = &size_control;
        chain = &size_control.pNext;
        if (info.api_version < VK_API_VERSION_1_3) device_extensions.push_back(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    }
    // VK_KHR_portability_subset (MoltenVK on Apple devices, other layered implementations): a device that
    // advertises it must be created with it enabled (VUID-VkDeviceCreateInfo-pProperties-04451). What it
    // may withhold (VkPhysicalDevicePortabilitySubsetFeaturesKHR: triangle fans, image view swizzles and
    // reinterpretation, events, sampler LOD bias, tessellation and vertex modes, ...) is graphics and
    // events, none of which vkattn uses: its kernels need only compute, storage buffers and the limits
    // device_probe reads. A beta extension, so named by its string (vulkan_beta.h is not included).
    // Not run here: no portability device has been available to this project (lavapipe does not advertise it).
    if (has_device_extension(physical, "VK_KHR_portability_subset")) device_extensions.push_back("VK_KHR_portability_subset");
    di.enabledExtensionCount = static_cast<uint32_t>(device_extensions.size());
    di.ppEnabledExtensionNames = device_extensions.data();
    VkDevice dev = VK_NULL_HANDLE;
    vk_check(fault::inject_or(fault::Site::init, [&] { return vkCreateDevice(physical, &di, nullptr, &dev); }), "vkCreateDevice");
    device = UniqueDevice(dev);
    vkGetDeviceQueue(dev, queue_family, 0, &queue);
    create_common_objects();
}

void ContextState::create_common_objects() {
    VkDevice dev = device.get();
    memory_pool = std::make_unique<MemoryPool>(dev, physical, memory_properties, stat_allocations);
    VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pi.queueFamilyIndex = queue_family;
    VkCommandPool pool = VK_NULL_HANDLE;
    vk_check(fault::inject_or(fault::Site::init, [&] { return vkCreateCommandPool(dev, &pi, nullptr, &pool); }), "vkCreateCommandPool");
    command_pool = UniqueCommandPool(dev, pool);

    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence f = VK_NULL_HANDLE;
    vk_check(fault::inject_or(fault::Site::init, [&] { return vkCreateFence(dev, &fi, nullptr, &f); }), "vkCreateFence");
    fence = UniqueFence(dev, f);

    // One descriptor layout for every kernel: a uniform block and eight storage buffers.
    std::array<VkDescriptorSetLayoutBinding, kBindingCount> bindings{};
    for (uint32_t b = 0; b < kBindingCount; ++b) {
        bindings[b].binding = b;
        bindings[b].descriptorType = b == kParams ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        bindings[b].descriptorCount = 1;
        bindings[b].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    li.bindingCount = kBindingCount;
    li.pBindings = bindings.data();
    VkDescriptorSetLayout dsl = VK_NULL_HANDLE;
    vk_check(fault::inject_or(fault::Site::init, [&] { return vkCreateDescriptorSetLayout(dev, &li, nullptr, &dsl); }), "vkCreateDescriptorSetLayout");
    set_layout = UniqueDescriptorSetLayout(dev, dsl);
    VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pli.setLayoutCount = 1;
    pli.pSetLayouts = &dsl;
    VkPipelineLayout pl = VK_NULL_HANDLE;
    vk_check(fault::inject_or(fault::Site::init, [&] { return vkCreatePipelineLayout(dev, &pli, nullptr, &pl); }), "vkCreatePipelineLayout");
    pipeline_layout = UniquePipelineLayout(dev, pl);

    if (info.timestamps) {
        VkQueryPoolCreateInfo qpi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qpi.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qpi.queryCount = 2;
        VkQueryPool qp = VK_NULL_HANDLE;
        vk_check(fault::inject_or(fault::Site::init, [&] { return vkCreateQueryPool(dev, &qpi, nullptr, &qp); }), "vkCreateQueryPool");
        timestamp_pool = UniqueQueryPool(dev, qp);
    }
    pipeline_cache = std::make_unique<PipelineCache>(dev, info, options.pipeline_cache_dir);
    tuning = std::make_shared<TuningTable>(test_switches.use_tuned_tiles ? load_tuning_table(info, options.pipeline_cache_dir) : TuningTable{});
    if (options.verbose && !tuning->entries.empty())
        log("vkattn: tuned tiles from " + tuning->path + " (" + std::to_string(tuning->entries.size()) + " entries, vkattn tune " +
            tuning->measured_at + ")");
    if (options.verbose)
        log("vkattn: pipeline cache " + (pipeline_cache->path().empty() ? std::string("in memory only") : pipeline_cache->path()) +
            (pipeline_cache->loaded_from_disk() ? " (loaded)" : " (new)"));
}

void ContextState::ensure_alive() const {
    if (lost.load(std::memory_order_acquire))
        throw Error(ErrorCode::device_lost, "context: this Context is lost (" + lost_cause +
                                                " earlier) and cannot run anything more; destroy it and create a new Context");
}

void ContextState::check_device(VkResult r, const char* what, bool injected) {
    if (r == VK_ERROR_DEVICE_LOST) {
        std::lock_guard lock(mutex);
        if (!lost.load(std::memory_order_relaxed)) {
            lost_cause = std::string(what) + " returned VK_ERROR_DEVICE_LOST";
            lost_injected = injected;
            lost.store(true, std::memory_order_release);
        }
        throw Error(ErrorCode::device_lost, "context: " + std::string(what) +
                                                " returned VK_ERROR_DEVICE_LOST; this Context is lost and must be recreated "
                                                "(destroy it, and every tensor from it, and create a new Context)");
    }
    vk_check(r, what);
}

void ContextState::revive_after_injected_loss() {
    std::lock_guard lock(mutex);
    if (!lost.load(std::memory_order_relaxed)) return;
    if (!lost_injected) ensure_alive();  // a real loss stays
    lost_cause.clear();
    lost_injected = false;
    lost.store(false, std::memory_order_release);
}

uint32_t ContextState::memory_type(uint32_t type_bits, MemoryKind kind) const {
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    const bool unified = info.type == DeviceType::integrated_gpu || info.type == DeviceType::cpu;
    std::vector<VkMemoryPropertyFlags> wanted;
    if (kind == MemoryKind::staging) {
        wanted = {host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, host};
    } else {
        // On shared-memory devices host-visible device memory avoids staging copies; on discrete GPUs
        // that memory is the small BAR window, so plain device-local memory is preferred there.
        if (unified && !test_switches.force_staging) wanted.push_back(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host);
        wanted.push_back(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
        wanted.push_back(0);
    }
    for (VkMemoryPropertyFlags w : wanted)
        for (uint32_t t = 0; t < memory_properties.memoryTypeCount; ++t)
            if ((type_bits & (1u << t)) && (memory_properties.memoryTypes[t].propertyFlags & w) == w) return t;
    throw Error(ErrorCode::vulkan_error, "no Vulkan memory type fits the buffer's requirements");
}

void ContextState::submit_and_wait(const std::function<void(VkCommandBuffer)>& record) {
    std::lock_guard lock(mutex);
    ensure_alive();
    VkDevice dev = device.get();
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = command_pool.get();
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkResult r = fault::inject(fault::Site::cmdbuf);
    if (r == VK_SUCCESS) r = vkAllocateCommandBuffers(dev, &ai, &cmd);
    vk_check(r, "vkAllocateCommandBuffers");
    count_object(ObjectKind::command_buffer, +1);
    struct Free {
        VkDevice d; VkCommandPool p; VkCommandBuffer c;
        ~Free() {
            vkFreeCommandBuffers(d, p, 1, &c);
            count_object(ObjectKind::command_buffer, -1);
        }
    } free_later{dev, command_pool.get(), cmd};

    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vk_check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
    record_after_earlier_submissions(cmd);
    record(cmd);
    record_visible_to_host(cmd);
    vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");

    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    VkFence f = fence.get();
    vk_check(vkResetFences(dev, 1, &f), "vkResetFences");
    r = fault::inject(fault::Site::submit);
    const bool submit_injected = r != VK_SUCCESS;
    if (r == VK_SUCCESS) {
        // An adopted queue: the application's lock, if it gave one (vkQueueSubmit needs the queue
        // externally synchronised).
        std::unique_lock<std::mutex> queue_lock;
        if (queue_mutex) queue_lock = std::unique_lock<std::mutex>(*queue_mutex);
        r = vkQueueSubmit(queue, 1, &si, f);
    }
    check_device(r, "vkQueueSubmit", submit_injected);
    ++stat_submissions;
    // An injected loss still waits for the real work: nothing may be freed while the device uses it.
    r = vkWaitForFences(dev, 1, &f, VK_TRUE, UINT64_MAX);
    ++stat_waits;
    const VkResult injected = fault::inject(fault::Site::lost);
    const bool wait_injected = r == VK_SUCCESS && injected != VK_SUCCESS;
    if (wait_injected) r = injected;
    check_device(r, "vkWaitForFences", wait_injected);
}

void ContextState::copy_buffer(VkBuffer src, VkDeviceSize src_offset, VkBuffer dst, VkDeviceSize dst_offset,
                               VkDeviceSize bytes) {
    submit_and_wait([&](VkCommandBuffer cmd) {
        VkBufferCopy region{src_offset, dst_offset, bytes};
        vkCmdCopyBuffer(cmd, src, dst, 1, &region);
    });
}

void ContextState::write_bytes(DeviceBuffer& dst, VkDeviceSize offset, const void* data, VkDeviceSize bytes) {
    if (bytes == 0) return;
    if (dst.mapped && !test_switches.force_staging) {
        std::lock_guard lock(mutex);
        ensure_alive();
        std::memcpy(static_cast<char*>(dst.mapped) + offset, data, bytes);
        return;
    }
    if (!(dst.usage & VK_BUFFER_USAGE_TRANSFER_DST_BIT))
        throw Error(ErrorCode::invalid_argument, "upload: the application's buffer was not created with "
                                                 "VK_BUFFER_USAGE_TRANSFER_DST_BIT, so vkattn cannot copy into it");
    auto staging = create_buffer(shared_from_this(), bytes, MemoryKind::staging);
    std::memcpy(staging->mapped, data, bytes);
    copy_buffer(staging->buffer.get(), 0, dst.buffer.get(), offset, bytes);
}

void ContextState::read_bytes(const DeviceBuffer& src, VkDeviceSize offset, void* data, VkDeviceSize bytes) {
    if (bytes == 0) return;
    if (src.mapped && !test_switches.force_staging) {
        std::lock_guard lock(mutex);
        ensure_alive();
        std::memcpy(data, static_cast<const char*>(src.mapped) + offset, bytes);
        return;
    }
    if (!(src.usage & VK_BUFFER_USAGE_TRANSFER_SRC_BIT))
        throw Error(ErrorCode::invalid_argument, "download: the application's buffer was not created with "
                                                 "VK_BUFFER_USAGE_TRANSFER_SRC_BIT, so vkattn cannot copy from it");
    auto staging = create_buffer(shared_from_this(), bytes, MemoryKind::staging);
    copy_buffer(src.buffer.get(), offset, staging->buffer.get(), 0, bytes);
    std::memcpy(data, staging->mapped, bytes);
}

void ContextState::fill_buffer(DeviceBuffer& dst, uint32_t pattern) {
    if (!(dst.usage & VK_BUFFER_USAGE_TRANSFER_DST_BIT))
        throw Error(ErrorCode::invalid_argument, "fill: the application's buffer was not created with VK_BUFFER_USAGE_TRANSFER_DST_BIT");
    submit_and_wait([&](VkCommandBuffer cmd) { vkCmdFillBuffer(cmd, dst.buffer.get(), 0, VK_WHOLE_SIZE, pattern); });
}

}  // namespace detail

namespace {
// What every context holds from its creation: the dummy buffer bound to unused slots, and the
// synchronous calls' recording resources at their first size, so that the objects a context holds
// do not change with its first call. Both refer to the state: on failure they are dropped again.
template <class State>
void create_held_objects(const std::shared_ptr<State>& state) {
    try {
        state->dummy = detail::create_buffer(state, 256, detail::MemoryKind::device);
        state->sync_resources = std::make_unique<detail::RecordingResources>(*state);
        state->sync_resources->prepare();
    } catch (...) {
        state->release();
        throw;
    }
}
}  // namespace

Context::Context(ContextOptions options) : state_(std::make_shared<Context::State>()) {
    state_->initialise(std::move(options));
    create_held_objects(state_);
}

Context::Context(const AdoptedDevice& app, ContextOptions options) : state_(std::make_shared<Context::State>()) {
    state_->initialise_adopted(app, std::move(options));
    create_held_objects(state_);
}

bool Context::adopted() const { return state_->adopted; }

namespace {
// The dummy buffer, the recording resources and the batches in flight hold buffers of the state's, which
// refer to it: drop them when the Context goes, so the state goes once the last tensor does.
template <class State>
void release_state(std::shared_ptr<State>& state) noexcept {
    if (!state) return;
    state->release();
    state.reset();
}
}  // namespace

Context::Context(std::shared_ptr<State> state, Borrowed) : state_(std::move(state)), borrowed_(true) {}

Context::~Context() {
    if (!borrowed_) release_state(state_);
}
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&& other) noexcept {
    if (this != &other) {
        if (!borrowed_) release_state(state_);
        state_ = std::move(other.state_);
        borrowed_ = other.borrowed_;
    }
    return *this;
}

const DeviceInfo& Context::device() const { return state_->info; }
const DeviceInfo& Context::probed_device() const { return state_->probed; }
void detail::ContextState::note_allocation(uint64_t bytes) {
    const uint64_t now = memory_in_use += bytes;
    uint64_t peak = memory_peak.load();
    while (now > peak && !memory_peak.compare_exchange_weak(peak, now)) {
    }
}

uint64_t Context::device_memory_in_use() const { return state_->memory_in_use.load(); }
uint64_t Context::device_memory_peak() const { return state_->memory_peak.load(); }
void Context::reset_device_memory_peak() { state_->memory_peak = state_->memory_in_use.load(); }

uint64_t Context::validation_message_count() const { return state_->instance ? state_->instance->message_count() : 0; }
ContextStats Context::stats() const {
    ContextStats s;
    s.memory_allocations = state_->stat_allocations.load();
    s.descriptor_pools = state_->stat_descriptor_pools.load();
    s.descriptor_sets = state_->stat_descriptor_sets.load();
    s.submissions = state_->stat_submissions.load();
    s.waits = state_->stat_waits.load();
    std::lock_guard lock(state_->mutex);
    s.pipelines = state_->pipelines.size();
    return s;
}

void Context::wait(Ticket ticket) { state_->wait_ticket(ticket.value); }
bool Context::completed(Ticket ticket) { return state_->poll_ticket(ticket.value); }

std::size_t Context::pipeline_count() const {
    std::lock_guard lock(state_->mutex);
    return state_->pipelines.size();
}
double Context::pipeline_compile_seconds() const {
    std::lock_guard lock(state_->mutex);
    return state_->compile_seconds;
}

}  // namespace vkattn
