// The Python extension module `vkattn._vkattn` (docs/python.md): a core over the C++ API that the
// pure-Python package (tools/python/vkattn/__init__.py) builds its functions on.
//
// It lives under tools/ because the top level is fixed by the project's design (engine/, shaders/,
// include/, tests/, bench/, tools/) and, like the vkattn program, the module is a client of the public
// API only: it links vkattn and includes <vkattn/vkattn.hpp>, never an engine-internal header.
//
// What it exposes:
//   Context        a vkattn::Context (device selector, profile, validation), its device, stats and
//                  tensor(); the underscore methods run the engine's operations on Tensor handles
//   Tensor         a device tensor of one Context (shape, dtype, numpy())
//   KvCache, MhaWeights   the engine's cache and layer weights, held on a Context's device
//   device(), devices(), alibi_slopes(), _default_context()
//   _attention()   attention over contiguous numpy arrays already in vkattn's [B, H, L, E] layout (the
//                  default context; scaled_dot_product_attention's core)
//   Error, UnsupportedError, NoDeviceError, OutOfMemoryError, DeviceLostError, VulkanError
// vkattn::Error(invalid_argument) becomes ValueError; every other code one of the RuntimeError
// subclasses above. The message is the C++ message (it names the argument and the rule).
//
// Threads: every engine call releases the GIL, then takes the Context's mutex (the module's calls on one
// context run one at a time, whatever the engine serialises itself), and never touches a Python object
// while it holds it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <algorithm>
#include <cmath>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <vkattn/vkattn.hpp>

#if VKATTN_PYTHON_BENCH
#include <iostream>

#include "bench/bench_run.hpp"  // the vkattn program's benchmark (tools/bench)
#include "cli/cli_common.hpp"
#endif
#if VKATTN_PYTHON_HEATMAP
#include "draw/heatmap_figure.hpp"  // the vkattn program's drawing library (tools/draw)
#include "draw/heatmap_render.hpp"
#endif

namespace py = pybind11;

