/* CPU neural-network operations: OpenBLAS for the matrix products (a plain
 * loop where it is missing, gemm_cpu.c), loops
 * over kernels/common/nn_math.h for the rest. Sums that must not depend on
 * the thread count (losses, norms) run in one thread in index order. */
#include <math.h>
#include <string.h>

#include "cpu_clones.h"
#include "cpu_impl.h"
#include "gemm_cpu.h"
#include "nn_cpu.h"

static void gemm(afs_backend *b, int ta, int tb, int m, int n, int k, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc)
{
    afs_gemm(afs_cpu_threads(b), ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
}

/* One layer on `threads` threads: y = x W^T + bias. */
static void linear_one(int threads, int B, int in, int out, const float *x, const float *W,
                       const float *bias, float *y)
{
    afs_gemm(threads, 0, 1, B, out, in, x, in, W, in, 0.0f, y, out);
    for (int r = 0; r < B; r++)
        for (int o = 0; o < out; o++)
            y[(size_t)r * out + o] += bias[o];
}

/* One layer: dx = dy W, dW += dy^T x, db += column sums of dy. */
static void linear_grad_one(int threads, int B, int in, int out, const float *x, const float *W,
                            const float *dy, float *dx, float *dW, float *db)
{
    if (dx)
        afs_gemm(threads, 0, 0, B, in, out, dy, out, W, in, 0.0f, dx, in);
    afs_gemm(threads, 1, 0, out, in, B, dy, out, x, in, 1.0f, dW, in);
    for (int r = 0; r < B; r++)
        for (int o = 0; o < out; o++)
            db[o] += dy[(size_t)r * out + o];
}

/* Groups (one network per agent) run in parallel, a group to a thread,
 * when there are several and enough work; else each product is split
 * among the threads (afs_gemm). A group's results never depend on the
 * others'. */
#define GROUPS_PARALLEL_FLOPS 1.0e7

static int groups_in_parallel(int G, int B, int in, int out)
{
    return G > 1 && 2.0 * G * B * in * out >= GROUPS_PARALLEL_FLOPS;
}

static void linear_forward(afs_backend *b, int G, int B, int in, int out, const float *x,
                           const float *W, const float *bias, float *y)
{
    size_t xs = (size_t)B * in, ws = (size_t)out * in, ys = (size_t)B * out;
    int T = afs_cpu_threads(b);
    if (!groups_in_parallel(G, B, in, out)) { /* no region around afs_gemm's own: nesting costs */
        for (int g = 0; g < G; g++)
            linear_one(T, B, in, out, x + g * xs, W + g * ws, bias + (size_t)g * out, y + g * ys);
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(T)
    for (int g = 0; g < G; g++)
        linear_one(1, B, in, out, x + g * xs, W + g * ws, bias + (size_t)g * out, y + g * ys);
}

static void linear_backward(afs_backend *b, int G, int B, int in, int out, const float *x,
                            const float *W, const float *dy, float *dx, float *dW, float *db)
{
    size_t xs = (size_t)B * in, ws = (size_t)out * in, ys = (size_t)B * out;
    int T = afs_cpu_threads(b);
    if (!groups_in_parallel(G, B, in, out)) {
        for (int g = 0; g < G; g++)
            linear_grad_one(T, B, in, out, x + g * xs, W + g * ws, dy + g * ys,
                            dx ? dx + g * xs : NULL, dW + g * ws, db + (size_t)g * out);
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(T)
    for (int g = 0; g < G; g++)
        linear_grad_one(1, B, in, out, x + g * xs, W + g * ws, dy + g * ys,
                        dx ? dx + g * xs : NULL, dW + g * ws, db + (size_t)g * out);
}

/* One loop per kind, so that each vectorizes (a switch inside the loop
 * kept GCC from it: 17 ms of AM-DRL's 356 ms gradient step went to
 * activations). */
AFS_CPU_CLONES static void activation_forward(afs_backend *b, int kind, size_t n,
                                              const float *x, float *y)
{
    (void)b;
    if (kind == AFS_ACT_RELU)
        for (size_t i = 0; i < n; i++)
            y[i] = afs_act(AFS_ACT_RELU, x[i]);
    else if (kind == AFS_ACT_TANH)
        for (size_t i = 0; i < n; i++)
            y[i] = afs_act(AFS_ACT_TANH, x[i]);
    else
        for (size_t i = 0; i < n; i++)
            y[i] = afs_act(AFS_ACT_SIGMOID, x[i]);
}

AFS_CPU_CLONES static void activation_backward(afs_backend *b, int kind, size_t n,
                                               const float *y, const float *dy, float *dx)
{
    (void)b;
    if (kind == AFS_ACT_RELU)
        for (size_t i = 0; i < n; i++)
            dx[i] = afs_act_grad(AFS_ACT_RELU, y[i], dy[i]);
    else if (kind == AFS_ACT_TANH)
        for (size_t i = 0; i < n; i++)
            dx[i] = afs_act_grad(AFS_ACT_TANH, y[i], dy[i]);
    else
        for (size_t i = 0; i < n; i++)
            dx[i] = afs_act_grad(AFS_ACT_SIGMOID, y[i], dy[i]);
}

static void softmax_forward(afs_backend *b, int rows, int cols, const float *x, float *y)
{
    (void)b;
    for (int r = 0; r < rows; r++)
        afs_softmax_row(x + (size_t)r * cols, y + (size_t)r * cols, cols);
}

static void softmax_backward(afs_backend *b, int rows, int cols, const float *y,
                             const float *dy, float *dx)
{
    (void)b;
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * cols;
        afs_softmax_grad_row(y + o, dy + o, dx + o, cols, 1.0f);
    }
}

static void gumbel_softmax_forward(afs_backend *b, int rows, int cols, float tau, float epsilon,
                                   uint32_t seed, uint32_t stream, uint32_t counter,
                                   const float *logits, float *soft, float *hard)
{
    (void)b;
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * cols;
        afs_gumbel_softmax_row(logits + o, soft + o, hard + o, cols, tau, epsilon, seed, stream,
                               (uint32_t)r, counter);
    }
}

static void gumbel_softmax_backward(afs_backend *b, int rows, int cols, float tau,
                                    const float *soft, const float *dhard, float *dlogits)
{
    (void)b;
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * cols;
        afs_softmax_grad_row(soft + o, dhard + o, dlogits + o, cols, 1.0f / tau);
    }
}

