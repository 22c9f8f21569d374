/* The experience replay (models/replay.c) on the CPU backend, whose memory
 * is host memory, so that the ring, the sum tree and the batch are read in
 * place. Every expected value is worked out here from the replay's
 * definition (models/replay.h):
 * - the ring: head, counts, the oldest blocks overwritten, the newest
 *   non-terminal block's leaves 0 until the next block comes, a terminal
 *   block drawable at once, a row's next observation the same records of
 *   the next ring slot (across the wrap from the last slot to slot 0);
 * - the sum tree through stores and updates against a model of its leaves,
 *   with priorities that are multiples of 1/64, so that every sum is exact
 *   and the root must equal the sum of the leaves bit for bit;
 * - sampling: frequencies proportional to the priorities (chi-square at a
 *   fixed seed), never a leaf of 0, draw i in the i-th n-th of the total,
 *   at the Philox uniform of backend.h; importance weights by hand;
 * - beta's annealing, prioritized updates and the running maximum, the
 *   checkpointed state, and the sizes (the sum tree's leaves fit an int). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/rng.h"
#include "models/replay.h"

static afs_backend *cpu;
static void open_cpu(void) { cpu = afs_backend_cpu_create(1); }
static void close_cpu(void) { cpu->destroy(cpu); }
TestSuite(replay, .init = open_cpu, .fini = close_cpu);

enum { OBS = AFS_OBS_DIM, MAXB = 64 };

/* ---- Blocks that name their content ---- */

/* Record k of block number n: "a function came" (the HAS column) for two
 * records in three, the other columns a value that names n, k and the
 * column (never 0), the reward and the action named as well. */
static int has_fn(int n, int k) { return (n + k) % 3 != 0; }
static float obs_value(int n, int k, int c)
{
    if (c == AFS_OBS_HAS)
        return has_fn(n, k) ? 1.0f : 0.0f;
    return (float)(1000 * n + 10 * k + c + 1);
}
static float rew_value(int n, int k) { return (float)(100 * n + k) + 0.25f; }
static uint8_t act_value(int n, int k) { return (uint8_t)((3 * n + k) % 2); }

/* Stores block number n (CPU: host arrays are backend memory). */
static void store(afs_replay *r, int n, int done)
{
    float obs[MAXB * OBS], rew[MAXB];
    uint8_t act[MAXB];
    cr_assert(r->block <= MAXB);
    for (int k = 0; k < r->block; k++) {
        for (int c = 0; c < OBS; c++)
            obs[k * OBS + c] = obs_value(n, k, c);
        rew[k] = rew_value(n, k);
        act[k] = act_value(n, k);
    }
    afs_replay_store(r, cpu, obs, act, rew, done, NULL);
}

/* The observation row o is record k of block n (n < 0: a slot never
 * written, zeros). */
static void expect_obs(const float *o, int n, int k, const char *what, int i)
{
    for (int c = 0; c < OBS; c++) {
        float want = n < 0 ? 0.0f : obs_value(n, k, c);
        cr_assert_eq(o[c], want, "%s of draw %d, column %d: %g, want %g (block %d, record %d)",
                     what, i, c, o[c], want, n, k);
    }
}

static double leaf(const afs_replay *r, int j) { return r->tree[r->L + j]; }

/* Every drawn row's data against the blocks the slots hold (held[s]: the
 * block number in slot s, -1 never written; done[n]: block n was stored
 * terminal): its records, the same records of the next ring slot as next
 * observations, actions, rewards, and flags VALID when a function came,
 * DONE when terminal. Each drawn row's leaf is not 0. */
static void check_batch(const afs_replay *r, const int *held, const int *done)
{
    const afs_batch *t = &r->batch;
    for (int i = 0; i < t->B; i++) {
        int j = t->idx[i], s = j / r->rows, rr = j % r->rows;
        cr_assert(j >= 0 && j < r->slots * r->rows, "draw %d: row %d out of the ring", i, j);
        cr_assert_gt(leaf(r, j), 0.0, "draw %d took row %d, whose leaf is 0", i, j);
        int n = held[s], next = held[(s + 1) % r->slots];
        cr_assert_geq(n, 0, "draw %d took row %d of a slot never written", i, j);
        for (int q = 0; q < r->row; q++) {
            int k = rr * r->row + q, at = i * r->row + q;
            expect_obs(t->obs + (size_t)at * OBS, n, k, "obs", i);
            expect_obs(t->next_obs + (size_t)at * OBS, next, k, "next_obs", i);
            cr_assert_eq(t->act[at], act_value(n, k), "act of draw %d record %d", i, q);
            cr_assert_eq(t->rew[at], rew_value(n, k), "rew of draw %d record %d", i, q);
            uint8_t flags = (uint8_t)((has_fn(n, k) ? AFS_RF_VALID : 0) | (done[n] ? AFS_RF_DONE : 0));
            cr_assert_eq(t->flags[at], flags, "flags of draw %d record %d: %d, want %d", i, q,
                         t->flags[at], flags);
        }
    }
}

/* Leaves of slot s all equal to want[s]; leaves past the ring 0. */
static void expect_slot_leaves(const afs_replay *r, const double *want, const char *when)
{
    for (int j = 0; j < r->L; j++) {
        double w = j < r->slots * r->rows ? want[j / r->rows] : 0.0;
        cr_assert_eq(leaf(r, j), w, "%s: leaf %d (slot %d) is %g, want %g", when, j,
                     j / r->rows, leaf(r, j), w);
    }
}

/* ---- The ring ---- */

/* Three slots of 4 records, rows of 1: blocks 0 .. 4 stored non-terminal.
 * Slot 0 then holds block 3, slot 1 block 4 (the newest: its leaves 0),
 * slot 2 block 2. 8 drawable rows: a batch of 8 from 8 equal leaves takes
 * each once, in order (stratified): rows 0..3 (block 3, next observations
 * block 4's) and 8..11 (block 2, next observations block 3's, across the
 * wrap from slot 2 to slot 0). */
