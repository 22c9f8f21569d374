/* The communication-group operations of the CPU backend (kernels/backend.h,
 * "Communication groups"). Formation on small layouts set by hand: the size
 * limit, the range (an EN exactly at range in, one just beyond out), the
 * preference order of categories, nearest first, ties by index, an
 * initiator alone, environments independent; every answer worked out here
 * from the rule, not from the code. The moves of thoughts by hand on two
 * joint rows of 3 ENs (an EN in two groups, one in none, padding); the
 * backwards as adjoints and against finite differences; empty work. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static afs_backend *cpu;
static void open_cpu(void) { cpu = afs_backend_cpu_create(1); }
static void close_cpu(void) { cpu->destroy(cpu); }
TestSuite(groups, .init = open_cpu, .fini = close_cpu);

/* ---- Formation ---- */

enum { MAXN = 16, MAXK = 8 };

/* The groups of E environments of M ENs (E M <= MAXN) at the given
 * positions: an environment descriptor holding only what formation reads.
 * grp, len and chosen start as garbage, so that every entry must be
 * written (and chosen cleared). */
typedef struct formed { int16_t grp[MAXN * MAXK]; int32_t len[MAXN]; } formed;

static formed form(int E, int M, int K, float range, const float *px, const float *py,
                   const uint8_t *init)
{
    afs_env env;
    memset(&env, 0, sizeof env);
    env.E = E;
    env.M = M;
    env.pos_x = (float *)px;
    env.pos_y = (float *)py;
    formed f;
    uint8_t chosen[MAXN];
    memset(f.grp, 0x5A, sizeof f.grp);
    memset(f.len, 0x5A, sizeof f.len);
    memset(chosen, 1, sizeof chosen);
    cpu->form_groups(cpu, &env, K, range, init, chosen, f.grp, f.len);
    return f;
}

/* Row s of f is want (K entries) and its size is len. */
static void expect_row(const formed *f, int K, int s, const int16_t *want, int len)
{
    for (int t = 0; t < K; t++)
        cr_assert_eq(f->grp[s * K + t], want[t], "row %d entry %d: %d, want %d", s, t,
                     f->grp[s * K + t], want[t]);
    cr_assert_eq(f->len[s], len, "row %d: size %d, want %d", s, f->len[s], len);
}

static void expect_no_group(const formed *f, int K, int s)
{
    const int16_t none[MAXK] = {-1, -1, -1, -1, -1, -1, -1, -1};
    expect_row(f, K, s, none, 0);
}

/* Initiator 0 at the origin; squared distances: EN1 (3, 4) 25 = 5^2,
 * exactly at range 5; EN2 (5.0001, 0) just beyond; EN3 1; EN4 4; EN5 8.
 * K = 3 takes the two nearest; K = 6 every EN in range, EN1 last, EN2
 * never, the last entry padding. */
Test(groups, size_limit_and_range)
{
    const float px[6] = {0, 3, 5.0001f, 1, 0, 2}, py[6] = {0, 4, 0, 0, 2, 2};
    const uint8_t init[6] = {1, 0, 0, 0, 0, 0};
    formed f = form(1, 6, 3, 5.0f, px, py, init);
    expect_row(&f, 3, 0, (const int16_t[]){0, 3, 4}, 3);
    for (int s = 1; s < 6; s++)
        expect_no_group(&f, 3, s);
    f = form(1, 6, 6, 5.0f, px, py, init);
    expect_row(&f, 6, 0, (const int16_t[]){0, 3, 4, 5, 1, -1}, 5);
    for (int s = 1; s < 6; s++)
        expect_no_group(&f, 6, s);
}

/* Initiators 0 (0, 0) and 1 (1, 0); range 10, K = 4. Squared distances
 * from EN0: EN1 1, EN2 (0, 0.5) 0.25, EN3 (-2, 0) 4, EN4 (6, 0) 36,
 * EN5 (1, 2) 5; from EN1: EN0 1, EN2 1.25, EN3 9, EN4 25, EN5 4.
 * EN0 first: all of 2, 3, 4, 5 are category 0, so the three nearest:
 * 2, 3, 5 (EN1, an initiator at 1, waits behind them). EN1 next: EN4 is
 * the only category 0 left and comes first though the farthest (25);
 * then category 1, nearest first: EN2 (1.25), EN5 (4); EN0 (category 2)
 * at 1, nearer than both, is not taken. */
