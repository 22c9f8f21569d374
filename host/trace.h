/* The per-function trace: one record per generated function with every input,
 * the action, each latency term and the outcome, enough to recompute the
 * latency by hand from docs/model.md. */
#ifndef AFS_TRACE_H
#define AFS_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include "../kernels/backend.h"

enum afs_fail_reason { AFS_OK = 0, AFS_DEADLINE_MISSED = 1, AFS_QUEUE_FULL = 2 };

typedef struct afs_trace_rec {
    int32_t episode, env, slot, en;
    float z, k, deadline, c;  /* Mbit, Gcycles, s, Mbit */
    int32_t type;
    float memory_mb;
    float f_m, f_c;           /* GHz */
    float w_before;           /* queue before admission, Gcycles */
    int32_t ap, n_g;          /* EN's AP and its offloaders this slot */
    float h, i_g;             /* gain to own AP; interference at that AP, W */
    float r_tr, r_re;         /* uplink rate (cloud only, else 0) and downlink, Mbit/s */
    int8_t warm, action, success, dropped;
    int8_t reason;            /* enum afs_fail_reason */
    float d_up, d_start, d_wait, d_exec, d_tr, d_re, d_idle;  /* s */
    float latency, cost, reward;
    float x, y;               /* the EN's position, m */
    int32_t group;            /* initiator of the EN's first communication group this slot
                                 (the lowest-numbered initiator whose group holds it: an
                                 initiator picked by an earlier one has that one), -1 in none */
} afs_trace_rec;

/* Host copies of the arrays a trace needs, reused from slot to slot. */
typedef struct afs_tracer {
    size_t cap_agents;
    afs_env view;        /* same dimensions, arrays pointing into host memory */
    void *host_blob;
    afs_trace_rec *recs; /* records collected since the last take */
    size_t count, cap;
    int16_t *grp;        /* host copy of the slot's groups [E M, K] */
    int32_t *group_of;   /* [E M]: each EN's record `group` */
    size_t grp_cap;      /* int16s grp holds */
} afs_tracer;

int afs_tracer_init(afs_tracer *t, const afs_env *env);
void afs_tracer_free(afs_tracer *t);
/* Appends one record per function generated in the slot just stepped;
 * grp [E M, K] (backend memory, or NULL): the communication groups that
 * acted in it (afs_agent_ops.groups). */
int afs_tracer_collect(afs_tracer *t, afs_backend *b, const afs_env *env, const int16_t *grp,
                       int K);

#endif
