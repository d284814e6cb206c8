/* A C program using the installed vkattn through its C API (vkattn/vkattn.h): built once with
 * find_package(vkattn) and once with pkg-config (tests/consumer/run_consumer_test.cmake). One query
 * row over three keys; exits non-zero on a wrong answer or any error. */
#include <vkattn/vkattn.h>

#include <math.h>
#include <stdio.h>

static int fail(vkattn_status s, const char* what) {
    fprintf(stderr, "c_app: %s: %s: %s\n", what, vkattn_status_name(s), vkattn_last_error());
    return 1;
}

int main(void) {
    /* q [1, 1, 1, 2], k and v [1, 1, 3, 2]; scale 1 */
    const float qh[2] = {1, 0}, kh[6] = {1, 0, 0, 1, -1, 0}, vh[6] = {1, 2, 3, 4, 5, 6};
    const int64_t q_shape[4] = {1, 1, 1, 2}, kv_shape[4] = {1, 1, 3, 2};
    vkattn_context ctx;
    vkattn_tensor q, k, v;
    vkattn_attention_options opt;
    vkattn_attention_result res;
    vkattn_device_info info;
    vkattn_status s;
    float out[2];
    double w[3], sum = 0, want;
    int j;

    if ((s = vkattn_context_create(NULL, &ctx)) != VKATTN_OK) return fail(s, "context");
    vkattn_device_info_init(&info);
    if ((s = vkattn_context_device_info(ctx, &info)) != VKATTN_OK) return fail(s, "device info");
    if ((s = vkattn_tensor_upload(ctx, qh, 2, 4, q_shape, VKATTN_DTYPE_F32, &q)) != VKATTN_OK) return fail(s, "q");
    if ((s = vkattn_tensor_upload(ctx, kh, 6, 4, kv_shape, VKATTN_DTYPE_F32, &k)) != VKATTN_OK) return fail(s, "k");
    if ((s = vkattn_tensor_upload(ctx, vh, 6, 4, kv_shape, VKATTN_DTYPE_F32, &v)) != VKATTN_OK) return fail(s, "v");
    vkattn_attention_options_init(&opt);
    opt.has_scale = 1;
    opt.scale = 1.0f;
    vkattn_attention_result_init(&res);
    if ((s = vkattn_attention(ctx, q, k, v, &opt, &res)) != VKATTN_OK) return fail(s, "attention");
    if ((s = vkattn_tensor_download(res.out, out, 2)) != VKATTN_OK) return fail(s, "download");

    /* scores q.k_j = 1, 0, -1 */
    for (j = 0; j < 3; ++j) sum += w[j] = exp(1.0 - j);
    want = (w[0] * 1 + w[1] * 3 + w[2] * 5) / sum;
    printf("c_app: vkattn %s on %s, out[0] = %.6f (want %.6f)\n", vkattn_version(), info.name, out[0], want);

    vkattn_attention_result_release(&res);
    vkattn_tensor_release(q);
    vkattn_tensor_release(k);
    vkattn_tensor_release(v);
    vkattn_context_destroy(ctx);
    return fabs(out[0] - want) < 1e-5 ? 0 : 1;
}
