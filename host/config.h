/* The configuration: every key, its type, range, default, unit and meaning,
 * in one table (config.c) that drives parsing, checking, --dump, the HDF5
 * attributes and docs/model.md's tables. */
#ifndef AFS_CONFIG_H
#define AFS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../kernels/common/env_params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AFS_PATH_MAX 1024
#define AFS_MAX_POLICIES 16
#define AFS_POLICY_CHECKPOINT (-2) /* run.policies: "ckpt:PATH" */
#define AFS_MAX_KEYS 256     /* room in the origin table */
#define AFS_ORIGIN_LEN 96    /* "file:line", "--set", "default", ... */
#define AFS_CONFIG_MAX_BYTES (1 << 20) /* a configuration file is text, and small */

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
 * each method's own (afs_algo_params: esdrl.actor_hidden, ...). */
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

typedef enum { AFS_T_INT, AFS_T_U32, AFS_T_FLOAT, AFS_T_BOOL, AFS_T_STRING } afs_key_type;

typedef struct afs_config_key {
    const char *section, *name;
    afs_key_type type;
    size_t offset;        /* into afs_config */
    size_t size;          /* of a string field */
    double lo, hi;        /* allowed range of numbers */
    int lo_open;          /* lo itself not allowed */
    const char *def;      /* default, as written in a file */
    const char *unit;
    const char *doc;
} afs_config_key;

int afs_config_key_count(void);
const afs_config_key *afs_config_key_at(int index);
/* The index of section.name, or -1. */
int afs_config_key_index(const char *section, const char *name);

/* Fills every key with its default. */
void afs_config_defaults(afs_config *cfg);

/* Each returns 0, or -1 with a message in err naming where (file:line or
 * the option), the key, the value and what is allowed. */
int afs_config_set(afs_config *cfg, const char *section, const char *name,
                   const char *value, const char *where, char *err, size_t n);
/* A regular file of at most AFS_CONFIG_MAX_BYTES, text without NUL bytes. */
int afs_config_load(afs_config *cfg, const char *path, char *err, size_t n);
/* afs_config_load, with the entries of sections that are not the
 * configuration's ([sweep] and [profile.NAME] of a sweep file) handed to
 * extra first: it returns 1 for an entry it took, 0 for one it leaves to
 * the configuration, -1 on an error (message in err, naming where). */
typedef int (*afs_config_extra)(void *user, const char *section, const char *name,
                                const char *value, const char *where, char *err, size_t n);
int afs_config_load_with(afs_config *cfg, const char *path, afs_config_extra extra, void *user,
                         char *err, size_t n);
int afs_config_set_arg(afs_config *cfg, const char *assignment,
                       const char *where, char *err, size_t n);
/* Checks relations between keys (min <= max, ...) and that the quantities
 * derived from them (gains, rates, start and run times) are finite and
 * positive, naming the keys and where each was set. */
int afs_config_check(const afs_config *cfg, char *err, size_t n);

/* The value of a key as it would be written in a file. */
void afs_config_format(const afs_config *cfg, const afs_config_key *key,
                       char *buf, size_t n);
/* The first key (in table order) whose value differs between a and b and
 * whose "section.name" is not in `allowed` (NULL-terminated); -1 when
 * none does. Values compare as afs_config_format writes them. */
int afs_config_first_difference(const afs_config *a, const afs_config *b,
                                const char *const *allowed);
/* Writes the effective configuration as an INI file with comments. */
void afs_config_dump(const afs_config *cfg, FILE *out);

#ifdef __cplusplus
}
#endif

#endif
