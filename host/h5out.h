/* Streaming results to HDF5. Layout (docs/output.md):
 *   /                      attributes: schema_version, afsim_version,
 *                          git_revision, created_utc, every config key
 *   /runs/<policy>/        attributes: policy, backend, envs, agents, seed
 *     episode, functions   int64 [episodes]
 *     <metric>             float64 [episodes], one per afs_metric_columns
 *     trace                compound [functions], with --trace
 * Every dataset is chunked and extendible; each episode's rows are written in
 * one burst followed by a flush, so a run killed between bursts leaves a file
 * holding every finished episode. */
#ifndef AFS_H5OUT_H
#define AFS_H5OUT_H

#include <stddef.h>
#include "config.h"
#include "metrics.h"
#include "trace.h"

#define AFS_SCHEMA_VERSION 1

typedef struct afs_h5 afs_h5;

/* Creates the file; refuses to replace an existing one unless overwrite. */
afs_h5 *afs_h5_create(const char *path, int overwrite, const afs_config *cfg,
                      char *err, size_t n);
/* Starts the group of one policy run; the following appends go there. */
int afs_h5_begin_run(afs_h5 *h, const char *policy, const char *backend,
                     const afs_config *cfg, int with_trace, char *err, size_t n);
/* Appends trace records (buffered in memory until afs_h5_append_episode). */
int afs_h5_append_trace(afs_h5 *h, const afs_trace_rec *recs, size_t count,
                        char *err, size_t n);
/* Appends one episode row and flushes the file. */
int afs_h5_append_episode(afs_h5 *h, const afs_episode_row *row, char *err, size_t n);
/* Closes the file; returns -1 when the final write failed. */
int afs_h5_close(afs_h5 *h, char *err, size_t n);

#endif
