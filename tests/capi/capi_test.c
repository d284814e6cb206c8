/* The C API (include/vkattn/vkattn.h) from C: every entry point on one context, each error path with
 * the argument its message names, results against double-precision references computed here, and
 * recorded operations (on the test's own Vulkan device, adopted) bitwise equal to synchronous calls.
 * A plain C99 program: exits non-zero naming the first failed check. Small shapes (B1 H2 Lq7 Lk13 D16,
 * f32, not multiples of any tile) keep lavapipe's pipeline compiles few. */
#include <vkattn/vkattn.h>

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "capi_test.c:%d: FAILED: %s: ", __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
            ++failures;                                                       \
        }                                                                     \
    } while (0)

/* A call that must succeed; stops the test otherwise (later checks would only cascade). */
#define OK(call)                                                                                              \
    do {                                                                                                      \
        vkattn_status s_ = (call);                                                                            \
        if (s_ != VKATTN_OK) {                                                                                \
            fprintf(stderr, "capi_test.c:%d: FAILED: %s -> %s: %s\n", __LINE__, #call, vkattn_status_name(s_), \
                    vkattn_last_error());                                                                     \
            exit(1);                                                                                          \
        }                                                                                                     \
    } while (0)

/* A call that must fail with `status` and a message containing `text`. */
#define FAILS(call, status, text)                                                                                         \
    do {                                                                                                                  \
        vkattn_status s_ = (call);                                                                                        \
        CHECK(s_ == (status) && strstr(vkattn_last_error(), (text)) != NULL, "%s -> %s, message \"%s\" (want %s, \"%s\")", \
              #call, vkattn_status_name(s_), vkattn_last_error(), vkattn_status_name(status), (text));                    \
    } while (0)

#define VK(call)                                                                                \
    do {                                                                                        \
        VkResult r_ = (call);                                                                   \
        if (r_ != VK_SUCCESS) {                                                                 \
            fprintf(stderr, "capi_test.c:%d: FAILED: %s -> VkResult %d\n", __LINE__, #call, r_); \
            exit(1);                                                                            \
        }                                                                                       \
    } while (0)

enum { B = 1, H = 2, LQ = 7, LK = 13, D = 16, A = 8, E = 16, MHA_HEADS = 2, M_ROWS = 7, N_COLS = 5 };

/* ---- the application's own Vulkan device (what an embedding C program has) ---------------------- */

typedef struct App {
    VkInstance instance;
    VkPhysicalDevice physical;
    VkDevice device;
    uint32_t family;
    VkQueue queue;
    VkCommandPool pool;
    VkPhysicalDeviceMemoryProperties memory;
} App;

typedef struct AppBuffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    VkBufferUsageFlags usage;
    void* mapped;
} AppBuffer;

static void app_create(App* app) {
    VkApplicationInfo ai;
    VkInstanceCreateInfo ii;
    uint32_t n = 1, families = 0, f;
    VkQueueFamilyProperties props[16];
    float priority = 1;
    VkDeviceQueueCreateInfo qi;
    VkDeviceCreateInfo di;
    VkCommandPoolCreateInfo pi;
    VkResult r;
    memset(app, 0, sizeof *app);
    memset(&ai, 0, sizeof ai);
    ai.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    ai.pApplicationName = "vkattn C API test";
    ai.apiVersion = VK_API_VERSION_1_1;
    memset(&ii, 0, sizeof ii);
    ii.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    ii.pApplicationInfo = &ai;
    VK(vkCreateInstance(&ii, NULL, &app->instance));
    r = vkEnumeratePhysicalDevices(app->instance, &n, &app->physical);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) VK(r);
    vkGetPhysicalDeviceQueueFamilyProperties(app->physical, &families, NULL);
    if (families > 16) families = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(app->physical, &families, props);
    for (f = 0; f < families; ++f)
        if (props[f].queueFlags & VK_QUEUE_COMPUTE_BIT) break;
    app->family = f;
    memset(&qi, 0, sizeof qi);
    qi.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    qi.queueFamilyIndex = app->family;
    qi.queueCount = 1;
    qi.pQueuePriorities = &priority;
    memset(&di, 0, sizeof di);
    di.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    VK(vkCreateDevice(app->physical, &di, NULL, &app->device));
    vkGetDeviceQueue(app->device, app->family, 0, &app->queue);
    vkGetPhysicalDeviceMemoryProperties(app->physical, &app->memory);
    memset(&pi, 0, sizeof pi);
    pi.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
    pi.queueFamilyIndex = app->family;
    VK(vkCreateCommandPool(app->device, &pi, NULL, &app->pool));
}

static void app_destroy(App* app) {
    vkDestroyCommandPool(app->device, app->pool, NULL);
    vkDestroyDevice(app->device, NULL);
    vkDestroyInstance(app->instance, NULL);
}

static void app_buffer(const App* app, AppBuffer* b, VkDeviceSize size) {
    VkBufferCreateInfo bi;
    VkMemoryRequirements req;
    VkMemoryAllocateInfo mai;
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t t;
    memset(b, 0, sizeof *b);
    b->size = size;
    b->usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    memset(&bi, 0, sizeof bi);
    bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bi.size = size;
    bi.usage = b->usage;
    VK(vkCreateBuffer(app->device, &bi, NULL, &b->buffer));
    vkGetBufferMemoryRequirements(app->device, b->buffer, &req);
    for (t = 0; t < app->memory.memoryTypeCount; ++t)
        if ((req.memoryTypeBits & (1u << t)) && (app->memory.memoryTypes[t].propertyFlags & want) == want) break;
    memset(&mai, 0, sizeof mai);
    mai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = t;
    VK(vkAllocateMemory(app->device, &mai, NULL, &b->memory));
    VK(vkBindBufferMemory(app->device, b->buffer, b->memory, 0));
    VK(vkMapMemory(app->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped));
}

static void app_buffer_destroy(const App* app, AppBuffer* b) {
    vkDestroyBuffer(app->device, b->buffer, NULL);
    vkFreeMemory(app->device, b->memory, NULL);
}

static VkCommandBuffer app_begin(const App* app) {
    VkCommandBufferAllocateInfo ai;
    VkCommandBufferBeginInfo bi;
    VkCommandBuffer cmd;
    memset(&ai, 0, sizeof ai);
    ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
    ai.commandPool = app->pool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VK(vkAllocateCommandBuffers(app->device, &ai, &cmd));
    memset(&bi, 0, sizeof bi);
    bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    VK(vkBeginCommandBuffer(cmd, &bi));
    return cmd;
}

/* Makes the shader writes visible to the host, submits, waits, frees the command buffer. */
static void app_submit_and_wait(const App* app, VkCommandBuffer cmd) {
    VkMemoryBarrier to_host;
    VkFenceCreateInfo fi;
    VkFence fence;
    VkSubmitInfo si;
    memset(&to_host, 0, sizeof to_host);
    to_host.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    to_host.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                         &to_host, 0, NULL, 0, NULL);
    VK(vkEndCommandBuffer(cmd));
    memset(&fi, 0, sizeof fi);
    fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
    VK(vkCreateFence(app->device, &fi, NULL, &fence));
    memset(&si, 0, sizeof si);
    si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    VK(vkQueueSubmit(app->queue, 1, &si, fence));
    VK(vkWaitForFences(app->device, 1, &fence, VK_TRUE, UINT64_MAX));
    vkDestroyFence(app->device, fence, NULL);
    vkFreeCommandBuffers(app->device, app->pool, 1, &cmd);
}

/* ---- host data and references (double accumulation) -------------------------------------------- */

static void fill(float* x, size_t n, float a, float b) {
    size_t i;
    for (i = 0; i < n; ++i) x[i] = 0.5f * sinf(a * (float)i + b);
}

/* out[Lq, Dv] = softmax(s) v for one head, given scores s[Lq][Lk] (masked keys: -INFINITY). */
static void softmax_rows(const double* s, const float* v, int lq, int lk, int dv, double* out) {
    int i, j, c;
    for (i = 0; i < lq; ++i) {
        double m = -INFINITY, sum = 0;
        for (j = 0; j < lk; ++j)
            if (s[i * lk + j] > m) m = s[i * lk + j];
        for (c = 0; c < dv; ++c) out[i * dv + c] = 0;
        if (m == -INFINITY) continue;
        for (j = 0; j < lk; ++j) {
            double p = exp(s[i * lk + j] - m);
            sum += p;
            for (c = 0; c < dv; ++c) out[i * dv + c] += p * v[j * dv + c];
        }
        for (c = 0; c < dv; ++c) out[i * dv + c] /= sum;
    }
}

/* Scaled dot-product attention of one head; causal 2: bottom-right, key_len: keys seen. */
static void sdpa_head(const float* q, const float* k, const float* v, int lq, int lk, int d, double scale, int bottom_right,
                      int key_len, double* out) {
    double s[LQ * LK];
    int i, j, c;
    for (i = 0; i < lq; ++i)
        for (j = 0; j < lk; ++j) {
            double dot = 0;
            for (c = 0; c < d; ++c) dot += (double)q[i * d + c] * k[j * d + c];
            s[i * lk + j] = (j >= key_len || (bottom_right && j > i + lk - lq)) ? -INFINITY : scale * dot;
        }
    softmax_rows(s, v, lq, lk, d, out);
}

static double max_diff(const float* got, const double* want, size_t n) {
    double m = 0;
    size_t i;
    for (i = 0; i < n; ++i) {
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= m)) m = e; /* NaN counts */
    }
    return m;
}