Test(groups, categories_before_distance)
{
    const float px[6] = {0, 1, 0, -2, 6, 1}, py[6] = {0, 0, 0.5f, 0, 0, 2};
    const uint8_t init[6] = {1, 1, 0, 0, 0, 0};
    formed f = form(1, 6, 4, 10.0f, px, py, init);
    expect_row(&f, 4, 0, (const int16_t[]){0, 2, 3, 5}, 4);
    expect_row(&f, 4, 1, (const int16_t[]){1, 4, 2, 5}, 4);
    for (int s = 2; s < 6; s++)
        expect_no_group(&f, 4, s);
    /* With room for all (K = 6): EN0 takes the four others nearest first,
     * then the initiator EN1 (at 1) last; every one of them is then
     * category 1 to EN1, which takes them all, EN4 at 25 included, before
     * EN0 (category 2, at 1). */
    f = form(1, 6, 6, 10.0f, px, py, init);
    expect_row(&f, 6, 0, (const int16_t[]){0, 2, 3, 5, 4, 1}, 6);
    expect_row(&f, 6, 1, (const int16_t[]){1, 2, 5, 3, 4, 0}, 6);
}

/* A later initiator is category 2 to an earlier one too: two initiators
 * alone together take each other. */
Test(groups, initiators_take_each_other_last)
{
    const float px[3] = {0, 1, 2}, py[3] = {0, 0, 0};
    const uint8_t init[3] = {1, 1, 0};
    formed f = form(1, 3, 3, 1.5f, px, py, init);
    /* EN0: EN1 (initiator) at 1, EN2 at 4 out of range 1.5^2 = 2.25 */
    expect_row(&f, 3, 0, (const int16_t[]){0, 1, -1}, 2);
    /* EN1: EN2 (category 0) at 1 first, then EN0 (category 2) at 1 */
    expect_row(&f, 3, 1, (const int16_t[]){1, 2, 0}, 3);
    expect_no_group(&f, 3, 2);
}

/* Initiator 3 at (10, 10): EN2 at 1, then EN0 (12, 10), EN1 (10, 8) and
 * EN4 (10, 12) all at 4: index order 0, 1, then 4. */
Test(groups, nearest_first_and_ties_by_index)
{
    const float px[5] = {12, 10, 11, 10, 10}, py[5] = {10, 8, 10, 10, 12};
    const uint8_t init[5] = {0, 0, 0, 1, 0};
    formed f = form(1, 5, 4, 3.0f, px, py, init);
    expect_row(&f, 4, 3, (const int16_t[]){3, 2, 0, 1}, 4);
    f = form(1, 5, 5, 3.0f, px, py, init);
    expect_row(&f, 5, 3, (const int16_t[]){3, 2, 0, 1, 4}, 5);
    for (int s = 0; s < 3; s++)
        expect_no_group(&f, 5, s);
}

/* Nobody within range: a group of one. K = 1: only the initiators, even
 * with neighbours. Range 0 reaches an EN at the same place; a negative
 * range reaches nobody. */
Test(groups, alone_and_size_one)
{
    const float px[3] = {0, 10, 0}, py[3] = {0, 0, 0};
    const uint8_t init[3] = {1, 1, 0};
    formed f = form(1, 3, 3, 9.0f, px, py, init);
    expect_row(&f, 3, 0, (const int16_t[]){0, 2, -1}, 2);
    expect_row(&f, 3, 1, (const int16_t[]){1, -1, -1}, 1);
    f = form(1, 3, 1, 20.0f, px, py, init);
    expect_row(&f, 1, 0, (const int16_t[]){0}, 1);
    expect_row(&f, 1, 1, (const int16_t[]){1}, 1);
    expect_row(&f, 1, 2, (const int16_t[]){-1}, 0);
    f = form(1, 3, 3, 0.0f, px, py, init);
    expect_row(&f, 3, 0, (const int16_t[]){0, 2, -1}, 2);
    f = form(1, 3, 3, -1.0f, px, py, init);
    expect_row(&f, 3, 0, (const int16_t[]){0, -1, -1}, 1);
}

