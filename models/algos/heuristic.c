/* The heuristic policies (random, greedy, all_local, all_cloud) as agents:
 * a slot is the backend's fused heuristic slot; nothing is learned. */
#include <math.h>
#include <stdlib.h>

#include "heuristic.h"
#include "kernels/common/env_math.h"

typedef struct heuristic {
    int policy;     /* enum afs_policy */
    float *obs;     /* backend [E*M, OBS] */
    uint8_t *act;   /* backend [E*M] */
} heuristic;

static heuristic *impl_of(afs_agent *a) { return a->impl; }

static int play_slots(afs_agent *a, afs_env *env, int count, char *err, size_t n)
{
    (void)err;
    (void)n;
    heuristic *h = impl_of(a);
    a->b->env_play_slots(a->b, env, h->policy, count, h->obs, h->act);
    return 0;
}

/* A heuristic learns nothing: every mode plays the same slot. */
static int play_slot(afs_agent *a, afs_env *env, int mode, char *err, size_t n)
{
    (void)mode;
    return play_slots(a, env, 1, err, n);
}

static void end_episode(afs_agent *a, afs_env *env, int mode)
{
    (void)a;
    (void)env;
    (void)mode;
}

static void decide(afs_agent *a, const afs_env *env)
{
    heuristic *h = impl_of(a);
    a->b->env_observe(a->b, env, h->obs);
    a->b->env_act(a->b, env, h->policy, h->obs, h->act);
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

static void destroy(afs_agent *a)
{
    heuristic *h = impl_of(a);
    if (h->obs)
        a->b->release(a->b, h->obs);
    if (h->act)
        a->b->release(a->b, h->act);
    free(h);
    free(a);
}

static const afs_agent_ops ops = {play_slot, end_episode, decide, update, stats, checkpoint,
                                  updates, set_updates, destroy, NULL, play_slots};

afs_agent *afs_heuristic_create(int policy, const char *name, afs_backend *b, int envs,
                                int agents)
{
    afs_agent *a = calloc(1, sizeof *a);
    heuristic *h = calloc(1, sizeof *h);
    size_t n = (size_t)envs * agents;
    if (a && h) {
        *a = (afs_agent){&ops, name, 0, b, h, {0, 0, 0, 0}, 0.0};
        h->policy = policy;
        h->obs = b->alloc(b, n * AFS_OBS_DIM * sizeof(float));
        h->act = b->alloc(b, n);
        if (h->obs && h->act)
            return a;
    }
    if (a && h)
        destroy(a);
    else {
        free(a);
        free(h);
    }
    return NULL;
}
