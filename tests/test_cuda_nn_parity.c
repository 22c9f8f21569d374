/* Every neural-network operation on the CPU and on CUDA from the same inputs
 * (ggml's test-backend-ops): outputs within 1e-4 relative (matrix products
 * sum in another order), and guard words around every device output to catch
 * writes out of bounds. Skipped, with the reason, without a CUDA device
 * (a failure instead with AFSIM_REQUIRE_GPU=1). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kernels/cuda/lstm_cuda.h"

#define GUARD 16
#define GUARD_VALUE -12345.0f
#define TOL 1e-4

typedef struct both { afs_backend *cpu, *gpu; } both;

static both open_both(void)
{
    both k = {NULL, test_cuda_or_skip("CUDA operation parity")};
    k.cpu = afs_backend_cpu_create(1);
    return k;
}

static void close_both(both k)
{
    k.cpu->destroy(k.cpu);
    k.gpu->destroy(k.gpu);
}

static float *random_host(size_t n, uint32_t stream)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = afs_uniform(afs_philox(3, stream, (uint32_t)i, 0, 0, 0).v[0], -1.0f, 1.0f);
    return v;
}

/* Device copy of n floats with guard words on both sides; returns the
 * pointer to the first element. */
static float *upload(afs_backend *g, const float *host, size_t n)
{
    float *buf = malloc((n + 2 * GUARD) * sizeof *buf);
    for (size_t i = 0; i < n + 2 * GUARD; i++)
        buf[i] = GUARD_VALUE;
    if (host)
        memcpy(buf + GUARD, host, n * sizeof *buf);
    float *dev = g->alloc(g, (n + 2 * GUARD) * sizeof *buf);
    g->to_backend(g, dev, buf, (n + 2 * GUARD) * sizeof *buf);
    free(buf);
    return dev + GUARD;
}

/* Compares a device result with the CPU one within tol (relative, 1 at
 * least) and checks its guards; frees it. */
static void check_tol(afs_backend *g, float *dev, const float *want, size_t n, const char *what,
                      float tol)
{
    float *buf = malloc((n + 2 * GUARD) * sizeof *buf);
    g->to_host(g, buf, dev - GUARD, (n + 2 * GUARD) * sizeof *buf);
    for (size_t i = 0; i < GUARD; i++)
        cr_assert(buf[i] == GUARD_VALUE && buf[GUARD + n + i] == GUARD_VALUE,
                  "%s wrote outside its output", what);
    /* The largest error first, printed: one run on a GPU then tells a
     * tolerance too tight from a wrong result. */
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabsf(buf[GUARD + i] - want[i]) / fmaxf(1.0f, fabsf(want[i])));
    fprintf(stderr, "[INFO] %s: largest error %.3g (tolerance %.3g)\n", what, worst, tol);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabsf(buf[GUARD + i] - want[i]) <= tol * fmaxf(1.0f, fabsf(want[i])),
                  "%s[%zu]: cuda %.7g cpu %.7g", what, i, buf[GUARD + i], want[i]);
    free(buf);
    g->release(g, dev - GUARD);
}

static void check(afs_backend *g, float *dev, const float *want, size_t n, const char *what)
{
    check_tol(g, dev, want, n, what, (float)TOL);
}

