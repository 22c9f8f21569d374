/* A trained policy: the agent of an afsim train checkpoint, as afsim run
 * plays it (`--policy ckpt:PATH`, and sweep's evaluations). */
#ifndef AFS_TRAINED_H
#define AFS_TRAINED_H

#include <stddef.h>
#include "config.h"
#include "models/algos/agent.h"

/* The agent of checkpoint `path`: its algorithm and network sizes from the
 * checkpoint's configuration, its parameters loaded, for `envs`
 * environments of cfg->env (which may differ from training's). NULL with
 * err when the file cannot be read, learns nothing, or does not fit. */
afs_agent *afs_agent_from_checkpoint(const char *path, afs_backend *b, const afs_config *cfg,
                                     int envs, char *err, size_t n);

#endif
