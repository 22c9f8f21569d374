/* Neural-network operations on the CPU backend. Gradients are checked against
 * central finite differences of a scalar loss L = sum_i r_i y_i (r random),
 * accumulated in double; with float operations and a step of 1e-2 the
 * difference quotient is good to about 1e-3 relative, hence the 5e-3
 * tolerance. Other checks use values worked out by hand. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kernels/backend.h"
#include "kernels/cpu/gemm_cpu.h"

static afs_backend *cpu;

static void open_cpu(void) { cpu = afs_backend_cpu_create(1); }
static void close_cpu(void) { cpu->destroy(cpu); }

TestSuite(nn, .init = open_cpu, .fini = close_cpu);

/* Fills v with uniforms on (lo, hi) from a fixed Philox stream. */
static void fill(float *v, size_t n, float lo, float hi, uint32_t stream)
{
    for (size_t i = 0; i < n; i++)
        v[i] = afs_uniform(afs_philox(99, stream, (uint32_t)i, 0, 0, 0).v[0], lo, hi);
}

static double dot(const float *a, const float *r, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * r[i];
    return s;
}

static void close_to(double got, double want, double tol, const char *what, size_t i)
{
    cr_assert(fabs(got - want) <= tol * fmax(1.0, fabs(want)), "%s[%zu]: analytic %.7g, numeric %.7g",
              what, i, got, want);
}

#define FD_STEP 1e-2f
#define FD_TOL 5e-3

enum { B = 5, IN = 4, OUT = 3 };

static double linear_loss(const float *x, const float *W, const float *bias, const float *r)
{
    float y[B * OUT];
    cpu->linear_forward(cpu, 1, B, IN, OUT, x, W, bias, y);
    return dot(y, r, B * OUT);
}

/* Central difference of f with respect to v[i]. */
#define CENTRAL(v, i, expr)                                                     \
    ({                                                                          \
        float keep_ = (v)[i];                                                   \
        (v)[i] = keep_ + FD_STEP;                                               \
        double up_ = (expr);                                                    \
        (v)[i] = keep_ - FD_STEP;                                               \
        double down_ = (expr);                                                  \
        (v)[i] = keep_;                                                         \
        (up_ - down_) / (2.0 * FD_STEP);                                        \
    })

Test(nn, linear_forward_by_hand)
{
    float x[2] = {1, 2}, W[2 * 2] = {1, -1, 0.5f, 2}, bias[2] = {0.25f, -1}, y[2];
    cpu->linear_forward(cpu, 1, 1, 2, 2, x, W, bias, y);
    cr_assert_float_eq(y[0], 1 * 1 + 2 * -1 + 0.25f, 1e-6); /* -0.75 */
    cr_assert_float_eq(y[1], 1 * 0.5f + 2 * 2 - 1.0f, 1e-6);  /* 3.5 */
}

Test(nn, linear_backward_matches_finite_differences)
{
    float x[B * IN], W[OUT * IN], bias[OUT], r[B * OUT];
    float dx[B * IN], dW[OUT * IN], db[OUT];
    fill(x, B * IN, -1, 1, 1);
    fill(W, OUT * IN, -1, 1, 2);
    fill(bias, OUT, -1, 1, 3);
    fill(r, B * OUT, -1, 1, 4);
    memset(dW, 0, sizeof dW);
    memset(db, 0, sizeof db);
    cpu->linear_backward(cpu, 1, B, IN, OUT, x, W, r, dx, dW, db); /* dL/dy = r */
    for (size_t i = 0; i < B * IN; i++)
        close_to(dx[i], CENTRAL(x, i, linear_loss(x, W, bias, r)), FD_TOL, "dx", i);
    for (size_t i = 0; i < OUT * IN; i++)
        close_to(dW[i], CENTRAL(W, i, linear_loss(x, W, bias, r)), FD_TOL, "dW", i);
    for (size_t i = 0; i < OUT; i++)
        close_to(db[i], CENTRAL(bias, i, linear_loss(x, W, bias, r)), FD_TOL, "db", i);
    /* Parameter gradients accumulate: a second call doubles them. */
    float dW1 = dW[0];
    cpu->linear_backward(cpu, 1, B, IN, OUT, x, W, r, NULL, dW, db);
    cr_assert_float_eq(dW[0], 2 * dW1, 1e-5);
}

