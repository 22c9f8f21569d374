/* `afsim sweep` and `afsim merge` (docs/sweeps.md): a grid of
 * configurations times methods times seeds, run point by point into one
 * results file per shard that a killed job resumes; shards merged into one. */
#ifndef AFS_SWEEP_H
#define AFS_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../kernels/backend.h"
#include "config.h"

#define AFS_SWEEP_MAX_AXES 4
#define AFS_SWEEP_MAX_VALUES 32
#define AFS_SWEEP_MAX_METHODS 16
#define AFS_SWEEP_MAX_SETS 64
#define AFS_SWEEP_VALUE_LEN 64

/* One swept key and its values, as written ("env.agents", "30", ...). */
typedef struct afs_sweep_axis {
    char key[96];
    char where[AFS_ORIGIN_LEN]; /* where its values were set: "file:line", "--set" */
    int n;
    char value[AFS_SWEEP_MAX_VALUES][AFS_SWEEP_VALUE_LEN];
} afs_sweep_axis;

typedef struct afs_sweep {
    afs_config base;   /* the file's keys, then the profile's, then --set */
    int naxes;
    afs_sweep_axis axis[AFS_SWEEP_MAX_AXES];
    int nmethods;
    char method[AFS_SWEEP_MAX_METHODS][32]; /* heuristics and learning methods */
    int seeds;         /* seeds per point: run.seed, run.seed + 1, ... */
    int eval_episodes; /* held-out episodes of each evaluation */
    int nalphas;       /* the deadline policy's alpha is chosen among these, */
    char alpha[AFS_SWEEP_MAX_VALUES][AFS_SWEEP_VALUE_LEN];
    int tune_episodes; /* by its mean reward over these training episodes */
    char profile[32];  /* the profile applied, or "" */
    uint64_t fingerprint; /* of what the results depend on (sweep.c) */
} afs_sweep;

/* Reads a sweep file: [sweep] (methods, seeds, eval_episodes, and one
 * `SECTION.KEY = v1, v2, ...` line per swept key), [profile.NAME] sections
 * of `SECTION.KEY = value` lines (sweep.* too) of which `profile` (or
 * none, NULL) is applied after the file, the configuration's own sections,
 * then the `--set` assignments sets[nsets]. Every point's configuration is
 * checked here, so a bad value fails before anything runs. 0, or -1 with
 * err naming the place, the key and the value. */
int afs_sweep_load(afs_sweep *s, const char *path, const char *profile, char *const *sets,
                   int nsets, char *err, size_t n);

/* Points in the whole grid: values of every axis x methods x seeds. */
long afs_sweep_points(const afs_sweep *s);

/* Point p's configuration (base, its axis values, its seed) and method;
 * label gets "p<p>" and a readable description in desc. */
int afs_sweep_point(const afs_sweep *s, long p, afs_config *cfg, const char **method,
                    char *desc, size_t dn, char *err, size_t n);

/* The shard to run: --shard I/N (arg), else Slurm's array variables
 * (task_id - task_min of task_count; task_min NULL is 0), else 0 of 1.
 * Every number is checked whole (no "abc" read as 0, no wrap-around):
 * 0, or -1 with err naming the value. */
int afs_sweep_shard(const char *arg, const char *task_id, const char *task_min,
                    const char *task_count, int *shard, int *shards, char *err, size_t n);

/* Writes the points of shard `shard` of `shards`, one a line: its label
 * (p000000) and description (the swept keys, the method, the seed). 0, or
 * -1 with err. */
int afs_sweep_list(const afs_sweep *s, int shard, int shards, FILE *out, char *err, size_t n);

/* Shard `shard` of `shards` (points p with p % shards == shard), its
 * finished points skipped: into DIR/shard-<i>-of-<N>.h5, with the points'
 * own files under DIR/points/. Returns 0, 1 on an error, 130 when stopped
 * by a signal (the points finished so far are kept). */
int afs_sweep_run(const afs_sweep *s, const char *dir, int shard, int shards, afs_backend *b,
                  int progress, char *err, size_t n);

/* Joins shard files into out (refused when it exists, unless force):
 * every point once; a point in two inputs is an error. Prints how many of
 * the grid's points it holds; 0 when all, 1 when some are missing, -1 on
 * an error (message in err; no output file then). */
int afs_sweep_merge(const char *out, int force, char *const *inputs, int ninputs, char *err,
                    size_t n);

#endif
