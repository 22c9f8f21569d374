/* The communication-group operations on CUDA against the CPU from the same
 * inputs, all bit for bit: formation is integers after float squared
 * distances computed alike (--fmad=false); the float operations are
 * copies, or sums and quotients in the same order on both backends (one
 * CUDA thread walks a joint row's positions as the CPU's loop does; IEEE
 * +, /, fabsf round alike). Skipped without a CUDA device (a failure with
 * AFSIM_REQUIRE_GPU=1). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

typedef struct both { afs_backend *cpu, *gpu; } both;

static both open_both(void)
{
    both k = {NULL, test_cuda_or_skip("CUDA communication-group parity")};
    k.cpu = afs_backend_cpu_create(1);
    return k;
}

static void close_both(both k)
{
    k.cpu->destroy(k.cpu);
    k.gpu->destroy(k.gpu);
}

static void *up(afs_backend *g, const void *host, size_t bytes)
{
    void *d = g->alloc(g, bytes);
    cr_assert_not_null(d);
    if (host)
        g->to_backend(g, d, host, bytes);
    return d;
}

/* The device bytes equal the host ones (the device buffer is kept). */
static void same_as(afs_backend *g, const void *dev, const void *want, size_t bytes,
                    const char *what, int trial)
{
    unsigned char *got = malloc(bytes);
    g->to_host(g, got, dev, bytes);
    for (size_t i = 0; i < bytes; i++)
        cr_assert_eq(got[i], ((const unsigned char *)want)[i],
                     "%s differs between cpu and cuda at byte %zu (trial %d)", what, i, trial);
    free(got);
}

static float urand(unsigned *s) { return (float)(rand_r(s) % 20001) / 1000.0f - 10.0f; }

enum { E = 37, M = 150, K = 5, A = E * M };

/* Positions uniform on a 1000 m square, or (grid) on 20 x 20 points 50 m
 * apart, where equal distances and distances exactly at a range of a
 * multiple of 50 m are common. */
static void layout(unsigned *seed, int grid, float *px, float *py)
{
    for (int i = 0; i < A; i++) {
        /* rand_r / 2^31 (RAND_MAX as a float): [0, 1) */
        px[i] = grid ? 50.0f * (float)(rand_r(seed) % 20) : (float)rand_r(seed) / 0x1p31f * 1000.0f;
        py[i] = grid ? 50.0f * (float)(rand_r(seed) % 20) : (float)rand_r(seed) / 0x1p31f * 1000.0f;
    }
}

/* An environment descriptor holding only what formation reads. */
static afs_env env_of(float *px, float *py)
{
    afs_env env;
    memset(&env, 0, sizeof env);
    env.E = E;
    env.M = M;
    env.pos_x = px;
    env.pos_y = py;
    return env;
}

/* Both layouts, ranges from nobody-but-neighbours to everybody, initiator
 * densities from sparse to all: grp and len the same bytes. Ranges of 150
 * and more must form some groups larger than one (else the test would not
 * exercise the choice). */
Test(cuda_groups_parity, formation_is_identical)
{
    both k = open_both();
    const float ranges[5] = {0.0f, 50.0f, 150.0f, 400.0f, 2000.0f};
    const int density[4] = {5, 30, 70, 100}; /* percent */
    float *px = malloc(A * sizeof *px), *py = malloc(A * sizeof *py);
    uint8_t *init = malloc(A), *chosen = malloc(A);
    int16_t *grp = malloc((size_t)A * K * sizeof *grp);
    int32_t *len = malloc(A * sizeof *len);
    afs_backend *g = k.gpu;
    float *gx = up(g, NULL, A * sizeof *px), *gy = up(g, NULL, A * sizeof *py);
    uint8_t *ginit = up(g, NULL, A), *gchosen = up(g, NULL, A);
    int16_t *ggrp = up(g, NULL, (size_t)A * K * sizeof *grp);
    int32_t *glen = up(g, NULL, A * sizeof *len);
    unsigned seed = 17;
    int trial = 0;
    for (int grid = 0; grid < 2; grid++)
        for (int r = 0; r < 5; r++)
            for (int p = 0; p < 4; p++, trial++) {
                layout(&seed, grid, px, py);
                for (int i = 0; i < A; i++)
                    init[i] = (uint8_t)(rand_r(&seed) % 100 < density[p]);
                afs_env host = env_of(px, py), dev = env_of(gx, gy);
                g->to_backend(g, gx, px, A * sizeof *px);
                g->to_backend(g, gy, py, A * sizeof *py);
                g->to_backend(g, ginit, init, A);
                k.cpu->form_groups(k.cpu, &host, K, ranges[r], init, chosen, grp, len);
                g->form_groups(g, &dev, K, ranges[r], ginit, gchosen, ggrp, glen);
                same_as(g, ggrp, grp, (size_t)A * K * sizeof *grp, "grp", trial);
                same_as(g, glen, len, A * sizeof *len, "len", trial);
                int larger = 0;
                for (int i = 0; i < A; i++)
                    larger |= len[i] > 1;
                cr_assert(ranges[r] < 150.0f || larger, "trial %d formed no group of two", trial);
            }
    void *rest[] = {gx, gy, ginit, gchosen, ggrp, glen};
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
        g->release(g, rest[i]);
    free(px);
    free(py);
    free(init);
    free(chosen);
    free(grp);
    free(len);
    close_both(k);
}