/* Two environments of a real env batch with the same layout, EN0 (0, 0),
 * EN1 (1, 0), EN2 (2, 0), EN3 (0, 3), range 2.5 (squared 6.25), K = 3.
 * Env 0, initiator 0: EN1 at 1, EN2 at 4 (EN3 at 9 out). Env 1,
 * initiators 1 and 2: EN1 takes EN0 (at 1, category 0), then EN2 (at 1,
 * an initiator); EN2 takes EN1 (at 1, an initiator) after EN0 (at 4,
 * chosen by EN1: category 1). Env 0's choices do not make EN0 chosen in
 * env 1, and indices stay local to each environment. */
Test(groups, environments_are_independent)
{
    afs_env env;
    afs_backend *b;
    afs_env_params p = test_params(4);
    test_env_open(&env, &b, &p, 2, 3);
    const float px[4] = {0, 1, 2, 0}, py[4] = {0, 0, 0, 3};
    for (int e = 0; e < 2; e++)
        for (int m = 0; m < 4; m++) {
            env.pos_x[e * 4 + m] = px[m];
            env.pos_y[e * 4 + m] = py[m];
        }
    const uint8_t init[8] = {1, 0, 0, 0, 0, 1, 1, 0};
    uint8_t chosen[8];
    int16_t grp[8 * 3];
    int32_t len[8];
    memset(chosen, 1, sizeof chosen);
    memset(grp, 0x5A, sizeof grp);
    b->form_groups(b, &env, 3, 2.5f, init, chosen, grp, len);
    const int16_t want[8 * 3] = {0, 1, 2, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                 -1, -1, -1, 1, 0, 2, 2, 0, 1, -1, -1, -1};
    const int32_t want_len[8] = {3, 0, 0, 0, 0, 3, 3, 0};
    for (int i = 0; i < 8 * 3; i++)
        cr_assert_eq(grp[i], want[i], "grp[%d] = %d, want %d", i, grp[i], want[i]);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(len[i], want_len[i], "len[%d] = %d, want %d", i, len[i], want_len[i]);
    test_env_close(&env, b);
}

/* A second statement of the rule, by sorting: every candidate in range
 * with its key, sorted, the first K - 1 taken. */
typedef struct cand { int cat; float d2; int j; } cand;

static int cand_order(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->cat != b->cat)
        return a->cat - b->cat;
    if (a->d2 != b->d2)
        return a->d2 < b->d2 ? -1 : 1;
    return a->j - b->j;
}

static void reference_env(int RM, int RK, float range, const float *px, const float *py,
                          const uint8_t *init, int16_t *grp, int32_t *len)
{
    uint8_t chosen[256] = {0};
    cand c[256];
    for (int m = 0; m < RM; m++) {
        int16_t *row = grp + m * RK;
        for (int t = 0; t < RK; t++)
            row[t] = -1;
        len[m] = 0;
        if (!init[m])
            continue;
        int n = 0;
        for (int j = 0; j < RM; j++) {
            float dx = px[j] - px[m], dy = py[j] - py[m], d2 = dx * dx + dy * dy;
            if (j != m && d2 <= range * range)
                c[n++] = (cand){init[j] ? 2 : chosen[j] ? 1 : 0, d2, j};
        }
        qsort(c, (size_t)n, sizeof *c, cand_order);
        row[0] = (int16_t)m;
        len[m] = 1;
        for (int i = 0; i < n && len[m] < RK; i++)
            row[len[m]++] = (int16_t)c[i].j;
        for (int t = 1; t < len[m]; t++)
            chosen[row[t]] = 1;
    }
}

/* 37 environments of 150 ENs (enough work for formation to run on several
 * threads), K = 5, positions uniform or on a 10 m grid (ties, ENs exactly
 * at range), several ranges and initiator densities: the sorting
 * reference's groups. */
