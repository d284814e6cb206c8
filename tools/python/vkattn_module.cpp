// The Python extension module `vkattn._vkattn` (docs/python.md): a small core over the C++ API that the
// pure-Python package (tools/python/vkattn/__init__.py) builds scaled_dot_product_attention on.
//
// It lives under tools/ because the top level is fixed by the project's design (engine/, shaders/,
// include/, tests/, bench/, tools/) and, like the vkattn program, the module is a client of the public
// API only: it links vkattn and includes <vkattn/vkattn.hpp>, never an engine-internal header.
//
// What it exposes:
//   device()       the default context's device as a dict (creates the context on first use)
//   _attention()   attention over contiguous numpy arrays already in vkattn's [B, H, L, E] layout
//   Error, UnsupportedError, NoDeviceError, OutOfMemoryError, DeviceLostError, VulkanError
// vkattn::Error(invalid_argument) becomes ValueError; every other code one of the RuntimeError
// subclasses above. The message is the C++ message (it names the argument and the rule).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <vkattn/vkattn.hpp>

namespace py = pybind11;

namespace {

// One context per process, created on first use: every new context compiles its own pipelines (seconds
// each on lavapipe), so all calls share it. Operations on a Context are serialised inside the engine;
// the mutex only guards the creation. Released by an atexit hook (below) while the interpreter, and the
// Vulkan loader, are still alive, rather than by a static destructor at library unload.
std::mutex g_context_mutex;
std::unique_ptr<vkattn::Context> g_context;

vkattn::Context& default_context() {
    // The GIL is released before the mutex is taken (device creation takes a while; other threads run),
    // so that a thread waiting for the mutex never holds the GIL the creating thread needs back.
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(g_context_mutex);
    if (!g_context) g_context = std::make_unique<vkattn::Context>();
    return *g_context;
}

void release_context() {
    std::lock_guard<std::mutex> lock(g_context_mutex);
    g_context.reset();
}

[[noreturn]] void invalid(const std::string& message) {
    throw vkattn::Error(vkattn::ErrorCode::invalid_argument, message);
}

std::string dtype_text(const py::dtype& dt) { return py::str(py::handle(dt)).cast<std::string>(); }

// f32 or f16 from a numpy dtype; anything else is refused naming the argument.
vkattn::DType float_dtype_of(const py::array& a, const char* name) {
    const py::dtype dt = a.dtype();
    if (dt.kind() == 'f' && dt.byteorder() == '>')
        invalid(std::string(name) + ": big-endian dtype " + dtype_text(dt) + " (expected native float32 or float16)");
    if (dt.kind() == 'f' && dt.itemsize() == 4) return vkattn::DType::f32;
    if (dt.kind() == 'f' && dt.itemsize() == 2) return vkattn::DType::f16;
    invalid(std::string(name) + ": dtype " + dtype_text(dt) + " (expected float32 or float16)");
}

vkattn::Shape shape_of(const py::array& a) {
    vkattn::Shape s;
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s.push_back(static_cast<int64_t>(a.shape(i)));
    return s;
}

void require_contiguous(const py::array& a, const char* name) {
    if (!(a.flags() & py::array::c_style))
        invalid(std::string(name) + ": not C-contiguous (pass numpy.ascontiguousarray(...))");
}

vkattn::Tensor upload(vkattn::Context& ctx, const py::array& a, vkattn::DType dtype) {
    return ctx.upload_raw(a.data(), static_cast<std::size_t>(a.nbytes()), shape_of(a), dtype);
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

    vkattn::Context& ctx = default_context();
    vkattn::Shape out_shape;
    std::vector<uint16_t> out16;
    std::vector<float> out32;
    {
        py::gil_scoped_release release;  // the arrays stay referenced by the caller for the whole call
        vkattn::AttentionOptions opt;
        if (scale) opt.scale = static_cast<float>(*scale);
        if (is_causal) opt.causal = vkattn::Causal::top_left;
        const vkattn::Tensor tq = upload(ctx, q, dtype);
        const vkattn::Tensor tk = upload(ctx, k, dtype);
        const vkattn::Tensor tv = upload(ctx, v, dtype);
        if (mask) opt.mask = upload(ctx, *mask, *mask_dtype);
        const vkattn::Tensor out = vkattn::attention(ctx, tq, tk, tv, opt);
        out_shape = out.shape();
        if (out.dtype() == vkattn::DType::f16)
            out16 = out.download<uint16_t>();
        else
            out32 = out.download<float>();
    }
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

}  // namespace

PYBIND11_MODULE(_vkattn, m) {
    m.doc() = "vkattn's core: the default context and attention over [B, H, L, E] numpy arrays";

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

    m.def("device", []() { return device_dict(default_context().device()); },
          "The device of the default context (created on first use; VKATTN_DEVICE selects it) as a dict: "
          "name, vendor, vendor_id, type, driver, subgroup_size, fp16, storage_16bit, shared_memory_bytes, "
          "compute_units, profile.");
    m.def("_attention", &attention, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask") = py::none(),
          py::arg("is_causal") = false, py::arg("scale") = py::none(),
          "Attention over C-contiguous [B, H, L, E] float32/float16 arrays; mask None, [Lq, Lk] or "
          "[B|1, Hq|1, Lq, Lk] (float32 added, bool/uint8 non-zero = attend). Returns [B, Hq, Lq, Ev].");
    m.def("_release_context", &release_context,
          "Destroys the default context (the next call creates a new one). Registered with atexit.");
    py::module_::import("atexit").attr("register")(py::cpp_function(&release_context));

    m.attr("__version__") = std::string(vkattn::version());
}
