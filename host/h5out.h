/* Streaming results to HDF5. Layout (docs/output.md):
 *   /                      attributes: schema_version, afsim_version,
 *                          git_revision, created_utc, every config key
 *   /runs/<name>/          attributes: policy, backend, envs, agents, seed,
 *                          finished, and the run's own (checkpoint, replay)
 *     episode, functions   int64 [episodes]
 *     <metric>             float64 [episodes], one per afs_metric_columns
 *     <extra>              float64 [episodes], a run's own (training's losses)
 *     trace                compound [functions], with --trace
 * Every dataset is chunked and extendible, its storage allocated ahead of the
 * rows; each episode's rows are written and flushed, then the run group's
 * `finished` attribute (episodes, trace records) is updated and flushed, so
 * that a run killed at any moment leaves a file whose first `finished` rows
 * are every finished episode (docs/output.md, "Crash safety"). A clean close
 * cuts the datasets to their finished rows. */
#ifndef AFS_H5OUT_H
#define AFS_H5OUT_H

#include <stddef.h>
#include "config.h"
#include "metrics.h"
#include "trace.h"

#define AFS_SCHEMA_VERSION 3

typedef struct afs_h5 afs_h5;

/* Call first, before any other HDF5 call of the program. */
void afs_h5_setup(void);

/* Whether a file afsim writes can be made at path (or replace the one
 * there, with overwrite: only ever a regular file, never a device, a pipe
 * or a directory): 0, or -1 with err naming the reason (a directory, a
 * device, a missing folder, a read-only file system, an existing file,
 * ...) and option, the setting that gave the path (e.g. "--out",
 * "train.checkpoint"). */
int afs_check_output(const char *path, const char *option, int overwrite, char *err, size_t n);
/* afs_check_output of a results file (--out). */
int afs_h5_check_destination(const char *path, int overwrite, char *err, size_t n);
/* A float64 column a run has beyond the metrics (training's losses). */
typedef struct afs_h5_column { const char *name, *unit, *doc; } afs_h5_column;
/* A numeric attribute of a run (the replay's size). */
typedef struct afs_h5_number { const char *name; double value; } afs_h5_number;

/* A run of the file: /runs/<name>. The descriptors given to afs_h5_create
 * or afs_h5_continue must outlive the afs_h5. */
typedef struct afs_h5_run {
    const char *name;       /* the group; also the `policy` attribute unless policy is set */
    const char *backend;    /* "cpu" or "cuda" */
    int trace;              /* with a trace dataset */
    const char *checkpoint; /* a trained policy's checkpoint, or NULL */
    const char *trained_with; /* its training's environment keys that differ
                               * from this run's ("key = value, ..."), or NULL */
    const char *policy;     /* what played (an algorithm), when not the name */
    long long rows;         /* rows expected, to allocate ahead (0: run.episodes) */
    const afs_h5_column *extra; /* float64 columns after the metrics */
    int nextra;
    const afs_h5_number *numbers; /* further attributes */
    int nnumbers;
} afs_h5_run;

/* Creates the file with every run's group and datasets (no rows yet);
 * refuses to replace an existing file unless overwrite. The file appears at
 * path (replacing an old one, or only if there is none) once it is
 * complete, so that a run killed while creating it leaves nothing there.
 * Every refusal names its reason (a directory, a missing folder, a
 * read-only file system, a full disk, ...). */
afs_h5 *afs_h5_create(const char *path, int overwrite, const afs_config *cfg,
                      const afs_h5_run *runs, int nruns, char *err, size_t n);
/* Makes run `name` the current one: the following appends go there. */
int afs_h5_begin_run(afs_h5 *h, const char *name, char *err, size_t n);
/* Appends trace records (buffered in memory until afs_h5_append_episode). */
int afs_h5_append_trace(afs_h5 *h, const afs_trace_rec *recs, size_t count,
                        char *err, size_t n);
/* Appends one episode row (and the run's extra columns, nextra values)
 * and flushes the file. */
int afs_h5_append_episode(afs_h5 *h, const afs_episode_row *row, const double *extra, char *err,
                          size_t n);
/* Reopens a results file made by afs_h5_create to add rows to its runs
 * (resumed training), keeping the first keep[r] finished rows of runs[r]
 * and dropping the rest; the file must carry root attribute `run_id` equal
 * to run_id (it is the file of that training). Refused when a run holds
 * fewer than keep[r] rows or has a trace. */
afs_h5 *afs_h5_continue(const char *path, const char *run_id, const afs_h5_run *runs,
                        const long long *keep, int nruns, char *err, size_t n);
/* The file's `run_id` attribute: set once after afs_h5_create (training
 * writes it, and keeps it in its checkpoints). */
int afs_h5_set_run_id(afs_h5 *h, const char *run_id, char *err, size_t n);
/* Closes the file, every run's datasets cut to its finished rows (after
 * success and after an error end such as a not-finite loss alike); -1 when
 * the final write failed or the file at the path is no longer the one
 * written (deleted or replaced). disk_failed: another file of the run could
 * not be written (a checkpoint: the disk may be full). Then, or when a
 * write of this file failed, nothing more is written: the file stays as its
 * last flush left it, `finished` saying how many rows hold, and its HDF5
 * handle stays open until the process ends. */
int afs_h5_close(afs_h5 *h, int disk_failed, char *err, size_t n);

#endif
