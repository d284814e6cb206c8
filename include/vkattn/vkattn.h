/* vkattn.h: the plain C99 API of vkattn (docs/c_api.md).
 *
 * A thin layer over the C++ API (the .hpp headers beside this one): the same operations, checks and messages.
 *
 * Rules that hold for every function below:
 *  - Functions return vkattn_status (VKATTN_OK on success), except the destroy/release functions
 *    (void; NULL is a no-op) and the pure getters (documented one by one). No C++ exception ever
 *    leaves a function of this header.
 *  - On failure, vkattn_last_error() returns the message of that failure: the C++ error's text,
 *    "<code>: <argument>: <rule>", e.g. "invalid_argument: k: head dim 96 does not match q's 64".
 *    The message is kept per thread (thread-local storage); a successful call leaves it unchanged.
 *  - A NULL handle or NULL out-pointer is VKATTN_ERROR_INVALID_ARGUMENT naming the parameter
 *    ("q: NULL tensor handle"). On failure nothing is written to out-parameters.
 *  - Every options, info and result struct starts with `uint32_t struct_size`. Fill it with the
 *    matching *_init() function (which sets the defaults), then change fields. vkattn reads (and, for
 *    results, writes) only the fields that fit in struct_size, so structs can grow in later versions
 *    without breaking compiled programs. A struct_size of 0 or below this version's size is
 *    VKATTN_ERROR_INVALID_ARGUMENT naming "<parameter>.struct_size". NULL options mean the defaults.
 *  - Every handle an operation returns (tensors in results too) belongs to the caller, who releases it
 *    with the matching *_release / *_destroy function. Release every object of a context before
 *    destroying the context.
 */
#ifndef VKATTN_VKATTN_H
#define VKATTN_VKATTN_H

#include <stddef.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ------------------------------------------------------------------------ */

typedef enum vkattn_status {
    VKATTN_OK = 0,
    VKATTN_ERROR_INVALID_ARGUMENT, /* a shape, dtype, stride, option or handle broke a rule (named) */
    VKATTN_ERROR_UNSUPPORTED,      /* valid, but this device cannot run it */
    VKATTN_ERROR_NO_DEVICE,        /* no Vulkan device matched the selection */
    VKATTN_ERROR_OUT_OF_MEMORY,    /* host or device memory ran out */
    VKATTN_ERROR_DEVICE_LOST,      /* the context cannot be used any more */
    VKATTN_ERROR_VULKAN,           /* any other Vulkan failure; the message carries the VkResult */
    VKATTN_ERROR_IO,               /* a file could not be read, or is malformed */
    VKATTN_ERROR_INTERNAL          /* any other failure inside vkattn (a bug: please report it) */
} vkattn_status;

/* "ok", "invalid_argument", "unsupported", "no_device", "out_of_memory", "device_lost",
 * "vulkan_error", "io_error", "internal"; "unknown" for other values. Static storage. */
const char* vkattn_status_name(vkattn_status status);

/* The message of the last failed call on the calling thread ("" if none failed yet). Valid until the
 * next failing call on this thread; successful calls leave it unchanged. */
const char* vkattn_last_error(void);

/* "0.1.0". */
const char* vkattn_version(void);

/* ---- handles and enums ------------------------------------------------------------------------ */

typedef struct vkattn_context_t* vkattn_context;
typedef struct vkattn_tensor_t* vkattn_tensor;
typedef struct vkattn_kv_cache_t* vkattn_kv_cache;
typedef struct vkattn_paged_kv_cache_t* vkattn_paged_kv_cache;
typedef struct vkattn_workspace_t* vkattn_workspace;
typedef struct vkattn_batch_t* vkattn_batch;
typedef struct vkattn_mha_weights_t* vkattn_mha_weights;
/* A submission's place on a context's queue (vkattn_batch_submit); 0 is always complete. */
typedef uint64_t vkattn_ticket;

/* BF16: bfloat16. Q8_0 / Q4_0 (k and v only): ggml's blocks of 32 values along the last dim, {f16 d; int8 qs[32]}
 * (34 bytes) and {f16 d; uint8 qs[16]} (18 bytes, element j < 16 the low nibble of qs[j], j + 16 the high one,
 * value d * (nibble - 8)); the last dim a multiple of 32. Appended: the earlier values keep their numbers. */
