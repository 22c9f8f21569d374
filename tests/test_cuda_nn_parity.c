/* Every neural-network operation on the CPU and on CUDA from the same inputs
 * (ggml's test-backend-ops): outputs within 1e-4 relative (matrix products
 * sum in another order), and guard words around every device output to catch
 * writes out of bounds. Skipped, with the reason, without a CUDA device. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"

#define GUARD 16
#define GUARD_VALUE -12345.0f
#define TOL 1e-4

typedef struct both { afs_backend *cpu, *gpu; } both;

static both open_both(void)
{
    char why[512] = "this build has no CUDA backend";
    both k = {afs_backend_cpu_create(1), NULL};
    k.gpu = afs_cuda_built() ? afs_backend_cuda_create(why, sizeof why) : NULL;
    if (!k.gpu) {
        fprintf(stderr, "[SKIP] CUDA operation parity skipped: %s\n", why);
        k.cpu->destroy(k.cpu);
        cr_skip_test("no usable CUDA device: %s", why);
    }
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

/* Compares a device result with the CPU one and checks its guards; frees it. */
static void check(afs_backend *g, float *dev, const float *want, size_t n, const char *what)
{
    float *buf = malloc((n + 2 * GUARD) * sizeof *buf);
    g->to_host(g, buf, dev - GUARD, (n + 2 * GUARD) * sizeof *buf);
    for (size_t i = 0; i < GUARD; i++)
        cr_assert(buf[i] == GUARD_VALUE && buf[GUARD + n + i] == GUARD_VALUE,
                  "%s wrote outside its output", what);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabsf(buf[GUARD + i] - want[i]) <= TOL * fmaxf(1.0f, fabsf(want[i])),
                  "%s[%zu]: cuda %.7g cpu %.7g", what, i, buf[GUARD + i], want[i]);
    free(buf);
    g->release(g, dev - GUARD);
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
    k.cpu->gumbel_softmax_forward(k.cpu, R, C, 0.5f, 1, 2, 3, x, y, hard);
    k.gpu->gumbel_softmax_forward(k.gpu, R, C, 0.5f, 1, 2, 3, gx, gy, ghard);
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

/* cuDNN's LSTM against the CPU reference: bidirectional, padded sequences of
 * different lengths (one empty), initial states, forward outputs and final
 * states, then the gradients of the inputs and of every parameter. */
Test(cuda_nn_parity, lstm_forward_and_backward)
{
    both k = open_both();
    const afs_lstm_desc d = {6, 5, 7, 8, 2};
    const int lengths[5] = {6, 4, 1, 0, 6};
    size_t np = afs_lstm_params(&d), nx = (size_t)d.S * d.B * d.in;
    size_t ny = (size_t)d.S * d.B * d.dirs * d.H, ns = (size_t)d.dirs * d.B * d.H;
    float *x = random_host(nx, 20), *p = random_host(np, 21), *h0 = random_host(ns, 22);
    float *c0 = random_host(ns, 23), *dy = random_host(ny, 24), *dhn = random_host(ns, 25);
    float *y = malloc(ny * 4), *hn = malloc(ns * 4), *cn = malloc(ns * 4), *dx = malloc(nx * 4);
    float *dp = calloc(np, 4);
    float *work = malloc(k.cpu->lstm_work_bytes(k.cpu, &d));
    k.cpu->lstm_forward(k.cpu, &d, lengths, x, p, h0, c0, y, hn, cn, work);
    k.cpu->lstm_backward(k.cpu, &d, lengths, x, p, h0, c0, work, y, dy, dhn, dx, dp);
    float *gx = upload(k.gpu, x, nx), *gp = upload(k.gpu, p, np), *gh0 = upload(k.gpu, h0, ns);
    float *gc0 = upload(k.gpu, c0, ns), *gdy = upload(k.gpu, dy, ny), *gdhn = upload(k.gpu, dhn, ns);
    float *gy = upload(k.gpu, NULL, ny), *ghn = upload(k.gpu, NULL, ns), *gcn = upload(k.gpu, NULL, ns);
    float *gdx = upload(k.gpu, NULL, nx), *gdp = upload(k.gpu, NULL, np);
    k.gpu->zero(k.gpu, gdp, np * sizeof(float));
    float *gwork = k.gpu->alloc(k.gpu, k.gpu->lstm_work_bytes(k.gpu, &d));
    k.gpu->lstm_forward(k.gpu, &d, lengths, gx, gp, gh0, gc0, gy, ghn, gcn, gwork);
    k.gpu->lstm_backward(k.gpu, &d, lengths, gx, gp, gh0, gc0, gwork, gy, gdy, gdhn, gdx, gdp);
    check(k.gpu, gy, y, ny, "lstm h_out");
    check(k.gpu, ghn, hn, ns, "lstm h_n");
    check(k.gpu, gcn, cn, ns, "lstm c_n");
    check(k.gpu, gdx, dx, nx, "lstm dx");
    check(k.gpu, gdp, dp, np, "lstm dparams");
    k.gpu->release(k.gpu, gwork);
    close_both(k);
}
