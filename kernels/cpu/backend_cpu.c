/* CPU backend: the reference implementation. Loops over the shared
 * per-element math of kernels/common; environments are independent, so they
 * are spread over threads with OpenMP, and every sum over agents runs in agent
 * order inside one thread: results do not depend on the thread count. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../backend.h"
#include "../common/env_math.h"
#include "cpu_impl.h"
#include "gemm_cpu.h"
#include "groups_cpu.h"
#include "learn_cpu.h"
#include "lstm_cpu.h"
#include "nn_cpu.h"
#include "slot_cpu.h"


/* Threads for `work` units of an operation over E environments: one per
 * per_thread units, at most one per environment, up to the backend's.
 * Small operations run on the calling thread alone: a parallel region
 * costs its fork and barrier, and on a busy machine the barrier waits for
 * a thread that is not scheduled. */
static int threads_for(afs_backend *b, double work, double per_thread, int E)
{
    double want = work / per_thread;
    int have = ((cpu_impl *)b->impl)->threads;
    have = have < E ? have : E;
    return want < 1.0 ? 1 : want < have ? (int)want : have;
}

/* One thread per AGENTS_PER_THREAD agent-slots of a call. */
#define AGENTS_PER_THREAD 2048
static int nthreads(afs_backend *b, const afs_env *env)
{
    return threads_for(b, (double)env->E * env->M, AGENTS_PER_THREAD, env->E);
}

/* Threads for `count` slots of a heuristic policy. best_response's descent
 * costs about M^2 reward evaluations a round per environment (the step:
 * M): one thread per AGENT_PAIRS_PER_THREAD pairs of agents over the
 * call's slots. On a quiet 2-core machine a second thread paid from about
 * 2,000 pairs a call (M = 30, E = 2: +59%) and did not below 500 (M = 10,
 * E = 4); docs/performance.md. */
#define AGENT_PAIRS_PER_THREAD 4096
static int policy_threads(afs_backend *b, const afs_env *env, int policy, int count)
{
    double agent_slots = (double)env->E * env->M * count;
    if (afs_policy_rule_of(policy).descent)
        return threads_for(b, agent_slots * env->M, AGENT_PAIRS_PER_THREAD, env->E);
    return threads_for(b, agent_slots, AGENTS_PER_THREAD, env->E);
}

static void *cpu_alloc(afs_backend *b, size_t bytes)
{
    (void)b;
    return calloc(1, bytes ? bytes : 1);
}

static void cpu_release(afs_backend *b, void *ptr) { (void)b; free(ptr); }

static void cpu_copy(afs_backend *b, void *dst, const void *src, size_t n)
{
    (void)b;
    memcpy(dst, src, n);
}

static void cpu_zero(afs_backend *b, void *dst, size_t n)
{
    (void)b;
    memset(dst, 0, n);
}

/* Every CPU operation has finished when it returns. */
static void cpu_synchronize(afs_backend *b) { (void)b; }

static double cpu_memory_budget(afs_backend *b)
{
    (void)b;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 1e300;
}

/* Per-environment pieces of each operation (the slot's phases are in
 * slot_cpu.c). Each works on a local copy of the env descriptor: the
 * compiler then knows that stores into the arrays cannot change the
 * dimensions or pointers, and keeps them in registers. */

static void observe_env(afs_env env, int e, float *obs)
{
    for (int m = 0; m < env.M; m++)
        afs_observe_agent(&env, e, m, obs + ((size_t)e * env.M + m) * AFS_OBS_DIM);
}

static void act_env(afs_env env, int e, int policy, const float *obs, uint8_t *action)
{
    for (int m = 0; m < env.M; m++) {
        size_t i = (size_t)e * env.M + m;
        action[i] = afs_heuristic_action(&env, policy, e, m, obs + i * AFS_OBS_DIM);
    }
}

/* best_response: greedy's actions of environment e (already in action)
 * improved by the shared descent; its scratch lives on this stack, G being
 * at most AFS_MAX_AP_GRID^2. */
static void best_response_env(afs_env env, int e, uint8_t *action)
{
    int32_t n[2 * AFS_MAX_AP_GRID * AFS_MAX_AP_GRID];
    float interf[2 * AFS_MAX_AP_GRID * AFS_MAX_AP_GRID];
    afs_best_response_env(&env, e, action + (size_t)e * env.M, n, interf);
}