namespace {

[[noreturn]] void invalid(const std::string& message) {
    throw vkattn::Error(vkattn::ErrorCode::invalid_argument, message);
}

// One vkattn::Context as Python holds it: shared by the Python Context object, every Tensor, KvCache and
// MhaWeights made on it (they keep it alive), with the module's own transfer counters.
struct Ctx {
    std::unique_ptr<vkattn::Context> ctx;
    std::mutex mutex;  // serialises this module's calls on ctx; taken with the GIL released
    uint64_t uploads = 0, upload_bytes = 0, downloads = 0, download_bytes = 0;  // guarded by mutex
};
using CtxPtr = std::shared_ptr<Ctx>;

// Runs f with the GIL released and the context's mutex held. f must not touch Python objects.
template <typename F>
auto locked(Ctx& c, F&& f) {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(c.mutex);
    return f(*c.ctx);
}

// The default context, created on first use: every new context compiles its own pipelines (seconds each on
// lavapipe), so calls without ctx= share it. Released by an atexit hook (below) while the interpreter, and the
// Vulkan loader, are still alive; objects made on it keep it alive until they go.
std::mutex g_context_mutex;
CtxPtr g_context;

CtxPtr default_context() {
    // The GIL is released before the mutex is taken (device creation takes a while; other threads run),
    // so that a thread waiting for the mutex never holds the GIL the creating thread needs back.
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(g_context_mutex);
    if (!g_context) {
        auto c = std::make_shared<Ctx>();
        c->ctx = std::make_unique<vkattn::Context>();
        g_context = std::move(c);
    }
    return g_context;
}

void release_context() {
    std::lock_guard<std::mutex> lock(g_context_mutex);
    g_context.reset();
}

CtxPtr make_context(const std::optional<std::string>& device, const std::optional<std::string>& profile, bool validation) {
    vkattn::ContextOptions o;
    if (device) {
        if (device->empty()) invalid("device: empty selector (pass None for the default rule)");
        o.device = vkattn::DeviceSelector::parse(*device);
        o.device.ignore_environment = true;  // an explicit selector wins over VKATTN_DEVICE
    }
    if (profile) o.profile = *profile;
    o.validation = validation;
    auto c = std::make_shared<Ctx>();
    {
        py::gil_scoped_release release;
        c->ctx = std::make_unique<vkattn::Context>(std::move(o));
    }
    return c;
}

// A device tensor and the context it belongs to.
struct PyTensor {
    vkattn::Tensor t;
    CtxPtr owner;
};

std::string dtype_text(const py::dtype& dt) { return py::str(py::handle(dt)).cast<std::string>(); }

const char* numpy_name(vkattn::DType d) {
    switch (d) {
        case vkattn::DType::f32: return "float32";
        case vkattn::DType::f16: return "float16";
        case vkattn::DType::i32: return "int32";
        case vkattn::DType::u8: return "uint8";
        case vkattn::DType::bf16:  // numpy has no bf16 nor block formats: their values come back as float32
        case vkattn::DType::q8_0:
        case vkattn::DType::q4_0: return "float32";
    }
    return "?";
}

// A dtype argument: a vkattn name ("f32", "f16", "i32", "u8"), a numpy name ("float32", "bool" ...) or
// anything numpy.dtype() takes.
vkattn::DType dtype_arg(const py::handle& value, const std::string& name) {
    std::string text;
    if (py::isinstance<py::str>(value)) {
        text = value.cast<std::string>();
    } else {
        try {
            text = py::module_::import("numpy").attr("dtype")(value).attr("name").cast<std::string>();
        } catch (const py::error_already_set&) {
            throw py::type_error(name + ": " + py::repr(value).cast<std::string>() + " is not a dtype");
        }
    }
    if (text == "f32" || text == "float32") return vkattn::DType::f32;
    if (text == "f16" || text == "float16") return vkattn::DType::f16;
    if (text == "i32" || text == "int32") return vkattn::DType::i32;
    if (text == "u8" || text == "uint8" || text == "bool") return vkattn::DType::u8;
    if (text == "bf16" || text == "bfloat16") return vkattn::DType::bf16;
    if (text == "q8_0" || text == "q8") return vkattn::DType::q8_0;
    if (text == "q4_0" || text == "q4") return vkattn::DType::q4_0;
    invalid(name + ": '" + text + "' (expected 'f32'/'float32', 'f16'/'float16', 'bf16', 'q8_0', 'q4_0', 'i32'/'int32' or 'u8'/'uint8'/'bool')");
}

std::optional<vkattn::DType> dtype_of_array(const py::dtype& dt) {
    if (dt.kind() == 'f' && dt.itemsize() == 4) return vkattn::DType::f32;
    if (dt.kind() == 'f' && dt.itemsize() == 2) return vkattn::DType::f16;
    if (dt.kind() == 'i' && dt.itemsize() == 4) return vkattn::DType::i32;
    if ((dt.kind() == 'u' && dt.itemsize() == 1) || dt.kind() == 'b') return vkattn::DType::u8;
    return std::nullopt;
}

vkattn::Shape shape_of(const py::array& a) {
    vkattn::Shape s;
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s.push_back(static_cast<int64_t>(a.shape(i)));
    return s;
}

// Uploads a numpy array (or anything numpy.asarray takes) as a device tensor: in its own dtype (float32,
// float16, int32, uint8, bool as uint8) or converted to `dtype` on the host first. `name` is the argument
// errors name.
PyTensor upload_array(const CtxPtr& c, const py::object& value, const py::object& dtype, const std::string& name) {
    py::module_ np = py::module_::import("numpy");
    py::array a;
    vkattn::DType target;
    if (!dtype.is_none()) {
        target = dtype_arg(dtype, "dtype");
        a = np.attr("ascontiguousarray")(value, py::arg("dtype") = numpy_name(target));
    } else {
        a = np.attr("ascontiguousarray")(value);
        const std::optional<vkattn::DType> d = dtype_of_array(a.dtype());
        if (!d)
            throw py::type_error(name + ": dtype " + dtype_text(a.dtype()) +
                                 " (expected float32, float16, int32, uint8 or bool; pass dtype= to convert)");
        target = *d;
        if (a.dtype().kind() == 'b') a = a.attr("view")("uint8");
        if (!a.dtype().attr("isnative").cast<bool>()) a = a.attr("astype")(a.dtype().attr("newbyteorder")("="));
    }
    const vkattn::Shape shape = shape_of(a);
    const std::size_t bytes = static_cast<std::size_t>(a.nbytes());
    const void* data = a.data();
    // bf16 and the block formats (q8_0, q4_0: k and v) are converted from float32 by the library.
    const bool from_floats = target == vkattn::DType::bf16 || vkattn::dtype_is_quantized(target);
    vkattn::Tensor t = locked(*c, [&](vkattn::Context& ctx) {  // `a` stays referenced here for the whole call
        vkattn::Tensor r = from_floats ? ctx.upload(std::span<const float>(static_cast<const float*>(data), bytes / 4), shape, target)
                                       : ctx.upload_raw(data, bytes, shape, target);
        c->uploads += 1;
        c->upload_bytes += bytes;
        return r;
    });
    return PyTensor{std::move(t), c};
}

// The tensor's values as a new numpy array of its dtype, in logical (row-major) order.
py::array download(const PyTensor& p) {
    const vkattn::Tensor& t = p.t;
    std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
    py::array result(py::dtype(numpy_name(t.dtype())), shape);
    void* dst = result.mutable_data();
    const std::size_t bytes = static_cast<std::size_t>(result.nbytes());
    locked(*p.owner, [&](vkattn::Context&) {
        switch (t.dtype()) {
            case vkattn::DType::f32: { auto v = t.download<float>(); std::memcpy(dst, v.data(), bytes); break; }
            case vkattn::DType::f16: { auto v = t.download<uint16_t>(); std::memcpy(dst, v.data(), bytes); break; }
            case vkattn::DType::i32: { auto v = t.download<int32_t>(); std::memcpy(dst, v.data(), bytes); break; }
            case vkattn::DType::u8: { auto v = t.download<uint8_t>(); std::memcpy(dst, v.data(), bytes); break; }
            case vkattn::DType::bf16:
            case vkattn::DType::q8_0:
            case vkattn::DType::q4_0: { auto v = t.download<float>(); std::memcpy(dst, v.data(), bytes); break; }
        }
        p.owner->downloads += 1;
        p.owner->download_bytes += bytes;
        return 0;
    });
    return result;
}

// The handle's tensor, refused (naming the argument) when it belongs to another context.
const vkattn::Tensor& on(const CtxPtr& c, const PyTensor& p, const std::string& name) {
    if (p.owner != c) invalid(name + ": a Tensor of another Context");
    return p.t;
}

std::optional<vkattn::Tensor> on(const CtxPtr& c, const std::optional<PyTensor>& p, const std::string& name) {
    if (!p) return std::nullopt;
    return on(c, *p, name);
}

py::object wrap(const CtxPtr& c, const std::optional<vkattn::Tensor>& t) {
    if (!t) return py::none();
    return py::cast(PyTensor{*t, c});
}

vkattn::Causal causal_arg(const std::string& s, const std::string& name = "causal") {
    if (s == "none") return vkattn::Causal::none;
    if (s == "top_left") return vkattn::Causal::top_left;
    if (s == "bottom_right") return vkattn::Causal::bottom_right;
    invalid(name + ": '" + s + "' (expected 'none', 'top_left' or 'bottom_right')");
}

vkattn::Path path_arg(const std::string& s) {
    if (s == "auto") return vkattn::Path::automatic;
    if (s == "fused") return vkattn::Path::fused;
    if (s == "explicit") return vkattn::Path::explicit_;
    invalid("path: '" + s + "' (expected 'auto', 'fused' or 'explicit')");
}

vkattn::FeatureMap feature_map_arg(const std::string& s) {
    if (s == "elu_plus_one") return vkattn::FeatureMap::elu_plus_one;
    if (s == "identity") return vkattn::FeatureMap::identity;
    invalid("feature_map: '" + s + "' (expected 'elu_plus_one' or 'identity')");
}

std::optional<vkattn::DType> out_dtype_arg(const std::optional<std::string>& s) {
    if (!s) return std::nullopt;
    const vkattn::DType d = dtype_arg(py::str(*s), "out_dtype");
    if (d != vkattn::DType::f32 && d != vkattn::DType::f16 && d != vkattn::DType::bf16)
        invalid("out_dtype: '" + *s + "' (expected 'f32', 'f16' or 'bf16')");
    return d;
}

// AttentionOptions from the keyword dict the Python layer builds (keys as vkattn.attention's arguments).
template <typename T>
std::optional<T> opt_item(const py::dict& d, const char* key) {
    if (!d.contains(key) || d[key].is_none()) return std::nullopt;
    try {
        return d[key].cast<T>();
    } catch (const py::cast_error&) {
        throw py::type_error(std::string(key) + ": " + py::repr(d[key]).cast<std::string>() + " has the wrong type");
    }
}

vkattn::AttentionOptions attention_options(const CtxPtr& c, const py::dict& d) {
    vkattn::AttentionOptions o;
    if (auto v = opt_item<double>(d, "scale")) o.scale = static_cast<float>(*v);
    if (auto v = opt_item<std::string>(d, "causal")) o.causal = causal_arg(*v);
    if (auto v = opt_item<std::vector<int32_t>>(d, "key_lengths")) o.key_lengths = *v;
    if (auto v = opt_item<PyTensor>(d, "mask")) o.mask = on(c, *v, "mask");
    if (auto v = opt_item<std::pair<int64_t, int64_t>>(d, "window")) o.window = vkattn::Window{v->first, v->second};
    if (auto v = opt_item<std::vector<float>>(d, "alibi_slopes")) o.alibi_slopes = *v;
    if (auto v = opt_item<std::vector<float>>(d, "sinks")) o.sinks = *v;
    if (auto v = opt_item<double>(d, "softcap")) o.softcap = static_cast<float>(*v);
    if (auto v = opt_item<std::string>(d, "path")) o.path = path_arg(*v);
    if (auto v = opt_item<bool>(d, "return_lse")) o.return_lse = *v;
    if (auto v = opt_item<bool>(d, "return_weights")) o.return_weights = *v;
    o.out_dtype = out_dtype_arg(opt_item<std::string>(d, "out_dtype"));
    return o;
}

py::tuple result_tuple(const CtxPtr& c, const vkattn::AttentionResult& r) {
    return py::make_tuple(wrap(c, r.out), wrap(c, r.lse), wrap(c, r.weights));
}

py::dict device_dict(const vkattn::DeviceInfo& d) {
    py::dict out;
    out["name"] = d.name;
    out["vendor"] = d.vendor;
    out["vendor_id"] = d.vendor_id;
    out["type"] = std::string(vkattn::to_string(d.type));
    out["driver"] = d.driver_name;
    out["subgroup_size"] = d.subgroup_size;
    out["fp16"] = d.fp16_arithmetic;
    out["storage_16bit"] = d.storage_16bit;
    out["shared_memory_bytes"] = d.shared_memory_bytes;
    out["compute_units"] = d.compute_units;
    out["profile"] = d.profile;
    return out;
}

py::list devices() {
    std::vector<vkattn::DeviceChoice> choices;
    {
        py::gil_scoped_release release;
        choices = vkattn::enumerate_devices();
    }
    py::list out;
    for (const vkattn::DeviceChoice& ch : choices) {
        py::dict d = device_dict(ch.info);
        d["index"] = ch.info.index;
        d["usable"] = ch.info.usable;
        d["unusable_reason"] = ch.info.unusable_reason;
        d["selected"] = ch.selected;
        d["reason"] = ch.reason;
        out.append(d);
    }
    return out;
}

py::dict stats(const CtxPtr& c) {
    struct Snapshot {
        vkattn::ContextStats s;
        uint64_t in_use, peak, validation;
        std::size_t pipelines;
        double compile_s;
        uint64_t uploads, upload_bytes, downloads, download_bytes;
    };
    const Snapshot n = locked(*c, [&](vkattn::Context& ctx) {
        return Snapshot{ctx.stats(), ctx.device_memory_in_use(), ctx.device_memory_peak(), ctx.validation_message_count(),
                        ctx.pipeline_count(), ctx.pipeline_compile_seconds(), c->uploads, c->upload_bytes, c->downloads,
                        c->download_bytes};
    });
    py::dict d;
    d["memory_allocations"] = n.s.memory_allocations;
    d["descriptor_pools"] = n.s.descriptor_pools;
    d["descriptor_sets"] = n.s.descriptor_sets;
    d["pipelines"] = n.s.pipelines;
    d["submissions"] = n.s.submissions;
    d["waits"] = n.s.waits;
    d["device_memory_in_use"] = n.in_use;
    d["device_memory_peak"] = n.peak;
    d["validation_messages"] = n.validation;
    d["pipeline_compile_seconds"] = n.compile_s;
    d["uploads"] = n.uploads;
    d["upload_bytes"] = n.upload_bytes;
    d["downloads"] = n.downloads;
    d["download_bytes"] = n.download_bytes;
    return d;
}

// --- operations on Tensor handles (the Python layer uploads numpy arguments first) ---------------------

py::tuple attention_op(const CtxPtr& c, const PyTensor& q, const PyTensor& k, const PyTensor& v, const py::dict& opts) {
    const vkattn::Tensor &tq = on(c, q, "q"), &tk = on(c, k, "k"), &tv = on(c, v, "v");
    const vkattn::AttentionOptions o = attention_options(c, opts);
    const vkattn::AttentionResult r = locked(*c, [&](vkattn::Context& ctx) { return vkattn::attention_full(ctx, tq, tk, tv, o); });
    return result_tuple(c, r);
}

py::tuple additive_op(const CtxPtr& c, const PyTensor& q, const PyTensor& k, const PyTensor& v, const PyTensor& w_q,
                      const PyTensor& w_k, const PyTensor& v_a, const std::optional<PyTensor>& bias, const py::dict& opts) {
    const vkattn::Tensor &tq = on(c, q, "q"), &tk = on(c, k, "k"), &tv = on(c, v, "v");
    vkattn::AdditiveWeights w{on(c, w_q, "w_q"), on(c, w_k, "w_k"), on(c, v_a, "v_a"), on(c, bias, "bias")};
    const vkattn::AdditiveOptions o = attention_options(c, opts);
    const vkattn::AttentionResult r =
        locked(*c, [&](vkattn::Context& ctx) { return vkattn::additive_attention(ctx, tq, tk, tv, w, o); });
    return result_tuple(c, r);
}

PyTensor linear_op(const CtxPtr& c, const PyTensor& q, const PyTensor& k, const PyTensor& v, const std::string& feature_map,
                   const std::string& causal, const std::optional<std::vector<int32_t>>& key_lengths,
                   const std::optional<std::string>& out_dtype) {
    const vkattn::Tensor &tq = on(c, q, "q"), &tk = on(c, k, "k"), &tv = on(c, v, "v");
    vkattn::LinearAttentionOptions o;
    o.feature_map = feature_map_arg(feature_map);
    o.causal = causal_arg(causal);
    if (key_lengths) o.key_lengths = *key_lengths;
    o.out_dtype = out_dtype_arg(out_dtype);
    vkattn::Tensor out = locked(*c, [&](vkattn::Context& ctx) { return vkattn::linear_attention(ctx, tq, tk, tv, o); });
    return PyTensor{std::move(out), c};
}

// vkattn::matmul on Tensor handles (the layers' projections; bench/compare_torch.py times it against torch.matmul).
PyTensor matmul_op(const CtxPtr& c, const PyTensor& a, const PyTensor& w, const std::optional<PyTensor>& bias, bool transpose_w,
                   const std::optional<std::string>& out_dtype) {
    const vkattn::Tensor &ta = on(c, a, "a"), &tw = on(c, w, "w");
    const std::optional<vkattn::Tensor> tb = on(c, bias, "bias");
    vkattn::MatmulOptions o;
    o.transpose_w = transpose_w;
    o.out_dtype = out_dtype_arg(out_dtype);
    vkattn::Tensor out = locked(*c, [&](vkattn::Context& ctx) { return vkattn::matmul(ctx, ta, tw, tb, o); });
    return PyTensor{std::move(out), c};
}

// --- KvCache ---------------------------------------------------------------------------------------------

struct PyKvCache {
    CtxPtr c;
    std::unique_ptr<vkattn::KvCache> cache;
};

PyKvCache make_cache(const CtxPtr& c, int64_t batch, int64_t kv_heads, int64_t capacity, int64_t head_dim, int64_t value_dim,
                     const py::object& dtype) {
    vkattn::KvCacheOptions o;
    o.batch = batch, o.kv_heads = kv_heads, o.capacity = capacity, o.head_dim = head_dim, o.value_dim = value_dim;
    o.dtype = dtype_arg(dtype, "dtype");
    // (The engine names any other dtype in its own error.)
    auto cache = locked(*c, [&](vkattn::Context& ctx) { return std::make_unique<vkattn::KvCache>(ctx, o); });
    return PyKvCache{c, std::move(cache)};
}

void cache_append(PyKvCache& kc, const PyTensor& k_new, const PyTensor& v_new, const std::optional<std::vector<int32_t>>& counts) {
    const vkattn::Tensor &tk = on(kc.c, k_new, "k_new"), &tv = on(kc.c, v_new, "v_new");
    const std::vector<int32_t> n = counts ? *counts : std::vector<int32_t>{};
    locked(*kc.c, [&](vkattn::Context&) {
        kc.cache->append(tk, tv, n);
        return 0;
    });
}

py::tuple cache_attend(PyKvCache& kc, const PyTensor& q, const py::dict& opts) {
    const vkattn::Tensor& tq = on(kc.c, q, "q");
    const vkattn::AttentionOptions o = attention_options(kc.c, opts);
    const vkattn::AttentionResult r = locked(*kc.c, [&](vkattn::Context& ctx) { return vkattn::attend(ctx, tq, *kc.cache, o); });
    return result_tuple(kc.c, r);
}

// --- packed sequences and the paged cache -------------------------------------------------------------------

py::tuple varlen_op(const CtxPtr& c, const PyTensor& q, const PyTensor& k, const PyTensor& v, const std::vector<int32_t>& cu_q,
                    const std::vector<int32_t>& cu_k, const py::dict& opts) {
    const vkattn::Tensor &tq = on(c, q, "q"), &tk = on(c, k, "k"), &tv = on(c, v, "v");
    const vkattn::AttentionOptions o = attention_options(c, opts);
    const vkattn::AttentionResult r =
        locked(*c, [&](vkattn::Context& ctx) { return vkattn::attention_varlen(ctx, tq, tk, tv, cu_q, cu_k, o); });
    return result_tuple(c, r);
}

struct PyPagedCache {
    CtxPtr c;
    std::unique_ptr<vkattn::PagedKvCache> cache;
};

PyPagedCache make_paged_cache(const CtxPtr& c, int64_t pages, int64_t page_size, int64_t kv_heads, int64_t head_dim,
                              int64_t value_dim, const py::object& dtype) {
    vkattn::PagedKvCacheOptions o;
    o.pages = pages, o.page_size = page_size, o.kv_heads = kv_heads, o.head_dim = head_dim, o.value_dim = value_dim;
    o.dtype = dtype_arg(dtype, "dtype");
    auto cache = locked(*c, [&](vkattn::Context& ctx) { return std::make_unique<vkattn::PagedKvCache>(ctx, o); });
    return PyPagedCache{c, std::move(cache)};
}

// --- multi-head attention ----------------------------------------------------------------------------------

struct PyMhaWeights {
    CtxPtr c;
    vkattn::MhaWeights w;
};

PyMhaWeights load_mha_file(const CtxPtr& c, const std::string& path, int64_t heads, int64_t kv_heads, const std::string& prefix,
                           const py::object& dtype) {
    vkattn::MhaLoadOptions o;
    o.heads = heads, o.kv_heads = kv_heads, o.prefix = prefix;
    o.dtype = dtype_arg(dtype, "dtype");
    vkattn::MhaWeights w = locked(*c, [&](vkattn::Context& ctx) { return vkattn::load_mha_weights(ctx, path, o); });
    return PyMhaWeights{c, std::move(w)};
}

// rows [row0, row0 + rows) of a rank-1 or rank-2 tensor, as a view (the engine's own rule for in_proj).
vkattn::Tensor rows_of(const vkattn::Tensor& t, int64_t row0, int64_t rows) {
    if (t.rank() == 1) return t.view({rows}, {1}, t.offset() + row0);
    return t.view({rows, t.dim(1)}, {t.strides()[0], t.strides()[1]}, t.offset() + row0 * t.strides()[0]);
}

// MhaWeights from tensors already uploaded under nn.MultiheadAttention's names (without prefix), whose names
// and shapes the Python layer checked with plan_mha_weights' rules; validate_mha_weights checks the result.
PyMhaWeights mha_weights_from(const CtxPtr& c, int64_t heads, int64_t kv_heads, int64_t head_dim, const py::dict& tensors) {
    const auto get = [&](const char* name) -> std::optional<vkattn::Tensor> {
        if (!tensors.contains(name) || tensors[name].is_none()) return std::nullopt;
        return on(c, tensors[name].cast<PyTensor>(), name);
    };
    vkattn::MhaWeights w;
    w.heads = heads, w.kv_heads = kv_heads, w.head_dim = head_dim;
    const int64_t HD = heads * head_dim, KD = kv_heads * head_dim;
    const std::optional<vkattn::Tensor> out_w = get("out_proj.weight");
    if (!out_w) invalid("out_proj.weight: missing");
    w.w_o = *out_w;
    w.embed_dim = out_w->dim(0);
    if (auto in = get("in_proj_weight")) {
        w.in_proj = *in;
        w.w_q = rows_of(*in, 0, HD);
        w.w_k = rows_of(*in, HD, KD);
        w.w_v = rows_of(*in, HD + KD, KD);
        w.kdim = w.vdim = in->dim(1);
    } else {
        auto wq = get("q_proj_weight"), wk = get("k_proj_weight"), wv = get("v_proj_weight");
        if (!wq || !wk || !wv) invalid("q_proj_weight: missing, or k_proj_weight or v_proj_weight");
        w.w_q = *wq, w.w_k = *wk, w.w_v = *wv;
        w.kdim = wk->dim(1), w.vdim = wv->dim(1);
    }
    if (auto b = get("in_proj_bias")) {
        w.in_proj_bias = *b;
        w.b_q = rows_of(*b, 0, HD);
        w.b_k = rows_of(*b, HD, KD);
        w.b_v = rows_of(*b, HD + KD, KD);
    }
    w.b_o = get("out_proj.bias");
    locked(*c, [&](vkattn::Context& ctx) {
        vkattn::validate_mha_weights(ctx, w);
        return 0;
    });
    return PyMhaWeights{c, std::move(w)};
}

py::tuple mha_op(const PyMhaWeights& pw, const PyTensor& x_q, const std::optional<PyTensor>& x_k, const std::optional<PyTensor>& x_v,
                 const std::string& causal, const std::optional<std::vector<int32_t>>& key_lengths,
                 const std::optional<PyTensor>& mask, bool need_weights, bool average_weights,
                 const std::optional<std::string>& out_dtype) {
    const CtxPtr& c = pw.c;
    const vkattn::Tensor& tq = on(c, x_q, "x_q");
    const std::optional<vkattn::Tensor> tk = on(c, x_k, "x_k"), tv = on(c, x_v, "x_v");
    vkattn::MhaOptions o;
    o.causal = causal_arg(causal);
    if (key_lengths) o.key_lengths = *key_lengths;
    o.mask = on(c, mask, "mask");
    o.need_weights = need_weights;
    o.average_weights = average_weights;
    o.out_dtype = out_dtype_arg(out_dtype);
    const vkattn::MhaResult r =
        locked(*c, [&](vkattn::Context& ctx) { return vkattn::multi_head_attention(ctx, pw.w, tq, tk, tv, o); });
    return py::make_tuple(wrap(c, r.out), wrap(c, r.weights));
}

// --- scaled_dot_product_attention's core (default context, numpy in and out) --------------------------------

vkattn::DType float_dtype_of(const py::array& a, const char* name) {
    const py::dtype dt = a.dtype();
    if (dt.kind() == 'f' && dt.byteorder() == '>')
        invalid(std::string(name) + ": big-endian dtype " + dtype_text(dt) + " (expected native float32 or float16)");
    if (dt.kind() == 'f' && dt.itemsize() == 4) return vkattn::DType::f32;
    if (dt.kind() == 'f' && dt.itemsize() == 2) return vkattn::DType::f16;
    invalid(std::string(name) + ": dtype " + dtype_text(dt) + " (expected float32 or float16)");
}

void require_contiguous(const py::array& a, const char* name) {
    if (!(a.flags() & py::array::c_style))
        invalid(std::string(name) + ": not C-contiguous (pass numpy.ascontiguousarray(...))");
}

vkattn::Tensor upload(vkattn::Context& ctx, const py::array& a, vkattn::DType dtype) {
    return ctx.upload_raw(a.data(), static_cast<std::size_t>(a.nbytes()), shape_of(a), dtype);
}

// out = softmax(scale * q k^T + mask) v. q [B, Hq, Lq, E], k [B, Hkv, Lk, E], v [B, Hkv, Lk, Ev], all
// C-contiguous and of one dtype (float32 or float16); mask None, [Lq, Lk] or [B|1, Hq|1, Lq, Lk], float32
// (added) or uint8/bool (non-zero = attend). Returns [B, Hq, Lq, Ev] in the inputs' dtype.
py::array attention(const py::array& q, const py::array& k, const py::array& v, const std::optional<py::array>& mask,
                    bool is_causal, std::optional<double> scale) {
    const vkattn::DType dtype = float_dtype_of(q, "q");
    if (float_dtype_of(k, "k") != dtype) invalid("k: dtype differs from q's");
    if (float_dtype_of(v, "v") != dtype) invalid("v: dtype differs from q's");
    require_contiguous(q, "q");
    require_contiguous(k, "k");
    require_contiguous(v, "v");
    std::optional<vkattn::DType> mask_dtype;
    if (mask) {
        require_contiguous(*mask, "mask");
        const py::dtype dt = mask->dtype();
        if (dt.kind() == 'b' || (dt.kind() == 'u' && dt.itemsize() == 1))
            mask_dtype = vkattn::DType::u8;
        else if (dt.kind() == 'f' && dt.itemsize() == 4 && dt.byteorder() != '>')
            mask_dtype = vkattn::DType::f32;
        else
            invalid("mask: dtype " + dtype_text(dt) + " (expected bool, uint8 or float32)");
    }
    // Ranks here; every other rule (heads, lengths, head dims, mask shape) is the engine's own check.
    if (q.ndim() != 4) invalid("q: rank " + std::to_string(q.ndim()) + " (expected [B, H, L, E])");
    if (k.ndim() != 4) invalid("k: rank " + std::to_string(k.ndim()) + " (expected [B, H, L, E])");
    if (v.ndim() != 4) invalid("v: rank " + std::to_string(v.ndim()) + " (expected [B, H, L, E])");

    const CtxPtr c = default_context();
    vkattn::Shape out_shape;
    std::vector<uint16_t> out16;
    std::vector<float> out32;
    locked(*c, [&](vkattn::Context& ctx) {  // the arrays stay referenced by the caller for the whole call
        vkattn::AttentionOptions opt;
        if (scale) opt.scale = static_cast<float>(*scale);
        if (is_causal) opt.causal = vkattn::Causal::top_left;
        const vkattn::Tensor tq = upload(ctx, q, dtype);
        const vkattn::Tensor tk = upload(ctx, k, dtype);
        const vkattn::Tensor tv = upload(ctx, v, dtype);
        if (mask) opt.mask = upload(ctx, *mask, *mask_dtype);
        c->uploads += mask ? 4 : 3;
        c->upload_bytes += static_cast<uint64_t>(q.nbytes() + k.nbytes() + v.nbytes() + (mask ? mask->nbytes() : 0));
        const vkattn::Tensor out = vkattn::attention(ctx, tq, tk, tv, opt);
        out_shape = out.shape();
        if (out.dtype() == vkattn::DType::f16)
            out16 = out.download<uint16_t>();
        else
            out32 = out.download<float>();
        c->downloads += 1;
        c->download_bytes += out16.size() * 2 + out32.size() * 4;
        return 0;
    });
    std::vector<py::ssize_t> shape(out_shape.begin(), out_shape.end());
    if (dtype == vkattn::DType::f16) {
        // numpy's float16 is IEEE binary16: the bits are copied as they are.
        py::array result(py::dtype("float16"), shape);
        std::memcpy(result.mutable_data(), out16.data(), out16.size() * sizeof(uint16_t));
        return result;
    }
    py::array_t<float> result(shape);
    std::memcpy(result.mutable_data(), out32.data(), out32.size() * sizeof(float));
    return result;
}

#if VKATTN_PYTHON_HEATMAP
// vkattn.heatmap: weights [B, H, Lq, Lk] (float32, C-contiguous) drawn as `vkattn heatmap` draws them,
// to a PNG or SVG chosen by the extension of `path`. Returns the path.
std::string heatmap(py::array_t<float, py::array::c_style | py::array::forcecast> weights, const std::string& path,
                    std::vector<std::string> query_tokens, std::vector<std::string> key_tokens, int64_t batch,
                    const std::string& mode, int64_t head, const std::string& title, int64_t max_cells,
                    std::optional<double> vmax) {
    if (weights.ndim() != 4)
        throw vkattn::Error(vkattn::ErrorCode::invalid_argument,
                            "weights: expected [B, H, Lq, Lk], got " + std::to_string(weights.ndim()) + " dimensions");
    vkattn::Shape shape;
    for (py::ssize_t i = 0; i < 4; ++i) shape.push_back(static_cast<int64_t>(weights.shape(i)));
    std::vector<float> values(weights.data(), weights.data() + weights.size());
    vkattn::cli::HeatmapRequest r;
    r.batch = batch;
    r.head = head;
    if (mode == "head") r.mode = vkattn::cli::HeatmapMode::head;
    else if (mode == "grid") r.mode = vkattn::cli::HeatmapMode::grid;
    else if (mode == "mean") r.mode = vkattn::cli::HeatmapMode::mean;
    else throw vkattn::Error(vkattn::ErrorCode::invalid_argument, "mode: '" + mode + "' (expected 'head', 'grid' or 'mean')");
    r.query_tokens = std::move(query_tokens);
    r.key_tokens = std::move(key_tokens);
    r.title = title;
    r.max_cells = max_cells;
    r.vmax = vmax;
    r.query_option = "query_tokens";
    r.key_option = "key_tokens";
    r.out_option = "path";
    py::gil_scoped_release release;
    vkattn::cli::write_heatmap(vkattn::cli::make_weights(std::move(values), shape), r, path);
    return path;
}
#endif

#if VKATTN_PYTHON_BENCH
// vkattn.bench: the cases of one `vkattn bench` set on ctx, measured as the program measures them. Returns
// the report as the program's --json file holds it (the Python side parses it). Progress lines go to
// standard error, as the program's do.
std::string bench(const CtxPtr& c, const std::string& shapes, const std::vector<std::string>& filters, int64_t repeat,
                  bool check, double max_seconds_per_case, bool remeasure, bool progress) {
    const std::vector<std::string>& sets = vkattn::cli::bench_set_names();
    if (std::find(sets.begin(), sets.end(), shapes) == sets.end()) {
        std::string names;
        for (const std::string& n : sets) names += (names.empty() ? "'" : ", '") + n + "'";
        invalid("shapes: unknown set '" + shapes + "' (expected one of " + names + ")");
    }
    if (vkattn::cli::filter_cases(vkattn::cli::bench_cases(shapes, false), filters).empty())
        invalid("filter: no case of set '" + shapes + "' has a name containing any of the given texts");
    if (repeat < 1 || repeat > 1000000) invalid("repeat: " + std::to_string(repeat) + " (expected 1 to 1000000)");
    if (!(max_seconds_per_case >= 0 || max_seconds_per_case == -1) || !std::isfinite(max_seconds_per_case))
        invalid("max_seconds_per_case: must be a non-negative number (0: no limit) or None");
    vkattn::cli::BenchRunOptions run;
    run.shapes = shapes;
    run.filters = filters;
    run.settings.max_repeats = static_cast<int>(repeat);
    run.settings.check = check;
    run.max_seconds_per_case = max_seconds_per_case;
    run.remeasure = remeasure;
    if (progress) run.progress = [](const std::string& line) { std::cerr << line << std::endl; };
    return locked(*c, [&](vkattn::Context& ctx) {
        vkattn::cli::BenchReport rep = vkattn::cli::new_bench_report(ctx, run);
        vkattn::cli::measure_bench_cases(ctx, rep, vkattn::cli::bench_report_cases(rep), run);
        return vkattn::cli::bench_json_text(rep);
    });
}
#endif

}  // namespace

