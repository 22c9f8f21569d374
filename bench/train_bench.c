/* Training throughput of a learning method on a backend, in agent-steps/s
 * with learning included (one agent deciding for one slot, and the
 * gradient steps that follow each slot): training episodes as `afsim train`
 * plays them (exploring, storing, updating), without HDF5 output or
 * evaluations. The replay is filled past its warm-up first, so every timed
 * slot takes its gradient steps.
 *
 * usage: train_bench [--backend cpu|cuda] [--algo esdrl|maddpg|amdrl] [--envs E[,E...]]
 *                    [--agents M] [--episodes N] [--slots L] [--batch B]
 *                    [--updates-per-slot U] [--replay-mib MIB] [--threads T]
 *                    [--comm attention|always|never]
 *
 * Prints one line per E: backend, algo, E, M, batch, updates per slot,
 * agent-steps/s (the best timed episode: on a shared machine noise only
 * slows a run down), and the time of one gradient step. --comm sets
 * amdrl.comm (AM-DRL's line names it): the three modes timed apart show
 * what the channel and the attention unit cost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/config.h"
#include "host/episode.h"
#include "kernels/env.h"
#include "models/algos/agent.h"
#include "models/algos/agents.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_args {
    const char *backend, *algo, *envs, *comm;
    int agents, episodes, slots, batch, updates, threads;
    float replay_mib;
} bench_args;

static int usage(void)
{
    fprintf(stderr, "usage: train_bench [--backend cpu|cuda] [--algo esdrl|maddpg|amdrl] "
                    "[--envs E[,E...]] [--agents M] [--episodes N] [--slots L] [--batch B] "
                    "[--updates-per-slot U] [--replay-mib MIB] [--threads T] "
                    "[--comm attention|always|never]\n");
    return 2;
}

static int parse(bench_args *a, int argc, char **argv)
{
    *a = (bench_args){"cpu", "esdrl", "64,1024", "attention", 150, 3, 20, 1024, 1, 0, 512.0f};
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
        else
            return usage();
    }
    if (a->agents < 1 || a->episodes < 1 || a->slots < 2 || a->batch < 1 || a->updates < 1 ||
        !(a->replay_mib >= 1.0f) || (strcmp(a->algo, "esdrl") && strcmp(a->algo, "maddpg") && strcmp(a->algo, "amdrl")) ||
        afs_amdrl_comm_mode(a->comm) < 0)
        return usage();
    return 0;
}

static afs_backend *open_backend(const bench_args *a)
{
    if (!strcmp(a->backend, "cpu"))
        return afs_backend_cpu_create(a->threads);
    char why[512] = "this build has no CUDA backend";
    afs_backend *b = afs_cuda_built() ? afs_backend_cuda_create(why, sizeof why) : NULL;
    if (!b)
        fprintf(stderr, "train_bench: --backend %s: %s\n", a->backend, why);
    return b;
}

/* One E: the best agent-steps/s of the timed episodes, and the seconds of
 * one gradient step (from the same episodes, learning time over steps). */
static int bench_one(afs_backend *b, const bench_args *a, int envs)
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
    cfg.esdrl.batch = cfg.maddpg.batch = cfg.amdrl.batch = a->batch;
    snprintf(cfg.comm.comm, sizeof cfg.comm.comm, "%s", a->comm);
    char err[1024];
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
    afs_agent_destroy(agent);
    afs_env_free(&env, b);
    return 0;
}

int main(int argc, char **argv)
{
    bench_args a;
    if (parse(&a, argc, argv))
        return 2;
    afs_backend *b = open_backend(&a);
    if (!b)
        return 1;
    char list[256];
    snprintf(list, sizeof list, "%s", a.envs);
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (atoi(tok) < 1 || bench_one(b, &a, atoi(tok)))
            rc = 1;
    b->destroy(b);
    return rc;
}
