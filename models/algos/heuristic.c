/* The heuristic policies (kernels/common/env_math.h's rules) as agents:
 * their decision is the backend's env_act, and whole slots without a
 * trace are the backend's fused slots; nothing is learned. */
#include <math.h>

#include "heuristic.h"

typedef struct heuristic {
    int policy; /* enum afs_policy */
} heuristic;

static heuristic *impl_of(afs_agent *a) { return a->impl; }

static void act(afs_agent *a, const afs_env *env, const float *obs, int mode, uint8_t *action)
{
    (void)mode; /* a heuristic decides alike in every mode */
    a->b->env_act(a->b, env, impl_of(a)->policy, obs, action);
}

static int play_slots(afs_agent *a, afs_env *env, int count, char *err, size_t n)
{
    (void)err;
    (void)n;
    a->b->env_play_slots(a->b, env, impl_of(a)->policy, count, a->obs, a->act);
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

static void destroy(afs_agent *a) { (void)a; /* it holds nothing beyond afs_agent_new's */ }

static const afs_agent_ops ops = {.act = act, .stats = stats, .checkpoint = checkpoint,
                                  .updates = updates, .set_updates = set_updates,
                                  .destroy = destroy, .play_slots = play_slots};

afs_agent *afs_heuristic_create(int policy, const char *name, afs_backend *b, int envs,
                                int agents, char *err, size_t n)
{
    afs_agent *a = afs_agent_new(&ops, name, 0, b, sizeof(heuristic), (size_t)envs * agents, err,
                                 n);
    if (a)
        impl_of(a)->policy = policy;
    return a;
}
