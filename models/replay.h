/* Experience replay on the backend (device memory under CUDA): a ring of
 * slot blocks. Each slot, every agent of every environment adds a record
 * (its observation, action, reward and flags), E x M records in one block,
 * in the environment's agent order; a transition is a record and the record
 * of the same agent in the next block (its next observation), so each
 * observation is stored once. Sampling draws rows from a sum tree over the
 * records (design section 5): a row is one record (`row` = 1: ES-DRL's
 * shared transitions) or M consecutive ones (one environment's joint
 * transition: MADDPG). Every row of a block may be drawn once its next
 * observations are stored (the next block), or at once when it ends an
 * episode (terminal); the newest block's leaves are 0 until then. A record
 * of an agent that received no function (flag AFS_RF_VALID clear) is kept
 * and drawn too: the critic learns the value of waiting from it, and the
 * methods mask it out of the actor's loss (docs/model.md, "Learning").
 * Uniform replay is the sum tree with leaves of 1; prioritized replay
 * (proportional, Schaul et al.) gives new rows the largest priority so far
 * and updates sampled rows from their TD errors. Nothing crosses to the
 * host per slot or per batch. */
#ifndef AFS_REPLAY_H
#define AFS_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include "kernels/backend.h"
#include "kernels/common/env_math.h"

#define AFS_RF_VALID 0x1 /* the agent had a function: a decision was taken */
#define AFS_RF_DONE 0x2  /* the episode's last slot: no next observation */

/* X(type, name, per_record): the arrays of the ring, each [S, block, per_record]. */
#define AFS_REPLAY_ARRAYS(X)                                                  \
    X(float, obs, AFS_OBS_DIM)  /* the observation */                         \
    X(uint8_t, act, 1)          /* the action taken: 1 edge, 0 cloud */       \
    X(float, rew, 1)            /* the reward of the slot */                  \
    X(uint8_t, flags, 1)        /* AFS_RF_* */

/* Besides these, a ring made with group_k > 0 keeps each record's
 * communication group (AM-DRL): int16 grp [S, block, group_k], the layout
 * of the backend's form_groups (kernels/backend.h): an initiator's row
 * lists its group's members by their index within the environment, -1
 * padded; other rows are all -1. Its rows are environments (row = M), so
 * a member's index is below row. Replayed batches run the channel on the
 * groups that acted. */

/* A gathered batch of B rows of `row` records (backend memory). */
typedef struct afs_batch {
    int B, row;
    float *obs, *next_obs;   /* [B, row, OBS] */
    uint8_t *act, *flags;    /* [B, row] */
    float *rew;              /* [B, row] */
    float *weight;           /* [B] importance weights (prioritized), else NULL */
    int32_t *idx;            /* [B] the rows drawn */
    int16_t *grp, *next_grp; /* [B, row, group_k] the groups of the slot and of the
                              * next (their records' next block), or NULL */
} afs_batch;

typedef struct afs_replay {
    int slots;         /* S: capacity in slot blocks */
    int block;         /* records per block: E x M */
    int row;           /* records per row: 1, or M */
    int rows;          /* rows per block */
    int L;             /* sum-tree leaves: a power of two, at least S x rows */
    int prioritized;
    int group_k;       /* communication group entries per record, 0: none */
    float alpha, eps;
    /* the ring (one allocation), the tree, the largest priority */
    void *blob;
    size_t blob_bytes;
#define AFS_X(type, name, per) type *name;
    AFS_REPLAY_ARRAYS(AFS_X)
#undef AFS_X
    int16_t *grp;      /* [S, block, group_k] when group_k > 0 */
    double *tree;      /* [2 L] */
    float *max_prio;   /* [1] */
    uint8_t *row_ok;   /* [rows]: AFS_RF_VALID everywhere: the sum tree's leaf flags */
    int64_t *meta;     /* [4]: head, blocks, pending, 0: saved with checkpoints */
    /* bookkeeping (host, mirrored into meta for checkpoints) */
    int head;          /* next block to write */
    long long blocks;  /* written so far */
    int pending;       /* the newest block waits for its next observations */
    /* the batch (and the next rows' indices, the draws' probabilities) */
    afs_batch batch;
    int32_t *next_idx;
    float *prob;
    int max_batch;
} afs_replay;

/* Bytes of one record (with group_k group entries), and of one slot block
 * with its tree leaves. */
size_t afs_replay_record_bytes(int group_k);
size_t afs_replay_block_bytes(int block, int row, int group_k);
/* Blocks that fit in budget bytes (0 when not even two fit: a transition
 * needs its block and the next). */
int afs_replay_slots_for(size_t budget, int block, int row, int group_k);

/* Allocates the ring of `slots` blocks of `block` records, rows of `row`
 * records, with group_k group entries per record (0: none), and batches of
 * up to max_batch rows. 0, or -1 when out of backend memory. */
int afs_replay_init(afs_replay *r, afs_backend *b, int slots, int block, int row, int prioritized,
                    float alpha, float eps, int max_batch, int group_k);
void afs_replay_free(afs_replay *r, afs_backend *b);

/* Adds a slot's block: obs [block, OBS] (the slot's observations), act,
 * rew [block] (after the step), grp [block, group_k] (the groups that
 * acted; NULL when group_k is 0); done when it is the episode's last slot. */
void afs_replay_store(afs_replay *r, afs_backend *b, const float *obs, const uint8_t *act,
                      const float *rew, int done, const int16_t *grp);
/* Rows stored that can be drawn now. */
long long afs_replay_rows(const afs_replay *r);
/* Records stored, for the warm-up and the fill fraction. */
long long afs_replay_records(const afs_replay *r);
long long afs_replay_capacity(const afs_replay *r);

/* Draws B rows (Philox key {seed, stream}, counter) and gathers them into
 * r->batch; prioritized: with importance weights of exponent beta. */
void afs_replay_sample(afs_replay *r, afs_backend *b, int B, uint32_t seed, uint32_t stream,
                       uint32_t counter, float beta);
/* The importance-sampling exponent after `progress` of training (0 at the
 * start, 1 at the end; clamped): annealed linearly from beta0 to 1. */
float afs_replay_beta(float beta0, double progress);
/* Prioritized: the drawn rows' priorities from their TD errors (pred,
 * target [B]). */
void afs_replay_update(afs_replay *r, afs_backend *b, const float *pred, const float *target);

/* The state a checkpoint keeps: every array, the tree and the bookkeeping.
 * afs_replay_sync_meta before saving, afs_replay_restore_meta after loading:
 * it checks what was loaded against the ring's sizes first (the
 * bookkeeping, the priorities, the sum tree, the groups' members), and
 * with -1 and err (no file name) leaves the replay as it was when that
 * state is not one a replay of these sizes can have written. */
void afs_replay_sync_meta(afs_replay *r, afs_backend *b);
int afs_replay_restore_meta(afs_replay *r, afs_backend *b, char *err, size_t n);

#endif
