/* An agent: what decides, for every EN of every environment, where each
 * function runs: a heuristic or a learning method. host/ drives agents
 * through this table (run.c evaluates them, train.c trains them) and never
 * asks which one it has.
 *
 * Ownership: afs_agent_create (agents.h) allocates the agent and everything
 * it holds on the backend; destroy frees it all. The environment is the
 * caller's. */
#ifndef AFS_AGENT_H
#define AFS_AGENT_H

#include <stddef.h>
#include "core/checkpoint_types.h"
#include "core/config_types.h"
#include "kernels/backend.h"

/* How a slot is played. */
enum afs_play_mode {
    AFS_PLAY_EVAL,   /* the deterministic policy, nothing learned */
    AFS_PLAY_TRAIN,  /* exploring, and the slot's experience stored */
};

/* Running means since the last afs_agent_ops.stats call (NaN: none). */
typedef struct afs_agent_stats {
    double critic_loss;     /* mean weighted squared TD error */
    double actor_loss;      /* mean -Q of the policy's actions */
    double td_abs;          /* mean |TD error| */
    double updates;         /* gradient steps taken */
    double replay_fill;     /* stored records / capacity, 0..1 */
    double comm_floats;     /* floats sent between agents per decision */
    /* AM-DRL's attention unit (0 or NaN for the others): initiators per
     * EN at a formation; over the batches' initiators, the mean label,
     * the share with delta-Q > 0, and the AUC of the unit's output against
     * the sign of delta-Q */
    double init_rate, label_mean, dq_positive, attention_auc;
} afs_agent_stats;

typedef struct afs_agent afs_agent;

typedef struct afs_agent_ops {
    /* One slot of env: arrivals, observation, decision, step (and, in
     * AFS_PLAY_TRAIN, the slot's experience stored). 0, or -1 with err. */
    int (*play_slot)(afs_agent *a, afs_env *env, int mode, char *err, size_t n);
    /* The episode's last slot was played (its transitions are terminal). */
    void (*end_episode)(afs_agent *a, afs_env *env, int mode);
    /* Observation and decision alone, from the current state, changing no
     * state: what decision_time_s times. */
    void (*decide)(afs_agent *a, const afs_env *env);
    /* The gradient steps its schedule calls for after a training slot;
     * -1 with err naming the network, the update and the quantity when a
     * loss or gradient is not finite (the parameters are then unchanged). */
    int (*update)(afs_agent *a, char *err, size_t n);
    void (*stats)(afs_agent *a, afs_agent_stats *out);
    /* What a checkpoint of it holds: its parameter sets (and, with_replay,
     * its replay as state arrays); pointers valid until destroy. */
    void (*checkpoint)(afs_agent *a, afs_checkpoint *c, int with_replay);
    /* Counters a checkpoint keeps beyond the parameters (gradient steps). */
    long long (*updates)(afs_agent *a);
    /* After a checkpoint was loaded into the sets (and, when replay_loaded,
     * the replay's arrays): the gradient steps taken so far, and the
     * replay's bookkeeping restored from its saved state, checked first
     * (afs_replay_restore_meta): -1 with err (no file name) when the saved
     * state is not one this agent could have written. */
    int (*set_updates)(afs_agent *a, long long updates, int replay_loaded, char *err, size_t n);
    void (*destroy)(afs_agent *a);
    /* The communication groups of the slot just played, for the trace:
     * backend memory [E M, K] (kernels/common/groups_math.h), K in *K, or
     * NULL when there were none. NULL itself for agents that never talk. */
    const int16_t *(*groups)(afs_agent *a, int *K);
    /* `count` slots at once, as count play_slot calls in AFS_PLAY_EVAL
     * would play them, for an agent that needs nothing between slots: the
     * backend may then play an environment's slots back to back while its
     * state is in the caches. 0, or -1 with err. NULL for agents that act
     * on every slot (learners: their update, their messages). */
    int (*play_slots)(afs_agent *a, afs_env *env, int count, char *err, size_t n);
} afs_agent_ops;

/* What a learning agent's replay is (zeros without one): printed before
 * training and kept as attributes of the results file. */
typedef struct afs_replay_info {
    double record_bytes;  /* per record (one agent, one slot), tree included */
    double capacity;      /* records */
    double slots;         /* slot blocks it spans */
    double ratio;         /* samples drawn per transition stored */
} afs_replay_info;

struct afs_agent {
    const afs_agent_ops *ops;
    const char *name;    /* "greedy", "esdrl", ... */
    int learns;          /* 1 for the learning methods */
    afs_backend *b;
    void *impl;
    afs_replay_info replay;
    double progress;     /* fraction of training done, 0..1: set by the trainer
                            before each episode (anneals prioritized replay's beta) */
};

/* A learning method as afsim lists and makes it: each method's file
 * (esdrl.c, ...) defines one, and models/algos/agents.c's table gathers
 * them. That table is the one list of learners: afsim's help, its messages
 * and `afsim train --algo` take their names from it. */
typedef struct afs_learner {
    const char *name;    /* --algo NAME; also its configuration section, [NAME] */
    const char *help;    /* one line for `afsim train --help` */
    size_t params;       /* offsetof(afs_config, NAME): that section's afs_algo_params */
    /* An agent for `envs` environments of cfg->env with cfg's
     * hyper-parameters, with its replay when train is set; NULL with err. */
    afs_agent *(*create)(afs_backend *b, const afs_config *cfg, int envs, int train, char *err,
                         size_t n);
    /* What its replay will hold when training on `envs` environments
     * (info), before anything is allocated: its slot blocks, or 0 with err
     * (a budget too small for two slots, a batch larger than the replay). */
    int (*plan)(const afs_config *cfg, int envs, afs_replay_info *info, char *err, size_t n);
    /* The bytes its networks take on backend b when training on `envs`
     * environments: weights, gradients, Adam moments and scratch. 0, or -1
     * with err (an invalid hidden-size list). */
    int (*net_bytes)(afs_backend *b, const afs_config *cfg, int envs, double *bytes, char *err,
                     size_t n);
} afs_learner;

/* The learner's section of cfg: its hyper-parameters. */
static inline const afs_algo_params *afs_learner_params(const afs_learner *l,
                                                        const afs_config *cfg)
{
    return (const afs_algo_params *)(const void *)((const char *)cfg + l->params);
}

#endif
