/* The CUDA backend's communication-group operations (kernels/backend.h,
 * "Communication groups"): kernels over kernels/common/groups_math.h.
 * Formation runs one warp per environment: its initiators one after
 * another (an initiator's choice depends on every earlier initiator's),
 * each pick a search for the smallest key split over the warp's lanes and
 * combined with shuffles, the same pick as the CPU's scan. Elementwise
 * moves run one thread per element; sums over an EN's positions run one
 * thread per joint row and column, which walks the joint row's positions
 * in the CPU's order: no atomics, the same bits as the CPU. */
#include <stdint.h>

#include "../common/groups_math.h"
#include "cuda_check.h"
#include "groups_cuda.h"

#define THREADS 256
/* Formation: one warp per environment, a few per block, so that a few
 * hundred environments still spread over every multiprocessor. */
#define WARP 32
#define FORM_THREADS (4 * WARP)
#define FULL_MASK 0xffffffffu
/* Lane t holds entry t of the row being formed. */
static_assert(AFS_GROUP_MAX <= WARP, "a group's entries must fit in a warp's lanes");

static unsigned blocks_for(size_t n, unsigned threads) { return (unsigned)((n + threads - 1) / threads); }

/* Launches kernel over n items, one thread each, or nothing when n = 0. */
#define LAUNCH_N(n, threads, kernel, ...)                                \
    do {                                                                 \
        if ((n) > 0) {                                                   \
            kernel<<<blocks_for(n, threads), threads>>>(__VA_ARGS__);    \
            CUDA_CHECK_LAUNCH();                                         \
        }                                                                \
    } while (0)

static __device__ size_t thread_index(void) { return blockIdx.x * (size_t)blockDim.x + threadIdx.x; }

/* The warp-wide smallest of the lanes' keys, in every lane: a butterfly
 * over the key's three fields. */
static __device__ afs_group_key warp_min_key(afs_group_key k)
{
    for (int o = WARP / 2; o > 0; o /= 2) {
        afs_group_key other;
        other.cat = __shfl_xor_sync(FULL_MASK, k.cat, o);
        other.d2 = __shfl_xor_sync(FULL_MASK, k.d2, o);
        other.j = __shfl_xor_sync(FULL_MASK, k.j, o);
        k = afs_group_key_min(k, other);
    }
    return k;
}

/* Initiator m's row (afs_group_form_row) by one warp. Each pick: every
 * lane scans every WARP-th candidate, then the warp takes the smallest
 * key; all lanes then hold the same key, so the loop is the same in every
 * lane. Lane t keeps entry t, then writes it and (a pick) marks it chosen:
 * only once the row is complete, as on the CPU. */
static __device__ void form_row_warp(int M, int K, int m, float range2, const float *px,
                                     const float *py, const uint8_t *init, uint8_t *chosen,
                                     int16_t *row, int32_t *len, int lane)
{
    int n = 1, mine = lane == 0 ? m : -1;
    afs_group_key last = afs_group_first_key();
    while (n < K) {
        last = warp_min_key(
            afs_group_next_lanes(M, m, range2, px, py, init, chosen, last, lane, WARP));
        if (last.cat > 2)
            break;
        if (lane == n)
            mine = last.j;
        n++;
    }
    if (lane < K)
        row[lane] = (int16_t)mine;
    if (lane > 0 && lane < n)
        chosen[mine] = 1;
    if (lane == 0)
        *len = n;
}

/* afs_group_form_env with one warp per environment (blockDim.x a multiple
 * of WARP, so that a warp is all in or all out). The lanes clear chosen
 * and fill the non-initiators' rows in parallel, then form the initiators'
 * rows in index order. __syncwarp orders each row's chosen marks (and the
 * clearing) before the next row's scans read them. */
__global__ void k_form_groups(int E, int M, int K, float range_m, const float *px,
                              const float *py, const uint8_t *init, uint8_t *chosen,
                              int16_t *grp, int32_t *len)
{
    size_t e = thread_index() / WARP;
    int lane = (int)(threadIdx.x % WARP);
    if (e >= (size_t)E)
        return;
    size_t at = e * M;
    px += at;
    py += at;
    init += at;
    chosen += at;
    grp += at * K;
    len += at;
    float range2 = afs_group_range2(range_m);
    for (int j = lane; j < M; j += WARP) {
        chosen[j] = 0;
        if (!init[j])
            len[j] = 0;
    }
    for (size_t i = (size_t)lane; i < (size_t)M * K; i += WARP)
        if (!init[i / K])
            grp[i] = -1;
    __syncwarp();
    for (int m = 0; m < M; m++)
        if (init[m]) {
            form_row_warp(M, K, m, range2, px, py, init, chosen, grp + (size_t)m * K, len + m,
                          lane);
            __syncwarp();
        }
}

static void form_groups(afs_backend *b, const afs_env *env, int K, float range_m,
                        const uint8_t *init, uint8_t *chosen, int16_t *grp, int32_t *len)
{
    (void)b;
    int E = env->E, M = env->M;
    if (E <= 0 || M <= 0 || K <= 0)
        return;
    LAUNCH_N((size_t)E * WARP, FORM_THREADS, k_form_groups, E, M, K, range_m, env->pos_x,
             env->pos_y, init, chosen, grp, len);
}

/* Item i of [K, N, D] as (t, s, d), d fastest: neighbouring threads touch
 * neighbouring floats. */
