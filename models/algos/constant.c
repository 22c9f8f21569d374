/* constant: a learner that always runs functions at the EN (action 1) and
 * learns nothing: the smallest learning method, to measure what adding one
 * takes. */
#include <math.h>

#include "agent.h"
#include "kernels/common/env_math.h"

static void act(afs_agent *a, const afs_env *env, const float *obs, int mode, uint8_t *act)
{
    (void)mode;
    a->b->env_act(a->b, env, AFS_POLICY_ALL_LOCAL, obs, act);
}

static int update(afs_agent *a, char *err, size_t n)
{
    (void)a;
    (void)err;
    (void)n;
    return 0;
}

static void stats(afs_agent *a, afs_agent_stats *out)
{
    (void)a;
    *out = (afs_agent_stats){NAN, NAN, NAN, 0.0, 0.0, 0.0, 0.0, NAN, NAN, NAN};
}

static void checkpoint(afs_agent *a, afs_checkpoint *c, int with_replay)
{
    (void)a;
    (void)with_replay;
    c->nsets = c->nblobs = 0;
}

static long long updates(afs_agent *a)
{
    (void)a;
    return 0;
}

static int set_updates(afs_agent *a, long long u, int replay_loaded, char *err, size_t n)
{
    (void)a;
    (void)u;
    (void)replay_loaded;
    (void)err;
    (void)n;
    return 0;
}

static void destroy(afs_agent *a) { (void)a; }

static const afs_agent_ops ops = {.act = act, .update = update, .stats = stats,
                                  .checkpoint = checkpoint, .updates = updates,
                                  .set_updates = set_updates, .destroy = destroy};

static afs_agent *create(afs_backend *b, const afs_config *cfg, int envs, int train, char *err,
                         size_t n)
{
    (void)train;
    return afs_agent_new(&ops, "constant", 1, b, 1, (size_t)envs * cfg->env.agents, err, n);
}

const afs_learner afs_constant = {
    "constant", "always runs functions at the EN; learns nothing",
    offsetof(afs_config, constant), create, NULL, NULL,
};
