/* The backend interface: a table of operations that models/ and host/ call,
 * implemented once in plain C (kernels/cpu) and once in CUDA (kernels/cuda).
 * Operations of the same name take the same arguments on every backend.
 * Pointers into backend memory are marked "backend" below; everything else is
 * host memory. Every operation takes empty work (a size of 0) and then does
 * nothing (losses and norms return 0). Operations may run asynchronously
 * (CUDA queues them on the device): copies to the host, host results of
 * losses and norms, and synchronize wait for what was queued before. */
#ifndef AFS_BACKEND_H
#define AFS_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include "common/env_state.h"
#include "common/nn_math.h"
#include "common/lstm_layout.h"
#include "common/groups_math.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Episode metrics summed over every environment, in environment order. */
typedef struct afs_episode_sums { double v[AFS_ACC_N]; } afs_episode_sums;

typedef struct afs_backend afs_backend;
struct afs_backend {
    const char *name;  /* "cpu" or "cuda" */
    void *impl;        /* backend-private state, owned by the backend */

    /* Memory. alloc returns zeroed backend memory or NULL. */
    void *(*alloc)(afs_backend *b, size_t bytes);
    void (*release)(afs_backend *b, void *ptr);
    void (*to_host)(afs_backend *b, void *dst, const void *src_backend, size_t n);
    void (*to_backend)(afs_backend *b, void *dst_backend, const void *src, size_t n);
    void (*zero)(afs_backend *b, void *dst_backend, size_t n);
    /* Returns once every operation queued so far has finished (for timing). */
    void (*synchronize)(afs_backend *b);
    /* Bytes this backend's memory can give a run: CUDA, the device's free
     * memory now; CPU, the machine's physical memory. */
    double (*memory_budget)(afs_backend *b);
    int host_memory; /* 1 when backend memory is host memory (the CPU) */

    /* Environment. env's arrays are backend memory (env.c allocates them).
     * One slot is: env_arrive, env_observe, env_act (or a learned policy),
     * env_step; env_step advances env->slot. */
    void (*env_reset)(afs_backend *b, afs_env *env);         /* uses env->episode */
    void (*env_arrive)(afs_backend *b, afs_env *env);
    void (*env_observe)(afs_backend *b, const afs_env *env,
                        float *obs /* backend [E*M, AFS_OBS_DIM] */);
    void (*env_act)(afs_backend *b, const afs_env *env, int policy,
                    const float *obs /* backend [E*M, AFS_OBS_DIM] */,
                    uint8_t *action /* backend [E*M] */);
    void (*env_step)(afs_backend *b, afs_env *env,
                     const uint8_t *action /* backend [E*M] */);
    /* env_step with the caller's actions, then env_arrive and env_observe
     * of the next slot (which must be one of the episode's): the same state
     * and obs as the three in turn, fused so that the CPU visits an
     * environment's state once instead of three times (the step API of
     * host/vecenv.h, whose actions come from outside). */
    void (*env_step_next)(afs_backend *b, afs_env *env, const uint8_t *action /* backend [E*M] */,
                          float *obs /* backend [E*M, AFS_OBS_DIM] */);
    /* `count` whole slots under a heuristic policy: the same state as
     * env_arrive, env_observe, env_act and env_step in turn, count times,
     * fused so that the state is visited once per slot, or (the CPU) once
     * per environment for all count slots, while its state is in the
     * caches. action receives the last slot's actions; obs is scratch
     * space whose contents are left unspecified. */
    void (*env_play_slots)(afs_backend *b, afs_env *env, int policy, int count,
                           float *obs /* backend [E*M, AFS_OBS_DIM] */,
                           uint8_t *action /* backend [E*M] */);
    /* Sums the episode accumulators over environments into host memory. */
    void (*env_metrics)(afs_backend *b, const afs_env *env, afs_episode_sums *out);

