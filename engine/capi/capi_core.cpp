// The C API (include/vkattn/vkattn.h): status and per-thread errors, the conversions every part
// shares, contexts and tensors.
#include <memory>

#include "capi/capi_handles.hpp"
#include "vkattn/version.hpp"

namespace vkattn::capi {

namespace {
thread_local std::string last_error;
}

void fail(const std::string& message) { throw Error(ErrorCode::invalid_argument, message); }

void set_last_error(const char* text) noexcept {
    try {
        last_error = text;
    } catch (...) {
        last_error.clear();  // no memory for the message: an empty one rather than a stale one
    }
}

vkattn_status status_of(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::invalid_argument: return VKATTN_ERROR_INVALID_ARGUMENT;
        case ErrorCode::unsupported: return VKATTN_ERROR_UNSUPPORTED;
        case ErrorCode::no_device: return VKATTN_ERROR_NO_DEVICE;
        case ErrorCode::out_of_memory: return VKATTN_ERROR_OUT_OF_MEMORY;
        case ErrorCode::device_lost: return VKATTN_ERROR_DEVICE_LOST;
        case ErrorCode::vulkan_error: return VKATTN_ERROR_VULKAN;
        case ErrorCode::io_error: return VKATTN_ERROR_IO;
    }
    return VKATTN_ERROR_INTERNAL;
}

void check_struct_size(uint32_t size, std::size_t first_size, const char* name) {
    if (size == 0)
        fail(std::string(name) + ".struct_size: 0 (set it with the struct's _init function)");
    if (size < first_size)
        fail(std::string(name) + ".struct_size: " + std::to_string(size) + " is smaller than the first version's size " +
             std::to_string(first_size));
}

DType dtype_of(int32_t d, const char* name) {
    switch (d) {
        case VKATTN_DTYPE_F32: return DType::f32;
        case VKATTN_DTYPE_F16: return DType::f16;
        case VKATTN_DTYPE_I32: return DType::i32;
        case VKATTN_DTYPE_U8: return DType::u8;
        case VKATTN_DTYPE_BF16: return DType::bf16;
        case VKATTN_DTYPE_Q8_0: return DType::q8_0;
        case VKATTN_DTYPE_Q4_0: return DType::q4_0;
    }
    fail(std::string(name) + ": " + std::to_string(d) + " is not a vkattn_dtype");
}

std::optional<DType> out_dtype_of(int32_t d, const char* name) {
    if (d == VKATTN_DTYPE_DEFAULT) return std::nullopt;
    return dtype_of(d, name);
}

Causal causal_of(int32_t c, const char* name) {
    switch (c) {
        case VKATTN_CAUSAL_NONE: return Causal::none;
        case VKATTN_CAUSAL_TOP_LEFT: return Causal::top_left;
        case VKATTN_CAUSAL_BOTTOM_RIGHT: return Causal::bottom_right;
    }
    fail(std::string(name) + ": " + std::to_string(c) + " is not a vkattn_causal");
}

Path path_of(int32_t p, const char* name) {
    switch (p) {
        case VKATTN_PATH_AUTOMATIC: return Path::automatic;
        case VKATTN_PATH_FUSED: return Path::fused;
        case VKATTN_PATH_EXPLICIT: return Path::explicit_;
    }
    fail(std::string(name) + ": " + std::to_string(p) + " is not a vkattn_path");
}

vkattn_path path_to_c(Path p) noexcept {
    switch (p) {
        case Path::automatic: return VKATTN_PATH_AUTOMATIC;
        case Path::fused: return VKATTN_PATH_FUSED;
        case Path::explicit_: return VKATTN_PATH_EXPLICIT;
    }
    return VKATTN_PATH_AUTOMATIC;
}

vkattn_dtype dtype_to_c(DType d) noexcept {
    switch (d) {
        case DType::f32: return VKATTN_DTYPE_F32;
        case DType::f16: return VKATTN_DTYPE_F16;
        case DType::i32: return VKATTN_DTYPE_I32;
        case DType::u8: return VKATTN_DTYPE_U8;
        case DType::bf16: return VKATTN_DTYPE_BF16;
        case DType::q8_0: return VKATTN_DTYPE_Q8_0;
        case DType::q4_0: return VKATTN_DTYPE_Q4_0;
    }
    return VKATTN_DTYPE_F32;
}

