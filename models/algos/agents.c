/* The agents by name. */
#include <stdio.h>
#include <string.h>

#include "agents.h"
#include "core/fail.h"
#include "core/policy_names.h"

afs_agent *afs_agent_create(const char *name, afs_backend *b, const afs_config *cfg, int envs,
                            int train, char *err, size_t n)
{
    int policy = afs_policy_from_name(name);
    afs_agent *a = NULL;
    if (policy >= 0) {
        a = afs_heuristic_create(policy, afs_policy_name(policy), b, envs, cfg->env.agents);
        if (!a)
            afs_fail(err, n, "%s: out of %s memory", name, b->name);
        return a;
    }
    if (!strcmp(name, "esdrl"))
        return afs_esdrl_create(b, cfg, envs, train, err, n);
    if (!strcmp(name, "maddpg"))
        return afs_maddpg_create(b, cfg, envs, train, err, n);
    if (!strcmp(name, "amdrl"))
        return afs_amdrl_create(b, cfg, envs, train, err, n);
    afs_fail(err, n, "unknown agent '%s' (known: %s)", name, AFS_AGENT_NAMES);
    return NULL;
}

int afs_agent_plan(const char *name, const afs_config *cfg, int envs, afs_replay_info *info,
                   char *err, size_t n)
{
    *info = (afs_replay_info){0, 0, 0, 0};
    const afs_algo_params *p = afs_agent_algo_params(cfg, name);
    if (!p)
        return afs_policy_from_name(name) >= 0
                   ? 0 : afs_fail(err, n, "unknown agent '%s' (known: %s)", name, AFS_AGENT_NAMES);
    /* rows of one environment's M records (MADDPG, AM-DRL), or of one;
     * AM-DRL's batch counts agent rows, rounded up to whole joint rows */
    int M = cfg->env.agents, block = envs * M, amdrl = !strcmp(name, "amdrl");
    int row = !strcmp(name, "esdrl") ? 1 : M;
    int batch = amdrl ? (p->batch + M - 1) / M : p->batch;
    int group_k = amdrl ? cfg->comm.group_m + 1 : 0;
    return ac_replay_slots(cfg, name, block, row, group_k, batch, info, err, n) > 0 ? 0 : -1;
}

int afs_agent_net_bytes(const char *name, afs_backend *b, const afs_config *cfg, int envs,
                        double *bytes, char *err, size_t n)
{
    *bytes = 0.0;
    return !strcmp(name, "esdrl")    ? afs_esdrl_net_bytes(cfg, envs, bytes, err, n)
           : !strcmp(name, "maddpg") ? afs_maddpg_net_bytes(cfg, envs, bytes, err, n)
           : !strcmp(name, "amdrl")  ? afs_amdrl_net_bytes(b, cfg, envs, bytes, err, n)
                                     : 0;
}

void afs_agent_destroy(afs_agent *a)
{
    if (a)
        a->ops->destroy(a);
}