static double act_loss(int kind, const float *x, const float *r, size_t n)
{
    float y[16];
    cpu->activation_forward(cpu, kind, n, x, y);
    return dot(y, r, n);
}

Test(nn, activations_match_finite_differences)
{
    enum { N = 16 };
    float x[N], r[N], y[N], dx[N];
    fill(x, N, -2, 2, 5);
    for (size_t i = 0; i < N; i++) /* keep away from relu's kink */
        if (fabsf(x[i]) < 0.1f)
            x[i] = 0.5f;
    fill(r, N, -1, 1, 6);
    for (int kind = 0; kind < AFS_ACT_N; kind++) {
        cpu->activation_forward(cpu, kind, N, x, y);
        cpu->activation_backward(cpu, kind, N, y, r, dx);
        for (size_t i = 0; i < N; i++)
            close_to(dx[i], CENTRAL(x, i, act_loss(kind, x, r, N)), FD_TOL, "activation", i);
    }
    float v[3] = {-1, 0, 2}, out[3];
    cpu->activation_forward(cpu, AFS_ACT_SIGMOID, 3, v, out);
    cr_assert_float_eq(out[1], 0.5f, 1e-7);
    cr_assert_float_eq(out[2], 1 / (1 + expf(-2)), 1e-7);
    cpu->activation_forward(cpu, AFS_ACT_RELU, 3, v, out);
    cr_assert(out[0] == 0 && out[2] == 2);
}

static double softmax_loss(const float *x, const float *r)
{
    float y[2 * 4];
    cpu->softmax_forward(cpu, 2, 4, x, y);
    return dot(y, r, 8);
}

Test(nn, softmax_rows_and_gradient)
{
    float x[8], r[8], y[8], dx[8];
    fill(x, 8, -3, 3, 7);
    fill(r, 8, -1, 1, 8);
    cpu->softmax_forward(cpu, 2, 4, x, y);
    for (int row = 0; row < 2; row++) {
        double s = 0;
        for (int j = 0; j < 4; j++)
            s += y[row * 4 + j];
        cr_assert_float_eq(s, 1.0, 1e-6);
    }
    float two[2] = {0, logf(3)}, p[2];
    cpu->softmax_forward(cpu, 1, 2, two, p);
    cr_assert_float_eq(p[1], 0.75f, 1e-6, "exp(ln 3) / (1 + 3)");
    cpu->softmax_backward(cpu, 2, 4, y, r, dx);
    for (size_t i = 0; i < 8; i++)
        close_to(dx[i], CENTRAL(x, i, softmax_loss(x, r)), FD_TOL, "softmax", i);
}

static double gumbel_loss(const float *logits, const float *r, float tau)
{
    float soft[3 * 2], hard[3 * 2];
    cpu->gumbel_softmax_forward(cpu, 3, 2, tau, 0.0f, 1, 2, 3, logits, soft, hard);
    return dot(soft, r, 6);
}

Test(nn, gumbel_softmax_straight_through)
{
    float logits[6], r[6], soft[6], hard[6], dl[6];
    fill(logits, 6, -1, 1, 9);
    fill(r, 6, -1, 1, 10);
    cpu->gumbel_softmax_forward(cpu, 3, 2, 0.7f, 0.0f, 1, 2, 3, logits, soft, hard);
    for (int row = 0; row < 3; row++) {
        int best = soft[row * 2 + 1] > soft[row * 2] ? 1 : 0;
        cr_assert(hard[row * 2 + best] == 1.0f && hard[row * 2 + 1 - best] == 0.0f);
    }
    /* Backward: the gradient of the soft sample for fixed noise. */
    cpu->gumbel_softmax_backward(cpu, 3, 2, 0.7f, soft, r, dl);
    for (size_t i = 0; i < 6; i++)
        close_to(dl[i], CENTRAL(logits, i, gumbel_loss(logits, r, 0.7f)), FD_TOL, "gumbel", i);
}

/* The Gumbel-max trick: the argmax of logits + Gumbel noise is distributed
 * as softmax(logits). 40000 rows; 5 standard errors. */