PYBIND11_MODULE(_vkattn, m) {
    m.doc() = "vkattn's core: contexts, device tensors, and the engine's operations on them (docs/python.md)";

    // Exceptions. invalid_argument maps to the built-in ValueError; the rest derive from vkattn.Error
    // (a RuntimeError). The type objects are kept for the life of the process (never released at exit).
    static PyObject* base = nullptr;
    static PyObject* unsupported = nullptr;
    static PyObject* no_device = nullptr;
    static PyObject* out_of_memory = nullptr;
    static PyObject* device_lost = nullptr;
    static PyObject* vulkan_error = nullptr;
    auto make = [&m](const char* name, PyObject* parent) {
        py::exception<vkattn::Error> type(m, name, parent);
        return type.inc_ref().ptr();
    };
    base = make("Error", PyExc_RuntimeError);
    unsupported = make("UnsupportedError", base);
    no_device = make("NoDeviceError", base);
    out_of_memory = make("OutOfMemoryError", base);
    device_lost = make("DeviceLostError", base);
    vulkan_error = make("VulkanError", base);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const vkattn::Error& e) {
            PyObject* type = base;
            switch (e.code()) {
                case vkattn::ErrorCode::invalid_argument: type = PyExc_ValueError; break;
                case vkattn::ErrorCode::unsupported: type = unsupported; break;
                case vkattn::ErrorCode::no_device: type = no_device; break;
                case vkattn::ErrorCode::out_of_memory: type = out_of_memory; break;
                case vkattn::ErrorCode::device_lost: type = device_lost; break;
                case vkattn::ErrorCode::vulkan_error: type = vulkan_error; break;
                case vkattn::ErrorCode::io_error: type = base; break;
            }
            PyErr_SetString(type, e.message().c_str());
        }
    });

    py::class_<Ctx, CtxPtr>(m, "Context",
                            "A vkattn context: one Vulkan device, its queue, memory and compiled pipelines.\n\n"
                            "Context(device=None, profile=None, validation=False). device: a selector as VKATTN_DEVICE "
                            "takes (an index '0', a type 'discrete'/'integrated'/'virtual'/'cpu', or a substring of the "
                            "name); None: VKATTN_DEVICE, else the default rule (discrete > integrated > virtual > cpu). "
                            "profile: a limits profile to plan for (None: VKATTN_PROFILE, else 'desktop'). validation: "
                            "enable the Khronos validation layer. Each context compiles its own pipelines, so a program "
                            "normally makes one; functions called without ctx= use the module's default context.")
        .def(py::init(&make_context), py::arg("device") = py::none(), py::arg("profile") = py::none(),
             py::arg("validation") = false)
        .def_property_readonly(
            "device", [](const CtxPtr& c) { return device_dict(c->ctx->device()); },
            "The device as a dict (as vkattn.device() gives): name, vendor, vendor_id, type, driver, subgroup_size, "
            "fp16, storage_16bit, shared_memory_bytes, compute_units, profile.")
        .def("stats", &stats,
             "Counters since the context was created, as a dict: the engine's memory_allocations, descriptor_pools, "
             "descriptor_sets, pipelines, submissions, waits, device_memory_in_use, device_memory_peak, "
             "validation_messages, pipeline_compile_seconds; and the module's own uploads / upload_bytes (numpy "
             "arrays copied to the device) and downloads / download_bytes (results copied back).")
        .def(
            "tensor", [](const CtxPtr& c, const py::object& array, const py::object& dtype) { return upload_array(c, array, dtype, "array"); },
            py::arg("array"), py::arg("dtype") = py::none(),
            "Uploads an array to the device and returns a vkattn.Tensor handle. dtype None keeps the array's "
            "(float32, float16, int32, uint8; bool becomes uint8); 'f32'/'float32', 'f16'/'float16', 'i32', 'u8' "
            "(or a numpy dtype) converts on the host first.")
        .def("_upload", &upload_array, py::arg("array"), py::arg("dtype"), py::arg("name"),
             "tensor() with the name of the argument that errors name.")
        .def("_attention", &attention_op, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("options"),
             "attention_full on Tensor handles; options: a dict of vkattn.attention's keywords. Returns "
             "(out, lse or None, weights or None).")
        .def("_additive", &additive_op, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("w_q"), py::arg("w_k"),
             py::arg("v_a"), py::arg("bias"), py::arg("options"),
             "additive_attention on Tensor handles. Returns (out, lse or None, weights or None).")
        .def("_matmul", &matmul_op, py::arg("a"), py::arg("w"), py::arg("bias"), py::arg("transpose_w"), py::arg("out_dtype"),
             "vkattn::matmul on Tensor handles.")
        .def("_linear", &linear_op, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("feature_map"), py::arg("causal"),
             py::arg("key_lengths"), py::arg("out_dtype"), "linear_attention on Tensor handles. Returns the output Tensor.")
        .def("_attention_varlen", &varlen_op, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("cu_seqlens_q"),
             py::arg("cu_seqlens_k"), py::arg("options"),
             "attention_varlen on Tensor handles (packed [tokens, H, D]). Returns (out, lse or None, weights or None).")
        .def("_paged_kv_cache", &make_paged_cache, py::arg("pages"), py::arg("page_size"), py::arg("kv_heads"),
             py::arg("head_dim"), py::arg("value_dim"), py::arg("dtype"), "A PagedKvCache on this context's device.")
        .def("_kv_cache", &make_cache, py::arg("batch"), py::arg("kv_heads"), py::arg("capacity"), py::arg("head_dim"),
             py::arg("value_dim"), py::arg("dtype"), "A KvCache on this context's device.")
        .def("_load_mha_file", &load_mha_file, py::arg("path"), py::arg("heads"), py::arg("kv_heads"), py::arg("prefix"),
             py::arg("dtype"), "load_mha_weights from a .safetensors file.")
        .def("_mha_weights", &mha_weights_from, py::arg("heads"), py::arg("kv_heads"), py::arg("head_dim"), py::arg("tensors"),
             "MhaWeights from uploaded tensors named as nn.MultiheadAttention's state dict (checked by "
             "validate_mha_weights).")
        .def("__repr__", [](const CtxPtr& c) { return "<vkattn.Context on '" + c->ctx->device().name + "'>"; });

    py::class_<PyTensor>(m, "Tensor",
                         "A tensor on a Context's device (made by Context.tensor() or returned by an operation given "
                         "Tensor arguments). Operations on Tensor handles read and write device memory only; numpy() "
                         "copies the values back.")
        .def_property_readonly(
            "shape", [](const PyTensor& p) { return py::tuple(py::cast(p.t.shape())); }, "The shape, a tuple of ints.")
        .def_property_readonly(
            "dtype", [](const PyTensor& p) { return py::dtype(numpy_name(p.t.dtype())); },
            "The element type as a numpy dtype: float32, float16, int32 or uint8.")
        .def_property_readonly("ndim", [](const PyTensor& p) { return p.t.rank(); }, "The number of dimensions.")
        .def_property_readonly("context", [](const PyTensor& p) { return p.owner; }, "The Context it belongs to.")
        .def("numpy", &download, "Copies the values to a new numpy array of the tensor's dtype (row-major).")
        .def("__repr__", [](const PyTensor& p) {
            const vkattn::DType d = p.t.dtype();
            const bool numpy_has = d != vkattn::DType::bf16 && !vkattn::dtype_is_quantized(d);
            return "<vkattn.Tensor shape=" + vkattn::to_string(p.t.shape()) + " dtype=" +
                   (numpy_has ? std::string(numpy_name(d)) : std::string(vkattn::dtype_name(d))) + ">";
        });

    py::class_<PyKvCache>(m, "_KvCache", "The engine's KvCache (vkattn.KvCache wraps it).")
        .def("append", &cache_append, py::arg("k_new"), py::arg("v_new"), py::arg("counts") = py::none(),
             "Appends k_new [B, Hkv, n, D] and v_new [B, Hkv, n, Dv] (Tensors of the cache's dtype); counts: per "
             "batch rows to take (None: all n).")
        .def("_attend", &cache_attend, py::arg("q"), py::arg("options"),
             "vkattn::attend on a Tensor handle; returns (out, lse or None, weights or None).")
        .def_property_readonly(
            "lengths", [](const PyKvCache& kc) { return locked(*kc.c, [&](vkattn::Context&) { return kc.cache->lengths(); }); }, "Tokens held per batch, a list of ints.")
        .def("clear", [](PyKvCache& kc) { locked(*kc.c, [&](vkattn::Context&) { kc.cache->clear(); return 0; }); }, "Sets every length to 0 (the storage is kept).")
        .def_property_readonly(
            "keys", [](const PyKvCache& kc) { return PyTensor{kc.cache->keys(), kc.c}; },
            "The key storage [B, Hkv, capacity, D] (rows past a batch's length are stale).")
        .def_property_readonly(
            "values", [](const PyKvCache& kc) { return PyTensor{kc.cache->values(), kc.c}; },
            "The value storage [B, Hkv, capacity, Dv].")
        .def_property_readonly("context", [](const PyKvCache& kc) { return kc.c; }, "The Context it lives on.");

    py::class_<PyPagedCache>(m, "_PagedKvCache", "The engine's PagedKvCache (vkattn.PagedKvCache wraps it).")
        .def("add_sequence", [](PyPagedCache& pc) { return locked(*pc.c, [&](vkattn::Context&) { return pc.cache->add_sequence(); }); })
        .def("fork", [](PyPagedCache& pc, int64_t parent) { return locked(*pc.c, [&](vkattn::Context&) { return pc.cache->fork(parent); }); })
        .def("free", [](PyPagedCache& pc, int64_t id) { locked(*pc.c, [&](vkattn::Context&) { pc.cache->free(id); return 0; }); })
        .def("trim", [](PyPagedCache& pc, int64_t id, int64_t length) { locked(*pc.c, [&](vkattn::Context&) { pc.cache->trim(id, length); return 0; }); })
        .def("append", [](PyPagedCache& pc, const std::vector<int64_t>& ids, const PyTensor& k_new, const PyTensor& v_new,
                          const std::vector<int32_t>& cu) {
            const vkattn::Tensor &tk = on(pc.c, k_new, "k_new"), &tv = on(pc.c, v_new, "v_new");
            locked(*pc.c, [&](vkattn::Context&) { pc.cache->append(ids, tk, tv, cu); return 0; });
        })
        .def("_attend", [](PyPagedCache& pc, const PyTensor& q, const std::vector<int64_t>& ids, const std::vector<int32_t>& cu_q,
                           const py::dict& opts) {
            const vkattn::Tensor& tq = on(pc.c, q, "q");
            const vkattn::AttentionOptions o = attention_options(pc.c, opts);
            const vkattn::AttentionResult r = locked(*pc.c, [&](vkattn::Context& ctx) { return vkattn::attend(ctx, tq, *pc.cache, ids, cu_q, o); });
            return result_tuple(pc.c, r);
        })
        .def("length", [](const PyPagedCache& pc, int64_t id) { return locked(*pc.c, [&](vkattn::Context&) { return pc.cache->length(id); }); })
        .def("block_table", [](const PyPagedCache& pc, int64_t id) { return locked(*pc.c, [&](vkattn::Context&) { return pc.cache->block_table(id); }); })
        .def("stats", [](const PyPagedCache& pc) {
            const vkattn::PagedKvCacheStats s = locked(*pc.c, [&](vkattn::Context&) { return pc.cache->stats(); });
            py::dict d;
            d["pages"] = s.pages, d["pages_free"] = s.pages_free, d["pages_used"] = s.pages_used, d["pages_shared"] = s.pages_shared;
            d["sequences"] = s.sequences, d["tokens"] = s.tokens;
            return d;
        });

    py::class_<PyMhaWeights>(m, "MhaWeights",
                             "nn.MultiheadAttention's parameters on a Context's device (vkattn.load_mha_weights).")
        .def_property_readonly("embed_dim", [](const PyMhaWeights& w) { return w.w.embed_dim; })
        .def_property_readonly("heads", [](const PyMhaWeights& w) { return w.w.heads; })
        .def_property_readonly("kv_heads", [](const PyMhaWeights& w) { return w.w.kv_heads; })
        .def_property_readonly("head_dim", [](const PyMhaWeights& w) { return w.w.head_dim; })
        .def_property_readonly("kdim", [](const PyMhaWeights& w) { return w.w.kdim; })
        .def_property_readonly("vdim", [](const PyMhaWeights& w) { return w.w.vdim; })
        .def_property_readonly("packed", [](const PyMhaWeights& w) { return w.w.in_proj.has_value(); },
                               "True when Q, K and V come from one in_proj_weight.")
        .def_property_readonly("dtype", [](const PyMhaWeights& w) { return py::dtype(numpy_name(w.w.w_q.dtype())); })
        .def_property_readonly("context", [](const PyMhaWeights& w) { return w.c; }, "The Context it lives on.")
        .def("_forward", &mha_op, py::arg("x_q"), py::arg("x_k"), py::arg("x_v"), py::arg("causal"), py::arg("key_lengths"),
             py::arg("mask"), py::arg("need_weights"), py::arg("average_weights"), py::arg("out_dtype"),
             "multi_head_attention on Tensor handles; returns (out, weights or None).")
        .def("__repr__", [](const PyMhaWeights& w) {
            return "<vkattn.MhaWeights embed_dim=" + std::to_string(w.w.embed_dim) + " heads=" + std::to_string(w.w.heads) +
                   " kv_heads=" + std::to_string(w.w.kv_heads) + " head_dim=" + std::to_string(w.w.head_dim) + ">";
        });

    m.def("_default_context", &default_context,
          "The module's default Context (created on first use; VKATTN_DEVICE selects its device).");
    m.def("device", []() { return device_dict(default_context()->ctx->device()); },
          "The device of the default context (created on first use; VKATTN_DEVICE selects it) as a dict: "
          "name, vendor, vendor_id, type, driver, subgroup_size, fp16, storage_16bit, shared_memory_bytes, "
          "compute_units, profile.");
    m.def("devices", &devices,
          "Every Vulkan device as a list of dicts: device()'s keys plus index, usable, unusable_reason, selected "
          "(what a Context() without device= would choose, VKATTN_DEVICE applied) and reason.");
    m.def("alibi_slopes", &vkattn::alibi_slopes, py::arg("heads"),
          "The standard ALiBi slopes for `heads` heads (Press et al.), a list of floats for attention(alibi_slopes=).");
    m.def("_attention", &attention, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask") = py::none(),
          py::arg("is_causal") = false, py::arg("scale") = py::none(),
          "Attention over C-contiguous [B, H, L, E] float32/float16 arrays on the default context; mask None, "
          "[Lq, Lk] or [B|1, Hq|1, Lq, Lk] (float32 added, bool/uint8 non-zero = attend). Returns [B, Hq, Lq, Ev].");
