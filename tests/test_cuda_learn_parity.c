/* The learning operations on CUDA against the CPU from the same inputs:
 * data movement, integers and sum trees bit for bit (the trees are made of
 * the same double additions), sampling from equal trees identical, float
 * math within 1e-6 relative (powf and the like differ by an ulp or two).
 * Skipped without a CUDA device (a failure with AFSIM_REQUIRE_GPU=1). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

typedef struct both { afs_backend *cpu, *gpu; } both;

static both open_both(void)
{
    both k = {NULL, test_cuda_or_skip("CUDA learning-operation parity")};
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

/* The device result equals the host one bit for bit; frees it. */
static void same_bytes(afs_backend *g, void *dev, const void *want, size_t bytes, const char *what)
{
    void *got = malloc(bytes);
    g->to_host(g, got, dev, bytes);
    cr_assert_eq(memcmp(got, want, bytes), 0, "%s differs between cpu and cuda", what);
    free(got);
    g->release(g, dev);
}

static void close_floats(afs_backend *g, float *dev, const float *want, size_t n, const char *what)
{
    float *got = malloc(n * sizeof *got);
    g->to_host(g, got, dev, n * sizeof *got);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabsf(got[i] - want[i]) <= 1e-6f * fmaxf(1.0f, fabsf(want[i])),
                  "%s[%zu]: cuda %.9g cpu %.9g", what, i, got[i], want[i]);
    free(got);
    g->release(g, dev);
}

static float rnd(unsigned *s) { return (float)(rand_r(s) % 20001) / 1000.0f - 10.0f; }

Test(cuda_learn_parity, data_movement_and_elementwise)
{
    both k = open_both();
    enum { A = 5, B = 7, C = 3, N = A * B * C, R = 9 };
    unsigned seed = 1;
    float src[N], dst[N];
    for (int i = 0; i < N; i++)
        src[i] = rnd(&seed);
    float *gsrc = up(k.gpu, src, sizeof src), *gdst = up(k.gpu, NULL, sizeof dst);
    k.cpu->copy_cols(k.cpu, A, B, C, src, C, (size_t)B * C, dst, (size_t)A * C, C);
    k.gpu->copy_cols(k.gpu, A, B, C, gsrc, C, (size_t)B * C, gdst, (size_t)A * C, C);
    same_bytes(k.gpu, gdst, dst, sizeof dst, "copy_cols");
    int32_t idx[R];
    for (int i = 0; i < R; i++)
        idx[i] = rand_r(&seed) % (A * B);
    int32_t *gidx = up(k.gpu, idx, sizeof idx);
    unsigned char rows3[R * 3], rows12[R * 12];
    void *g3 = up(k.gpu, NULL, sizeof rows3), *g12 = up(k.gpu, NULL, sizeof rows12);
    k.cpu->gather_rows(k.cpu, R, 3, idx, src, rows3);
    k.gpu->gather_rows(k.gpu, R, 3, gidx, gsrc, g3);
    k.cpu->gather_rows(k.cpu, R, 12, idx, src, rows12);
    k.gpu->gather_rows(k.gpu, R, 12, gidx, gsrc, g12);
    same_bytes(k.gpu, g3, rows3, sizeof rows3, "gather_rows (3 bytes)");
    same_bytes(k.gpu, g12, rows12, sizeof rows12, "gather_rows (12 bytes)");
    int32_t nxt[R], *gnxt = up(k.gpu, NULL, sizeof nxt);
    k.cpu->index_add_mod(k.cpu, R, idx, 17, A * B, nxt);
    k.gpu->index_add_mod(k.gpu, R, gidx, 17, A * B, gnxt);
    same_bytes(k.gpu, gnxt, nxt, sizeof nxt, "index_add_mod");
    uint8_t acts[R], best[R];
    for (int i = 0; i < R; i++)
        acts[i] = (uint8_t)(rand_r(&seed) % 3);
    uint8_t *gacts = up(k.gpu, acts, sizeof acts), *gbest = up(k.gpu, NULL, sizeof best);
    float hot[R * 3], *ghot = up(k.gpu, NULL, sizeof hot);
    k.cpu->one_hot(k.cpu, R, 3, acts, hot);
    k.gpu->one_hot(k.gpu, R, 3, gacts, ghot);
    same_bytes(k.gpu, ghot, hot, sizeof hot, "one_hot");
    k.cpu->argmax_rows(k.cpu, R, 3, src, best);
    k.gpu->argmax_rows(k.gpu, R, 3, gsrc, gbest);
    same_bytes(k.gpu, gbest, best, sizeof best, "argmax_rows");
    float fl[R], *gfl = up(k.gpu, NULL, sizeof fl);
    k.cpu->flag_floats(k.cpu, R, acts, 0x2, -0.25f, fl);
    k.gpu->flag_floats(k.gpu, R, gacts, 0x2, -0.25f, gfl);
    same_bytes(k.gpu, gfl, fl, sizeof fl, "flag_floats");
    float f[N], *gf = up(k.gpu, NULL, sizeof f);
    k.cpu->fill(k.cpu, N, 0.25f, f);
    k.gpu->fill(k.gpu, N, 0.25f, gf);
    same_bytes(k.gpu, gf, f, sizeof f, "fill");
    float y[R], *gy = up(k.gpu, NULL, sizeof y);
    k.cpu->td_target(k.cpu, R, 0.96f, src, fl, src + R, y);
    k.gpu->td_target(k.gpu, R, 0.96f, gsrc, (float *)up(k.gpu, fl, sizeof fl), gsrc + R, gy);
    close_floats(k.gpu, gy, y, R, "td_target");
    double mc = k.cpu->mean(k.cpu, N, src), mg = k.gpu->mean(k.gpu, N, gsrc);
    cr_assert(fabs(mc - mg) <= 1e-9 * fmax(1.0, fabs(mc)), "mean: cpu %.12g cuda %.12g", mc, mg);
    k.gpu->release(k.gpu, gsrc);
    k.gpu->release(k.gpu, gidx);
    k.gpu->release(k.gpu, gacts);
    close_both(k);
}