Test(nn, gumbel_argmax_follows_softmax)
{
    enum { ROWS = 40000, C = 3 };
    float *logits = malloc(ROWS * C * sizeof(float)), *soft = malloc(ROWS * C * sizeof(float));
    float *hard = malloc(ROWS * C * sizeof(float));
    const float l[C] = {0.0f, 1.0f, -0.5f};
    for (int r = 0; r < ROWS; r++)
        memcpy(logits + r * C, l, sizeof l);
    cpu->gumbel_softmax_forward(cpu, ROWS, C, 1.0f, 0.0f, 5, 6, 7, logits, soft, hard);
    double z = exp(0.0) + exp(1.0) + exp(-0.5);
    for (int j = 0; j < C; j++) {
        double count = 0;
        for (int r = 0; r < ROWS; r++)
            count += hard[r * C + j];
        double p = exp(l[j]) / z, freq = count / ROWS;
        cr_assert(fabs(freq - p) < 5 * sqrt(p * (1 - p) / ROWS), "class %d: %g vs %g", j, freq, p);
    }
    free(logits);
    free(soft);
    free(hard);
}

/* Epsilon-greedy on top: logits that make column 0 certain (e^-30), so
 * every column-1 pick is an epsilon draw, uniform over both columns: its
 * frequency is epsilon / 2 (5 standard errors over 40000 rows); the soft
 * sample does not change, and epsilon 0 keeps the plain sample. */
Test(nn, gumbel_epsilon_draws_uniform_actions)
{
    enum { ROWS = 40000, C = 2 };
    float *logits = malloc(ROWS * C * sizeof(float)), *soft = malloc(ROWS * C * sizeof(float));
    float *hard = malloc(ROWS * C * sizeof(float)), *soft0 = malloc(ROWS * C * sizeof(float));
    for (int r = 0; r < ROWS; r++) {
        logits[r * C] = 0.0f;
        logits[r * C + 1] = -30.0f;
    }
    cpu->gumbel_softmax_forward(cpu, ROWS, C, 1.0f, 0.0f, 5, 6, 7, logits, soft0, hard);
    for (int r = 0; r < ROWS; r++)
        cr_assert_eq(hard[r * C], 1.0f, "epsilon 0: row %d left the certain column", r);
    const float eps[3] = {0.1f, 0.4f, 1.0f};
    for (int k = 0; k < 3; k++) {
        cpu->gumbel_softmax_forward(cpu, ROWS, C, 1.0f, eps[k], 5, 6, 7, logits, soft, hard);
        double count = 0;
        for (int r = 0; r < ROWS; r++) {
            count += hard[r * C + 1];
            cr_assert_eq(hard[r * C] + hard[r * C + 1], 1.0f, "row %d is not one-hot", r);
        }
        cr_assert_eq(memcmp(soft, soft0, ROWS * C * sizeof(float)), 0,
                     "epsilon changed the soft sample");
        double p = eps[k] / 2, freq = count / ROWS;
        cr_assert(fabs(freq - p) < 5 * sqrt(p * (1 - p) / ROWS), "epsilon %g: column 1 %g, "
                  "expected %g", eps[k], freq, p);
    }
    free(logits);
    free(soft);
    free(hard);
    free(soft0);
}

Test(nn, losses_by_hand_and_by_finite_differences)
{
    float pred[3] = {1, 2, 3}, target[3] = {0, 2, 5}, w[3] = {1, 1, 0.5f}, g[3];
    /* mean of w (p - t)^2: (1 + 0 + 0.5 * 4) / 3 = 1 */
    cr_assert_float_eq(cpu->mse_loss(cpu, 3, pred, target, w, g), 1.0, 1e-6);
    cr_assert_float_eq(g[0], 2.0f / 3, 1e-6);
    cr_assert_float_eq(g[2], 2 * 0.5f * -2 / 3.0f, 1e-6);
    cr_assert_float_eq(cpu->mse_loss(cpu, 3, pred, target, NULL, g), 5.0 / 3, 1e-6);
    float p[2] = {0.8f, 0.3f}, t[2] = {1, 0};
    /* -(ln 0.8 + ln 0.7) / 2 */
    cr_assert_float_eq(cpu->bce_loss(cpu, 2, p, t, NULL, g), -(log(0.8) + log(0.7)) / 2, 1e-6);
    cr_assert_float_eq(g[0], (0.8f - 1) / (0.8f * 0.2f) / 2, 1e-5);
    float pb[4], tb[4], wb[4], gb[4];
    fill(pb, 4, 0.1f, 0.9f, 11);
    fill(tb, 4, 0, 1, 12);
    fill(wb, 4, 0.5f, 2, 13);
    cpu->bce_loss(cpu, 4, pb, tb, wb, gb);
    for (size_t i = 0; i < 4; i++) {
        float scratch[4];
        close_to(gb[i], CENTRAL(pb, i, cpu->bce_loss(cpu, 4, pb, tb, wb, scratch)), FD_TOL, "bce", i);
    }
    float q[1] = {0.0f}, one[1] = {1.0f};
    cr_assert(isfinite(cpu->bce_loss(cpu, 1, q, one, NULL, g)), "clamped: finite at p = 0");
}