    /* Neural-network operations. Row-major: x [B, in], W [out, in],
     * bias [out], y [B, out]. The linear operations run G independent layers
     * at once (one per agent, each with its own weights: MADDPG's per-agent
     * networks): x [G, B, in], W [G, out, in], bias [G, out], y [G, B, out];
     * G = 1 is one ordinary layer. Backward operations ADD into parameter
     * gradients (dW, db), so that several uses of one layer accumulate;
     * input gradients (dx) are overwritten. All pointers are backend memory
     * except the host results of losses and norms. */
    /* C[m, n] = A'[m, k] B'[k, n] + beta C, row-major with row strides
     * lda, ldb, ldc; A' is A or, with ta, its transpose (B' likewise): the
     * plain matrix product under the layers (OpenBLAS's sgemm or a loop on
     * the CPU, cuBLAS's on CUDA). For a layer whose inputs several
     * networks share (MADDPG's critics) and for benchmarks that compare an
     * operation with the product it is built on. */
    void (*gemm)(afs_backend *b, int ta, int tb, int m, int n, int k, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);
    void (*linear_forward)(afs_backend *b, int G, int B, int in, int out, const float *x,
                           const float *W, const float *bias, float *y);
    void (*linear_backward)(afs_backend *b, int G, int B, int in, int out, const float *x,
                            const float *W, const float *dy,
                            float *dx /* or NULL */, float *dW, float *db);
    void (*activation_forward)(afs_backend *b, int kind, size_t n, const float *x, float *y);
    /* from the forward's output y */
    void (*activation_backward)(afs_backend *b, int kind, size_t n, const float *y,
                                const float *dy, float *dx);
    void (*softmax_forward)(afs_backend *b, int rows, int cols, const float *x, float *y);
    void (*softmax_backward)(afs_backend *b, int rows, int cols, const float *y,
                             const float *dy, float *dx);
    /* soft = softmax((logits + g) / tau) with Gumbel noise g drawn from
     * Philox (key {seed, stream}, counter {row, counter, 0, col / 4});
     * hard = one-hot of argmax(soft) (the first on ties), or with
     * probability epsilon of a uniformly drawn column (epsilon-greedy
     * exploration; counter {row, counter, 1, 0}). The straight-through
     * estimator uses hard forward and soft's gradient backward:
     * gumbel_softmax_backward turns dL/dhard into dL/dlogits. */
    void (*gumbel_softmax_forward)(afs_backend *b, int rows, int cols, float tau, float epsilon,
                                   uint32_t seed, uint32_t stream, uint32_t counter,
                                   const float *logits, float *soft, float *hard);
    void (*gumbel_softmax_backward)(afs_backend *b, int rows, int cols, float tau,
                                    const float *soft, const float *dhard, float *dlogits);
    /* Mean over n elements of w * loss(pred, target) (w = 1 where weight is
     * NULL); writes dL/dpred into grad and returns the loss on the host. */
    double (*mse_loss)(afs_backend *b, size_t n, const float *pred, const float *target,
                       const float *weight, float *grad);
    double (*bce_loss)(afs_backend *b, size_t n, const float *prob, const float *target,
                       const float *weight, float *grad);
    void (*adam_step)(afs_backend *b, size_t n, float *param, const float *grad,
                      float *m, float *v, const afs_adam *hp);
    void (*soft_update)(afs_backend *b, size_t n, float tau, const float *online, float *target);
    /* Scales grad so that its L2 norm is at most max_norm; returns the norm
     * before scaling. */
    double (*clip_grad_norm)(afs_backend *b, size_t n, float *grad, float max_norm);

    /* TF32 tensor-core math for matrix products, cuBLAS's and cuDNN's
     * (CUDA; the CPU ignores it). Off unless switched on. Switch it before
     * sizing LSTM work buffers: cuDNN's sizes may depend on it. */
    void (*set_tf32)(afs_backend *b, int on);

    /* LSTM through time (kernels/common/lstm_layout.h has the layout). lengths is host
     * memory [B]. h0, c0 [D, B, H] are the initial states (NULL: zeros);
     * h_n, c_n [D, B, H] receive the final states when not NULL, so that one
     * step (S = 1) is the recurrent cell of the attention unit; h_n may be
     * h0 and c_n c0 (the cell stepped in place). The backward takes the
     * forward's work and h_out, dL/dh_out (and dL/dh_n, or NULL), ADDS
     * dL/dparams into dparams and writes dL/dx (when dx is not NULL); it
     * leaves work as it was, so one forward may have several backwards.
     * No gradient flows into h0 or c0. */
    void (*lstm_forward)(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                         const float *x, const float *params, const float *h0, const float *c0,
                         float *h_out, float *h_n, float *c_n, float *work);
    void (*lstm_backward)(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                          const float *x, const float *params, const float *h0,
                          const float *c0, const float *work, const float *h_out,
                          const float *dh_out, const float *dh_n, float *dx, float *dparams);
    /* Bytes of `work` the forward keeps for the backward (backend memory). */
    size_t (*lstm_work_bytes)(afs_backend *b, const afs_lstm_desc *d);

