/* Formation's pick split over a warp's lanes (kernels/cuda/groups_cuda.cu,
 * k_form_groups), emulated here on the CPU: 32 lanes each scan every 32nd
 * candidate (afs_group_next_lanes), then their smallest keys are combined
 * with afs_group_key_min in the butterfly order of __shfl_xor_sync, and in
 * two other orders. Every pick of every initiator's walk through its
 * candidates must be afs_group_next's, the CPU's serial scan: that is what
 * makes CUDA's groups the CPU's, bit for bit. Environments of 1 to 150 ENs
 * (fewer ENs than lanes, one short of a warp, a warp, one more, several),
 * random or stacked positions (ties in distance, ENs at one place), random
 * initiators and chosen flags, ranges that reach nobody, some, everybody. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/groups_math.h"

enum { LANES = 32, MAXM = 150 };

typedef struct layout {
    int M;
    float px[MAXM], py[MAXM];
    uint8_t init[MAXM], chosen[MAXM];
} layout;

static int same_key(afs_group_key a, afs_group_key b)
{
    return a.cat == b.cat && a.d2 == b.d2 && a.j == b.j;
}

/* Each lane's smallest key among its share of the candidates. */
static void lane_keys(const layout *l, int m, float range2, afs_group_key after,
                      afs_group_key *key)
{
    for (int lane = 0; lane < LANES; lane++)
        key[lane] = afs_group_next_lanes(l->M, m, range2, l->px, l->py, l->init, l->chosen,
                                         after, lane, LANES);
}

/* The butterfly of __shfl_xor_sync: at each step every lane combines its
 * key with that of the lane `o` away (both read before either is written).
 * Every lane must end with the same key; returns lane 0's. */
static afs_group_key butterfly(const afs_group_key *key)
{
    afs_group_key k[LANES], next[LANES];
    memcpy(k, key, sizeof k);
    for (int o = LANES / 2; o > 0; o /= 2) {
        for (int lane = 0; lane < LANES; lane++)
            next[lane] = afs_group_key_min(k[lane], k[lane ^ o]);
        memcpy(k, next, sizeof k);
    }
    for (int lane = 1; lane < LANES; lane++)
        cr_assert(same_key(k[lane], k[0]), "lane %d ends with key (%d, %g, %d), lane 0 (%d, %g, %d)",
                  lane, k[lane].cat, k[lane].d2, k[lane].j, k[0].cat, k[0].d2, k[0].j);
    return k[0];
}

/* The lanes' keys combined one at a time in a random order of the lanes,
 * the new key on either side at random. */
static afs_group_key shuffled(const afs_group_key *key, unsigned *seed)
{
    int order[LANES];
    for (int i = 0; i < LANES; i++)
        order[i] = i;
    for (int i = LANES - 1; i > 0; i--) {
        int r = (int)(rand_r(seed) % (unsigned)(i + 1)), t = order[i];
        order[i] = order[r];
        order[r] = t;
    }
    afs_group_key k = key[order[0]];
    for (int i = 1; i < LANES; i++)
        k = rand_r(seed) % 2 ? afs_group_key_min(k, key[order[i]])
                             : afs_group_key_min(key[order[i]], k);
    return k;
}

/* The candidates of m in range: how many picks its walk must make. */
static int in_range(const layout *l, int m, float range2)
{
    int n = 0;
    for (int j = 0; j < l->M; j++) {
        float dx = l->px[j] - l->px[m], dy = l->py[j] - l->py[m];
        n += j != m && dx * dx + dy * dy <= range2;
    }
    return n;
}

/* Initiator m's whole walk (every candidate in range, smallest key first):
 * the lanes' combined picks against afs_group_next's, one by one. Returns
 * the number of picks. */
