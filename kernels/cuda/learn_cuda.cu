/* The CUDA backend's learning operations (kernels/backend.h, "Learning"):
 * small kernels over kernels/common/learn_math.h, one thread per element.
 * The sum tree's ancestors are recomputed level by level (a launch each,
 * parent = left + right, the CPU's additions), so equal leaves give equal
 * trees on both backends. Maxima and minima of positive floats use integer
 * atomics on their bit patterns: exact, whatever the order. */
#include <math.h>
#include <stdint.h>

#include "../common/learn_math.h"
#include "cuda_check.h"
#include "learn_cuda.h"
#include "nn_cuda.h"

#define THREADS 256

static unsigned blocks_for(size_t n) { return (unsigned)((n + THREADS - 1) / THREADS); }

/* Launches kernel over n elements, one thread each, or nothing when n = 0. */
#define LAUNCH_N(n, kernel, ...)                                  \
    do {                                                          \
        if ((n) > 0) {                                            \
            kernel<<<blocks_for(n), THREADS>>>(__VA_ARGS__);      \
            CUDA_CHECK_LAUNCH();                                  \
        }                                                         \
    } while (0)

static void copy(afs_backend *b, void *dst, const void *src, size_t bytes)
{
    (void)b;
    if (bytes)
        CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice));
}

__global__ void k_copy_cols(size_t total, int rows, int cols, const float *src, size_t src_ld,
                            size_t src_gs, float *dst, size_t dst_ld, size_t dst_gs)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= total)
        return;
    size_t c = i % cols, r = i / cols % rows, g = i / cols / rows;
    dst[g * dst_gs + r * dst_ld + c] = src[g * src_gs + r * src_ld + c];
}

static void copy_cols(afs_backend *b, int G, int rows, int cols, const float *src, size_t src_ld,
                      size_t src_gs, float *dst, size_t dst_ld, size_t dst_gs)
{
    (void)b;
    size_t total = (size_t)G * rows * cols;
    LAUNCH_N(total, k_copy_cols, total, rows, cols, src, src_ld, src_gs, dst, dst_ld, dst_gs);
}

/* One thread per word of 4 bytes (rows whose width is a multiple of 4),
 * else per byte. */
template <typename W>
__global__ void k_gather(size_t total, size_t words, const int32_t *idx, const W *src, W *dst)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < total)
        dst[i] = src[(size_t)idx[i / words] * words + i % words];
}

static void gather_rows(afs_backend *b, size_t n, size_t width, const int32_t *idx,
                        const void *src, void *dst)
{
    (void)b;
    if (width % 4 == 0) {
        size_t words = width / 4, total = n * words;
        LAUNCH_N(total, k_gather<uint32_t>, total, words, idx, (const uint32_t *)src, (uint32_t *)dst);
    } else {
        size_t total = n * width;
        LAUNCH_N(total, k_gather<uint8_t>, total, width, idx, (const uint8_t *)src, (uint8_t *)dst);
    }
}

__global__ void k_index_add_mod(size_t n, const int32_t *idx, int32_t add, int32_t m, int32_t *out)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = (int32_t)(((int64_t)idx[i] + add) % m);
}

static void index_add_mod(afs_backend *b, size_t n, const int32_t *idx, int32_t add, int32_t m,
                          int32_t *out)
{
    (void)b;
    LAUNCH_N(n, k_index_add_mod, n, idx, add, m, out);
}

__global__ void k_fill(size_t n, float value, float *dst)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        dst[i] = value;
}

static void fill(afs_backend *b, size_t n, float value, float *dst)
{
    (void)b;
    LAUNCH_N(n, k_fill, n, value, dst);
}

__global__ void k_axpy(size_t n, float alpha, const float *x, float *y)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        y[i] += alpha * x[i]; /* --fmad=false: rounded as the CPU rounds it */
}

static void axpy(afs_backend *b, size_t n, float alpha, const float *x, float *y)
{
    (void)b;
    LAUNCH_N(n, k_axpy, n, alpha, x, y);
}

__global__ void k_scale_rows(size_t total, int k, const float *x, const float *w, float *y)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < total)
        y[i] = w[i / k] * x[i];
}

