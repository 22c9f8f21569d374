/* The networks that the checkpoint harness loads into, shared with the seed
 * writer: the seeds are checkpoints of exactly these (and of near misses). */
#ifndef AFS_FUZZ_CHECKPOINT_NETS_H
#define AFS_FUZZ_CHECKPOINT_NETS_H

#include "host/checkpoint.h"

/* Small on purpose: a seed's size is mostly HDF5's own structure. */
static const int fuzz_actor_sizes[3] = {3, 4, 2};
static const int fuzz_critic_sizes[3] = {5, 3, 1};
static const char *const fuzz_names[2] = {"actor", "critic"};

/* 0, or -1 when the networks cannot be made. */
static inline int fuzz_make_nets(afs_backend *b, afs_mlp *actor, afs_mlp *critic, uint32_t seed)
{
    if (afs_mlp_init(actor, b, fuzz_actor_sizes, 2, AFS_ACT_RELU, AFS_ACT_NONE, 1, seed, 1))
        return -1;
    return afs_mlp_init(critic, b, fuzz_critic_sizes, 2, AFS_ACT_RELU, AFS_ACT_NONE, 1, seed, 2);
}

#endif
