/* An agent: what decides, for every EN of every environment, where each
 * function runs: a heuristic or a learning method. host/ drives agents
 * through this table (episode.c plays the slots around it, run.c
 * evaluates, train.c trains) and never asks which one it has.
 *
 * Ownership: afs_agent_create (agents.h) allocates the agent and everything
 * it holds on the backend; afs_agent_destroy frees it all. The environment
 * is the caller's. */
#ifndef AFS_AGENT_H
#define AFS_AGENT_H

#include <stddef.h>
#include "core/checkpoint_types.h"
#include "core/config_types.h"
#include "kernels/backend.h"

/* How a slot is played. */
enum afs_play_mode {
    AFS_PLAY_EVAL,   /* the deterministic policy, nothing learned */
    AFS_PLAY_TRAIN,  /* exploring, and the slot's transition stored */
    AFS_PLAY_DECIDE, /* AFS_PLAY_EVAL's decision from the state as it stands,
                      * changing nothing the agent keeps (no group formed,
                      * nothing counted): what decision_time_s times */
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

/* What an agent does; host/episode.c plays the slot around it:
 *
 *   env_arrive; env_observe -> obs; act(obs) -> action; env_step(action);
 *   in training, store(obs, action, reward, done), then update.
 *
 * An agent never steps the environment itself. obs [E M, AFS_OBS_DIM] and
 * action [E M] are backend memory: the loop passes the agent's own buffers
 * (a->obs, a->act), and an agent reads and writes only what it is passed. */
typedef struct afs_agent_ops {
    /* The slot's decision for the observation obs of env's current slot
     * (after env_arrive): 1 = run at the EN, 0 = cloud, into action. In
     * AFS_PLAY_TRAIN it explores; it may keep what store needs (AM-DRL:
     * the groups that acted). */
    void (*act)(afs_agent *a, const afs_env *env, const float *obs, int mode, uint8_t *action);
    /* After env_step in AFS_PLAY_TRAIN: the transition, the slot's obs and
     * action, its rewards reward [E M] (backend) and done (the episode's
     * last slot), into the agent's replay. NULL for an agent that learns
     * nothing. */
    void (*store)(afs_agent *a, const float *obs, const uint8_t *action, const float *reward,
                  int done);
    /* The gradient steps its schedule calls for after a training slot;
     * -1 with err naming the network, the update and the quantity when a
     * loss or gradient is not finite (the parameters are then unchanged).
     * NULL for an agent that learns nothing. */
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
    /* Releases what the implementation holds (its backend buffers, its
     * networks); afs_agent_destroy frees the rest. */
    void (*destroy)(afs_agent *a);
    /* The communication groups of the slot just played, for the trace:
     * backend memory [E M, K] (kernels/common/groups_math.h), K in *K, or
     * NULL when there were none. NULL itself for agents that never talk. */
    const int16_t *(*groups)(afs_agent *a, int *K);
    /* `count` whole slots at once in AFS_PLAY_EVAL, the same state as the
     * loop's, for an agent that needs nothing between slots: the backend
     * may then play an environment's slots back to back while its state is
     * in the caches (the heuristics: env_play_slots). 0, or -1 with err.
     * NULL for agents that act on every slot (learners: their update,
     * their messages). */
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
    /* The slot's buffers for the E M ENs it was made for (backend memory):
     * the loop observes into obs [E M, AFS_OBS_DIM] and steps with act
     * [E M]. The agent's, so that nothing is allocated per episode. */
    float *obs;
    uint8_t *act;
};

/* For the implementations (agent.c): an agent named `name` with ops, an
 * implementation of impl_bytes zeroed bytes (a->impl) and the slot's
 * buffers for `rows` = E M ENs, on backend b; NULL with err when memory is
 * short (err cleared otherwise). The caller fills the implementation; on a
 * failure after this, afs_agent_destroy frees what was made. */
afs_agent *afs_agent_new(const afs_agent_ops *ops, const char *name, int learns, afs_backend *b,
                         size_t impl_bytes, size_t rows, char *err, size_t n);
/* ops->destroy, then the slot's buffers, the implementation and the agent
 * (nothing for NULL). */
void afs_agent_destroy(afs_agent *a);

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
     * (a budget too small for two slots, a batch larger than the replay).
     * NULL: it keeps no replay. */
    int (*plan)(const afs_config *cfg, int envs, afs_replay_info *info, char *err, size_t n);
    /* The bytes its networks take on backend b when training on `envs`
     * environments: weights, gradients, Adam moments and scratch. 0, or -1
     * with err (an invalid hidden-size list). NULL: none. */
    int (*net_bytes)(afs_backend *b, const afs_config *cfg, int envs, double *bytes, char *err,
                     size_t n);
} afs_learner;

#endif
