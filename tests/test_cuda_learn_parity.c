/* The learning operations on CUDA against the CPU from the same inputs:
 * data movement, integers and sum trees bit for bit (the trees are made of
 * the same double additions), sampling from equal trees identical, float
 * math within 1e-6 relative (powf and the like differ by an ulp or two).
 * The replay on both from the same stores: the same ring and tree bytes,
 * and the same draws, batches and probabilities bit for bit.
 * Skipped without a CUDA device (a failure with AFSIM_REQUIRE_GPU=1). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "models/replay.h"

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
    /* rows of 3 scaled by R weights (src's first 3R values by its last R) */
    float sc[R * 3], *gsc = up(k.gpu, NULL, sizeof sc);
    k.cpu->scale_rows(k.cpu, R, 3, src, src + 3 * R, sc);
    k.gpu->scale_rows(k.gpu, R, 3, gsrc, gsrc + 3 * R, gsc);
    same_bytes(k.gpu, gsc, sc, sizeof sc, "scale_rows");
    float y[R], *gy = up(k.gpu, NULL, sizeof y);
    k.cpu->td_target(k.cpu, R, 0.96f, src, fl, src + R, y);
    float *gdone = up(k.gpu, fl, sizeof fl);
    k.gpu->td_target(k.gpu, R, 0.96f, gsrc, gdone, gsrc + R, gy);
    k.gpu->release(k.gpu, gdone);
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

/* The device bytes equal the host ones (the device buffer is kept). */
static void same_as(afs_backend *g, const void *dev, const void *want, size_t bytes,
                    const char *what, int step)
{
    void *got = malloc(bytes ? bytes : 1);
    g->to_host(g, got, dev, bytes);
    cr_assert_eq(memcmp(got, want, bytes), 0, "%s differs between cpu and cuda (step %d)", what,
                 step);
    free(got);
}

/* Means of |x - y| within rounding (double sums in another order); flags
 * from a strided column (zeros, -0, NaN among the values) bit for bit,
 * with and without `always` bits, and with stride 0. */
Test(cuda_learn_parity, mean_abs_diff_and_nonzero_flags)
{
    both k = open_both();
    enum { N = 1000, ROWS = 500, STRIDE = 3 };
    unsigned seed = 3;
    float x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = rnd(&seed);
        y[i] = rnd(&seed);
    }
    float *gx = up(k.gpu, x, sizeof x), *gy = up(k.gpu, y, sizeof y);
    const size_t sizes[4] = {1, 3, 257, N};
    for (int s = 0; s < 4; s++) {
        double c = k.cpu->mean_abs_diff(k.cpu, sizes[s], x, y);
        double g = k.gpu->mean_abs_diff(k.gpu, sizes[s], gx, gy);
        cr_assert(fabs(c - g) <= 1e-12 * fmax(1.0, fabs(c)), "mean_abs_diff of %zu: cpu %.17g cuda %.17g",
                  sizes[s], c, g);
    }
    cr_assert_eq(k.gpu->mean_abs_diff(k.gpu, 0, gx, gy), 0.0);
    float m[ROWS * STRIDE];
    for (int i = 0; i < ROWS * STRIDE; i++) {
        int r = rand_r(&seed) % 6;
        m[i] = r < 2 ? 0.0f : r == 2 ? -0.0f : r == 3 ? NAN : rnd(&seed);
    }
    float *gm = up(k.gpu, m, sizeof m);
    uint8_t fc[ROWS], *gf = up(k.gpu, NULL, sizeof fc);
    const uint8_t set[3] = {0x1, 0x1, 0x4}, always[3] = {0, 0x2, 0x1};
    for (int c = 0; c < 3; c++) {
        k.cpu->nonzero_flags(k.cpu, ROWS, m + 1, STRIDE, set[c], always[c], fc);
        k.gpu->nonzero_flags(k.gpu, ROWS, gm + 1, STRIDE, set[c], always[c], gf);
        same_as(k.gpu, gf, fc, sizeof fc, "nonzero_flags", c);
    }
    k.cpu->nonzero_flags(k.cpu, ROWS, m + 2, 0, 0x1, 0x2, fc);
    k.gpu->nonzero_flags(k.gpu, ROWS, gm + 2, 0, 0x1, 0x2, gf);
    same_as(k.gpu, gf, fc, sizeof fc, "nonzero_flags, stride 0", 3);
    void *rest[] = {gx, gy, gm, gf};
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
        k.gpu->release(k.gpu, rest[i]);
    close_both(k);
}

/* Every learning operation with empty work leaves device memory as it
 * was (nothing launched), and the means of nothing are 0. */