static void scale_rows(afs_backend *b, size_t n, int k, const float *x, const float *w, float *y)
{
    (void)b;
    LAUNCH_N(k > 0 ? n * (size_t)k : 0, k_scale_rows, n * (size_t)k, k, x, w, y);
}

__global__ void k_one_hot(size_t total, int k, const uint8_t *a, float *out)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < total)
        out[i] = (int)(i % k) == a[i / k] ? 1.0f : 0.0f;
}

static void one_hot(afs_backend *b, size_t n, int k, const uint8_t *a, float *out)
{
    (void)b;
    size_t total = n * (size_t)k;
    LAUNCH_N(total, k_one_hot, total, k, a, out);
}

__global__ void k_argmax_rows(size_t n, int k, const float *x, uint8_t *a)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int best = 0;
    for (int j = 1; j < k; j++)
        best = x[i * (size_t)k + j] > x[i * (size_t)k + best] ? j : best;
    a[i] = (uint8_t)best;
}

static void argmax_rows(afs_backend *b, size_t n, int k, const float *x, uint8_t *a)
{
    (void)b;
    LAUNCH_N(k > 0 ? n : 0, k_argmax_rows, n, k, x, a);
}

__global__ void k_flag_floats(size_t n, const uint8_t *flags, uint8_t mask, float on, float *out)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = (flags[i] & mask) ? on : 0.0f;
}

static void flag_floats(afs_backend *b, size_t n, const uint8_t *flags, uint8_t mask, float on,
                        float *out)
{
    (void)b;
    LAUNCH_N(n, k_flag_floats, n, flags, mask, on, out);
}

__global__ void k_nonzero_flags(size_t n, const float *x, size_t stride, uint8_t set,
                                uint8_t always, uint8_t *out)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = (uint8_t)((x[i * stride] != 0.0f ? set : 0) | always);
}

static void nonzero_flags(afs_backend *b, size_t n, const float *x, size_t stride, uint8_t set,
                          uint8_t always, uint8_t *out)
{
    (void)b;
    LAUNCH_N(n, k_nonzero_flags, n, x, stride, set, always, out);
}

__global__ void k_td_target(size_t n, float gamma, const float *r, const float *done,
                            const float *q_next, float *y)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = afs_td_target(r[i], done[i], q_next[i], gamma);
}

static void td_target(afs_backend *b, size_t n, float gamma, const float *r, const float *done,
                      const float *q_next, float *y)
{
    (void)b;
    LAUNCH_N(n, k_td_target, n, gamma, r, done, q_next, y);
}

/* Sum of n floats (of |x - y| when y is given) by one block: strided
 * partial sums in double, then a fixed tree; the same order on every run. */
__global__ void k_sum_floats(size_t n, const float *x, const float *y, double *out)
{
    __shared__ double part[THREADS];
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x)
        s += y ? fabsf(x[i] - y[i]) : x[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int step = THREADS / 2; step > 0; step /= 2) {
        if ((int)threadIdx.x < step)
            part[threadIdx.x] += part[threadIdx.x + step];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        *out = part[0];
}

static double mean_of(afs_backend *b, size_t n, const float *x, const float *y)
{
    if (!n)
        return 0.0;
    double *total = (double *)afs_cuda_scratch_get(b, sizeof(double)), host;
    k_sum_floats<<<1, THREADS>>>(n, x, y, total);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaMemcpy(&host, total, sizeof host, cudaMemcpyDeviceToHost));
    return host / (double)n;
}

static double mean(afs_backend *b, size_t n, const float *x) { return mean_of(b, n, x, NULL); }

static double mean_abs_diff(afs_backend *b, size_t n, const float *x, const float *y)
{
    return mean_of(b, n, x, y);
}

/* ---- Sum trees ---- */

__global__ void k_set_leaves(size_t n, double *tree, int L, const int32_t *idx, const float *prio)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        tree[L + idx[i]] = prio[i];
}

/* The level-`level` ancestor of each changed leaf; a parent met twice is
 * written twice with the same sum. */
__global__ void k_fix_ancestors(size_t n, double *tree, int L, const int32_t *idx, int level)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int p = (L + idx[i]) >> level;
    tree[p] = tree[2 * p] + tree[2 * p + 1];
}