    /* ---- Learning: moving data, replay, targets (kernels/common/learn_math.h) ---- */
    void (*copy)(afs_backend *b, void *dst_backend, const void *src_backend, size_t bytes);
    /* G blocks of a strided 2-D copy of floats: for g < G, r < rows, c < cols,
     * dst[g dst_gs + r dst_ld + c] = src[g src_gs + r src_ld + c]. Column
     * slices, concatenations, and swapping two leading dimensions
     * ([A, B, C] to [B, A, C]: G = A, rows = B, src_ld = C, src_gs = B C,
     * dst_ld = A C, dst_gs = C) are all this one operation. */
    void (*copy_cols)(afs_backend *b, int G, int rows, int cols, const float *src, size_t src_ld,
                      size_t src_gs, float *dst, size_t dst_ld, size_t dst_gs);
    /* dst row i = src row idx[i], rows of `width` bytes; idx backend [n]. */
    void (*gather_rows)(afs_backend *b, size_t n, size_t width, const int32_t *idx,
                        const void *src, void *dst);
    /* out[i] = (idx[i] + add) mod m (the next slot's row of a replay row). */
    void (*index_add_mod)(afs_backend *b, size_t n, const int32_t *idx, int32_t add, int32_t m,
                          int32_t *out);
    void (*fill)(afs_backend *b, size_t n, float value, float *dst);
    /* y[i] += alpha x[i] (a product and a sum, each rounded once: the same
     * bits on every backend); x and y do not overlap unless equal. */
    void (*axpy)(afs_backend *b, size_t n, float alpha, const float *x, float *y);
    /* y[i k + j] = w[i] x[i k + j] for i < n, j < k: each row of x [n, k]
     * scaled by its weight (k = 1: an elementwise product); y may be x. */
    void (*scale_rows)(afs_backend *b, size_t n, int k, const float *x, const float *w,
                       float *y);
    /* out[i, j] = (j == a[i]): actions [n] as one-hot rows [n, k]. */
    void (*one_hot)(afs_backend *b, size_t n, int k, const uint8_t *a, float *out);
    /* a[i] = the column of row i of x [n, k] with the largest value (the
     * first on ties): the deterministic action of a policy's logits. */
    void (*argmax_rows)(afs_backend *b, size_t n, int k, const float *x, uint8_t *a);
    /* out[i] = (flags[i] & mask) ? on : 0 (a mask, or a mask already scaled). */
    void (*flag_floats)(afs_backend *b, size_t n, const uint8_t *flags, uint8_t mask, float on,
                        float *out);
    /* out[i] = (x[i stride] != 0 ? set : 0) | always: flags from a column of
     * floats (e.g. the observation's "a function came"). */
    void (*nonzero_flags)(afs_backend *b, size_t n, const float *x, size_t stride, uint8_t set,
                          uint8_t always, uint8_t *out);
    /* y[i] = r[i] + gamma (1 - done[i]) q_next[i]: the TD target. */
    void (*td_target)(afs_backend *b, size_t n, float gamma, const float *r, const float *done,
                      const float *q_next, float *y);
    /* Mean of n floats, summed in a fixed order; returned on the host. */
    double (*mean)(afs_backend *b, size_t n, const float *x);
    /* Mean of |x[i] - y[i]| (the mean absolute TD error); on the host. */
    double (*mean_abs_diff)(afs_backend *b, size_t n, const float *x, const float *y);

    /* Sum trees for replay sampling: tree [2 L] doubles over L leaves (a
     * power of two): node 1 the root, children of k at 2k and 2k + 1, leaf
     * j at L + j. Every update recomputes the ancestors of what it changed,
     * parent = left + right, so that equal leaves give equal trees on every
     * backend. */
    /* Leaves idx[i] = prio[i] (an index given twice must carry one value). */
    void (*sumtree_set)(afs_backend *b, double *tree, int L, size_t n, const int32_t *idx,
                        const float *prio);
    /* Leaves first .. first + count - 1 = (flags[i] & mask) ? *value : 0;
     * flags NULL: 0 (value is backend memory: the replay's running largest
     * priority, kept on the device). */
    void (*sumtree_set_range)(afs_backend *b, double *tree, int L, int first, int count,
                              const uint8_t *flags, uint8_t mask, const float *value);
    /* n leaves drawn with probability leaf / root, stratified: draw i falls
     * in the i-th n-th of the total, at a Philox uniform (key {seed, stream},
     * counter {i, counter, 0, 0}); never a leaf of 0. idx [n], prob [n]. */
    void (*sumtree_sample)(afs_backend *b, const double *tree, int L, size_t n, uint32_t seed,
                           uint32_t stream, uint32_t counter, int32_t *idx, float *prob);
    /* prio[i] = (|pred[i] - target[i]| + eps)^alpha, and *running_max (backend)
     * = max(*running_max, every prio[i]): proportional prioritized replay. */
    void (*td_priority)(afs_backend *b, size_t n, const float *pred, const float *target,
                        float alpha, float eps, float *prio, float *running_max);
    /* Importance weights of prioritized replay: w[i] = (count prob[i])^-beta
     * normalized by their largest, i.e. (prob[i] / min prob)^-beta. */
    void (*is_weights)(afs_backend *b, size_t n, const float *prob, float beta, float *w);