Shape shape_of(int rank, const int64_t* shape, const char* name) {
    if (rank < 0) fail(std::string(name) + ": rank " + std::to_string(rank) + " is negative");
    if (rank > 0 && !shape) fail(std::string(name) + ": NULL pointer with rank " + std::to_string(rank));
    return Shape(shape, shape + rank);
}

std::vector<int32_t> int_list(const int32_t* values, std::size_t count, const char* name) {
    if (count > 0 && !values) fail(std::string(name) + ": NULL pointer with count " + std::to_string(count));
    return std::vector<int32_t>(values, values + count);
}

vkattn_tensor new_tensor(const Tensor& t) { return new vkattn_tensor_t{t}; }
vkattn_tensor new_tensor(const std::optional<Tensor>& t) { return t ? new_tensor(*t) : nullptr; }

}  // namespace vkattn::capi

using namespace vkattn;
using namespace vkattn::capi;

namespace {
template <typename T>
void copy_out(const Tensor& t, void* data, std::size_t bytes, const char* name) {
    const std::size_t want = static_cast<std::size_t>(t.numel()) * sizeof(T);
    if (bytes != want)
        fail(std::string(name) + ": " + std::to_string(bytes) + " bytes given, the tensor " + to_string(t.shape()) + " " +
             std::string(dtype_name(t.dtype())) + " holds " + std::to_string(want));
    if (want > 0 && !data) fail("data: NULL pointer");
    const std::vector<T> host = t.template download<T>();
    if (want > 0) std::memcpy(data, host.data(), want);
}
}  // namespace

