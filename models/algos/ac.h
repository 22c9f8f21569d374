/* What the actor-critic methods (esdrl.c, maddpg.c, amdrl.c) share:
 * exploration, optimizer steps that refuse non-finite gradients, the
 * statistics they report, their buffers and sizes, the replay's share of
 * a checkpoint (ac.c). Internal to models/algos. */
#ifndef AFS_AC_H
#define AFS_AC_H

#include "agent.h"
#include "models/mlp.h"
#include "models/replay.h"

/* Running sums of what an agent reports (afs_agent_stats). */
typedef struct ac_tally {
    double critic_loss, actor_loss, td_abs;
    long updates;
} ac_tally;

void ac_tally_report(ac_tally *t, afs_agent_stats *out, double replay_fill);

/* The epsilon of epsilon-greedy at training progress 0..1: train.epsilon
 * falling linearly to train.epsilon_end. */
float ac_epsilon(const afs_train_params *tp, double progress);
/* Actions from logits [rows, 2]: exploring, the Gumbel-softmax's hard
 * sample, replaced by a uniform action with probability epsilon (key {seed,
 * AFS_STREAM_EXPLORE}, counter); else the argmax. soft, hard [rows, 2] are
 * scratch. */
void ac_actions(afs_backend *b, int rows, const float *logits, int explore, float tau,
                float epsilon, uint32_t seed, uint32_t counter, float *soft, float *hard,
                uint8_t *act);

/* The one-hot rows of both actions, [2, 2] = {1, 0, 0, 1} (backend memory,
 * the caller releases it), or NULL when out of memory. */
float *ac_unit_actions(afs_backend *b);
/* qpair [B, 2]: critic(x) with x's action columns (2 at column `at` of its
 * `width`) set to each action in turn (unit from ac_unit_actions): the
 * critic's value of both actions on x's observations. x's action columns
 * are left holding action 1. */
void ac_q_of_both_actions(afs_backend *b, afs_mlp *critic, int B, float *x, int width, int at,
                          const float *unit, float *qpair);

/* One optimizer step of a parameter set: -1 with err when the gradient's
 * norm is not finite (the set is then left as it was). */
int ac_step(afs_params *p, afs_backend *b, const afs_optim *o, const char *algo, long update,
            char *err, size_t n);
/* A backend buffer of an agent and its size (0: not made). */
typedef struct ac_buf {
    void **ptr;
    size_t bytes;
} ac_buf;

/* Allocates bufs[0..k) of non-zero size; returns the bytes they take and
 * clears *ok on a failure (the rest are then left NULL). */
double ac_bufs_alloc(afs_backend *b, const ac_buf *s, int k, int *ok);
/* Releases those of bufs[0..k) that were made. */
void ac_bufs_release(afs_backend *b, const ac_buf *s, int k);

/* The replay's state as checkpoint blobs (its ring, tree, largest priority
 * and bookkeeping, synced first): writes them to blobs, returns 4. */
int ac_replay_blobs(afs_replay *r, afs_backend *b, afs_ckpt_blob *blobs);

/* -1 with err when a loss is not finite. */
int ac_check_loss(double loss, const char *algo, const char *what, long update, char *err,
                  size_t n);

/* The optimizer of an algorithm's section for the actor or the critic. */
afs_optim ac_optim(const afs_algo_params *p, int critic);

/* Layer sizes [in, hidden..., out] from a "64,64" list; the layer count, or
 * -1 (with err) when the list is invalid. */
int ac_sizes(const char *hidden, int in, int out, int *sizes, const char *what, char *err,
             size_t n);

/* The replay's capacity from the memory budget (train.replay_mib): slot
 * blocks of `block` records in rows of `row` (groups of group_k entries a
 * row, 0: none), and what it is (info); 0 with err when not even two blocks
 * fit, or when a batch of `batch` rows (from the batch key of algo's
 * section hp) is more than it holds. */
int ac_replay_slots(const afs_config *cfg, const char *algo, const afs_algo_params *hp, int block,
                    int row, int group_k, int batch, afs_replay_info *info, char *err, size_t n);

#endif