Test(groups, formation_matches_a_sorting_reference)
{
    enum { RE = 37, RM = 150, RK = 5, RA = RE * RM };
    static float px[RA], py[RA];
    static uint8_t init[RA], chosen[RA];
    static int16_t grp[RA * RK], want[RA * RK];
    static int32_t len[RA], want_len[RA];
    const float ranges[3] = {20.0f, 50.0f, 300.0f};
    const int density[3] = {10, 40, 100};
    unsigned seed = 9;
    afs_env env;
    memset(&env, 0, sizeof env);
    env.E = RE;
    env.M = RM;
    env.pos_x = px;
    env.pos_y = py;
    for (int trial = 0; trial < 18; trial++) {
        int grid = trial % 2;
        float range = ranges[trial / 2 % 3];
        for (int i = 0; i < RA; i++) {
            px[i] = grid ? 10.0f * (float)(rand_r(&seed) % 30) : (float)(rand_r(&seed) % 100000) / 100.0f;
            py[i] = grid ? 10.0f * (float)(rand_r(&seed) % 30) : (float)(rand_r(&seed) % 100000) / 100.0f;
            init[i] = (uint8_t)(rand_r(&seed) % 100 < density[trial / 6]);
        }
        cpu->form_groups(cpu, &env, RK, range, init, chosen, grp, len);
        for (int e = 0; e < RE; e++)
            reference_env(RM, RK, range, px + e * RM, py + e * RM, init + e * RM,
                          want + e * RM * RK, want_len + e * RM);
        for (int i = 0; i < RA * RK; i++)
            cr_assert_eq(grp[i], want[i], "trial %d: grp[%d] = %d, want %d", trial, i, grp[i],
                         want[i]);
        for (int i = 0; i < RA; i++)
            cr_assert_eq(len[i], want_len[i], "trial %d: len[%d]", trial, i);
    }
}

/* ---- Moving thoughts: two joint rows of M = 3, K = 3, D = 2 ----
 * Row 0 (initiator): members 0, 1, 2 (full); row 2: 2, 1 (EN1 and EN2 are
 * in two groups); row 3: local 0, 2 = global 3, 5; rows 1, 4, 5 are no
 * initiators. EN4 is in no group. */
enum { N = 6, M = 3, K = 3, D = 2 };
static const int16_t GRP[N * K] = {0, 1, 2, -1, -1, -1, 2, 1, -1, 0, 2, -1, -1, -1, -1, -1, -1, -1};

/* h[j][d] = 10 j + d + 1 */
static void thoughts(float *h)
{
    for (int j = 0; j < N; j++)
        for (int d = 0; d < D; d++)
            h[j * D + d] = (float)(10 * j + d + 1);
}

/* y at position (t, s), column d: 100 t^2 + 10 s + d + 1 (nonzero at padding too) */
static void positions(float *y)
{
    for (int t = 0; t < K; t++)
        for (int s = 0; s < N; s++)
            for (int d = 0; d < D; d++)
                y[(t * N + s) * D + d] = (float)(100 * t * t + 10 * s + d + 1);
}

Test(groups, gather_by_hand)
{
    float h[N * D], x[K * N * D];
    thoughts(h);
    memset(x, 0x5A, sizeof x);
    cpu->group_gather(cpu, N, M, K, D, GRP, h, x);
    /* [t][s]: t 0: h0 0 h2 h3 0 0; t 1: h1 0 h1 h5 0 0; t 2: h2 0 0 0 0 0 */
    const float want[K * N * D] = {1, 2, 0, 0, 21, 22, 31, 32, 0, 0, 0, 0,
                                   11, 12, 0, 0, 11, 12, 51, 52, 0, 0, 0, 0,
                                   21, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < K * N * D; i++)
        cr_assert_eq(x[i], want[i], "x[%d] = %g, want %g", i, x[i], want[i]);
}

/* Positions holding each EN: EN0 (t0, s0): y 1, 2. EN1 (t1, s0), (t1, s2):
 * 101 + 121, 102 + 122. EN2 (t2, s0), (t0, s2): 401 + 21, 402 + 22.
 * EN3 (t0, s3): 31, 32. EN5 (t1, s3): 131, 132. EN4: none. Gather's
 * backward adds these to dh (0.5 before); the mean divides them by the
 * counts 1, 2, 2, 1, 0, 1 and gives EN4 its own thought (41, 42). */
