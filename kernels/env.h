/* Creating and freeing the batched environment on a backend. */
#ifndef AFS_ENV_H
#define AFS_ENV_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of backend memory E environments of the given parameters need. */
size_t afs_env_bytes(const afs_env_params *p, int envs);

/* Allocates the state of `envs` environments on backend b. Returns 0, or -1
 * when the backend is out of memory. The caller frees with afs_env_free. */
int afs_env_init(afs_env *env, afs_backend *b, const afs_env_params *p,
                 int envs, uint32_t seed);
void afs_env_free(afs_env *env, afs_backend *b);

/* Starts episode `episode`: draws a new layout, clears queues and containers. */
void afs_env_begin_episode(afs_env *env, afs_backend *b, uint32_t episode);

#ifdef __cplusplus
}
#endif

#endif
