/* Throughput of the environment as a library (host/vecenv.h) on the CPU
 * backend, in agent-steps/s: afs_vecenv_step with fixed actions, the
 * loop a learner outside afsim (the Python binding) runs minus the
 * learner. What a binding's own loop is compared against: the same E, M
 * and slots through the binding, the same actions, give the binding's
 * overhead per step.
 *
 * usage: vecenv_bench [--envs E] [--agents M] [--slots L] [--seconds S]
 *                     [--threads T] [--actions greedy|ones|zeros] [--fused]
 *
 * The actions are written once and never changed: greedy's for the first
 * slot of episode 0 (the default), or every agent's 1 (run at the EN) or 0
 * (the cloud). A step is env_step, then at an episode's end the copy of
 * its sums and the next episode's start, then the next slot's arrivals and
 * observation (the observation is part of the step: a binding hands it to
 * its learner). One episode is played untimed first (pages, caches); then
 * whole episodes (slots steps, the auto-reset included) for at least S
 * seconds of wall time. agent_steps_per_s is the best episode's rate (on a
 * shared machine noise only ever slows a run down, as in env_bench),
 * mean_agent_steps_per_s the whole time's; steps_per_s counts calls.
 *
 * --fused: also times afsim run's own slot on the same environments (the
 * fused heuristic slot, greedy, AFS_SLOTS_AT_ONCE slots a call:
 * bench/env_bench.c's measurement), the rate the step API gives up for
 * taking its actions from outside.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/config.h"
#include "host/episode.h"
#include "host/vecenv.h"
#include "kernels/common/env_math.h"
#include "kernels/env.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* afsim run's fused greedy slot on E environments, for `seconds`. */
static double fused_rate(afs_backend *b, const afs_env_params *p, int envs, double seconds)
{
    afs_env env;
    size_t A = (size_t)envs * p->agents;
    float *obs = b->alloc(b, A * AFS_OBS_DIM * sizeof(float));
    uint8_t *act = b->alloc(b, A);
    if (afs_env_init(&env, b, p, envs, 1) || !obs || !act) {
        fprintf(stderr, "vecenv_bench: out of memory for the fused slot at E=%d\n", envs);
        exit(1);
    }
    long long slots = 0;
    double t0 = 0.0;
    for (uint32_t ep = 0;; ep++) {
        if (ep == 1) { /* episode 0 warms up */
            slots = 0;
            t0 = now_s();
        }
        afs_env_begin_episode(&env, b, ep);
        for (int t = 0; t < p->slots; t += AFS_SLOTS_AT_ONCE) {
            int count = p->slots - t < AFS_SLOTS_AT_ONCE ? p->slots - t : AFS_SLOTS_AT_ONCE;
            b->env_play_slots(b, &env, AFS_POLICY_GREEDY, count, obs, act);
            slots += count;
        }
        if (ep >= 1 && now_s() - t0 >= seconds)
            break;
    }
    double rate = (double)slots * (double)A / (now_s() - t0); /* the mean */
    b->release(b, obs);
    b->release(b, act);
    afs_env_free(&env, b);
    return rate;
}

int main(int argc, char **argv)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    cfg.env.agents = 150;
    int envs = 1024, threads = 0, fused = 0;
    double seconds = 5.0;
    const char *actions = "greedy";
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--envs") && v) envs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--agents") && v) cfg.env.agents = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--slots") && v) cfg.env.slots = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && v) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && v) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--actions") && v) actions = argv[++i];
        else if (!strcmp(argv[i], "--fused")) fused = 1;
        else {
            fprintf(stderr, "usage: vecenv_bench [--envs E] [--agents M] [--slots L] "
                            "[--seconds S] [--threads T] [--actions greedy|ones|zeros] "
                            "[--fused]\n");
            return 2;
        }
    }
    if (strcmp(actions, "greedy") && strcmp(actions, "ones") && strcmp(actions, "zeros")) {
        fprintf(stderr, "vecenv_bench: --actions %s: give greedy, ones or zeros\n", actions);
        return 2;
    }
    if (!(seconds > 0.0)) {
        fprintf(stderr, "vecenv_bench: --seconds %g: give a positive number of seconds\n",
                seconds);
        return 2;
    }
    afs_backend *b = afs_backend_cpu_create(threads);
    char err[1024];
    afs_vecenv *v = afs_vecenv_create(&cfg, b, envs, cfg.run.seed, err, sizeof err);
    if (!v) {
        fprintf(stderr, "vecenv_bench: %s\n", err);
        b->destroy(b);
        return 1;
    }
    size_t A = (size_t)v->E * v->M;
    if (!strcmp(actions, "greedy")) {
        afs_vecenv_heuristic_actions(v, AFS_POLICY_GREEDY);
    } else { /* the host's 0s or 1s, copied once */
        uint8_t *host = malloc(A);
        if (!host) {
            fprintf(stderr, "vecenv_bench: out of host memory\n");
            return 1;
        }
        memset(host, !strcmp(actions, "ones"), A);
        b->to_backend(b, v->action, host, A);
        free(host);
    }
    for (int t = 0; t < v->slots; t++) /* one episode untimed */
        afs_vecenv_step(v);
    b->synchronize(b);
    /* whole episodes (each with its auto-reset), at least one, until S seconds */
    long long steps = 0, episodes = 0;
    double t0 = now_s(), elapsed = 0.0, best = 0.0;
    do {
        double e0 = now_s();
        for (int t = 0; t < v->slots; t++)
            afs_vecenv_step(v);
        b->synchronize(b);
        double now = now_s(), rate = (double)v->slots * (double)A / (now - e0);
        best = rate > best ? rate : best;
        steps += v->slots;
        episodes++;
        elapsed = now - t0;
    } while (elapsed < seconds);
    double rate = (double)steps * (double)A / elapsed;
    char th[16] = "all";
    if (threads > 0)
        snprintf(th, sizeof th, "%d", threads);
    printf("vecenv backend=%s E=%d M=%d slots=%d threads=%s actions=%s episodes=%lld "
           "seconds=%.2f agent_steps_per_s=%.4g mean_agent_steps_per_s=%.4g "
           "steps_per_s=%.4g\n",
           b->name, v->E, v->M, v->slots, th, actions, episodes, elapsed, best, rate,
           (double)steps / elapsed);
    fflush(stdout);
    afs_vecenv_destroy(v);
    if (fused) {
        double f = fused_rate(b, &cfg.env, envs, seconds);
        printf("fused   backend=%s E=%d M=%d slots=%d threads=%s policy=greedy at_once=%d "
               "mean_agent_steps_per_s=%.4g (the step API's mean: %.2f of it)\n",
               b->name, envs, cfg.env.agents, cfg.env.slots, th, AFS_SLOTS_AT_ONCE, f, rate / f);
    }
    b->destroy(b);
    return 0;
}