/* Mean of the per-element terms of nn_math.h, summed in index order. */
static double loss(int bce, size_t n, const float *pred, const float *target,
                   const float *weight, float *grad)
{
    double total = 0.0;
    float inv_n = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        float w = weight ? weight[i] : 1.0f;
        total += bce ? afs_bce_term(pred[i], target[i], w, inv_n, &grad[i])
                     : afs_mse_term(pred[i], target[i], w, inv_n, &grad[i]);
    }
    return total;
}

static double mse_loss(afs_backend *b, size_t n, const float *pred, const float *target,
                       const float *weight, float *grad)
{
    (void)b;
    return loss(0, n, pred, target, weight, grad);
}

static double bce_loss(afs_backend *b, size_t n, const float *prob, const float *target,
                       const float *weight, float *grad)
{
    (void)b;
    return loss(1, n, prob, target, weight, grad);
}

/* Elementwise, so any vector width gives the same bits: cloned for the
 * widest (MADDPG's critics hold 17 million parameters). */
AFS_CPU_CLONES static void adam_step(afs_backend *b, size_t n, float *param, const float *grad,
                                     float *m, float *v, const afs_adam *hp)
{
    (void)b;
    const afs_adam a = *hp; /* a copy the loop can keep in registers */
    for (size_t i = 0; i < n; i++)
        afs_adam_update(&param[i], grad[i], &m[i], &v[i], &a);
}

AFS_CPU_CLONES static void soft_update(afs_backend *b, size_t n, float tau, const float *online, float *target)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        target[i] = afs_soft_update(target[i], online[i], tau);
}

static double clip_grad_norm(afs_backend *b, size_t n, float *grad, float max_norm)
{
    (void)b;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)grad[i] * grad[i];
    double norm = sqrt(sum);
    if (norm > max_norm) {
        float scale = (float)(max_norm / norm);
        for (size_t i = 0; i < n; i++)
            grad[i] *= scale;
    }
    return norm;
}

/* The CPU always multiplies in float32. */
static void set_tf32(afs_backend *b, int on)
{
    (void)b;
    (void)on;
}

void afs_nn_cpu_install(afs_backend *b)
{
    b->set_tf32 = set_tf32;
    b->gemm = gemm;
    b->linear_forward = linear_forward;
    b->linear_backward = linear_backward;
    b->activation_forward = activation_forward;
    b->activation_backward = activation_backward;
    b->softmax_forward = softmax_forward;
    b->softmax_backward = softmax_backward;
    b->gumbel_softmax_forward = gumbel_softmax_forward;
    b->gumbel_softmax_backward = gumbel_softmax_backward;
    b->mse_loss = mse_loss;
    b->bce_loss = bce_loss;
    b->adam_step = adam_step;
    b->soft_update = soft_update;
    b->clip_grad_norm = clip_grad_norm;
}