Test(replay, ring_wraps_around_and_overwrites_the_oldest)
{
    afs_replay r;
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 4, 1, 0, 0.6f, 1e-6f, 8, 0), 0);
    cr_assert_eq(r.rows, 4);
    cr_assert_eq(r.L, 16);
    cr_assert_eq(afs_replay_capacity(&r), 12);
    cr_assert_eq(afs_replay_records(&r), 0);
    cr_assert_eq(afs_replay_rows(&r), 0);
    const int done[5] = {0};
    /* After block n: head, records, drawable rows, and the leaves of each
     * slot (the newest 0, those before it 1, never written 0). */
    const int head[5] = {1, 2, 0, 1, 2};
    const long long records[5] = {4, 8, 12, 12, 12}, rows[5] = {0, 4, 8, 8, 8};
    const double leaves[5][3] = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 1}, {1, 0, 1}};
    for (int n = 0; n < 5; n++) {
        store(&r, n, 0);
        cr_assert_eq(r.head, head[n], "head after block %d", n);
        cr_assert_eq(r.blocks, n + 1);
        cr_assert_eq(r.pending, 1);
        cr_assert_eq(afs_replay_records(&r), records[n], "records after block %d", n);
        cr_assert_eq(afs_replay_rows(&r), rows[n], "rows after block %d", n);
        cr_assert_eq(afs_replay_capacity(&r), 12);
        char when[32];
        snprintf(when, sizeof when, "after block %d", n);
        expect_slot_leaves(&r, leaves[n], when);
        cr_assert_eq(r.tree[1], (double)rows[n], "root after block %d", n);
    }
    /* The ring itself: the oldest blocks (0, 1) overwritten by 3, 4. */
    const int held[3] = {3, 4, 2};
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 4; k++) {
            size_t at = (size_t)s * 4 + k;
            expect_obs(r.obs + at * OBS, held[s], k, "ring", (int)at);
            cr_assert_eq(r.rew[at], rew_value(held[s], k));
            cr_assert_eq(r.act[at], act_value(held[s], k));
            cr_assert_eq(r.flags[at], has_fn(held[s], k) ? AFS_RF_VALID : 0);
        }
    cr_assert_null(r.batch.weight, "uniform replay has no weights");
    for (uint32_t c = 0; c < 3; c++) {
        afs_replay_sample(&r, cpu, 8, 7, 5, c, 0.4f);
        const int32_t want[8] = {0, 1, 2, 3, 8, 9, 10, 11};
        for (int i = 0; i < 8; i++) {
            cr_assert_eq(r.batch.idx[i], want[i], "counter %u draw %d: row %d", c, i, r.batch.idx[i]);
            cr_assert_eq(r.prob[i], 0.125f);
        }
        check_batch(&r, held, done);
        /* Spelled out: row 8 (slot 2, block 2) continues in slot 0 (block 3). */
        cr_assert_eq(r.batch.next_obs[4 * OBS + AFS_OBS_DEADLINE], obs_value(3, 0, AFS_OBS_DEADLINE));
        cr_assert_eq(r.batch.next_obs[0 * OBS + AFS_OBS_DEADLINE], obs_value(4, 0, AFS_OBS_DEADLINE));
    }
    afs_replay_free(&r, cpu);
}

/* The same ring with rows of 2 records (one environment's joint
 * transition): 2 rows a block, leaves over 6 rows of an 8-leaf tree. Row 4
 * (slot 2's first: block 2's records 0, 1) continues in row 0 (block 3's
 * records 0, 1). */
Test(replay, ring_of_joint_rows_wraps_around)
{
    afs_replay r;
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 4, 2, 0, 0.6f, 1e-6f, 8, 0), 0);
    cr_assert_eq(r.rows, 2);
    cr_assert_eq(r.L, 8);
    const int done[5] = {0};
    for (int n = 0; n < 5; n++)
        store(&r, n, 0);
    cr_assert_eq(r.head, 2);
    cr_assert_eq(afs_replay_records(&r), 12);
    cr_assert_eq(afs_replay_rows(&r), 4);
    const double leaves[3] = {1, 0, 1};
    expect_slot_leaves(&r, leaves, "after 5 blocks");
    afs_replay_sample(&r, cpu, 4, 1, 2, 3, 1.0f);
    const int32_t want[4] = {0, 1, 4, 5};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(r.batch.idx[i], want[i], "draw %d: row %d", i, r.batch.idx[i]);
    const int held[3] = {3, 4, 2};
    check_batch(&r, held, done);
    /* draw 2 is row 4: records 0, 1 of block 2, next those of block 3 */
    cr_assert_eq(r.batch.obs[(2 * 2 + 1) * OBS + AFS_OBS_Z], obs_value(2, 1, AFS_OBS_Z));
    cr_assert_eq(r.batch.next_obs[(2 * 2 + 1) * OBS + AFS_OBS_Z], obs_value(3, 1, AFS_OBS_Z));
    afs_replay_free(&r, cpu);
}

/* A ring that keeps communication groups (AM-DRL, group_k = 3 entries a
 * record): each drawn joint row brings its records' groups, the ones stored
 * with its block, and those of its next block, beside its observations;
 * the record's size counts them. */
Test(replay, groups_travel_with_their_rows)
{
    enum { K = 3 };
    cr_assert_eq(afs_replay_record_bytes(K), afs_replay_record_bytes(0) + K * sizeof(int16_t));
    afs_replay r;
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 4, 2, 0, 0.6f, 1e-6f, 8, K), 0);
    cr_assert_not_null(r.batch.grp);
    for (int n = 0; n < 5; n++) {
        float obs[4 * OBS], rew[4];
        uint8_t act[4];
        int16_t grp[4 * K];
        for (int k = 0; k < 4; k++) {
            for (int c = 0; c < OBS; c++)
                obs[k * OBS + c] = obs_value(n, k, c);
            rew[k] = rew_value(n, k);
            act[k] = act_value(n, k);
            for (int j = 0; j < K; j++) /* block n, record k, entry j; -1 on odd records */
                grp[k * K + j] = (int16_t)(k % 2 ? -1 : 100 * n + 10 * k + j);
        }
        afs_replay_store(&r, cpu, obs, act, rew, 0, grp);
    }
    /* as ring_of_joint_rows_wraps_around: draws are rows 0, 1, 4, 5, held
     * by blocks 3, 3, 2, 2 (row 4 = block 2's records 0, 1) */
    afs_replay_sample(&r, cpu, 4, 1, 2, 3, 1.0f);
    const int block_of[4] = {3, 3, 2, 2}, first[4] = {0, 2, 0, 2};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < K; j++) {
                int rec = first[i] + k;
                int want = rec % 2 ? -1 : 100 * block_of[i] + 10 * rec + j;
                cr_assert_eq(r.batch.grp[(i * 2 + k) * K + j], want,
                             "draw %d, record %d, entry %d: %d, want %d", i, k, j,
                             r.batch.grp[(i * 2 + k) * K + j], want);
                /* and the groups of its next slot: the next block's */
                int next = rec % 2 ? -1 : 100 * (block_of[i] + 1) + 10 * rec + j;
                cr_assert_eq(r.batch.next_grp[(i * 2 + k) * K + j], next,
                             "draw %d, record %d, entry %d: next %d, want %d", i, k, j,
                             r.batch.next_grp[(i * 2 + k) * K + j], next);
            }
    afs_replay_free(&r, cpu);
}