/* G = 1 and G = 4 grouped layers (strided-batched GEMM on CUDA). */
static void linear_parity(both k, int G)
{
    enum { B = 37, IN = 19, OUT = 11 };
    size_t nx = (size_t)G * B * IN, nw = (size_t)G * OUT * IN, nb = (size_t)G * OUT;
    size_t ny = (size_t)G * B * OUT;
    float *x = random_host(nx, 1), *W = random_host(nw, 2), *bias = random_host(nb, 3);
    float *dy = random_host(ny, 4), *y = malloc(ny * 4), *dx = malloc(nx * 4);
    float *dW = random_host(nw, 5), *db = random_host(nb, 6);
    float *gx = upload(k.gpu, x, nx), *gW = upload(k.gpu, W, nw), *gb = upload(k.gpu, bias, nb);
    float *gdy = upload(k.gpu, dy, ny), *gy = upload(k.gpu, NULL, ny), *gdx = upload(k.gpu, NULL, nx);
    float *gdW = upload(k.gpu, dW, nw), *gdb = upload(k.gpu, db, nb);
    k.cpu->linear_forward(k.cpu, G, B, IN, OUT, x, W, bias, y);
    k.gpu->linear_forward(k.gpu, G, B, IN, OUT, gx, gW, gb, gy);
    k.cpu->linear_backward(k.cpu, G, B, IN, OUT, x, W, dy, dx, dW, db);
    k.gpu->linear_backward(k.gpu, G, B, IN, OUT, gx, gW, gdy, gdx, gdW, gdb);
    check(k.gpu, gy, y, ny, "y");
    check(k.gpu, gdx, dx, nx, "dx");
    check(k.gpu, gdW, dW, nw, "dW (accumulated)");
    check(k.gpu, gdb, db, nb, "db (accumulated)");
}

Test(cuda_nn_parity, linear_forward_and_backward)
{
    both k = open_both();
    linear_parity(k, 1);
    linear_parity(k, 4);
    close_both(k);
}

Test(cuda_nn_parity, elementwise_softmax_gumbel)
{
    both k = open_both();
    enum { R = 33, C = 5, N = R * C };
    float *x = random_host(N, 7), *dy = random_host(N, 8), *y = malloc(N * 4), *dx = malloc(N * 4);
    float *hard = malloc(N * 4);
    float *gx = upload(k.gpu, x, N), *gdy = upload(k.gpu, dy, N);
    for (int kind = 0; kind < AFS_ACT_N; kind++) {
        float *gy = upload(k.gpu, NULL, N), *gdx = upload(k.gpu, NULL, N);
        k.cpu->activation_forward(k.cpu, kind, N, x, y);
        k.gpu->activation_forward(k.gpu, kind, N, gx, gy);
        k.cpu->activation_backward(k.cpu, kind, N, y, dy, dx);
        k.gpu->activation_backward(k.gpu, kind, N, gy, gdy, gdx);
        check(k.gpu, gy, y, N, "activation");
        check(k.gpu, gdx, dx, N, "activation gradient");
    }
    float *gy = upload(k.gpu, NULL, N), *gdx = upload(k.gpu, NULL, N);
    k.cpu->softmax_forward(k.cpu, R, C, x, y);
    k.gpu->softmax_forward(k.gpu, R, C, gx, gy);
    k.cpu->softmax_backward(k.cpu, R, C, y, dy, dx);
    k.gpu->softmax_backward(k.gpu, R, C, gy, gdy, gdx);
    check(k.gpu, gy, y, N, "softmax");
    check(k.gpu, gdx, dx, N, "softmax gradient");
    gy = upload(k.gpu, NULL, N);
    float *ghard = upload(k.gpu, NULL, N);
    gdx = upload(k.gpu, NULL, N);
    k.cpu->gumbel_softmax_forward(k.cpu, R, C, 0.5f, 0.3f, 1, 2, 3, x, y, hard);
    k.gpu->gumbel_softmax_forward(k.gpu, R, C, 0.5f, 0.3f, 1, 2, 3, gx, gy, ghard);
    k.cpu->gumbel_softmax_backward(k.cpu, R, C, 0.5f, y, dy, dx);
    k.gpu->gumbel_softmax_backward(k.gpu, R, C, 0.5f, gy, gdy, gdx);
    check(k.gpu, gy, y, N, "gumbel soft");
    check(k.gpu, ghard, hard, N, "gumbel hard");
    check(k.gpu, gdx, dx, N, "gumbel gradient");
    close_both(k);
}

