// The C API's handle structs and the helpers every entry point shares (include/vkattn/vkattn.h).
// Internal: included by engine/capi/*.cpp only.
#pragma once
#include <vulkan/vulkan.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "vkattn/batch.hpp"
#include "vkattn/embedding.hpp"
#include "vkattn/error.hpp"
#include "vkattn/vkattn.h"
#include "vkattn/vkattn.hpp"

struct vkattn_context_t {
    vkattn::Context ctx;
};
struct vkattn_tensor_t {
    vkattn::Tensor t;
};
struct vkattn_kv_cache_t {
    vkattn::KvCache cache;
};
struct vkattn_paged_kv_cache_t {
    vkattn::PagedKvCache cache;
};
struct vkattn_workspace_t {
    vkattn::Workspace ws;
};
struct vkattn_batch_t {
    vkattn::Batch batch;
};
struct vkattn_mha_weights_t {
    vkattn::MhaWeights w;
};

namespace vkattn::capi {

/// The value of a C enum as the caller stored it. A C caller may pass any int in an enum-typed field
/// or parameter; reading it through the C++ enum type would be undefined behaviour for values outside
/// the enumerators (UBSan's enum check), so every enum the C API receives is read through this.
template <class Enum>
int32_t raw(const Enum& e) noexcept {
    static_assert(sizeof(Enum) == sizeof(int32_t), "C enums are int-sized");
    int32_t v;
    std::memcpy(&v, &e, sizeof v);
    return v;
}

/// Throws Error(invalid_argument, message).
[[noreturn]] void fail(const std::string& message);

/// Records the failure for vkattn_last_error() (never throws).
void set_last_error(const char* text) noexcept;
vkattn_status status_of(ErrorCode code) noexcept;

/// Runs `body`, turning every exception into a status and this thread's last error.
template <typename F>
vkattn_status guard(F&& body) noexcept {
    try {
        body();
        return VKATTN_OK;
    } catch (const Error& e) {
        set_last_error(e.what());
        return status_of(e.code());
    } catch (const std::bad_alloc&) {
        set_last_error("out_of_memory: a host allocation failed");
        return VKATTN_ERROR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        try {
            set_last_error((std::string("internal: ") + e.what()).c_str());
        } catch (...) {
            set_last_error("internal: an exception");
        }
        return VKATTN_ERROR_INTERNAL;
    } catch (...) {
        set_last_error("internal: an unknown exception");
        return VKATTN_ERROR_INTERNAL;
    }
}

/// The handle's object, or Error naming `name` when the handle is NULL.
inline Context& ctx_of(vkattn_context c, const char* name = "ctx") {
    if (!c) fail(std::string(name) + ": NULL context handle");
    return c->ctx;
}
inline const Tensor& tensor_of(vkattn_tensor t, const char* name) {
    if (!t) fail(std::string(name) + ": NULL tensor handle");
    return t->t;
}
inline std::optional<Tensor> optional_tensor(vkattn_tensor t) {
    if (!t) return std::nullopt;
    return t->t;
}
inline KvCache& cache_of(vkattn_kv_cache c, const char* name = "cache") {
    if (!c) fail(std::string(name) + ": NULL KV cache handle");
    return c->cache;
}
inline Workspace& workspace_of(vkattn_workspace w, const char* name = "workspace") {
    if (!w) fail(std::string(name) + ": NULL workspace handle");
    return w->ws;
}
inline Batch& batch_of(vkattn_batch b, const char* name = "batch") {
    if (!b) fail(std::string(name) + ": NULL batch handle");
    return b->batch;
}
inline const MhaWeights& mha_of(vkattn_mha_weights w, const char* name = "weights") {
    if (!w) fail(std::string(name) + ": NULL multi-head attention weights handle");
    return w->w;
}
template <typename T>
T& out_of(T* p, const char* name) {
    if (!p) fail(std::string(name) + ": NULL pointer");
    return *p;
}
inline VkCommandBuffer cmd_of(VkCommandBuffer cmd) {
    if (cmd == VK_NULL_HANDLE) fail("cmd: VK_NULL_HANDLE command buffer");
    return cmd;
}

/// Checks a caller's struct_size: at least this version's size (the first one).
void check_struct_size(uint32_t size, std::size_t first_size, const char* name);

/// A caller's input struct read into this version's layout: the defaults (init) for NULL, otherwise
/// the fields that fit in its struct_size (which must be at least this version's size).
template <typename T>
T read_struct(const T* in, void (*init)(T*), const char* name, std::size_t first_size = sizeof(T)) {
    T out;
    init(&out);
    if (!in) return out;
    check_struct_size(in->struct_size, first_size, name);
    std::memcpy(static_cast<void*>(&out), in, std::min<std::size_t>(in->struct_size, sizeof(T)));
    out.struct_size = sizeof(T);
    return out;
}

/// Writes a complete result `value` into the caller's struct, as much as its struct_size holds.
template <typename T>
void write_struct(T* dst, const T& value, const char* name) {
    if (!dst) fail(std::string(name) + ": NULL pointer");
    check_struct_size(dst->struct_size, sizeof(T), name);
    const uint32_t size = dst->struct_size;
    std::memcpy(static_cast<void*>(dst), &value, std::min<std::size_t>(size, sizeof(T)));
    dst->struct_size = size;
}

/// Copies text into a fixed char array, truncated and NUL-terminated.
template <std::size_t N>
void copy_text(char (&dst)[N], const std::string& src) {
    const std::size_t n = std::min(src.size(), N - 1);
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

DType dtype_of(int32_t d, const char* name);
std::optional<DType> out_dtype_of(int32_t d, const char* name);
Causal causal_of(int32_t c, const char* name);
Path path_of(int32_t p, const char* name);
vkattn_path path_to_c(Path p) noexcept;
vkattn_dtype dtype_to_c(DType d) noexcept;
Shape shape_of(int rank, const int64_t* shape, const char* name);
std::vector<int32_t> int_list(const int32_t* values, std::size_t count, const char* name);

/// A new handle owning a copy of `t` (the caller releases it).
vkattn_tensor new_tensor(const Tensor& t);
/// As new_tensor, NULL for an absent tensor.
vkattn_tensor new_tensor(const std::optional<Tensor>& t);

AttentionOptions attention_options(const vkattn_attention_options* options);
MatmulOptions matmul_options(const vkattn_matmul_options* options);
LinearAttentionOptions linear_options(const vkattn_linear_attention_options* options);
MhaOptions mha_options(const vkattn_mha_options* options);
AdditiveWeights additive_weights(const vkattn_additive_weights* weights);

/// Fills the caller's result from a C++ result. The caller's struct is checked first (check_*), so
/// that a bad result struct fails before anything runs; filling itself cannot fail.
void check_result(const vkattn_attention_result* r);
void check_result(const vkattn_layer_result* r);
void fill_result(vkattn_attention_result* dst, const AttentionResult& r);
void fill_result(vkattn_layer_result* dst, const MatmulResult& r);
void fill_result(vkattn_layer_result* dst, const LinearAttentionResult& r);
void fill_result(vkattn_layer_result* dst, const MhaResult& r);

}  // namespace vkattn::capi