Test(cuda_learn_parity, empty_work_touches_nothing)
{
    both k = open_both();
    enum { G = 64 };
    float host[G], back[G];
    for (int i = 0; i < G; i++)
        host[i] = -4242.0f;
    afs_backend *g = k.gpu;
    float *m = up(g, host, sizeof host);
    int32_t *im = (int32_t *)(void *)m;
    uint8_t *bm = (uint8_t *)m;
    double tree[16], tree_back[16];
    for (int i = 0; i < 16; i++)
        tree[i] = -4242.0;
    double *dm = up(g, tree, sizeof tree);
    g->copy(g, m, m + 8, 0);
    g->copy_cols(g, 0, 2, 2, m, 2, 4, m + 8, 2, 4);
    g->copy_cols(g, 2, 0, 2, m, 2, 4, m + 8, 2, 4);
    g->copy_cols(g, 2, 2, 0, m, 2, 4, m + 8, 2, 4);
    g->gather_rows(g, 0, 4, im, m, m + 8);
    g->gather_rows(g, 0, 3, im, m, m + 8);
    g->index_add_mod(g, 0, im, 1, 5, im + 8);
    g->fill(g, 0, 1.0f, m);
    g->axpy(g, 0, 2.0f, m + 8, m);
    g->scale_rows(g, 0, 2, m + 8, m + 8, m);
    g->scale_rows(g, 3, 0, m + 8, m + 8, m);
    g->one_hot(g, 0, 2, bm, m);
    g->argmax_rows(g, 0, 2, m, bm);
    g->flag_floats(g, 0, bm, 1, 1.0f, m);
    g->nonzero_flags(g, 0, m, 1, 1, 2, bm);
    g->td_target(g, 0, 0.9f, m, m, m, m + 8);
    cr_assert_eq(g->mean(g, 0, m), 0.0);
    cr_assert_eq(g->mean_abs_diff(g, 0, m, m + 8), 0.0);
    g->sumtree_set(g, dm, 8, 0, im, m);
    g->sumtree_set_range(g, dm, 8, 0, 0, bm, 1, m);
    g->sumtree_sample(g, dm, 8, 0, 1, 2, 3, im, m);
    g->td_priority(g, 0, m, m, 0.6f, 0.01f, m, m + 8);
    g->is_weights(g, 0, m, 0.4f, m);
    g->synchronize(g);
    g->to_host(g, back, m, sizeof back);
    for (int i = 0; i < G; i++)
        cr_assert_eq(back[i], -4242.0f, "cuda: element %d written by empty work", i);
    g->to_host(g, tree_back, dm, sizeof tree_back);
    for (int i = 0; i < 16; i++)
        cr_assert_eq(tree_back[i], -4242.0, "cuda: tree node %d written by empty work", i);
    g->release(g, m);
    g->release(g, dm);
    close_both(k);
}

/* Block n of a replay parity run: observations, actions and rewards that
 * name n and the record; "a function came" for two records in three. */
static void parity_block(int n, int block, float *obs, uint8_t *act, float *rew)
{
    for (int k = 0; k < block; k++) {
        for (int c = 0; c < AFS_OBS_DIM; c++)
            obs[k * AFS_OBS_DIM + c] = c == AFS_OBS_HAS ? (float)((n + k) % 3 != 0)
                                                          : (float)(1000 * n + 10 * k + c) * 0.125f;
        act[k] = (uint8_t)((n + k) % 2);
        rew[k] = (float)(n - k) * 0.75f;
    }
}

/* The same stores (some terminal, around the ring twice) and samples on
 * both backends: after each store the ring and the tree are the same
 * bytes; each sample draws the same rows and gathers the same batch and
 * probabilities, bit for bit, and (prioritized) weights within rounding.
 * Prioritized: an update from the same TD errors gives priorities within
 * rounding (powf); the CPU's tree and maximum are then given to both, so
 * that the next draws start from equal trees. */
