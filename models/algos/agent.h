/* An agent: what decides, for every EN of every environment, where each
 * function runs: a heuristic or a learning method. host/ drives agents
 * through this table (run.c evaluates them, train.c trains them) and never
 * asks which one it has.
 *
 * Ownership: afs_agent_create allocates the agent and everything it holds
 * on the backend; destroy frees it all. The environment is the caller's. */
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

/* The names afs_agent_create knows, for messages; the learning methods
 * among them (afsim train's --algo). */
#define AFS_AGENT_NAMES "random, greedy, all_local, all_cloud, best_response, deadline, esdrl, maddpg, amdrl"
#define AFS_LEARNER_NAMES "esdrl, maddpg or amdrl"

/* The hyper-parameters of learning method `name` (its configuration
 * section), or NULL when name learns nothing. */
const afs_algo_params *afs_agent_algo_params(const afs_config *cfg, const char *name);

/* An agent of the given name for `envs` environments of cfg->env: a
 * heuristic, or a learning method with cfg's hyper-parameters (its replay
 * only when train is set). NULL with err when the name is unknown or
 * memory is short. */
afs_agent *afs_agent_create(const char *name, afs_backend *b, const afs_config *cfg, int envs,
                            int train, char *err, size_t n);
/* What training agent `name` for `envs` environments will hold in its
 * replay (zeros for an agent that learns nothing), to print and check
 * before anything is allocated. 0, or -1 with err (an unknown name, a
 * budget too small for two slots). */
int afs_agent_plan(const char *name, const afs_config *cfg, int envs, afs_replay_info *info,
                   char *err, size_t n);
/* The bytes training agent `name`'s networks take on backend b for `envs`
 * environments (0 for an agent that learns nothing): weights, gradients,
 * Adam moments and scratch, to print and check before anything is
 * allocated. 0, or -1 with err. */
int afs_agent_net_bytes(const char *name, afs_backend *b, const afs_config *cfg, int envs,
                        double *bytes, char *err, size_t n);
void afs_agent_destroy(afs_agent *a);

#endif