typedef enum vkattn_dtype {
    VKATTN_DTYPE_F32 = 0,
    VKATTN_DTYPE_F16,
    VKATTN_DTYPE_I32,
    VKATTN_DTYPE_U8,
    VKATTN_DTYPE_BF16,
    VKATTN_DTYPE_Q8_0,
    VKATTN_DTYPE_Q4_0
} vkattn_dtype;
/* Causal alignment: TOP_LEFT: query i sees keys j <= i; BOTTOM_RIGHT: j <= i + Lk - Lq. */
typedef enum vkattn_causal { VKATTN_CAUSAL_NONE = 0, VKATTN_CAUSAL_TOP_LEFT, VKATTN_CAUSAL_BOTTOM_RIGHT } vkattn_causal;
typedef enum vkattn_path { VKATTN_PATH_AUTOMATIC = 0, VKATTN_PATH_FUSED, VKATTN_PATH_EXPLICIT } vkattn_path;
typedef enum vkattn_device_type {
    VKATTN_DEVICE_DISCRETE_GPU = 0,
    VKATTN_DEVICE_INTEGRATED_GPU,
    VKATTN_DEVICE_VIRTUAL_GPU,
    VKATTN_DEVICE_CPU,
    VKATTN_DEVICE_OTHER
} vkattn_device_type;
typedef enum vkattn_feature_map { VKATTN_FEATURE_MAP_ELU_PLUS_ONE = 0, VKATTN_FEATURE_MAP_IDENTITY } vkattn_feature_map;
typedef enum vkattn_validation_checks {
    VKATTN_VALIDATION_STANDARD = 0,
    VKATTN_VALIDATION_SYNCHRONIZATION,
    VKATTN_VALIDATION_GPU_ASSISTED,
    VKATTN_VALIDATION_BEST_PRACTICES
} vkattn_validation_checks;

/* Out dtype fields take a vkattn_dtype or this: the operation's default (its first input's dtype). */
#define VKATTN_DTYPE_DEFAULT (-1)

/* ---- contexts --------------------------------------------------------------------------------- */

typedef struct vkattn_context_options {
    uint32_t struct_size;
    /* As VKATTN_DEVICE: an index, "discrete|integrated|virtual|cpu", or a name substring. NULL or "":
     * the default rule (VKATTN_DEVICE when set, else the best device). Refused by vkattn_context_adopt. */
    const char* device;
    int validation;                            /* enable VK_LAYER_KHRONOS_validation (not with adopt) */
    vkattn_validation_checks validation_checks;
    const char* profile;                       /* limits profile; NULL or "": VKATTN_PROFILE, else "desktop" */
    uint32_t subgroup_size;                    /* 0: the driver's choice */
    const char* pipeline_cache_dir;            /* NULL or "": the default; "none": no cache */
    int verbose;
    /* Receives log lines and validation messages (default, NULL: stderr). Called from any thread. */
    void (*on_message)(const char* message, void* user_data);
    void* user_data;
} vkattn_context_options;
void vkattn_context_options_init(vkattn_context_options* options);

/* The application's device (C++ vkattn::AdoptedDevice, docs/embedding.md). vkattn destroys nothing
 * named here. The application must not use `queue` while a vkattn call on this context runs (the C API
 * has no queue mutex). */
typedef struct vkattn_adopted_device {
    uint32_t struct_size;
    VkInstance instance;
    VkPhysicalDevice physical_device;
    VkDevice device;
    uint32_t queue_family;                 /* a family with VK_QUEUE_COMPUTE_BIT */
    VkQueue queue;
    uint32_t api_version;                  /* VkApplicationInfo::apiVersion, at least 1.1 */
    const char* const* enabled_extensions; /* device extensions the application enabled */
    size_t enabled_extension_count;
    int shader_float16;                    /* features the application enabled */
    int subgroup_size_control;
} vkattn_adopted_device;
void vkattn_adopted_device_init(vkattn_adopted_device* device);

vkattn_status vkattn_context_create(const vkattn_context_options* options, vkattn_context* out);
vkattn_status vkattn_context_adopt(const vkattn_adopted_device* device, const vkattn_context_options* options,
                                   vkattn_context* out);
/* Waits for nothing: release its objects first and wait for submitted work (vkattn_context_wait). */
void vkattn_context_destroy(vkattn_context ctx);

