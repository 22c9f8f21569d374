/* Training throughput of a learning method on a backend, in agent-steps/s
 * with learning included (one agent deciding for one slot, and the
 * gradient steps that follow each slot): training episodes as `afsim train`
 * plays them (exploring, storing, updating), without HDF5 output or
 * evaluations. The replay is filled past its warm-up first, so every timed
 * slot takes its gradient steps.
 *
 * usage: train_bench [--backend cpu|cuda] [--algo NAME] [--envs E[,E...]]
 *                    [--agents M] [--episodes N] [--slots L] [--batch B]
 *                    [--updates-per-slot U] [--replay-mib MIB] [--threads T]
 *                    [--comm attention|always|never|random] [--steps S] [--profile 0|1]
 *
 * NAME is a learning method (models/algos/agents.c's table; default esdrl).
 * Prints two lines per E. The first: backend, algo, E, M, batch, updates
 * per slot, agent-steps/s (the best timed episode: on a shared machine
 * noise only slows a run down), the time of an episode and the gradient
 * steps taken. The second, the cost model of one gradient step, from S
 * steps taken alone after the episodes (bench/op_profile.h): its model
 * flops (every matrix product of the networks, counted from the shapes the
 * algorithm asks for), its time, the achieved GFLOP/s, the rate a plain
 * gemm reaches on exactly those products in the same run, and their ratio:
 * the fraction of the machine the step uses. --profile 1 adds the time of
 * each backend operation within the step. --comm sets amdrl.comm (AM-DRL's
 * line names it): the three modes timed apart show what the channel and
 * the attention unit cost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/config.h"
#include "host/episode.h"
#include "kernels/env.h"
#include "models/algos/agents.h"
#include "op_profile.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_args {
    const char *backend, *algo, *envs, *comm;
    int agents, episodes, slots, batch, updates, threads, steps, profile;
    float replay_mib;
} bench_args;

static int usage(void)
{
    char learners[256];
    fprintf(stderr, "usage: train_bench [--backend cpu|cuda] [--algo %s] "
                    "[--envs E[,E...]] [--agents M] [--episodes N] [--slots L] [--batch B] "
                    "[--updates-per-slot U] [--replay-mib MIB] [--threads T] "
                    "[--comm attention|always|never|random] [--steps S] [--profile 0|1]\n",
            afs_learner_names(learners, sizeof learners, "|", "|"));
    return 2;
}

static int parse(bench_args *a, int argc, char **argv)
{
    *a = (bench_args){"cpu", "esdrl", "64,1024", "attention", 150, 3, 20, 1024, 1, 0, 5, 0, 512.0f};
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (!strcmp(argv[i], "--backend")) a->backend = v;
        else if (!strcmp(argv[i], "--algo")) a->algo = v;
        else if (!strcmp(argv[i], "--envs")) a->envs = v;
        else if (!strcmp(argv[i], "--agents")) a->agents = atoi(v);
        else if (!strcmp(argv[i], "--episodes")) a->episodes = atoi(v);
        else if (!strcmp(argv[i], "--slots")) a->slots = atoi(v);
        else if (!strcmp(argv[i], "--batch")) a->batch = atoi(v);
        else if (!strcmp(argv[i], "--updates-per-slot")) a->updates = atoi(v);
        else if (!strcmp(argv[i], "--replay-mib")) a->replay_mib = (float)atof(v);
        else if (!strcmp(argv[i], "--threads")) a->threads = atoi(v);
        else if (!strcmp(argv[i], "--comm")) a->comm = v;
        else if (!strcmp(argv[i], "--steps")) a->steps = atoi(v);
        else if (!strcmp(argv[i], "--profile")) a->profile = atoi(v);
        else
            return usage();
    }
    if (a->agents < 1 || a->episodes < 1 || a->slots < 2 || a->batch < 1 || a->updates < 1 || a->steps < 1 ||
        !(a->replay_mib >= 1.0f) || !afs_learner_find(a->algo))
        return usage();
    return 0;
}

/* The backend, wrapped in the profiler (which then owns it). */
static afs_backend *open_backend(const bench_args *a, afs_prof **prof)
{
    afs_backend *b = NULL;
    char why[512] = "this build has no CUDA backend";
    if (!strcmp(a->backend, "cpu"))
        b = afs_backend_cpu_create(a->threads);
    else if (afs_cuda_built())
        b = afs_backend_cuda_create(why, sizeof why);
    if (!b) {
        fprintf(stderr, "train_bench: --backend %s: %s\n", a->backend, why);
        return NULL;
    }
    afs_backend *w = afs_prof_wrap(b, prof);
    if (!w) {
        fprintf(stderr, "train_bench: out of host memory\n");
        b->destroy(b);
    }
    return w;
}

/* `calls` update calls of the agent (each its updates_per_slot gradient
 * steps); their seconds, or -1 with a message. */
static double time_updates(afs_backend *b, afs_agent *agent, int calls)
{
    char err[1024];
    b->synchronize(b);
    double t0 = now_s();
    for (int i = 0; i < calls; i++)
        if (agent->ops->update(agent, err, sizeof err)) {
            fprintf(stderr, "train_bench: %s\n", err);
            return -1.0;
        }
    b->synchronize(b);
    return now_s() - t0;
}