Test(cuda_nn_parity, losses_adam_soft_update_clip)
{
    both k = open_both();
    enum { N = 1000 };
    float *p = random_host(N, 9), *t = random_host(N, 10), *w = random_host(N, 11);
    for (int i = 0; i < N; i++) { /* probabilities and targets in (0, 1) */
        p[i] = 0.5f + 0.45f * p[i];
        t[i] = 0.5f + 0.5f * t[i];
        w[i] = 1.0f + w[i] * 0.5f;
    }
    float *grad = malloc(N * 4);
    float *gp = upload(k.gpu, p, N), *gt = upload(k.gpu, t, N), *gw = upload(k.gpu, w, N);
    for (int bce = 0; bce < 2; bce++) {
        float *gg = upload(k.gpu, NULL, N);
        double lc = (bce ? k.cpu->bce_loss : k.cpu->mse_loss)(k.cpu, N, p, t, w, grad);
        double lg = (bce ? k.gpu->bce_loss : k.gpu->mse_loss)(k.gpu, N, gp, gt, gw, gg);
        cr_assert(fabs(lc - lg) <= 1e-6 * fabs(lc), "loss %d: cpu %.10g cuda %.10g", bce, lc, lg);
        check(k.gpu, gg, grad, N, bce ? "bce gradient" : "mse gradient");
    }
    float *m = calloc(N, 4), *v = calloc(N, 4), *param = random_host(N, 12);
    float *gm = upload(k.gpu, m, N), *gv = upload(k.gpu, v, N), *gparam = upload(k.gpu, param, N);
    afs_adam hp = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, 0.001f};
    k.cpu->adam_step(k.cpu, N, param, t, m, v, &hp);
    k.gpu->adam_step(k.gpu, N, gparam, gt, gm, gv, &hp);
    check(k.gpu, gparam, param, N, "adam parameters");
    check(k.gpu, gm, m, N, "adam m");
    check(k.gpu, gv, v, N, "adam v");
    float *target = random_host(N, 13), *gtarget = upload(k.gpu, target, N);
    k.cpu->soft_update(k.cpu, N, 0.01f, p, target);
    k.gpu->soft_update(k.gpu, N, 0.01f, gp, gtarget);
    check(k.gpu, gtarget, target, N, "soft update");
    float *gclip = upload(k.gpu, w, N);
    double nc = k.cpu->clip_grad_norm(k.cpu, N, w, 0.5f);
    double ng = k.gpu->clip_grad_norm(k.gpu, N, gclip, 0.5f);
    cr_assert(fabs(nc - ng) <= 1e-6 * nc, "norm: cpu %g cuda %g", nc, ng);
    check(k.gpu, gclip, w, N, "clipped gradient");
    close_both(k);
}

/* cuDNN's LSTM against the CPU reference, forward outputs and final states,
 * then the gradients of the inputs and of every parameter. with_states:
 * initial states, final states and dL/dh_n given (else all NULL). */
