/* What a checkpoint holds, as the agents describe it: pointers to their
 * parameter sets and backend arrays, and the counters that place a run in
 * its random streams. An agent fills these (models/algos: its checkpoint
 * operation); host/checkpoint.c writes and reads them as HDF5. Plain types
 * only, so that models/ describes its state without taking the file
 * format. */
#ifndef AFS_CHECKPOINT_TYPES_H
#define AFS_CHECKPOINT_TYPES_H

#include <stddef.h>
#include <stdint.h>

struct afs_params;

typedef struct afs_counters {
    uint32_t seed;
    int64_t episode, slot, updates;
    int64_t eval_rows;   /* evaluation rows written (training); 0 when absent */
    double best_return;  /* the best evaluation's mean return so far (training's
                          * train.keep_best); NaN when none or absent */
} afs_counters;

/* A parameter set (models/params.h) and the text that names its
 * architecture (e.g. afs_mlp_shape's): a checkpoint loads only into the
 * same shape. */
typedef struct afs_ckpt_set {
    struct afs_params *params;
    const char *shape;
} afs_ckpt_set;

/* The most sets and blobs an agent's checkpoint holds: room for AM-DRL's
 * 10 sets and 5 blobs (models/algos/amdrl.c), so callers size their arrays
 * with these. */
#define AFS_CKPT_MAX_SETS 16
#define AFS_CKPT_MAX_BLOBS 8

/* A backend array saved as raw bytes. */
typedef struct afs_ckpt_blob {
    const char *name;
    void *data;     /* backend memory */
    size_t bytes;
} afs_ckpt_blob;

typedef struct afs_checkpoint {
    char algo[32];
    char run_id[64];        /* the training's results file (afs_h5_set_run_id); may be "" */
    afs_counters counters;
    afs_ckpt_set *sets;
    int nsets;
    afs_ckpt_blob *blobs;   /* may be NULL */
    int nblobs;
} afs_checkpoint;

#endif