/* Groups formed on the CPU from a random layout (trial 0), or random rows
 * with repeated members and padding anywhere (trial 1); then every float
 * operation on both from the same random inputs, D = 8 and D = 1, the
 * accumulating outputs starting from the same random values. */
static void float_ops(both k, int trial, int D, unsigned *seed)
{
    const int N = A;
    size_t xs = (size_t)K * N * D, hs = (size_t)N * D;
    int16_t *grp = malloc((size_t)N * K * sizeof *grp);
    if (trial == 0) {
        float *px = malloc(A * sizeof *px), *py = malloc(A * sizeof *py);
        uint8_t *init = malloc(A), *chosen = malloc(A);
        int32_t *len = malloc(A * sizeof *len);
        layout(seed, 1, px, py);
        for (int i = 0; i < A; i++)
            init[i] = (uint8_t)(rand_r(seed) % 3 == 0);
        afs_env host = env_of(px, py);
        k.cpu->form_groups(k.cpu, &host, K, 150.0f, init, chosen, grp, len);
        free(px);
        free(py);
        free(init);
        free(chosen);
        free(len);
    } else {
        for (int i = 0; i < N * K; i++)
            grp[i] = (int16_t)(rand_r(seed) % 4 == 0 ? -1 : rand_r(seed) % M);
    }
    float *h = malloc(hs * sizeof *h), *dx = malloc(xs * sizeof *dx), *dh = malloc(hs * sizeof *dh);
    float *x = malloc(xs * sizeof *x), *out = malloc(hs * sizeof *out), *count = malloc(N * sizeof *count);
    float *v = malloc(N * sizeof *v), *avg = malloc(N * sizeof *avg), td[E];
    for (size_t i = 0; i < hs; i++) {
        h[i] = urand(seed);
        dh[i] = urand(seed);
    }
    for (size_t i = 0; i < xs; i++)
        dx[i] = urand(seed);
    for (int i = 0; i < N; i++)
        v[i] = urand(seed);
    afs_backend *g = k.gpu;
    int16_t *ggrp = up(g, grp, (size_t)N * K * sizeof *grp);
    float *gh = up(g, h, hs * sizeof *h), *gdx = up(g, dx, xs * sizeof *dx);
    float *gdh = up(g, dh, hs * sizeof *dh), *gx = up(g, NULL, xs * sizeof *x);
    float *gout = up(g, NULL, hs * sizeof *out), *gcount = up(g, NULL, N * sizeof *count);
    float *gv = up(g, v, N * sizeof *v), *gavg = up(g, NULL, N * sizeof *avg);
    float *gtd = up(g, NULL, sizeof td);

    k.cpu->group_gather(k.cpu, N, M, K, D, grp, h, x);
    g->group_gather(g, N, M, K, D, ggrp, gh, gx);
    same_as(g, gx, x, xs * sizeof *x, "group_gather", trial);
    k.cpu->group_gather_backward(k.cpu, N, M, K, D, grp, dx, dh);
    g->group_gather_backward(g, N, M, K, D, ggrp, gdx, gdh);
    same_as(g, gdh, dh, hs * sizeof *dh, "group_gather_backward", trial);
    /* dx as the channel's output y; dh, now equal on both, as dout */
    k.cpu->group_mean(k.cpu, N, M, K, D, grp, dx, h, out, count);
    g->group_mean(g, N, M, K, D, ggrp, gdx, gh, gout, gcount);
    same_as(g, gcount, count, N * sizeof *count, "group_mean count", trial);
    same_as(g, gout, out, hs * sizeof *out, "group_mean", trial);
    k.cpu->group_mean_backward(k.cpu, N, M, K, D, grp, count, dh, x, h);
    g->group_mean_backward(g, N, M, K, D, ggrp, gcount, gdh, gx, gh);
    same_as(g, gx, x, xs * sizeof *x, "group_mean_backward dy", trial);
    same_as(g, gh, h, hs * sizeof *h, "group_mean_backward dh", trial);
    k.cpu->group_average(k.cpu, N, M, K, grp, v, avg);
    g->group_average(g, N, M, K, ggrp, gv, gavg);
    same_as(g, gavg, avg, N * sizeof *avg, "group_average", trial);
    k.cpu->row_mean_abs_diff(k.cpu, E, M, v, avg, td);
    g->row_mean_abs_diff(g, E, M, gv, gavg, gtd);
    same_as(g, gtd, td, sizeof td, "row_mean_abs_diff", trial);

    void *rest[] = {ggrp, gh, gdx, gdh, gx, gout, gcount, gv, gavg, gtd};
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
        g->release(g, rest[i]);
    void *host[] = {grp, h, dx, dh, x, out, count, v, avg};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++)
        free(host[i]);
}

Test(cuda_groups_parity, float_operations_are_identical)
{
    both k = open_both();
    unsigned seed = 23;
    for (int trial = 0; trial < 2; trial++) {
        float_ops(k, trial, 8, &seed);
        float_ops(k, trial, 1, &seed);
    }
    close_both(k);
}

/* Every group operation with empty work (N = 0, R = 0, no environments)
 * leaves device memory as it was: nothing launched. */
Test(cuda_groups_parity, empty_work_touches_nothing)
{
    both k = open_both();
    test_groups_empty_work(k.gpu);
    close_both(k);
}