static void sumtree_set(afs_backend *b, double *tree, int L, size_t n, const int32_t *idx,
                        const float *prio)
{
    (void)b;
    LAUNCH_N(n, k_set_leaves, n, tree, L, idx, prio);
    for (int level = 1; (L >> level) >= 1; level++)
        LAUNCH_N(n, k_fix_ancestors, n, tree, L, idx, level);
}

__global__ void k_set_range(int count, double *tree, int L, int first, const uint8_t *flags,
                            uint8_t mask, const float *value)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count)
        tree[L + first + i] = flags && (flags[i] & mask) ? (double)*value : 0.0;
}

__global__ void k_fix_parents(int count, double *tree, int lo)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) {
        int p = lo + i;
        tree[p] = tree[2 * p] + tree[2 * p + 1];
    }
}

static void sumtree_set_range(afs_backend *b, double *tree, int L, int first, int count,
                              const uint8_t *flags, uint8_t mask, const float *value)
{
    (void)b;
    if (count <= 0)
        return;
    LAUNCH_N((size_t)count, k_set_range, count, tree, L, first, flags, mask, value);
    for (int lo = (L + first) / 2, hi = (L + first + count - 1) / 2; lo >= 1; lo /= 2, hi /= 2)
        LAUNCH_N((size_t)(hi - lo + 1), k_fix_parents, hi - lo + 1, tree, lo);
}

__global__ void k_sample(size_t n, const double *tree, int L, uint32_t seed, uint32_t stream,
                         uint32_t counter, int32_t *idx, float *prob)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    double total = tree[1];
    int leaf = afs_sumtree_descend(tree, L, afs_sumtree_target(seed, stream, counter, i, n, total));
    idx[i] = leaf;
    prob[i] = (float)(tree[L + leaf] / total);
}

static void sumtree_sample(afs_backend *b, const double *tree, int L, size_t n, uint32_t seed,
                           uint32_t stream, uint32_t counter, int32_t *idx, float *prob)
{
    (void)b;
    LAUNCH_N(n, k_sample, n, tree, L, seed, stream, counter, idx, prob);
}

/* Positive floats order as their bit patterns do: an integer atomic max or
 * min is the exact float one. */
__global__ void k_td_priority(size_t n, const float *pred, const float *target, float alpha,
                              float eps, float *prio, float *running_max)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float p = afs_td_priority(pred[i], target[i], alpha, eps);
    prio[i] = p;
    atomicMax((int *)running_max, __float_as_int(p));
}

static void td_priority(afs_backend *b, size_t n, const float *pred, const float *target,
                        float alpha, float eps, float *prio, float *running_max)
{
    (void)b;
    LAUNCH_N(n, k_td_priority, n, pred, target, alpha, eps, prio, running_max);
}

__global__ void k_min_positive(size_t n, const float *x, float *least)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        atomicMin((int *)least, __float_as_int(x[i]));
}

__global__ void k_is_weights(size_t n, const float *prob, const float *least, float beta, float *w)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        w[i] = afs_is_weight(prob[i], *least, beta);
}

static void is_weights(afs_backend *b, size_t n, const float *prob, float beta, float *w)
{
    if (!n)
        return;
    float *least = (float *)afs_cuda_scratch_get(b, sizeof(float));
    LAUNCH_N(1, k_fill, 1, INFINITY, least);
    LAUNCH_N(n, k_min_positive, n, prob, least);
    LAUNCH_N(n, k_is_weights, n, prob, least, beta, w);
}

void afs_learn_cuda_install(afs_backend *b)
{
    b->copy = copy;
    b->copy_cols = copy_cols;
    b->gather_rows = gather_rows;
    b->index_add_mod = index_add_mod;
    b->fill = fill;
    b->axpy = axpy;
    b->scale_rows = scale_rows;
    b->one_hot = one_hot;
    b->argmax_rows = argmax_rows;
    b->flag_floats = flag_floats;
    b->nonzero_flags = nonzero_flags;
    b->td_target = td_target;
    b->mean = mean;
    b->mean_abs_diff = mean_abs_diff;
    b->sumtree_set = sumtree_set;
    b->sumtree_set_range = sumtree_set_range;
    b->sumtree_sample = sumtree_sample;
    b->td_priority = td_priority;
    b->is_weights = is_weights;
}
