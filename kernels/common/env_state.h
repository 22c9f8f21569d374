/* State of E environments of M edge nodes, structure of arrays.
 *
 * All arrays live in one allocation on the backend (the "blob"), so the whole
 * state moves between backends, or to a checkpoint, in one copy. The array
 * list below is the single place that says what the state holds; the host
 * computes offsets from it and both backends index it the same way:
 * agent i = e * M + m (environment-major). */
#ifndef AFS_ENV_STATE_H
#define AFS_ENV_STATE_H

#include <stddef.h>
#include <stdint.h>
#include "env_params.h"

/* Per-environment episode accumulators (summed over agents and slots). */
enum afs_metric_slot {
    AFS_ACC_GENERATED, /* functions that arrived */
    AFS_ACC_COMPLETED, /* admitted and run to the end (not dropped) */
    AFS_ACC_SUCCESS,   /* completed with latency <= deadline */
    AFS_ACC_DROPPED,   /* sent to a full queue */
    AFS_ACC_LATE,      /* completed after the deadline */
    AFS_ACC_OFFLOADED, /* sent to the cloud */
    AFS_ACC_COLD,      /* completed with a cold start */
    AFS_ACC_LATENCY,   /* sum of latencies of completed functions, s */
    AFS_ACC_COST,      /* sum of per-function cost R (paper eq. 3) */
    AFS_ACC_REWARD,    /* sum of rewards */
    AFS_ACC_N
};

/* Bits of flags[i]: what happened to agent i's function this slot. */
#define AFS_F_HAS 0x01u     /* a function arrived */
#define AFS_F_LOCAL 0x02u   /* the action was "run at the EN" (a = 1) */
#define AFS_F_WARM 0x04u    /* warm container at the chosen location */
#define AFS_F_DROPPED 0x08u /* queue full: failed, not run */
#define AFS_F_LATE 0x10u    /* completed after its deadline: failed */
#define AFS_F_SUCCESS 0x20u /* completed within its deadline */

#define AFS_NEVER (-1) /* last-use slot of a container never used */

/* X(type, name, count): count is an expression in E, A (= E*M), G, NT. */
#define AFS_ENV_ARRAYS(X)                                                     \
    /* episode accumulators                               [E, AFS_ACC_N] */  \
    X(double, acc, (size_t)E * AFS_ACC_N)                                     \
    /* edge nodes, fixed for the episode                  [A] */             \
    X(float, pos_x, A)      /* m */                                           \
    X(float, pos_y, A)      /* m */                                           \
    X(float, f, A)          /* CPU f_m, GHz */                                \
    X(float, mu, A)         /* arrival probability per slot */                \
    X(int32_t, ap, A)       /* index of the EN's access point */             \
    X(float, h_own, A)      /* power gain EN -> own AP (linear) */           \
    X(float, r_re, A)       /* downlink rate, Mbit/s */                       \
    X(float, gain, (size_t)A * G) /* power gain EN -> every AP  [A, G] */    \
    /* edge nodes, evolving                               [A] */             \
    X(float, w, A)          /* queued work, Gcycles */                        \
    X(float, r_obs, A)      /* broadcast uplink rate seen next slot, Mbit/s */\
    X(int32_t, last_edge, (size_t)A * NT) /* last-use slot  [A, NT] */        \
    /* environments                                       [E] */             \
    X(float, f_c, E)        /* cloud CPU, GHz */                              \
    X(int32_t, last_cloud, (size_t)E * NT) /* last-use slot [E, NT] */        \
    X(int32_t, n_ap, (size_t)E * G) /* offloaders per AP this slot [E, G] */ \
    X(float, i_ap, (size_t)E * G)   /* interference at each AP, W  [E, G] */ \
    /* this slot's function at each EN                    [A] */             \
    X(float, z, A)          /* input size, Mbit */                            \
    X(float, k, A)          /* CPU requirement, Gcycles */                    \
    X(float, dl, A)         /* deadline T, s */                               \
    X(float, c, A)          /* result size, Mbit */                           \
    X(int32_t, type, A)     /* function type */                               \
    X(float, d_idle, A)     /* network idle time if offloaded, s */          \
    /* this slot's outcome at each EN                     [A] */             \
    X(uint32_t, flags, A)   /* AFS_F_* bits */                          \
    X(float, w_before, A)   /* queue before admission, Gcycles */            \
    X(float, d_up, A)       /* upload device -> EN z / r_up, s */             \
    X(float, d_start, A)    /* container start (warm or cold), s */          \
    X(float, d_wait, A)     /* edge queue wait w / f_m, s */                  \
    X(float, d_exec, A)     /* execution k / f_m or k / f_c, s */             \
    X(float, d_tr, A)       /* uplink EN -> cloud z / r_tr, s */              \
    X(float, d_re, A)       /* result return c / r_re, s */                   \
    X(float, latency, A)    /* total latency D, s (0 when dropped) */         \
    X(float, cost, A)       /* per-function cost R (paper eq. 3) */           \
    X(float, reward, A)     /* RL reward */

typedef struct afs_env {
    int E, M, G, NT;
    afs_env_params p;
    float noise_w;      /* sigma^2 in W, derived once from p.noise_dbm */
    uint32_t seed;
    uint32_t episode;   /* current episode, part of every random counter */
    int32_t slot;       /* slot about to be played, 0 .. L-1 */
    void *blob;         /* backend memory holding every array below */
    size_t blob_bytes;
#define AFS_X(type, name, count) type *name;
    AFS_ENV_ARRAYS(AFS_X)
#undef AFS_X
} afs_env;

#endif
