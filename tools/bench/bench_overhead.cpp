// `vkattn bench --shapes overhead` (bench_overhead.hpp). The bench acts as an application: it makes
// its own Vulkan device (the one --device names), adopts it, and runs every mode on that one context:
//   sync      attention() with options.out: one submission and one wait per call; host time per call
//             = its wall time minus its kernels' GPU time (timestamps of the same call);
//   recorded  32 record_attention calls into the application's command buffer (re-recorded each
//             time: command pool and workspace reset), one vkQueueSubmit; host time = recording plus
//             the submit call, divided by 32 (the wait is not host work);
//   batched   the same on vkattn's own queue: 32 operations queued in a Batch, submit() (results
//             are new tensors there, so it also allocates);
//   step      a 32-layer decode step (KV cache append + attention per layer; prefill shapes: 32
//             attention calls) recorded once into the application's command buffer, then submitted
//             again and again; host time = vkQueueSubmit per step / 32. Recording it once costs
//             record_us_per_op, printed beside.
// Each (shape, mode) runs `repeats` times over `ops_per_run` operations; medians are printed, with the
// host work counted per operation (Context::stats()).
#include "bench/bench_overhead.hpp"

#include <vulkan/vulkan.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "runtime/clock.hpp"
#include "vkattn/embedding.hpp"
#include "vkattn/vkattn.hpp"

namespace vkattn::cli {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kLayers = 32;

double us_since(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void check(VkResult r, const char* what) {
    if (r != VK_SUCCESS) throw Error(ErrorCode::vulkan_error, std::string("bench overhead: ") + what + " failed (" + std::to_string(r) + ")");
}

// The application's side: instance, the chosen physical device, a device with shaderFloat16 where the
// device has it, one compute queue, a command pool and a fence. Destroyed in reverse.
class BenchApplication {
public:
    explicit BenchApplication(uint32_t device_index) {
        VkApplicationInfo ai{};
        ai.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
        ai.pApplicationName = "vkattn bench overhead";
        ai.apiVersion = VK_API_VERSION_1_2;
        VkInstanceCreateInfo ii{};
        ii.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
        ii.pApplicationInfo = &ai;
        check(vkCreateInstance(&ii, nullptr, &instance), "vkCreateInstance");
        uint32_t n = 0;
        check(vkEnumeratePhysicalDevices(instance, &n, nullptr), "vkEnumeratePhysicalDevices");
        std::vector<VkPhysicalDevice> all(n);
        check(vkEnumeratePhysicalDevices(instance, &n, all.data()), "vkEnumeratePhysicalDevices");
        if (device_index >= n) throw Error(ErrorCode::vulkan_error, "bench overhead: device index out of range");
        physical = all[device_index];
        uint32_t families = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &families, nullptr);
        std::vector<VkQueueFamilyProperties> props(families);
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &families, props.data());
        family = UINT32_MAX;
        for (uint32_t f = 0; f < families && family == UINT32_MAX; ++f)
            if (props[f].queueFlags & VK_QUEUE_COMPUTE_BIT) family = f;
        if (family == UINT32_MAX) throw Error(ErrorCode::unsupported, "bench overhead: the device has no compute queue");
        VkPhysicalDeviceVulkan12Features have12{};
        have12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
        VkPhysicalDeviceFeatures2 have{};
        have.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
        have.pNext = &have12;
        vkGetPhysicalDeviceFeatures2(physical, &have);
        float16 = have12.shaderFloat16 == VK_TRUE;
        VkPhysicalDeviceVulkan12Features want12{};
        want12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
        want12.shaderFloat16 = have12.shaderFloat16;
        const float priority = 1;
        VkDeviceQueueCreateInfo qi{};
        qi.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
        qi.queueFamilyIndex = family;
        qi.queueCount = 1;
        qi.pQueuePriorities = &priority;
        VkDeviceCreateInfo di{};
        di.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
        di.pNext = &want12;
        di.queueCreateInfoCount = 1;
        di.pQueueCreateInfos = &qi;
        check(vkCreateDevice(physical, &di, nullptr, &device), "vkCreateDevice");
        vkGetDeviceQueue(device, family, 0, &queue);
        VkCommandPoolCreateInfo pi{};
        pi.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
        pi.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
        pi.queueFamilyIndex = family;
        check(vkCreateCommandPool(device, &pi, nullptr, &pool), "vkCreateCommandPool");
        VkFenceCreateInfo fi{};
        fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
        check(vkCreateFence(device, &fi, nullptr, &fence), "vkCreateFence");
    }
    ~BenchApplication() {
        if (device) vkDeviceWaitIdle(device);
        if (fence) vkDestroyFence(device, fence, nullptr);
        if (pool) vkDestroyCommandPool(device, pool, nullptr);
        if (device) vkDestroyDevice(device, nullptr);
        if (instance) vkDestroyInstance(instance, nullptr);
    }
    BenchApplication(const BenchApplication&) = delete;
    BenchApplication& operator=(const BenchApplication&) = delete;

