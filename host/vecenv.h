/* The environment as a library: E environments of M edge nodes each,
 * stepped together by reset / step, the way Gymnasium's and PufferLib's
 * vectorized environments are. What a learner outside afsim (the Python
 * package, experiments/ippo.py) trains on, and what `afsim run` plays: the
 * same draws and the same results for the same seed and actions.
 *
 * Ownership: afs_vecenv_create allocates the environment and every buffer
 * below on its backend (host arrays on the CPU, device arrays on CUDA);
 * afs_vecenv_destroy frees them all. The pointers in afs_vecenv stay valid,
 * at the same addresses, from create to destroy: a caller may keep views of
 * them (NumPy arrays, DLPack tensors) and read them after each call.
 *
 * A step: the caller writes the slot's actions into `action` (1 = run at the
 * EN, 0 = send to the cloud; any other value is refused by
 * afs_vecenv_check_actions, and read as 1 by the step on both backends), then
 * afs_vecenv_step plays the slot (latencies, costs, queues, containers) and
 * writes `reward` and `done`; when the episode's last slot was played
 * (every environment has env.slots slots, so all end together) it copies
 * the finished episode's metrics to `episode_acc`, starts the next episode
 * (episode word + 1: new layouts and arrivals) and sets `done` to 1; then
 * it draws the next slot's arrivals and writes their observation to `obs`.
 * So `obs` is always the observation the next actions answer, and the
 * transition (obs before, action, reward, done) is complete after step. */
#ifndef AFS_VECENV_H
#define AFS_VECENV_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/common/env_math.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct afs_config afs_config;

typedef struct afs_vecenv {
    int E, M;               /* environments, agents (ENs) per environment */
    int slots;              /* L: slots per episode */
    int obs_dim;            /* AFS_OBS_DIM */
    afs_backend *b;         /* the backend the buffers live on */
    afs_env env;            /* the state (kernels/common/env_state.h) */
    /* Buffers, all backend memory, agent i = e * M + m: */
    float *obs;             /* [E M, obs_dim] the observation the next actions answer */
    uint8_t *action;        /* [E M] the caller's actions for the next step */
    float *reward;          /* [E M] the last step's rewards (the state's own array,
                               env.reward: env_step writes every agent's, 0 where no
                               function came; episode starts and arrivals leave it) */
    uint8_t *done;          /* [E M] 1 where the last step ended its episode */
    double *episode_acc;    /* [E, AFS_ACC_N] the last finished episode's sums per environment */
    uint32_t episode;       /* episode word of the episode being played */
    int32_t slot;           /* slot the next step plays, 0 .. slots - 1 */
    long long episodes_done; /* finished episodes since the last reset */
    /* All fields are the library's: a caller reads them and writes only
     * into the buffers' contents (action, before a step). */
} afs_vecenv;

/* E environments of cfg->env on backend b (the caller's; it must outlive the
 * environment), seeded with `seed` (cfg->run.seed in afsim run). NULL with
 * a message in err (a configuration afs_config_check refuses, E < 1, out of
 * memory: the bytes needed and the hint to lower E). The new environment
 * is reset to episode 0 (afs_vecenv_reset(v, 0)): obs holds the first
 * observation, and step may be called at once. */
afs_vecenv *afs_vecenv_create(const afs_config *cfg, afs_backend *b, int envs, uint32_t seed,
                              char *err, size_t n);
void afs_vecenv_destroy(afs_vecenv *v);

/* Starts episode `episode` (0 = the first of afsim run's test episodes) of
 * every environment and writes the first slot's observation to obs; done,
 * reward and episode_acc are cleared, episodes_done is 0. */
void afs_vecenv_reset(afs_vecenv *v, uint32_t episode);

/* Makes `seed` the key of every draw from the next reset on (create's seed
 * until then): the same environments as a new afs_vecenv of that seed,
 * in the same buffers. */
void afs_vecenv_set_seed(afs_vecenv *v, uint32_t seed);

/* 0, or -1 with err naming the first agent whose action is not 0 or 1 and
 * its value (CPU: reads v->action; CUDA: copies it to the host first). */
int afs_vecenv_check_actions(const afs_vecenv *v, char *err, size_t n);

/* Plays one slot with the actions in v->action (see the top of this file).
 * Returns 1 when it ended an episode (and started the next), else 0. */
int afs_vecenv_step(afs_vecenv *v);

/* The actions heuristic `policy` (enum afs_policy, best_response included:
 * its descent costs O(M^2) per environment) takes on the current
 * observation, written into v->action: what afsim run plays for it, so that
 * a caller can check the step API against the fused heuristic slot, or use
 * a heuristic as a baseline. 0, or -1 (nothing written) for a value outside
 * enum afs_policy. */
int afs_vecenv_heuristic_actions(afs_vecenv *v, int policy);

#ifdef __cplusplus
}
#endif

#endif