Test(groups, gather_backward_and_mean_by_hand)
{
    float y[K * N * D], h[N * D], dh[N * D], out[N * D], count[N];
    positions(y);
    thoughts(h);
    for (int i = 0; i < N * D; i++)
        dh[i] = 0.5f;
    cpu->group_gather_backward(cpu, N, M, K, D, GRP, y, dh);
    const float sums[N * D] = {1, 2, 222, 224, 422, 424, 31, 32, 0, 0, 131, 132};
    for (int i = 0; i < N * D; i++)
        cr_assert_eq(dh[i], sums[i] + 0.5f, "dh[%d] = %g, want %g", i, dh[i], sums[i] + 0.5f);
    memset(out, 0x5A, sizeof out);
    memset(count, 0x5A, sizeof count);
    cpu->group_mean(cpu, N, M, K, D, GRP, y, h, out, count);
    const float want_count[N] = {1, 2, 2, 1, 0, 1};
    const float want[N * D] = {1, 2, 111, 112, 211, 212, 31, 32, 41, 42, 131, 132};
    for (int j = 0; j < N; j++)
        cr_assert_eq(count[j], want_count[j], "count[%d] = %g", j, count[j]);
    for (int i = 0; i < N * D; i++)
        cr_assert_eq(out[i], want[i], "out[%d] = %g, want %g", i, out[i], want[i]);
}

/* dy at each position: its member's dout over its count; 0 at padding;
 * dh gains dout only at EN4 (in no group). */
Test(groups, mean_backward_by_hand)
{
    const float count[N] = {1, 2, 2, 1, 0, 1};
    float dout[N * D], dy[K * N * D], dh[N * D];
    for (int i = 0; i < N * D; i++) {
        dout[i] = (float)(i + 1) * 2.0f; /* EN j: 4j + 2, 4j + 4 */
        dh[i] = -1.0f;
    }
    memset(dy, 0x5A, sizeof dy);
    cpu->group_mean_backward(cpu, N, M, K, D, GRP, count, dout, dy, dh);
    /* t 0: EN0 (2, 4) 0 EN2/2 (5, 6) EN3 (14, 16) 0 0; t 1: EN1/2 (3, 4)
     * 0 EN1/2 (3, 4) EN5 (22, 24) 0 0; t 2: EN2/2 (5, 6), then 0 */
    const float want[K * N * D] = {2, 4, 0, 0, 5, 6, 14, 16, 0, 0, 0, 0,
                                   3, 4, 0, 0, 3, 4, 22, 24, 0, 0, 0, 0,
                                   5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < K * N * D; i++)
        cr_assert_eq(dy[i], want[i], "dy[%d] = %g, want %g", i, dy[i], want[i]);
    for (int i = 0; i < N * D; i++)
        cr_assert_eq(dh[i], i / D == 4 ? -1.0f + dout[i] : -1.0f, "dh[%d] = %g", i, dh[i]);
}

/* v = 1, 2, 4, 8, 16, 32: row 0 (1 + 2 + 4) / 3, row 2 (4 + 2) / 2 = 3,
 * row 3 (8 + 32) / 2 = 20, the others 0. Joint rows' mean |x - y|:
 * (0.5 + 4 + 0) / 3 = 1.5, (1 + 1 + 0.25) / 3 = 0.75. */
Test(groups, average_and_row_mean_abs_diff_by_hand)
{
    const float v[N] = {1, 2, 4, 8, 16, 32};
    float out[N];
    memset(out, 0x5A, sizeof out);
    cpu->group_average(cpu, N, M, K, GRP, v, out);
    const float want[N] = {7.0f / 3.0f, 0, 3, 20, 0, 0};
    for (int s = 0; s < N; s++)
        cr_assert_eq(out[s], want[s], "out[%d] = %.9g, want %.9g", s, out[s], want[s]);
    const float x[6] = {1, -2, 3.5f, 0, 0, 0}, y[6] = {0.5f, 2, 3.5f, 1, -1, 0.25f};
    float td[3] = {-7, -7, -7};
    cpu->row_mean_abs_diff(cpu, 2, 3, x, y, td);
    cr_assert(td[0] == 1.5f && td[1] == 0.75f && td[2] == -7.0f, "td %g %g %g", td[0], td[1],
              td[2]);
}

