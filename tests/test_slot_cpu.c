/* The CPU backend's vectorized slot (kernels/cpu/slot_cpu.c) against the
 * scalar per-agent functions of kernels/common/env_math.h, the ones a CUDA
 * thread runs: every array of the state, bit for bit, after every slot.
 *
 * The reference below plays a slot one agent at a time, as the CPU backend
 * did before its phases were vectorized: arrivals (afs_arrive_agent, its
 * second block drawn only on an arrival), the heuristic's action from the
 * stored observation (afs_observe_agent, afs_heuristic_action,
 * best_response's descent), the per-AP sums in agent order with the
 * branches (afs_br_ap_sums), then each agent's outcome, metrics and end of
 * slot in agent order. Settings are chosen to reach every branch the
 * vector code turns into a mask: full queues (drops), warm and cold
 * containers at both locations, idle periods, agents without a function,
 * several APs and one, and agent counts that leave a partial batch of the
 * batched Philox (M = 150, 37, 1). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "kernels/cpu/slot_cpu.h"
#include "kernels/cpu/slot_x86.h"

/* One slot of env, agent by agent; act is scratch [E M]. */
static void reference_slot(afs_env *env, int policy, uint8_t *act)
{
    int32_t n[2 * AFS_MAX_AP_GRID * AFS_MAX_AP_GRID];
    float interf[2 * AFS_MAX_AP_GRID * AFS_MAX_AP_GRID];
    for (int e = 0; e < env->E; e++) {
        for (int m = 0; m < env->M; m++)
            afs_arrive_agent(env, e, m);
        for (int m = 0; m < env->M; m++) {
            float o[AFS_OBS_DIM];
            afs_observe_agent(env, e, m, o);
            act[(size_t)e * env->M + m] = afs_heuristic_action(env, policy, e, m, o);
        }
        if (policy == AFS_POLICY_BEST_RESPONSE)
            afs_best_response_env(env, e, act + (size_t)e * env->M, n, interf);
        afs_br_ap_sums(env, e, act + (size_t)e * env->M, n, interf);
        for (int g = 0; g < env->G; g++) {
            env->n_ap[(size_t)e * env->G + g] = n[g];
            env->i_ap[(size_t)e * env->G + g] = interf[g];
        }
        double acc[AFS_ACC_N] = {0};
        uint32_t cloud_types = 0;
        for (int m = 0; m < env->M; m++) {
            size_t i = (size_t)e * env->M + m;
            afs_outcome_agent(env, e, i, act[i]);
            afs_accumulate(env, i, acc);
            cloud_types |= afs_cloud_type_bit(env, i);
            afs_end_slot_agent(env, e, i);
        }
        afs_mark_cloud_types(env, e, cloud_types);
        for (int a = 0; a < AFS_ACC_N; a++)
            env->acc[(size_t)e * AFS_ACC_N + a] += acc[a];
    }
    env->slot++;
}

