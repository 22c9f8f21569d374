#include "op_profile.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The timed operations, one table: their enum, their names. */
#define PROF_OPS(X)                                                                           \
    X(gemm) X(linear_forward) X(linear_backward) X(activation_forward)                         \
    X(activation_backward) X(lstm_forward) X(lstm_backward) X(adam_step) X(soft_update)        \
    X(clip_grad_norm) X(mse_loss) X(bce_loss) X(gather_rows) X(copy_cols) X(copy) X(to_host)    \
    X(to_backend) X(zero) X(fill) X(axpy) X(scale_rows) X(gumbel_softmax_forward)               \
    X(gumbel_softmax_backward) X(softmax_forward) X(group_gather) X(group_gather_backward)      \
    X(group_mean) X(group_mean_backward) X(form_groups) X(sumtree_sample) X(sumtree_set)       \
    X(env_arrive) X(env_observe) X(env_step)

enum {
#define X(name) OP_##name,
    PROF_OPS(X)
#undef X
    OP_N
};

static const char *const op_names[OP_N] = {
#define X(name) #name,
    PROF_OPS(X)
#undef X
};

typedef struct gemm_shape { int ta, tb, m, n, k; long count; } gemm_shape;

struct afs_prof {
    afs_backend pub; /* first: the wrapper a caller holds is this */
    afs_backend *inner;
    int on;
    double seconds[OP_N], flops[OP_N];
    long calls[OP_N];
    gemm_shape *shapes;
    int nshapes, cap;
};

