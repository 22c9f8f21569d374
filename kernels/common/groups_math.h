/* Communication groups of AM-DRL (kernels/backend.h, "Communication
 * groups"), written once for both backends: forming the groups of one
 * environment, and the moves between ENs' thoughts h [N, D] and the
 * channel's sequences x [K, N, D] (time-major, the LSTM's layout).
 *
 * Rows come in joint rows of M (an environment's ENs, or one replayed slot
 * of them): row s is in joint row s / M. grp [N, K] lists initiator s's
 * group as local indices within its joint row, s's own first, -1 padded;
 * the global row of entry t is (s / M) M + grp[s K + t].
 *
 * Formation rule. The initiators of an environment are taken in index
 * order. Initiator m's group is m, then up to K - 1 other ENs j of its
 * environment with dx^2 + dy^2 <= range^2, smallest key first, the key
 * being (category, squared distance, j): category 0 for an EN that is not
 * an initiator and that no earlier initiator chose, 1 for one an earlier
 * initiator chose, 2 for an initiator. ENs nobody has yet are preferred,
 * so that groups spread over the ENs (ATOC); the nearer first, since they
 * hear each other best. The initiators are taken one after another:
 * whether j is category 0 or 1 for initiator m depends on every earlier
 * initiator's picks. Each pick is a search for the smallest key, which may
 * be split over the candidates, since keys are distinct (the index decides
 * last): the smallest of the parts' smallest keys is the smallest of all,
 * whatever the split and the order of combining. The CPU runs one
 * environment per thread, scanning every candidate in turn; CUDA runs one
 * per warp, its 32 lanes each scanning every 32nd candidate. Beyond the
 * squared distances (float, computed alike on both backends) it is
 * integers only: the same groups on every backend, bit for bit.
 *
 * The sums over a member's positions run in a fixed order, positions (s,
 * t) of its joint row with s, then t, increasing, each added in turn: one
 * thread per joint row and column on CUDA (no atomics), the same order as
 * the CPU's loop, so the same bits. */
#ifndef AFS_GROUPS_MATH_H
#define AFS_GROUPS_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "afs_hd.h"

/* Largest group: the channel's sequences are at most this long. */
#define AFS_GROUP_MAX 16

/* The global row of member t of row s, or -1 at padding. */
AFS_HD int afs_group_member(const int16_t *grp, int M, int K, int s, int t)
{
    int local = grp[(size_t)s * K + t];
    return local < 0 ? -1 : s / M * M + local;
}

/* The first of the N rows of grp [N, K] that the readers above cannot take
 * (a member outside [0, M), or one after a -1: a group's members are the
 * first entries, its size their count), or -1 when all can. What a
 * checkpoint's replayed groups are checked with before any is read. */
AFS_HD long afs_group_rows_check(const int16_t *grp, int N, int M, int K)
{
    for (int s = 0; s < N; s++)
        for (int t = 0, padded = 0; t < K; t++) {
            int local = grp[(size_t)s * K + t];
            if (local < -1 || local >= M || (padded && local >= 0))
                return s;
            padded |= local < 0;
        }
    return -1;
}

/* first[j] for the N ENs of groups grp [N, K]: the row of the first group
 * that holds EN j (the lowest-numbered initiator's, whose integrated
 * thought it acts on), or -1 in none. Host-side bookkeeping of AM-DRL and
 * of the trace. */
AFS_HD void afs_group_first_rows(const int16_t *grp, int N, int M, int K, int32_t *first)
{
    for (int i = 0; i < N; i++)
        first[i] = -1;
    for (int s = 0; s < N; s++)
        for (int t = 0; t < K; t++) {
            int j = afs_group_member(grp, M, K, s, t);
            if (j >= 0 && first[j] < 0)
                first[j] = s;
        }
}

/* ---- Formation ---- */

/* The order in which an initiator takes candidates: category, then
 * squared distance, then index. */
typedef struct afs_group_key {
    int cat;
    float d2;
    int j;
} afs_group_key;

AFS_HD int afs_group_key_before(afs_group_key a, afs_group_key b)
{
    if (a.cat != b.cat)
        return a.cat < b.cat;
    if (a.d2 != b.d2)
        return a.d2 < b.d2;
    return a.j < b.j;
}