__global__ void k_gather(size_t total, int N, int M, int K, int D, const int16_t *grp,
                         const float *h, float *x)
{
    size_t i = thread_index();
    if (i >= total)
        return;
    int d = (int)(i % D), s = (int)(i / D % N), t = (int)(i / D / N);
    afs_group_gather_pos(grp, h, N, M, K, D, t, s, d, d + 1, x);
}

static void group_gather(afs_backend *b, int N, int M, int K, int D, const int16_t *grp,
                         const float *h, float *x)
{
    (void)b;
    if (N <= 0 || M <= 0 || K <= 0 || D <= 0)
        return;
    size_t total = (size_t)K * N * D;
    LAUNCH_N(total, THREADS, k_gather, total, N, M, K, D, grp, h, x);
}

/* One thread per (joint row, column): the only writer of its column of
 * the joint row's ENs. */
__global__ void k_add_joint_rows(size_t total, int N, int M, int K, int D, const int16_t *grp,
                                 const float *src, float *dst)
{
    size_t i = thread_index();
    if (i >= total)
        return;
    int d = (int)(i % D), r = (int)(i / D);
    afs_group_add_joint_row(grp, src, N, M, K, D, r, d, d + 1, dst);
}

static void group_gather_backward(afs_backend *b, int N, int M, int K, int D, const int16_t *grp,
                                  const float *dx, float *dh)
{
    (void)b;
    if (N <= 0 || M <= 0 || K <= 0 || D <= 0)
        return;
    size_t total = (size_t)(N / M) * D;
    LAUNCH_N(total, THREADS, k_add_joint_rows, total, N, M, K, D, grp, dx, dh);
}

__global__ void k_count(int R, int M, int K, const int16_t *grp, float *count)
{
    size_t r = thread_index();
    if (r < (size_t)R)
        afs_group_count_joint_row(grp, M, K, (int)r, count);
}

__global__ void k_mean(size_t total, int N, int M, int K, int D, const int16_t *grp,
                       const float *y, const float *h, const float *count, float *out)
{
    size_t i = thread_index();
    if (i >= total)
        return;
    int d = (int)(i % D), r = (int)(i / D);
    afs_group_mean_joint_row(grp, y, h, count, N, M, K, D, r, d, d + 1, out);
}

/* Counts first, for every column's thread to divide by. */
static void group_mean(afs_backend *b, int N, int M, int K, int D, const int16_t *grp,
                       const float *y, const float *h, float *out, float *count)
{
    (void)b;
    if (N <= 0 || M <= 0)
        return;
    int R = N / M;
    LAUNCH_N((size_t)R, THREADS, k_count, R, M, K, grp, count);
    size_t total = D > 0 ? (size_t)R * D : 0;
    LAUNCH_N(total, THREADS, k_mean, total, N, M, K, D, grp, y, h, count, out);
}

__global__ void k_mean_grad(size_t total, int N, int M, int K, int D, const int16_t *grp,
                            const float *count, const float *dout, float *dy)
{
    size_t i = thread_index();
    if (i >= total)
        return;
    int d = (int)(i % D), s = (int)(i / D % N), t = (int)(i / D / N);
    afs_group_mean_grad_pos(grp, count, dout, N, M, K, D, t, s, d, d + 1, dy);
}

__global__ void k_alone_grad(size_t total, int D, const float *count, const float *dout,
                             float *dh)
{
    size_t i = thread_index();
    if (i >= total)
        return;
    int d = (int)(i % D), j = (int)(i / D);
    afs_group_alone_grad(count, dout, D, j, d, d + 1, dh);
}

static void group_mean_backward(afs_backend *b, int N, int M, int K, int D, const int16_t *grp,
                                const float *count, const float *dout, float *dy, float *dh)
{
    (void)b;
    if (N <= 0 || M <= 0 || D <= 0)
        return;
    size_t total = (size_t)K * N * D;
    LAUNCH_N(K > 0 ? total : 0, THREADS, k_mean_grad, total, N, M, K, D, grp, count, dout, dy);
    total = (size_t)N * D;
    LAUNCH_N(total, THREADS, k_alone_grad, total, D, count, dout, dh);
}

__global__ void k_average(int N, int M, int K, const int16_t *grp, const float *v, float *out)
{
    size_t s = thread_index();
    if (s < (size_t)N)
        out[s] = afs_group_average_row(grp, v, M, K, (int)s);
}

static void group_average(afs_backend *b, int N, int M, int K, const int16_t *grp,
                          const float *v, float *out)
{
    (void)b;
    if (N <= 0 || M <= 0)
        return;
    LAUNCH_N((size_t)N, THREADS, k_average, N, M, K, grp, v, out);
}

__global__ void k_row_mean_abs_diff(int R, int M, const float *x, const float *y, float *out)
{
    size_t r = thread_index();
    if (r < (size_t)R)
        out[r] = afs_row_mean_abs_diff(x + r * M, y + r * M, M);
}

static void row_mean_abs_diff(afs_backend *b, int R, int M, const float *x, const float *y,
                              float *out)
{
    (void)b;
    if (R <= 0)
        return;
    LAUNCH_N((size_t)R, THREADS, k_row_mean_abs_diff, R, M, x, y, out);
}

void afs_groups_cuda_install(afs_backend *b)
{
    b->form_groups = form_groups;
    b->group_gather = group_gather;
    b->group_gather_backward = group_gather_backward;
    b->group_mean = group_mean;
    b->group_mean_backward = group_mean_backward;
    b->group_average = group_average;
    b->row_mean_abs_diff = row_mean_abs_diff;
}