static void replay_parity(both k, int prioritized, int row)
{
    enum { S = 4, BLOCK = 6, B = 8, STEPS = 12, OBS = AFS_OBS_DIM };
    afs_replay rc, rg;
    afs_backend *g = k.gpu;
    cr_assert_eq(afs_replay_init(&rc, k.cpu, S, BLOCK, row, prioritized, 0.6f, 0.01f, B, 0), 0);
    cr_assert_eq(afs_replay_init(&rg, g, S, BLOCK, row, prioritized, 0.6f, 0.01f, B, 0), 0);
    cr_assert(rc.L == rg.L && rc.blob_bytes == rg.blob_bytes);
    size_t tree_bytes = 2 * (size_t)rc.L * sizeof(double), rec = (size_t)B * row;
    float obs[BLOCK * OBS], rew[BLOCK], pred[B], target[B];
    uint8_t act[BLOCK];
    float *gobs = up(g, NULL, sizeof obs), *grew = up(g, NULL, sizeof rew);
    uint8_t *gact = up(g, NULL, sizeof act);
    float *gpred = up(g, NULL, sizeof pred), *gtarget = up(g, NULL, sizeof target);
    const int done[STEPS] = {0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0};
    for (int n = 0; n < STEPS; n++) {
        parity_block(n, BLOCK, obs, act, rew);
        g->to_backend(g, gobs, obs, sizeof obs);
        g->to_backend(g, gact, act, sizeof act);
        g->to_backend(g, grew, rew, sizeof rew);
        afs_replay_store(&rc, k.cpu, obs, act, rew, done[n], NULL);
        afs_replay_store(&rg, g, gobs, gact, grew, done[n], NULL);
        cr_assert(rc.head == rg.head && rc.blocks == rg.blocks && rc.pending == rg.pending);
        same_as(g, rg.blob, rc.blob, rc.blob_bytes, "the ring", n);
        same_as(g, rg.tree, rc.tree, tree_bytes, "the tree after a store", n);
        if (afs_replay_rows(&rc) == 0)
            continue;
        for (uint32_t c = 0; c < 3; c++) {
            uint32_t counter = (uint32_t)n * 3 + c;
            afs_replay_sample(&rc, k.cpu, B, 17, AFS_STREAM_REPLAY, counter, 0.4f);
            afs_replay_sample(&rg, g, B, 17, AFS_STREAM_REPLAY, counter, 0.4f);
            same_as(g, rg.batch.idx, rc.batch.idx, B * sizeof(int32_t), "drawn rows", n);
            same_as(g, rg.next_idx, rc.next_idx, B * sizeof(int32_t), "next rows", n);
            same_as(g, rg.prob, rc.prob, B * sizeof(float), "draw probabilities", n);
            same_as(g, rg.batch.obs, rc.batch.obs, rec * OBS * sizeof(float), "batch obs", n);
            same_as(g, rg.batch.next_obs, rc.batch.next_obs, rec * OBS * sizeof(float),
                    "batch next_obs", n);
            same_as(g, rg.batch.act, rc.batch.act, rec, "batch act", n);
            same_as(g, rg.batch.rew, rc.batch.rew, rec * sizeof(float), "batch rew", n);
            same_as(g, rg.batch.flags, rc.batch.flags, rec, "batch flags", n);
            if (prioritized) {
                float w[B];
                g->to_host(g, w, rg.batch.weight, sizeof w);
                for (int i = 0; i < B; i++)
                    cr_assert(fabsf(w[i] - rc.batch.weight[i]) <= 1e-6f * rc.batch.weight[i],
                              "step %d weight %d: cuda %.9g cpu %.9g", n, i, w[i],
                              rc.batch.weight[i]);
            }
        }
        if (!prioritized)
            continue;
        /* TD errors named by the row (a row drawn twice: one value) */
        for (int i = 0; i < B; i++) {
            pred[i] = 0.125f * (float)((rc.batch.idx[i] * 7 + n) % 40) - 2.0f;
            target[i] = 0.5f;
        }
        g->to_backend(g, gpred, pred, sizeof pred);
        g->to_backend(g, gtarget, target, sizeof target);
        afs_replay_update(&rc, k.cpu, pred, target);
        afs_replay_update(&rg, g, gpred, gtarget);
        double *tg = malloc(tree_bytes);
        float mg[2];
        g->to_host(g, tg, rg.tree, tree_bytes);
        g->to_host(g, mg, rg.max_prio, sizeof mg);
        for (int j = 1; j < 2 * rc.L; j++)
            cr_assert(fabs(tg[j] - rc.tree[j]) <= 1e-6 * fmax(1.0, fabs(rc.tree[j])),
                      "step %d tree node %d: cuda %.17g cpu %.17g", n, j, tg[j], rc.tree[j]);
        cr_assert(mg[0] == rc.max_prio[0] &&
                      fabsf(mg[1] - rc.max_prio[1]) <= 1e-6f * rc.max_prio[1],
                  "step %d running max: cuda %.9g cpu %.9g", n, mg[1], rc.max_prio[1]);
        free(tg);
        g->to_backend(g, rg.tree, rc.tree, tree_bytes);
        g->to_backend(g, rg.max_prio, rc.max_prio, 2 * sizeof(float));
    }
    afs_replay_sync_meta(&rc, k.cpu);
    afs_replay_sync_meta(&rg, g);
    same_as(g, rg.meta, rc.meta, 4 * sizeof(int64_t), "checkpoint meta", STEPS);
    void *rest[] = {gobs, grew, gact, gpred, gtarget};
    for (size_t i = 0; i < sizeof rest / sizeof *rest; i++)
        g->release(g, rest[i]);
    afs_replay_free(&rg, g);
    afs_replay_free(&rc, k.cpu);
}

Test(cuda_learn_parity, uniform_replay_of_single_records)
{
    both k = open_both();
    replay_parity(k, 0, 1);
    close_both(k);
}

Test(cuda_learn_parity, prioritized_replay_of_joint_rows)
{
    both k = open_both();
    replay_parity(k, 1, 2);
    close_both(k);
}