/* ---- Backwards against their definitions ---- */

static float urand(unsigned *seed) { return (float)(rand_r(seed) % 20001) / 10000.0f - 1.0f; }

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* <gather(h), dx> = <h, gather_backward(dx)> on random groups (members
 * repeated within a row too) of 4 joint rows of 5, K = 4, D = 3. */
Test(groups, gather_backward_is_the_adjoint)
{
    enum { RN = 20, RM = 5, RK = 4, RD = 3 };
    unsigned seed = 11;
    for (int trial = 0; trial < 20; trial++) {
        int16_t grp[RN * RK];
        float h[RN * RD], dx[RK * RN * RD], x[RK * RN * RD], dh[RN * RD] = {0};
        for (int i = 0; i < RN * RK; i++)
            grp[i] = (int16_t)(rand_r(&seed) % (RM + 2) - 2 < 0 ? -1 : rand_r(&seed) % RM);
        for (int i = 0; i < RN * RD; i++)
            h[i] = urand(&seed);
        for (int i = 0; i < RK * RN * RD; i++)
            dx[i] = urand(&seed);
        cpu->group_gather(cpu, RN, RM, RK, RD, grp, h, x);
        cpu->group_gather_backward(cpu, RN, RM, RK, RD, grp, dx, dh);
        double lhs = dot(x, dx, RK * RN * RD), rhs = dot(h, dh, RN * RD);
        cr_assert(fabs(lhs - rhs) <= 1e-5 * fmax(1.0, fabs(lhs)), "trial %d: %.9g vs %.9g", trial,
                  lhs, rhs);
    }
}

/* L = <group_mean(y, h), w>: group_mean_backward's dy and dh against
 * central differences, in every element of y (padding included) and h. */
static double mean_loss(const float *y, const float *h, const float *w)
{
    float out[N * D], count[N];
    cpu->group_mean(cpu, N, M, K, D, GRP, y, h, out, count);
    return dot(out, w, N * D);
}

Test(groups, mean_backward_matches_finite_differences)
{
    unsigned seed = 5;
    float y[K * N * D], h[N * D], w[N * D], out[N * D], count[N], dy[K * N * D], dh[N * D] = {0};
    for (int i = 0; i < K * N * D; i++)
        y[i] = urand(&seed);
    for (int i = 0; i < N * D; i++) {
        h[i] = urand(&seed);
        w[i] = urand(&seed);
    }
    cpu->group_mean(cpu, N, M, K, D, GRP, y, h, out, count);
    cpu->group_mean_backward(cpu, N, M, K, D, GRP, count, w, dy, dh);
    const float eps = 0.0625f;
    for (int i = 0; i < K * N * D; i++) {
        float keep = y[i];
        y[i] = keep + eps;
        double up = mean_loss(y, h, w);
        y[i] = keep - eps;
        double down = mean_loss(y, h, w);
        y[i] = keep;
        double fd = (up - down) / (2.0 * eps);
        cr_assert(fabs(fd - dy[i]) <= 1e-4, "dy[%d]: %.7g, differences %.7g", i, dy[i], fd);
    }
    for (int i = 0; i < N * D; i++) {
        float keep = h[i];
        h[i] = keep + eps;
        double up = mean_loss(y, h, w);
        h[i] = keep - eps;
        double down = mean_loss(y, h, w);
        h[i] = keep;
        double fd = (up - down) / (2.0 * eps);
        cr_assert(fabs(fd - dh[i]) <= 1e-4, "dh[%d]: %.7g, differences %.7g", i, dh[i], fd);
    }
}

/* ---- Empty work ---- */

/* N = 0 (and R = 0, no environments) leaves guarded memory as it was. */
Test(groups, empty_work_touches_nothing)
{
    test_groups_empty_work(cpu);
}
