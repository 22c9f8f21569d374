/* The orchestrator of `afsim run`: episodes of every requested policy on one
 * backend, streamed to HDF5, with a progress line and a summary. */
#ifndef AFS_RUN_H
#define AFS_RUN_H

#include <stdio.h>
#include "../kernels/backend.h"
#include "config.h"

enum { AFS_PROGRESS_NONE, AFS_PROGRESS_LINES, AFS_PROGRESS_LIVE };

typedef struct afs_run_options {
    int progress;   /* AFS_PROGRESS_*: how episodes are reported on stderr */
    FILE *summary;  /* where the summary table goes, or NULL */
    const char *command; /* the command line, shown to a second run on the same output */
    int nested;     /* run by afsim sweep, which says itself what a stop means */
} afs_run_options;

/* Returns 0 on success, 1 on an error (message in err), 130 when stopped by
 * a signal (afs_stop_request, host/stop.h): after the current episode, or at once on
 * a second one (the episode under way is dropped); the file is closed
 * cleanly either way. */
int afs_run(const afs_config *cfg, afs_backend *b, const afs_run_options *opt,
            char *err, size_t n);

/* Bytes a run allocates: on the backend its state and the observations and
 * actions; on the host, with --trace, the state's copy and the records. */
typedef struct afs_run_memory { double state, io, trace; } afs_run_memory;
afs_run_memory afs_run_memory_of(const afs_config *cfg);

#endif