#if VKATTN_PYTHON_HEATMAP
    m.def("_heatmap", &heatmap, py::arg("weights"), py::arg("path"), py::arg("query_tokens"), py::arg("key_tokens"),
          py::arg("batch"), py::arg("mode"), py::arg("head"), py::arg("title"), py::arg("max_cells"), py::arg("vmax"),
          "Draws attention weights [B, H, Lq, Lk] (float32) to a PNG or SVG file, as `vkattn heatmap` does.");
#endif
#if VKATTN_PYTHON_BENCH
    m.def("_bench", &bench, py::arg("ctx"), py::arg("shapes"), py::arg("filters"), py::arg("repeat"), py::arg("check"),
          py::arg("max_seconds_per_case"), py::arg("remeasure"), py::arg("progress"),
          "Runs one `vkattn bench` set on ctx; returns the report as the program's --json file holds it.");
    m.def("_bench_sets", &vkattn::cli::bench_set_names, "The shape sets bench() takes.");
#endif
    m.def("_release_context", &release_context,
          "Drops the module's reference to the default context (the next call creates a new one; objects made on "
          "it keep it alive until they go). Registered with atexit.");
    py::module_::import("atexit").attr("register")(py::cpp_function(&release_context));

    m.attr("__version__") = std::string(vkattn::version());
}