typedef struct vkattn_device_info {
    uint32_t struct_size;
    char name[256];
    char vendor[64];
    uint32_t vendor_id;
    uint32_t device_id;
    vkattn_device_type type;
    uint32_t api_version;
    char driver_name[256];
    uint32_t subgroup_size;
    int fp16_arithmetic;
    int storage_16bit;
    uint32_t shared_memory_bytes;
    uint32_t compute_units;
    uint64_t device_local_bytes;
    int timestamps;
    char profile[64];
    int adopted;   /* the context runs on an application's device (0 from vkattn_enumerate_devices) */
    uint32_t index; /* position in vkEnumeratePhysicalDevices */
    int usable;     /* meets vkattn's minimum */
    int selected;   /* vkattn_enumerate_devices: the device selection would choose it */
} vkattn_device_info;
void vkattn_device_info_init(vkattn_device_info* info);

/* The device as the planner sees it (the limits profile applied). */
vkattn_status vkattn_context_device_info(vkattn_context ctx, vkattn_device_info* info);
/* Every Vulkan device, in enumeration order: writes min(capacity, n) entries and *count = n.
 * out may be NULL when capacity is 0; otherwise every out[i].struct_size must be set (_init), and
 * the array's stride is out[0].struct_size. `selector` as vkattn_context_options.device. */
vkattn_status vkattn_enumerate_devices(const char* selector, vkattn_device_info* out, size_t capacity, size_t* count);

typedef struct vkattn_stats {
    uint32_t struct_size;
    uint64_t memory_allocations;
    uint64_t descriptor_pools;
    uint64_t descriptor_sets;
    uint64_t pipelines;
    uint64_t submissions;
    uint64_t waits;
    uint64_t device_memory_in_use;
    uint64_t device_memory_peak;
} vkattn_stats;
void vkattn_stats_init(vkattn_stats* stats);
vkattn_status vkattn_context_stats(vkattn_context ctx, vkattn_stats* stats);

/* Waits until `ticket` and everything submitted before it have completed. */
vkattn_status vkattn_context_wait(vkattn_context ctx, vkattn_ticket ticket);
/* *done = 1 once `ticket` has completed, else 0 (does not wait). */
vkattn_status vkattn_context_completed(vkattn_context ctx, vkattn_ticket ticket, int* done);

/* ---- tensors ---------------------------------------------------------------------------------- */
/* shape: `rank` sizes, outermost first; strides in elements (NULL: contiguous). */

vkattn_status vkattn_tensor_empty(vkattn_context ctx, int rank, const int64_t* shape, vkattn_dtype dtype, vkattn_tensor* out);
/* `count` floats (the shape's product), converted to dtype (F32, F16, BF16, or Q8_0 / Q4_0 blocks). */
vkattn_status vkattn_tensor_upload(vkattn_context ctx, const float* data, size_t count, int rank, const int64_t* shape,
                                   vkattn_dtype dtype, vkattn_tensor* out);
/* `bytes` of elements already in dtype (f16 / bf16 as uint16_t bits, i32, u8, Q8_0 / Q4_0 blocks as in a GGUF file). */
vkattn_status vkattn_tensor_upload_raw(vkattn_context ctx, const void* data, size_t bytes, int rank, const int64_t* shape,
                                       vkattn_dtype dtype, vkattn_tensor* out);
/* Copies the tensor to the host in logical (row-major) order as floats (F32, F16, BF16; Q8_0 / Q4_0 dequantised);
 * count must equal the tensor's element count. */
vkattn_status vkattn_tensor_download(vkattn_tensor t, float* data, size_t count);
/* The elements as stored (any dtype), row-major; bytes must equal numel * element size (Q8_0 / Q4_0: the
 * contiguous tensor's blocks, numel / 32 * 34 or 18 bytes). */
vkattn_status vkattn_tensor_download_raw(vkattn_tensor t, void* data, size_t bytes);

/* Pure getters: a NULL tensor gives -1 (rank, numel, offset) or VKATTN_DTYPE_F32. */
int vkattn_tensor_rank(vkattn_tensor t);
int64_t vkattn_tensor_numel(vkattn_tensor t);
int64_t vkattn_tensor_offset(vkattn_tensor t);
vkattn_dtype vkattn_tensor_dtype(vkattn_tensor t);
/* Writes rank() sizes / strides; capacity must be at least the rank. */
vkattn_status vkattn_tensor_shape(vkattn_tensor t, int64_t* shape, size_t capacity);
vkattn_status vkattn_tensor_strides(vkattn_tensor t, int64_t* strides, size_t capacity);