Test(nn, adam_two_steps_by_hand)
{
    /* lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8; gradients 0.5 then -1.
     * Step 1: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25: p -= 0.1.
     * Step 2: m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001 = 0.00124975,
     * mhat = -0.055 / 0.19 = -0.289474, vhat = 0.00124975 / 0.001999 = 0.625188,
     * p -= 0.1 * -0.289474 / 0.790688 = -0.036610. */
    float p = 1.0f, m = 0, v = 0, g1 = 0.5f, g2 = -1.0f;
    afs_adam hp = {0.1f, 0.9f, 0.999f, 1e-8f, 1 - 0.9f, 1 - 0.999f};
    cpu->adam_step(cpu, 1, &p, &g1, &m, &v, &hp);
    cr_assert_float_eq(p, 0.9f, 1e-6);
    hp.corr1 = 1 - 0.81f;
    hp.corr2 = 1 - 0.999f * 0.999f;
    cpu->adam_step(cpu, 1, &p, &g2, &m, &v, &hp);
    cr_assert_float_eq(m, -0.055f, 1e-6);
    cr_assert_float_eq(p, 0.9f + 0.036610f, 2e-5);
}

Test(nn, soft_update_and_clipping_by_hand)
{
    float online[2] = {1, 2}, target[2] = {0, 4};
    cpu->soft_update(cpu, 2, 0.25f, online, target);
    cr_assert_float_eq(target[0], 0.25f, 1e-7);
    cr_assert_float_eq(target[1], 3.5f, 1e-7);
    float g[2] = {3, 4};
    cr_assert_float_eq(cpu->clip_grad_norm(cpu, 2, g, 1.0f), 5.0, 1e-6);
    cr_assert_float_eq(g[0], 0.6f, 1e-6);
    cr_assert_float_eq(g[1], 0.8f, 1e-6);
    cr_assert_float_eq(cpu->clip_grad_norm(cpu, 2, g, 10.0f), 1.0, 1e-6);
    cr_assert_float_eq(g[0], 0.6f, 1e-6, "below the limit: unchanged");
}

/* A 2-16-1 tanh network learns y = sin(x1) + x2 / 2 on 64 points with Adam:
 * the loss must fall below 1e-3 (from about 0.5). */
Test(nn, small_regression_trains_to_near_zero_loss)
{
    enum { N = 64, H = 16 };
    float x[N * 2], t[N], W1[H * 2], b1[H], W2[H], b2[1];
    float h[N * H], y[N], dy[N], dh[N * H], dz[N * H];
    float gW1[H * 2], gb1[H], gW2[H], gb2[1];
    float mW1[H * 2] = {0}, vW1[H * 2] = {0}, mb1[H] = {0}, vb1[H] = {0};
    float mW2[H] = {0}, vW2[H] = {0}, mb2[1] = {0}, vb2[1] = {0};
    fill(x, N * 2, -1.5f, 1.5f, 20);
    for (int i = 0; i < N; i++)
        t[i] = sinf(x[2 * i]) + 0.5f * x[2 * i + 1];
    fill(W1, H * 2, -0.7f, 0.7f, 21);
    fill(W2, H, -0.25f, 0.25f, 22);
    memset(b1, 0, sizeof b1);
    b2[0] = 0;
    double loss = 0;
    afs_adam hp = {0.01f, 0.9f, 0.999f, 1e-8f, 0, 0};
    for (int step = 1; step <= 3000; step++) {
        cpu->linear_forward(cpu, 1, N, 2, H, x, W1, b1, h);
        cpu->activation_forward(cpu, AFS_ACT_TANH, N * H, h, h);
        cpu->linear_forward(cpu, 1, N, H, 1, h, W2, b2, y);
        loss = cpu->mse_loss(cpu, N, y, t, NULL, dy);
        memset(gW1, 0, sizeof gW1); memset(gb1, 0, sizeof gb1);
        memset(gW2, 0, sizeof gW2); gb2[0] = 0;
        cpu->linear_backward(cpu, 1, N, H, 1, h, W2, dy, dh, gW2, gb2);
        cpu->activation_backward(cpu, AFS_ACT_TANH, N * H, h, dh, dz);
        cpu->linear_backward(cpu, 1, N, 2, H, x, W1, dz, NULL, gW1, gb1);
        hp.corr1 = 1 - powf(hp.beta1, (float)step);
        hp.corr2 = 1 - powf(hp.beta2, (float)step);
        cpu->adam_step(cpu, H * 2, W1, gW1, mW1, vW1, &hp);
        cpu->adam_step(cpu, H, b1, gb1, mb1, vb1, &hp);
        cpu->adam_step(cpu, H, W2, gW2, mW2, vW2, &hp);
        cpu->adam_step(cpu, 1, b2, gb2, mb2, vb2, &hp);
    }
    cr_assert(loss < 1e-3, "final loss %g", loss);
}

