/* The CPU backend's communication-group operations (kernels/backend.h,
 * "Communication groups"): plain loops over kernels/common/groups_math.h,
 * every column of a row at once; sums in the order groups_math.h gives,
 * the reference for CUDA. */
#include "../backend.h"
#include "../common/groups_math.h"
#include "groups_cpu.h"

/* Formation is O(M^2 K) per environment: environments are independent, so
 * many of them run in parallel; each one's groups do not depend on the
 * thread count. */
#define FORM_PARALLEL_WORK 1.0e6

static void form_groups(afs_backend *b, const afs_env *env, int K, float range_m,
                        const uint8_t *init, uint8_t *chosen, int16_t *grp, int32_t *len)
{
    (void)b;
    int E = env->E, M = env->M;
    if (E <= 0 || M <= 0 || K <= 0)
        return;
    const float *px = env->pos_x, *py = env->pos_y;
    #pragma omp parallel for schedule(static) if (E > 1 && (double)E * M * M * K >= FORM_PARALLEL_WORK)
    for (int e = 0; e < E; e++) {
        size_t at = (size_t)e * M;
        afs_group_form_env(M, K, range_m, px + at, py + at, init + at, chosen + at,
                           grp + at * K, len + at);
    }
}

static void group_gather(afs_backend *b, int N, int M, int K, int D, const int16_t *grp,
                         const float *h, float *x)
{
    (void)b;
    if (M <= 0 || D <= 0)
        return;
    for (int t = 0; t < K; t++)
        for (int s = 0; s < N; s++)
            afs_group_gather_pos(grp, h, N, M, K, D, t, s, 0, D, x);
}

static void group_gather_backward(afs_backend *b, int N, int M, int K, int D, const int16_t *grp,
                                  const float *dx, float *dh)
{
    (void)b;
    if (M <= 0 || D <= 0)
        return;
    for (int r = 0; r < N / M; r++)
        afs_group_add_joint_row(grp, dx, N, M, K, D, r, 0, D, dh);
}

static void group_mean(afs_backend *b, int N, int M, int K, int D, const int16_t *grp,
                       const float *y, const float *h, float *out, float *count)
{
    (void)b;
    if (M <= 0)
        return;
    for (int r = 0; r < N / M; r++) {
        afs_group_count_joint_row(grp, M, K, r, count);
        afs_group_mean_joint_row(grp, y, h, count, N, M, K, D, r, 0, D, out);
    }
}

static void group_mean_backward(afs_backend *b, int N, int M, int K, int D, const int16_t *grp,
                                const float *count, const float *dout, float *dy, float *dh)
{
    (void)b;
    if (M <= 0 || D <= 0)
        return;
    for (int t = 0; t < K; t++)
        for (int s = 0; s < N; s++)
            afs_group_mean_grad_pos(grp, count, dout, N, M, K, D, t, s, 0, D, dy);
    for (int j = 0; j < N; j++)
        afs_group_alone_grad(count, dout, D, j, 0, D, dh);
}

static void group_average(afs_backend *b, int N, int M, int K, const int16_t *grp,
                          const float *v, float *out)
{
    (void)b;
    if (M <= 0)
        return;
    for (int s = 0; s < N; s++)
        out[s] = afs_group_average_row(grp, v, M, K, s);
}

static void row_mean_abs_diff(afs_backend *b, int R, int M, const float *x, const float *y,
                              float *out)
{
    (void)b;
    for (int r = 0; r < R; r++)
        out[r] = afs_row_mean_abs_diff(x + (size_t)r * M, y + (size_t)r * M, M);
}

void afs_groups_cpu_install(afs_backend *b)
{
    b->form_groups = form_groups;
    b->group_gather = group_gather;
    b->group_gather_backward = group_gather_backward;
    b->group_mean = group_mean;
    b->group_mean_backward = group_mean_backward;
    b->group_average = group_average;
    b->row_mean_abs_diff = row_mean_abs_diff;
}