/* Terminal blocks (done = 1) are drawable at once, with DONE on their
 * records; their next observations are whatever the next ring slot holds
 * (nothing yet, or the next episode's first block). Blocks 0 .. 5 stored
 * with done 0, 1, 0, 0, 1, 1 in a ring of 3: after each block, the blocks
 * in the slots, the slots' leaves and the drawable rows, by hand. */
Test(replay, terminal_blocks_are_drawable_at_once)
{
    afs_replay r;
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 4, 1, 0, 0.6f, 1e-6f, 12, 0), 0);
    const int done[6] = {0, 1, 0, 0, 1, 1};
    const int held[6][3] = {{0, -1, -1}, {0, 1, -1}, {0, 1, 2}, {3, 1, 2}, {3, 4, 2}, {3, 4, 5}};
    const double leaves[6][3] = {{0, 0, 0}, {1, 1, 0}, {1, 1, 0}, {0, 1, 1}, {1, 1, 1}, {1, 1, 1}};
    const long long rows[6] = {0, 8, 8, 8, 12, 12};
    const int pending[6] = {1, 0, 1, 1, 0, 0};
    for (int n = 0; n < 6; n++) {
        store(&r, n, done[n]);
        char when[32];
        snprintf(when, sizeof when, "after block %d", n);
        cr_assert_eq(r.pending, pending[n], "%s", when);
        cr_assert_eq(afs_replay_rows(&r), rows[n], "%s", when);
        expect_slot_leaves(&r, leaves[n], when);
        if (!rows[n])
            continue;
        /* a batch as large as the drawable rows takes each once, in order */
        afs_replay_sample(&r, cpu, (int)rows[n], 3, 5, (uint32_t)n, 0.4f);
        int i = 0;
        for (int j = 0; j < 12; j++)
            if (leaves[n][j / 4] > 0.0) {
                cr_assert_eq(r.batch.idx[i], j, "%s: draw %d took row %d, want %d", when, i,
                             r.batch.idx[i], j);
                i++;
            }
        check_batch(&r, held[n], done);
    }
    /* Spelled out: after block 1 (terminal, slot 1), its rows' next
     * observations are slot 2's zeros with DONE set; after block 3, block
     * 1's are block 2's (the next episode's first). */
    afs_replay_free(&r, cpu);
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 4, 1, 0, 0.6f, 1e-6f, 12, 0), 0);
    store(&r, 0, 0);
    store(&r, 1, 1);
    afs_replay_sample(&r, cpu, 8, 3, 5, 0, 0.4f);
    cr_assert_eq(r.batch.idx[4], 4);
    cr_assert_eq(r.batch.flags[4] & AFS_RF_DONE, AFS_RF_DONE);
    cr_assert_eq(r.batch.flags[3] & AFS_RF_DONE, 0);
    cr_assert_eq(r.batch.next_obs[4 * OBS + AFS_OBS_K], 0.0f);
    cr_assert_eq(r.batch.next_obs[3 * OBS + AFS_OBS_K], obs_value(1, 3, AFS_OBS_K));
    store(&r, 2, 0);
    store(&r, 3, 0);
    afs_replay_sample(&r, cpu, 8, 3, 5, 0, 0.4f);
    cr_assert_eq(r.batch.idx[0], 4);
    cr_assert_eq(r.batch.flags[0] & AFS_RF_DONE, AFS_RF_DONE);
    cr_assert_eq(r.batch.next_obs[0 * OBS + AFS_OBS_K], obs_value(2, 0, AFS_OBS_K));
    afs_replay_free(&r, cpu);
}

/* ---- The sum tree through the replay ---- */

/* Every internal node is the sum of its children, and (the leaves being
 * multiples of 1/64 below 2^20, every partial sum exact) the root is the
 * sum of the leaves, exactly; the leaves are the model's. */
static void check_tree_exact(const afs_replay *r, const double *model, const char *when, int step)
{
    double sum = 0.0;
    for (int j = 0; j < r->L; j++) {
        cr_assert_eq(leaf(r, j), model[j], "%s %d: leaf %d is %g, want %g", when, step, j,
                     leaf(r, j), model[j]);
        sum += model[j];
    }
    for (int k = 1; k < r->L; k++)
        cr_assert_eq(r->tree[k], r->tree[2 * k] + r->tree[2 * k + 1], "%s %d: node %d", when,
                     step, k);
    cr_assert_eq(r->tree[1], sum, "%s %d: root %.17g, leaves %.17g", when, step, r->tree[1], sum);
}

/* A prioritized replay (alpha 1, eps 0: a priority is |pred - target|)
 * through 300 random steps: stores (terminal one time in four), samples
 * and updates with errors that are multiples of 1/64 (the same error for a
 * row drawn twice). The model of the leaves follows the definition: a
 * block's rows at the running maximum once its next block is stored, or at
 * once when terminal, 0 while it waits; a sampled row at its priority; the
 * running maximum the largest priority so far (from 1). */