    /* ---- Communication groups (AM-DRL; kernels/common/groups_math.h) ----
     * M ENs per joint row (an environment, or one replayed slot of one); N
     * rows, a multiple of M; row s is in joint row s / M. A group has at
     * most K members (1 <= K <= AFS_GROUP_MAX, M < 32768). grp [N, K] int16
     * lists initiator s's group as LOCAL indices 0..M-1 in its joint row,
     * s's own first, -1 padded; a non-initiator's row is all -1. Member t
     * of s is global row g = (s / M) M + grp[s K + t]. The channel's
     * sequences are time-major, the LSTM's layout (lstm_layout.h):
     * x [K, N, D], position (s, t) at x[(t N + s) D + d]. Every pointer is
     * backend memory. Sums over an EN's positions run in a fixed order
     * (its joint row's s, then t, increasing), on every backend the same:
     * the same bits on CPU and CUDA. */
    /* The groups of every environment of env (positions env->pos_x/pos_y),
     * each on its own: the initiators, init [E M] != 0, in index order;
     * initiator m takes itself, then up to K - 1 other ENs j of its
     * environment with dx^2 + dy^2 <= range_m^2, smallest key first, key
     * (category, squared distance, j): category 0 if j is no initiator and
     * no earlier initiator chose it, 1 if an earlier one did, 2 if j is an
     * initiator. grp [E M, K]; len [E M] = group size (0 for a
     * non-initiator); chosen [E M] is scratch (cleared here). Initiators
     * one after another within an environment (groups_math.h says why),
     * each pick's search split over CUDA's lanes; the same on every
     * backend. */
    void (*form_groups)(afs_backend *b, const afs_env *env, int K, float range_m,
                        const uint8_t *init, uint8_t *chosen, int16_t *grp, int32_t *len);
    /* x[(t N + s) D + d] = the thought of member t of s, h[g D + d]; 0 at
     * padding. h [N, D], x [K, N, D]. */
    void (*group_gather)(afs_backend *b, int N, int M, int K, int D, const int16_t *grp,
                         const float *h, float *x);
    /* group_gather's adjoint: ADDS into dh [N, D], for each EN j, dx at
     * every position whose member is j, one at a time in the fixed order
     * (dh + a + b ..., no atomics). */
    void (*group_gather_backward)(afs_backend *b, int N, int M, int K, int D,
                                  const int16_t *grp, const float *dx, float *dh);
    /* count[j] = the positions holding EN j (a float); out[j D + d] = the
     * mean of y [K, N, D] over those positions (summed in the fixed order,
     * divided by count[j]), or h[j D + d] where count[j] = 0: an EN in
     * several groups gets the mean of its integrated thoughts, one in none
     * keeps its own. out [N, D] may not be h. */
    void (*group_mean)(afs_backend *b, int N, int M, int K, int D, const int16_t *grp,
                       const float *y, const float *h, float *out, float *count);
    /* group_mean's backward from dout [N, D] and its count: writes
     * dy[(t N + s) D + d] = dout[g D + d] / count[g] (0 at padding) and
     * ADDS dout[j D + d] into dh[j D + d] where count[j] = 0. */
    void (*group_mean_backward)(afs_backend *b, int N, int M, int K, int D,
                                const int16_t *grp, const float *count, const float *dout,
                                float *dy, float *dh);
    /* out[s] = the mean of v [N] over row s's members (summed in t order;
     * 0 for an empty row): an initiator's Delta-Q, its members' averaged. */
    void (*group_average)(afs_backend *b, int N, int M, int K, const int16_t *grp,
                          const float *v, float *out);
    /* out[r] = (sum over m in order of |x[r M + m] - y[r M + m]|) / M in
     * float, for r < R (0 when M = 0): a joint row's TD error, its
     * priority in the replay of joint rows. */
    void (*row_mean_abs_diff)(afs_backend *b, int R, int M, const float *x, const float *y,
                              float *out);

    void (*destroy)(afs_backend *b);
};

/* CPU backend; threads <= 0 uses every core. Never fails short of memory. */
afs_backend *afs_backend_cpu_create(int threads);

/* CUDA backend, or NULL with a reason in err when no usable device exists.
 * Defined only when the project is built with CUDA. */
afs_backend *afs_backend_cuda_create(char *err, size_t err_len);
int afs_cuda_built(void);

#ifdef __cplusplus
}
#endif

#endif
