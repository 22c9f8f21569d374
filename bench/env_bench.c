/* Environment-step throughput of a backend, in agent-steps/s (one agent
 * deciding for one slot): the fused heuristic slot (arrive, observe, act,
 * step) as `afsim run` plays it, AFS_SLOTS_AT_ONCE slots a call (--at-once
 * sets another count), without HDF5 output.
 *
 * usage: env_bench [--backend cpu] [--envs E[,E...]] [--agents M]
 *                  [--episodes N] [--policy NAME] [--threads T] [--at-once K]
 *                  [--phases] [--philox]
 *
 * Also measures this machine's copy bandwidth (a 512 MiB memcpy, bytes read
 * plus bytes written per second, the best of 5) and prints, per E, the
 * fewest bytes a slot moves per agent from and to memory (bench/bench_bytes.h,
 * divided by the mean slots a call: the CPU fetches an environment's state
 * once for all of a call's slots), the rate at which that traffic alone would run at the
 * measured bandwidth (the floor of a memory-bound step; a state that fits
 * in the caches can beat it) and the fraction of it achieved.
 *
 * --phases: instead, the CPU slot's three phases (kernels/cpu/slot_cpu.c:
 * arrivals, decisions, step) timed apart on the calling thread, in ns per
 * agent-step, each over every environment in turn: where a thread's time
 * goes (best_response's descent is left out: its decision is greedy's).
 *
 * --philox: instead, ns per Philox block of each batched form
 * (kernels/cpu/philox_lanes.h) this CPU runs, for a full batch of 64 agents
 * and for the 22 that end a row of 150.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/policy_names.h"
#include "host/config.h"
#include "host/episode.h"
#include "kernels/common/env_math.h"
#include "kernels/env.h"
#include "kernels/cpu/cpu_clones.h"
#include "kernels/cpu/philox_lanes.h"
#include "kernels/cpu/slot_cpu.h"
#include "bench_bytes.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* memcpy of a 512 MiB buffer: bytes read plus written per second, the best of 5. */
static double copy_bandwidth(void)
{
    size_t n = (size_t)512 << 20;
    char *a = malloc(n), *c = malloc(n);
    if (!a || !c) {
        free(a);
        free(c);
        return 0.0;
    }
    memset(a, 1, n); /* touched: no page faults in the timed copies */
    memset(c, 2, n);
    double best = 0.0;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        memcpy(c, a, n);
        double rate = 2.0 * (double)n / (now_s() - t0);
        best = rate > best ? rate : best;
        a[r] = c[n - 1 - (size_t)r]; /* the copy is used: not optimized away */
    }
    free(a);
    free(c);
    return best;
}

static double bench_one(afs_backend *b, const afs_env_params *p, int envs,
                        int episodes, int policy, int at_once)
{
    afs_env env;
    size_t agents = (size_t)envs * p->agents;
    if (afs_env_init(&env, b, p, envs, 1)) {
        fprintf(stderr, "env_bench: out of memory at E=%d\n", envs);
        exit(1);
    }
    float *obs = b->alloc(b, agents * AFS_OBS_DIM * sizeof(float));
    uint8_t *act = b->alloc(b, agents);
    double best = 0.0;
    /* Episode 0 warms caches and pages; the best of the rest is reported,
     * since on a shared machine noise only ever slows a run down. */
    for (int ep = 0; ep <= episodes; ep++) {
        double t0 = now_s();
        afs_env_begin_episode(&env, b, (uint32_t)ep);
        for (int t = 0; t < p->slots; t += at_once)
            b->env_play_slots(b, &env, policy, p->slots - t < at_once ? p->slots - t : at_once,
                              obs, act);
        double rate = (double)agents * p->slots / (now_s() - t0);
        if (ep > 0 && rate > best)
            best = rate;
    }
    b->release(b, obs);
    b->release(b, act);
    afs_env_free(&env, b);
    return best;
}

/* The CPU slot's phases timed apart, one thread: ns per agent-step. */
static void bench_phases(afs_backend *b, const afs_env_params *p, int envs, int episodes,
                         int policy)
{
    afs_env env;
    if (afs_env_init(&env, b, p, envs, 1)) {
        fprintf(stderr, "env_bench: out of memory at E=%d\n", envs);
        exit(1);
    }
    uint8_t *act = b->alloc(b, (size_t)envs * p->agents);
    double t[3] = {0.0, 0.0, 0.0};
    for (int ep = 0; ep <= episodes; ep++) { /* episode 0 warms up, untimed */
        afs_env_begin_episode(&env, b, (uint32_t)ep);
        for (int s = 0; s < p->slots; s++, env.slot++) {
            double t0 = now_s();
            for (int e = 0; e < envs; e++)
                afs_cpu_arrive_env(env, e);
            double t1 = now_s();
            for (int e = 0; e < envs; e++)
                afs_cpu_decide_env(env, e, policy, act);
            double t2 = now_s();
            for (int e = 0; e < envs; e++)
                afs_cpu_step_env(env, e, act);
            double t3 = now_s();
            if (ep > 0) {
                t[0] += t1 - t0;
                t[1] += t2 - t1;
                t[2] += t3 - t2;
            }
        }
    }
    double steps = (double)envs * p->agents * p->slots * episodes;
    printf("phases backend=cpu E=%d M=%d policy=%s threads=1 ns_per_agent_step: arrive=%.2f "
           "decide=%.2f step=%.2f total=%.2f\n",
           envs, p->agents, afs_policy_name(policy), 1e9 * t[0] / steps, 1e9 * t[1] / steps,
           1e9 * t[2] / steps, 1e9 * (t[0] + t[1] + t[2]) / steps);
    b->release(b, act);
    afs_env_free(&env, b);
}