static void lstm_case(both k, const afs_lstm_desc *d, const int *lengths, int with_states,
                      float tol, uint32_t stream)
{
    size_t np = afs_lstm_params(d), nx = (size_t)d->S * d->B * d->in;
    size_t ny = (size_t)d->S * d->B * d->dirs * d->H, ns = (size_t)d->dirs * d->B * d->H;
    float *x = random_host(nx, stream), *p = random_host(np, stream + 1);
    float *h0 = with_states ? random_host(ns, stream + 2) : NULL;
    float *c0 = with_states ? random_host(ns, stream + 3) : NULL;
    float *dhn = with_states ? random_host(ns, stream + 5) : NULL;
    float *dy = random_host(ny, stream + 4);
    float *y = malloc(ny * 4), *hn = malloc(ns * 4), *cn = malloc(ns * 4), *dx = malloc(nx * 4);
    float *dp = calloc(np, 4);
    float *work = malloc(k.cpu->lstm_work_bytes(k.cpu, d) + 1);
    k.cpu->lstm_forward(k.cpu, d, lengths, x, p, h0, c0, y, with_states ? hn : NULL,
                        with_states ? cn : NULL, work);
    k.cpu->lstm_backward(k.cpu, d, lengths, x, p, h0, c0, work, y, dy, dhn, dx, dp);
    float *gx = upload(k.gpu, x, nx), *gp = upload(k.gpu, p, np);
    float *gh0 = with_states ? upload(k.gpu, h0, ns) : NULL;
    float *gc0 = with_states ? upload(k.gpu, c0, ns) : NULL;
    float *gdhn = with_states ? upload(k.gpu, dhn, ns) : NULL;
    float *gdy = upload(k.gpu, dy, ny), *gy = upload(k.gpu, NULL, ny);
    float *ghn = upload(k.gpu, NULL, ns), *gcn = upload(k.gpu, NULL, ns);
    /* dx starts as guard words everywhere: padded positions and empty rows
     * must be written with zeros, as on the CPU. */
    float *gdx = upload(k.gpu, NULL, nx), *gdp = upload(k.gpu, NULL, np);
    k.gpu->zero(k.gpu, gdp, np * sizeof(float));
    float *gwork = k.gpu->alloc(k.gpu, k.gpu->lstm_work_bytes(k.gpu, d));
    k.gpu->lstm_forward(k.gpu, d, lengths, gx, gp, gh0, gc0, gy, with_states ? ghn : NULL,
                        with_states ? gcn : NULL, gwork);
    k.gpu->lstm_backward(k.gpu, d, lengths, gx, gp, gh0, gc0, gwork, gy, gdy, gdhn, gdx, gdp);
    /* dx = NULL must give the same parameter gradients (added again). */
    k.gpu->lstm_backward(k.gpu, d, lengths, gx, gp, gh0, gc0, gwork, gy, gdy, gdhn, NULL, gdp);
    for (size_t i = 0; i < np; i++)
        dp[i] *= 2.0f;
    check_tol(k.gpu, gy, y, ny, "lstm h_out", tol);
    if (with_states) {
        check_tol(k.gpu, ghn, hn, ns, "lstm h_n", tol);
        check_tol(k.gpu, gcn, cn, ns, "lstm c_n", tol);
    } else { /* not asked for: left alone */
        float *untouched = malloc(ns * 4);
        for (size_t i = 0; i < ns; i++)
            untouched[i] = GUARD_VALUE;
        check(k.gpu, ghn, untouched, ns, "lstm h_n not asked for");
        check(k.gpu, gcn, untouched, ns, "lstm c_n not asked for");
        free(untouched);
    }
    check_tol(k.gpu, gdx, dx, nx, "lstm dx", tol);
    check_tol(k.gpu, gdp, dp, np, "lstm dparams (twice)", tol);
    float *gpus[] = {gx, gp, gh0, gc0, gdhn, gdy};
    for (int i = 0; i < 6; i++)
        if (gpus[i])
            k.gpu->release(k.gpu, gpus[i] - GUARD);
    k.gpu->release(k.gpu, gwork);
    free(x); free(p); free(h0); free(c0); free(dhn); free(dy);
    free(y); free(hn); free(cn); free(dx); free(dp); free(work);
}

/* Bidirectional, padded sequences of different lengths with an empty one
 * (cuDNN never sees it: kernels/common/lstm_layout.h), with and without states. */
Test(cuda_nn_parity, lstm_forward_and_backward)
{
    both k = open_both();
    const afs_lstm_desc d = {6, 5, 7, 8, 2};
    const int lengths[5] = {6, 4, 1, 0, 6};
    lstm_case(k, &d, lengths, 1, (float)TOL, 20);
    lstm_case(k, &d, lengths, 0, (float)TOL, 30);
    close_both(k);
}

Test(cuda_nn_parity, lstm_without_empty_rows_and_with_only_empty_rows)
{
    both k = open_both();
    const afs_lstm_desc d = {4, 3, 5, 6, 2}, uni = {4, 3, 5, 6, 1};
    const int full[3] = {4, 2, 3}, none[3] = {0, 0, 0};
    lstm_case(k, &d, full, 1, (float)TOL, 40);
    lstm_case(k, &uni, full, 1, (float)TOL, 50);
    lstm_case(k, &d, none, 1, (float)TOL, 60);
    close_both(k);
}

/* cuDNN gets the rows sorted by length in its packed layout: many rows of
 * mixed lengths with many ties, none as long as S (the packed batch's
 * longest sequence is shorter than the padded one), in a scrambled order. */