/* The cost model of one gradient step: S steps timed alone, then S more
 * profiled for their flops (and, with --profile, each operation's time),
 * then plain gemm calls of the same products. */
static void cost_line(afs_backend *b, afs_prof *prof, afs_agent *agent, const bench_args *a,
                      int envs)
{
    double steps = (double)a->steps * a->updates;
    double took = time_updates(b, agent, a->steps);
    afs_prof_clear(prof);
    afs_prof_enable(prof, 1);
    double profiled = time_updates(b, agent, a->steps);
    afs_prof_enable(prof, 0);
    if (took < 0.0 || profiled < 0.0)
        return;
    double flops = afs_prof_flops(prof) / steps;
    double gemm_s = afs_prof_gemm_seconds(prof, 3) / steps;
    double rate = flops / (took / steps), gemm_rate = gemm_s > 0.0 ? flops / gemm_s : 0.0;
    printf("cost backend=%s algo=%s E=%d M=%d batch=%d step_gflop=%.3f step_ms=%.2f "
           "achieved_gflops=%.1f gemm_same_shapes_gflops=%.1f fraction=%.3f\n", b->name, a->algo,
           envs, a->agents, a->batch, 1e-9 * flops, 1e3 * took / steps, 1e-9 * rate,
           1e-9 * gemm_rate, gemm_rate > 0.0 ? rate / gemm_rate : 0.0);
    if (a->profile)
        afs_prof_report(prof, stdout, profiled, steps, "step");
    fflush(stdout);
}

/* One E: the best agent-steps/s of the timed episodes, and the seconds of
 * one gradient step (from the same episodes, learning time over steps). */
static int bench_one(afs_backend *b, afs_prof *prof, const bench_args *a, int envs)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    cfg.env.agents = a->agents;
    cfg.env.slots = a->slots;
    cfg.run.envs = envs;
    cfg.train.updates_per_slot = a->updates;
    cfg.train.replay_mib = a->replay_mib;
    cfg.train.warmup = envs * a->agents; /* one slot: episode 0 passes it */
    cfg.train.episodes = a->episodes + 1;
    char err[1024], batch[16];
    snprintf(batch, sizeof batch, "%d", a->batch);
    /* the method's own batch key; --comm is AM-DRL's amdrl.comm, checked
     * as a configuration file's value is */
    if (afs_config_set(&cfg, a->algo, "batch", batch, "--batch", err, sizeof err) ||
        afs_config_set(&cfg, "amdrl", "comm", a->comm, "--comm", err, sizeof err)) {
        fprintf(stderr, "train_bench: %s\n", err);
        return -1;
    }
    afs_env env;
    if (afs_env_init(&env, b, &cfg.env, envs, 1)) {
        fprintf(stderr, "train_bench: out of %s memory for E=%d\n", b->name, envs);
        return -1;
    }
    afs_agent *agent = afs_agent_create(a->algo, b, &cfg, envs, 1, err, sizeof err);
    if (!agent) {
        fprintf(stderr, "train_bench: E=%d: %s\n", envs, err);
        afs_env_free(&env, b);
        return -1;
    }
    double best = 0.0, learn_s = 0.0, updates = 0.0;
    /* Episode 0 fills the replay past the warm-up and warms caches. */
    for (int ep = 0; ep <= a->episodes; ep++) {
        afs_episode_row row;
        afs_episode_sums sums;
        afs_agent_stats st;
        agent->progress = (double)ep / cfg.train.episodes;
        double t0 = now_s();
        if (afs_episode_play(agent, &env, AFS_TRAIN_EPISODES + (uint32_t)ep, AFS_PLAY_TRAIN, NULL,
                             &row, &sums, &st, err, sizeof err)) {
            fprintf(stderr, "train_bench: %s\n", err);
            break;
        }
        double took = now_s() - t0;
        if (ep > 0 && row.agent_steps_per_s > best)
            best = row.agent_steps_per_s;
        if (ep > 0) {
            learn_s += took;
            updates += st.updates;
        }
    }
    char comm[32] = "";
    if (!strcmp(a->algo, "amdrl"))
        snprintf(comm, sizeof comm, " comm=%s", a->comm);
    printf("afsim backend=%s algo=%s%s E=%d M=%d batch=%d updates_per_slot=%d "
           "agent_steps_per_s=%.4g episode_s=%.3g gradient_steps=%.0f\n", b->name, a->algo, comm, envs,
           a->agents, a->batch, a->updates, best, learn_s / a->episodes, updates);
    fflush(stdout);
    cost_line(b, prof, agent, a, envs);
    afs_agent_destroy(agent);
    afs_env_free(&env, b);
    return 0;
}

int main(int argc, char **argv)
{
    bench_args a;
    if (parse(&a, argc, argv))
        return 2;
    afs_prof *prof;
    afs_backend *b = open_backend(&a, &prof);
    if (!b)
        return 1;
    char list[256];
    snprintf(list, sizeof list, "%s", a.envs);
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (atoi(tok) < 1 || bench_one(b, prof, &a, atoi(tok)))
            rc = 1;
    b->destroy(b);
    return rc;
}