/* Compares every array of the two states; names the first that differs. */
static void same_state(const afs_env *a, const afs_env *b, int slot)
{
    const size_t E = (size_t)a->E, A = E * a->M, G = (size_t)a->G, NT = (size_t)a->NT;
#define AFS_X(type, name, count)                                                       \
    cr_assert_eq(memcmp(a->name, b->name, sizeof(type) * (size_t)(count)), 0,          \
                 "slot %d: %s differs between the vectorized and the scalar slot", slot, \
                 #name);
    AFS_ENV_ARRAYS(AFS_X)
#undef AFS_X
    (void)A; (void)G; (void)NT;
}

/* Plays `slots` slots of policy on both and compares after each; returns
 * how many functions were dropped, ran warm and went idle, so that the
 * caller can check that the branches it meant to reach were reached. */
typedef struct reached { double dropped, warm_edge, warm_cloud, idle, none; } reached;

static reached play_both(afs_env_params p, int envs, int slots, int policy, uint32_t seed)
{
    afs_env v, r;
    afs_backend *bv, *br;
    test_env_open(&v, &bv, &p, envs, seed);
    test_env_open(&r, &br, &p, envs, seed);
    size_t agents = (size_t)envs * p.agents;
    float *obs = malloc(agents * AFS_OBS_DIM * sizeof *obs);
    uint8_t *act_v = malloc(agents), *act_r = malloc(agents);
    cr_assert(obs && act_v && act_r);
    reached seen = {0};
    for (int t = 0; t < slots; t++) {
        bv->env_play_slots(bv, &v, policy, 1, obs, act_v);
        reference_slot(&r, policy, act_r);
        cr_assert_eq(memcmp(act_v, act_r, agents), 0, "slot %d: actions differ", t);
        same_state(&v, &r, t);
        for (size_t i = 0; i < agents; i++) {
            uint32_t fl = v.flags[i];
            seen.none += !(fl & AFS_F_HAS);
            seen.dropped += (fl & AFS_F_DROPPED) != 0;
            seen.warm_edge += (fl & AFS_F_LOCAL) && (fl & AFS_F_WARM);
            seen.warm_cloud += (fl & AFS_F_HAS) && !(fl & AFS_F_LOCAL) && (fl & AFS_F_WARM);
            seen.idle += v.d_idle[i] > 0.0f;
        }
    }
    free(obs);
    free(act_v);
    free(act_r);
    test_env_close(&v, bv);
    test_env_close(&r, br);
    return seen;
}

/* Expectation: bit for bit under every heuristic at the paper's M = 150 and
 * 9 APs, with idle periods on and a queue small enough to drop. */
Test(slot_cpu, every_heuristic_matches_the_scalar_slot)
{
    afs_env_params p = test_params(150);
    p.idle_prob = 0.3f;
    p.queue_cap = 3.0f;
    for (int policy = 0; policy < AFS_POLICY_N; policy++) {
        reached s = play_both(p, 3, 12, policy, 40 + (uint32_t)policy);
        cr_assert(s.none > 0, "policy %d: every EN had a function", policy);
        if (policy != AFS_POLICY_ALL_CLOUD)
            cr_assert(s.warm_edge > 0, "policy %d: no warm edge container", policy);
        if (policy != AFS_POLICY_ALL_LOCAL) /* idle periods delay offloads only */
            cr_assert(s.warm_cloud > 0 && s.idle > 0, "policy %d: no warm cloud container "
                      "or idle period", policy);
    }
    reached s = play_both(p, 3, 12, AFS_POLICY_ALL_LOCAL, 7);
    cr_assert(s.dropped > 0, "all_local never filled a queue");
}

/* Expectation: the same with a batch left over (M = 37, M = 1), one AP,
 * sixteen (the most the per-AP sums hold in registers) and 25 (the plain
 * loop), few types (more warmth) and a short keep-alive. */
Test(slot_cpu, odd_sizes_match_the_scalar_slot)
{
    const int agents[] = {37, 1, 65, 40};
    const int grids[] = {1, 4, 2, 5};
    for (int c = 0; c < 4; c++) {
        afs_env_params p = test_params(agents[c]);
        p.ap_grid = grids[c];
        p.types = 1 + 3 * c;
        p.keep_alive = 2;
        p.idle_prob = 0.5f;
        for (int policy = 0; policy < AFS_POLICY_N; policy++)
            play_both(p, 4, 8, policy, 100 + (uint32_t)(c * AFS_POLICY_N + policy));
    }
}

/* Expectation: the state's arrays start at places spread over a 4 KiB page
 * (kernels/env.c's colours), even where every array's size is a multiple
 * of 4 KiB (E = 1024, M = 150: E M 4 bytes = 150 pages), so that element i
 * of the ~30 arrays a slot streams through does not fall into the same
 * cache sets: the 33 arrays' starts are spread as evenly as the 16
 * 256-byte places of a page allow, three at most (packed end to end, all
 * 33 shared one). Every array is 256-byte aligned,
 * inside the blob, and overlaps no other. */
Test(slot_cpu, state_arrays_spread_over_cache_sets)
{
    const int envs[] = {1024, 8192, 64, 1};
    for (int c = 0; c < 4; c++) {
        afs_env_params p = test_params(150);
        size_t bytes = afs_env_bytes(&p, envs[c]);
        afs_env env;
        memset(&env, 0, sizeof env);
        env.E = envs[c];
        env.M = 150;
        env.G = p.ap_grid * p.ap_grid;
        env.NT = p.types;
        const size_t E = (size_t)env.E, A = E * env.M, G = (size_t)env.G, NT = (size_t)env.NT;
        int at_place[4096 / 256] = {0};
        size_t start[64], end[64];
        int k = 0;
        afs_backend *b = afs_backend_cpu_create(1);
        cr_assert(afs_env_init(&env, b, &p, envs[c], 1) == 0);
        cr_assert_eq(env.blob_bytes, bytes);
#define AFS_X(type, name, count)                                                        \
        start[k] = (size_t)((char *)env.name - (char *)env.blob);                       \
        end[k] = start[k] + sizeof(type) * (size_t)(count);                             \
        cr_assert_eq(start[k] % 256, 0, #name " is not 256-byte aligned");              \
        cr_assert(end[k] <= bytes, #name " ends outside the blob");                     \
        at_place[start[k] % 4096 / 256]++;                                              \
        k++;
        AFS_ENV_ARRAYS(AFS_X)
#undef AFS_X
        (void)A; (void)G; (void)NT;
        for (int x = 0; x < k; x++)
            for (int y = x + 1; y < k; y++)
                cr_assert(end[x] <= start[y] || end[y] <= start[x], "arrays %d and %d overlap",
                          x, y);
        for (int q = 0; q < 4096 / 256; q++) /* as even as 16 places allow */
            cr_assert(at_place[q] <= (k + 15) / 16, "E = %d: %d arrays start %d bytes into a page",
                      envs[c], at_place[q], q * 256);
        afs_env_free(&env, b);
        b->destroy(b);
    }
}

/* The episode start the reference plays: afs_reset_env, then
 * afs_reset_agent for each agent, in order. */
static void reference_reset(afs_env *env, uint32_t episode)
{
    env->episode = episode;
    env->slot = 0;
    for (int e = 0; e < env->E; e++) {
        afs_reset_env(env, e);
        for (int m = 0; m < env->M; m++)
            afs_reset_agent(env, e, m);
    }
}

/* Expectation: the CPU's vectorized episode start (afs_cpu_reset_env)
 * gives the scalar per-agent reset's state bit for bit: a fresh state, and
 * one that has played slots, at M = 150 with 9 APs and at sizes that leave
 * a partial batch, one AP and 64. */
Test(slot_cpu, episode_start_matches_the_scalar_reset)
{
    const int agents[] = {150, 37, 1, 65, 20};
    const int grids[] = {3, 1, 4, 2, 8};
    for (int c = 0; c < 5; c++) {
        afs_env_params p = test_params(agents[c]);
        p.ap_grid = grids[c];
        afs_env v, r;
        afs_backend *b = afs_backend_cpu_create(1);
        cr_assert_eq(afs_env_init(&v, b, &p, 3, 11), 0);
        cr_assert_eq(afs_env_init(&r, b, &p, 3, 11), 0);
        afs_env_begin_episode(&v, b, 4);
        reference_reset(&r, 4);
        same_state(&v, &r, -1);
        size_t n = (size_t)3 * p.agents;
        float *obs = malloc(n * AFS_OBS_DIM * sizeof *obs);
        uint8_t *act = malloc(n);
        cr_assert(obs && act);
        b->env_play_slots(b, &v, AFS_POLICY_RANDOM, 3, obs, act);
        b->env_play_slots(b, &r, AFS_POLICY_RANDOM, 3, obs, act);
        afs_env_begin_episode(&v, b, 5);
        reference_reset(&r, 5);
        same_state(&v, &r, -2);
        cr_assert_neq(v.pos_x[0], 0.0f, "config %d: the layout was drawn", c);
        free(obs);
        free(act);
        afs_env_free(&v, b);
        afs_env_free(&r, b);
        b->destroy(b);
    }
}

#if AFS_SLOT_X86
/* Expectation (the definition, written out): for each offloader m of the
 * list in order, n[own] += 1 and interf[g] += rp * gain[m G + g] for
 * every g < G but own, the own AP adding +0.0f; the sums past G are not
 * touched. Gains spread over 2^-40 .. 2^0 so that the order of the
 * additions shows in the bits. */
static void check_add_offloaders(afs_add_offloaders_fn *add, const char *form)
{
    enum { M = 64 };
    float gain[M * 16];
    int32_t ap[M];
    int idx[M];
    srand(5);
    for (int G = 1; G <= AFS_SLOT_X86_MAX_TABLE; G++) {
        for (int i = 0; i < M * G; i++)
            gain[i] = ldexpf((float)rand() / (float)RAND_MAX, -(rand() % 41));
        int count = 0;
        for (int m = 0; m < M; m++) {
            ap[m] = rand() % G;
            if (rand() % 3)
                idx[count++] = m;
        }
        int32_t n_want[17] = {0}, n_got[17] = {0};
        float want[17], got[17];
        for (int g = 0; g < 17; g++)
            want[g] = got[g] = g < G ? 1e-6f * (float)g : -7.0f; /* a running total */
        float rp = 0.3f * 0.2f;
        for (int k = 0; k < count; k++) {
            int m = idx[k], own = ap[m];
            n_want[own]++;
            for (int g = 0; g < G; g++)
                want[g] += g != own ? rp * gain[m * G + g] : 0.0f;
        }
        add(gain, ap, idx, count, G, rp, n_got, got);
        cr_assert(memcmp(n_want, n_got, sizeof n_want) == 0, "%s, G = %d: counts differ", form, G);
        for (int g = 0; g < 17; g++)
            cr_assert(memcmp(&want[g], &got[g], sizeof(float)) == 0,
                      "%s, G = %d: sum %d is %a, want %a", form, G, g, got[g], want[g]);
    }
}

/* Expectation (the definition in slot_x86.h, written out): each agent's
 * AP's count and interference, and the last use of its type's container at
 * the EN when it chose the EN (its row of the EN's table, m0 + l), else in
 * the cloud; for tables of 1 .. 16 entries, runs of 1 .. 64 agents at
 * several first agents. */
Test(slot_cpu, lookup_vector_form_matches_the_definition)
{
    if (!__builtin_cpu_supports("avx512f"))
        cr_skip_test("this CPU has no AVX-512");
    enum { M = 200 };
    static int32_t last_edge[M * 16];
    int32_t n_ap[16], last_cloud[16], ap[64], type[64], local[64];
    float i_ap[16];
    srand(11);
    for (int trial = 0; trial < 400; trial++) {
        int G = 1 + trial % 16, NT = 1 + (trial / 16) % 16, n = 1 + rand() % 64;
        int m0 = rand() % (M - 64);
        for (int i = 0; i < M * NT; i++)
            last_edge[i] = rand() % 50 - 1;
        for (int g = 0; g < 16; g++) {
            n_ap[g] = rand() % 150;
            i_ap[g] = ldexpf((float)rand() / (float)RAND_MAX, -(rand() % 41));
            last_cloud[g] = rand() % 50 - 1;
        }
        for (int l = 0; l < 64; l++) {
            ap[l] = rand() % G;
            type[l] = rand() % NT;
            local[l] = rand() % 2;
        }
        int32_t n_of[64], last_use[64];
        float i_of[64];
        afs_lookup_in in = {n_ap, last_cloud, last_edge, i_ap, G, NT, m0, n, ap, type, local};
        afs_look_up_avx512(in, n_of, i_of, last_use);
        for (int l = 0; l < n; l++) {
            int32_t want = local[l] ? last_edge[(m0 + l) * NT + type[l]] : last_cloud[type[l]];
            cr_assert_eq(n_of[l], n_ap[ap[l]], "trial %d agent %d: count", trial, l);
            cr_assert(memcmp(&i_of[l], &i_ap[ap[l]], sizeof(float)) == 0,
                      "trial %d agent %d: interference", trial, l);
            cr_assert_eq(last_use[l], want, "trial %d agent %d (G %d, NT %d, local %d)", trial,
                         l, G, NT, local[l]);
        }
    }
}

/* Expectation (the definition): the row of every agent whose function was
 * admitted at its EN (local, not dropped) gets the slot at its type; no
 * other entry changes. Flags take every combination of the bits. */
Test(slot_cpu, edge_marks_vector_form_match_the_definition)
{
    if (!__builtin_cpu_supports("avx512f"))
        cr_skip_test("this CPU has no AVX-512");
    enum { M = 150 };
    static int32_t got[M * 16], want[M * 16];
    uint32_t flags[M];
    int32_t type[M];
    srand(13);
    for (int trial = 0; trial < 64; trial++) {
        int NT = 1 + trial % 16, m_count = 1 + rand() % M, slot = 7 + trial;
        for (int i = 0; i < M * NT; i++)
            got[i] = want[i] = rand() % 50 - 1;
        for (int m = 0; m < m_count; m++) {
            flags[m] = (uint32_t)rand() & 0x3fu;
            type[m] = rand() % NT;
            if ((flags[m] & AFS_F_LOCAL) && !(flags[m] & AFS_F_DROPPED))
                want[m * NT + type[m]] = slot;
        }
        afs_mark_edge_avx512(flags, type, m_count, NT, slot, got);
        cr_assert(memcmp(got, want, sizeof(int32_t) * (size_t)(M * NT)) == 0,
                  "trial %d (M %d, NT %d): the marks differ", trial, m_count, NT);
    }
}

Test(slot_cpu, ap_sums_vector_forms_match_the_definition)
{
    int ran = 0;
    if (__builtin_cpu_supports("avx512f")) {
        check_add_offloaders(afs_add_offloaders_avx512, "AVX-512");
        ran++;
    }
    if (__builtin_cpu_supports("avx2")) {
        check_add_offloaders(afs_add_offloaders_avx2, "AVX2");
        ran++;
    }
    if (ran == 0)
        cr_skip_test("this CPU has neither AVX2 nor AVX-512");
}
#endif

/* ---- The metric sums (afs_cpu_float_sums) ---- */

/* A float with exponent field `field` (1 .. 254) and the 23 stored bits
 * `low`. */
static float float_of(uint32_t field, uint32_t low)
{
    uint32_t u = field << 23 | low;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Whether adding x[0 .. n-1] in double from 0.0, in that order, rounds:
 * each partial sum against the same sum in long double, whose 64-bit
 * significand holds these exactly (x86's 80-bit format). */
static int adding_rounds(const float *x, int n)
{
    double s = 0.0;
    long double exact = 0.0L;
    for (int i = 0; i < n; i++) {
        s += (double)x[i];
        exact += (long double)x[i];
        if ((long double)s != exact)
            return 1;
    }
    return 0;
}

/* Expectation (from the 53-bit significand, not from the code): the
 * hardest terms afs_sums_are_exact lets through add up without a rounding;
 * one binade more, they round (for these n, where n - 1 is more than half
 * the next power of two). The hardest: n - 1 copies of the largest float
 * of field hi, then the smallest of field lo with its last bit set, whose
 * unit in the last place the sum must keep. */
Test(slot_cpu, sums_exact_test_is_exact_at_its_bound)
{
    _Static_assert(sizeof(long double) > sizeof(double), "needs x86's 80-bit long double");
    static float x[1024];
    const int sizes[] = {16, 150, 256, 1024};
    for (int c = 0; c < 4; c++) {
        int n = sizes[c];
        uint32_t lo = 60, hi = lo;
        while (hi < 254 && afs_sums_are_exact(lo, hi + 1, n))
            hi++;
        cr_assert(hi > lo + 15, "n = %d: a bound of %u binades", n, hi - lo);
        for (uint32_t top = hi; top <= hi + 1; top++) {
            for (int i = 0; i < n - 1; i++)
                x[i] = float_of(top, 0x7fffffu);
            x[n - 1] = float_of(lo, 1u);
            cr_assert_eq(adding_rounds(x, n), top > hi, "n = %d, fields %u .. %u", n, lo, top);
        }
        cr_assert(!afs_sums_are_exact(1, 255, n) && !afs_sums_are_exact(255, 255, n),
                  "n = %d: infinities and NaNs pass", n);
    }
}

/* M agents' metric terms: flags with every combination of the bits, and
 * floats of random sign over `binades` binades from 2^-10. */
typedef struct metric_terms {
    uint32_t flags[1000];
    float latency[1000], cost[1000], reward[1000];
} metric_terms;

static void random_terms(metric_terms *t, int M, int binades, unsigned seed)
{
    srand(seed);
    float *columns[3] = {t->latency, t->cost, t->reward};
    for (int m = 0; m < M; m++) {
        t->flags[m] = (uint32_t)rand() & 0x3fu;
        for (int q = 0; q < 3; q++) {
            float x = ldexpf(1.0f + (float)rand() / (float)RAND_MAX, -10 + rand() % binades);
            columns[q][m] = rand() % 5 == 0 ? 0.0f : rand() % 2 ? x : -x;
        }
    }
}

/* The definition: afs_accumulate_floats agent by agent from zeros. */
static void sums_in_agent_order(const metric_terms *t, int M, double *acc)
{
    for (int a = 0; a < AFS_ACC_N; a++)
        acc[a] = 0.0;
    for (int m = 0; m < M; m++)
        afs_accumulate_floats(acc, t->flags[m], t->latency[m], t->cost[m], t->reward[m]);
}

static void check_float_sums(const metric_terms *t, int M, const char *what)
{
    double want[AFS_ACC_N], got[AFS_ACC_N] = {0};
    sums_in_agent_order(t, M, want);
    afs_cpu_float_sums(t->flags, t->latency, t->cost, t->reward, M, got);
    for (int a = AFS_ACC_LATENCY; a <= AFS_ACC_REWARD; a++) {
        int same = memcmp(&want[a], &got[a], sizeof(double)) == 0;
        cr_assert(same || (isnan(want[a]) && isnan(got[a])),
                  "%s, M = %d: sum %d is %a, in agent order %a", what, M, a, got[a], want[a]);
    }
}

/* Expectation (the definition): the sums in agent order, bit for bit,
 * whether the terms allow any order (the model's: a few binades) or not
 * (2^53 and then ones, each of which that order rounds away; an infinity;
 * a NaN). */
Test(slot_cpu, float_sums_are_the_agent_orders)
{
    static metric_terms t;
    const int sizes[] = {1, 7, 150, 1000};
    for (int c = 0; c < 4; c++) {
        int M = sizes[c];
        for (int binades = 1; binades <= 12; binades++) {
            random_terms(&t, M, binades, (unsigned)(c * 100 + binades));
            check_float_sums(&t, M, "a few binades");
        }
        random_terms(&t, M, 4, 99u);
        for (int m = 0; m < M; m++) {
            t.flags[m] = AFS_F_HAS;
            t.latency[m] = t.cost[m] = m == 0 ? 0x1p53f : 1.0f;
        }
        if (M > 1) { /* the precondition: here the order shows */
            double backwards = 0.0, want[AFS_ACC_N];
            for (int m = M - 1; m >= 0; m--)
                backwards += (double)t.cost[m];
            sums_in_agent_order(&t, M, want);
            cr_assert(backwards != want[AFS_ACC_COST], "M = %d: no order shows", M);
        }
        check_float_sums(&t, M, "2^53, then ones");
        t.reward[M / 2] = INFINITY;
        t.cost[M - 1] = NAN;
        check_float_sums(&t, M, "an infinity and a NaN");
    }
}

/* Expectation (the definition in slot_x86.h, by other means: fabsf, float
 * comparisons, long double): the largest magnitude's bits shifted up by
 * one; the smallest nonzero one's, less 1, or UINT32_MAX when all are
 * zero; and, for terms whose sums are exact, the exact sums. */
static void check_unordered(afs_unordered_sums (*sum)(const uint32_t *, const float *,
                                                      const float *, const float *, int),
                            const char *form)
{
    static metric_terms t;
    for (int M = 1; M <= 200; M += 13) {
        random_terms(&t, M, 6, (unsigned)M);
        if (M == 14) /* all zero */
            for (int m = 0; m < M; m++)
                t.latency[m] = t.cost[m] = t.reward[m] = -0.0f;
        if (M == 27)
            t.cost[3] = ldexpf(1.0f, -140); /* a subnormal */
        float largest = 0.0f, smallest = INFINITY;
        long double exact[3] = {0.0L, 0.0L, 0.0L};
        for (int m = 0; m < M; m++) {
            float terms[3] = {afs_counted_latency(t.flags[m], t.latency[m]), t.cost[m],
                              t.reward[m]};
            for (int q = 0; q < 3; q++) {
                float a = fabsf(terms[q]);
                largest = a > largest ? a : largest;
                smallest = a > 0.0f && a < smallest ? a : smallest;
                exact[q] += (long double)terms[q];
            }
        }
        uint32_t most, least;
        memcpy(&most, &largest, sizeof most);
        memcpy(&least, &smallest, sizeof least);
        most <<= 1;
        least = isinf(smallest) ? UINT32_MAX : (least << 1) - 1u;
        afs_unordered_sums got = sum(t.flags, t.latency, t.cost, t.reward, M);
        cr_assert_eq(got.most, most, "%s, M = %d: the largest magnitude", form, M);
        cr_assert_eq(got.least, least, "%s, M = %d: the smallest magnitude", form, M);
        if (M != 27) { /* the subnormal makes them inexact */
            cr_assert(got.latency == (double)exact[0] && got.cost == (double)exact[1] &&
                      got.reward == (double)exact[2], "%s, M = %d: the sums", form, M);
        }
    }
}

Test(slot_cpu, unordered_sums_match_the_definition)
{
    check_unordered(afs_cpu_sum_unordered, "plain C");
#if AFS_SLOT_X86
    if (__builtin_cpu_supports("avx512f"))
        check_unordered(afs_sum_unordered_avx512, "AVX-512");
#endif
}

#if AFS_SLOT_X86
/* Expectation (the definition, written out): first + l for every l < n
 * whose flag is not 0, in order, and how many; flags of any value, runs of
 * 1 .. 64, sparse and dense. */
Test(slot_cpu, set_list_vector_form_matches_the_definition)
{
    if (!__builtin_cpu_supports("avx512f"))
        cr_skip_test("this CPU has no AVX-512");
    int32_t flag[64];
    int got[64 + 16], want[64];
    srand(17);
    for (int trial = 0; trial < 300; trial++) {
        int n = 1 + trial % 64, first = rand() % 1000, dense = 1 + trial % 4, count = 0;
        for (int l = 0; l < n; l++) {
            flag[l] = rand() % 4 < dense ? rand() - RAND_MAX / 2 : 0;
            if (flag[l] != 0)
                want[count++] = first + l;
        }
        int k = afs_list_set_avx512(flag, n, first, got);
        cr_assert_eq(k, count, "trial %d (n %d): %d listed, want %d", trial, n, k, count);
        cr_assert(memcmp(got, want, sizeof(int) * (size_t)count) == 0, "trial %d (n %d): the "
                  "list differs", trial, n);
    }
}
#endif