static afs_prof *prof_of(afs_backend *b) { return (afs_prof *)b; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Start of a timed call: what was queued before is not its time. */
static double enter(afs_prof *p)
{
    if (!p->on)
        return 0.0;
    p->inner->synchronize(p->inner);
    return now_s();
}

static void leave(afs_prof *p, int op, double t0)
{
    if (!p->on)
        return;
    p->inner->synchronize(p->inner);
    p->seconds[op] += now_s() - t0;
    p->calls[op]++;
}

/* Counts `count` products C[m, n] = A'[m, k] B'[k, n] for op. */
static void count_gemm(afs_prof *p, int op, int ta, int tb, int m, int n, int k, long count)
{
    if (!p->on || m <= 0 || n <= 0 || k <= 0 || count <= 0)
        return;
    p->flops[op] += 2.0 * m * n * (double)k * (double)count;
    for (int i = 0; i < p->nshapes; i++) {
        gemm_shape *s = &p->shapes[i];
        if (s->ta == ta && s->tb == tb && s->m == m && s->n == n && s->k == k) {
            s->count += count;
            return;
        }
    }
    if (p->nshapes == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        gemm_shape *grown = realloc(p->shapes, (size_t)cap * sizeof *grown);
        if (!grown)
            return; /* the flops still count; the replay misses this shape */
        p->shapes = grown;
        p->cap = cap;
    }
    p->shapes[p->nshapes++] = (gemm_shape){ta, tb, m, n, k, count};
}

/* ---- The proxies: the matrix products, counted ---- */

static void p_gemm(afs_backend *b, int ta, int tb, int m, int n, int k, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc)
{
    afs_prof *p = prof_of(b);
    count_gemm(p, OP_gemm, ta, tb, m, n, k, 1);
    double t0 = enter(p);
    p->inner->gemm(p->inner, ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
    leave(p, OP_gemm, t0);
}

static void p_linear_forward(afs_backend *b, int G, int B, int in, int out, const float *x,
                             const float *W, const float *bias, float *y)
{
    afs_prof *p = prof_of(b);
    count_gemm(p, OP_linear_forward, 0, 1, B, out, in, G);
    double t0 = enter(p);
    p->inner->linear_forward(p->inner, G, B, in, out, x, W, bias, y);
    leave(p, OP_linear_forward, t0);
}

static void p_linear_backward(afs_backend *b, int G, int B, int in, int out, const float *x,
                              const float *W, const float *dy, float *dx, float *dW, float *db)
{
    afs_prof *p = prof_of(b);
    if (dx)
        count_gemm(p, OP_linear_backward, 0, 0, B, in, out, G);
    count_gemm(p, OP_linear_backward, 1, 0, out, in, B, G);
    double t0 = enter(p);
    p->inner->linear_backward(p->inner, G, B, in, out, x, W, dy, dx, dW, db);
    leave(p, OP_linear_backward, t0);
}

/* An LSTM's products over its valid steps only (lstm_layout.h), per
 * direction: the input projections of all valid steps, and per step k the
 * recurrent ones of the sequences running at k (from k = 1, or 0 with h0).
 * The backward has the adjoint of each, and dx when asked for. */
static void count_lstm(afs_prof *p, int op, const afs_lstm_desc *d, const int *lengths,
                       int from_h0, int backward, int with_dx)
{
    if (!p->on)
        return;
    long steps = 0;
    int G4 = 4 * d->H;
    for (int i = 0; i < d->B; i++)
        steps += lengths[i] > 0 ? lengths[i] : 0;
    for (int dir = 0; dir < d->dirs; dir++) {
        for (int k = from_h0 ? 0 : 1; k < d->S; k++) {
            int running = 0;
            for (int i = 0; i < d->B; i++)
                running += lengths[i] > k;
            if (backward) {
                count_gemm(p, op, 1, 0, G4, d->H, running, 1);
                count_gemm(p, op, 0, 0, running, d->H, G4, 1);
            } else {
                count_gemm(p, op, 0, 1, running, G4, d->H, 1);
            }
        }
        if (backward) {
            count_gemm(p, op, 1, 0, G4, d->in, (int)steps, 1);
            if (with_dx)
                count_gemm(p, op, 0, 0, (int)steps, d->in, G4, 1);
        } else {
            count_gemm(p, op, 0, 1, (int)steps, G4, d->in, 1);
        }
    }
}

static void p_lstm_forward(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                           const float *x, const float *params, const float *h0, const float *c0,
                           float *h_out, float *h_n, float *c_n, float *work)
{
    afs_prof *p = prof_of(b);
    count_lstm(p, OP_lstm_forward, d, lengths, h0 != NULL, 0, 0);
    double t0 = enter(p);
    p->inner->lstm_forward(p->inner, d, lengths, x, params, h0, c0, h_out, h_n, c_n, work);
    leave(p, OP_lstm_forward, t0);
}

static void p_lstm_backward(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                            const float *x, const float *params, const float *h0,
                            const float *c0, const float *work, const float *h_out,
                            const float *dh_out, const float *dh_n, float *dx, float *dparams)
{
    afs_prof *p = prof_of(b);
    count_lstm(p, OP_lstm_backward, d, lengths, h0 != NULL, 1, dx != NULL);
    double t0 = enter(p);
    p->inner->lstm_backward(p->inner, d, lengths, x, params, h0, c0, work, h_out, dh_out, dh_n,
                            dx, dparams);
    leave(p, OP_lstm_backward, t0);
}

/* ---- The proxies: the rest, timed ----
 * TIMED(op, parameters after b, arguments after b): a proxy that calls the
 * inner backend's op between enter and leave. RESULT likewise for an
 * operation that returns a double. */
#define INNER(...) (p->inner, __VA_ARGS__)
#define TIMED(op, PARAMS, ARGS)                                   \
    static void p_##op(afs_backend *b, PARAMS)                   \
    {                                                             \
        afs_prof *p = prof_of(b);                                 \
        double t0 = enter(p);                                     \
        p->inner->op INNER ARGS;                                  \
        leave(p, OP_##op, t0);                                    \
    }
#define RESULT(op, PARAMS, ARGS)                                  \
    static double p_##op(afs_backend *b, PARAMS)                 \
    {                                                             \
        afs_prof *p = prof_of(b);                                 \
        double t0 = enter(p);                                     \
        double r = p->inner->op INNER ARGS;                       \
        leave(p, OP_##op, t0);                                    \
        return r;                                                 \
    }
#define P(...) __VA_ARGS__

TIMED(activation_forward, P(int kind, size_t n, const float *x, float *y), (kind, n, x, y))
TIMED(activation_backward, P(int kind, size_t n, const float *y, const float *dy, float *dx),
      (kind, n, y, dy, dx))
TIMED(adam_step, P(size_t n, float *param, const float *grad, float *m, float *v,
                   const afs_adam *hp), (n, param, grad, m, v, hp))
TIMED(soft_update, P(size_t n, float tau, const float *online, float *target),
      (n, tau, online, target))
RESULT(clip_grad_norm, P(size_t n, float *grad, float max_norm), (n, grad, max_norm))
RESULT(mse_loss, P(size_t n, const float *pred, const float *target, const float *weight,
                   float *grad), (n, pred, target, weight, grad))
RESULT(bce_loss, P(size_t n, const float *prob, const float *target, const float *weight,
                   float *grad), (n, prob, target, weight, grad))
TIMED(gather_rows, P(size_t n, size_t width, const int32_t *idx, const void *src, void *dst),
      (n, width, idx, src, dst))
TIMED(copy_cols, P(int G, int rows, int cols, const float *src, size_t src_ld, size_t src_gs,
                   float *dst, size_t dst_ld, size_t dst_gs),
      (G, rows, cols, src, src_ld, src_gs, dst, dst_ld, dst_gs))
TIMED(copy, P(void *dst, const void *src, size_t bytes), (dst, src, bytes))
TIMED(to_host, P(void *dst, const void *src, size_t n), (dst, src, n))
TIMED(to_backend, P(void *dst, const void *src, size_t n), (dst, src, n))
TIMED(zero, P(void *dst, size_t n), (dst, n))
TIMED(fill, P(size_t n, float value, float *dst), (n, value, dst))
TIMED(axpy, P(size_t n, float alpha, const float *x, float *y), (n, alpha, x, y))
TIMED(scale_rows, P(size_t n, int k, const float *x, const float *w, float *y), (n, k, x, w, y))
TIMED(gumbel_softmax_forward, P(int rows, int cols, float tau, float epsilon, uint32_t seed,
                                uint32_t stream, uint32_t counter, const float *logits,
                                float *soft, float *hard),
      (rows, cols, tau, epsilon, seed, stream, counter, logits, soft, hard))
TIMED(gumbel_softmax_backward, P(int rows, int cols, float tau, const float *soft,
                                 const float *dhard, float *dlogits),
      (rows, cols, tau, soft, dhard, dlogits))
TIMED(softmax_forward, P(int rows, int cols, const float *x, float *y), (rows, cols, x, y))
TIMED(group_gather, P(int N, int M, int K, int D, const int16_t *grp, const float *h, float *x),
      (N, M, K, D, grp, h, x))
TIMED(group_gather_backward, P(int N, int M, int K, int D, const int16_t *grp, const float *dx,
                               float *dh), (N, M, K, D, grp, dx, dh))
TIMED(group_mean, P(int N, int M, int K, int D, const int16_t *grp, const float *y,
                    const float *h, float *out, float *count), (N, M, K, D, grp, y, h, out, count))
TIMED(group_mean_backward, P(int N, int M, int K, int D, const int16_t *grp, const float *count,
                             const float *dout, float *dy, float *dh),
      (N, M, K, D, grp, count, dout, dy, dh))
TIMED(form_groups, P(const afs_env *env, int K, float range_m, const uint8_t *init,
                     uint8_t *chosen, int16_t *grp, int32_t *len),
      (env, K, range_m, init, chosen, grp, len))
TIMED(sumtree_sample, P(const double *tree, int L, size_t n, uint32_t seed, uint32_t stream,
                        uint32_t counter, int32_t *idx, float *prob),
      (tree, L, n, seed, stream, counter, idx, prob))
TIMED(sumtree_set, P(double *tree, int L, size_t n, const int32_t *idx, const float *prio),
      (tree, L, n, idx, prio))
TIMED(env_arrive, P(afs_env *env), (env))
TIMED(env_observe, P(const afs_env *env, float *obs), (env, obs))
TIMED(env_step, P(afs_env *env, const uint8_t *action), (env, action))

static void p_destroy(afs_backend *b)
{
    afs_prof *p = prof_of(b);
    p->inner->destroy(p->inner);
    free(p->shapes);
    free(p);
}

afs_backend *afs_prof_wrap(afs_backend *inner, afs_prof **prof)
{
    afs_prof *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->inner = inner;
    p->pub = *inner; /* the same impl: what is not proxied runs as it is */
#define X(name) p->pub.name = p_##name;
    PROF_OPS(X)
#undef X
    p->pub.destroy = p_destroy;
    *prof = p;
    return &p->pub;
}

void afs_prof_enable(afs_prof *p, int on) { p->on = on; }

void afs_prof_clear(afs_prof *p)
{
    memset(p->seconds, 0, sizeof p->seconds);
    memset(p->flops, 0, sizeof p->flops);
    memset(p->calls, 0, sizeof p->calls);
    p->nshapes = 0;
}

double afs_prof_flops(const afs_prof *p)
{
    double f = 0.0;
    for (int i = 0; i < OP_N; i++)
        f += p->flops[i];
    return f;
}

double afs_prof_gemm_seconds(afs_prof *p, int reps)
{
    afs_backend *b = p->inner;
    size_t a = 1, bb = 1, c = 1;
    for (int i = 0; i < p->nshapes; i++) {
        const gemm_shape *s = &p->shapes[i];
        a = (size_t)s->m * s->k > a ? (size_t)s->m * s->k : a;
        bb = (size_t)s->k * s->n > bb ? (size_t)s->k * s->n : bb;
        c = (size_t)s->m * s->n > c ? (size_t)s->m * s->n : c;
    }
    float *A = b->alloc(b, a * sizeof(float)), *B = b->alloc(b, bb * sizeof(float));
    float *C = b->alloc(b, c * sizeof(float));
    double best = -1.0;
    for (int r = 0; A && B && C && r < reps; r++) {
        b->synchronize(b);
        double t0 = now_s();
        for (int i = 0; i < p->nshapes; i++) {
            const gemm_shape *s = &p->shapes[i];
            /* row strides of the stored operands: A is [m, k] or [k, m] */
            int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
            for (long n = 0; n < s->count; n++)
                b->gemm(b, s->ta, s->tb, s->m, s->n, s->k, A, lda, B, ldb, 0.0f, C, s->n);
        }
        b->synchronize(b);
        double took = now_s() - t0;
        best = best < 0.0 || took < best ? took : best;
    }
    if (A) b->release(b, A);
    if (B) b->release(b, B);
    if (C) b->release(b, C);
    return best;
}

void afs_prof_report(const afs_prof *p, FILE *f, double total_s, double units, const char *per)
{
    double timed = 0.0;
    fprintf(f, "  %-24s %8s %12s %7s %10s\n", "operation", "calls", "ms a", "share", "GFLOP a");
    fprintf(f, "  %-24s %8s %12s %7s %10s\n", "", "", per, "", per);
    for (int i = 0; i < OP_N; i++) {
        if (!p->calls[i])
            continue;
        timed += p->seconds[i];
        fprintf(f, "  %-24s %8ld %12.3f %6.1f%% %10.3f\n", op_names[i], p->calls[i],
                1e3 * p->seconds[i] / units, 100.0 * p->seconds[i] / total_s,
                1e-9 * p->flops[i] / units);
    }
    fprintf(f, "  %-24s %8s %12.3f %6.1f%%\n", "(the rest: host, others)", "",
            1e3 * (total_s - timed) / units, 100.0 * (total_s - timed) / total_s);
}