Test(replay, sum_tree_follows_stores_and_updates)
{
    enum { S = 5, BLOCK = 6, ROW = 2, ROWS = BLOCK / ROW, B = 7 };
    afs_replay r;
    cr_assert_eq(afs_replay_init(&r, cpu, S, BLOCK, ROW, 1, 1.0f, 0.0f, B, 0), 0);
    cr_assert_eq(r.L, 16);
    double model[16] = {0}, maxp = 1.0;
    int waiting = -1; /* the slot whose rows wait for the next block */
    unsigned seed = 12;
    long long stored = 0;
    for (int step = 0; step < 300; step++) {
        int what = rand_r(&seed) % 3;
        if (what == 0 || afs_replay_rows(&r) == 0 || r.tree[1] == 0.0) {
            int s = r.head, done = rand_r(&seed) % 4 == 0;
            store(&r, (int)(stored++ % 1000), done);
            if (waiting >= 0)
                for (int q = 0; q < ROWS; q++)
                    model[waiting * ROWS + q] = maxp;
            for (int q = 0; q < ROWS; q++)
                model[s * ROWS + q] = done ? maxp : 0.0;
            waiting = done ? -1 : s;
            check_tree_exact(&r, model, "store", step);
        } else {
            afs_replay_sample(&r, cpu, B, 99, 5, (uint32_t)step, 0.5f);
            float pred[B], target[B];
            for (int i = 0; i < B; i++) {
                int j = r.batch.idx[i];
                cr_assert_gt(model[j], 0.0, "step %d drew row %d of leaf 0", step, j);
                /* |pred - target| = a multiple of 1/64 in [0, 8) named by the row and step */
                target[i] = (float)(step % 5) - 2.0f;
                pred[i] = target[i] + (float)((j * 37 + step * 11) % 512) / 64.0f;
            }
            afs_replay_update(&r, cpu, pred, target);
            for (int i = 0; i < B; i++) {
                double p = fabs((double)pred[i] - (double)target[i]);
                model[r.batch.idx[i]] = p;
                maxp = p > maxp ? p : maxp;
            }
            cr_assert_eq(r.max_prio[1], (float)maxp, "step %d: running max %g, want %g", step,
                         r.max_prio[1], maxp);
            check_tree_exact(&r, model, "update", step);
        }
    }
    afs_replay_free(&r, cpu);
}

/* A prioritized replay of 16 rows (2 slots of 8, the second terminal, so
 * that every row may be drawn) whose priorities are set through an update
 * (alpha 1, eps 0) to p[j]: a batch of 16 from 16 equal leaves takes each
 * once, row j as draw j. */
static const float prio16[16] = {3, 0, 1, 4, 0, 0, 2, 5, 1, 0, 6, 2, 0, 7, 3, 0};

static void replay_with_priorities(afs_replay *r, const float *p, int rows)
{
    cr_assert_eq(afs_replay_init(r, cpu, 2, rows / 2, 1, 1, 1.0f, 0.0f, 64, 0), 0);
    store(r, 0, 0);
    store(r, 1, 1);
    cr_assert_eq(afs_replay_rows(r), rows);
    afs_replay_sample(r, cpu, rows, 1, 5, 0, 1.0f);
    float zero[64] = {0};
    for (int i = 0; i < rows; i++)
        cr_assert_eq(r->batch.idx[i], i);
    afs_replay_update(r, cpu, p, zero);
    for (int j = 0; j < rows; j++)
        cr_assert_eq(leaf(r, j), (double)p[j], "leaf %d", j);
}

/* Draws follow the priorities: 2,000 batches of 16 (counters 0 ..
 * 1,999), 32,000 draws over the 10 leaves of nonzero priority (total 34);
 * the 6 leaves of 0 never drawn. Chi-square against the expected counts
 * 32,000 p / 34 below 27.88, the 0.1% critical value of chi-square with 9
 * degrees of freedom. (Stratified draws vary less than independent ones:
 * the test is conservative for a correct sampler; a wrong proportion of
 * one unit of priority, 940 draws, fails it by far.) */
Test(replay, sampling_frequencies_follow_the_priorities)
{
    afs_replay r;
    replay_with_priorities(&r, prio16, 16);
    cr_assert_eq(r.tree[1], 34.0);
    long counts[16] = {0};
    enum { BATCHES = 2000, B = 16 };
    for (uint32_t c = 0; c < BATCHES; c++) {
        afs_replay_sample(&r, cpu, B, 2024, AFS_STREAM_REPLAY, c, 0.4f);
        for (int i = 0; i < B; i++) {
            int j = r.batch.idx[i];
            cr_assert(j >= 0 && j < 16);
            cr_assert_neq(prio16[j], 0.0f, "row %d of priority 0 drawn", j);
            cr_assert_eq(r.prob[i], (float)(prio16[j] / 34.0));
            counts[j]++;
        }
    }
    double chi2 = 0.0;
    for (int j = 0; j < 16; j++) {
        if (prio16[j] == 0.0f)
            continue;
        double expect = (double)BATCHES * B * prio16[j] / 34.0;
        chi2 += (counts[j] - expect) * (counts[j] - expect) / expect;
    }
    cr_assert_lt(chi2, 27.88, "chi-square %g over 9 degrees of freedom", chi2);
    afs_replay_free(&r, cpu);
}

/* Stratified draws: draw i of n falls in the i-th n-th of the total,
 * [i T / n, (i + 1) T / n). Exactly where: at (i + u) T / n with u the
 * Philox uniform of key {seed, stream}, counter {i, counter, 0, 0}
 * (backend.h), on the leaf whose span [sum of the leaves before it, that
 * plus its priority) holds it. With integer priorities and n = 16, T / n
 * and the target are exact, so the leaf is found by a scan of the
 * cumulative sums. */
