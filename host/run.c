#include "run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kernels/common/env_math.h"
#include "../kernels/env.h"
#include "checkpoint.h"
#include "core/fail.h"
#include "episode.h"
#include "h5out.h"
#include "memory.h"
#include "metrics.h"
#include "models/algos/agents.h"
#include "outlock.h"
#include "stop.h"
#include "trace.h"
#include "trained.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Everything one run owns; freed by run_free whatever happened. */
typedef struct run_state {
    afs_env env;
    afs_tracer tracer;
    int tracing;
    afs_h5 *h5;
} run_state;

static void run_free(run_state *s, afs_backend *b)
{
    afs_env_free(&s->env, b);
    if (s->tracing)
        afs_tracer_free(&s->tracer);
}

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

static int run_alloc(run_state *s, afs_backend *b, const afs_config *cfg,
                     int verbose, char *err, size_t n)
{
    afs_run_memory m = afs_run_memory_of(cfg);
    char detail[256];
    int o = snprintf(detail, sizeof detail, "state %.1f MiB, observations %.1f MiB",
                     afs_mib(m.state), afs_mib(m.io));
    if (m.trace > 0)
        snprintf(detail + o, sizeof detail - (size_t)o, ", trace %.1f MiB", afs_mib(m.trace));
    if (afs_memory_check(b, m.state + m.io, m.trace, detail,
                         m.trace > 0 ? "lower run.envs or leave out --trace" : "lower run.envs",
                         verbose, err, n))
        return -1;
    if (afs_env_init(&s->env, b, &cfg->env, cfg->run.envs, cfg->run.seed))
        return afs_fail(err, n, "out of %s memory: %d environments of %d agents need %.1f MiB; "
                        "lower run.envs", b->name, cfg->run.envs, cfg->env.agents,
                        afs_mib(m.state + m.io));
    if (cfg->run.trace) {
        if (afs_tracer_init(&s->tracer, &s->env))
            return afs_fail(err, n, "out of host memory for the trace buffer");
        s->tracing = 1;
    }
    return 0;
}

typedef struct policy_total {
    afs_episode_sums sums;
    int episodes;
    double sim_s;
} policy_total;

static void progress_line(const char *policy, int ep, int episodes, double rate,
                          const afs_episode_row *row)
{
    fprintf(stderr, "\r\033[K%-10s episode %d/%d  %.3g agent-steps/s  success %.3f  latency %.3f s",
            policy, ep + 1, episodes, rate, row->success_rate, row->mean_latency_s);
    fflush(stderr);
}

/* A trained policy plays in the run's environment, which may not be its
 * training's: the environment keys (the afs_env_params of the
 * configuration) whose values differ, as "key = training's value, ...",
 * into buf ("" when none). 0, or -1 with err when the checkpoint's
 * configuration cannot be read. */
static int trained_with(const afs_config *cfg, const char *path, char *buf, size_t cap,
                        char *err, size_t n)
{
    afs_config *trained = malloc(sizeof *trained);
    char algo[32];
    if (!trained)
        return afs_fail(err, n, "out of memory");
    afs_config_defaults(trained);
    int rc = afs_checkpoint_config(path, algo, sizeof algo, trained, err, n);
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; !rc && i < afs_config_key_count(); i++) {
        const afs_config_key *k = afs_config_key_at(i);
        /* the [env] section: the heuristics' keys (deadline.alpha,
         * best_response.rounds) live in the same struct but are no
         * environment */
        if (strcmp(k->section, "env"))
            continue;
        char then[AFS_PATH_MAX + 8], now[AFS_PATH_MAX + 8];
        afs_config_format(trained, k, then, sizeof then);
        afs_config_format(cfg, k, now, sizeof now);
        if (strcmp(then, now) && used < cap)
            used += (size_t)snprintf(buf + used, cap - used, "%s%s.%s = %s", used ? ", " : "",
                                     k->section, k->name, then);
    }
    free(trained);
    return rc;
}

/* The agent of policy p: a heuristic, or a trained policy from its
 * checkpoint (whose networks must fit the run's environment: a MADDPG
 * critic takes every agent of an environment). differs: trained_with's. */
static afs_agent *agent_of(const afs_config *cfg, int p, const char *differs, afs_backend *b,
                           char *err, size_t n)
{
    if (cfg->run.policy[p] != AFS_POLICY_CHECKPOINT)
        return afs_agent_create(cfg->run.policy_label[p], b, cfg, cfg->run.envs, 0, err, n);
    afs_agent *a = afs_agent_from_checkpoint(cfg->run.policy_path[p], b, cfg, cfg->run.envs,
                                             err, n);
    if (a || !differs || !differs[0])
        return a;
    size_t used = strlen(err);
    if (used + 1 < n)
        snprintf(err + used, n - used, " (it was trained with %s: play it in that environment)",
                 differs);
    return NULL;
}