/* The squared range that afs_group_next compares squared distances with;
 * a negative range reaches nobody (no squared distance is <= -1). */
AFS_HD float afs_group_range2(float range_m)
{
    return range_m >= 0.0f ? range_m * range_m : -1.0f;
}

/* The first key, before every candidate's: the walk's start. */
AFS_HD afs_group_key afs_group_first_key(void)
{
    afs_group_key k = {-1, 0.0f, -1};
    return k;
}

/* The smaller of two keys. Combines the smallest keys that lanes found
 * among their shares of the candidates: keys are distinct (or both are the
 * cat 3 "none"), so the order of combining does not change the result. */
AFS_HD afs_group_key afs_group_key_min(afs_group_key a, afs_group_key b)
{
    return afs_group_key_before(b, a) ? b : a;
}

/* The smallest key after `after` among the ENs in range that are among
 * j = j0, j0 + stride, ...: one lane's share of initiator m's next pick
 * (afs_group_next); cat 3 when none is left. */
AFS_HD afs_group_key afs_group_next_lanes(int M, int m, float range2, const float *px,
                                          const float *py, const uint8_t *init,
                                          const uint8_t *chosen, afs_group_key after, int j0,
                                          int stride)
{
    afs_group_key best = {3, 0.0f, -1};
    for (int j = j0; j < M; j += stride) {
        float dx = px[j] - px[m], dy = py[j] - py[m];
        float d2 = dx * dx + dy * dy;
        if (j == m || !(d2 <= range2))
            continue;
        afs_group_key k = {init[j] ? 2 : chosen[j] ? 1 : 0, d2, j};
        if (afs_group_key_before(after, k) && afs_group_key_before(k, best))
            best = k;
    }
    return best;
}

/* Initiator m's next pick: the smallest key after `after` among the ENs in
 * range; cat 3 when none is left. Keys are distinct (the index decides
 * last), so taking the smallest key after the last pick walks the sorted
 * order without marking what was picked. */
AFS_HD afs_group_key afs_group_next(int M, int m, float range2, const float *px, const float *py,
                                    const uint8_t *init, const uint8_t *chosen, afs_group_key after)
{
    return afs_group_next_lanes(M, m, range2, px, py, init, chosen, after, 0, 1);
}

/* Row m of an environment: initiator m and its picks, -1 padded; returns
 * the group's size. Its picks count as chosen only after the row is
 * complete (the category is "chosen by an EARLIER initiator"). */
AFS_HD int afs_group_form_row(int M, int K, int m, float range2, const float *px, const float *py,
                              const uint8_t *init, uint8_t *chosen, int16_t *row)
{
    int n = 1;
    row[0] = (int16_t)m;
    afs_group_key last = afs_group_first_key();
    while (n < K) {
        last = afs_group_next(M, m, range2, px, py, init, chosen, last);
        if (last.cat > 2)
            break;
        row[n++] = (int16_t)last.j;
    }
    for (int t = n; t < K; t++)
        row[t] = -1;
    for (int t = 1; t < n; t++)
        chosen[row[t]] = 1;
    return n;
}

/* The groups of one environment; every pointer is at its first EN (grp at
 * its first row). chosen is cleared here. */
AFS_HD void afs_group_form_env(int M, int K, float range_m, const float *px, const float *py,
                               const uint8_t *init, uint8_t *chosen, int16_t *grp, int32_t *len)
{
    float range2 = afs_group_range2(range_m);
    for (int m = 0; m < M; m++)
        chosen[m] = 0;
    for (int m = 0; m < M; m++) {
        int16_t *row = grp + (size_t)m * K;
        if (init[m]) {
            len[m] = afs_group_form_row(M, K, m, range2, px, py, init, chosen, row);
        } else {
            len[m] = 0;
            for (int t = 0; t < K; t++)
                row[t] = -1;
        }
    }
}

/* ---- Moving thoughts. [d0, d1) is the span of columns a call does: all
 * of them on the CPU, one per thread on CUDA. ---- */