Test(replay, stratified_draws_fall_in_their_share_of_the_total)
{
    afs_replay r;
    replay_with_priorities(&r, prio16, 16);
    double cum[17] = {0};
    for (int j = 0; j < 16; j++)
        cum[j + 1] = cum[j] + prio16[j];
    const double T = cum[16];
    enum { B = 16 };
    for (uint32_t c = 0; c < 200; c++) {
        afs_replay_sample(&r, cpu, B, 77, 3, c, 0.4f);
        for (int i = 0; i < B; i++) {
            int j = r.batch.idx[i];
            cr_assert(cum[j] < (i + 1) * T / B && cum[j + 1] > i * T / B,
                      "counter %u draw %d took row %d, spanning [%g, %g), outside [%g, %g)", c, i,
                      j, cum[j], cum[j + 1], i * T / B, (i + 1) * T / B);
            double u = afs_u01(afs_philox(77, 3, (uint32_t)i, c, 0, 0).v[0]);
            double target = (i + u) * (T / B);
            int want = 0;
            while (!(cum[want + 1] > target))
                want++;
            cr_assert_eq(j, want, "counter %u draw %d at %.10g: row %d, want %d", c, i, target, j,
                         want);
        }
    }
    afs_replay_free(&r, cpu);
}

/* Importance weights on 4 rows of priorities 1, 2, 3, 4 (total 10):
 * probabilities p / 10 and weights (prob / min prob)^-beta over the batch.
 * A batch of 4 draws one of rows {0, 1}, {1, 2}, {2, 3}, {3}; the counters
 * that drew rows 0, 1, 2, 3 and rows 1, 2, 3, 3 are looked for, and their
 * weights are, by hand:
 *   rows 0 1 2 3, beta 0.4: 1, 2^-0.4, 3^-0.4, 4^-0.4; beta 1: 1, 1/2, 1/3, 1/4
 *   rows 1 2 3 3, beta 0.4: 1, 1.5^-0.4, 2^-0.4, 2^-0.4; beta 1: 1, 2/3, 1/2, 1/2 */
Test(replay, importance_weights_by_hand)
{
    const float p4[4] = {1, 2, 3, 4};
    afs_replay r;
    replay_with_priorities(&r, p4, 4);
    cr_assert_eq(r.tree[1], 10.0);
    const int32_t cases[2][4] = {{0, 1, 2, 3}, {1, 2, 3, 3}};
    const float want[2][2][4] = {
        {{1.0f, 0.757858283f, 0.644394015f, 0.574349177f}, {1.0f, 0.5f, 0.333333333f, 0.25f}},
        {{1.0f, 0.850283000f, 0.757858283f, 0.757858283f}, {1.0f, 0.666666667f, 0.5f, 0.5f}}};
    const float betas[2] = {0.4f, 1.0f};
    for (int k = 0; k < 2; k++) {
        uint32_t c = 0;
        for (; c < 1000; c++) {
            afs_replay_sample(&r, cpu, 4, 5, 6, c, 0.4f);
            if (!memcmp(r.batch.idx, cases[k], sizeof cases[k]))
                break;
        }
        cr_assert_lt(c, 1000u, "no counter below 1000 drew case %d", k);
        for (int bi = 0; bi < 2; bi++) {
            afs_replay_sample(&r, cpu, 4, 5, 6, c, betas[bi]);
            cr_assert_eq(memcmp(r.batch.idx, cases[k], sizeof cases[k]), 0);
            for (int i = 0; i < 4; i++) {
                float prob = p4[cases[k][i]] / 10.0f;
                cr_assert_float_eq(r.prob[i], prob, 1e-7f, "case %d draw %d prob %g", k, i, r.prob[i]);
                cr_assert_float_eq(r.batch.weight[i], want[k][bi][i], 1e-6f,
                                   "case %d beta %g draw %d: weight %.9g, want %.9g", k,
                                   betas[bi], i, r.batch.weight[i], want[k][bi][i]);
            }
        }
    }
    /* beta 0: every weight 1 */
    afs_replay_sample(&r, cpu, 4, 5, 6, 0, 0.0f);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(r.batch.weight[i], 1.0f);
    afs_replay_free(&r, cpu);
}

Test(replay, beta_anneals_linearly_and_is_clamped)
{
    cr_assert_eq(afs_replay_beta(0.4f, 0.0), 0.4f);
    cr_assert_eq(afs_replay_beta(0.4f, 1.0), 1.0f);
    cr_assert_eq(afs_replay_beta(0.4f, 1.5), 1.0f);
    cr_assert_eq(afs_replay_beta(0.4f, 1e300), 1.0f);
    cr_assert_eq(afs_replay_beta(0.4f, -0.25), 0.4f);
    cr_assert_eq(afs_replay_beta(0.4f, -1e300), 0.4f);
    /* 0.4 + 0.6 p */
    cr_assert_float_eq(afs_replay_beta(0.4f, 0.5), 0.7f, 1e-7f);
    cr_assert_float_eq(afs_replay_beta(0.4f, 0.25), 0.55f, 1e-7f);
    cr_assert_float_eq(afs_replay_beta(0.4f, 0.75), 0.85f, 1e-7f);
    cr_assert_float_eq(afs_replay_beta(0.0f, 0.3), 0.3f, 1e-7f);
    cr_assert_eq(afs_replay_beta(1.0f, 0.3), 1.0f);
    /* increasing */
    float last = afs_replay_beta(0.4f, 0.0);
    for (int i = 1; i <= 100; i++) {
        float b = afs_replay_beta(0.4f, i / 100.0);
        cr_assert_geq(b, last, "beta falls at progress %d%%", i);
        last = b;
    }
}

/* Prioritized update (alpha 0.6, eps 0.01): three slots of 4. Blocks 0 and
 * 1 stored (block 0's rows at the running maximum 1); a batch of 4 takes
 * rows 0 .. 3, and TD errors 0.5, 2, 2.5, 0 make their leaves
 * (|d| + 0.01)^0.6 and the running maximum 2.51^0.6 = 1.7370177; the next
 * block opens block 1's rows at that maximum, as does a terminal block;
 * smaller errors later never lower it; a uniform replay's update changes
 * nothing. */