extern "C" {

const char* vkattn_status_name(vkattn_status status) {
    switch (raw(status)) {
        case VKATTN_OK: return "ok";
        case VKATTN_ERROR_INVALID_ARGUMENT: return "invalid_argument";
        case VKATTN_ERROR_UNSUPPORTED: return "unsupported";
        case VKATTN_ERROR_NO_DEVICE: return "no_device";
        case VKATTN_ERROR_OUT_OF_MEMORY: return "out_of_memory";
        case VKATTN_ERROR_DEVICE_LOST: return "device_lost";
        case VKATTN_ERROR_VULKAN: return "vulkan_error";
        case VKATTN_ERROR_IO: return "io_error";
        case VKATTN_ERROR_INTERNAL: return "internal";
    }
    return "unknown";
}

const char* vkattn_last_error(void) { return vkattn::capi::last_error.c_str(); }

const char* vkattn_version(void) { return vkattn::version(); }

// ---- contexts

void vkattn_context_options_init(vkattn_context_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->validation_checks = VKATTN_VALIDATION_STANDARD;
}

void vkattn_adopted_device_init(vkattn_adopted_device* d) {
    if (!d) return;
    std::memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->api_version = VK_API_VERSION_1_1;
}

namespace {

ContextOptions context_options(const vkattn_context_options* in, bool adopting) {
    const vkattn_context_options o = read_struct(in, vkattn_context_options_init, "options");
    ContextOptions c;
    if (o.device && *o.device) {
        if (adopting) fail("options.device: not used when adopting a device (the application chose it); leave it NULL");
        c.device = DeviceSelector::parse(o.device);
    }
    c.validation = o.validation != 0;
    switch (raw(o.validation_checks)) {
        case VKATTN_VALIDATION_STANDARD: c.validation_checks = ValidationChecks::standard; break;
        case VKATTN_VALIDATION_SYNCHRONIZATION: c.validation_checks = ValidationChecks::synchronization; break;
        case VKATTN_VALIDATION_GPU_ASSISTED: c.validation_checks = ValidationChecks::gpu_assisted; break;
        case VKATTN_VALIDATION_BEST_PRACTICES: c.validation_checks = ValidationChecks::best_practices; break;
        default:
            fail("options.validation_checks: " + std::to_string(raw(o.validation_checks)) +
                 " is not a vkattn_validation_checks");
    }
    if (o.profile) c.profile = o.profile;
    c.subgroup_size = o.subgroup_size;
    if (o.pipeline_cache_dir) c.pipeline_cache_dir = o.pipeline_cache_dir;
    c.verbose = o.verbose != 0;
    if (o.on_message) {
        auto fn = o.on_message;
        void* user = o.user_data;
        c.on_message = [fn, user](const std::string& line) { fn(line.c_str(), user); };
    }
    return c;
}

void device_info_to_c(const DeviceInfo& d, bool adopted, vkattn_device_info& o) {
    vkattn_device_info_init(&o);
    copy_text(o.name, d.name);
    copy_text(o.vendor, d.vendor);
    o.vendor_id = d.vendor_id;
    o.device_id = d.device_id;
    switch (d.type) {
        case DeviceType::discrete_gpu: o.type = VKATTN_DEVICE_DISCRETE_GPU; break;
        case DeviceType::integrated_gpu: o.type = VKATTN_DEVICE_INTEGRATED_GPU; break;
        case DeviceType::virtual_gpu: o.type = VKATTN_DEVICE_VIRTUAL_GPU; break;
        case DeviceType::cpu: o.type = VKATTN_DEVICE_CPU; break;
        case DeviceType::other: o.type = VKATTN_DEVICE_OTHER; break;
    }
    o.api_version = d.api_version;
    copy_text(o.driver_name, d.driver_name);
    o.subgroup_size = d.subgroup_size;
    o.fp16_arithmetic = d.fp16_arithmetic;
    o.storage_16bit = d.storage_16bit;
    o.shared_memory_bytes = d.shared_memory_bytes;
    o.compute_units = d.compute_units;
    o.device_local_bytes = d.device_local_bytes;
    o.timestamps = d.timestamps;
    copy_text(o.profile, d.profile);
    o.adopted = adopted;
    o.index = d.index;
    o.usable = d.usable;
}

}  // namespace

vkattn_status vkattn_context_create(const vkattn_context_options* options, vkattn_context* out) {
    return guard([&] {
        auto& o = out_of(out, "out");
        ContextOptions c = context_options(options, false);
        o = new vkattn_context_t{Context(std::move(c))};
    });
}

vkattn_status vkattn_context_adopt(const vkattn_adopted_device* device, const vkattn_context_options* options,
                                   vkattn_context* out) {
    return guard([&] {
        auto& o = out_of(out, "out");
        if (!device) fail("device: NULL pointer");
        const vkattn_adopted_device d = read_struct(device, vkattn_adopted_device_init, "device");
        AdoptedDevice a;
        a.instance = d.instance;
        a.physical_device = d.physical_device;
        a.device = d.device;
        a.queue_family = d.queue_family;
        a.queue = d.queue;
        a.api_version = d.api_version;
        if (d.enabled_extension_count > 0 && !d.enabled_extensions)
            fail("device.enabled_extensions: NULL pointer with count " + std::to_string(d.enabled_extension_count));
        for (std::size_t i = 0; i < d.enabled_extension_count; ++i) {
            if (!d.enabled_extensions[i]) fail("device.enabled_extensions[" + std::to_string(i) + "]: NULL string");
            a.enabled_extensions.emplace_back(d.enabled_extensions[i]);
        }
        a.shader_float16 = d.shader_float16 != 0;
        a.subgroup_size_control = d.subgroup_size_control != 0;
        ContextOptions c = context_options(options, true);
        o = new vkattn_context_t{Context(a, std::move(c))};
    });
}

void vkattn_context_destroy(vkattn_context ctx) { delete ctx; }

void vkattn_device_info_init(vkattn_device_info* info) {
    if (!info) return;
    std::memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    info->type = VKATTN_DEVICE_OTHER;
}

vkattn_status vkattn_context_device_info(vkattn_context ctx, vkattn_device_info* info) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        if (!info) fail("info: NULL pointer");
        check_struct_size(info->struct_size, sizeof *info, "info");
        vkattn_device_info o;
        device_info_to_c(c.device(), c.adopted(), o);
        o.selected = 1;
        write_struct(info, o, "info");
    });
}

vkattn_status vkattn_enumerate_devices(const char* selector, vkattn_device_info* out, size_t capacity, size_t* count) {
    return guard([&] {
        auto& n = out_of(count, "count");
        if (capacity > 0 && !out) fail("out: NULL pointer with capacity " + std::to_string(capacity));
        const uint32_t stride = capacity > 0 ? out[0].struct_size : 0;
        if (capacity > 0) check_struct_size(stride, sizeof *out, "out[0]");
        const auto devices = enumerate_devices(selector && *selector ? DeviceSelector::parse(selector) : DeviceSelector{});
        for (std::size_t i = 0; i < devices.size() && i < capacity; ++i) {
            auto* dst = reinterpret_cast<vkattn_device_info*>(reinterpret_cast<char*>(out) + i * stride);
            dst->struct_size = stride;  // the array's stride is the caller's struct size
            vkattn_device_info o;
            device_info_to_c(devices[i].info, false, o);
            o.selected = devices[i].selected;
            write_struct(dst, o, "out[i]");
        }
        n = devices.size();
    });
}

