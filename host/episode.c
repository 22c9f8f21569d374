#include "episode.h"

#include <time.h>

#include "core/fail.h"
#include "stop.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void afs_episode_slot(afs_agent *a, afs_env *env, int mode)
{
    afs_backend *b = a->b;
    b->env_arrive(b, env);
    b->env_observe(b, env, a->obs);
    a->ops->act(a, env, a->obs, mode, a->act);
    b->env_step(b, env, a->act); /* advances env->slot */
    if (mode == AFS_PLAY_TRAIN && a->ops->store)
        a->ops->store(a, a->obs, a->act, env->reward, env->slot >= env->p.slots);
}

void afs_episode_decide(afs_agent *a, const afs_env *env)
{
    a->b->env_observe(a->b, env, a->obs);
    a->ops->act(a, env, a->obs, AFS_PLAY_DECIDE, a->act);
}

int afs_episode_play(afs_agent *a, afs_env *env, uint32_t episode, int mode, afs_tracer *tracer,
                     afs_episode_row *row, afs_episode_sums *sums, afs_agent_stats *st, char *err,
                     size_t n)
{
    afs_backend *b = a->b;
    double t0 = now_s();
    afs_env_begin_episode(env, b, episode);
    /* An agent that needs nothing between slots plays the backend's fused
     * slots, several at once where nothing else runs between them (no
     * trace to collect, nothing learned): see AFS_SLOTS_AT_ONCE. */
    int fused = a->ops->play_slots != NULL;
    int at_once = fused && !tracer && mode == AFS_PLAY_EVAL ? AFS_SLOTS_AT_ONCE : 1;
    for (int t = 0; t < env->p.slots;) {
        if (afs_stop_level() >= 2)
            return AFS_EPISODE_STOPPED;
        int count = env->p.slots - t < at_once ? env->p.slots - t : at_once;
        if (fused) {
            if (a->ops->play_slots(a, env, count, err, n))
                return -1;
        } else {
            afs_episode_slot(a, env, mode);
        }
        if (mode == AFS_PLAY_TRAIN && a->ops->update && a->ops->update(a, err, n))
            return -1;
        t += count;
        int K = 0;
        const int16_t *grp = tracer && a->ops->groups ? a->ops->groups(a, &K) : NULL;
        if (tracer && afs_tracer_collect(tracer, b, env, grp, K))
            return afs_fail(err, n, "out of host memory for the trace (%zu records): run with "
                            "fewer run.envs or episodes", tracer->count);
    }
    b->env_metrics(b, env, sums); /* a copy to the host: waits for the device */
    double played_s = now_s() - t0;
    /* The decision alone, once more from the last state (it changes none),
     * with the device waited for before and after. */
    b->synchronize(b);
    double d0 = now_s();
    afs_episode_decide(a, env);
    b->synchronize(b);
    double decide_s = now_s() - d0;
    double steps = (double)env->E * env->M * env->p.slots;
    a->ops->stats(a, st);
    afs_row_from_sums(row, sums);
    row->episode = episode;
    row->comm_floats_per_decision = st->comm_floats;
    row->decision_time_s = decide_s / ((double)env->E * env->M);
    row->agent_steps_per_s = steps / played_s;
    return 0;
}