Test(replay, prioritized_update_sets_priorities_and_raises_the_maximum)
{
    afs_replay r;
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 4, 1, 1, 0.6f, 0.01f, 8, 0), 0);
    cr_assert_eq(r.max_prio[0], 1.0f);
    cr_assert_eq(r.max_prio[1], 1.0f, "the running maximum starts at 1");
    store(&r, 0, 0);
    store(&r, 1, 0);
    for (int j = 0; j < 4; j++)
        cr_assert_eq(leaf(&r, j), 1.0);
    afs_replay_sample(&r, cpu, 4, 1, 5, 0, 0.4f);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(r.batch.idx[i], i);
    const float pred[4] = {0.5f, -1.25f, 3.0f, 0.0f}, target[4] = {0.0f, 0.75f, 0.5f, 0.0f};
    const double d[4] = {0.5, 2.0, 2.5, 0.0};
    afs_replay_update(&r, cpu, pred, target);
    double top = 0.0;
    for (int j = 0; j < 4; j++) {
        double want = pow(d[j] + 0.01, 0.6);
        cr_assert(fabs(leaf(&r, j) - want) <= 1e-6 * want, "leaf %d = %.9g, want %.9g", j,
                  leaf(&r, j), want);
        top = want > top ? want : top;
    }
    cr_assert(fabs(top - 1.7370177) < 1e-6, "2.51^0.6 = %.9g", top);
    cr_assert(fabs(r.max_prio[1] - top) <= 1e-6 * top, "running max %.9g, want %.9g",
              r.max_prio[1], top);
    cr_assert_eq(r.max_prio[0], 1.0f, "the uniform leaf value stays 1");
    float maxp = r.max_prio[1];
    store(&r, 2, 0); /* block 1's rows open at the maximum */
    for (int j = 4; j < 8; j++)
        cr_assert_eq(leaf(&r, j), (double)maxp, "leaf %d", j);
    for (int j = 8; j < 12; j++)
        cr_assert_eq(leaf(&r, j), 0.0);
    /* Smaller errors: their priorities, and the maximum stays. */
    afs_replay_sample(&r, cpu, 2, 1, 5, 1, 0.4f);
    const float small[2] = {0.1f, -0.1f}, zero[2] = {0, 0};
    int32_t drawn[2] = {r.batch.idx[0], r.batch.idx[1]};
    afs_replay_update(&r, cpu, small, zero);
    cr_assert_eq(r.max_prio[1], maxp, "the running maximum never falls");
    for (int i = 0; i < 2; i++)
        cr_assert(fabs(leaf(&r, drawn[i]) - pow(0.11, 0.6)) <= 1e-6, "leaf %d", drawn[i]);
    store(&r, 3, 1); /* terminal, over block 0: slot 0 and slot 2 at the maximum */
    for (int j = 0; j < 12; j++)
        if (j < 4 || j >= 8)
            cr_assert_eq(leaf(&r, j), (double)maxp, "leaf %d after a terminal block", j);
    afs_replay_free(&r, cpu);

    /* Uniform: an update leaves the tree as it was. */
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 4, 1, 0, 0.6f, 0.01f, 8, 0), 0);
    store(&r, 0, 0);
    store(&r, 1, 0);
    afs_replay_sample(&r, cpu, 4, 1, 5, 0, 0.4f);
    double before[32];
    memcpy(before, r.tree, sizeof before);
    afs_replay_update(&r, cpu, pred, target);
    cr_assert_eq(memcmp(before, r.tree, sizeof before), 0, "a uniform replay has no priorities");
    cr_assert_eq(r.max_prio[1], 1.0f);
    afs_replay_free(&r, cpu);
}

/* ---- Checkpoints ---- */

/* The bookkeeping goes through meta: sync_meta writes head, blocks and
 * pending; restore_meta brings them back after they were lost. A fresh
 * replay given the checkpointed arrays (ring, tree, priorities, meta)
 * then goes on exactly as the original: the same trees and batches. */
Test(replay, checkpoint_state_round_trips_and_resumes)
{
    enum { S = 4, BLOCK = 6, ROW = 2, B = 5 };
    afs_replay r, q;
    cr_assert_eq(afs_replay_init(&r, cpu, S, BLOCK, ROW, 1, 0.6f, 0.01f, B, 0), 0);
    const int done[7] = {0, 0, 1, 0, 0, 0, 1};
    int n = 0;
    for (; n < 7; n++) {
        store(&r, n, done[n]);
        afs_replay_sync_meta(&r, cpu);
        const int64_t want[4] = {(n + 1) % S, n + 1, !done[n], 0};
        cr_assert_eq(memcmp(r.meta, want, sizeof want), 0,
                     "meta after block %d: %lld %lld %lld %lld", n, (long long)r.meta[0],
                     (long long)r.meta[1], (long long)r.meta[2], (long long)r.meta[3]);
        int head = r.head, pending = r.pending;
        long long blocks = r.blocks;
        r.head = -7;
        r.blocks = 12345;
        r.pending = 9;
        char err[256];
        cr_assert_eq(afs_replay_restore_meta(&r, cpu, err, sizeof err), 0, "%s", err);
        cr_assert(r.head == head && r.blocks == blocks && r.pending == pending,
                  "restored after block %d: %d %lld %d", n, r.head, r.blocks, r.pending);
        if (afs_replay_rows(&r) > 0) {
            afs_replay_sample(&r, cpu, B, 4, 5, (uint32_t)n, 0.5f);
            float pred[B], zero[B] = {0};
            for (int i = 0; i < B; i++)
                pred[i] = 0.25f * (float)(r.batch.idx[i] % 5 + n);
            afs_replay_update(&r, cpu, pred, zero);
        }
    }
    /* Checkpoint (pending = 0 here: block 6 was terminal), then a new
     * replay from it. */
    afs_replay_sync_meta(&r, cpu);
    cr_assert_eq(afs_replay_init(&q, cpu, S, BLOCK, ROW, 1, 0.6f, 0.01f, B, 0), 0);
    cr_assert_eq(q.blob_bytes, r.blob_bytes);
    cpu->copy(cpu, q.blob, r.blob, r.blob_bytes);
    cpu->copy(cpu, q.tree, r.tree, 2 * (size_t)r.L * sizeof(double));
    cpu->copy(cpu, q.max_prio, r.max_prio, 2 * sizeof(float));
    cpu->copy(cpu, q.meta, r.meta, 4 * sizeof(int64_t));
    char err[256];
    cr_assert_eq(afs_replay_restore_meta(&q, cpu, err, sizeof err), 0, "%s", err);
    cr_assert(q.head == r.head && q.blocks == r.blocks && q.pending == r.pending);
    cr_assert_eq(afs_replay_rows(&q), afs_replay_rows(&r));
    cr_assert_eq(afs_replay_records(&q), afs_replay_records(&r));
    afs_replay *both[2] = {&r, &q};
    for (; n < 12; n++) {
        for (int k = 0; k < 2; k++) {
            afs_replay *x = both[k];
            store(x, n, n == 9);
            afs_replay_sample(x, cpu, B, 4, 5, (uint32_t)n, 0.5f);
            float pred[B], zero[B] = {0};
            for (int i = 0; i < B; i++)
                pred[i] = 0.5f * (float)(x->batch.idx[i] % 3 + 1);
            afs_replay_update(x, cpu, pred, zero);
        }
        cr_assert_eq(memcmp(q.tree, r.tree, 2 * (size_t)r.L * sizeof(double)), 0,
                     "trees differ after block %d", n);
        cr_assert_eq(memcmp(q.batch.idx, r.batch.idx, B * sizeof(int32_t)), 0);
        cr_assert_eq(memcmp(q.batch.obs, r.batch.obs, (size_t)B * ROW * OBS * sizeof(float)), 0);
        cr_assert_eq(memcmp(q.batch.next_obs, r.batch.next_obs,
                            (size_t)B * ROW * OBS * sizeof(float)), 0);
        cr_assert_eq(memcmp(q.batch.weight, r.batch.weight, B * sizeof(float)), 0);
        cr_assert_eq(memcmp(q.batch.flags, r.batch.flags, (size_t)B * ROW), 0);
        cr_assert_eq(q.max_prio[1], r.max_prio[1]);
        cr_assert(q.head == r.head && q.blocks == r.blocks && q.pending == r.pending);
    }
    afs_replay_free(&q, cpu);
    afs_replay_free(&r, cpu);
}

