/* The learning operations of the CPU backend (kernels/backend.h,
 * "Learning"): data movement checked element by element, TD targets,
 * priorities and importance weights by hand, and the sum tree: its
 * invariants after random updates, sampling frequencies proportional to
 * the priorities (chi-square at a fixed seed), and never a leaf of 0;
 * means, flags from floats, and every operation with empty work. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"

static afs_backend *cpu;
static void open_cpu(void) { cpu = afs_backend_cpu_create(1); }
static void close_cpu(void) { cpu->destroy(cpu); }
TestSuite(learn_ops, .init = open_cpu, .fini = close_cpu);

Test(learn_ops, copy_cols_swaps_leading_dimensions_and_slices_columns)
{
    enum { A = 3, B = 4, C = 2 };
    float src[A * B * C], dst[B * A * C];
    for (int i = 0; i < A * B * C; i++)
        src[i] = (float)i;
    /* [A, B, C] -> [B, A, C] */
    cpu->copy_cols(cpu, A, B, C, src, C, (size_t)B * C, dst, (size_t)A * C, C);
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                cr_assert_eq(dst[(b * A + a) * C + c], src[(a * B + b) * C + c]);
    /* Column 1 of each row of a [4, 3] matrix into a [4, 1] column. */
    float m[12], col[4];
    for (int i = 0; i < 12; i++)
        m[i] = (float)(10 * i);
    cpu->copy_cols(cpu, 1, 4, 1, m + 1, 3, 0, col, 1, 0);
    for (int r = 0; r < 4; r++)
        cr_assert_eq(col[r], m[r * 3 + 1]);
}

