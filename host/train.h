/* The orchestrator of `afsim train`: episodes of a learning agent on
 * run.envs environments, the agent's gradient steps after every slot,
 * evaluations of its deterministic policy on held-out episodes, learning
 * curves streamed to HDF5, checkpoints, and resuming from one. */
#ifndef AFS_TRAIN_H
#define AFS_TRAIN_H

#include <stdio.h>
#include "../kernels/backend.h"
#include "config.h"

typedef struct afs_train_options {
    const char *algo;    /* a learning method (models/algos/agents.h) */
    const char *resume;  /* a checkpoint to continue from, or NULL */
    int progress;        /* AFS_PROGRESS_* (run.h) */
    FILE *summary;       /* where the closing summary goes, or NULL */
    const char *command; /* the command line, for the output's lock */
    int nested;          /* run by afsim sweep, which says itself what a stop means */
} afs_train_options;

/* Returns 0 when done, 1 on an error (message in err; after a non-finite
 * loss or gradient, the networks before that step are kept beside the
 * checkpoint), 130 when stopped by a signal (after the current episode,
 * with a checkpoint then; at once on a second signal, the last checkpoint
 * standing). The results file is closed cleanly either way. */
int afs_train(const afs_config *cfg, afs_backend *b, const afs_train_options *opt, char *err,
              size_t n);

/* The checkpoint path of a training: train.checkpoint, or the results
 * file's name with .ckpt.h5 for .h5. */
void afs_train_checkpoint_path(const afs_config *cfg, char *buf, size_t n);

/* The ETA of the progress line. Episodes in the warm-up take no gradient
 * steps and run several times faster than those after it, so the time left
 * is the mean of the steady episodes (a gradient step in every slot; from
 * one episode's end to the next's, evaluations and checkpoints included)
 * times the episodes left; before the first steady one, the mean of those
 * so far, shown as a lower bound (">0m37s"). `last` starts at the
 * training's start time. */
typedef struct afs_eta {
    double last;          /* when the previous episode ended */
    double all_s, steady_s;
    int all_n, steady_n;
} afs_eta;
void afs_eta_episode(afs_eta *e, double now, int steady, int left, char *buf, size_t n);

/* Keys a resumed training may change (NULL-terminated): everything else
 * must be the checkpoint's, or the continuation would not be the same run. */
extern const char *const afs_train_resumable_keys[];

#endif
