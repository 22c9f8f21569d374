/* What the tests reach inside AM-DRL (models/algos/amdrl.c). Internal to
 * models/algos and tests/. Letters as in amdrl.c: T thought floats, K
 * group entries (amdrl.group_m + 1), M ENs per joint row; N rows, a
 * multiple of M, at most the update's batch. Backend memory throughout
 * except where it says host. NULL/NaN when the agent was not made for
 * training or N does not fit. */
#ifndef AFS_AMDRL_INTERNAL_H
#define AFS_AMDRL_INTERNAL_H

#include "agent.h"
#include "models/params.h"

/* amdrl.labels: the attention unit's labels from delta-Q. */
enum afs_amdrl_labels { AFS_LABELS_SIGN, AFS_LABELS_ANCHORED, AFS_LABELS_MINMAX };
/* enum afs_amdrl_labels of amdrl.labels's value, or -1. */
int afs_amdrl_label_rule(const char *labels);

/* Adds the n delta-Q values dq (host) to the queue (host [Q], with its
 * count and next position) and writes their labels (host [n]) by rule
 * (enum afs_amdrl_labels), clamped to [0, 1]: sign, 1 where dq >
 * 0, 0 where dq < 0, 1/2 at 0; anchored, 0.5 + 0.5 dq / max |value| over
 * the queue as it then stands (above 1/2 exactly where dq > 0; 0.5 while
 * the queue holds only zeros); minmax, min-max normalized over the queue
 * (0.5 while it holds no range). */
void afs_amdrl_labels(float *queue, int Q, int *count, int *head, const float *dq, int n,
                      int rule, float *labels);
/* afs_amdrl_auc's scratch: a score and its class. */
typedef struct afs_amdrl_scored { float p; int positive; } afs_amdrl_scored;
/* The AUC of the scores p (host [k]) against the classes dq > 0: the
 * chance that a positive's score exceeds a negative's, ties counting a
 * half; NaN without both classes. By ranks (Mann-Whitney), O(k log k):
 * k is a batch's initiators, thousands at batch 2560, where comparing every
 * pair cost milliseconds a gradient step. scratch [k]. */
double afs_amdrl_auc(const float *p, const float *dq, int k, afs_amdrl_scored *scratch);

/* The integrated thoughts h~ [N, T] of thoughts h [N, T] over the groups
 * grp [N, K]: the channel as the actor runs it. */
const float *afs_amdrl_integrate(afs_agent *a, int N, const int16_t *grp, const float *h);
/* After afs_amdrl_integrate: dL/dh [N, T] (written) from dL/dh~ dht [N, T];
 * the channel's gradients are zeroed first, then hold dL/dparams. */
void afs_amdrl_integrate_backward(afs_agent *a, int N, const int16_t *grp, const float *dht,
                                  float *dh);
/* The attention unit's output p [k] on thoughts h [k, T]. */
const float *afs_amdrl_attention_output(afs_agent *a, int k, const float *h);
/* One step of the attention unit towards labels [k]: the loss (binary
 * cross entropy of 0.9 p + 0.05); the gradients stay in its two sets. */
double afs_amdrl_attention_fit(afs_agent *a, int k, const float *h, const float *labels,
                               char *err, size_t n);
/* The attention unit's output p [E M] (backend) on the environments'
 * current observations (after env_arrive), as playing computes it: any
 * agent, trained or only playing; the tests read who it would let talk. */
const float *afs_amdrl_play_attention(afs_agent *a, const afs_env *env);
/* A parameter set by name ("attention_cell", "attention_out", "channel",
 * ...), or NULL. */
afs_params *afs_amdrl_params(afs_agent *a, const char *name);

/* Group formations so far (every amdrl.t_comm slots while playing). */
long afs_amdrl_formations(afs_agent *a);

#endif