/* A prioritized ring of S = 4 slots of 3 environments of 2 records (rows
 * of 2), groups of K = 3 entries: each environment's record 0 initiates a
 * group of both (members 0, 1), record 1 is in none. 6 blocks stored (the
 * ring wrapped; the last is not terminal: it waits for its next
 * observations), a batch drawn and its priorities updated, the state
 * synced into meta: what a checkpoint saves. */
enum { GS = 4, GBLOCK = 6, GROW = 2, GK = 3 };
static void grouped_replay(afs_replay *r)
{
    cr_assert_eq(afs_replay_init(r, cpu, GS, GBLOCK, GROW, 1, 0.6f, 0.01f, 4, GK), 0);
    for (int n = 0; n < 6; n++) {
        float obs[GBLOCK * OBS], rew[GBLOCK];
        uint8_t act[GBLOCK];
        int16_t grp[GBLOCK * GK];
        for (int k = 0; k < GBLOCK; k++) {
            for (int c = 0; c < OBS; c++)
                obs[k * OBS + c] = obs_value(n, k, c);
            rew[k] = rew_value(n, k);
            act[k] = act_value(n, k);
            const int16_t in[GK] = {0, 1, -1}, none[GK] = {-1, -1, -1};
            memcpy(grp + k * GK, k % 2 ? none : in, sizeof in);
        }
        afs_replay_store(r, cpu, obs, act, rew, n == 2, grp);
        float pred[4] = {0.5f, 1.0f, 2.0f, 0.25f}, zero[4] = {0};
        afs_replay_sample(r, cpu, 4, 1, 2, (uint32_t)n, 0.5f);
        afs_replay_update(r, cpu, pred, zero);
    }
    afs_replay_sync_meta(r, cpu);
}

/* Every internal node of the tree the sum of its children again. */
static void fix_tree(afs_replay *r)
{
    for (int p = r->L - 1; p >= 1; p--)
        r->tree[p] = r->tree[2 * p] + r->tree[2 * p + 1];
}

/* Damage number d (0 ..) to the saved state of grouped_replay's ring, as a
 * damaged or crafted checkpoint would bring it; the word the refusal must
 * hold. Head and blocks are checked against the ring's 4 slots (6 blocks
 * stored: head 2, the last block in slot 1 waiting), each leaf of the tree
 * against the rows that can be drawn, each group member against the 2
 * records of its environment. */
static const char *damage(afs_replay *r, int d)
{
    int64_t *meta = r->meta;
    int16_t *g = r->grp;
    const int L = r->L, waiting = 1; /* slot 1: the newest, not terminal */
    switch (d) {
    case 0: meta[0] = 1000000; return "bookkeeping";   /* the heads */
    case 1: meta[0] = -5; return "bookkeeping";
    case 2: meta[0] = 672; return "bookkeeping";
    case 3: meta[0] = 2147483647; return "bookkeeping";
    case 4: meta[0] = 3; return "bookkeeping";         /* in the ring, but not block 6's slot */
    case 5: meta[1] = -1; return "bookkeeping";
    case 6: meta[1] = 7; return "bookkeeping";         /* head 2 is block 6's slot, not 7's */
    case 7: meta[2] = 2; return "bookkeeping";
    case 8: meta[3] = 1; return "bookkeeping";
    case 9: r->max_prio[1] = NAN; return "priorities";
    case 10: r->max_prio[1] = 0.0f; return "priorities";
    case 11: r->max_prio[0] = 2.0f; return "priorities";
    case 12: r->tree[1] = NAN; return "sum tree";
    case 13: r->tree[2] += 1.0; return "sum tree";     /* a sum that is not its children's */
    case 14: r->tree[L + 0] = -1.0; fix_tree(r); return "sum tree";
    case 15: r->tree[L + waiting * 3] = 1.0; fix_tree(r); return "cannot be drawn";
    case 16: r->tree[L + 13] = 1.0; fix_tree(r); return "cannot be drawn"; /* past 12 rows */
    case 17: g[5 * GK + 1] = 0x7f7f; return "groups";  /* the 0x7f bytes */
    case 18: g[0] = 2; return "groups";                /* a member past the environment */
    case 19: g[2 * GK] = -2; return "groups";
    case 20: g[1 * GK + 1] = 0; return "groups";       /* a member after the padding */
    default: return NULL;
    }
}