/* Position (s, t) of x [K, N, D]: its member's thought, 0 at padding. */
AFS_HD void afs_group_gather_pos(const int16_t *grp, const float *h, int N, int M, int K, int D,
                                 int t, int s, int d0, int d1, float *x)
{
    int g = afs_group_member(grp, M, K, s, t);
    float *xp = x + ((size_t)t * N + s) * D;
    for (int d = d0; d < d1; d++)
        xp[d] = g >= 0 ? h[(size_t)g * D + d] : 0.0f;
}

/* dst[g] += src at every position (s, t) of joint row r whose member is g,
 * in order s, then t: group_gather's adjoint, and group_mean's sums. */
AFS_HD void afs_group_add_joint_row(const int16_t *grp, const float *src, int N, int M, int K,
                                    int D, int r, int d0, int d1, float *dst)
{
    for (int s = r * M; s < (r + 1) * M; s++)
        for (int t = 0; t < K; t++) {
            int g = afs_group_member(grp, M, K, s, t);
            if (g < 0)
                continue;
            const float *sp = src + ((size_t)t * N + s) * D;
            for (int d = d0; d < d1; d++)
                dst[(size_t)g * D + d] += sp[d];
        }
}

/* count[j] = the positions holding j, for the ENs of joint row r. */
AFS_HD void afs_group_count_joint_row(const int16_t *grp, int M, int K, int r, float *count)
{
    for (int j = r * M; j < (r + 1) * M; j++)
        count[j] = 0.0f;
    for (int s = r * M; s < (r + 1) * M; s++)
        for (int t = 0; t < K; t++) {
            int g = afs_group_member(grp, M, K, s, t);
            if (g >= 0)
                count[g] += 1.0f;
        }
}

/* out over joint row r: the mean of each EN's integrated thoughts y, or its
 * own thought h where it is in no group. count from
 * afs_group_count_joint_row. */
AFS_HD void afs_group_mean_joint_row(const int16_t *grp, const float *y, const float *h,
                                     const float *count, int N, int M, int K, int D, int r, int d0,
                                     int d1, float *out)
{
    for (int j = r * M; j < (r + 1) * M; j++)
        for (int d = d0; d < d1; d++)
            out[(size_t)j * D + d] = 0.0f;
    afs_group_add_joint_row(grp, y, N, M, K, D, r, d0, d1, out);
    for (int j = r * M; j < (r + 1) * M; j++)
        for (int d = d0; d < d1; d++) {
            size_t i = (size_t)j * D + d;
            out[i] = count[j] > 0.0f ? out[i] / count[j] : h[i];
        }
}

/* dL/dy at position (s, t): its member's dL/dout shared by its count. */
AFS_HD void afs_group_mean_grad_pos(const int16_t *grp, const float *count, const float *dout,
                                    int N, int M, int K, int D, int t, int s, int d0, int d1,
                                    float *dy)
{
    int g = afs_group_member(grp, M, K, s, t);
    float *yp = dy + ((size_t)t * N + s) * D;
    for (int d = d0; d < d1; d++)
        yp[d] = g >= 0 ? dout[(size_t)g * D + d] / count[g] : 0.0f;
}

/* An EN in no group passed its own thought through: dL/dh += dL/dout. */
AFS_HD void afs_group_alone_grad(const float *count, const float *dout, int D, int j, int d0,
                                 int d1, float *dh)
{
    if (count[j] != 0.0f)
        return;
    for (int d = d0; d < d1; d++)
        dh[(size_t)j * D + d] += dout[(size_t)j * D + d];
}

/* The mean of v over row s's members, in t order; 0 for an empty row. */
AFS_HD float afs_group_average_row(const int16_t *grp, const float *v, int M, int K, int s)
{
    float sum = 0.0f;
    int n = 0;
    for (int t = 0; t < K; t++) {
        int g = afs_group_member(grp, M, K, s, t);
        if (g >= 0) {
            sum += v[g];
            n++;
        }
    }
    return n ? sum / (float)n : 0.0f;
}

/* (sum over m in order of |x[m] - y[m]|) / M, in float; 0 when M = 0. */
AFS_HD float afs_row_mean_abs_diff(const float *x, const float *y, int M)
{
    float sum = 0.0f;
    for (int m = 0; m < M; m++)
        sum += fabsf(x[m] - y[m]);
    return M > 0 ? sum / (float)M : 0.0f;
}

#endif