/* G grouped layers (one per agent) are G independent layers: the same as G
 * single calls, and one group's weights never reach another's output. */
Test(nn, grouped_linear_layers_are_independent)
{
    enum { G = 3 };
    float x[G * B * IN], W[G * OUT * IN], bias[G * OUT], dy[G * B * OUT];
    float y[G * B * OUT], dx[G * B * IN], dW[G * OUT * IN] = {0}, db[G * OUT] = {0};
    fill(x, sizeof x / 4, -1, 1, 30);
    fill(W, sizeof W / 4, -1, 1, 31);
    fill(bias, sizeof bias / 4, -1, 1, 32);
    fill(dy, sizeof dy / 4, -1, 1, 33);
    cpu->linear_forward(cpu, G, B, IN, OUT, x, W, bias, y);
    cpu->linear_backward(cpu, G, B, IN, OUT, x, W, dy, dx, dW, db);
    for (int g = 0; g < G; g++) {
        float y1[B * OUT], dx1[B * IN], dW1[OUT * IN] = {0}, db1[OUT] = {0};
        cpu->linear_forward(cpu, 1, B, IN, OUT, x + g * B * IN, W + g * OUT * IN, bias + g * OUT, y1);
        cpu->linear_backward(cpu, 1, B, IN, OUT, x + g * B * IN, W + g * OUT * IN, dy + g * B * OUT,
                             dx1, dW1, db1);
        cr_assert_eq(memcmp(y1, y + g * B * OUT, sizeof y1), 0, "group %d output", g);
        cr_assert_eq(memcmp(dx1, dx + g * B * IN, sizeof dx1), 0, "group %d dx", g);
        cr_assert_eq(memcmp(dW1, dW + g * OUT * IN, sizeof dW1), 0, "group %d dW", g);
        cr_assert_eq(memcmp(db1, db + g * OUT, sizeof db1), 0, "group %d db", g);
    }
    float before[B * OUT];
    memcpy(before, y, sizeof before);
    W[OUT * IN] += 1.0f; /* group 1 */
    cpu->linear_forward(cpu, G, B, IN, OUT, x, W, bias, y);
    cr_assert_eq(memcmp(before, y, sizeof before), 0, "group 0 unaffected");
}

/* The plain-loop product (used where OpenBLAS is missing) agrees with the
 * one in use, for every transpose combination the backend needs. */
Test(nn, reference_gemm_matches_the_backend_gemm)
{
    enum { M = 7, N = 5, K = 9 };
    float A[K * M], Bm[K * N], C1[M * N], C2[M * N];
    fill(A, K * M, -1, 1, 40);
    fill(Bm, K * N, -1, 1, 41);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = ta ? M : K, ldb = tb ? K : N;
            fill(C1, M * N, -1, 1, 42);
            memcpy(C2, C1, sizeof C1);
            afs_gemm(1, ta, tb, M, N, K, A, lda, Bm, ldb, 1.0f, C1, N);
            afs_gemm_reference(ta, tb, M, N, K, A, lda, Bm, ldb, 1.0f, C2, N);
            for (int i = 0; i < M * N; i++)
                cr_assert(fabsf(C1[i] - C2[i]) < 1e-5f, "ta %d tb %d [%d]: %g vs %g", ta, tb, i,
                          C1[i], C2[i]);
        }
    /* By hand: [1 2; 3 4] [5; 6] = [17; 39]. */
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6}, c[2];
    afs_gemm_reference(0, 0, 2, 1, 2, a, 2, b, 1, 0.0f, c, 1);
    cr_assert(c[0] == 17 && c[1] == 39);
}

