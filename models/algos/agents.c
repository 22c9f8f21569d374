/* The agents by name: the heuristics from their policy names, the learning
 * methods from the table below. */
#include <stdio.h>
#include <string.h>

#include "agents.h"
#include "core/fail.h"
#include "core/policy_names.h"
#include "heuristic.h"

/* The learning methods, each defined in its own file. A new method is its
 * file and a line here (docs/architecture.md, "Adding a learner"). */
extern const afs_learner afs_esdrl, afs_maddpg, afs_amdrl;
static const afs_learner *const learners[] = {&afs_esdrl, &afs_maddpg, &afs_amdrl};

enum { N_LEARNERS = sizeof learners / sizeof learners[0] };

const afs_learner *afs_learner_at(int i)
{
    return i >= 0 && i < N_LEARNERS ? learners[i] : NULL;
}

const afs_learner *afs_learner_find(const char *name)
{
    for (int i = 0; i < N_LEARNERS; i++)
        if (!strcmp(name, learners[i]->name))
            return learners[i];
    return NULL;
}

const char *afs_learner_names(char *buf, size_t n, const char *sep, const char *last)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < N_LEARNERS && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i == 0 ? "" : i + 1 < N_LEARNERS ? sep : last,
                              learners[i]->name);
    return buf;
}

const char *afs_agent_names(char *buf, size_t n)
{
    char learned[256];
    size_t o = strlen(afs_policy_names(buf, n));
    if (o + 2 < n)
        snprintf(buf + o, n - o, ", %s", afs_learner_names(learned, sizeof learned, ", ", ", "));
    return buf;
}

const afs_algo_params *afs_agent_algo_params(const afs_config *cfg, const char *name)
{
    const afs_learner *l = afs_learner_find(name);
    /* the section at the offset the learner gives */
    return l ? (const afs_algo_params *)(const void *)((const char *)cfg + l->params) : NULL;
}

/* The message for a name that is neither a heuristic nor a learner. */
static int unknown(const char *name, char *err, size_t n)
{
    char known[512];
    return afs_fail(err, n, "unknown agent '%s' (known: %s)", name,
                    afs_agent_names(known, sizeof known));
}

afs_agent *afs_agent_create(const char *name, afs_backend *b, const afs_config *cfg, int envs,
                            int train, char *err, size_t n)
{
    int policy = afs_policy_from_name(name);
    if (policy >= 0)
        return afs_heuristic_create(policy, afs_policy_name(policy), b, envs, cfg->env.agents,
                                    err, n);
    const afs_learner *l = afs_learner_find(name);
    if (l)
        return l->create(b, cfg, envs, train, err, n);
    unknown(name, err, n);
    return NULL;
}

int afs_agent_plan(const char *name, const afs_config *cfg, int envs, afs_replay_info *info,
                   char *err, size_t n)
{
    *info = (afs_replay_info){0, 0, 0, 0};
    const afs_learner *l = afs_learner_find(name);
    if (!l)
        return afs_policy_from_name(name) >= 0 ? 0 : unknown(name, err, n);
    return !l->plan || l->plan(cfg, envs, info, err, n) > 0 ? 0 : -1;
}

int afs_agent_net_bytes(const char *name, afs_backend *b, const afs_config *cfg, int envs,
                        double *bytes, char *err, size_t n)
{
    *bytes = 0.0;
    const afs_learner *l = afs_learner_find(name);
    return l && l->net_bytes ? l->net_bytes(b, cfg, envs, bytes, err, n) : 0;
}
