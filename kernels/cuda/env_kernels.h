/* Launchers of the CUDA environment kernels (env_kernels.cu). env's arrays
 * and every pointer argument are device memory. Launches go to the default
 * stream, so they run in order with the backend's copies. */
#ifndef AFS_CUDA_ENV_KERNELS_H
#define AFS_CUDA_ENV_KERNELS_H

#include <stdint.h>
#include "../common/env_state.h"

void afs_cuda_env_reset(const afs_env *env);
void afs_cuda_env_arrive(const afs_env *env);
void afs_cuda_env_observe(const afs_env *env, float *obs);
void afs_cuda_env_act(const afs_env *env, int policy, const float *obs, uint8_t *action);
void afs_cuda_env_step(const afs_env *env, const uint8_t *action);
void afs_cuda_env_play_slot(const afs_env *env, int policy, uint8_t *action);
/* Sums the per-environment accumulators into out[AFS_ACC_N] (device). */
void afs_cuda_env_sum(const afs_env *env, double *out);

#endif
