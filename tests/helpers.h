/* Shared helpers of the test suite: small environments built by hand. */
#ifndef AFS_TEST_HELPERS_H
#define AFS_TEST_HELPERS_H

#include "host/config.h"
#include "kernels/backend.h"
#include "kernels/common/env_math.h"
#include "kernels/env.h"

/* Default parameters with the randomness that the hand-worked tests do not
 * want switched off: no network idle periods. */
afs_env_params test_params(int agents);

/* An environment of `envs` environments on the CPU backend, episode 0 begun. */
void test_env_open(afs_env *env, afs_backend **b, const afs_env_params *p, int envs,
                   uint32_t seed);
void test_env_close(afs_env *env, afs_backend *b);

/* Gives agent i a function with the given properties (replacing the draw). */
void test_give(afs_env *env, size_t i, float z, float k, float deadline, float c,
               int type);
/* Removes agent i's function for this slot. */
void test_take(afs_env *env, size_t i);

/* Runs env_step with the given actions (one per agent of every env). */
void test_step(afs_env *env, afs_backend *b, const uint8_t *actions);

/* Removes a test's temporary directory: its files and empty subfolders,
 * then itself. */
void test_remove_dir(const char *dir);

/* A CUDA backend, or the test is skipped with the reason printed; with
 * AFSIM_REQUIRE_GPU=1 in the environment (set on GPU machines, so that a
 * broken cuBLAS or cuDNN set-up shows) it fails instead. Call inside the
 * test: a CUDA context does not survive Criterion's fork. */
afs_backend *test_cuda_or_skip(const char *what);

/* Runs every operation of the backend table with empty work (sizes of 0)
 * and checks that each leaves guarded memory untouched, that losses and
 * norms return 0, and that a layer without inputs gives its bias. */
void test_empty_work(afs_backend *b);

/* FNV-1a hash of the whole state, for determinism checks. */
uint64_t test_state_hash(const afs_env *env);

#endif