/* y[m, n] = x[m, :] . w[n, :] + bias[n] (nn.Linear), x [rows, k], w [cols, k]. */
static void linear_ref(const float* x, const float* w, const float* bias, int rows, int cols, int k, double* y) {
    int m, n, c;
    for (m = 0; m < rows; ++m)
        for (n = 0; n < cols; ++n) {
            double acc = bias ? bias[n] : 0;
            for (c = 0; c < k; ++c) acc += (double)x[m * k + c] * w[n * k + c];
            y[m * cols + n] = acc;
        }
}

/* A .safetensors file of nn.MultiheadAttention(E, 2 heads) weights: in_proj packed, both biases. */
static void write_mha_file(const char* path, const float* in_w, const float* in_b, const float* out_w, const float* out_b) {
    char header[512];
    uint64_t n, len;
    size_t a = sizeof(float) * 3 * E * E, b = a + sizeof(float) * 3 * E, c = b + sizeof(float) * E * E, d = c + sizeof(float) * E;
    FILE* f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    n = (uint64_t)sprintf(header,
                          "{\"in_proj_weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[0,%zu]},"
                          "\"in_proj_bias\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]},"
                          "\"out_proj.weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]},"
                          "\"out_proj.bias\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}}",
                          3 * E, E, a, 3 * E, a, b, E, E, b, c, E, c, d);
    while (n % 8) header[n++] = ' ';
    len = n; /* little-endian u64 on every platform vkattn runs on */
    fwrite(&len, 8, 1, f);
    fwrite(header, 1, (size_t)n, f);
    fwrite(in_w, sizeof(float), 3 * E * E, f);
    fwrite(in_b, sizeof(float), 3 * E, f);
    fwrite(out_w, sizeof(float), E * E, f);
    fwrite(out_b, sizeof(float), E, f);
    fclose(f);
}

static float elu1(float x) { return x > 0 ? x + 1 : expf(x); }

