/* Determinism (design section 8): the same seed gives the same state bit for
 * bit; an environment's trajectory depends only on its own index, not on how
 * many environments run beside it or on how many threads step them. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"

#define SLOTS 25

/* Plays SLOTS slots of `policy` on `envs` environments: fused, `fused`
 * slots a call (the last call plays what is left), or phase by phase
 * (fused = 0). */
static void play(afs_env *env, afs_backend *b, int policy, int fused)
{
    size_t agents = (size_t)env->E * env->M;
    float *obs = b->alloc(b, agents * AFS_OBS_DIM * sizeof(float));
    uint8_t *act = b->alloc(b, agents);
    for (int t = 0; t < SLOTS; t += fused ? fused : 1) {
        if (fused) {
            b->env_play_slots(b, env, policy, SLOTS - t < fused ? SLOTS - t : fused, obs, act);
        } else {
            b->env_arrive(b, env);
            b->env_observe(b, env, obs);
            b->env_act(b, env, policy, obs, act);
            b->env_step(b, env, act);
        }
    }
    b->release(b, obs);
    b->release(b, act);
}

static uint64_t run_hash(int envs, uint32_t seed, int threads, int policy, int fused)
{
    afs_env_params p = test_params(30);
    p.idle_prob = 0.1f; /* exercise every draw */
    afs_backend *b = afs_backend_cpu_create(threads);
    afs_env env;
    cr_assert_eq(afs_env_init(&env, b, &p, envs, seed), 0);
    afs_env_begin_episode(&env, b, 3);
    play(&env, b, policy, fused);
    uint64_t h = test_state_hash(&env) * 31u + (uint64_t)env.slot; /* the counter too */
    afs_env_free(&env, b);
    b->destroy(b);
    return h;
}

Test(determinism, same_seed_same_state)
{
    for (int policy = 0; policy < AFS_POLICY_N; policy++)
        cr_assert_eq(run_hash(8, 42, 1, policy, 1), run_hash(8, 42, 1, policy, 1));
}

Test(determinism, another_seed_another_state)
{
    cr_assert_neq(run_hash(8, 42, 1, AFS_POLICY_RANDOM, 1),
                  run_hash(8, 43, 1, AFS_POLICY_RANDOM, 1));
}

/* E = 400 of M = 30: 12,000 agents, enough for the backend to use up to
 * five threads (one per 2048 agents), so that 2 and 5 threads really run
 * in parallel, and 5 on this machine's fewer cores, where threads steal
 * environments from each other's runs (kernels/cpu/backend_cpu.c) and who
 * plays which environment changes from run to run. */
Test(determinism, thread_count_does_not_change_results)
{
    const int policies[] = {AFS_POLICY_GREEDY, AFS_POLICY_RANDOM};
    for (int k = 0; k < 2; k++) {
        for (int fused = 0; fused <= 1; fused++) {
            uint64_t one = run_hash(400, 5, 1, policies[k], fused);
            for (int threads = 2; threads <= 5; threads += 3)
                cr_assert_eq(one, run_hash(400, 5, threads, policies[k], fused),
                             "policy %d, fused %d: %d threads differ from one", policies[k],
                             fused, threads);
        }
        cr_assert_eq(run_hash(16, 5, 1, policies[k], 1), run_hash(16, 5, 2, policies[k], 1));
    }
}

Test(determinism, fused_slot_equals_the_four_phases)
{
    for (int policy = 0; policy < AFS_POLICY_N; policy++)
        cr_assert_eq(run_hash(4, 9, 1, policy, 1), run_hash(4, 9, 1, policy, 0),
                     "policy %d", policy);
}

/* Several slots a call play each environment's slots back to back
 * (kernels/cpu/backend_cpu.c): the state, slot counter included, is the
 * one slot a call gives, for every policy, and with threads. */
Test(determinism, slots_at_once_equal_one_at_a_time)
{
    for (int policy = 0; policy < AFS_POLICY_N; policy++)
        for (int at_once = 2; at_once <= SLOTS; at_once += 8)
            cr_assert_eq(run_hash(4, 9, 1, policy, 1), run_hash(4, 9, 1, policy, at_once),
                         "policy %d, %d slots a call", policy, at_once);
    cr_assert_eq(run_hash(400, 5, 1, AFS_POLICY_GREEDY, 1),
                 run_hash(400, 5, 2, AFS_POLICY_GREEDY, 10), "10 slots a call on 2 threads");
}

/* Env `e` of a batch of `envs` after SLOTS slots, copied out per array. */
typedef struct env_slice {
    float w[30], latency[30], reward[30], z[30], pos_x[30], r_obs[30];
    uint32_t flags[30];
    int32_t last_edge[30 * 8], last_cloud[8];
    double acc[AFS_ACC_N];
    float f_c;
} env_slice;

static void slice_of(int envs, int e, env_slice *s)
{
    afs_env_params p = test_params(30);
    p.idle_prob = 0.1f;
    afs_backend *b = afs_backend_cpu_create(2);
    afs_env env;
    cr_assert_eq(afs_env_init(&env, b, &p, envs, 77), 0);
    afs_env_begin_episode(&env, b, 1);
    play(&env, b, AFS_POLICY_RANDOM, 1);
    size_t a = (size_t)e * 30, bytes = 30 * sizeof(float);
    memset(s, 0, sizeof *s);
    memcpy(s->w, env.w + a, bytes);
    memcpy(s->latency, env.latency + a, bytes);
    memcpy(s->reward, env.reward + a, bytes);
    memcpy(s->z, env.z + a, bytes);
    memcpy(s->pos_x, env.pos_x + a, bytes);
    memcpy(s->r_obs, env.r_obs + a, bytes);
    memcpy(s->flags, env.flags + a, sizeof s->flags);
    memcpy(s->last_edge, env.last_edge + a * 8, sizeof s->last_edge);
    memcpy(s->last_cloud, env.last_cloud + (size_t)e * 8, sizeof s->last_cloud);
    memcpy(s->acc, env.acc + (size_t)e * AFS_ACC_N, sizeof s->acc);
    s->f_c = env.f_c[e];
    afs_env_free(&env, b);
    b->destroy(b);
}

Test(determinism, an_env_is_the_same_alone_or_among_64)
{
    env_slice alone, among;
    slice_of(1, 0, &alone);
    slice_of(64, 0, &among);
    cr_assert(alone.acc[AFS_ACC_GENERATED] > 0, "the slice saw functions");
    cr_assert_eq(memcmp(&alone, &among, sizeof alone), 0, "env 0: E=1 vs E=64");
    slice_of(6, 5, &alone);
    slice_of(64, 5, &among);
    cr_assert_eq(memcmp(&alone, &among, sizeof alone), 0, "env 5: E=6 vs E=64");
    env_slice other;
    slice_of(64, 6, &other);
    cr_assert_neq(memcmp(&among, &other, sizeof among), 0, "envs 5 and 6 differ");
}
