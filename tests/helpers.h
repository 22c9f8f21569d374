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

/* One environment of one EN with a function whose latency is a short sum of
 * binary fractions, so that float computes it exactly and a test can put a
 * deadline exactly on it: r_up 64 Mbit/s, a cold start of 0.25 + 128/1024 s
 * (type 0), f 2 GHz with 3 Gcycles queued, k 1 Gcycle, f_c 32 GHz, r_re 64
 * Mbit/s, c 0.5 Mbit, an idle network of 0.25 s for an offload, w1 = 0.25
 * != w2 = 0.75, rho 2 (the defaults make w1 = w2, which would hide a swap).
 * At the edge (z = 2 Mbit): 2/64 + 0.375 + 3/2 + 1/2 = 2.40625 s. In the
 * cloud with z = 0 (z / r_tr is not a binary fraction):
 * 0.375 + 1/32 + 0.5/64 + 0.25 = 0.6640625 s, costing
 * 0.25 * 2 * 1 + 0.75 * 0.6640625 = 0.998046875. Episode 0 begun, the
 * function given with deadline dl. */
#define TEST_EXACT_EDGE_S 2.40625f
#define TEST_EXACT_CLOUD_S 0.6640625f
#define TEST_EXACT_CLOUD_COST 0.998046875f
void test_exact_open(afs_env *env, afs_backend **b, int local, float dl);

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
/* The communication-group operations (kernels/backend.h) with empty work
 * (N = 0, R = 0, no environments): guarded memory stays as it was. */
void test_groups_empty_work(afs_backend *b);

/* Checks an afsim results file as docs/output.md promises it at any moment,
 * even after a SIGKILL: it opens; in every /runs/<policy> the `finished`
 * attribute counts E episodes and R trace records; every per-episode dataset
 * has at least E rows (exactly E when exact, as after a clean close), the
 * first E rows of `episode` are 0 .. E-1 (training's /runs/eval: 0 .. K-1
 * for each evaluation of K episodes, its rows not counted in the returned
 * E), `functions` is not negative and
 * the ratios are in [0, 1] there (NaN over no functions); the trace has at least R records, none of an
 * episode past the last finished one. Returns the smallest E over the runs
 * (-1 when there is no run), or -2 with the reason in why. Safe to call on
 * a damaged file: HDF5 errors are returned, not printed. */
int test_check_results(const char *path, int exact, char *why, size_t n);

/* FNV-1a hash of the whole state, for determinism checks. */
uint64_t test_state_hash(const afs_env *env);

#endif