static int run_policy(run_state *s, afs_backend *b, const afs_config *cfg, int p,
                      const char *differs, const afs_run_options *opt, policy_total *tot,
                      char *err, size_t n)
{
    const char *name = cfg->run.policy_label[p];
    double last_print = 0.0;
    if (afs_h5_begin_run(s->h5, name, err, n))
        return 1;
    afs_agent *agent = agent_of(cfg, p, differs, b, err, n);
    if (!agent)
        return 1;
    memset(tot, 0, sizeof *tot);
    int rc = 0;
    for (int ep = 0; ep < cfg->run.episodes && !afs_stop_level() && !rc; ep++) {
        afs_episode_sums sums;
        afs_episode_row row;
        afs_agent_stats st;
        double t0 = now_s();
        int played = afs_episode_play(agent, &s->env, (uint32_t)ep, AFS_PLAY_EVAL,
                                      s->tracing ? &s->tracer : NULL, &row, &sums, &st, err, n);
        if (played == AFS_EPISODE_STOPPED)
            break;
        if (played) {
            rc = 1;
            break;
        }
        double sim_s = now_s() - t0;
        if (s->tracing) {
            if (afs_h5_append_trace(s->h5, s->tracer.recs, s->tracer.count, err, n)) {
                rc = 1;
                break;
            }
            s->tracer.count = 0;
        }
        if (afs_h5_append_episode(s->h5, &row, NULL, err, n)) {
            rc = 1;
            break;
        }
        for (int a = 0; a < AFS_ACC_N; a++)
            tot->sums.v[a] += sums.v[a];
        tot->episodes++;
        tot->sim_s += sim_s;
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
    afs_agent_destroy(agent);
    if (opt->progress == AFS_PROGRESS_LIVE)
        fputs("\r\033[K", stderr);
    return rc;
}

static void summary_header(FILE *f, int w)
{
    fprintf(f, "%-*s %8s %10s %8s %10s %9s %8s %6s %6s %12s\n", w, "policy", "episodes",
            "functions", "success", "latency_s", "cost", "offload", "drop", "late",
            "agent-steps/s");
}

static void summary_row(FILE *f, int w, const char *name, const policy_total *t,
                        const afs_env *env)
{
    afs_episode_row r;
    afs_row_from_sums(&r, &t->sums);
    double steps = (double)t->episodes * env->E * env->M * env->p.slots;
    fprintf(f, "%-*s %8d %10lld %8.4f %10.4f %9.4f %8.4f %6.4f %6.4f %12.3g\n", w, name,
            t->episodes, (long long)r.functions, r.success_rate, r.mean_latency_s,
            r.mean_cost, r.offload_fraction, r.drop_rate, r.miss_rate,
            t->sim_s > 0 ? steps / t->sim_s : 0.0);
}

int afs_run(const afs_config *cfg, afs_backend *b, const afs_run_options *opt,
            char *err, size_t n)
{
    const int np = cfg->run.policy_count;
    policy_total totals[AFS_MAX_POLICIES];
    run_state s;
    afs_outlock lock = {-1, ""};
    afs_h5_run runs[AFS_MAX_POLICIES];
    int rc = 0, done = 0;
    char differs[AFS_MAX_POLICIES][1024]; /* outlive the file: runs points to them */
    memset(&s, 0, sizeof s);
    for (int p = 0; p < np; p++) {
        int trained = cfg->run.policy[p] == AFS_POLICY_CHECKPOINT;
        if (trained && trained_with(cfg, cfg->run.policy_path[p], differs[p], sizeof differs[p],
                                    err, n))
            return 1;
        if (trained && differs[p][0])
            fprintf(stderr, "afsim: warning: %s was trained with %s, which this run changes: "
                    "it plays outside its training (recorded in /runs/%s as trained_with)\n",
                    cfg->run.policy_label[p], differs[p], cfg->run.policy_label[p]);
        runs[p] = (afs_h5_run){.name = cfg->run.policy_label[p], .backend = b->name,
                               .trace = cfg->run.trace,
                               .checkpoint = trained ? cfg->run.policy_path[p] : NULL,
                               .trained_with = trained ? differs[p] : NULL};
    }
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
    for (; done < np && !rc && !afs_stop_level(); done++)
        rc = run_policy(&s, b, cfg, done, differs[done], opt, &totals[done], err, n);
    char close_err[AFS_PATH_MAX + 512];
    if (afs_h5_close(s.h5, 0, close_err, sizeof close_err) && !rc) /* writes only this file */
        rc = afs_fail(err, n, "%s", close_err);
    afs_outlock_drop(&lock);
    if (!rc && opt->summary) {
        int w = 10; /* the policy column: as wide as the longest name */
        for (int p = 0; p < done; p++)
            w = (int)strlen(cfg->run.policy_label[p]) > w ? (int)strlen(cfg->run.policy_label[p]) : w;
        summary_header(opt->summary, w);
        for (int p = 0; p < done; p++)
            summary_row(opt->summary, w, cfg->run.policy_label[p], &totals[p], &s.env);
        fprintf(opt->summary, "results: %s\n", cfg->run.out);
    }
    run_free(&s, b);
    if (!rc && afs_stop_level()) {
        if (!opt->nested)
            fprintf(stderr, "afsim: stopped by a signal%s; %s holds every finished episode\n",
                    afs_stop_level() >= 2 ? " (a second one: the episode under way is not in it)" : "",
                    cfg->run.out);
        return 130;
    }
    return rc ? 1 : 0;
}