/* A checkpoint's replay state is checked before it is used: every damage
 * above is refused with a message that says what, and leaves the replay's
 * bookkeeping as it was (before, head 1,000,000 wrote past the ring:
 * SIGSEGV in afs_replay_store; damaged groups overran
 * afs_group_first_rows). The undamaged state restores (the control), and
 * a ring never written (zeros, all its leaves 0) restores too. */
Test(replay, checkpoint_state_out_of_range_is_refused)
{
    afs_replay r, saved;
    grouped_replay(&r);
    grouped_replay(&saved);
    char err[256];
    cr_assert_eq(afs_replay_restore_meta(&r, cpu, err, sizeof err), 0, "%s", err);
    cr_assert(r.head == 2 && r.blocks == 6 && r.pending == 1, "%d %lld %d", r.head, r.blocks,
              r.pending);
    const char *word;
    int d = 0;
    for (; (word = damage(&r, d)) != NULL; d++) {
        r.head = -3;
        r.blocks = -4;
        r.pending = -5;
        err[0] = 0;
        cr_assert_eq(afs_replay_restore_meta(&r, cpu, err, sizeof err), -1, "damage %d restored", d);
        cr_assert(strstr(err, word), "damage %d: '%s' does not say '%s'", d, err, word);
        cr_assert(r.head == -3 && r.blocks == -4 && r.pending == -5, "damage %d changed the "
                  "bookkeeping", d);
        /* undo: the saved twin's arrays */
        cpu->copy(cpu, r.blob, saved.blob, r.blob_bytes);
        cpu->copy(cpu, r.tree, saved.tree, 2 * (size_t)r.L * sizeof(double));
        cpu->copy(cpu, r.max_prio, saved.max_prio, 2 * sizeof(float));
        cpu->copy(cpu, r.meta, saved.meta, 4 * sizeof(int64_t));
        cr_assert_eq(afs_replay_restore_meta(&r, cpu, err, sizeof err), 0, "after damage %d: %s",
                     d, err);
    }
    cr_assert_eq(d, 21);
    afs_replay_free(&saved, cpu);
    afs_replay_free(&r, cpu);
    cr_assert_eq(afs_replay_init(&r, cpu, GS, GBLOCK, GROW, 0, 0.6f, 0.01f, 4, GK), 0);
    afs_replay_sync_meta(&r, cpu);
    cr_assert_eq(afs_replay_restore_meta(&r, cpu, err, sizeof err), 0, "an empty ring: %s", err);
    afs_replay_free(&r, cpu);
}

/* ---- Sizes ---- */

/* A record is obs (10 floats), act (1 byte), rew (1 float), flags (1
 * byte): 46 bytes; a block adds 2 doubles a row for the tree. */
Test(replay, sizes_and_refused_shapes)
{
    cr_assert_eq(afs_replay_record_bytes(0), 10 * 4 + 1 + 4 + 1);
    cr_assert_eq(afs_replay_block_bytes(4, 1, 0), 4 * 46 + 4 * 16);
    cr_assert_eq(afs_replay_block_bytes(6, 2, 0), 6 * 46 + 3 * 16);
    /* A block of 4 rows of 1 costs 248 bytes and up to 64 more for the
     * tree's rounding: 2 slots in 624 bytes, none in 623 (fewer than 2). */
    cr_assert_eq(afs_replay_slots_for(624, 4, 1, 0), 2);
    cr_assert_eq(afs_replay_slots_for(623, 4, 1, 0), 0);
    cr_assert_eq(afs_replay_slots_for(3120, 4, 1, 0), 10);
    /* What slots_for gives fits: the records and the 2 L doubles of the tree. */
    for (size_t budget = 600; budget < 200000; budget = budget * 5 / 4) {
        int s = afs_replay_slots_for(budget, 6, 2, 0);
        if (!s)
            continue;
        long long L = 1;
        while (L < (long long)s * 3)
            L *= 2;
        cr_assert_leq((size_t)s * 6 * afs_replay_record_bytes(0) + 2 * (size_t)L * sizeof(double),
                      budget, "%d slots over %zu bytes", s, budget);
    }
    afs_replay r;
    cr_assert_eq(afs_replay_init(&r, cpu, 1, 4, 1, 0, 0.6f, 0.01f, 4, 0), -1, "one slot");
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 4, 3, 0, 0.6f, 0.01f, 4, 0), -1, "rows that do not divide");
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 0, 1, 0, 0.6f, 0.01f, 4, 0), -1, "empty blocks");
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 4, 0, 0, 0.6f, 0.01f, 4, 0), -1, "empty rows");
    cr_assert_eq(afs_replay_init(&r, cpu, 3, 4, 1, 0, 0.6f, 0.01f, 0, 0), -1, "no batch");
}

/* The sum tree's leaf indices are ints, and its L a power of two at least
 * slots x rows: the rows of a replay must stay within 2^30. A budget of
 * 200 GiB (train.replay_mib allows up to 10^7 MiB) with blocks of 1,000
 * rows must give at most 2^30 / 1,000 slots, and a ring of more than 2^30
 * rows must be refused before anything is allocated (L doubled past 2^30
 * overflowed an int: the loop never ended). */
Test(replay, rows_stay_within_the_trees_int_leaves, .timeout = 10)
{
    const long long cap = 1ll << 30;
    const size_t budgets[3] = {(size_t)200 << 30, (size_t)90 << 30, (size_t)1 << 40};
    for (int k = 0; k < 3; k++) {
        int s = afs_replay_slots_for(budgets[k], 1000, 1, 0);
        cr_assert_gt(s, 1);
        cr_assert_leq((long long)s * 1000, cap, "%d slots of 1,000 rows from %zu bytes", s,
                      budgets[k]);
        s = afs_replay_slots_for(budgets[k], 1000, 10, 0);
        cr_assert_leq((long long)s * 100, cap, "%d slots of 100 rows", s);
    }
    afs_replay r;
    cr_assert_eq(afs_replay_init(&r, cpu, (1 << 20) + 1, 1024, 1, 0, 0.6f, 0.01f, 4, 0), -1,
                 "2^30 + 1,024 rows");
    cr_assert_eq(afs_replay_init(&r, cpu, 1 << 21, 1024, 1, 0, 0.6f, 0.01f, 4, 0), -1,
                 "2^31 rows");
}