int main(void) {
    static float qh[B * H * LQ * D], kh[B * H * LK * D], vh[B * H * LK * D];
    static double ref[B * H * LQ * D], ref_causal[B * H * LQ * D];
    static float got[B * H * LQ * D], got2[B * H * LQ * D];
    const int64_t q_shape[4] = {B, H, LQ, D}, k_shape[4] = {B, H, LK, D}, k_bad_shape[4] = {B, H, LK, 8};
    const double scale = 1.0 / sqrt((double)D);
    App app;
    vkattn_adopted_device adopted;
    vkattn_context_options copt;
    vkattn_context ctx = NULL, other = NULL;
    vkattn_device_info info;
    vkattn_stats stats;
    vkattn_tensor q, k, v, k_bad, out_bad;
    vkattn_attention_options opt;
    vkattn_attention_result res, res_causal;
    int h, i;

    fill(qh, B * H * LQ * D, 0.37f, 0.1f);
    fill(kh, B * H * LK * D, 0.23f, 0.7f);
    fill(vh, B * H * LK * D, 0.11f, 1.3f);
    for (h = 0; h < H; ++h) {
        sdpa_head(qh + h * LQ * D, kh + h * LK * D, vh + h * LK * D, LQ, LK, D, scale, 0, LK, ref + h * LQ * D);
        sdpa_head(qh + h * LQ * D, kh + h * LK * D, vh + h * LK * D, LQ, LK, D, scale, 1, LK, ref_causal + h * LQ * D);
    }

    /* ---- status names, version, errors before any context */
    CHECK(strcmp(vkattn_status_name(VKATTN_OK), "ok") == 0, "status name");
    CHECK(strcmp(vkattn_status_name(VKATTN_ERROR_INVALID_ARGUMENT), "invalid_argument") == 0, "status name");
    CHECK(strcmp(vkattn_status_name(VKATTN_ERROR_INTERNAL), "internal") == 0, "status name");
    CHECK(strcmp(vkattn_status_name((vkattn_status)99), "unknown") == 0, "status name");
    CHECK(strcmp(vkattn_last_error(), "") == 0, "no error yet: \"%s\"", vkattn_last_error());
    CHECK(vkattn_version()[0] != '\0', "version");
    FAILS(vkattn_context_create(NULL, NULL), VKATTN_ERROR_INVALID_ARGUMENT, "out: NULL pointer");
    vkattn_context_options_init(&copt);
    copt.struct_size = 0;
    FAILS(vkattn_context_create(&copt, &other), VKATTN_ERROR_INVALID_ARGUMENT, "options.struct_size");
    copt.struct_size = 8;
    FAILS(vkattn_context_create(&copt, &other), VKATTN_ERROR_INVALID_ARGUMENT, "options.struct_size: 8 is smaller");
    vkattn_context_options_init(&copt);
    copt.profile = "no-such-profile";
    FAILS(vkattn_context_create(&copt, &other), VKATTN_ERROR_INVALID_ARGUMENT, "no-such-profile");
    CHECK(other == NULL, "a failed create wrote its out-parameter");

    /* ---- a context of vkattn's own (no operation on it: pipelines compile per context) */
    vkattn_context_options_init(&copt);
    copt.pipeline_cache_dir = "none";
    OK(vkattn_context_create(&copt, &other));
    vkattn_device_info_init(&info);
    OK(vkattn_context_device_info(other, &info));
    CHECK(info.name[0] != '\0' && !info.adopted && info.subgroup_size >= 1, "device info: %s", info.name);
    {
        size_t n = 0;
        vkattn_device_info all[4];
        for (i = 0; i < 4; ++i) vkattn_device_info_init(&all[i]);
        OK(vkattn_enumerate_devices(NULL, NULL, 0, &n));
        CHECK(n >= 1, "device count %zu", n);
        OK(vkattn_enumerate_devices(NULL, all, 4, &n));
        CHECK(all[0].name[0] != '\0', "enumerated device name");
        FAILS(vkattn_enumerate_devices(NULL, NULL, 2, &n), VKATTN_ERROR_INVALID_ARGUMENT, "out: NULL pointer with capacity 2");
    }
    vkattn_context_destroy(other);
    vkattn_context_destroy(NULL);

    /* ---- THE context: the test's own device, adopted */
    app_create(&app);
    vkattn_adopted_device_init(&adopted);
    adopted.instance = app.instance;
    adopted.physical_device = app.physical;
    adopted.device = app.device;
    adopted.queue_family = app.family;
    adopted.queue = app.queue;
    adopted.api_version = VK_API_VERSION_1_1;
    vkattn_context_options_init(&copt);
    copt.device = "cpu";
    FAILS(vkattn_context_adopt(&adopted, &copt, &ctx), VKATTN_ERROR_INVALID_ARGUMENT, "options.device");
    FAILS(vkattn_context_adopt(NULL, NULL, &ctx), VKATTN_ERROR_INVALID_ARGUMENT, "device: NULL pointer");
    OK(vkattn_context_adopt(&adopted, NULL, &ctx));
    vkattn_device_info_init(&info);
    OK(vkattn_context_device_info(ctx, &info));
    CHECK(info.adopted == 1, "adopted flag");
    printf("capi_test: vkattn %s on %s (%s)\n", vkattn_version(), info.name, info.driver_name);
    FAILS(vkattn_context_device_info(NULL, &info), VKATTN_ERROR_INVALID_ARGUMENT, "ctx: NULL context handle");

    /* ---- tensors */
    OK(vkattn_tensor_upload(ctx, qh, B * H * LQ * D, 4, q_shape, VKATTN_DTYPE_F32, &q));
    OK(vkattn_tensor_upload(ctx, kh, B * H * LK * D, 4, k_shape, VKATTN_DTYPE_F32, &k));
    OK(vkattn_tensor_upload(ctx, vh, B * H * LK * D, 4, k_shape, VKATTN_DTYPE_F32, &v));
    OK(vkattn_tensor_upload(ctx, kh, B * H * LK * 8, 4, k_bad_shape, VKATTN_DTYPE_F32, &k_bad));
    OK(vkattn_tensor_empty(ctx, 4, k_bad_shape, VKATTN_DTYPE_F32, &out_bad));
    {
        int64_t s[4] = {0, 0, 0, 0}, st[4] = {0, 0, 0, 0};
        int32_t ints[6] = {1, -2, 3, -4, 5, -6}, ints_back[6];
        const int64_t six[1] = {6}, two_three[2] = {2, 3}, col[1] = {2}, col_stride[1] = {3};
        float col_back[2];
        vkattn_tensor t_int, t_view, t_tr, t_col;
        CHECK(vkattn_tensor_rank(q) == 4 && vkattn_tensor_numel(q) == B * H * LQ * D && vkattn_tensor_dtype(q) == VKATTN_DTYPE_F32 &&
                  vkattn_tensor_offset(q) == 0,
              "getters");
        CHECK(vkattn_tensor_rank(NULL) == -1 && vkattn_tensor_numel(NULL) == -1, "NULL getters");
        OK(vkattn_tensor_shape(q, s, 4));
        OK(vkattn_tensor_strides(q, st, 4));
        CHECK(s[0] == B && s[1] == H && s[2] == LQ && s[3] == D, "shape");
        CHECK(st[0] == H * LQ * D && st[1] == LQ * D && st[2] == D && st[3] == 1, "strides");
        FAILS(vkattn_tensor_shape(q, s, 3), VKATTN_ERROR_INVALID_ARGUMENT, "capacity: 3 is less than the tensor's rank 4");
        OK(vkattn_tensor_download(q, got, B * H * LQ * D));
        CHECK(memcmp(got, qh, sizeof qh) == 0, "f32 upload/download round trip");
        FAILS(vkattn_tensor_download(q, got, 5), VKATTN_ERROR_INVALID_ARGUMENT, "count: 5 floats given");
        FAILS(vkattn_tensor_download(NULL, got, 5), VKATTN_ERROR_INVALID_ARGUMENT, "t: NULL tensor handle");
        FAILS(vkattn_tensor_upload(ctx, qh, 10, 4, q_shape, VKATTN_DTYPE_F32, &t_int), VKATTN_ERROR_INVALID_ARGUMENT, "needs 224 values, got 10");
        FAILS(vkattn_tensor_upload(ctx, qh, 6, 1, six, (vkattn_dtype)7, &t_int), VKATTN_ERROR_INVALID_ARGUMENT,
              "dtype: 7 is not a vkattn_dtype");
        FAILS(vkattn_tensor_empty(ctx, -1, six, VKATTN_DTYPE_F32, &t_int), VKATTN_ERROR_INVALID_ARGUMENT, "shape: rank -1");
        FAILS(vkattn_tensor_empty(ctx, 1, six, VKATTN_DTYPE_F32, NULL), VKATTN_ERROR_INVALID_ARGUMENT, "out: NULL pointer");
        OK(vkattn_tensor_upload_raw(ctx, ints, sizeof ints, 1, six, VKATTN_DTYPE_I32, &t_int));
        FAILS(vkattn_tensor_download(t_int, got, 6), VKATTN_ERROR_INVALID_ARGUMENT, "download_raw");
        OK(vkattn_tensor_download_raw(t_int, ints_back, sizeof ints_back));
        CHECK(memcmp(ints, ints_back, sizeof ints) == 0, "raw i32 round trip");
        {
            /* bf16 (values exact in bf16) and a q8_0 block (ggml's layout: f16 d, then int8 q; amax 8 -> q[0] = -127) */
            float x32[32], back[32];
            const int64_t sh32[1] = {32};
            unsigned char blocks[34];
            vkattn_tensor tb = NULL, tq = NULL;
            for (int i = 0; i < 32; ++i) x32[i] = (float)(i - 16) * 0.5f;
            OK(vkattn_tensor_upload(ctx, x32, 32, 1, sh32, VKATTN_DTYPE_BF16, &tb));
            OK(vkattn_tensor_download(tb, back, 32));
            CHECK(memcmp(x32, back, sizeof x32) == 0 && vkattn_tensor_dtype(tb) == VKATTN_DTYPE_BF16, "bf16 round trip");
            OK(vkattn_tensor_upload(ctx, x32, 32, 1, sh32, VKATTN_DTYPE_Q8_0, &tq));
            OK(vkattn_tensor_download_raw(tq, blocks, sizeof blocks));
            CHECK((signed char)blocks[2] == -127 && blocks[2 + 16] == 0 && vkattn_tensor_dtype(tq) == VKATTN_DTYPE_Q8_0, "q8_0 block");
            FAILS(vkattn_tensor_download_raw(tq, blocks, 32), VKATTN_ERROR_INVALID_ARGUMENT, "bytes: 32 bytes given, the q8_0 tensor [32] holds 34");
            vkattn_tensor_release(tb);
            vkattn_tensor_release(tq);
        }
        FAILS(vkattn_tensor_download_raw(t_int, ints_back, 4), VKATTN_ERROR_INVALID_ARGUMENT, "bytes: 4 bytes given");
        /* views: [6] as [2, 3], its transpose, and a strided column */
        OK(vkattn_tensor_view(t_int, 2, two_three, NULL, 0, &t_view));
        OK(vkattn_tensor_transposed(t_view, 0, 1, &t_tr));
        OK(vkattn_tensor_strides(t_tr, st, 4));
        CHECK(st[0] == 1 && st[1] == 3, "transposed strides %lld %lld", (long long)st[0], (long long)st[1]);
        OK(vkattn_tensor_download_raw(t_tr, ints_back, sizeof ints_back));
        CHECK(ints_back[0] == 1 && ints_back[1] == -4 && ints_back[2] == -2, "transposed contents");
        FAILS(vkattn_tensor_view(t_int, 1, six, NULL, 1, &t_col), VKATTN_ERROR_INVALID_ARGUMENT, "reaches element 6 of a buffer of 6");
        vkattn_tensor_release(t_int);
        vkattn_tensor_release(t_view);
        vkattn_tensor_release(t_tr);
        OK(vkattn_tensor_view(q, 1, col, col_stride, 1, &t_col));
        OK(vkattn_tensor_download(t_col, col_back, 2));
        CHECK(col_back[0] == qh[1] && col_back[1] == qh[4], "strided view contents");
        vkattn_tensor_release(t_col);
    }

    /* ---- attention against the reference; errors name their argument */
    vkattn_attention_options_init(&opt);
    vkattn_attention_result_init(&res);
    opt.return_lse = 1;
    OK(vkattn_attention(ctx, q, k, v, &opt, &res));
    OK(vkattn_tensor_download(res.out, got, B * H * LQ * D));
    CHECK(max_diff(got, ref, B * H * LQ * D) < 1e-5, "attention vs reference: %g", max_diff(got, ref, B * H * LQ * D));
    CHECK(res.lse != NULL && vkattn_tensor_numel(res.lse) == B * H * LQ && res.weights == NULL, "lse returned, no weights");
    CHECK(res.variant[0] != '\0' && res.dispatches >= 1, "variant \"%s\", %u dispatches", res.variant, res.dispatches);
    {
        float lse[B * H * LQ];
        double want = 0;
        int j, c;
        OK(vkattn_tensor_download(res.lse, lse, B * H * LQ));
        for (j = 0; j < LK; ++j) {
            double dot = 0;
            for (c = 0; c < D; ++c) dot += (double)qh[c] * kh[j * D + c];
            want += exp(scale * dot);
        }
        CHECK(fabs(lse[0] - log(want)) < 1e-5, "lse[0] %g, want %g", lse[0], log(want));
        {
            /* Attention sinks: exp(sink) joins each row's denominator, so row 0's output is the plain
             * one times want / (want + exp(sink)) and its lse is log(want + exp(sink)). */
            float sinks[H], out_s[B * H * LQ * D], lse_s[B * H * LQ];
            const double z = want + exp(0.75);
            vkattn_attention_result rs;
            for (j = 0; j < H; ++j) sinks[j] = 0.75f;
            vkattn_attention_options_init(&opt);
            opt.return_lse = 1;
            opt.sinks = sinks;
            opt.sinks_count = H;
            vkattn_attention_result_init(&rs);
            OK(vkattn_attention(ctx, q, k, v, &opt, &rs));
            OK(vkattn_tensor_download(rs.out, out_s, B * H * LQ * D));
            OK(vkattn_tensor_download(rs.lse, lse_s, B * H * LQ));
            CHECK(fabs(lse_s[0] - log(z)) < 1e-5, "sinks: lse[0] %g, want %g", lse_s[0], log(z));
            for (c = 0; c < D; ++c)
                CHECK(fabs(out_s[c] - ref[c] * want / z) < 1e-5, "sinks: out[%d] %g, want %g", c, out_s[c], ref[c] * want / z);
            vkattn_attention_result_release(&rs);
            opt.sinks_count = 1;
            FAILS(vkattn_attention(ctx, q, k, v, &opt, &rs), VKATTN_ERROR_INVALID_ARGUMENT, "sinks: has 1 values");
            opt.sinks = NULL;
            FAILS(vkattn_attention(ctx, q, k, v, &opt, &rs), VKATTN_ERROR_INVALID_ARGUMENT, "options.sinks: NULL pointer with count 1");
            /* A caller built against the first version (struct_size ending at kv_splits) gets no sinks. */
            opt.struct_size = (uint32_t)offsetof(vkattn_attention_options, sinks);
            OK(vkattn_attention(ctx, q, k, v, &opt, &rs));
            OK(vkattn_tensor_download(rs.lse, lse_s, B * H * LQ));
            CHECK(fabs(lse_s[0] - log(want)) < 1e-5, "first-version options: lse[0] %g, want %g", lse_s[0], log(want));
            vkattn_attention_result_release(&rs);
        }
    }
    vkattn_attention_options_init(&opt);
    opt.causal = VKATTN_CAUSAL_BOTTOM_RIGHT;
    vkattn_attention_result_init(&res_causal);
    OK(vkattn_attention(ctx, q, k, v, &opt, &res_causal));
    OK(vkattn_tensor_download(res_causal.out, got, B * H * LQ * D));
    CHECK(max_diff(got, ref_causal, B * H * LQ * D) < 1e-5, "causal attention vs reference: %g",
          max_diff(got, ref_causal, B * H * LQ * D));
    {
        vkattn_attention_plan plan;
        vkattn_attention_plan_init(&plan);
        OK(vkattn_plan_attention(ctx, q, k, v, NULL, &plan));
        CHECK(plan.variant[0] != '\0' && plan.reason[0] != '\0', "plan");
    }
    {
        vkattn_attention_result r;
        vkattn_attention_result_init(&r);
        FAILS(vkattn_attention(ctx, NULL, k, v, NULL, &r), VKATTN_ERROR_INVALID_ARGUMENT, "q: NULL tensor handle");
        FAILS(vkattn_attention(ctx, q, k_bad, v, NULL, &r), VKATTN_ERROR_INVALID_ARGUMENT, "k:");
        FAILS(vkattn_attention(NULL, q, k, v, NULL, &r), VKATTN_ERROR_INVALID_ARGUMENT, "ctx: NULL context handle");
        FAILS(vkattn_attention(ctx, q, k, v, NULL, NULL), VKATTN_ERROR_INVALID_ARGUMENT, "result: NULL pointer");
        vkattn_attention_options_init(&opt);
        opt.struct_size = 0;
        FAILS(vkattn_attention(ctx, q, k, v, &opt, &r), VKATTN_ERROR_INVALID_ARGUMENT, "options.struct_size: 0");
        vkattn_attention_options_init(&opt);
        opt.out = out_bad;
        FAILS(vkattn_attention(ctx, q, k, v, &opt, &r), VKATTN_ERROR_INVALID_ARGUMENT, "out");
        vkattn_attention_options_init(&opt);
        opt.out_dtype = 42;
        FAILS(vkattn_attention(ctx, q, k, v, &opt, &r), VKATTN_ERROR_INVALID_ARGUMENT, "options.out_dtype: 42");
        opt.out_dtype = VKATTN_DTYPE_DEFAULT;
        opt.key_lengths_count = 1;
        FAILS(vkattn_attention(ctx, q, k, v, &opt, &r), VKATTN_ERROR_INVALID_ARGUMENT, "options.key_lengths: NULL pointer");
        vkattn_attention_options_init(&opt);
        opt.causal = (vkattn_causal)9;
        FAILS(vkattn_attention(ctx, q, k, v, &opt, &r), VKATTN_ERROR_INVALID_ARGUMENT, "options.causal: 9");
        r.struct_size = 0;
        FAILS(vkattn_attention(ctx, q, k, v, NULL, &r), VKATTN_ERROR_INVALID_ARGUMENT, "result.struct_size");
        CHECK(r.out == NULL, "failed call wrote result");
        /* a successful call leaves the last error as it was */
        FAILS(vkattn_plan_attention(ctx, q, k, v, NULL, NULL), VKATTN_ERROR_INVALID_ARGUMENT, "plan: NULL pointer");
        FAILS(vkattn_tensor_shape(q, NULL, 0), VKATTN_ERROR_INVALID_ARGUMENT, "capacity: 0");
        OK(vkattn_context_wait(ctx, 0));
        CHECK(strstr(vkattn_last_error(), "capacity: 0") != NULL, "successful call changed the last error: %s", vkattn_last_error());
    }

    /* ---- KV cache: appended keys attended with bottom-right causality = the causal attention above */
    {
        vkattn_kv_cache_options ko;
        vkattn_kv_cache cache, over;
        vkattn_attention_result r;
        vkattn_tensor keys, ks, vs;
        int32_t lengths[2] = {0, 0};
        size_t n = 0;
        const int64_t storage_shape[4] = {B, H, 16, D};
        vkattn_kv_cache_options_init(&ko);
        CHECK(ko.batch == 1 && ko.kv_heads == 1 && ko.dtype == VKATTN_DTYPE_F16, "cache defaults");
        FAILS(vkattn_kv_cache_create(ctx, NULL, &cache), VKATTN_ERROR_INVALID_ARGUMENT, "capacity");
        ko.kv_heads = H;
        ko.capacity = 16;
        ko.head_dim = D;
        ko.dtype = VKATTN_DTYPE_F32;
        OK(vkattn_kv_cache_create(ctx, &ko, &cache));
        OK(vkattn_kv_cache_append(cache, k, v, NULL, 0));
        OK(vkattn_kv_cache_lengths(cache, lengths, 2, &n));
        CHECK(n == 1 && lengths[0] == LK, "lengths %zu %d", n, lengths[0]);
        FAILS(vkattn_kv_cache_append(cache, k_bad, v, NULL, 0), VKATTN_ERROR_INVALID_ARGUMENT, "k_new");
        FAILS(vkattn_kv_cache_append(NULL, k, v, NULL, 0), VKATTN_ERROR_INVALID_ARGUMENT, "cache: NULL KV cache handle");
        vkattn_attention_result_init(&r);
        OK(vkattn_attend(ctx, q, cache, NULL, &r));
        OK(vkattn_tensor_download(r.out, got, B * H * LQ * D));
        CHECK(max_diff(got, ref_causal, B * H * LQ * D) < 1e-5, "attend vs reference: %g", max_diff(got, ref_causal, B * H * LQ * D));
        vkattn_attention_result_release(&r);
        CHECK(r.out == NULL, "release clears");
        OK(vkattn_kv_cache_keys(cache, &keys));
        CHECK(vkattn_tensor_numel(keys) == B * H * 16 * D, "keys storage");
        vkattn_tensor_release(keys);
        OK(vkattn_kv_cache_set_length(cache, 0, 3));
        OK(vkattn_kv_cache_lengths(cache, lengths, 2, &n));
        CHECK(lengths[0] == 3, "set_length");
        FAILS(vkattn_kv_cache_set_length(cache, 5, 3), VKATTN_ERROR_INVALID_ARGUMENT, "batch");
        OK(vkattn_kv_cache_clear(cache));
        OK(vkattn_kv_cache_lengths(cache, lengths, 2, &n));
        CHECK(lengths[0] == 0, "clear");
        vkattn_kv_cache_destroy(cache);
        OK(vkattn_tensor_empty(ctx, 4, storage_shape, VKATTN_DTYPE_F32, &ks));
        OK(vkattn_tensor_empty(ctx, 4, storage_shape, VKATTN_DTYPE_F32, &vs));
        FAILS(vkattn_kv_cache_create_over(ctx, &ko, ks, NULL, &over), VKATTN_ERROR_INVALID_ARGUMENT, "value_storage: NULL");
        OK(vkattn_kv_cache_create_over(ctx, &ko, ks, vs, &over));
        OK(vkattn_kv_cache_append(over, k, v, NULL, 0));
        vkattn_kv_cache_destroy(over);
        vkattn_tensor_release(ks);
        vkattn_tensor_release(vs);
    }

    /* ---- packed sequences and the paged KV cache: two sequences of 3 and 1 tokens over keys of their own */
    {
        enum { T = 4, HP = 2, DP = 8 };
        float pq[T * HP * DP], pk[T * HP * DP], pv[T * HP * DP], pout[T * HP * DP];
        double want[T * HP * DP];
        const int64_t packed_shape[3] = {T, HP, DP}, one_shape[3] = {1, HP, DP};
        const int32_t cu[3] = {0, 3, 4}, bad_cu[3] = {1, 3, 4}, cu_step[3] = {0, 1, 2};
        vkattn_tensor tq, tk, tv, tq_step;
        vkattn_attention_result r;
        vkattn_paged_kv_cache_options po;
        vkattn_paged_kv_cache_stats st;
        vkattn_paged_kv_cache pc;
        int64_t ids[2], len = 0;
        int s, h, i, j;
        fill(pq, T * HP * DP, 0.3f, 0.1f);
        fill(pk, T * HP * DP, 0.7f, 0.2f);
        fill(pv, T * HP * DP, 0.5f, 0.3f);
        /* Reference: sequence s's token rows, causal within it (Lq = Lk per sequence), head by head. */
        for (s = 0; s < 2; ++s)
            for (h = 0; h < HP; ++h) {
                const int t0 = cu[s], n = cu[s + 1] - cu[s];
                float qh[3 * DP], kh[3 * DP], vh[3 * DP];
                double oh[3 * DP];
                for (i = 0; i < n; ++i)
                    for (j = 0; j < DP; ++j) {
                        qh[i * DP + j] = pq[((t0 + i) * HP + h) * DP + j];
                        kh[i * DP + j] = pk[((t0 + i) * HP + h) * DP + j];
                        vh[i * DP + j] = pv[((t0 + i) * HP + h) * DP + j];
                    }
                sdpa_head(qh, kh, vh, n, n, DP, 1.0 / sqrt((double)DP), 1, n, oh);
                for (i = 0; i < n; ++i)
                    for (j = 0; j < DP; ++j) want[((t0 + i) * HP + h) * DP + j] = oh[i * DP + j];
            }
        OK(vkattn_tensor_upload(ctx, pq, T * HP * DP, 3, packed_shape, VKATTN_DTYPE_F32, &tq));
        OK(vkattn_tensor_upload(ctx, pk, T * HP * DP, 3, packed_shape, VKATTN_DTYPE_F32, &tk));
        OK(vkattn_tensor_upload(ctx, pv, T * HP * DP, 3, packed_shape, VKATTN_DTYPE_F32, &tv));
        {
            vkattn_attention_options o;
            vkattn_attention_options_init(&o);
            o.causal = VKATTN_CAUSAL_BOTTOM_RIGHT;
            vkattn_attention_result_init(&r);
            OK(vkattn_attention_varlen(ctx, tq, tk, tv, cu, 3, cu, 3, &o, &r));
            OK(vkattn_tensor_download(r.out, pout, T * HP * DP));
            CHECK(max_diff(pout, want, T * HP * DP) < 1e-5, "varlen vs reference: %g", max_diff(pout, want, T * HP * DP));
            vkattn_attention_result_release(&r);
            FAILS(vkattn_attention_varlen(ctx, tq, tk, tv, bad_cu, 3, cu, 3, &o, &r), VKATTN_ERROR_INVALID_ARGUMENT,
                  "cu_seqlens_q[0]: must be 0");
        }
        /* The same keys in a paged cache (pages of 2 tokens); the last token of each sequence as a decode step. */
        vkattn_paged_kv_cache_options_init(&po);
        CHECK(po.page_size == 16 && po.dtype == VKATTN_DTYPE_F16, "paged cache defaults");
        po.pages = 4, po.page_size = 2, po.kv_heads = HP, po.head_dim = DP, po.dtype = VKATTN_DTYPE_F32;
        OK(vkattn_paged_kv_cache_create(ctx, &po, &pc));
        OK(vkattn_paged_kv_cache_add_sequence(pc, &ids[0]));
        OK(vkattn_paged_kv_cache_add_sequence(pc, &ids[1]));
        OK(vkattn_paged_kv_cache_append(pc, ids, 2, tk, tv, cu, 3));
        OK(vkattn_paged_kv_cache_length(pc, ids[0], &len));
        CHECK(len == 3, "paged length %lld", (long long)len);
        vkattn_paged_kv_cache_stats_init(&st);
        OK(vkattn_paged_kv_cache_stats_get(pc, &st));
        CHECK(st.pages_used == 3 && st.pages_free == 1 && st.sequences == 2, "paged stats %lld %lld", (long long)st.pages_used,
              (long long)st.pages_free);
        {
            float step_q[2 * HP * DP], step_out[2 * HP * DP];
            double step_want[2 * HP * DP];
            const int64_t step_shape[3] = {2, HP, DP};
            memcpy(step_q, pq + 2 * HP * DP, sizeof(float) * HP * DP);       /* token 2: sequence 0's last */
            memcpy(step_q + HP * DP, pq + 3 * HP * DP, sizeof(float) * HP * DP); /* token 3: sequence 1's */
            for (i = 0; i < HP * DP; ++i) step_want[i] = want[2 * HP * DP + i], step_want[HP * DP + i] = want[3 * HP * DP + i];
            OK(vkattn_tensor_upload(ctx, step_q, 2 * HP * DP, 3, step_shape, VKATTN_DTYPE_F32, &tq_step));
            vkattn_attention_result_init(&r);
            OK(vkattn_paged_attend(ctx, tq_step, pc, ids, 2, cu_step, 3, NULL, &r));
            OK(vkattn_tensor_download(r.out, step_out, 2 * HP * DP));
            CHECK(max_diff(step_out, step_want, 2 * HP * DP) < 1e-5, "paged attend vs reference: %g", max_diff(step_out, step_want, 2 * HP * DP));
            vkattn_attention_result_release(&r);
            OK(vkattn_paged_kv_cache_free(pc, ids[1]));
            FAILS(vkattn_paged_attend(ctx, tq_step, pc, ids, 2, cu_step, 3, NULL, &r), VKATTN_ERROR_INVALID_ARGUMENT,
                  "sequences[1]: sequence 1 was freed");
            vkattn_tensor_release(tq_step);
        }
        (void)one_shape;
        vkattn_paged_kv_cache_destroy(pc);
        vkattn_tensor_release(tq);
        vkattn_tensor_release(tk);
        vkattn_tensor_release(tv);
    }

    /* ---- layers */
    {
        static float a_h[M_ROWS * D], w_h[N_COLS * D], b_h[N_COLS], y[M_ROWS * N_COLS];
        static double y_ref[M_ROWS * N_COLS];
        const int64_t a_shape[2] = {M_ROWS, D}, w_shape[2] = {N_COLS, D}, b_shape[1] = {N_COLS};
        vkattn_tensor ta, tw, tb;
        vkattn_layer_result lr;
        vkattn_matmul_options mo;
        fill(a_h, M_ROWS * D, 0.3f, 0.2f);
        fill(w_h, N_COLS * D, 0.17f, 0.9f);
        fill(b_h, N_COLS, 1.1f, 0.0f);
        linear_ref(a_h, w_h, b_h, M_ROWS, N_COLS, D, y_ref);
        OK(vkattn_tensor_upload(ctx, a_h, M_ROWS * D, 2, a_shape, VKATTN_DTYPE_F32, &ta));
        OK(vkattn_tensor_upload(ctx, w_h, N_COLS * D, 2, w_shape, VKATTN_DTYPE_F32, &tw));
        OK(vkattn_tensor_upload(ctx, b_h, N_COLS, 1, b_shape, VKATTN_DTYPE_F32, &tb));
        vkattn_layer_result_init(&lr);
        OK(vkattn_matmul(ctx, ta, tw, tb, NULL, &lr));
        OK(vkattn_tensor_download(lr.out, y, M_ROWS * N_COLS));
        CHECK(max_diff(y, y_ref, M_ROWS * N_COLS) < 1e-5, "matmul vs reference: %g", max_diff(y, y_ref, M_ROWS * N_COLS));
        vkattn_layer_result_release(&lr);
        vkattn_matmul_options_init(&mo);
        mo.transpose_w = 0;
        FAILS(vkattn_matmul(ctx, ta, tw, tb, &mo, &lr), VKATTN_ERROR_INVALID_ARGUMENT, "w");
        FAILS(vkattn_matmul(ctx, ta, NULL, tb, NULL, &lr), VKATTN_ERROR_INVALID_ARGUMENT, "w: NULL tensor handle");
        vkattn_tensor_release(ta);
        vkattn_tensor_release(tw);
        vkattn_tensor_release(tb);
    }
    {
        /* multi-head attention from a .safetensors file, against projections + attention computed here */
        static float in_w[3 * E * E], in_b[3 * E], out_w[E * E], out_b[E], x[LQ * E], y[LQ * E];
        static float proj[3][LQ * E], heads_q[LQ * 8], heads_k[LQ * 8], heads_v[LQ * 8], concat[LQ * E];
        static double pd[LQ * 3 * E], att[LQ * 8], y_ref[LQ * E];
        const int64_t x_shape[3] = {1, LQ, E};
        const char* path = "capi_test_mha.safetensors";
        vkattn_mha_weights mw;
        vkattn_tensor tx;
        vkattn_layer_result lr;
        vkattn_mha_options mo;
        int p, r, c;
        fill(in_w, 3 * E * E, 0.13f, 0.4f);
        fill(in_b, 3 * E, 0.7f, 0.3f);
        fill(out_w, E * E, 0.19f, 1.7f);
        fill(out_b, E, 0.5f, 0.6f);
        fill(x, LQ * E, 0.29f, 0.8f);
        write_mha_file(path, in_w, in_b, out_w, out_b);
        FAILS(vkattn_mha_load(ctx, "no/such/file.safetensors", 2, 0, NULL, VKATTN_DTYPE_F32, &mw), VKATTN_ERROR_IO, "no/such/file");
        FAILS(vkattn_mha_load(ctx, NULL, 2, 0, NULL, VKATTN_DTYPE_F32, &mw), VKATTN_ERROR_INVALID_ARGUMENT, "path: NULL string");
        OK(vkattn_mha_load(ctx, path, MHA_HEADS, 0, NULL, VKATTN_DTYPE_F32, &mw));
        remove(path);
        OK(vkattn_tensor_upload(ctx, x, LQ * E, 3, x_shape, VKATTN_DTYPE_F32, &tx));
        vkattn_mha_options_init(&mo);
        mo.causal = VKATTN_CAUSAL_TOP_LEFT;
        vkattn_layer_result_init(&lr);
        OK(vkattn_multi_head_attention(ctx, mw, tx, NULL, NULL, &mo, &lr));
        OK(vkattn_tensor_download(lr.out, y, LQ * E));
        linear_ref(x, in_w, in_b, LQ, 3 * E, E, pd);
        for (p = 0; p < 3; ++p)
            for (r = 0; r < LQ; ++r)
                for (c = 0; c < E; ++c) proj[p][r * E + c] = (float)pd[r * 3 * E + p * E + c];
        for (h = 0; h < MHA_HEADS; ++h) {
            for (r = 0; r < LQ; ++r)
                for (c = 0; c < 8; ++c) {
                    heads_q[r * 8 + c] = proj[0][r * E + h * 8 + c];
                    heads_k[r * 8 + c] = proj[1][r * E + h * 8 + c];
                    heads_v[r * 8 + c] = proj[2][r * E + h * 8 + c];
                }
            sdpa_head(heads_q, heads_k, heads_v, LQ, LQ, 8, 1.0 / sqrt(8.0), 1, LQ, att);
            for (r = 0; r < LQ; ++r)
                for (c = 0; c < 8; ++c) concat[r * E + h * 8 + c] = (float)att[r * 8 + c];
        }
        linear_ref(concat, out_w, out_b, LQ, E, E, y_ref);
        CHECK(max_diff(y, y_ref, LQ * E) < 1e-4, "multi-head attention vs reference: %g", max_diff(y, y_ref, LQ * E));
        vkattn_layer_result_release(&lr);
        FAILS(vkattn_multi_head_attention(ctx, NULL, tx, NULL, NULL, NULL, &lr), VKATTN_ERROR_INVALID_ARGUMENT,
              "weights: NULL multi-head attention weights handle");
        FAILS(vkattn_multi_head_attention(ctx, mw, q, NULL, NULL, NULL, &lr), VKATTN_ERROR_INVALID_ARGUMENT, "x_q");
        {
            /* recording with a workspace that is too small */
            vkattn_workspace tiny;
            vkattn_tensor mout;
            VkDeviceSize need = 0;
            VkCommandBuffer cmd = app_begin(&app);
            OK(vkattn_tensor_empty(ctx, 3, x_shape, VKATTN_DTYPE_F32, &mout));
            mo.out = mout;
            OK(vkattn_multi_head_attention_workspace_size(ctx, mw, tx, NULL, NULL, &mo, &need));
            CHECK(need > 16, "multi-head attention needs a workspace (%llu bytes)", (unsigned long long)need);
            OK(vkattn_workspace_create(ctx, 16, &tiny));
            CHECK(vkattn_workspace_size(tiny) == 16, "workspace size");
            FAILS(vkattn_record_multi_head_attention(ctx, cmd, tiny, mw, tx, NULL, NULL, &mo, &lr), VKATTN_ERROR_INVALID_ARGUMENT,
                  "workspace: holds 16 bytes");
            FAILS(vkattn_record_multi_head_attention(ctx, VK_NULL_HANDLE, tiny, mw, tx, NULL, NULL, &mo, &lr),
                  VKATTN_ERROR_INVALID_ARGUMENT, "cmd: VK_NULL_HANDLE");
            VK(vkEndCommandBuffer(cmd));
            vkFreeCommandBuffers(app.device, app.pool, 1, &cmd);
            vkattn_workspace_destroy(tiny);
            vkattn_tensor_release(mout);
        }
        vkattn_tensor_release(tx);
        vkattn_mha_weights_release(mw);
    }
    {
        /* additive (Bahdanau) and Luong general attention, against references computed here */
        static float wq_h[A * D], wk_h[A * D], va_h[A], bias_h[A], wl_h[D * D];
        static double s[LQ * LK], want[B * H * LQ * D];
        const int64_t w_shape[2] = {A, D}, a_shape[1] = {A}, wl_shape[2] = {D, D};
        vkattn_additive_weights aw;
        vkattn_attention_result r;
        vkattn_tensor wl;
        int i2, j, c, a;
        fill(wq_h, A * D, 0.41f, 0.2f);
        fill(wk_h, A * D, 0.31f, 0.5f);
        fill(va_h, A, 0.9f, 0.1f);
        fill(bias_h, A, 0.6f, 1.0f);
        fill(wl_h, D * D, 0.07f, 0.3f);
        OK(vkattn_tensor_upload(ctx, wq_h, A * D, 2, w_shape, VKATTN_DTYPE_F32, &aw.w_q));
        OK(vkattn_tensor_upload(ctx, wk_h, A * D, 2, w_shape, VKATTN_DTYPE_F32, &aw.w_k));
        OK(vkattn_tensor_upload(ctx, va_h, A, 1, a_shape, VKATTN_DTYPE_F32, &aw.v_a));
        OK(vkattn_tensor_upload(ctx, bias_h, A, 1, a_shape, VKATTN_DTYPE_F32, &aw.bias));
        OK(vkattn_tensor_upload(ctx, wl_h, D * D, 2, wl_shape, VKATTN_DTYPE_F32, &wl));
        for (h = 0; h < H; ++h) {
            const float *qq = qh + h * LQ * D, *kk = kh + h * LK * D;
            for (i2 = 0; i2 < LQ; ++i2)
                for (j = 0; j < LK; ++j) {
                    double score = 0;
                    for (a = 0; a < A; ++a) {
                        double t = bias_h[a];
                        for (c = 0; c < D; ++c) t += (double)wq_h[a * D + c] * qq[i2 * D + c] + (double)wk_h[a * D + c] * kk[j * D + c];
                        score += va_h[a] * tanh(t);
                    }
                    s[i2 * LK + j] = score;
                }
            softmax_rows(s, vh + h * LK * D, LQ, LK, D, want + h * LQ * D);
        }
        vkattn_attention_result_init(&r);
        OK(vkattn_additive_attention(ctx, q, k, v, &aw, NULL, &r));
        OK(vkattn_tensor_download(r.out, got, B * H * LQ * D));
        CHECK(max_diff(got, want, B * H * LQ * D) < 1e-4, "additive attention vs reference: %g", max_diff(got, want, B * H * LQ * D));
        vkattn_attention_result_release(&r);
        FAILS(vkattn_additive_attention(ctx, q, k, v, NULL, NULL, &r), VKATTN_ERROR_INVALID_ARGUMENT, "weights: NULL pointer");
        {
            vkattn_additive_weights bad = aw;
            bad.v_a = NULL;
            FAILS(vkattn_additive_attention(ctx, q, k, v, &bad, NULL, &r), VKATTN_ERROR_INVALID_ARGUMENT,
                  "weights.v_a: NULL tensor handle");
        }
        /* Luong: score = q W kᵀ, W [Dq, Dk], scale 1 */
        for (h = 0; h < H; ++h) {
            const float *qq = qh + h * LQ * D, *kk = kh + h * LK * D;
            for (i2 = 0; i2 < LQ; ++i2)
                for (j = 0; j < LK; ++j) {
                    double score = 0;
                    int c2;
                    for (c = 0; c < D; ++c)
                        for (c2 = 0; c2 < D; ++c2) score += (double)qq[i2 * D + c] * wl_h[c * D + c2] * kk[j * D + c2];
                    s[i2 * LK + j] = score;
                }
            softmax_rows(s, vh + h * LK * D, LQ, LK, D, want + h * LQ * D);
        }
        OK(vkattn_luong_general_attention(ctx, q, k, v, wl, NULL, &r));
        OK(vkattn_tensor_download(r.out, got, B * H * LQ * D));
        CHECK(max_diff(got, want, B * H * LQ * D) < 1e-4, "Luong attention vs reference: %g", max_diff(got, want, B * H * LQ * D));
        vkattn_attention_result_release(&r);
        FAILS(vkattn_luong_general_attention(ctx, q, k, v, k_bad, NULL, &r), VKATTN_ERROR_INVALID_ARGUMENT, "w");
        vkattn_tensor_release(aw.w_q);
        vkattn_tensor_release(aw.w_k);
        vkattn_tensor_release(aw.v_a);
        vkattn_tensor_release(aw.bias);
        vkattn_tensor_release(wl);
    }
    {
        /* linear attention, elu + 1, not causal */
        static double want[B * H * LQ * D];
        vkattn_linear_attention_options lo;
        vkattn_layer_result lr;
        int i2, j, c, c2;
        for (h = 0; h < H; ++h) {
            const float *qq = qh + h * LQ * D, *kk = kh + h * LK * D, *vv = vh + h * LK * D;
            for (i2 = 0; i2 < LQ; ++i2) {
                double den = 0;
                for (c2 = 0; c2 < D; ++c2) want[h * LQ * D + i2 * D + c2] = 0;
                for (j = 0; j < LK; ++j) {
                    double w = 0;
                    for (c = 0; c < D; ++c) w += (double)elu1(qq[i2 * D + c]) * elu1(kk[j * D + c]);
                    den += w;
                    for (c2 = 0; c2 < D; ++c2) want[h * LQ * D + i2 * D + c2] += w * vv[j * D + c2];
                }
                for (c2 = 0; c2 < D; ++c2) want[h * LQ * D + i2 * D + c2] /= den + 1e-6;
            }
        }
        vkattn_linear_attention_options_init(&lo);
        vkattn_layer_result_init(&lr);
        OK(vkattn_linear_attention(ctx, q, k, v, &lo, &lr));
        OK(vkattn_tensor_download(lr.out, got, B * H * LQ * D));
        CHECK(max_diff(got, want, B * H * LQ * D) < 1e-4, "linear attention vs reference: %g", max_diff(got, want, B * H * LQ * D));
        vkattn_layer_result_release(&lr);
        lo.feature_map = (vkattn_feature_map)5;
        FAILS(vkattn_linear_attention(ctx, q, k, v, &lo, &lr), VKATTN_ERROR_INVALID_ARGUMENT, "options.feature_map: 5");
    }

    /* ---- recorded into the application's command buffer: attention, matmul, append + attend, each
     * into the application's buffer, bitwise equal to the synchronous calls */
    {
        static float a_h[M_ROWS * D], w_h[N_COLS * D], y_sync[M_ROWS * N_COLS];
        const int64_t a_shape[2] = {M_ROWS, D}, w_shape[2] = {N_COLS, D}, y_shape[2] = {M_ROWS, N_COLS};
        const VkDeviceSize attn_bytes = sizeof(float) * B * H * LQ * D, y_offset = 2 * attn_bytes;
        AppBuffer buf;
        vkattn_tensor ta, tw, o_attn, o_attend, o_y;
        vkattn_workspace ws;
        vkattn_kv_cache_options ko;
        vkattn_kv_cache cache;
        vkattn_attention_options ao;
        vkattn_matmul_options mo;
        vkattn_attention_result r;
        vkattn_layer_result lr;
        VkDeviceSize need = 0, need2 = 0, need3 = 0;
        VkCommandBuffer cmd;
        fill(a_h, M_ROWS * D, 0.3f, 0.2f);
        fill(w_h, N_COLS * D, 0.17f, 0.9f);
        OK(vkattn_tensor_upload(ctx, a_h, M_ROWS * D, 2, a_shape, VKATTN_DTYPE_F32, &ta));
        OK(vkattn_tensor_upload(ctx, w_h, N_COLS * D, 2, w_shape, VKATTN_DTYPE_F32, &tw));
        vkattn_layer_result_init(&lr);
        OK(vkattn_matmul(ctx, ta, tw, NULL, NULL, &lr));
        OK(vkattn_tensor_download(lr.out, y_sync, M_ROWS * N_COLS));
        vkattn_layer_result_release(&lr);

        app_buffer(&app, &buf, y_offset + sizeof(float) * M_ROWS * N_COLS);
        memset(buf.mapped, 0xff, (size_t)buf.size);
        FAILS(vkattn_tensor_wrap_buffer(ctx, buf.buffer, buf.size, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, 0, 4, q_shape, NULL,
                                        VKATTN_DTYPE_F32, &o_attn),
              VKATTN_ERROR_INVALID_ARGUMENT, "STORAGE");
        FAILS(vkattn_tensor_wrap_buffer(ctx, buf.buffer, 64, buf.usage, 0, 4, q_shape, NULL, VKATTN_DTYPE_F32, &o_attn),
              VKATTN_ERROR_INVALID_ARGUMENT, "buffer.size is 64");
        OK(vkattn_tensor_wrap_buffer(ctx, buf.buffer, buf.size, buf.usage, 0, 4, q_shape, NULL, VKATTN_DTYPE_F32, &o_attn));
        OK(vkattn_tensor_wrap_buffer(ctx, buf.buffer, buf.size, buf.usage, attn_bytes, 4, q_shape, NULL, VKATTN_DTYPE_F32, &o_attend));
        OK(vkattn_tensor_wrap_buffer(ctx, buf.buffer, buf.size, buf.usage, y_offset, 2, y_shape, NULL, VKATTN_DTYPE_F32, &o_y));

        vkattn_kv_cache_options_init(&ko);
        ko.kv_heads = H;
        ko.capacity = 16;
        ko.head_dim = D;
        ko.dtype = VKATTN_DTYPE_F32;
        OK(vkattn_kv_cache_create(ctx, &ko, &cache));

        vkattn_attention_options_init(&ao);
        ao.out = o_attn;
        vkattn_matmul_options_init(&mo);
        mo.out = o_y;
        OK(vkattn_attention_workspace_size(ctx, q, k, v, &ao, &need));
        OK(vkattn_matmul_workspace_size(ctx, ta, tw, NULL, &mo, &need2));
        if (need2 > need) need = need2;
        OK(vkattn_workspace_create(ctx, need, &ws));
        cmd = app_begin(&app);
        vkattn_attention_result_init(&r);
        FAILS(vkattn_record_attention(ctx, cmd, ws, q, k, v, NULL, &r), VKATTN_ERROR_INVALID_ARGUMENT, "out");
        OK(vkattn_record_attention(ctx, cmd, ws, q, k, v, &ao, &r));
        CHECK(r.out != NULL && r.dispatches >= 1, "recorded attention result");
        vkattn_attention_result_release(&r);
        vkattn_layer_result_init(&lr);
        OK(vkattn_record_matmul(ctx, cmd, ws, ta, tw, NULL, &mo, &lr));
        vkattn_layer_result_release(&lr);
        OK(vkattn_record_append(ctx, cmd, cache, k, v, NULL, 0));
        ao.out = o_attend;
        OK(vkattn_attend_workspace_size(ctx, q, cache, &ao, &need3));
        CHECK(need3 <= vkattn_workspace_size(ws), "attend workspace %llu > %llu", (unsigned long long)need3,
              (unsigned long long)vkattn_workspace_size(ws));
        OK(vkattn_record_attend(ctx, cmd, ws, q, cache, &ao, &r));
        vkattn_attention_result_release(&r);
        app_submit_and_wait(&app, cmd);
        OK(vkattn_tensor_download(res.out, got, B * H * LQ * D));
        CHECK(memcmp(buf.mapped, got, (size_t)attn_bytes) == 0, "recorded attention differs from the synchronous call");
        OK(vkattn_tensor_download(res_causal.out, got, B * H * LQ * D));
        CHECK(memcmp((char*)buf.mapped + attn_bytes, got, (size_t)attn_bytes) == 0,
              "recorded append + attend differs from the synchronous causal attention");
        CHECK(memcmp((char*)buf.mapped + y_offset, y_sync, sizeof y_sync) == 0, "recorded matmul differs from the synchronous call");
        OK(vkattn_tensor_download(o_attn, got2, B * H * LQ * D));
        CHECK(memcmp(buf.mapped, got2, (size_t)attn_bytes) == 0, "download of a wrapped buffer");
        OK(vkattn_workspace_reset(ws));
        FAILS(vkattn_workspace_reset(NULL), VKATTN_ERROR_INVALID_ARGUMENT, "ws: NULL workspace handle");
        vkattn_workspace_destroy(ws);
        {
            /* a workspace over caller memory */
            vkattn_tensor storage;
            vkattn_workspace ws2;
            const int64_t bytes[1] = {256};
            OK(vkattn_tensor_empty(ctx, 1, bytes, VKATTN_DTYPE_U8, &storage));
            OK(vkattn_workspace_create_over(ctx, storage, &ws2));
            CHECK(vkattn_workspace_size(ws2) == 256, "workspace over storage");
            vkattn_workspace_destroy(ws2);
            vkattn_tensor_release(storage);
        }
        vkattn_kv_cache_destroy(cache);
        vkattn_tensor_release(o_attn);
        vkattn_tensor_release(o_attend);
        vkattn_tensor_release(o_y);
        vkattn_tensor_release(ta);
        vkattn_tensor_release(tw);
        app_buffer_destroy(&app, &buf);
    }

    /* ---- a batch on the context's own queue: attention + append + attend, one submission */
    {
        vkattn_batch batch;
        vkattn_kv_cache_options ko;
        vkattn_kv_cache cache;
        vkattn_attention_result r1, r2;
        vkattn_ticket ticket = 0;
        int done = 0;
        OK(vkattn_batch_create(ctx, &batch));
        vkattn_kv_cache_options_init(&ko);
        ko.kv_heads = H;
        ko.capacity = 16;
        ko.head_dim = D;
        ko.dtype = VKATTN_DTYPE_F32;
        OK(vkattn_kv_cache_create(ctx, &ko, &cache));
        vkattn_attention_result_init(&r1);
        vkattn_attention_result_init(&r2);
        OK(vkattn_batch_attention(batch, q, k, v, NULL, &r1));
        OK(vkattn_batch_append(batch, cache, k, v, NULL, 0));
        OK(vkattn_batch_attend(batch, q, cache, NULL, &r2));
        FAILS(vkattn_batch_attention(batch, q, k_bad, v, NULL, &r1), VKATTN_ERROR_INVALID_ARGUMENT, "k:");
        CHECK(vkattn_batch_size(batch) == 3, "batch size %zu", vkattn_batch_size(batch));
        OK(vkattn_batch_submit(batch, &ticket));
        CHECK(vkattn_batch_size(batch) == 0 && ticket != 0, "submitted");
        OK(vkattn_context_wait(ctx, ticket));
        OK(vkattn_context_completed(ctx, ticket, &done));
        CHECK(done == 1, "completed after wait");
        FAILS(vkattn_context_completed(ctx, ticket, NULL), VKATTN_ERROR_INVALID_ARGUMENT, "done: NULL pointer");
        OK(vkattn_tensor_download(r1.out, got2, B * H * LQ * D));
        OK(vkattn_tensor_download(res.out, got, B * H * LQ * D));
        CHECK(memcmp(got, got2, sizeof got) == 0, "batched attention differs from the synchronous call");
        OK(vkattn_tensor_download(r2.out, got2, B * H * LQ * D));
        OK(vkattn_tensor_download(res_causal.out, got, B * H * LQ * D));
        CHECK(memcmp(got, got2, sizeof got) == 0, "batched attend differs from the synchronous causal attention");
        vkattn_attention_result_release(&r1);
        vkattn_attention_result_release(&r2);
        FAILS(vkattn_batch_submit(NULL, &ticket), VKATTN_ERROR_INVALID_ARGUMENT, "batch: NULL batch handle");
        vkattn_batch_destroy(batch);
        vkattn_kv_cache_destroy(cache);
    }

    /* ---- the layers recorded into the application's command buffer and queued in a batch, each bitwise
     * equal to its synchronous call */
    {
        enum { NL = 4 }; /* linear, additive, Luong, multi-head */
        static float a_h[M_ROWS * D], w_h[N_COLS * D], wq_h[A * D], wk_h[A * D], va_h[A], wl_h[D * D];
        static float in_w[3 * E * E], in_b[3 * E], out_w[E * E], out_b[E], x[LQ * E];
        static float sync[NL][B * H * LQ * D], back[B * H * LQ * D], y_sync[M_ROWS * N_COLS], y_back[M_ROWS * N_COLS];
        const int64_t a_shape[2] = {M_ROWS, D}, w_shape[2] = {N_COLS, D}, aw_shape[2] = {A, D}, a1[1] = {A}, wl_shape[2] = {D, D};
        const int64_t x_shape[3] = {1, LQ, E};
        const size_t counts[NL] = {B * H * LQ * D, B * H * LQ * D, B * H * LQ * D, LQ * E};
        const VkDeviceSize region = sizeof(float) * B * H * LQ * D;
        const char* path = "capi_test_mha2.safetensors";
        vkattn_tensor ta, tw, wl, tx, outs[NL];
        vkattn_additive_weights aw;
        vkattn_mha_weights mw;
        vkattn_linear_attention_options lo;
        vkattn_attention_options ao;
        vkattn_mha_options mo;
        vkattn_layer_result lr, blr[3];
        vkattn_attention_result ar, bar[2];
        vkattn_workspace ws;
        vkattn_batch batch;
        vkattn_ticket ticket = 0;
        VkDeviceSize need = 0, n1 = 0;
        VkCommandBuffer cmd;
        AppBuffer buf;
        int l;
        fill(a_h, M_ROWS * D, 0.3f, 0.2f);
        fill(w_h, N_COLS * D, 0.17f, 0.9f);
        fill(wq_h, A * D, 0.41f, 0.2f);
        fill(wk_h, A * D, 0.31f, 0.5f);
        fill(va_h, A, 0.9f, 0.1f);
        fill(wl_h, D * D, 0.07f, 0.3f);
        fill(in_w, 3 * E * E, 0.13f, 0.4f);
        fill(in_b, 3 * E, 0.7f, 0.3f);
        fill(out_w, E * E, 0.19f, 1.7f);
        fill(out_b, E, 0.5f, 0.6f);
        fill(x, LQ * E, 0.29f, 0.8f);
        write_mha_file(path, in_w, in_b, out_w, out_b);
        OK(vkattn_mha_load(ctx, path, MHA_HEADS, 0, "", VKATTN_DTYPE_F32, &mw));
        remove(path);
        OK(vkattn_tensor_upload(ctx, a_h, M_ROWS * D, 2, a_shape, VKATTN_DTYPE_F32, &ta));
        OK(vkattn_tensor_upload(ctx, w_h, N_COLS * D, 2, w_shape, VKATTN_DTYPE_F32, &tw));
        OK(vkattn_tensor_upload(ctx, wq_h, A * D, 2, aw_shape, VKATTN_DTYPE_F32, &aw.w_q));
        OK(vkattn_tensor_upload(ctx, wk_h, A * D, 2, aw_shape, VKATTN_DTYPE_F32, &aw.w_k));
        OK(vkattn_tensor_upload(ctx, va_h, A, 1, a1, VKATTN_DTYPE_F32, &aw.v_a));
        aw.bias = NULL;
        OK(vkattn_tensor_upload(ctx, wl_h, D * D, 2, wl_shape, VKATTN_DTYPE_F32, &wl));
        OK(vkattn_tensor_upload(ctx, x, LQ * E, 3, x_shape, VKATTN_DTYPE_F32, &tx));

        /* synchronous */
        vkattn_linear_attention_options_init(&lo);
        vkattn_attention_options_init(&ao);
        vkattn_mha_options_init(&mo);
        vkattn_layer_result_init(&lr);
        vkattn_attention_result_init(&ar);
        OK(vkattn_linear_attention(ctx, q, k, v, &lo, &lr));
        OK(vkattn_tensor_download(lr.out, sync[0], counts[0]));
        vkattn_layer_result_release(&lr);
        OK(vkattn_additive_attention(ctx, q, k, v, &aw, &ao, &ar));
        OK(vkattn_tensor_download(ar.out, sync[1], counts[1]));
        vkattn_attention_result_release(&ar);
        OK(vkattn_luong_general_attention(ctx, q, k, v, wl, &ao, &ar));
        OK(vkattn_tensor_download(ar.out, sync[2], counts[2]));
        vkattn_attention_result_release(&ar);
        OK(vkattn_multi_head_attention(ctx, mw, tx, tx, tx, &mo, &lr));
        OK(vkattn_tensor_download(lr.out, sync[3], counts[3]));
        vkattn_layer_result_release(&lr);
        OK(vkattn_matmul(ctx, ta, tw, NULL, NULL, &lr));
        OK(vkattn_tensor_download(lr.out, y_sync, M_ROWS * N_COLS));
        vkattn_layer_result_release(&lr);

        /* recorded, into the application's buffer */
        app_buffer(&app, &buf, NL * region);
        memset(buf.mapped, 0xff, (size_t)buf.size);
        for (l = 0; l < NL; ++l)
            OK(vkattn_tensor_wrap_buffer(ctx, buf.buffer, buf.size, buf.usage, (VkDeviceSize)l * region, l == 3 ? 3 : 4,
                                         l == 3 ? x_shape : q_shape, NULL, VKATTN_DTYPE_F32, &outs[l]));
        lo.out = outs[0];
        OK(vkattn_linear_attention_workspace_size(ctx, q, k, v, &lo, &n1));
        if (n1 > need) need = n1;
        ao.out = outs[1];
        OK(vkattn_additive_attention_workspace_size(ctx, q, k, v, &aw, &ao, &n1));
        if (n1 > need) need = n1;
        ao.out = outs[2];
        OK(vkattn_luong_general_attention_workspace_size(ctx, q, k, v, wl, &ao, &n1));
        if (n1 > need) need = n1;
        mo.out = outs[3];
        OK(vkattn_multi_head_attention_workspace_size(ctx, mw, tx, tx, tx, &mo, &n1));
        if (n1 > need) need = n1;
        OK(vkattn_workspace_create(ctx, need, &ws));
        cmd = app_begin(&app);
        OK(vkattn_record_linear_attention(ctx, cmd, ws, q, k, v, &lo, &lr));
        vkattn_layer_result_release(&lr);
        ao.out = outs[1];
        OK(vkattn_record_additive_attention(ctx, cmd, ws, q, k, v, &aw, &ao, &ar));
        vkattn_attention_result_release(&ar);
        ao.out = outs[2];
        OK(vkattn_record_luong_general_attention(ctx, cmd, ws, q, k, v, wl, &ao, &ar));
        vkattn_attention_result_release(&ar);
        OK(vkattn_record_multi_head_attention(ctx, cmd, ws, mw, tx, tx, tx, &mo, &lr));
        vkattn_layer_result_release(&lr);
        app_submit_and_wait(&app, cmd);
        for (l = 0; l < NL; ++l)
            CHECK(memcmp((char*)buf.mapped + l * region, sync[l], counts[l] * sizeof(float)) == 0,
                  "recorded layer %d (linear, additive, Luong, multi-head) differs from its synchronous call", l);
        vkattn_workspace_destroy(ws);

        /* queued in a batch */
        OK(vkattn_batch_create(ctx, &batch));
        for (l = 0; l < 3; ++l) vkattn_layer_result_init(&blr[l]);
        vkattn_attention_result_init(&bar[0]);
        vkattn_attention_result_init(&bar[1]);
        OK(vkattn_batch_linear_attention(batch, q, k, v, NULL, &blr[0]));
        OK(vkattn_batch_additive_attention(batch, q, k, v, &aw, NULL, &bar[0]));
        OK(vkattn_batch_luong_general_attention(batch, q, k, v, wl, NULL, &bar[1]));
        OK(vkattn_batch_multi_head_attention(batch, mw, tx, tx, tx, NULL, &blr[1]));
        OK(vkattn_batch_matmul(batch, ta, tw, NULL, NULL, &blr[2]));
        FAILS(vkattn_batch_matmul(batch, ta, NULL, NULL, NULL, &blr[2]), VKATTN_ERROR_INVALID_ARGUMENT, "w: NULL tensor handle");
        CHECK(vkattn_batch_size(batch) == 5, "batch of layers: %zu", vkattn_batch_size(batch));
        OK(vkattn_batch_submit(batch, &ticket));
        OK(vkattn_context_wait(ctx, ticket));
        OK(vkattn_tensor_download(blr[0].out, back, counts[0]));
        CHECK(memcmp(back, sync[0], counts[0] * sizeof(float)) == 0, "batched linear attention");
        OK(vkattn_tensor_download(bar[0].out, back, counts[1]));
        CHECK(memcmp(back, sync[1], counts[1] * sizeof(float)) == 0, "batched additive attention");
        OK(vkattn_tensor_download(bar[1].out, back, counts[2]));
        CHECK(memcmp(back, sync[2], counts[2] * sizeof(float)) == 0, "batched Luong attention");
        OK(vkattn_tensor_download(blr[1].out, back, counts[3]));
        CHECK(memcmp(back, sync[3], counts[3] * sizeof(float)) == 0, "batched multi-head attention");
        OK(vkattn_tensor_download(blr[2].out, y_back, M_ROWS * N_COLS));
        CHECK(memcmp(y_back, y_sync, sizeof y_sync) == 0, "batched matmul");
        for (l = 0; l < 3; ++l) vkattn_layer_result_release(&blr[l]);
        vkattn_attention_result_release(&bar[0]);
        vkattn_attention_result_release(&bar[1]);
        vkattn_batch_destroy(batch);

        for (l = 0; l < NL; ++l) vkattn_tensor_release(outs[l]);
        app_buffer_destroy(&app, &buf);
        vkattn_tensor_release(ta);
        vkattn_tensor_release(tw);
        vkattn_tensor_release(aw.w_q);
        vkattn_tensor_release(aw.w_k);
        vkattn_tensor_release(aw.v_a);
        vkattn_tensor_release(wl);
        vkattn_tensor_release(tx);
        vkattn_mha_weights_release(mw);
    }

    vkattn_stats_init(&stats);
    OK(vkattn_context_stats(ctx, &stats));
    CHECK(stats.pipelines >= 1 && stats.submissions >= 1, "stats");
    stats.struct_size = 4;
    FAILS(vkattn_context_stats(ctx, &stats), VKATTN_ERROR_INVALID_ARGUMENT, "stats.struct_size: 4 is smaller");
    printf("capi_test: %llu pipelines, %llu submissions\n", (unsigned long long)stats.pipelines, (unsigned long long)stats.submissions);

    vkattn_attention_result_release(&res);
    vkattn_attention_result_release(&res_causal);
    vkattn_tensor_release(q);
    vkattn_tensor_release(k);
    vkattn_tensor_release(v);
    vkattn_tensor_release(k_bad);
    vkattn_tensor_release(out_bad);
    vkattn_context_destroy(ctx);
    app_destroy(&app);
    printf("capi_test: %s, %d failed checks\n", failures ? "FAILED" : "passed", failures);
    return failures ? 1 : 0;
}