/* Trees built by the same updates are the same bits; draws from equal
 * trees are the same leaves; priorities, the running maximum and the
 * importance weights within rounding. */
Test(cuda_learn_parity, sum_trees_sampling_and_priorities)
{
    both k = open_both();
    enum { L = 1 << 12, N = 700, DRAWS = 2048 };
    unsigned seed = 2;
    double *tc = calloc(2 * L, sizeof *tc);
    double *tg = up(k.gpu, tc, 2 * L * sizeof *tc);
    uint8_t flags[L];
    for (int i = 0; i < L; i++)
        flags[i] = (uint8_t)(rand_r(&seed) % 4);
    uint8_t *gflags = up(k.gpu, flags, sizeof flags);
    float value = 1.75f, *gvalue = up(k.gpu, &value, sizeof value);
    k.cpu->sumtree_set_range(k.cpu, tc, L, 100, 3000, flags, 0x1, &value);
    k.gpu->sumtree_set_range(k.gpu, tg, L, 100, 3000, gflags, 0x1, gvalue);
    int32_t idx[N];
    float pred[N], target[N], prio[N];
    for (int i = 0; i < N; i++) {
        idx[i] = rand_r(&seed) % L;
        pred[i] = rnd(&seed);
        target[i] = rnd(&seed);
    }
    for (int i = 0; i < N; i++) /* a repeated index carries one value */
        for (int j = 0; j < i; j++)
            if (idx[j] == idx[i]) {
                pred[i] = pred[j];
                target[i] = target[j];
            }
    int32_t *gidx = up(k.gpu, idx, sizeof idx);
    float *gpred = up(k.gpu, pred, sizeof pred), *gtarget = up(k.gpu, target, sizeof target);
    float *gprio = up(k.gpu, NULL, sizeof prio), run_c = 0.5f, *grun = up(k.gpu, &run_c, sizeof run_c);
    k.cpu->td_priority(k.cpu, N, pred, target, 0.6f, 1e-6f, prio, &run_c);
    k.gpu->td_priority(k.gpu, N, gpred, gtarget, 0.6f, 1e-6f, gprio, grun);
    float run_g;
    k.gpu->to_host(k.gpu, &run_g, grun, sizeof run_g);
    cr_assert(fabsf(run_c - run_g) <= 1e-6f * run_c, "running max: cpu %g cuda %g", run_c, run_g);
    /* The same priorities on both (the CPU's), so that the trees match. */
    k.gpu->to_backend(k.gpu, gprio, prio, sizeof prio);
    k.cpu->sumtree_set(k.cpu, tc, L, N, idx, prio);
    k.gpu->sumtree_set(k.gpu, tg, L, N, gidx, gprio);
    same_bytes(k.gpu, tg, tc, 2 * L * sizeof *tc, "sum tree");
    tg = up(k.gpu, tc, 2 * L * sizeof *tc);
    int32_t sidx[DRAWS], *gsidx = up(k.gpu, NULL, sizeof sidx);
    float prob[DRAWS], *gprob = up(k.gpu, NULL, sizeof prob);
    k.cpu->sumtree_sample(k.cpu, tc, L, DRAWS, 9, 8, 7, sidx, prob);
    k.gpu->sumtree_sample(k.gpu, tg, L, DRAWS, 9, 8, 7, gsidx, gprob);
    same_bytes(k.gpu, gsidx, sidx, sizeof sidx, "sampled leaves");
    float w[DRAWS], *gw = up(k.gpu, NULL, sizeof w);
    k.cpu->is_weights(k.cpu, DRAWS, prob, 0.4f, w);
    k.gpu->is_weights(k.gpu, DRAWS, gprob, 0.4f, gw);
    close_floats(k.gpu, gprob, prob, DRAWS, "sample probabilities");
    close_floats(k.gpu, gw, w, DRAWS, "importance weights");
    free(tc);
    void *rest[] = {tg, gflags, gvalue, gidx, gpred, gtarget, gprio, grun};
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
        k.gpu->release(k.gpu, rest[i]);
    close_both(k);
}