    AdoptedDevice adopted() const {
        AdoptedDevice a;
        a.instance = instance;
        a.physical_device = physical;
        a.device = device;
        a.queue_family = family;
        a.queue = queue;
        a.api_version = VK_API_VERSION_1_2;
        a.shader_float16 = float16;
        return a;
    }
    VkCommandBuffer begin() const {
        VkCommandBufferAllocateInfo ai{};
        ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
        ai.commandPool = pool;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        check(vkAllocateCommandBuffers(device, &ai, &cmd), "vkAllocateCommandBuffers");
        VkCommandBufferBeginInfo bi{};
        bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
        check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
        return cmd;
    }
    /// The driver's floor under any synchronous call: an empty command buffer submitted and waited for
    /// (microseconds, median of `n`).
    double empty_round_trip_us(int n) const {
        VkCommandBuffer cmd = begin();
        check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
        std::vector<double> t;
        for (int i = 0; i < n; ++i) {
            const auto t0 = Clock::now();
            submit_and_wait(cmd);
            t.push_back(us_since(t0));
        }
        vkFreeCommandBuffers(device, pool, 1, &cmd);
        return median(t);
    }
    /// Submits `cmd`; returns the host microseconds vkQueueSubmit took, after waiting for the fence.
    double submit_and_wait(VkCommandBuffer cmd) const {
        VkSubmitInfo si{};
        si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cmd;
        const auto t0 = Clock::now();
        check(vkQueueSubmit(queue, 1, &si, fence), "vkQueueSubmit");
        const double us = us_since(t0);
        check(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
        check(vkResetFences(device, 1, &fence), "vkResetFences");
        return us;
    }

    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    uint32_t family = 0;
    VkQueue queue = VK_NULL_HANDLE;
    VkCommandPool pool = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    bool float16 = false;
};

struct Shape {
    std::string name;
    int64_t Hq, Hkv, Lq, Lk, D;
    bool decode() const { return Lq == 1; }
};

struct Row {
    std::string shape, mode;
    double host_us = 0, wall_us = 0, gpu_us = 0, record_us = -1;
    double allocations = 0, pools = 0, sets = 0, submissions = 0, waits = 0;  // per operation
};

std::vector<float> random_values(std::size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist;
    std::vector<float> x(n);
    for (float& v : x) v = dist(rng);
    return x;
}

void per_op(Row& row, const ContextStats& a, const ContextStats& b, double ops) {
    row.allocations = static_cast<double>(b.memory_allocations - a.memory_allocations) / ops;
    row.pools = static_cast<double>(b.descriptor_pools - a.descriptor_pools) / ops;
    row.sets = static_cast<double>(b.descriptor_sets - a.descriptor_sets) / ops;
    row.submissions = static_cast<double>(b.submissions - a.submissions) / ops;
    row.waits = static_cast<double>(b.waits - a.waits) / ops;
}

// One decode layer's state: its cache and the new key/value row.
struct Layer {
    KvCache cache;
    Tensor k_new;
};

Row run_sync(Context& ctx, const Shape& s, const Tensor& q, const Tensor& k, const Tensor& v, const OverheadArgs& a) {
    AttentionOptions o;
    o.out = ctx.empty({1, s.Hq, s.Lq, s.D}, DType::f16);
    o.measure_time = true;
    for (int i = 0; i < 8; ++i) attention_full(ctx, q, k, v, o);  // warm-up
    std::vector<double> host, wall, gpu;
    const ContextStats before = ctx.stats();
    for (int r = 0; r < a.repeats; ++r) {
        std::vector<double> h, w, g;
        for (int i = 0; i < a.ops_per_run; ++i) {
            const auto t0 = Clock::now();
            const AttentionResult res = attention_full(ctx, q, k, v, o);
            const double us = us_since(t0);
            const double kernel_us = std::max(0.0, res.gpu_milliseconds * 1000);
            w.push_back(us);
            g.push_back(kernel_us);
            h.push_back(us - kernel_us);
        }
        host.push_back(median(h));
        wall.push_back(median(w));
        gpu.push_back(median(g));
    }
    Row row{s.name, "sync"};
    row.host_us = median(host), row.wall_us = median(wall), row.gpu_us = median(gpu);
    per_op(row, before, ctx.stats(), static_cast<double>(a.repeats * a.ops_per_run));
    return row;
}

Row run_batched(Context& ctx, const Shape& s, const Tensor& q, const Tensor& k, const Tensor& v, const OverheadArgs& a) {
    AttentionOptions o;
    o.out = ctx.empty({1, s.Hq, s.Lq, s.D}, DType::f16);
    Batch batch(ctx);
    const auto one_batch = [&] {
        const auto t0 = Clock::now();
        for (int i = 0; i < kLayers; ++i) batch.attention(q, k, v, o);
        const Ticket t = batch.submit();
        const double us = us_since(t0);
        const auto w0 = Clock::now();
        ctx.wait(t);
        return std::pair{us, us_since(w0)};
    };
    for (int i = 0; i < 4; ++i) one_batch();  // warm-up
    std::vector<double> host, wall;
    const ContextStats before = ctx.stats();
    for (int r = 0; r < a.repeats; ++r) {
        std::vector<double> h, w;
        for (int i = 0; i < a.ops_per_run / kLayers; ++i) {
            const auto [queued_us, waited_us] = one_batch();
            h.push_back(queued_us / kLayers);
            w.push_back((queued_us + waited_us) / kLayers);
        }
        host.push_back(median(h));
        wall.push_back(median(w));
    }
    Row row{s.name, "batched x32"};
    row.host_us = median(host), row.wall_us = median(wall), row.gpu_us = -1;
    per_op(row, before, ctx.stats(), static_cast<double>(a.repeats * (a.ops_per_run / kLayers) * kLayers));
    return row;
}

Row run_recorded(Context& ctx, const BenchApplication& app, const Shape& s, const Tensor& q, const Tensor& k, const Tensor& v,
                 const OverheadArgs& a) {
    AttentionOptions o;
    o.out = ctx.empty({1, s.Hq, s.Lq, s.D}, DType::f16);
    Workspace ws(ctx, std::max<VkDeviceSize>(16, attention_workspace_size(ctx, q, k, v, o)));
    const auto one_submission = [&] {
        check(vkResetCommandPool(app.device, app.pool, 0), "vkResetCommandPool");
        ws.reset();
        const auto t0 = Clock::now();
        VkCommandBuffer cmd = app.begin();
        for (int i = 0; i < kLayers; ++i) record_attention(ctx, cmd, ws, q, k, v, o);
        check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
        const double record_us = us_since(t0);
        const double submit_us = app.submit_and_wait(cmd);
        vkFreeCommandBuffers(app.device, app.pool, 1, &cmd);
        return (record_us + submit_us) / kLayers;
    };
    for (int i = 0; i < 4; ++i) one_submission();  // warm-up: the parameter ring and pool reach their size
    std::vector<double> host;
    const ContextStats before = ctx.stats();
    for (int r = 0; r < a.repeats; ++r) {
        std::vector<double> h;
        for (int i = 0; i < a.ops_per_run / kLayers; ++i) h.push_back(one_submission());
        host.push_back(median(h));
    }
    Row row{s.name, "recorded x32"};
    row.host_us = median(host), row.wall_us = -1, row.gpu_us = -1;
    per_op(row, before, ctx.stats(), static_cast<double>(a.repeats * (a.ops_per_run / kLayers) * kLayers));
    return row;
}

Row run_step(Context& ctx, const BenchApplication& app, const Shape& s, const Tensor& q, const Tensor& k, const Tensor& v,
             const OverheadArgs& a) {
    // 32 layers: each its own cache holding Lk - 1 tokens, one appended per step (decode), or its own
    // attention call (prefill); one output tensor, one workspace for all of them.
    std::vector<Layer> layers;
    AttentionOptions o;
    o.out = ctx.empty({1, s.Hq, s.Lq, s.D}, DType::f16);
    VkDeviceSize bytes = 16;
    if (s.decode()) {
        KvCacheOptions co;
        co.kv_heads = s.Hkv, co.capacity = s.Lk, co.head_dim = s.D;
        const Tensor prefix = ctx.upload(random_values(static_cast<std::size_t>(s.Hkv * (s.Lk - 1) * s.D), 3), {1, s.Hkv, s.Lk - 1, s.D},
                                         DType::f16);
        for (int l = 0; l < kLayers; ++l) {
            layers.push_back({KvCache(ctx, co), ctx.upload(random_values(static_cast<std::size_t>(s.Hkv * s.D), 4 + l), {1, s.Hkv, 1, s.D},
                                                           DType::f16)});
            layers.back().cache.append(prefix, prefix);
        }
        // Sized with the step's length (the caches hold Lk - 1 now and Lk once the step has appended).
        KvCache sizing(ctx, co);
        sizing.append(prefix, prefix);
        sizing.append(layers[0].k_new, layers[0].k_new);
        bytes = std::max(bytes, attend_workspace_size(ctx, q, sizing, o));
    } else {
        bytes = std::max(bytes, attention_workspace_size(ctx, q, k, v, o));
    }
    Workspace ws(ctx, bytes);
    const ContextStats before_record = ctx.stats();
    VkCommandBuffer cmd = app.begin();
    const auto r0 = Clock::now();
    for (int l = 0; l < kLayers; ++l) {
        if (s.decode()) {
            record_append(ctx, cmd, layers[static_cast<std::size_t>(l)].cache, layers[static_cast<std::size_t>(l)].k_new,
                          layers[static_cast<std::size_t>(l)].k_new);
            record_attend(ctx, cmd, ws, q, layers[static_cast<std::size_t>(l)].cache, o);
        } else {
            record_attention(ctx, cmd, ws, q, k, v, o);
        }
    }
    const double record_us = us_since(r0) / kLayers;
    check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
    for (int i = 0; i < 4; ++i) app.submit_and_wait(cmd);  // warm-up
    std::vector<double> host;
    const ContextStats before = ctx.stats();
    for (int r = 0; r < a.repeats; ++r) {
        std::vector<double> h;
        for (int i = 0; i < a.ops_per_run / kLayers; ++i) h.push_back(app.submit_and_wait(cmd) / kLayers);
        host.push_back(median(h));
    }
    Row row{s.name, s.decode() ? "step x32, recorded once" : "x32 recorded once"};
    row.host_us = median(host), row.wall_us = -1, row.gpu_us = -1, row.record_us = record_us;
    per_op(row, before, ctx.stats(), static_cast<double>(a.repeats * (a.ops_per_run / kLayers) * kLayers));
    (void)before_record;
    vkFreeCommandBuffers(app.device, app.pool, 1, &cmd);
    return row;
}

const std::vector<Shape>& overhead_shapes() {
    static const std::vector<Shape> shapes = {{"decode Hq8/Hkv2 Lk64 D64", 8, 2, 1, 64, 64},
                                              {"decode Hq8/Hkv2 Lk1024 D64", 8, 2, 1, 1024, 64},
                                              {"prefill Hq8/Hkv2 L128 D64", 8, 2, 128, 128, 64}};
    return shapes;
}

std::string fixed(double v, int decimals) {
    if (v < 0) return "-";
    return format_fixed(v, decimals);
}

}  // namespace

