/* Checkpoints: every network's parameters and Adam state, and the counters
 * that place a run in its random streams, in one HDF5 file. Random numbers
 * are counter-based, so (seed, episode, slot, updates) is the whole random
 * state: a run restored from a checkpoint continues exactly as it would have.
 *
 *   /                        attributes schema_version, seed, episode, slot, updates
 *   /networks/<name>/        attributes sizes (int32 [layers + 1]), adam_t
 *     params, adam_m, adam_v float32 [n_params] */
#ifndef AFS_CHECKPOINT_H
#define AFS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include "models/mlp.h"

#define AFS_CHECKPOINT_SCHEMA 1

typedef struct afs_counters {
    uint32_t seed;
    int64_t episode, slot, updates;
} afs_counters;

/* Writes path atomically (a temporary file renamed over it), so a crash
 * while saving leaves the previous checkpoint intact. 0, or -1 with err. */
int afs_checkpoint_save(const char *path, afs_backend *b, afs_mlp *const *nets,
                        const char *const *names, int count, const afs_counters *c,
                        char *err, size_t n);
/* Restores networks created with the same sizes; -1 with err naming what
 * does not match. */
int afs_checkpoint_load(const char *path, afs_backend *b, afs_mlp *const *nets,
                        const char *const *names, int count, afs_counters *c,
                        char *err, size_t n);

#endif
