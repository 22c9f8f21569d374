/* The benchmarks' profiling backend (bench/op_profile.h): it must change
 * no result, and its flop count is the model's, worked out here by hand
 * from the shapes. */
#include <criterion/criterion.h>
#include <string.h>

#include "bench/op_profile.h"
#include "kernels/backend.h"

static afs_backend *plain, *wrapped;
static afs_prof *prof;

static void open_both(void)
{
    plain = afs_backend_cpu_create(1);
    wrapped = afs_prof_wrap(afs_backend_cpu_create(1), &prof);
    cr_assert(wrapped);
}

static void close_both(void)
{
    plain->destroy(plain);
    wrapped->destroy(wrapped);
}

TestSuite(op_profile, .init = open_both, .fini = close_both);

static void fill(float *v, size_t n, uint32_t stream)
{
    for (size_t i = 0; i < n; i++)
        v[i] = afs_uniform(afs_philox(3, stream, (uint32_t)i, 0, 0, 0).v[0], -1.0f, 1.0f);
}

/* G = 3 layers of 4 -> 2 on 5 rows: forward 2 G B in out = 240 flops; the
 * backward with dx twice that, without dx once. The results are the
 * plain backend's, bit for bit. */
Test(op_profile, linear_flops_by_hand_and_the_same_results)
{
    enum { G = 3, B = 5, IN = 4, OUT = 2 };
    float x[G * B * IN], W[G * OUT * IN], bias[G * OUT], dy[G * B * OUT];
    float y1[G * B * OUT], y2[G * B * OUT], dx1[G * B * IN], dx2[G * B * IN];
    float dW1[G * OUT * IN] = {0}, dW2[G * OUT * IN] = {0}, db1[G * OUT] = {0}, db2[G * OUT] = {0};
    fill(x, sizeof x / sizeof *x, 1);
    fill(W, sizeof W / sizeof *W, 2);
    fill(bias, sizeof bias / sizeof *bias, 3);
    fill(dy, sizeof dy / sizeof *dy, 4);
    afs_prof_enable(prof, 1);
    wrapped->linear_forward(wrapped, G, B, IN, OUT, x, W, bias, y1);
    plain->linear_forward(plain, G, B, IN, OUT, x, W, bias, y2);
    cr_assert_arr_eq(y1, y2, sizeof y1);
    cr_assert_eq(afs_prof_flops(prof), 240.0);
    wrapped->linear_backward(wrapped, G, B, IN, OUT, x, W, dy, dx1, dW1, db1);
    plain->linear_backward(plain, G, B, IN, OUT, x, W, dy, dx2, dW2, db2);
    cr_assert_arr_eq(dx1, dx2, sizeof dx1);
    cr_assert_arr_eq(dW1, dW2, sizeof dW1);
    cr_assert_eq(afs_prof_flops(prof), 240.0 + 480.0);
    wrapped->linear_backward(wrapped, G, B, IN, OUT, x, W, dy, NULL, dW1, db1);
    cr_assert_eq(afs_prof_flops(prof), 240.0 + 480.0 + 240.0);
    afs_prof_enable(prof, 0); /* off: nothing counted */
    wrapped->linear_forward(wrapped, G, B, IN, OUT, x, W, bias, y1);
    cr_assert_eq(afs_prof_flops(prof), 960.0);
    afs_prof_clear(prof);
    cr_assert_eq(afs_prof_flops(prof), 0.0);
}

/* A bidirectional LSTM (in 4, H 2: 4H = 8) over lengths {3, 0, 2}, S = 3:
 * per direction the input projections of the 5 valid steps, 2 5 8 4 =
 * 320 flops, and the recurrent products from step 1 on: 2 sequences run
 * at step 1 (2 2 8 2 = 64), 1 at step 2 (32); 416 a direction, 832 in
 * all. The backward has two products for each recurrent one (dU and dh:
 * 2 (64 + 32) = 192), dW (320) and, when asked, dx (320): 832 a
 * direction. */
Test(op_profile, lstm_flops_count_valid_steps_only)
{
    const afs_lstm_desc d = {3, 3, 4, 2, 2};
    const int len[3] = {3, 0, 2};
    size_t np = afs_lstm_params(&d);
    float x[3 * 3 * 4], out[3 * 3 * 2 * 2], dout[3 * 3 * 2 * 2], dx[3 * 3 * 4];
    float *p = malloc(np * sizeof(float)), *dp = calloc(np, sizeof(float));
    float *work = malloc(wrapped->lstm_work_bytes(wrapped, &d));
    fill(x, sizeof x / sizeof *x, 5);
    fill(p, np, 6);
    fill(dout, sizeof dout / sizeof *dout, 7);
    afs_prof_clear(prof);
    afs_prof_enable(prof, 1);
    wrapped->lstm_forward(wrapped, &d, len, x, p, NULL, NULL, out, NULL, NULL, work);
    cr_assert_eq(afs_prof_flops(prof), 832.0);
    wrapped->lstm_backward(wrapped, &d, len, x, p, NULL, NULL, work, out, dout, NULL, dx, dp);
    cr_assert_eq(afs_prof_flops(prof), 832.0 + 1664.0);
    /* the same products as plain gemm calls: they run, and take time */
    cr_assert(afs_prof_gemm_seconds(prof, 1) > 0.0);
    free(p);
    free(dp);
    free(work);
}
