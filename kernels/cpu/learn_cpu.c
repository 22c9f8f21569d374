/* The CPU backend's learning operations (kernels/backend.h, "Learning"):
 * plain loops over kernels/common/learn_math.h; sums and maxima in index
 * order, the reference for CUDA. */
#include <math.h>
#include <string.h>

#include "../backend.h"
#include "../common/learn_math.h"
#include "learn_cpu.h"

static void copy(afs_backend *b, void *dst, const void *src, size_t bytes)
{
    (void)b;
    if (bytes)
        memmove(dst, src, bytes);
}

static void copy_cols(afs_backend *b, int G, int rows, int cols, const float *src, size_t src_ld,
                      size_t src_gs, float *dst, size_t dst_ld, size_t dst_gs)
{
    (void)b;
    for (int g = 0; g < G; g++)
        for (int r = 0; r < rows; r++) {
            float *to = dst + g * dst_gs + r * dst_ld;
            const float *from = src + g * src_gs + r * src_ld;
            if (cols > 8) {
                memcpy(to, from, (size_t)cols * sizeof(float));
            } else { /* a call per one or two floats costs more than the copy */
                for (int c = 0; c < cols; c++)
                    to[c] = from[c];
            }
        }
}

static void gather_rows(afs_backend *b, size_t n, size_t width, const int32_t *idx,
                        const void *src, void *dst)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        memcpy((char *)dst + i * width, (const char *)src + (size_t)idx[i] * width, width);
}

static void index_add_mod(afs_backend *b, size_t n, const int32_t *idx, int32_t add, int32_t m,
                          int32_t *out)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        out[i] = (int32_t)(((int64_t)idx[i] + add) % m);
}

static void fill(afs_backend *b, size_t n, float value, float *dst)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        dst[i] = value;
}

static void axpy(afs_backend *b, size_t n, float alpha, const float *x, float *y)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

static void scale_rows(afs_backend *b, size_t n, int k, const float *x, const float *w,
                       float *y)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            y[i * (size_t)k + j] = w[i] * x[i * (size_t)k + j];
}

static void one_hot(afs_backend *b, size_t n, int k, const uint8_t *a, float *out)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            out[i * (size_t)k + j] = j == a[i] ? 1.0f : 0.0f;
}

static void argmax_rows(afs_backend *b, size_t n, int k, const float *x, uint8_t *a)
{
    (void)b;
    for (size_t i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < k; j++)
            best = x[i * (size_t)k + j] > x[i * (size_t)k + best] ? j : best;
        a[i] = (uint8_t)best;
    }
}

static void flag_floats(afs_backend *b, size_t n, const uint8_t *flags, uint8_t mask, float on,
                        float *out)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        out[i] = (flags[i] & mask) ? on : 0.0f;
}

static void nonzero_flags(afs_backend *b, size_t n, const float *x, size_t stride, uint8_t set,
                          uint8_t always, uint8_t *out)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)((x[i * stride] != 0.0f ? set : 0) | always);
}

static void td_target(afs_backend *b, size_t n, float gamma, const float *r, const float *done,
                      const float *q_next, float *y)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        y[i] = afs_td_target(r[i], done[i], q_next[i], gamma);
}

static double mean(afs_backend *b, size_t n, const float *x)
{
    (void)b;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return n ? s / (double)n : 0.0;
}

static double mean_abs_diff(afs_backend *b, size_t n, const float *x, const float *y)
{
    (void)b;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += fabsf(x[i] - y[i]);
    return n ? s / (double)n : 0.0;
}

/* Recomputes the ancestors of leaves [first, last], level by level. */
static void sumtree_fix_range(double *tree, int L, int first, int last)
{
    for (int lo = (L + first) / 2, hi = (L + last) / 2; lo >= 1; lo /= 2, hi /= 2)
        for (int p = lo; p <= hi; p++)
            tree[p] = tree[2 * p] + tree[2 * p + 1];
}

static void sumtree_set(afs_backend *b, double *tree, int L, size_t n, const int32_t *idx,
                        const float *prio)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        tree[L + idx[i]] = prio[i];
    /* Ancestors level by level, as CUDA does them: the same additions. */
    for (int level = 1; (L >> level) >= 1; level++)
        for (size_t i = 0; i < n; i++) {
            int p = (L + idx[i]) >> level;
            tree[p] = tree[2 * p] + tree[2 * p + 1];
        }
}

static void sumtree_set_range(afs_backend *b, double *tree, int L, int first, int count,
                              const uint8_t *flags, uint8_t mask, const float *value)
{
    (void)b;
    if (count <= 0)
        return;
    for (int i = 0; i < count; i++)
        tree[L + first + i] = flags && (flags[i] & mask) ? (double)*value : 0.0;
    sumtree_fix_range(tree, L, first, first + count - 1);
}

static void sumtree_sample(afs_backend *b, const double *tree, int L, size_t n, uint32_t seed,
                           uint32_t stream, uint32_t counter, int32_t *idx, float *prob)
{
    (void)b;
    double total = tree[1];
    for (size_t i = 0; i < n; i++) {
        int leaf = afs_sumtree_descend(tree, L, afs_sumtree_target(seed, stream, counter, i, n, total));
        idx[i] = leaf;
        prob[i] = (float)(tree[L + leaf] / total);
    }
}

static void td_priority(afs_backend *b, size_t n, const float *pred, const float *target,
                        float alpha, float eps, float *prio, float *running_max)
{
    (void)b;
    float mx = *running_max;
    for (size_t i = 0; i < n; i++) {
        prio[i] = afs_td_priority(pred[i], target[i], alpha, eps);
        mx = prio[i] > mx ? prio[i] : mx;
    }
    *running_max = mx;
}

static void is_weights(afs_backend *b, size_t n, const float *prob, float beta, float *w)
{
    (void)b;
    float least = INFINITY;
    for (size_t i = 0; i < n; i++)
        least = prob[i] < least ? prob[i] : least;
    for (size_t i = 0; i < n; i++)
        w[i] = afs_is_weight(prob[i], least, beta);
}

void afs_learn_cpu_install(afs_backend *b)
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
