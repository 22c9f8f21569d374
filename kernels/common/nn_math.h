/* Per-element math of the neural-network operations, written once for both
 * backends (the CPU loops over it, CUDA threads call it). Matrices are
 * row-major; each function's comment gives its equation. */
#ifndef AFS_NN_MATH_H
#define AFS_NN_MATH_H

#include <math.h>
#include "afs_hd.h"
#include "fastmath.h"
#include "rng.h"

enum afs_activation { AFS_ACT_RELU, AFS_ACT_TANH, AFS_ACT_SIGMOID, AFS_ACT_N };

/* y = f(x); tanh and sigmoid are fastmath.h's: the same bits on both
 * backends. */
AFS_HDI float afs_act(int kind, float x)
{
    switch (kind) {
    case AFS_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case AFS_ACT_TANH: return afs_tanhf(x);
    default: return afs_sigmoidf(x);
    }
}

/* dL/dx from the output y = f(x) and dL/dy: relu' = [y > 0], tanh' = 1 - y^2,
 * sigmoid' = y (1 - y). */
AFS_HDI float afs_act_grad(int kind, float y, float dy)
{
    switch (kind) {
    case AFS_ACT_RELU: return y > 0.0f ? dy : 0.0f;
    case AFS_ACT_TANH: return dy * (1.0f - y * y);
    default: return dy * y * (1.0f - y);
    }
}

/* Softmax of one row of n values: y_j = exp(x_j - max) / sum_k exp(x_k - max). */
AFS_HD void afs_softmax_row(const float *x, float *y, int n)
{
    if (n <= 0)
        return;
    float mx = x[0], sum = 0.0f;
    for (int j = 1; j < n; j++)
        mx = x[j] > mx ? x[j] : mx;
    for (int j = 0; j < n; j++) {
        y[j] = expf(x[j] - mx);
        sum += y[j];
    }
    for (int j = 0; j < n; j++)
        y[j] /= sum;
}

/* dL/dx_j = y_j (dy_j - sum_k y_k dy_k), scaled by `scale`. */
AFS_HD void afs_softmax_grad_row(const float *y, const float *dy, float *dx, int n, float scale)
{
    float dot = 0.0f;
    for (int j = 0; j < n; j++)
        dot += y[j] * dy[j];
    for (int j = 0; j < n; j++)
        dx[j] = scale * y[j] * (dy[j] - dot);
}

/* Gumbel(0, 1) noise -log(-log u) from one random word. */
AFS_HD float afs_gumbel(uint32_t word)
{
    return -logf(-logf(afs_u01(word)));
}

/* Row r of the exploring Gumbel-softmax (kernels/backend.h): soft =
 * softmax((logits + g) / tau) with g from Philox counter {r, counter, 0,
 * j / 4}; hard = one-hot of soft's argmax (the first on ties), or, with
 * probability epsilon (words 0 and 1 of counter {r, counter, 1, 0}), of a
 * column drawn uniformly. Epsilon 0 draws nothing more: the same bits as
 * before it existed. */
AFS_HD void afs_gumbel_softmax_row(const float *logits, float *soft, float *hard, int cols,
                                   float tau, float epsilon, uint32_t seed, uint32_t stream,
                                   uint32_t r, uint32_t counter)
{
    for (int j = 0; j < cols; j++) {
        afs_block blk = afs_philox(seed, stream, r, counter, 0, (uint32_t)j / 4);
        soft[j] = (logits[j] + afs_gumbel(blk.v[j % 4])) / tau;
    }
    afs_softmax_row(soft, soft, cols);
    int best = 0;
    for (int j = 1; j < cols; j++)
        best = soft[j] > soft[best] ? j : best;
    if (epsilon > 0.0f) {
        afs_block e = afs_philox(seed, stream, r, counter, 1, 0);
        if (afs_u01(e.v[0]) <= epsilon) {
            int pick = (int)(afs_u01(e.v[1]) * (float)cols);
            best = pick < cols ? pick : cols - 1;
        }
    }
    for (int j = 0; j < cols; j++)
        hard[j] = j == best ? 1.0f : 0.0f;
}

/* Weighted squared error of one element and its gradient, both divided by n
 * (the loss is a mean): w (p - t)^2 / n and 2 w (p - t) / n. */
AFS_HD float afs_mse_term(float p, float t, float w, float inv_n, float *grad)
{
    float d = p - t;
    *grad = 2.0f * w * d * inv_n;
    return w * d * d * inv_n;
}

#define AFS_BCE_EPS 1e-7f

/* Weighted binary cross-entropy of a probability p against target t, and its
 * gradient with respect to p, divided by n: p is clamped to
 * [AFS_BCE_EPS, 1 - AFS_BCE_EPS] so the loss stays finite. */
AFS_HD float afs_bce_term(float p, float t, float w, float inv_n, float *grad)
{
    float q = fminf(fmaxf(p, AFS_BCE_EPS), 1.0f - AFS_BCE_EPS);
    *grad = w * (q - t) / (q * (1.0f - q)) * inv_n;
    return -w * (t * logf(q) + (1.0f - t) * logf(1.0f - q)) * inv_n;
}

/* Adam hyper-parameters and the bias corrections of step t (host-computed). */
typedef struct afs_adam {
    float lr, beta1, beta2, eps;
    float corr1, corr2; /* 1 - beta1^t, 1 - beta2^t */
} afs_adam;

/* One Adam step of one parameter (Kingma & Ba, algorithm 1). */
AFS_HDI void afs_adam_update(float *p, float g, float *m, float *v, const afs_adam *a)
{
    *m = a->beta1 * *m + (1.0f - a->beta1) * g;
    *v = a->beta2 * *v + (1.0f - a->beta2) * g * g;
    float mhat = *m / a->corr1, vhat = *v / a->corr2;
    *p -= a->lr * mhat / (sqrtf(vhat) + a->eps);
}

/* target = tau * online + (1 - tau) * target */
AFS_HDI float afs_soft_update(float target, float online, float tau)
{
    return tau * online + (1.0f - tau) * target;
}

#endif
