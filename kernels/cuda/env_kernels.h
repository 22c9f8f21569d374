/* Launchers of the CUDA environment kernels (env_kernels.cu), with C linkage
 * so that tests and benchmarks can reach them. env's arrays
 * and every pointer argument are device memory. Launches go to the default
 * stream, so they run in order with the backend's copies. */
#ifndef AFS_CUDA_ENV_KERNELS_H
#define AFS_CUDA_ENV_KERNELS_H

#include <stdint.h>
#include "../backend.h"
#include "../common/env_state.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the threads per environment of the CUDA backend b's per-environment
 * kernels (0: the default below), so that a benchmark can compare. */
void afs_cuda_set_env_block(afs_backend *b, int threads);

/* Threads per environment of the per-environment kernels (reset, step,
 * fused slot): block > 0 asks for that many (rounded down to whole warps,
 * 32 to 256), 0 for the default, M rounded up to whole warps, at most 256. */
unsigned afs_cuda_env_threads(const afs_env *env, int block);

void afs_cuda_env_reset(const afs_env *env, unsigned threads);
void afs_cuda_env_arrive(const afs_env *env);
void afs_cuda_env_observe(const afs_env *env, float *obs);
void afs_cuda_env_act(const afs_env *env, int policy, const float *obs, uint8_t *action);
void afs_cuda_env_step(const afs_env *env, const uint8_t *action, unsigned threads);
/* obs and scratch serve best_response only (obs [E*M, AFS_OBS_DIM], scratch
 * of afs_cuda_best_response_scratch_bytes); other policies fuse the slot. */
void afs_cuda_env_play_slot(const afs_env *env, int policy, float *obs, uint8_t *action,
                            void *scratch, unsigned threads);
/* best_response's descent over every environment, after env_act's greedy
 * start in action; scratch is device memory of the size below. */
void afs_cuda_env_best_response(const afs_env *env, uint8_t *action, void *scratch);
size_t afs_cuda_best_response_scratch_bytes(const afs_env *env);
/* Sums the per-environment accumulators into out[AFS_ACC_N] (device). */
void afs_cuda_env_sum(const afs_env *env, double *out);

#ifdef __cplusplus
}
#endif

#endif
