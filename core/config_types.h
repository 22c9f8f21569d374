/* The configuration's values: every section of afsim's keys as plain
 * structs, what models/ reads (a method's hyper-parameters, the training
 * schedule) and host/ fills. Which key sets which field, with its range,
 * default and meaning, is host/config.c's key table; this header holds no
 * behaviour, so that every layer above kernels/ can take a configuration
 * without taking the parser. */
#ifndef AFS_CONFIG_TYPES_H
#define AFS_CONFIG_TYPES_H

#include <stdint.h>
#include "kernels/common/env_params.h"

#define AFS_PATH_MAX 1024
#define AFS_MAX_POLICIES 16
#define AFS_POLICY_CHECKPOINT (-2) /* run.policies: "ckpt:PATH" */
#define AFS_MAX_KEYS 256     /* room in the origin table (afs_config.origin) */
#define AFS_ORIGIN_LEN 96    /* "file:line", "--set", "default", ... */

typedef struct afs_run_params {
    int envs;             /* E, environments stepped together */
    int episodes;         /* episodes per policy */
    uint32_t seed;        /* key of every random stream */
    int threads;          /* CPU backend threads, 0 = every core */
    char policies[AFS_PATH_MAX]; /* comma-separated policies, as given */
    /* The same, parsed once: enum afs_policy, or AFS_POLICY_CHECKPOINT for
     * "ckpt:PATH" (a policy trained by afsim train; its path in
     * policy_path); policy_label names its run in the results. */
    int policy[AFS_MAX_POLICIES];
    char policy_path[AFS_MAX_POLICIES][AFS_PATH_MAX];
    char policy_label[AFS_MAX_POLICIES][64];
    int policy_count;
    char backend[16];     /* auto, cpu or cuda */
    char out[AFS_PATH_MAX];  /* HDF5 results file */
    int overwrite;        /* replace an existing results file */
    int trace;            /* write the per-function trace */
} afs_run_params;

/* The networks' arithmetic, shared by every method. Their layer sizes are
 * each method's own (afs_algo_params: actor_hidden, critic_hidden). */
typedef struct afs_nn_params {
    int tf32;                /* TF32 tensor-core math on CUDA */
} afs_nn_params;

/* Training (afsim train): the loop, evaluation, checkpoints, the replay's
 * memory. */
typedef struct afs_train_params {
    int episodes;          /* training episodes */
    int warmup;            /* transitions stored before the first update */
    int updates_per_slot;  /* gradient steps after each slot */
    float gumbel_tau;      /* temperature of the exploring Gumbel-softmax */
    float logit_reg;       /* weight of mean(logits^2) in the actors' loss */
    float epsilon;         /* epsilon-greedy while training, at the first episode ... */
    float epsilon_end;     /* ... falling linearly to this at the last */
    int keep_best;         /* keep the best evaluation's networks as CHECKPOINT.best.h5 */
    int eval_every;        /* episodes between evaluations (0: none) */
    int eval_episodes;     /* episodes of each evaluation */
    char checkpoint[AFS_PATH_MAX]; /* "" : the results file's name + .ckpt.h5 */
    int checkpoint_every;  /* episodes between checkpoints (0: only at the end) */
    int checkpoint_replay; /* keep the replay in checkpoints (bit-for-bit resume) */
    int checkpoint_keep;   /* also keep each checkpoint as NAME.epN.h5 */
    float replay_mib;      /* memory budget of the replay, MiB */
} afs_train_params;

/* One learning algorithm's hyper-parameters (design section 5's table):
 * the same keys in each algorithm's section, with its own defaults. */
typedef struct afs_algo_params {
    char actor_hidden[64], critic_hidden[64]; /* e.g. "64,64" */
    float actor_lr, critic_lr;
    float gamma, tau;      /* discount; soft target update */
    float grad_clip;       /* largest gradient L2 norm, 0 = none */
    int batch;             /* transitions per gradient step */
    char replay[16];       /* uniform or prioritized */
    float per_alpha, per_beta0, per_eps; /* prioritized replay */
} afs_algo_params;

/* AM-DRL's thought, channel, attention unit and groups (design section 5;
 * docs/model.md, "AM-DRL"): the [amdrl] keys beyond the algorithm's. */
typedef struct afs_comm_params {
    int thought;             /* T: actor part 1's output, the thought */
    char part2_hidden[64];   /* actor part 2's hidden sizes, (h, h~) -> ... -> 2 */
    int channel_hidden;      /* the bi-LSTM's hidden size per direction (2x = T) */
    int attention_hidden;    /* the attention unit's LSTM cell size */
    float attention_lr;      /* Adam learning rate of the attention unit */
    int group_m;             /* collaborators an initiator picks at most */
    int t_comm;              /* slots between group formations */
    float comm_range_m;      /* an initiator's range for collaborators, m */
    char comm[16];           /* attention, always, never or random */
    int dq_queue;            /* length of the delta-Q queue U */
    float threshold;         /* attention output above which an EN initiates */
    char critic[16];         /* group (sees its group's actions) or local (the paper's) */
    char labels[16];         /* the attention unit's labels: anchored (at dQ = 0) or minmax */
    float explore_init;      /* training: each EN's initiation decision flipped with this chance */
    float random_rate;       /* comm = random: each EN initiates with this chance */
    char init_rule[16];      /* training's initiation: sample (Bernoulli(p)) or threshold */
    char eval_init[16];      /* evaluation's initiation: threshold or sample */
} afs_comm_params;

typedef struct afs_config {
    afs_env_params env;
    afs_run_params run;
    afs_nn_params nn;
    afs_train_params train;
    afs_algo_params esdrl, maddpg, amdrl;
    afs_comm_params comm;    /* [amdrl] too */
    /* Where each key got its value ("file:line", "--set", "default"), by
     * key index, so that an error between keys names both places. */
    char origin[AFS_MAX_KEYS][AFS_ORIGIN_LEN];
} afs_config;

#endif