typedef void philox_lanes_fn(uint32_t seed, uint32_t stream, uint32_t c0, uint32_t m0,
                             uint32_t c2, uint32_t c3, int n, uint32_t out[4][AFS_LANES]);

/* The plain C form as the slot compiled it before the vector forms: one
 * clone per vector width. */
AFS_CPU_CLONES static void philox_plain(uint32_t seed, uint32_t stream, uint32_t c0,
                                        uint32_t m0, uint32_t c2, uint32_t c3, int n,
                                        uint32_t out[4][AFS_LANES])
{
    afs_philox_lanes(seed, stream, c0, m0, c2, c3, n, out);
}

static void time_philox(const char *form, philox_lanes_fn *lanes, int n)
{
    uint32_t out[4][AFS_LANES], sum = 0;
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        int calls = 200000;
        double t0 = now_s();
        for (int i = 0; i < calls; i++) {
            lanes(7u, 2u, (uint32_t)i, 64u, 3u, 5u, n, out);
            sum += out[0][i % n]; /* keeps the calls */
        }
        double ns = 1e9 * (now_s() - t0) / ((double)calls * n);
        best = ns < best ? ns : best;
    }
    printf("philox form=%s batch=%d ns_per_block=%.2f (check %08x)\n", form, n, best, sum);
}

static void bench_philox(void)
{
    int batches[2] = {AFS_LANES, 22};
    for (int k = 0; k < 2; k++) {
        time_philox("plain_c", philox_plain, batches[k]);
#if AFS_PHILOX_X86
        if (__builtin_cpu_supports("avx2"))
            time_philox("avx2", afs_philox_lanes_avx2, batches[k]);
        if (__builtin_cpu_supports("avx512f"))
            time_philox("avx512", afs_philox_lanes_avx512, batches[k]);
#endif
    }
}

int main(int argc, char **argv)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    cfg.env.agents = 150;
    const char *env_list = "64,1024";
    int episodes = 3, threads = 0, policy = AFS_POLICY_RANDOM, at_once = AFS_SLOTS_AT_ONCE;
    int phases = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--envs") && v) env_list = argv[++i];
        else if (!strcmp(argv[i], "--agents") && v) cfg.env.agents = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--episodes") && v) episodes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && v) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--at-once") && v) at_once = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--phases")) phases = 1;
        else if (!strcmp(argv[i], "--philox")) {
            bench_philox();
            return 0;
        }
        else if (!strcmp(argv[i], "--policy") && v) policy = afs_policy_from_name(argv[++i]);
        else if (!strcmp(argv[i], "--backend") && v && !strcmp(argv[i + 1], "cpu")) i++;
        else {
            fprintf(stderr, "usage: env_bench [--backend cpu] [--envs E[,E...]] [--agents M] "
                            "[--episodes N] [--policy NAME] [--threads T] [--at-once K] [--phases] "
                            "[--philox]\n");
            return 2;
        }
    }
    if (policy < 0 || cfg.env.agents < 1 || episodes < 1 || at_once < 1) {
        fprintf(stderr, "env_bench: bad --policy, --agents, --episodes or --at-once\n");
        return 2;
    }
    afs_backend *b = afs_backend_cpu_create(threads);
    double bw = phases ? 0.0 : copy_bandwidth();
    /* the state is fetched once per call: per slot, over a call's mean slots */
    int calls = (cfg.env.slots + at_once - 1) / at_once;
    double bytes = afs_bench_bytes_per_agent_step(cfg.env.ap_grid * cfg.env.ap_grid) * calls /
                   cfg.env.slots;
    if (!phases)
        printf("copy bandwidth: %.1f GB/s (memcpy, read + write)\n", bw / 1e9);
    char list[256];
    snprintf(list, sizeof list, "%s", env_list);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int envs = atoi(tok);
        if (envs < 1) {
            fprintf(stderr, "env_bench: bad --envs entry '%s'\n", tok);
            return 2;
        }
        if (phases) {
            bench_phases(b, &cfg.env, envs, episodes, policy);
            continue;
        }
        double rate = bench_one(b, &cfg.env, envs, episodes, policy, at_once);
        char th[16] = "all";
        if (threads > 0)
            snprintf(th, sizeof th, "%d", threads);
        printf("afsim backend=%s E=%d M=%d policy=%s threads=%s at_once=%d agent_steps_per_s=%.4g "
               "bytes_per_agent_step=%.1f bandwidth_floor_rate=%.4g fraction_of_floor=%.2f\n",
               b->name, envs, cfg.env.agents, afs_policy_name(policy), th, at_once, rate, bytes,
               bw / bytes, bw > 0.0 ? rate / (bw / bytes) : 0.0);
        fflush(stdout);
    }
    b->destroy(b);
    return 0;
}