Test(cuda_nn_parity, lstm_many_rows_of_mixed_lengths)
{
    both k = open_both();
    enum { B = 1500 };
    const afs_lstm_desc d = {6, B, 5, 4, 2}, uni = {6, B, 5, 4, 1};
    static int lengths[B];
    uint32_t r = 12345u;
    for (int i = 0; i < B; i++) {
        r = r * 1664525u + 1013904223u;
        lengths[i] = (int)(r >> 24) % 5; /* 0..4 */
    }
    lstm_case(k, &d, lengths, 1, (float)TOL, 130);
    lstm_case(k, &uni, lengths, 0, (float)TOL, 140);
    close_both(k);
}

/* The cuDNN plan of a layer shape is built once and reused while lengths
 * and batch sizes change; the results stay right. */
Test(cuda_nn_parity, lstm_plans_are_cached_by_layer_shape)
{
    both k = open_both();
    const afs_lstm_desc a = {5, 4, 6, 8, 2}, wider = {5, 9, 6, 8, 2}, other = {5, 4, 3, 8, 2};
    const int l1[4] = {5, 3, 0, 2}, l2[4] = {1, 1, 5, 4}, l3[9] = {5, 0, 0, 2, 3, 4, 5, 1, 1};
    unsigned long long before = afs_lstm_cuda_plan_builds(k.gpu);
    lstm_case(k, &a, l1, 1, (float)TOL, 70);
    lstm_case(k, &a, l2, 1, (float)TOL, 80);
    lstm_case(k, &wider, l3, 1, (float)TOL, 90);
    cr_assert_eq(afs_lstm_cuda_plan_builds(k.gpu) - before, 1, "one layer shape, one plan");
    lstm_case(k, &other, l1, 1, (float)TOL, 100);
    cr_assert_eq(afs_lstm_cuda_plan_builds(k.gpu) - before, 2, "a second layer shape");
    close_both(k);
}

/* TF32 stays off unless asked for: the 1e-4 parity above holds only then.
 * With it on (nn.tf32), cuDNN may round matrix inputs to 10-bit mantissas:
 * within 1e-2; switched off again, back to 1e-4. */
Test(cuda_nn_parity, lstm_tf32_only_when_switched_on)
{
    both k = open_both();
    const afs_lstm_desc d = {6, 5, 7, 8, 2};
    const int lengths[5] = {6, 4, 1, 0, 6};
    k.gpu->set_tf32(k.gpu, 1);
    lstm_case(k, &d, lengths, 1, 1e-2f, 110);
    k.gpu->set_tf32(k.gpu, 0);
    lstm_case(k, &d, lengths, 1, (float)TOL, 110);
    close_both(k);
}

/* One step with carried state, stepped in place (h0 is h_n, c0 is c_n: the
 * attention unit's recurrent cell), equals the whole sequence on the CPU. */
Test(cuda_nn_parity, lstm_cell_stepped_in_place)
{
    both k = open_both();
    enum { B = 3, IN = 4, H = 5, S = 4 };
    const afs_lstm_desc seq = {S, B, IN, H, 1}, one = {1, B, IN, H, 1};
    const int len_seq[B] = {S, S, S}, len_one[B] = {1, 1, 1};
    size_t np = afs_lstm_params(&seq);
    float *x = random_host((size_t)S * B * IN, 130), *p = random_host(np, 131);
    float out[S * B * H], hn[B * H], cn[B * H];
    float *work = malloc(k.cpu->lstm_work_bytes(k.cpu, &seq));
    k.cpu->lstm_forward(k.cpu, &seq, len_seq, x, p, NULL, NULL, out, hn, cn, work);
    float zeros[B * H] = {0};
    float *gp = upload(k.gpu, p, np), *gh = upload(k.gpu, zeros, B * H), *gc = upload(k.gpu, zeros, B * H);
    float *gx = upload(k.gpu, x, (size_t)S * B * IN), *gstep = upload(k.gpu, NULL, B * H);
    float *gwork = k.gpu->alloc(k.gpu, k.gpu->lstm_work_bytes(k.gpu, &one));
    for (int t = 0; t < S; t++) {
        k.gpu->lstm_forward(k.gpu, &one, len_one, gx + (size_t)t * B * IN, gp, gh, gc, gstep, gh,
                            gc, gwork);
        float got[B * H];
        k.gpu->to_host(k.gpu, got, gstep, sizeof got);
        for (int i = 0; i < B * H; i++)
            cr_assert(fabsf(got[i] - out[t * B * H + i]) <= TOL, "step %d [%d]: cuda %g cpu %g",
                      t, i, got[i], out[t * B * H + i]);
    }
    check(k.gpu, gh, hn, B * H, "in-place h_n after the last step");
    check(k.gpu, gc, cn, B * H, "in-place c_n after the last step");
    k.gpu->release(k.gpu, gwork);
    float *gpus[] = {gp, gx, gstep};
    for (int i = 0; i < 3; i++)
        k.gpu->release(k.gpu, gpus[i] - GUARD);
    free(x); free(p); free(work);
    close_both(k);
}