static int check_walk(const layout *l, int m, float range2, unsigned *seed, const char *what)
{
    afs_group_key after = afs_group_first_key(), key[LANES];
    int picks = 0;
    for (;;) {
        afs_group_key want = afs_group_next(l->M, m, range2, l->px, l->py, l->init, l->chosen,
                                            after);
        lane_keys(l, m, range2, after, key);
        afs_group_key got = butterfly(key), other = shuffled(key, seed);
        cr_assert(same_key(got, want),
                  "%s, M %d, initiator %d, pick %d: lanes give (%d, %g, %d), the scan (%d, %g, %d)",
                  what, l->M, m, picks, got.cat, got.d2, got.j, want.cat, want.d2, want.j);
        cr_assert(same_key(other, want), "%s, M %d, initiator %d, pick %d: another order differs",
                  what, l->M, m, picks);
        if (want.cat > 2)
            break;
        picks++;
        after = want;
    }
    cr_assert_eq(picks, in_range(l, m, range2), "%s, M %d, initiator %d: %d picks, %d in range",
                 what, l->M, m, picks, in_range(l, m, range2));
    return picks;
}

/* Positions uniform on 100 m, or stacked on a 4 x 4 grid 1 m apart (many
 * equal distances, several ENs at one place); initiators and chosen flags
 * each with probability 1 / 3. */
static void random_layout(layout *l, int M, int stacked, unsigned *seed)
{
    l->M = M;
    for (int j = 0; j < M; j++) {
        l->px[j] = stacked ? (float)(rand_r(seed) % 4) : (float)(rand_r(seed) % 100000) / 1000.0f;
        l->py[j] = stacked ? (float)(rand_r(seed) % 4) : (float)(rand_r(seed) % 100000) / 1000.0f;
        l->init[j] = rand_r(seed) % 3 == 0;
        l->chosen[j] = rand_r(seed) % 3 == 0;
    }
}

Test(groups_warp, lanes_pick_as_the_serial_scan)
{
    const int sizes[6] = {1, 5, 31, 32, 33, 150};
    /* nobody (negative), the same place only (0), some, everybody */
    const float ranges[5] = {-1.0f, 0.0f, 1.5f, 30.0f, 1.0e6f};
    unsigned seed = 23;
    long total = 0, ties = 0;
    for (int si = 0; si < 6; si++)
        for (int stacked = 0; stacked < 2; stacked++)
            for (int ri = 0; ri < 5; ri++)
                for (int trial = 0; trial < 3; trial++) {
                    layout l;
                    random_layout(&l, sizes[si], stacked, &seed);
                    float range2 = afs_group_range2(ranges[ri]);
                    int reach_all = ranges[ri] > 1000.0f;
                    for (int m = 0; m < l.M; m++) {
                        int picks = check_walk(&l, m, range2, &seed,
                                               stacked ? "stacked" : "uniform");
                        cr_assert(!reach_all || picks == l.M - 1,
                                  "range %g reaches %d of %d", ranges[ri], picks, l.M - 1);
                        cr_assert(ranges[ri] >= 0.0f || picks == 0, "a negative range reached %d",
                                  picks);
                        total += picks;
                        ties += stacked && ri == 1 ? picks : 0;
                    }
                }
    /* The walks made picks, among them ENs at the initiator's place (d2 0
     * with range 0: ties decided by category and index). */
    cr_assert_gt(total, 10000, "only %ld picks", total);
    cr_assert_gt(ties, 100, "only %ld picks at distance 0", ties);
}

/* afs_group_key_min takes the smaller key whichever side it is on: category
 * first, then distance, then index. */
Test(groups_warp, key_min_by_hand)
{
    const afs_group_key pairs[4][2] = {
        {{0, 9.0f, 7}, {1, 0.0f, 0}},   /* category decides */
        {{1, 2.0f, 7}, {1, 3.0f, 0}},   /* then distance */
        {{2, 4.0f, 3}, {2, 4.0f, 5}},   /* then index */
        {{2, 0.0f, 40}, {3, 0.0f, -1}}, /* any candidate before none */
    };
    for (int i = 0; i < 4; i++) {
        cr_assert(same_key(afs_group_key_min(pairs[i][0], pairs[i][1]), pairs[i][0]), "pair %d", i);
        cr_assert(same_key(afs_group_key_min(pairs[i][1], pairs[i][0]), pairs[i][0]),
                  "pair %d swapped", i);
    }
}