/* ---- Environments over threads ----
 *
 * A static split with stealing: thread t owns the run of environments
 * E t / T .. E (t+1) / T - 1 and plays it from the front, so on a quiet
 * machine each environment stays with the thread whose caches hold it,
 * slot after slot; a thread that has finished its run takes environments
 * from the back of the others' runs. When another process holds a core,
 * the thread it preempts no longer makes every other thread wait at the
 * barrier with its whole share undone. Results do not depend on who plays
 * an environment: environments are independent and each one's sums run in
 * one thread. (A dynamic schedule balances too, but moves environments
 * between threads every slot: docs/performance.md.)
 *
 * Each run's remaining range [next, end) is one 64-bit word, next in the
 * low half, changed by compare-and-swap: the owner takes next, thieves
 * take end - 1, and an environment is taken exactly once. */

typedef void (*env_fn)(void *ctx, int e);

static uint64_t range_word(uint32_t next, uint32_t end) { return (uint64_t)end << 32 | next; }

/* Takes an environment from *run, from the front or the back; -1 when
 * the run is empty. */
static int take_env(_Atomic uint64_t *run, int from_back)
{
    uint64_t w = atomic_load(run);
    for (;;) {
        uint32_t next = (uint32_t)w, end = (uint32_t)(w >> 32);
        if (next >= end)
            return -1;
        uint64_t to = from_back ? range_word(next, end - 1) : range_word(next + 1, end);
        if (atomic_compare_exchange_weak(run, &w, to))
            return (int)(from_back ? end - 1 : next);
    }
}

/* Runs (and so threads) of one loop at most: the runs live on the
 * caller's stack, so that the loop keeps no state between calls and two
 * loops may run at once. More cores than this leave some idle. */
#define AFS_MAX_RUNS 256

static void balanced_envs(int E, int T, env_fn fn, void *ctx)
{
#ifdef _OPENMP
    if (T > AFS_MAX_RUNS)
        T = AFS_MAX_RUNS;
    if (T > 1 && E > 1) {
        _Atomic uint64_t runs[AFS_MAX_RUNS];
        for (int t = 0; t < T; t++)
            atomic_store(&runs[t], range_word((uint32_t)((long)E * t / T),
                                              (uint32_t)((long)E * (t + 1) / T)));
        #pragma omp parallel num_threads(T)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            /* with fewer threads than asked, thread t also owns runs t + nt, ... */
            for (int r = t; r < T; r += nt)
                for (int e; (e = take_env(&runs[r], 0)) >= 0;)
                    fn(ctx, e);
            for (int k = 1; k < T; k++) /* then the others', from the back */
                for (int e; (e = take_env(&runs[(t + k) % T], 1)) >= 0;)
                    fn(ctx, e);
        }
        return;
    }
#endif
    for (int e = 0; e < E; e++)
        fn(ctx, e);
}

/* ---- Operations: each spreads its per-environment piece over threads. ---- */

static void cpu_env_reset(afs_backend *b, afs_env *env)
{
    #pragma omp parallel for schedule(static) num_threads(nthreads(b, env))
    for (int e = 0; e < env->E; e++)
        afs_cpu_reset_env(*env, e);
}

/* The per-slot operations share the balanced split; ctx is the slot's. */
typedef struct slot_ctx {
    afs_env env;
    int policy, count;
    uint8_t *action;
    float *obs;
} slot_ctx;

static void arrive_one(void *ctx, int e) { afs_cpu_arrive_env(((slot_ctx *)ctx)->env, e); }

static void cpu_env_arrive(afs_backend *b, afs_env *env)
{
    slot_ctx c = {*env, 0, 1, NULL, NULL};
    balanced_envs(env->E, nthreads(b, env), arrive_one, &c);
}

static void observe_one(void *ctx, int e)
{
    slot_ctx *c = ctx;
    observe_env(c->env, e, c->obs);
}

static void cpu_env_observe(afs_backend *b, const afs_env *env, float *obs)
{
    slot_ctx c = {*env, 0, 1, NULL, obs};
    balanced_envs(env->E, nthreads(b, env), observe_one, &c);
}

static void cpu_env_act(afs_backend *b, const afs_env *env, int policy,
                        const float *obs, uint8_t *action)
{
    #pragma omp parallel for schedule(static) num_threads(policy_threads(b, env, policy, 1))
    for (int e = 0; e < env->E; e++) {
        act_env(*env, e, policy, obs, action);
        if (afs_policy_rule_of(policy).descent)
            best_response_env(*env, e, action);
    }
}