/* The same memory with another shape and strides (NULL: contiguous), from offset_elements; no copy. */
vkattn_status vkattn_tensor_view(vkattn_tensor t, int rank, const int64_t* shape, const int64_t* strides,
                                 int64_t offset_elements, vkattn_tensor* out);
/* The same memory with dimensions a and b swapped (no copy). */
vkattn_status vkattn_tensor_transposed(vkattn_tensor t, int a, int b, vkattn_tensor* out);
/* A tensor over an application's VkBuffer (created with `size` and `usage`, which must include
 * STORAGE_BUFFER) from byte_offset; no copy. The buffer must outlive the tensor and its work. */
vkattn_status vkattn_tensor_wrap_buffer(vkattn_context ctx, VkBuffer buffer, VkDeviceSize size, VkBufferUsageFlags usage,
                                        VkDeviceSize byte_offset, int rank, const int64_t* shape, const int64_t* strides,
                                        vkattn_dtype dtype, vkattn_tensor* out);
/* Releases this handle; the memory lives on while views or running work use it. */
void vkattn_tensor_release(vkattn_tensor t);

/* ---- attention -------------------------------------------------------------------------------- */

typedef struct vkattn_attention_options {
    uint32_t struct_size;
    int has_scale;                 /* 0: scale 1/sqrt(D) */
    float scale;
    vkattn_causal causal;
    const int32_t* key_lengths;    /* per-batch valid keys; count 0: all keys */
    size_t key_lengths_count;
    vkattn_tensor mask;            /* NULL: none; f32/f16 additive or u8 boolean, [Lq, Lk] or [B|1, Hq|1, Lq, Lk] */
    int64_t window_left;           /* sliding window; -1: unbounded */
    int64_t window_right;
    const float* alibi_slopes;     /* count 0: no ALiBi; else Hq slopes */
    size_t alibi_slopes_count;
    float softcap;                 /* 0: off */
    int align_to_key_lengths;
    vkattn_path path;
    int return_lse;                /* result.lse [B, Hq, Lq] f32 */
    int return_weights;            /* result.weights [B, Hq, Lq, Lk] f32 (explicit path) */
    int32_t out_dtype;             /* a vkattn_dtype or VKATTN_DTYPE_DEFAULT */
    vkattn_tensor out;             /* NULL: a new tensor; else written in place (required when recording) */
    int measure_time;              /* result.gpu_milliseconds */
    int32_t kv_splits;             /* 0: the engine chooses; 1: never split */
    /* Added after 0.1.0 (a struct_size that ends before them leaves them at their defaults): */
    const float* sinks;            /* attention sinks (gpt-oss): count 0: none; else Hq logits in each row's denominator */
    size_t sinks_count;
} vkattn_attention_options;
void vkattn_attention_options_init(vkattn_attention_options* options);

typedef struct vkattn_attention_result {
    uint32_t struct_size;
    vkattn_tensor out;       /* [B, Hq, Lq, Dv]; a new handle (to options.out when given) */
    vkattn_tensor lse;       /* NULL unless return_lse */
    vkattn_tensor weights;   /* NULL unless return_weights */
    vkattn_path path;        /* the path that ran */
    char variant[256];       /* the kernel variant(s), truncated to fit, NUL-terminated */
    double gpu_milliseconds; /* -1 unless measured */
    uint32_t dispatches;
} vkattn_attention_result;
void vkattn_attention_result_init(vkattn_attention_result* result);
/* Releases out, lse and weights and sets them to NULL (the struct itself is the caller's). */
void vkattn_attention_result_release(vkattn_attention_result* result);

/* q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv], Hq % Hkv == 0, one dtype (F32 or F16). */
vkattn_status vkattn_attention(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                               const vkattn_attention_options* options, vkattn_attention_result* result);

typedef struct vkattn_attention_plan {
    uint32_t struct_size;
    vkattn_path path;
    char variant[256];
    char reason[256];
    uint64_t workspace_bytes;
    uint32_t dispatches;
} vkattn_attention_plan;
void vkattn_attention_plan_init(vkattn_attention_plan* plan);
/* What vkattn_attention would run, validated the same way, without running it. */
vkattn_status vkattn_plan_attention(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                    const vkattn_attention_options* options, vkattn_attention_plan* plan);

/* ---- KV cache --------------------------------------------------------------------------------- */