Test(learn_ops, gather_rows_of_any_width)
{
    const int32_t idx[4] = {2, 0, 2, 1};
    unsigned char bytes[3 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, got[4 * 3];
    cpu->gather_rows(cpu, 4, 3, idx, bytes, got);
    const unsigned char want[12] = {7, 8, 9, 1, 2, 3, 7, 8, 9, 4, 5, 6};
    cr_assert_arr_eq(got, want, sizeof want);
    double wide[3] = {1.5, 2.5, 3.5}, out[4];
    cpu->gather_rows(cpu, 4, sizeof(double), idx, wide, out);
    cr_assert(out[0] == 3.5 && out[1] == 1.5 && out[2] == 3.5 && out[3] == 2.5);
}

Test(learn_ops, small_elementwise_operations_by_hand)
{
    const int32_t idx[3] = {0, 5, 9};
    int32_t next[3];
    cpu->index_add_mod(cpu, 3, idx, 4, 10, next);
    cr_assert(next[0] == 4 && next[1] == 9 && next[2] == 3);
    float f[3];
    cpu->fill(cpu, 3, -2.5f, f);
    cr_assert(f[0] == -2.5f && f[2] == -2.5f);
    const uint8_t a[3] = {1, 0, 1};
    float hot[6];
    cpu->one_hot(cpu, 3, 2, a, hot);
    const float want_hot[6] = {0, 1, 1, 0, 0, 1};
    cr_assert_arr_eq(hot, want_hot, sizeof want_hot);
    const float logits[6] = {0.5f, 0.5f, -1.0f, 2.0f, 3.0f, -3.0f};
    uint8_t best[3];
    cpu->argmax_rows(cpu, 3, 2, logits, best);
    cr_assert(best[0] == 0 && best[1] == 1 && best[2] == 0, "ties go to the first");
    const uint8_t flags[4] = {0x1, 0x2, 0x3, 0x0};
    float valid[4];
    cpu->flag_floats(cpu, 4, flags, 0x1, 1.0f, valid);
    const float want_valid[4] = {1, 0, 1, 0};
    cr_assert_arr_eq(valid, want_valid, sizeof want_valid);
    cpu->flag_floats(cpu, 4, flags, 0x2, -0.5f, valid);
    const float want_scaled[4] = {0, -0.5f, -0.5f, 0};
    cr_assert_arr_eq(valid, want_scaled, sizeof want_scaled);
    /* y = r + gamma (1 - done) q': 1 + 0.5 * 4 = 3; -1 + 0 = -1 */
    const float r[2] = {1.0f, -1.0f}, done[2] = {0.0f, 1.0f}, q[2] = {4.0f, 100.0f};
    float y[2];
    cpu->td_target(cpu, 2, 0.5f, r, done, q, y);
    cr_assert(y[0] == 3.0f && y[1] == -1.0f);
    const float x[4] = {1, 2, 3, 6};
    cr_assert_eq(cpu->mean(cpu, 4, x), 3.0);
}

/* (|pred - target| + eps)^alpha and the running maximum; importance weights
 * on the 4-leaf tree of priorities 1, 2, 3, 4: probabilities 0.1 .. 0.4,
 * weights (p / 0.1)^-0.5 = 1, 1/sqrt(2), 1/sqrt(3), 1/2. */
Test(learn_ops, priorities_and_importance_weights_by_hand)
{
    const float pred[3] = {1.0f, -2.0f, 0.5f}, target[3] = {1.0f, 2.0f, 0.25f};
    float prio[3], running = 0.5f;
    cpu->td_priority(cpu, 3, pred, target, 0.5f, 0.01f, prio, &running);
    cr_assert_float_eq(prio[0], sqrtf(0.01f), 1e-7);
    cr_assert_float_eq(prio[1], sqrtf(4.01f), 1e-6);
    cr_assert_float_eq(prio[2], sqrtf(0.26f), 1e-6);
    cr_assert_eq(running, prio[1]);
    double tree[8] = {0};
    const int32_t leaves[4] = {0, 1, 2, 3};
    const float p4[4] = {1, 2, 3, 4};
    cpu->sumtree_set(cpu, tree, 4, 4, leaves, p4);
    cr_assert(tree[1] == 10.0 && tree[2] == 3.0 && tree[3] == 7.0);
    const float probs[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    float w[4];
    cpu->is_weights(cpu, 4, probs, 0.5f, w);
    const float want[4] = {1.0f, 0.70710678f, 0.57735027f, 0.5f};
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(w[i], want[i], 1e-6, "w[%d] = %g", i, w[i]);
}

/* Every internal node is the sum of its children, after updates in any
 * order, a range set and a clear; the root is the sum of the leaves. */
static void check_tree(const double *tree, int L)
{
    double leaves = 0.0;
    for (int j = 0; j < L; j++)
        leaves += tree[L + j];
    for (int k = 1; k < L; k++)
        cr_assert_eq(tree[k], tree[2 * k] + tree[2 * k + 1], "node %d", k);
    cr_assert(fabs(tree[1] - leaves) <= 1e-9 * fmax(1.0, leaves), "root %g, leaves %g", tree[1], leaves);
}

Test(learn_ops, sum_tree_invariants_after_random_updates)
{
    enum { L = 64 };
    double *tree = calloc(2 * L, sizeof *tree);
    unsigned seed = 7;
    for (int round = 0; round < 50; round++) {
        int32_t idx[10];
        float prio[10];
        for (int i = 0; i < 10; i++) {
            idx[i] = rand_r(&seed) % L;
            prio[i] = (float)(rand_r(&seed) % 1000) / 100.0f;
            for (int j = 0; j < i; j++) /* a repeated index carries one value */
                if (idx[j] == idx[i])
                    prio[i] = prio[j];
        }
        cpu->sumtree_set(cpu, tree, L, 10, idx, prio);
        check_tree(tree, L);
    }
    const uint8_t flags[5] = {1, 0, 3, 2, 1};
    const float value = 2.5f;
    cpu->sumtree_set_range(cpu, tree, L, 30, 5, flags, 0x1, &value);
    check_tree(tree, L);
    const double want[5] = {2.5, 0.0, 2.5, 0.0, 2.5};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(tree[L + 30 + i], want[i]);
    cpu->sumtree_set_range(cpu, tree, L, 0, L, NULL, 0, &value);
    check_tree(tree, L);
    cr_assert_eq(tree[1], 0.0, "a clear empties the tree");
    free(tree);
}

/* Sampled leaves follow the priorities: 200,000 draws over 32 leaves of
 * priorities 0 (eight of them), 1, 2, ..., chi-square against the
 * expected counts below the 0.1% quantile of chi-square with 23 degrees of
 * freedom (49.7); a leaf of 0 is never drawn; the probabilities returned
 * are leaf / total. */
Test(learn_ops, sampling_follows_the_priorities)
{
    enum { L = 32, DRAWS = 200000, BATCH = 1000 };
    double tree[2 * L] = {0};
    int32_t leaves[L];
    float prio[L];
    for (int j = 0; j < L; j++) {
        leaves[j] = j;
        prio[j] = j % 4 == 0 ? 0.0f : (float)(j % 7 + 1);
    }
    cpu->sumtree_set(cpu, tree, L, L, leaves, prio);
    long counts[L] = {0};
    int32_t idx[BATCH];
    float prob[BATCH];
    for (uint32_t c = 0; c < DRAWS / BATCH; c++) {
        cpu->sumtree_sample(cpu, tree, L, BATCH, 11, 5, c, idx, prob);
        for (int i = 0; i < BATCH; i++) {
            cr_assert(idx[i] >= 0 && idx[i] < L);
            cr_assert_neq(prio[idx[i]], 0.0f, "leaf %d of priority 0 drawn", idx[i]);
            cr_assert_float_eq(prob[i], prio[idx[i]] / tree[1], 1e-6);
            counts[idx[i]]++;
        }
    }
    double chi2 = 0.0;
    for (int j = 0; j < L; j++) {
        if (prio[j] == 0.0f)
            continue;
        double expect = DRAWS * prio[j] / tree[1];
        chi2 += (counts[j] - expect) * (counts[j] - expect) / expect;
    }
    cr_assert_lt(chi2, 49.7, "chi-square %g over 23 degrees of freedom", chi2);
}

/* Stratified: a batch of n draws takes one from each n-th of the total, so
 * equal priorities over n leaves give every leaf exactly once. */
Test(learn_ops, stratified_sampling_covers_the_total)
{
    enum { L = 16 };
    double tree[2 * L] = {0};
    const uint8_t flags[L] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    const float one = 1.0f;
    cpu->sumtree_set_range(cpu, tree, L, 0, L, flags, 1, &one);
    int32_t idx[L];
    float prob[L];
    cpu->sumtree_sample(cpu, tree, L, L, 3, 4, 5, idx, prob);
    for (int i = 0; i < L; i++)
        cr_assert_eq(idx[i], i, "draw %d took leaf %d", i, idx[i]);
}

/* Mean of |x - y| by hand: (0.5 + 4 + 0 + 1) / 4 = 1.375; symmetric; 0
 * over nothing. Summed in double: |16777216| + 1 + 1 = 16777218 (a float
 * sum loses both ones: 2^24 + 1 rounds to 2^24), / 3 = 5592406 exactly. */
Test(learn_ops, mean_abs_diff_by_hand)
{
    const float x[4] = {1.0f, -2.0f, 3.5f, 0.0f}, y[4] = {0.5f, 2.0f, 3.5f, -1.0f};
    cr_assert_eq(cpu->mean_abs_diff(cpu, 4, x, y), 1.375);
    cr_assert_eq(cpu->mean_abs_diff(cpu, 4, y, x), 1.375);
    cr_assert_eq(cpu->mean_abs_diff(cpu, 4, x, x), 0.0);
    cr_assert_eq(cpu->mean_abs_diff(cpu, 0, x, y), 0.0, "the mean of nothing is 0");
    const float big[3] = {16777216.0f, 1.0f, -1.0f}, zero[3] = {0, 0, 0};
    cr_assert_eq(cpu->mean_abs_diff(cpu, 3, big, zero), 5592406.0);
    cr_assert_eq(cpu->mean(cpu, 3, (const float[3]){16777216.0f, 1.0f, 1.0f}), 5592406.0);
    cr_assert_eq(cpu->mean(cpu, 0, x), 0.0);
}

/* Flags from a column of floats: column 1 of a [6, 3] matrix (stride 3)
 * holds 0, 2.5, -0 (zero), -1e-30, NaN (not 0) and 0. set 0x1: 0 1 0 1 1 0;
 * with always 0x2: 2 3 2 3 3 2; set 0x4 always 0x1: 1 5 1 5 5 1. Stride 0
 * reads x[0] for every row (how the replay makes its all-valid row flags).
 * Nothing past n is written. */
Test(learn_ops, nonzero_flags_with_stride_and_always_bits)
{
    float m[6 * 3];
    for (int i = 0; i < 18; i++)
        m[i] = 7.0f; /* the other columns: nonzero, never read */
    const float col[6] = {0.0f, 2.5f, -0.0f, -1e-30f, NAN, 0.0f};
    for (int i = 0; i < 6; i++)
        m[i * 3 + 1] = col[i];
    uint8_t out[8];
    const uint8_t want[3][6] = {{0, 1, 0, 1, 1, 0}, {2, 3, 2, 3, 3, 2}, {1, 5, 1, 5, 5, 1}};
    const uint8_t set[3] = {0x1, 0x1, 0x4}, always[3] = {0, 0x2, 0x1};
    for (int k = 0; k < 3; k++) {
        memset(out, 0xAB, sizeof out);
        cpu->nonzero_flags(cpu, 6, m + 1, 3, set[k], always[k], out);
        for (int i = 0; i < 6; i++)
            cr_assert_eq(out[i], want[k][i], "case %d row %d: %d, want %d", k, i, out[i],
                         want[k][i]);
        cr_assert(out[6] == 0xAB && out[7] == 0xAB, "case %d wrote past n", k);
    }
    const float one = 1.0f, nil = 0.0f;
    cpu->nonzero_flags(cpu, 5, &one, 0, 0x1, 0, out);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(out[i], 0x1);
    cpu->nonzero_flags(cpu, 5, &nil, 0, 0x1, 0x2, out);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(out[i], 0x2);
}

/* copy moves bytes as they are (any width, a NaN's bits included); 0
 * bytes moves nothing. */
Test(learn_ops, copy_moves_bytes)
{
    const unsigned char src[7] = {1, 2, 3, 250, 0, 9, 77};
    unsigned char dst[8];
    memset(dst, 0xCD, sizeof dst);
    cpu->copy(cpu, dst, src, 7);
    cr_assert_arr_eq(dst, src, 7);
    cr_assert_eq(dst[7], 0xCD);
    const uint32_t nan_bits = 0x7FC01234u;
    uint32_t got = 0;
    cpu->copy(cpu, &got, &nan_bits, sizeof got);
    cr_assert_eq(got, nan_bits);
    memset(dst, 0xCD, sizeof dst);
    cpu->copy(cpu, dst, src, 0);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(dst[i], 0xCD);
}

/* Priorities: alpha 1 and eps 0 give |d| exactly; alpha 0 gives 1; a
 * running maximum above every new priority stays; one below is raised to
 * the largest. */
Test(learn_ops, priorities_alpha_extremes_and_the_running_maximum)
{
    const float pred[4] = {1.5f, -3.0f, 0.25f, 2.0f}, target[4] = {0.5f, 1.0f, 0.25f, 2.5f};
    float prio[4], running = 10.0f;
    cpu->td_priority(cpu, 4, pred, target, 1.0f, 0.0f, prio, &running);
    const float want[4] = {1.0f, 4.0f, 0.0f, 0.5f};
    cr_assert_arr_eq(prio, want, sizeof want);
    cr_assert_eq(running, 10.0f, "a larger running maximum stays");
    cpu->td_priority(cpu, 4, pred, target, 0.0f, 0.5f, prio, &running);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(prio[i], 1.0f, "alpha 0: priority %d is %g", i, prio[i]);
    running = 0.75f;
    cpu->td_priority(cpu, 4, pred, target, 1.0f, 0.25f, prio, &running);
    cr_assert_eq(running, 4.25f);
    running = 3.0f;
    cpu->td_priority(cpu, 0, pred, target, 1.0f, 0.25f, prio, &running);
    cr_assert_eq(running, 3.0f, "no priorities, no change");
}

/* Importance weights, beta 1: (p / min p)^-1 = min p / p: probabilities
 * 1/4, 1/2, 1/8, 1/8 give 1/2, 1/4, 1, 1. Beta 0: all 1. One draw: 1. */
Test(learn_ops, importance_weights_beta_0_and_1)
{
    const float prob[4] = {0.25f, 0.5f, 0.125f, 0.125f};
    float w[4];
    cpu->is_weights(cpu, 4, prob, 1.0f, w);
    const float want[4] = {0.5f, 0.25f, 1.0f, 1.0f};
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(w[i], want[i], 1e-7f, "w[%d] = %.9g", i, w[i]);
    cpu->is_weights(cpu, 4, prob, 0.0f, w);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(w[i], 1.0f);
    cpu->is_weights(cpu, 1, prob + 1, 0.7f, w);
    cr_assert_eq(w[0], 1.0f);
}

/* The sum tree against a model of its leaves, with values that are
 * multiples of 1/64 below 64 over 256 leaves: every partial sum is exact
 * in double, so the root must be the sum of the leaves bit for bit, and
 * every internal node the sum of its children. 300 random operations:
 * sumtree_set with up to 40 indices (repeats carrying one value), and
 * sumtree_set_range over random spans (single leaves, spans to the last
 * leaf, the whole tree) with random flags, masks and values, or no flags
 * (a clear). */
Test(learn_ops, sum_tree_exact_against_a_model)
{
    enum { L = 256 };
    double *tree = calloc(2 * L, sizeof *tree), model[L] = {0};
    unsigned seed = 31;
    for (int round = 0; round < 300; round++) {
        if (rand_r(&seed) % 2) {
            int n = 1 + rand_r(&seed) % 40;
            int32_t idx[40];
            float prio[40];
            for (int i = 0; i < n; i++) {
                /* a small range of indices, so that repeats happen */
                idx[i] = rand_r(&seed) % 4 == 0 ? rand_r(&seed) % 8 : rand_r(&seed) % L;
                prio[i] = (float)(rand_r(&seed) % 4096) / 64.0f;
                for (int j = 0; j < i; j++)
                    if (idx[j] == idx[i])
                        prio[i] = prio[j];
            }
            cpu->sumtree_set(cpu, tree, L, (size_t)n, idx, prio);
            for (int i = 0; i < n; i++)
                model[idx[i]] = prio[i];
        } else {
            int kind = rand_r(&seed) % 4;
            int first = rand_r(&seed) % L, count = 1 + rand_r(&seed) % (L - first);
            if (kind == 1)
                count = 1;
            else if (kind == 2)
                count = L - first;
            else if (kind == 3 && rand_r(&seed) % 4 == 0)
                first = 0, count = L;
            uint8_t flags[L];
            for (int i = 0; i < count; i++)
                flags[i] = (uint8_t)(rand_r(&seed) % 8);
            uint8_t mask = (uint8_t)(1 << rand_r(&seed) % 3);
            float value = (float)(1 + rand_r(&seed) % 4095) / 64.0f;
            int clear = rand_r(&seed) % 5 == 0;
            cpu->sumtree_set_range(cpu, tree, L, first, count, clear ? NULL : flags, mask, &value);
            for (int i = 0; i < count; i++)
                model[first + i] = !clear && (flags[i] & mask) ? value : 0.0;
        }
        double sum = 0.0;
        for (int j = 0; j < L; j++) {
            cr_assert_eq(tree[L + j], model[j], "round %d leaf %d: %g, want %g", round, j,
                         tree[L + j], model[j]);
            sum += model[j];
        }
        for (int k = 1; k < L; k++)
            cr_assert_eq(tree[k], tree[2 * k] + tree[2 * k + 1], "round %d node %d", round, k);
        cr_assert_eq(tree[1], sum, "round %d: root %.17g, leaves %.17g", round, tree[1], sum);
    }
    free(tree);
}

/* Descents around leaves of 0: one leaf of priority at the first, the
 * last, or a middle place of 16 takes every draw with probability 1; the
 * tree of a single leaf (L = 1: the root is the leaf) too. */
Test(learn_ops, sampling_finds_a_lone_leaf)
{
    enum { L = 16, N = 64 };
    const int places[3] = {0, L - 1, 9};
    int32_t idx[N];
    float prob[N];
    for (int k = 0; k < 3; k++) {
        double tree[2 * L] = {0};
        const int32_t at = places[k];
        const float p = 0.375f;
        cpu->sumtree_set(cpu, tree, L, 1, &at, &p);
        cr_assert_eq(tree[1], 0.375);
        for (uint32_t c = 0; c < 4; c++) {
            cpu->sumtree_sample(cpu, tree, L, N, 8, 1, c, idx, prob);
            for (int i = 0; i < N; i++) {
                cr_assert_eq(idx[i], at, "lone leaf %d: draw %d took %d", at, i, idx[i]);
                cr_assert_eq(prob[i], 1.0f);
            }
        }
    }
    double one[2] = {0};
    const int32_t zero = 0;
    const float p = 2.0f;
    cpu->sumtree_set(cpu, one, 1, 1, &zero, &p);
    cr_assert_eq(one[1], 2.0);
    cpu->sumtree_sample(cpu, one, 1, 5, 1, 2, 3, idx, prob);
    for (int i = 0; i < 5; i++)
        cr_assert(idx[i] == 0 && prob[i] == 1.0f);
}

/* Every learning operation with empty work (n, count, G, rows or cols 0)
 * leaves guarded memory as it was; the means of nothing are 0. */
Test(learn_ops, empty_work_touches_nothing)
{
    enum { G = 64 };
    float *m = cpu->alloc(cpu, G * sizeof(float));
    for (int i = 0; i < G; i++)
        m[i] = -4242.0f;
    int32_t *im = (int32_t *)(void *)m;
    uint8_t *bm = (uint8_t *)m;
    double dm[16];
    for (int i = 0; i < 16; i++)
        dm[i] = -4242.0;
    cpu->copy(cpu, m, m + 8, 0);
    cpu->copy_cols(cpu, 0, 2, 2, m, 2, 4, m + 8, 2, 4);
    cpu->copy_cols(cpu, 2, 0, 2, m, 2, 4, m + 8, 2, 4);
    cpu->copy_cols(cpu, 2, 2, 0, m, 2, 4, m + 8, 2, 4);
    cpu->gather_rows(cpu, 0, 4, im, m, m + 8);
    cpu->index_add_mod(cpu, 0, im, 1, 5, im + 8);
    cpu->fill(cpu, 0, 1.0f, m);
    cpu->axpy(cpu, 0, 2.0f, m + 8, m);
    cpu->scale_rows(cpu, 0, 2, m + 8, m + 8, m);
    cpu->scale_rows(cpu, 3, 0, m + 8, m + 8, m);
    cpu->one_hot(cpu, 0, 2, bm, m);
    cpu->argmax_rows(cpu, 0, 2, m, bm);
    cpu->flag_floats(cpu, 0, bm, 1, 1.0f, m);
    cpu->nonzero_flags(cpu, 0, m, 1, 1, 2, bm);
    cpu->td_target(cpu, 0, 0.9f, m, m, m, m + 8);
    cr_assert_eq(cpu->mean(cpu, 0, m), 0.0);
    cr_assert_eq(cpu->mean_abs_diff(cpu, 0, m, m + 8), 0.0);
    cpu->sumtree_set(cpu, dm, 8, 0, im, m);
    cpu->sumtree_set_range(cpu, dm, 8, 0, 0, bm, 1, m);
    cpu->sumtree_sample(cpu, dm, 8, 0, 1, 2, 3, im, m);
    cpu->td_priority(cpu, 0, m, m, 0.6f, 0.01f, m, m + 8);
    cpu->is_weights(cpu, 0, m, 0.4f, m);
    for (int i = 0; i < G; i++)
        cr_assert_eq(m[i], -4242.0f, "element %d written by empty work", i);
    for (int i = 0; i < 16; i++)
        cr_assert_eq(dm[i], -4242.0, "tree node %d written by empty work", i);
    cpu->release(cpu, m);
}

/* Rows scaled by their weights, in place too; k = 1 multiplies elementwise. */
Test(learn_ops, scale_rows_by_hand)
{
    const float x[6] = {1, 2, 3, 4, 5, 6}, w[3] = {2, -1, 0.5f};
    float y[6];
    cpu->scale_rows(cpu, 3, 2, x, w, y);
    const float want[6] = {2, 4, -3, -4, 2.5f, 3};
    cr_assert_arr_eq(y, want, sizeof want);
    cpu->scale_rows(cpu, 2, 3, y, w, y); /* in place: rows of 3 */
    const float twice[6] = {4, 8, -6, 4, -2.5f, -3};
    cr_assert_arr_eq(y, twice, sizeof twice);
    float z[3];
    cpu->scale_rows(cpu, 3, 1, w, w, z);
    const float squares[3] = {4, 1, 0.25f};
    cr_assert_arr_eq(z, squares, sizeof squares);
}
