/* The model that the checkpoint harnesses load into, shared with the seed
 * writer: the seeds are checkpoints of exactly this model (and of near
 * misses). Two parameter sets, "actor" (mlp 3-4-2 x1 relu/none, 26
 * parameters) and "critic" (mlp 5-3-1 x2 relu/none: two groups, 44), and a
 * small state array "ring" (FUZZ_RING_BYTES raw bytes, as a replay is
 * saved), so that /params/<set>/ and /state/<blob> are both read. */
#ifndef AFS_FUZZ_CHECKPOINT_NETS_H
#define AFS_FUZZ_CHECKPOINT_NETS_H

#include <stdio.h>
#include <string.h>

#include "host/checkpoint.h"
#include "models/algos/ac.h"
#include "models/mlp.h"
#include "models/replay.h"

/* Small on purpose: a seed's size is mostly HDF5's own structure. */
static const int fuzz_actor_sizes[3] = {3, 4, 2};
static const int fuzz_critic_sizes[3] = {5, 3, 1};
#define FUZZ_RING_BYTES 26 /* = the actor's parameters: a link to them converts */
#define FUZZ_ALGO "fuzz"
#define FUZZ_RUN_ID "fuzz-run"  /* training's optional run_id */
#define FUZZ_EVAL_ROWS 17        /* and eval_rows */

typedef struct fuzz_model {
    afs_mlp actor, critic;
    unsigned char *ring;    /* backend [FUZZ_RING_BYTES] */
    char shapes[2][64];     /* afs_mlp_shape of each */
    afs_ckpt_set sets[2];
    afs_ckpt_blob blob;
    afs_checkpoint c;       /* of the sets and the blob above */
} fuzz_model;

static inline void fuzz_model_free(fuzz_model *m, afs_backend *b)
{
    afs_mlp_free(&m->actor, b);
    afs_mlp_free(&m->critic, b);
    if (m->ring)
        b->release(b, m->ring);
    m->ring = NULL;
}

/* 0, or -1 when the model cannot be made. m must stay where it is: its
 * checkpoint description points into it. */
static inline int fuzz_model_make(fuzz_model *m, afs_backend *b, uint32_t seed)
{
    memset(m, 0, sizeof *m);
    if (afs_mlp_init(&m->actor, b, "actor", fuzz_actor_sizes, 2, 1, AFS_ACT_RELU, AFS_ACT_NONE,
                     1, seed, 1) ||
        afs_mlp_init(&m->critic, b, "critic", fuzz_critic_sizes, 2, 2, AFS_ACT_RELU,
                     AFS_ACT_NONE, 1, seed, 2) ||
        !(m->ring = b->alloc(b, FUZZ_RING_BYTES))) {
        fuzz_model_free(m, b);
        return -1;
    }
    afs_mlp_shape(&m->actor, m->shapes[0], sizeof m->shapes[0]);
    afs_mlp_shape(&m->critic, m->shapes[1], sizeof m->shapes[1]);
    m->sets[0] = (afs_ckpt_set){&m->actor.p, m->shapes[0]};
    m->sets[1] = (afs_ckpt_set){&m->critic.p, m->shapes[1]};
    m->blob = (afs_ckpt_blob){"ring", m->ring, FUZZ_RING_BYTES};
    snprintf(m->c.algo, sizeof m->c.algo, "%s", FUZZ_ALGO);
    m->c.sets = m->sets;
    m->c.nsets = 2;
    m->c.blobs = &m->blob;
    m->c.nblobs = 1;
    return 0;
}

/* A small replay as AM-DRL keeps one (models/replay.h): 3 slots of 2
 * environments of 2 agents, rows of an environment's 2 records, groups of
 * up to 2, prioritized; its state saved as training saves it
 * (ac_replay_blobs: replay_ring, replay_tree, replay_priority,
 * replay_meta), so that fuzz_checkpoint loads a checkpoint's replay state
 * into it and afs_replay_restore_meta checks it before it is used. */
enum { FUZZ_SLOTS = 3, FUZZ_BLOCK = 4, FUZZ_ROW = 2, FUZZ_GROUP_K = 2, FUZZ_BATCH = 4 };

typedef struct fuzz_replay {
    afs_replay r;
    afs_ckpt_blob blobs[AFS_CKPT_MAX_BLOBS];
    afs_checkpoint c; /* the replay's state alone: no parameter set */
} fuzz_replay;

static inline int fuzz_replay_make(fuzz_replay *f, afs_backend *b)
{
    memset(f, 0, sizeof *f);
    if (afs_replay_init(&f->r, b, FUZZ_SLOTS, FUZZ_BLOCK, FUZZ_ROW, 1, 0.6f, 0.01f, FUZZ_BATCH,
                        FUZZ_GROUP_K))
        return -1;
    snprintf(f->c.algo, sizeof f->c.algo, "%s", FUZZ_ALGO);
    f->c.blobs = f->blobs;
    f->c.nblobs = ac_replay_blobs(&f->r, b, f->blobs);
    return 0;
}

/* Stores block n: each environment's record 0 initiates a group of both
 * (members 0, 1), record 1 is in none; block 1 ends an episode. */
static inline void fuzz_replay_store(fuzz_replay *f, afs_backend *b, int n)
{
    float obs[FUZZ_BLOCK * AFS_OBS_DIM], rew[FUZZ_BLOCK];
    uint8_t act[FUZZ_BLOCK];
    int16_t grp[FUZZ_BLOCK * FUZZ_GROUP_K];
    for (int k = 0; k < FUZZ_BLOCK; k++) {
        for (int c = 0; c < AFS_OBS_DIM; c++)
            obs[k * AFS_OBS_DIM + c] = (float)(n + k + c % 2);
        rew[k] = 0.5f * (float)k;
        act[k] = (uint8_t)(k % 2);
        grp[k * FUZZ_GROUP_K] = (int16_t)(k % 2 ? -1 : 0);
        grp[k * FUZZ_GROUP_K + 1] = (int16_t)(k % 2 ? -1 : 1);
    }
    afs_replay_store(&f->r, b, obs, act, rew, n == 1, grp);
}

#endif