/* The backend's gemm on two threads, where afs_gemm splits the rows of C
 * between them (from 2e6 flops, in runs of 16 rows): every transpose, row
 * strides wider than the matrices, beta 1, rows not a multiple of 16.
 * Against the plain loop, and the same bits as one thread: each element
 * is still one OpenBLAS dot product over k in the same order. */
Test(nn, gemm_split_between_threads)
{
    enum { M = 131, N = 70, K = 300, PAD = 3 };
    afs_backend *two = afs_backend_cpu_create(2);
    float *A = malloc(sizeof(float) * (K + PAD) * (M + PAD));
    float *Bm = malloc(sizeof(float) * (K + PAD) * (N + PAD));
    float *C1 = malloc(sizeof(float) * M * (N + PAD)), *C2 = malloc(sizeof(float) * M * (N + PAD));
    float *C3 = malloc(sizeof(float) * M * (N + PAD));
    fill(A, (size_t)(K + PAD) * (M + PAD), -1, 1, 43);
    fill(Bm, (size_t)(K + PAD) * (N + PAD), -1, 1, 44);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? M : K) + PAD, ldb = (tb ? K : N) + PAD, ldc = N + PAD;
            fill(C1, (size_t)M * ldc, -1, 1, 45);
            memcpy(C2, C1, sizeof(float) * M * ldc);
            memcpy(C3, C1, sizeof(float) * M * ldc);
            two->gemm(two, ta, tb, M, N, K, A, lda, Bm, ldb, 1.0f, C1, ldc);
            cpu->gemm(cpu, ta, tb, M, N, K, A, lda, Bm, ldb, 1.0f, C2, ldc);
            afs_gemm_reference(ta, tb, M, N, K, A, lda, Bm, ldb, 1.0f, C3, ldc);
            cr_assert_arr_eq(C1, C2, sizeof(float) * M * ldc, "ta %d tb %d: threads changed bits",
                             ta, tb);
            for (int i = 0; i < M * ldc; i++)
                cr_assert(fabsf(C1[i] - C3[i]) < 1e-4f, "ta %d tb %d [%d]: %g vs %g", ta, tb, i,
                          C1[i], C3[i]);
        }
    two->destroy(two);
    free(A); free(Bm); free(C1); free(C2); free(C3);
}

/* Empty work (a size of 0) is a no-op on every backend; test_cuda_nn_parity.c
 * runs the same checks on CUDA. */
Test(nn, empty_work_is_a_no_op)
{
    test_empty_work(cpu);
}

/* Bias gradients at a large batch against the exact sum: values that are
 * multiples of 1/8 in [-1, 1] sum exactly in float (partial sums stay
 * below 2^21), so the CPU's serial sum must equal it bit for bit; CUDA's
 * two-pass reduction is held to the same (test_cuda_nn_parity.c). */
Test(nn, bias_gradient_is_the_exact_column_sum_at_large_batch)
{
    enum { G = 2, BIG = 65537, O = 5 };
    size_t ny = (size_t)G * BIG * O;
    float *dy = malloc(ny * sizeof(float)), W[G * O] = {0}, dW[G * O] = {0}, db[G * O] = {0};
    fill(dy, ny, -1.0f, 1.0f, 40);
    for (size_t i = 0; i < ny; i++)
        dy[i] = roundf(dy[i] * 8.0f) / 8.0f;
    double want[G * O] = {0};
    for (int g = 0; g < G; g++)
        for (int r = 0; r < BIG; r++)
            for (int o = 0; o < O; o++)
                want[g * O + o] += dy[((size_t)g * BIG + r) * O + o];
    float *xs = calloc((size_t)G * BIG, sizeof(float)); /* in = 1, x = 0 */
    cpu->linear_backward(cpu, G, BIG, 1, O, xs, W, dy, NULL, dW, db);
    for (int i = 0; i < G * O; i++)
        cr_assert_eq((double)db[i], want[i], "db[%d]: %.9g, exact %.9g", i, db[i], want[i]);
    free(dy);
    free(xs);
}