typedef struct vkattn_kv_cache_options {
    uint32_t struct_size;
    int64_t batch;      /* default 1 */
    int64_t kv_heads;   /* default 1 */
    int64_t capacity;   /* tokens per sequence (required) */
    int64_t head_dim;   /* required */
    int64_t value_dim;  /* 0: head_dim */
    vkattn_dtype dtype; /* default F16 */
} vkattn_kv_cache_options;
void vkattn_kv_cache_options_init(vkattn_kv_cache_options* options);

vkattn_status vkattn_kv_cache_create(vkattn_context ctx, const vkattn_kv_cache_options* options, vkattn_kv_cache* out);
/* Over caller storage: key_storage [B, Hkv, capacity, D], value_storage [B, Hkv, capacity, Dv]. */
vkattn_status vkattn_kv_cache_create_over(vkattn_context ctx, const vkattn_kv_cache_options* options, vkattn_tensor key_storage,
                                          vkattn_tensor value_storage, vkattn_kv_cache* out);
/* k_new [B, Hkv, n, D], v_new [B, Hkv, n, Dv]; counts: B entries in [0, n], or count 0 for n each. */
vkattn_status vkattn_kv_cache_append(vkattn_kv_cache cache, vkattn_tensor k_new, vkattn_tensor v_new, const int32_t* counts,
                                     size_t count);
vkattn_status vkattn_kv_cache_clear(vkattn_kv_cache cache);
vkattn_status vkattn_kv_cache_set_length(vkattn_kv_cache cache, int64_t batch, int32_t length);
/* Writes min(capacity, B) lengths and *count = B. */
vkattn_status vkattn_kv_cache_lengths(vkattn_kv_cache cache, int32_t* lengths, size_t capacity, size_t* count);
/* New handles to the storage tensors. */
vkattn_status vkattn_kv_cache_keys(vkattn_kv_cache cache, vkattn_tensor* out);
vkattn_status vkattn_kv_cache_values(vkattn_kv_cache cache, vkattn_tensor* out);
void vkattn_kv_cache_destroy(vkattn_kv_cache cache);

/* Attention of q [B, Hq, Lq, D] against the cache (bottom-right causality at each batch's length;
 * options.causal NONE or BOTTOM_RIGHT, options.key_lengths empty). */
vkattn_status vkattn_attend(vkattn_context ctx, vkattn_tensor q, vkattn_kv_cache cache, const vkattn_attention_options* options,
                            vkattn_attention_result* result);

/* ---- packed sequences and the paged KV cache (docs/sequences.md) ---------------------------------- */

/* attention_varlen: q [total_q, Hq, D], k [total_k, Hkv, D], v [total_k, Hkv, Dv] packed; cu_seqlens_q and
 * cu_seqlens_k S + 1 offsets each (0 first, non-decreasing, the last = the tokens). result.out
 * [total_q, Hq, Dv], lse [Hq, total_q], weights 1-D (each sequence's [Hq, Lq_s, Lk_s] in turn). */
vkattn_status vkattn_attention_varlen(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                      const int32_t* cu_seqlens_q, size_t cu_seqlens_q_count, const int32_t* cu_seqlens_k,
                                      size_t cu_seqlens_k_count, const vkattn_attention_options* options,
                                      vkattn_attention_result* result);

typedef struct vkattn_paged_kv_cache_options {
    uint32_t struct_size;
    int64_t pages;      /* required */
    int64_t page_size;  /* default 16; a power of two */
    int64_t kv_heads;   /* default 1 */
    int64_t head_dim;   /* required */
    int64_t value_dim;  /* 0: head_dim */
    vkattn_dtype dtype; /* default F16 */
} vkattn_paged_kv_cache_options;
void vkattn_paged_kv_cache_options_init(vkattn_paged_kv_cache_options* options);

typedef struct vkattn_paged_kv_cache_stats {
    uint32_t struct_size;
    int64_t pages, pages_free, pages_used, pages_shared, sequences, tokens;
} vkattn_paged_kv_cache_stats;
void vkattn_paged_kv_cache_stats_init(vkattn_paged_kv_cache_stats* stats);

vkattn_status vkattn_paged_kv_cache_create(vkattn_context ctx, const vkattn_paged_kv_cache_options* options,
                                           vkattn_paged_kv_cache* out);