void vkattn_stats_init(vkattn_stats* stats) {
    if (!stats) return;
    std::memset(stats, 0, sizeof *stats);
    stats->struct_size = sizeof *stats;
}

vkattn_status vkattn_context_stats(vkattn_context ctx, vkattn_stats* stats) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        if (!stats) fail("stats: NULL pointer");
        check_struct_size(stats->struct_size, sizeof *stats, "stats");
        const ContextStats s = c.stats();
        vkattn_stats o;
        vkattn_stats_init(&o);
        o.memory_allocations = s.memory_allocations;
        o.descriptor_pools = s.descriptor_pools;
        o.descriptor_sets = s.descriptor_sets;
        o.pipelines = s.pipelines;
        o.submissions = s.submissions;
        o.waits = s.waits;
        o.device_memory_in_use = c.device_memory_in_use();
        o.device_memory_peak = c.device_memory_peak();
        write_struct(stats, o, "stats");
    });
}

vkattn_status vkattn_context_wait(vkattn_context ctx, vkattn_ticket ticket) {
    return guard([&] { ctx_of(ctx).wait(Ticket{ticket}); });
}

vkattn_status vkattn_context_completed(vkattn_context ctx, vkattn_ticket ticket, int* done) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& d = out_of(done, "done");
        d = c.completed(Ticket{ticket}) ? 1 : 0;
    });
}

// ---- tensors

vkattn_status vkattn_tensor_empty(vkattn_context ctx, int rank, const int64_t* shape, vkattn_dtype dtype, vkattn_tensor* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& o = out_of(out, "out");
        const Shape s = shape_of(rank, shape, "shape");
        const DType d = dtype_of(raw(dtype), "dtype");
        o = new_tensor(c.empty(s, d));
    });
}

vkattn_status vkattn_tensor_upload(vkattn_context ctx, const float* data, size_t count, int rank, const int64_t* shape,
                                   vkattn_dtype dtype, vkattn_tensor* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& o = out_of(out, "out");
        if (!data && count > 0) fail("data: NULL pointer with count " + std::to_string(count));
        const Shape s = shape_of(rank, shape, "shape");
        const DType d = dtype_of(raw(dtype), "dtype");
        o = new_tensor(c.upload(std::span<const float>(data, count), s, d));
    });
}

vkattn_status vkattn_tensor_upload_raw(vkattn_context ctx, const void* data, size_t bytes, int rank, const int64_t* shape,
                                       vkattn_dtype dtype, vkattn_tensor* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& o = out_of(out, "out");
        if (!data && bytes > 0) fail("data: NULL pointer with " + std::to_string(bytes) + " bytes");
        const Shape s = shape_of(rank, shape, "shape");
        const DType d = dtype_of(raw(dtype), "dtype");
        o = new_tensor(c.upload_raw(data, bytes, s, d));
    });
}


vkattn_status vkattn_tensor_download(vkattn_tensor t, float* data, size_t count) {
    return guard([&] {
        const Tensor& x = tensor_of(t, "t");
        if (x.dtype() == DType::i32 || x.dtype() == DType::u8)
            fail("t: dtype " + std::string(dtype_name(x.dtype())) + " downloads with vkattn_tensor_download_raw (floats: f32, f16, bf16, q8_0, q4_0)");
        const std::size_t want = static_cast<std::size_t>(x.numel());
        if (count != want)
            fail("count: " + std::to_string(count) + " floats given, the tensor " + to_string(x.shape()) + " has " +
                 std::to_string(want) + " elements");
        copy_out<float>(x, data, count * sizeof(float), "count");
    });
}

