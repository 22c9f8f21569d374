/* Checkpoints: a model's parameter sets (values, Adam moments and steps),
 * the counters that place a run in its random streams (random numbers are
 * counter-based, so they are its whole random state), the configuration
 * and algorithm that made it, and optionally more state (the replay), in
 * one HDF5 file written atomically (a temporary file renamed over the old
 * one: a crash while saving leaves the previous checkpoint).
 *
 *   /                  attributes schema_version, algo, seed, episode, slot,
 *                      updates, eval_rows and run_id (training's; optional),
 *                      and every configuration key (section.key)
 *   /params/<name>/    attributes shape (text), adam_t;
 *                      value, adam_m, adam_v  float32 [n]
 *   /state/<name>      uint8 [bytes]: other backend arrays, as raw bytes
 *
 * Written in HDF5's 1.10 format (checksummed superblock and object
 * headers); a file without checksums is refused before HDF5 reads it.
 * Every dataset has HDF5's Fletcher32 filter (its values checksummed, chunk
 * by chunk, verified as they are read; a file written before has none and
 * loads without the check). */
#ifndef AFS_CHECKPOINT_H
#define AFS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "core/checkpoint_types.h"
#include "models/params.h"

#define AFS_CHECKPOINT_SCHEMA 2

/* Writes path atomically, replacing only a regular file (afs_check_output:
 * never a device). cfg: the configuration to keep with it (read back by
 * afs_checkpoint_config). 0, or -1 with err. */
int afs_checkpoint_save(const char *path, afs_backend *b, const afs_checkpoint *c,
                        const afs_config *cfg, char *err, size_t n);
/* Restores c's sets (each by its params' name, of the same shape and size)
 * and blobs (the same sizes), and sets c->counters and c->algo. With
 * blobs_optional, blobs the file lacks are left alone and *blobs_loaded
 * says whether they were there. -1 with err naming what does not match. */
int afs_checkpoint_load(const char *path, afs_backend *b, afs_checkpoint *c, int blobs_optional,
                        int *blobs_loaded, char *err, size_t n);
/* The file NAME.TAG.h5 beside NAME.h5 (PATH.TAG.h5 for a name without
 * .h5): with tag "ckpt", the checkpoint afsim train writes beside its
 * results file by default; beside a checkpoint, its kept copies ("best",
 * "last-good", "epN"). */
void afs_h5_beside(const char *path, const char *tag, char *buf, size_t n);

/* The algorithm and the configuration a checkpoint was made with (to build
 * the model before loading into it); cfg's keys are set from the file. */
int afs_checkpoint_config(const char *path, char *algo, size_t algo_n, afs_config *cfg,
                          char *err, size_t n);

#endif