/* Bias gradients at a large batch: dyadic values (multiples of 1/8 in
 * [-1, 1]) sum exactly in float at any order while partial sums stay below
 * 2^21, so CUDA's two-pass reduction must equal the exact sum bit for bit;
 * and with arbitrary values two runs must agree bit for bit. */
Test(cuda_nn_parity, bias_gradient_exact_and_repeatable_at_large_batch)
{
    both k = open_both();
    enum { G = 2, B = 65537, IN = 1, OUT = 37 };
    size_t ny = (size_t)G * B * OUT;
    float *dy = random_host(ny, 120), *x = random_host((size_t)G * B * IN, 121);
    float *W = random_host((size_t)G * OUT * IN, 122), *db = calloc((size_t)G * OUT, 4);
    float *dW = calloc((size_t)G * OUT * IN, 4);
    for (size_t i = 0; i < ny; i++)
        dy[i] = roundf(dy[i] * 8.0f) / 8.0f;
    double want[G * OUT] = {0};
    for (int g = 0; g < G; g++)
        for (int r = 0; r < B; r++)
            for (int o = 0; o < OUT; o++)
                want[g * OUT + o] += dy[((size_t)g * B + r) * OUT + o];
    float *gdy = upload(k.gpu, dy, ny), *gx = upload(k.gpu, x, (size_t)G * B * IN);
    float *gW = upload(k.gpu, W, (size_t)G * OUT * IN);
    float *gdb = upload(k.gpu, db, (size_t)G * OUT), *gdW = upload(k.gpu, dW, (size_t)G * OUT * IN);
    k.gpu->linear_backward(k.gpu, G, B, IN, OUT, gx, gW, gdy, NULL, gdW, gdb);
    float got[G * OUT];
    k.gpu->to_host(k.gpu, got, gdb, sizeof got);
    for (int i = 0; i < G * OUT; i++)
        cr_assert_eq((double)got[i], want[i], "db[%d]: cuda %.9g exact %.9g", i, got[i], want[i]);
    /* Arbitrary values: the same bits twice. */
    float *noisy = random_host(ny, 123), again[G * OUT];
    k.gpu->to_backend(k.gpu, gdy, noisy, ny * sizeof(float));
    for (int run = 0; run < 2; run++) {
        k.gpu->zero(k.gpu, gdb, sizeof got);
        k.gpu->linear_backward(k.gpu, G, B, IN, OUT, gx, gW, gdy, NULL, gdW, gdb);
        k.gpu->to_host(k.gpu, run ? again : got, gdb, sizeof got);
    }
    cr_assert_eq(memcmp(got, again, sizeof got), 0, "two runs of the bias gradient differ");
    float *gpus[] = {gdy, gx, gW, gdb, gdW};
    for (int i = 0; i < 5; i++)
        k.gpu->release(k.gpu, gpus[i] - GUARD);
    free(dy); free(x); free(W); free(db); free(dW); free(noisy);
    close_both(k);
}

/* Empty work launches nothing (a grid of zero blocks would stop the
 * program) and writes nothing. */
Test(cuda_nn_parity, empty_work_is_a_no_op)
{
    both k = open_both();
    test_empty_work(k.gpu);
    close_both(k);
}