void vkattn_paged_kv_cache_destroy(vkattn_paged_kv_cache cache);
vkattn_status vkattn_paged_kv_cache_add_sequence(vkattn_paged_kv_cache cache, int64_t* sequence);
vkattn_status vkattn_paged_kv_cache_fork(vkattn_paged_kv_cache cache, int64_t parent, int64_t* sequence);
vkattn_status vkattn_paged_kv_cache_free(vkattn_paged_kv_cache cache, int64_t sequence);
vkattn_status vkattn_paged_kv_cache_trim(vkattn_paged_kv_cache cache, int64_t sequence, int64_t length);
/* k_new [T, Hkv, D], v_new [T, Hkv, Dv] packed; sequences[s] gets rows cu_seqlens[s] .. cu_seqlens[s + 1] - 1
 * (cu_seqlens_count = count + 1). Out of pages: VKATTN_ERROR_OUT_OF_MEMORY, nothing written. */
vkattn_status vkattn_paged_kv_cache_append(vkattn_paged_kv_cache cache, const int64_t* sequences, size_t count,
                                           vkattn_tensor k_new, vkattn_tensor v_new, const int32_t* cu_seqlens,
                                           size_t cu_seqlens_count);
vkattn_status vkattn_paged_kv_cache_length(vkattn_paged_kv_cache cache, int64_t sequence, int64_t* length);
vkattn_status vkattn_paged_kv_cache_stats_get(vkattn_paged_kv_cache cache, vkattn_paged_kv_cache_stats* stats);
/* Packed queries q [total_q, Hq, D] of sequences[0 .. count) (the last tokens of each, already appended),
 * bottom-right causal per sequence, through the block tables; results as vkattn_attention_varlen. */
vkattn_status vkattn_paged_attend(vkattn_context ctx, vkattn_tensor q, vkattn_paged_kv_cache cache, const int64_t* sequences,
                                  size_t count, const int32_t* cu_seqlens_q, size_t cu_seqlens_q_count,
                                  const vkattn_attention_options* options, vkattn_attention_result* result);

/* ---- layers ----------------------------------------------------------------------------------- */

/* Result of matmul, linear attention and multi-head attention. */
typedef struct vkattn_layer_result {
    uint32_t struct_size;
    vkattn_tensor out;       /* a new handle */
    vkattn_tensor weights;   /* multi-head attention with need_weights; else NULL */
    char variant[256];
    double gpu_milliseconds; /* -1 unless measured */
    uint32_t dispatches;
} vkattn_layer_result;
void vkattn_layer_result_init(vkattn_layer_result* result);
void vkattn_layer_result_release(vkattn_layer_result* result);

typedef struct vkattn_matmul_options {
    uint32_t struct_size;
    int transpose_w;     /* default 1: w [N, K], Y = A Wᵀ; 0: w [K, N] */
    int32_t out_dtype;   /* a vkattn_dtype or VKATTN_DTYPE_DEFAULT */
    vkattn_tensor out;   /* NULL: a new tensor (required when recording) */
    int measure_time;
} vkattn_matmul_options;
void vkattn_matmul_options_init(vkattn_matmul_options* options);
/* Y = A · Wᵀ + bias; a [M, K], [B, M, K] or [B1, B2, M, K]; bias [N] or NULL. */
vkattn_status vkattn_matmul(vkattn_context ctx, vkattn_tensor a, vkattn_tensor w, vkattn_tensor bias,
                            const vkattn_matmul_options* options, vkattn_layer_result* result);

/* Loads nn.MultiheadAttention's weights from a .safetensors file; kv_heads 0: = heads; prefix may be
 * NULL; dtype F32 or F16. */
vkattn_status vkattn_mha_load(vkattn_context ctx, const char* path, int64_t heads, int64_t kv_heads, const char* prefix,
                              vkattn_dtype dtype, vkattn_mha_weights* out);
void vkattn_mha_weights_release(vkattn_mha_weights weights);

typedef struct vkattn_mha_options {
    uint32_t struct_size;
    vkattn_causal causal;
    const int32_t* key_lengths;
    size_t key_lengths_count;
    vkattn_tensor mask;
    int need_weights;
    int average_weights; /* default 1 */
    int32_t out_dtype;
    vkattn_tensor out;
    int measure_time;
} vkattn_mha_options;
void vkattn_mha_options_init(vkattn_mha_options* options);
/* x_q [B, Lq, E]; x_k NULL: self-attention; x_v NULL: x_k. */
vkattn_status vkattn_multi_head_attention(vkattn_context ctx, vkattn_mha_weights weights, vkattn_tensor x_q, vkattn_tensor x_k,
                                          vkattn_tensor x_v, const vkattn_mha_options* options, vkattn_layer_result* result);

