/* The environment as a library (host/vecenv.h): reset / step over E
 * environments, built from the backend's operations alone (kernels/backend.h),
 * so that the same code drives the CPU's host arrays and CUDA's device
 * arrays. Nothing here touches backend memory but through the table. */
#include "vecenv.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "core/fail.h"
#include "kernels/env.h"
#include "memory.h"

/* The bytes of the buffers beside the state: obs, action, done, episode_acc. */
static double io_bytes(int E, int M)
{
    double A = (double)E * M;
    return A * (AFS_OBS_DIM * sizeof(float) + 2.0) + (double)E * AFS_ACC_N * sizeof(double);
}

afs_vecenv *afs_vecenv_create(const afs_config *cfg, afs_backend *b, int envs, uint32_t seed,
                              char *err, size_t n)
{
    if (!cfg || !b) {
        afs_fail(err, n, "afs_vecenv_create: %s is NULL", cfg ? "the backend" : "the configuration");
        return NULL;
    }
    if (envs < 1) {
        afs_fail(err, n, "envs = %d: a vectorized environment needs at least 1 environment", envs);
        return NULL;
    }
    if (afs_config_check(cfg, err, n))
        return NULL;
    const afs_env_params *p = &cfg->env;
    if (p->agents < 1 || p->slots < 1) { /* afs_config_set refuses them; a struct set by hand may not */
        afs_fail(err, n, "env.%s = %d: an environment needs at least 1 %s",
                 p->agents < 1 ? "agents" : "slots", p->agents < 1 ? p->agents : p->slots,
                 p->agents < 1 ? "edge node" : "slot per episode");
        return NULL;
    }
    double state = (double)afs_env_bytes(p, envs), io = io_bytes(envs, p->agents);
    char detail[160];
    snprintf(detail, sizeof detail, "%d environments of %d agents: state %.1f MiB, buffers %.1f MiB",
             envs, p->agents, afs_mib(state), afs_mib(io));
    if (afs_memory_check(b, state + io, 0.0, detail, "lower envs (or env.agents)", 0, err, n))
        return NULL;
    afs_vecenv *v = calloc(1, sizeof *v);
    if (!v) {
        afs_fail(err, n, "out of host memory for the vectorized environment");
        return NULL;
    }
    size_t A = (size_t)envs * (size_t)p->agents;
    v->E = envs;
    v->M = p->agents;
    v->slots = p->slots;
    v->obs_dim = AFS_OBS_DIM;
    v->b = b;
    if (afs_env_init(&v->env, b, p, envs, seed) ||
        !(v->obs = b->alloc(b, A * AFS_OBS_DIM * sizeof(float))) ||
        !(v->action = b->alloc(b, A)) || !(v->done = b->alloc(b, A)) ||
        !(v->episode_acc = b->alloc(b, (size_t)envs * AFS_ACC_N * sizeof(double)))) {
        afs_fail(err, n, "out of %s memory: %s need %.1f MiB; lower envs", b->name, detail,
                 afs_mib(state + io));
        afs_vecenv_destroy(v);
        return NULL;
    }
    v->reward = v->env.reward; /* env_reset and env_arrive leave it alone: env_step writes it */
    afs_vecenv_reset(v, 0);
    return v;
}

void afs_vecenv_destroy(afs_vecenv *v)
{
    if (!v)
        return;
    afs_backend *b = v->b;
    void *bufs[] = {v->obs, v->action, v->done, v->episode_acc};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i])
            b->release(b, bufs[i]);
    afs_env_free(&v->env, b);
    free(v);
}

/* The next slot's arrivals and their observation: what the next actions answer. */
static void arrive_and_observe(afs_vecenv *v)
{
    v->b->env_arrive(v->b, &v->env);
    v->b->env_observe(v->b, &v->env, v->obs);
    v->slot = v->env.slot;
}

void afs_vecenv_reset(afs_vecenv *v, uint32_t episode)
{
    afs_backend *b = v->b;
    size_t A = (size_t)v->E * v->M;
    v->episode = episode;
    v->episodes_done = 0;
    afs_env_begin_episode(&v->env, b, episode);
    b->zero(b, v->reward, A * sizeof(float));
    b->zero(b, v->done, A);
    b->zero(b, v->episode_acc, (size_t)v->E * AFS_ACC_N * sizeof(double));
    arrive_and_observe(v);
}

void afs_vecenv_set_seed(afs_vecenv *v, uint32_t seed)
{
    v->env.seed = seed; /* afs_env_init stores it and draws nothing with it */
}

int afs_vecenv_check_actions(const afs_vecenv *v, char *err, size_t n)
{
    afs_backend *b = v->b;
    size_t A = (size_t)v->E * v->M;
    const uint8_t *a = v->action;
    uint8_t *copy = NULL;
    if (!b->host_memory) {
        if (!(copy = malloc(A ? A : 1)))
            return afs_fail(err, n, "out of host memory to check %zu actions", A);
        b->to_host(b, copy, v->action, A);
        a = copy;
    }
    int rc = 0;
    for (size_t i = 0; i < A; i++)
        if (a[i] > 1) {
            rc = afs_fail(err, n, "action[%zu] = %u (environment %zu, agent %zu): an action is 0 "
                          "(send the function to the cloud) or 1 (run it at the EN)",
                          i, (unsigned)a[i], i / (size_t)v->M, i % (size_t)v->M);
            break;
        }
    free(copy);
    return rc;
}

int afs_vecenv_step(afs_vecenv *v)
{
    afs_backend *b = v->b;
    size_t A = (size_t)v->E * v->M;
    if (v->slot == 0) /* the last step may have ended an episode: its done flags go */
        b->zero(b, v->done, A);
    if (v->env.slot + 1 < v->slots) {
        /* step, then the next slot's arrivals and observation, in one visit
         * of each environment's state; writes env.reward (= v->reward) */
        b->env_step_next(b, &v->env, v->action, v->obs);
        v->slot = v->env.slot;
        return 0;
    }
    b->env_step(b, &v->env, v->action); /* the episode's last slot */
    /* the finished episode's sums, before begin_episode clears them */
    b->copy(b, v->episode_acc, v->env.acc, (size_t)v->E * AFS_ACC_N * sizeof(double));
    /* done = 1 for every agent: (x != 0 ? 0 : 0) | 1, x any float array */
    b->nonzero_flags(b, A, v->reward, 1, 0, 1, v->done);
    v->episodes_done++;
    v->episode++;
    afs_env_begin_episode(&v->env, b, v->episode);
    arrive_and_observe(v);
    return 1;
}

int afs_vecenv_heuristic_actions(afs_vecenv *v, int policy)
{
    if (policy < 0 || policy >= AFS_POLICY_N)
        return -1;
    v->b->env_act(v->b, &v->env, policy, v->obs, v->action);
    return 0;
}