vkattn_status vkattn_tensor_download_raw(vkattn_tensor t, void* data, size_t bytes) {
    return guard([&] {
        const Tensor& x = tensor_of(t, "t");
        switch (x.dtype()) {
            case DType::f32: copy_out<float>(x, data, bytes, "bytes"); break;
            case DType::f16: copy_out<uint16_t>(x, data, bytes, "bytes"); break;
            case DType::i32: copy_out<int32_t>(x, data, bytes, "bytes"); break;
            case DType::u8: copy_out<uint8_t>(x, data, bytes, "bytes"); break;
            case DType::bf16: copy_out<uint16_t>(x, data, bytes, "bytes"); break;
            case DType::q8_0:
            case DType::q4_0: {
                // The raw blocks (dtype_storage_bytes of the elements) of a contiguous tensor.
                const std::vector<uint8_t> raw = x.download<uint8_t>();
                if (bytes != raw.size())
                    fail("bytes: " + std::to_string(bytes) + " bytes given, the " + std::string(dtype_name(x.dtype())) + " tensor " +
                         to_string(x.shape()) + " holds " + std::to_string(raw.size()));
                if (!data) fail("data: NULL pointer");
                std::memcpy(data, raw.data(), raw.size());
                break;
            }
        }
    });
}

int vkattn_tensor_rank(vkattn_tensor t) { return t ? t->t.rank() : -1; }
int64_t vkattn_tensor_numel(vkattn_tensor t) { return t ? t->t.numel() : -1; }
int64_t vkattn_tensor_offset(vkattn_tensor t) { return t ? t->t.offset() : -1; }
vkattn_dtype vkattn_tensor_dtype(vkattn_tensor t) { return t ? dtype_to_c(t->t.dtype()) : VKATTN_DTYPE_F32; }

namespace {
vkattn_status copy_dims(vkattn_tensor t, int64_t* dst, size_t capacity, bool strides) {
    return guard([&] {
        const Tensor& x = tensor_of(t, "t");
        const auto& v = strides ? x.strides() : x.shape();
        const char* name = strides ? "strides" : "shape";
        if (capacity < v.size())
            fail("capacity: " + std::to_string(capacity) + " is less than the tensor's rank " + std::to_string(v.size()));
        if (!v.empty() && !dst) fail(std::string(name) + ": NULL pointer");
        std::copy(v.begin(), v.end(), dst);
    });
}
}  // namespace

vkattn_status vkattn_tensor_shape(vkattn_tensor t, int64_t* shape, size_t capacity) { return copy_dims(t, shape, capacity, false); }
vkattn_status vkattn_tensor_strides(vkattn_tensor t, int64_t* strides, size_t capacity) {
    return copy_dims(t, strides, capacity, true);
}

vkattn_status vkattn_tensor_view(vkattn_tensor t, int rank, const int64_t* shape, const int64_t* strides, int64_t offset_elements,
                                 vkattn_tensor* out) {
    return guard([&] {
        const Tensor& x = tensor_of(t, "t");
        auto& o = out_of(out, "out");
        const Shape s = shape_of(rank, shape, "shape");
        const Strides st = strides ? Strides(strides, strides + rank) : contiguous_strides(s);
        o = new_tensor(x.view(s, st, offset_elements));
    });
}

vkattn_status vkattn_tensor_transposed(vkattn_tensor t, int a, int b, vkattn_tensor* out) {
    return guard([&] {
        const Tensor& x = tensor_of(t, "t");
        auto& o = out_of(out, "out");
        o = new_tensor(x.transposed(a, b));
    });
}

vkattn_status vkattn_tensor_wrap_buffer(vkattn_context ctx, VkBuffer buffer, VkDeviceSize size, VkBufferUsageFlags usage,
                                        VkDeviceSize byte_offset, int rank, const int64_t* shape, const int64_t* strides,
                                        vkattn_dtype dtype, vkattn_tensor* out) {
    return guard([&] {
        Context& c = ctx_of(ctx);
        auto& o = out_of(out, "out");
        const Shape s = shape_of(rank, shape, "shape");
        const Strides st = strides ? Strides(strides, strides + rank) : Strides{};
        const DType d = dtype_of(raw(dtype), "dtype");
        ApplicationBuffer b;
        b.buffer = buffer;
        b.size = size;
        b.usage = usage;
        o = new_tensor(wrap_buffer(c, b, byte_offset, s, d, st));
    });
}

void vkattn_tensor_release(vkattn_tensor t) { delete t; }

}  // extern "C"
