#include "fail.h"
#include "run.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/common/env_math.h"
#include "../kernels/env.h"
#include "h5out.h"
#include "metrics.h"
#include "outlock.h"
#include "policy_names.h"
#include "trace.h"

/* The orchestrator's only mutable global: the stop requests counted by the
 * signal handler, never cleared (a signal that arrives before the run
 * starts still stops it). 1: after the episode; 2: at once. */
static volatile sig_atomic_t stop_requested;

void afs_run_request_stop(void)
{
    if (stop_requested < 2)
        stop_requested++;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Everything one run owns; freed by run_free whatever happened. */
typedef struct run_state {
    afs_env env;
    float *obs;      /* backend [E*M, AFS_OBS_DIM] */
    uint8_t *act;    /* backend [E*M] */
    afs_tracer tracer;
    int tracing;
    afs_h5 *h5;
} run_state;

static void run_free(run_state *s, afs_backend *b)
{
    if (s->obs) b->release(b, s->obs);
    if (s->act) b->release(b, s->act);
    afs_env_free(&s->env, b);
    if (s->tracing) afs_tracer_free(&s->tracer);
}

static double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

/* The trace copies the state to the host and keeps one record per function
 * of an episode; its buffer doubles as it fills, so it may reach twice its
 * records. */
afs_run_memory afs_run_memory_of(const afs_config *cfg)
{
    double agents = (double)cfg->run.envs * cfg->env.agents;
    afs_run_memory m = {(double)afs_env_bytes(&cfg->env, cfg->run.envs),
                        agents * (AFS_OBS_DIM * sizeof(float) + 1), 0.0};
    if (cfg->run.trace)
        m.trace = m.state + 2.0 * agents * cfg->env.slots * cfg->env.mu_max * sizeof(afs_trace_rec);
    return m;
}

/* Refuses a run that does not fit: backend memory within 90% of what the
 * backend can give, host memory within 80% of the machine's (the CPU
 * backend's memory is host memory: both count there). */
static int check_memory(const afs_run_memory *m, afs_backend *b, const afs_config *cfg, int verbose,
                        char *err, size_t n)
{
    afs_backend *probe = b->host_memory ? b : afs_backend_cpu_create(1);
    double host_have = probe ? probe->memory_budget(probe) : 1e300;
    if (probe && probe != b)
        probe->destroy(probe);
    double on_backend = m->state + m->io, on_host = m->trace + (b->host_memory ? on_backend : 0.0);
    if (verbose && m->trace > 0)
        fprintf(stderr, "afsim: memory: %.1f MiB on the %s backend (state %.1f, observations %.1f), "
                "%.1f MiB on the host for --trace\n", mib(on_backend), b->name, mib(m->state),
                mib(m->io), mib(m->trace));
    else if (verbose)
        fprintf(stderr, "afsim: memory: %.1f MiB on the %s backend (state %.1f, observations %.1f)\n",
                mib(on_backend), b->name, mib(m->state), mib(m->io));
    if (!b->host_memory && on_backend > 0.9 * b->memory_budget(b))
        return afs_fail(err, n, "run.envs = %d with env.agents = %d needs %.0f MiB on the %s "
                        "backend, more than 90%% of its %.0f MiB free: lower run.envs",
                        cfg->run.envs, cfg->env.agents, mib(on_backend), b->name,
                        mib(b->memory_budget(b)));
    if (on_host > 0.8 * host_have)
        return afs_fail(err, n, "run.envs = %d with env.agents = %d needs %.0f MiB of host memory"
                        "%s, more than 80%% of this machine's %.0f MiB: lower run.envs%s",
                        cfg->run.envs, cfg->env.agents, mib(on_host),
                        m->trace > 0 ? " (the trace's records included)" : "", mib(host_have),
                        m->trace > 0 ? " or leave out --trace" : "");
    return 0;
}

static int run_alloc(run_state *s, afs_backend *b, const afs_config *cfg,
                     int verbose, char *err, size_t n)
{
    size_t agents = (size_t)cfg->run.envs * (size_t)cfg->env.agents;
    afs_run_memory m = afs_run_memory_of(cfg);
    if (check_memory(&m, b, cfg, verbose, err, n))
        return -1;
    if (afs_env_init(&s->env, b, &cfg->env, cfg->run.envs, cfg->run.seed) ||
        !(s->obs = b->alloc(b, agents * AFS_OBS_DIM * sizeof(float))) ||
        !(s->act = b->alloc(b, agents)))
        return afs_fail(err, n, "out of %s memory: %d environments of %d agents need %.1f MiB; lower run.envs",
                    b->name, cfg->run.envs, cfg->env.agents, mib(m.state + m.io));
    if (cfg->run.trace) {
        if (afs_tracer_init(&s->tracer, &s->env))
            return afs_fail(err, n, "out of host memory for the trace buffer");
        s->tracing = 1;
    }
    return 0;
}

#define STOPPED_AT_ONCE 2 /* play_episode: a second signal came; the episode is dropped */

/* Plays one episode. The heuristic decides inside the fused slot, so its
 * decision time is measured by one more env_act on the last slot's
 * observations, which changes no state. The backend may run it
 * asynchronously (CUDA): the clock is read with the device synchronized
 * before and after, so the time is the decision's, not its launch's. */
static int play_episode(run_state *s, afs_backend *b, int policy, uint32_t episode,
                        double *decide_s, char *err, size_t n)
{
    afs_env *env = &s->env;
    afs_env_begin_episode(env, b, episode);
    for (int t = 0; t < env->p.slots; t++) {
        if (stop_requested >= 2)
            return STOPPED_AT_ONCE;
        b->env_play_slot(b, env, policy, s->obs, s->act);
        if (s->tracing && afs_tracer_collect(&s->tracer, b, env))
            return afs_fail(err, n, "out of host memory for the trace (%zu records): run with fewer run.envs or episodes",
                        s->tracer.count);
    }
    b->synchronize(b);
    double t0 = now_s();
    b->env_act(b, env, policy, s->obs, s->act);
    b->synchronize(b);
    *decide_s = (now_s() - t0) * env->p.slots;
    return 0;
}

typedef struct policy_total {
    afs_episode_sums sums;
    int episodes;
    double sim_s, decide_s;
} policy_total;

static void progress_line(const char *policy, int ep, int episodes, double rate,
                          const afs_episode_row *row)
{
    fprintf(stderr, "\r\033[K%-10s episode %d/%d  %.3g agent-steps/s  success %.3f  latency %.3f s",
            policy, ep + 1, episodes, rate, row->success_rate, row->mean_latency_s);
    fflush(stderr);
}

static int run_policy(run_state *s, afs_backend *b, const afs_config *cfg, int policy,
                      const afs_run_options *opt, policy_total *tot, char *err, size_t n)
{
    const char *name = afs_policy_name(policy);
    double last_print = 0.0;
    if (afs_h5_begin_run(s->h5, name, err, n))
        return 1;
    memset(tot, 0, sizeof *tot);
    for (int ep = 0; ep < cfg->run.episodes && !stop_requested; ep++) {
        afs_episode_sums sums;
        afs_episode_row row;
        double decide_s = 0.0, t0 = now_s();
        int played = play_episode(s, b, policy, (uint32_t)ep, &decide_s, err, n);
        if (played == STOPPED_AT_ONCE)
            break;
        if (played)
            return 1;
        b->env_metrics(b, &s->env, &sums);
        double sim_s = now_s() - t0 - decide_s / s->env.p.slots;
        double steps = (double)s->env.E * s->env.M * s->env.p.slots;
        afs_row_from_sums(&row, &sums);
        row.episode = ep;
        row.comm_floats_per_decision = 0.0; /* heuristics talk to nobody */
        row.decision_time_s = decide_s / steps;
        row.agent_steps_per_s = steps / sim_s;
        if (s->tracing) {
            if (afs_h5_append_trace(s->h5, s->tracer.recs, s->tracer.count, err, n))
                return 1;
            s->tracer.count = 0;
        }
        if (afs_h5_append_episode(s->h5, &row, err, n))
            return 1;
        for (int a = 0; a < AFS_ACC_N; a++)
            tot->sums.v[a] += sums.v[a];
        tot->episodes++;
        tot->sim_s += sim_s;
        tot->decide_s += decide_s;
        double t = now_s();
        if (opt->progress == AFS_PROGRESS_LIVE) {
            afs_episode_row running; /* over the episodes so far */
            afs_row_from_sums(&running, &tot->sums);
            progress_line(name, ep, cfg->run.episodes, row.agent_steps_per_s, &running);
        } else if (opt->progress == AFS_PROGRESS_LINES &&
                   (t - last_print > 10.0 || ep + 1 == cfg->run.episodes)) {
            fprintf(stderr, "%s: episode %d/%d, %.3g agent-steps/s, success %.3f\n", name,
                    ep + 1, cfg->run.episodes, row.agent_steps_per_s, row.success_rate);
            last_print = t;
        }
    }
    if (opt->progress == AFS_PROGRESS_LIVE)
        fputs("\r\033[K", stderr);
    return 0;
}

static void summary_header(FILE *f)
{
    fprintf(f, "%-10s %8s %10s %8s %10s %9s %8s %6s %6s %12s\n", "policy", "episodes",
            "functions", "success", "latency_s", "cost", "offload", "drop", "late",
            "agent-steps/s");
}

static void summary_row(FILE *f, const char *name, const policy_total *t, const afs_env *env)
{
    afs_episode_row r;
    afs_row_from_sums(&r, &t->sums);
    double steps = (double)t->episodes * env->E * env->M * env->p.slots;
    fprintf(f, "%-10s %8d %10lld %8.4f %10.4f %9.4f %8.4f %6.4f %6.4f %12.3g\n", name,
            t->episodes, (long long)r.functions, r.success_rate, r.mean_latency_s,
            r.mean_cost, r.offload_fraction, r.drop_rate, r.miss_rate,
            t->sim_s > 0 ? steps / t->sim_s : 0.0);
}

int afs_run(const afs_config *cfg, afs_backend *b, const afs_run_options *opt,
            char *err, size_t n)
{
    const int *policies = cfg->run.policy, np = cfg->run.policy_count;
    policy_total totals[AFS_MAX_POLICIES];
    run_state s;
    afs_outlock lock = {-1, ""};
    afs_h5_run runs[AFS_MAX_POLICIES];
    int rc = 0, done = 0;
    memset(&s, 0, sizeof s);
    for (int p = 0; p < np; p++)
        runs[p] = (afs_h5_run){afs_policy_name(policies[p]), b->name, cfg->run.trace};
    /* The output is this run's from before it is created until it is
     * closed: a second run on it is refused, --force or not. */
    if (run_alloc(&s, b, cfg, opt->progress != AFS_PROGRESS_NONE, err, n) ||
        afs_h5_check_destination(cfg->run.out, 1, err, n) || /* existence: once locked */
        afs_outlock_take(&lock, cfg->run.out, opt->command ? opt->command : "afsim run", err, n) ||
        !(s.h5 = afs_h5_create(cfg->run.out, cfg->run.overwrite, cfg, runs, np, err, n))) {
        afs_outlock_drop(&lock);
        run_free(&s, b);
        return 1;
    }
    for (; done < np && !rc && !stop_requested; done++)
        rc = run_policy(&s, b, cfg, policies[done], opt, &totals[done], err, n);
    char close_err[AFS_PATH_MAX + 512];
    if (afs_h5_close(s.h5, rc != 0, close_err, sizeof close_err) && !rc)
        rc = afs_fail(err, n, "%s", close_err);
    afs_outlock_drop(&lock);
    if (!rc && opt->summary) {
        summary_header(opt->summary);
        for (int p = 0; p < done; p++)
            summary_row(opt->summary, afs_policy_name(policies[p]), &totals[p], &s.env);
        fprintf(opt->summary, "results: %s\n", cfg->run.out);
    }
    run_free(&s, b);
    if (!rc && stop_requested) {
        fprintf(stderr, "afsim: stopped by a signal%s; %s holds every finished episode\n",
                stop_requested >= 2 ? " (a second one: the episode under way is not in it)" : "",
                cfg->run.out);
        return 130;
    }
    return rc ? 1 : 0;
}
