/* The learning operations of the CPU backend (kernels/backend.h,
 * "Learning"): data movement checked element by element, TD targets,
 * priorities and importance weights by hand, and the sum tree: its
 * invariants after random updates, sampling frequencies proportional to
 * the priorities (chi-square at a fixed seed), and never a leaf of 0. */
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