int run_overhead_bench(const OverheadArgs& a) {
    if (a.ops_per_run < kLayers || a.ops_per_run % kLayers != 0)
        throw UsageError("--repeat: the overhead set needs a multiple of 32 operations per run");
    bool any = a.filters.empty();
    for (const Shape& s : overhead_shapes())
        for (const std::string& f : a.filters) any = any || s.name.find(f) != std::string::npos;
    if (!any) throw UsageError("--filter: no shape of the overhead set has a name containing any of the given texts");
    uint32_t index = 0;
    {
        Context probe = open_context(a.common);  // the device --device / VKATTN_DEVICE chooses
        index = probe.probed_device().index;
    }
    BenchApplication app(index);
    ContextOptions options;
    options.verbose = a.common.verbose;
    options.profile = a.common.profile;
    Context ctx(app.adopted(), options);
    const DeviceInfo& dev = ctx.device();
    std::cout << "bench overhead: [" << dev.index << "] " << dev.name << ", driver " << dev.driver_name << " (" << dev.driver_info
              << "), adopted by the bench as an application would\n"
              << "host time per attention operation beyond its kernels; medians of " << a.repeats << " runs of " << a.ops_per_run
              << " operations; f16, B 1\n\n";
    std::vector<Shape> shapes;
    for (const Shape& s : overhead_shapes())
        if (a.filters.empty() || std::any_of(a.filters.begin(), a.filters.end(),
                                             [&](const std::string& f) { return s.name.find(f) != std::string::npos; }))
            shapes.push_back(s);
    std::vector<Row> rows;
    std::vector<double> floors;  // measured between the shapes, so that load changes show
    for (const Shape& s : shapes) {
        floors.push_back(app.empty_round_trip_us(a.ops_per_run));
        const Tensor q = ctx.upload(random_values(static_cast<std::size_t>(s.Hq * s.Lq * s.D), 1), {1, s.Hq, s.Lq, s.D}, DType::f16);
        const Tensor k = ctx.upload(random_values(static_cast<std::size_t>(s.Hkv * s.Lk * s.D), 2), {1, s.Hkv, s.Lk, s.D}, DType::f16);
        std::cerr << s.name << ": sync ..." << std::endl;
        rows.push_back(run_sync(ctx, s, q, k, k, a));
        std::cerr << s.name << ": recorded ..." << std::endl;
        rows.push_back(run_recorded(ctx, app, s, q, k, k, a));
        std::cerr << s.name << ": batched ..." << std::endl;
        rows.push_back(run_batched(ctx, s, q, k, k, a));
        std::cerr << s.name << ": recorded step ..." << std::endl;
        rows.push_back(run_step(ctx, app, s, q, k, k, a));
    }
    Table t({"shape", "mode", "host us/op", "wall us/op", "GPU us/op", "record us/op", "allocs/op", "pools/op", "sets/op", "submits/op",
             "waits/op"},
            {false, false, true, true, true, true, true, true, true, true, true});
    for (const Row& r : rows)
        t.add_row({r.shape, r.mode, fixed(r.host_us, 1), fixed(r.wall_us, 1), fixed(r.gpu_us, 1), fixed(r.record_us, 1),
                   fixed(r.allocations, 2), fixed(r.pools, 2), fixed(r.sets, 2), fixed(r.submissions, 3), fixed(r.waits, 3)});
    t.print(std::cout);
    std::cout << "driver floor (an empty command buffer submitted and waited for): " << fixed(median(floors), 1)
              << " us, the part of every synchronous call's host time that is the queue's round trip\n";
    for (std::size_t i = 0; i + 3 < rows.size(); i += 4)
        std::cout << rows[i].shape << ": host us/op sync " << fixed(rows[i].host_us, 1) << " (" << fixed(rows[i].host_us - floors[i / 4], 1)
                  << " above the floor), recorded x32 " << fixed(rows[i + 1].host_us, 1)
                  << " (goal <= 10: " << (rows[i + 1].host_us <= 10 ? "met" : "NOT met") << "), batched " << fixed(rows[i + 2].host_us, 1)
                  << ", recorded once and re-submitted " << fixed(rows[i + 3].host_us, 2) << '\n';
    if (!a.json.empty()) {
        nlohmann::json doc;
        doc["device"] = dev.name;
        doc["driver"] = dev.driver_name + " " + dev.driver_info;
        doc["date"] = vkattn::detail::utc_now();
        doc["shapes"] = "overhead";
        doc["empty_round_trip_us"] = median(floors);
        for (const Row& r : rows)
            doc["rows"].push_back({{"shape", r.shape},
                                   {"mode", r.mode},
                                   {"host_us_per_op", r.host_us},
                                   {"wall_us_per_op", r.wall_us < 0 ? nlohmann::json() : nlohmann::json(r.wall_us)},
                                   {"gpu_us_per_op", r.gpu_us < 0 ? nlohmann::json() : nlohmann::json(r.gpu_us)},
                                   {"record_us_per_op", r.record_us < 0 ? nlohmann::json() : nlohmann::json(r.record_us)},
                                   {"allocations_per_op", r.allocations},
                                   {"descriptor_pools_per_op", r.pools},
                                   {"descriptor_sets_per_op", r.sets},
                                   {"submissions_per_op", r.submissions},
                                   {"waits_per_op", r.waits}});
        std::ofstream f(a.json);
        f << doc.dump(2) << '\n';
        if (!f) throw Error(ErrorCode::io_error, "--json: cannot write '" + a.json + "'");
        std::cout << "wrote " << a.json << '\n';
    }
    return kExitOk;
}

}  // namespace vkattn::cli