static void step_one(void *ctx, int e)
{
    slot_ctx *c = ctx;
    afs_cpu_step_env(c->env, e, c->action);
}

static void cpu_env_step(afs_backend *b, afs_env *env, const uint8_t *action)
{
    slot_ctx c = {*env, 0, 1, (uint8_t *)action, NULL}; /* step_one only reads it */
    balanced_envs(env->E, nthreads(b, env), step_one, &c);
    env->slot++;
}

/* The slot env.slot stepped, then the next one's arrivals and
 * observation, while the environment's state is in the caches. */
static void step_next_one(void *ctx, int e)
{
    slot_ctx *c = ctx;
    afs_env env = c->env;
    if (e + 1 < env.E)
        afs_cpu_prefetch_env(&env, e + 1);
    afs_cpu_step_env(env, e, c->action);
    env.slot++;
    afs_cpu_arrive_env(env, e);
    observe_env(env, e, c->obs);
}

static void cpu_env_step_next(afs_backend *b, afs_env *env, const uint8_t *action, float *obs)
{
    slot_ctx c = {*env, 0, 1, (uint8_t *)action, obs}; /* step_next_one only reads action */
    balanced_envs(env->E, nthreads(b, env), step_next_one, &c);
    env->slot++;
}

/* `count` whole slots of a heuristic policy, one environment at a time:
 * its state (some 22 KB at M = 150) stays in the core's caches through the
 * four phases of every slot, and is fetched from memory once for all
 * count slots, not once per slot (docs/performance.md). */
static void play_env(void *ctx, int e)
{
    slot_ctx *c = ctx;
    afs_env env = c->env;
    int descent = afs_policy_rule_of(c->policy).descent;
    if (e + 1 < env.E)
        afs_cpu_prefetch_env(&env, e + 1);
    for (int s = 0; s < c->count; s++, env.slot++) {
        afs_cpu_arrive_env(env, e);
        afs_cpu_decide_env(env, e, c->policy, c->action);
        if (descent)
            best_response_env(env, e, c->action);
        afs_cpu_step_env(env, e, c->action);
    }
}

static void cpu_env_play_slots(afs_backend *b, afs_env *env, int policy, int count,
                               float *obs, uint8_t *action)
{
    (void)obs;
    slot_ctx c = {*env, policy, count, action, NULL};
    balanced_envs(env->E, policy_threads(b, env, policy, count), play_env, &c);
    env->slot += count;
}

static void cpu_env_metrics(afs_backend *b, const afs_env *env,
                            afs_episode_sums *out)
{
    (void)b;
    for (int a = 0; a < AFS_ACC_N; a++)
        out->v[a] = afs_sum_over_envs(env, a);
}

static void cpu_destroy(afs_backend *b)
{
    if (!b)
        return;
    afs_cpu_scratch_free(b);
    free(b->impl);
    free(b);
}

afs_backend *afs_backend_cpu_create(int threads)
{
    afs_backend *b = calloc(1, sizeof *b);
    cpu_impl *impl = calloc(1, sizeof *impl);
    if (!b || !impl) {
        free(b);
        free(impl);
        return NULL;
    }
#ifdef _OPENMP
    impl->threads = threads > 0 ? threads : omp_get_num_procs();
#else
    impl->threads = 1;
    (void)threads;
#endif
    afs_gemm_single_threaded(); /* OpenMP owns the cores: gemm_cpu.h */
    b->impl = impl;
    b->name = "cpu";
    b->alloc = cpu_alloc;
    b->release = cpu_release;
    b->to_host = cpu_copy;
    b->to_backend = cpu_copy;
    b->zero = cpu_zero;
    b->synchronize = cpu_synchronize;
    b->memory_budget = cpu_memory_budget;
    b->host_memory = 1;
    b->env_reset = cpu_env_reset;
    b->env_arrive = cpu_env_arrive;
    b->env_observe = cpu_env_observe;
    b->env_act = cpu_env_act;
    b->env_step = cpu_env_step;
    b->env_step_next = cpu_env_step_next;
    b->env_play_slots = cpu_env_play_slots;
    b->env_metrics = cpu_env_metrics;
    b->destroy = cpu_destroy;
    afs_nn_cpu_install(b);
    afs_lstm_cpu_install(b);
    afs_learn_cpu_install(b);
    afs_groups_cpu_install(b);
    return b;
}