/* Bahdanau parameters: w_q [A, Dq], w_k [A, Dk], v_a [A], bias [A] or NULL; q's dtype. */
typedef struct vkattn_additive_weights {
    vkattn_tensor w_q;
    vkattn_tensor w_k;
    vkattn_tensor v_a;
    vkattn_tensor bias;
} vkattn_additive_weights;
/* Options as attention (scale and path are not used). */
vkattn_status vkattn_additive_attention(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                        const vkattn_additive_weights* weights, const vkattn_attention_options* options,
                                        vkattn_attention_result* result);
/* Luong's general score q W kᵀ, w [Dq, Dk]; scale 1 unless options say otherwise. */
vkattn_status vkattn_luong_general_attention(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                             vkattn_tensor w, const vkattn_attention_options* options,
                                             vkattn_attention_result* result);

typedef struct vkattn_linear_attention_options {
    uint32_t struct_size;
    vkattn_feature_map feature_map;
    vkattn_causal causal;
    const int32_t* key_lengths;
    size_t key_lengths_count;
    int32_t out_dtype;
    vkattn_tensor out;
    int measure_time;
} vkattn_linear_attention_options;
void vkattn_linear_attention_options_init(vkattn_linear_attention_options* options);
vkattn_status vkattn_linear_attention(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                      const vkattn_linear_attention_options* options, vkattn_layer_result* result);

/* ---- recording into the application's command buffers (docs/embedding.md) --------------------- */
/* Each record_* call records into `cmd` (recording, for a queue of the context's family) under the
 * barrier contract of docs/embedding.md, writing into options->out (required); measure_time and extra
 * outputs (lse, weights) are refused. An error records nothing. */

vkattn_status vkattn_workspace_create(vkattn_context ctx, VkDeviceSize bytes, vkattn_workspace* out);
/* Over caller memory: every byte of `storage` (contiguous, aligned to minStorageBufferOffsetAlignment). */
vkattn_status vkattn_workspace_create_over(vkattn_context ctx, vkattn_tensor storage, vkattn_workspace* out);
/* Call once every command buffer recorded with it since the last reset has completed. */
vkattn_status vkattn_workspace_reset(vkattn_workspace ws);
/* Pure getter: bytes of device memory for temporaries (0 for NULL). */
VkDeviceSize vkattn_workspace_size(vkattn_workspace ws);
void vkattn_workspace_destroy(vkattn_workspace ws);

vkattn_status vkattn_attention_workspace_size(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                              const vkattn_attention_options* options, VkDeviceSize* bytes);
vkattn_status vkattn_record_attention(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws, vkattn_tensor q,
                                      vkattn_tensor k, vkattn_tensor v, const vkattn_attention_options* options,
                                      vkattn_attention_result* result);
vkattn_status vkattn_attend_workspace_size(vkattn_context ctx, vkattn_tensor q, vkattn_kv_cache cache,
                                           const vkattn_attention_options* options, VkDeviceSize* bytes);
vkattn_status vkattn_record_attend(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws, vkattn_tensor q,
                                   vkattn_kv_cache cache, const vkattn_attention_options* options,
                                   vkattn_attention_result* result);
/* Records the copies and advances the cache's lengths now. */
vkattn_status vkattn_record_append(vkattn_context ctx, VkCommandBuffer cmd, vkattn_kv_cache cache, vkattn_tensor k_new,
                                   vkattn_tensor v_new, const int32_t* counts, size_t count);

vkattn_status vkattn_matmul_workspace_size(vkattn_context ctx, vkattn_tensor a, vkattn_tensor w, vkattn_tensor bias,
                                           const vkattn_matmul_options* options, VkDeviceSize* bytes);
vkattn_status vkattn_record_matmul(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws, vkattn_tensor a,
                                   vkattn_tensor w, vkattn_tensor bias, const vkattn_matmul_options* options,
                                   vkattn_layer_result* result);
vkattn_status vkattn_linear_attention_workspace_size(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                                     const vkattn_linear_attention_options* options, VkDeviceSize* bytes);
vkattn_status vkattn_record_linear_attention(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws, vkattn_tensor q,
                                             vkattn_tensor k, vkattn_tensor v, const vkattn_linear_attention_options* options,
                                             vkattn_layer_result* result);
vkattn_status vkattn_additive_attention_workspace_size(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                                       const vkattn_additive_weights* weights,
                                                       const vkattn_attention_options* options, VkDeviceSize* bytes);
vkattn_status vkattn_record_additive_attention(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws, vkattn_tensor q,
                                               vkattn_tensor k, vkattn_tensor v, const vkattn_additive_weights* weights,
                                               const vkattn_attention_options* options, vkattn_attention_result* result);
vkattn_status vkattn_luong_general_attention_workspace_size(vkattn_context ctx, vkattn_tensor q, vkattn_tensor k,
                                                            vkattn_tensor v, vkattn_tensor w,
                                                            const vkattn_attention_options* options, VkDeviceSize* bytes);
vkattn_status vkattn_record_luong_general_attention(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws,
                                                    vkattn_tensor q, vkattn_tensor k, vkattn_tensor v, vkattn_tensor w,
                                                    const vkattn_attention_options* options, vkattn_attention_result* result);
vkattn_status vkattn_multi_head_attention_workspace_size(vkattn_context ctx, vkattn_mha_weights weights, vkattn_tensor x_q,
                                                         vkattn_tensor x_k, vkattn_tensor x_v,
                                                         const vkattn_mha_options* options, VkDeviceSize* bytes);
vkattn_status vkattn_record_multi_head_attention(vkattn_context ctx, VkCommandBuffer cmd, vkattn_workspace ws,
                                                 vkattn_mha_weights weights, vkattn_tensor x_q, vkattn_tensor x_k,
                                                 vkattn_tensor x_v, const vkattn_mha_options* options,
                                                 vkattn_layer_result* result);

/* ---- batches: operations queued on the context's own queue, one submission ------------------- */
/* Results (and options.out, and the cache contents) are valid once vkattn_context_wait(ticket) of the
 * submission returns; the batch keeps what it uses alive until then. */

vkattn_status vkattn_batch_create(vkattn_context ctx, vkattn_batch* out);
vkattn_status vkattn_batch_attention(vkattn_batch batch, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                     const vkattn_attention_options* options, vkattn_attention_result* result);
vkattn_status vkattn_batch_append(vkattn_batch batch, vkattn_kv_cache cache, vkattn_tensor k_new, vkattn_tensor v_new,
                                  const int32_t* counts, size_t count);
vkattn_status vkattn_batch_attend(vkattn_batch batch, vkattn_tensor q, vkattn_kv_cache cache,
                                  const vkattn_attention_options* options, vkattn_attention_result* result);
vkattn_status vkattn_batch_matmul(vkattn_batch batch, vkattn_tensor a, vkattn_tensor w, vkattn_tensor bias,
                                  const vkattn_matmul_options* options, vkattn_layer_result* result);
vkattn_status vkattn_batch_linear_attention(vkattn_batch batch, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                            const vkattn_linear_attention_options* options, vkattn_layer_result* result);
vkattn_status vkattn_batch_additive_attention(vkattn_batch batch, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                              const vkattn_additive_weights* weights, const vkattn_attention_options* options,
                                              vkattn_attention_result* result);
vkattn_status vkattn_batch_luong_general_attention(vkattn_batch batch, vkattn_tensor q, vkattn_tensor k, vkattn_tensor v,
                                                   vkattn_tensor w, const vkattn_attention_options* options,
                                                   vkattn_attention_result* result);
vkattn_status vkattn_batch_multi_head_attention(vkattn_batch batch, vkattn_mha_weights weights, vkattn_tensor x_q,
                                                vkattn_tensor x_k, vkattn_tensor x_v, const vkattn_mha_options* options,
                                                vkattn_layer_result* result);
/* Submits everything queued as one submission; *ticket for vkattn_context_wait. */
vkattn_status vkattn_batch_submit(vkattn_batch batch, vkattn_ticket* ticket);
/* Pure getter: operations queued since the last submit (0 for NULL). */
size_t vkattn_batch_size(vkattn_batch batch);
/* Discards what was queued and not submitted. */
void vkattn_batch_destroy(vkattn_batch batch);

#ifdef __cplusplus
}
#endif

#endif /* VKATTN_VKATTN_H */
