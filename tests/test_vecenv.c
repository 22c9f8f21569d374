/* The environment as a library (host/vecenv.h) against what afsim already
 * plays: slot by slot against the fused heuristic slot (env_play_slots, one
 * slot a call) on an environment of its own, and episode by episode against
 * afs_episode_play's metrics row (what afsim run writes); then the step's
 * bookkeeping (done, the episode counter, episode_acc), the refusals, and
 * the buffers' lifetime, counted on a backend whose alloc and release are
 * wrapped. Tiny settings: every test ends in well under a second. */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy_names.h"
#include "helpers.h"
#include "host/episode.h"
#include "host/metrics.h"
#include "host/vecenv.h"
#include "models/algos/agents.h"

/* E = 3 environments of M = 13 ENs (odd: the CPU's vector remainder runs),
 * 2 x 2 APs, 6 slots an episode; the defaults otherwise, network idle
 * periods included (every draw made). */
#define E_T 3
#define M_T 13
#define L_T 6

static void small_config(afs_config *cfg)
{
    afs_config_defaults(cfg);
    cfg->env.agents = M_T;
    cfg->env.slots = L_T;
    cfg->env.ap_grid = 2;
    cfg->env.idle_prob = 0.2f;
    cfg->run.seed = 77;
}

static afs_vecenv *open_vecenv(const afs_config *cfg, afs_backend *b, int envs)
{
    char err[512] = "";
    afs_vecenv *v = afs_vecenv_create(cfg, b, envs, cfg->run.seed, err, sizeof err);
    cr_assert_not_null(v, "afs_vecenv_create: %s", err);
    return v;
}

/* The first array of the state (AFS_ENV_ARRAYS order) whose bytes differ
 * between two environments of the same layout, or NULL. */
static const char *first_difference(const afs_env *a, const afs_env *b)
{
    size_t E = (size_t)a->E, A = E * (size_t)a->M, G = (size_t)a->G, NT = (size_t)a->NT;
    (void)A; (void)G; (void)NT;
#define AFS_X(type, name, count)                                                    \
    if (memcmp(a->name, b->name, sizeof(type) * (size_t)(count)))                    \
        return #name;
    AFS_ENV_ARRAYS(AFS_X)
#undef AFS_X
    return memcmp(a->blob, b->blob, a->blob_bytes) ? "(padding)" : NULL;
}

/* What the vectorized environment's state must be after the slots the
 * reference r has played: r's state, then (at the end of an episode) the
 * next episode begun, then the next slot's arrivals drawn. Built in the
 * scratch environment s (same layout), whose observation goes to obs. */
static void expected_state(afs_backend *b, const afs_env *r, afs_env *s, float *obs)
{
    b->copy(b, s->blob, r->blob, r->blob_bytes);
    s->episode = r->episode;
    s->slot = r->slot;
    if (s->slot == s->p.slots)
        afs_env_begin_episode(s, b, r->episode + 1);
    b->env_arrive(b, s);
    b->env_observe(b, s, obs);
}

static void same_state(const afs_vecenv *v, const afs_env *s, const float *obs, int policy,
                       int t)
{
    const char *name = afs_policy_name(policy);
    const char *diff = first_difference(&v->env, s);
    cr_assert_null(diff, "%s, after %d steps: env.%s differs from the fused slot's", name, t,
                   diff);
    cr_assert_eq(v->env.slot, s->slot, "%s, after %d steps: slot %d, want %d", name, t,
                 v->env.slot, s->slot);
    cr_assert_eq(v->slot, s->slot, "%s, after %d steps: v->slot %d, want %d", name, t, v->slot,
                 s->slot);
    cr_assert_eq(v->env.episode, s->episode, "%s, after %d steps: episode %u, want %u", name, t,
                 v->env.episode, s->episode);
    cr_assert_eq(v->episode, s->episode, "%s, after %d steps: v->episode %u, want %u", name, t,
                 v->episode, s->episode);
    cr_assert_eq(memcmp(v->obs, obs, (size_t)v->E * v->M * AFS_OBS_DIM * sizeof(float)), 0,
                 "%s, after %d steps: obs is not the next slot's observation", name, t);
}

/* Every heuristic, stepped by vecenv with its actions, against the same
 * policy's fused slot one slot a call (afs_episode_play's slot for an
 * agent with a trace), from the same seed: the whole state bit for bit
 * after every step, through two episode boundaries (the step's auto-reset),
 * and the actions the fused slot took. */
Test(vecenv, slot_by_slot_equals_the_fused_heuristic_slot)
{
    const int policies[] = {AFS_POLICY_GREEDY, AFS_POLICY_DEADLINE, AFS_POLICY_RANDOM,
                            AFS_POLICY_ALL_LOCAL, AFS_POLICY_ALL_CLOUD, AFS_POLICY_BEST_RESPONSE};
    afs_config cfg;
    small_config(&cfg);
    afs_backend *b = afs_backend_cpu_create(2);
    size_t A = (size_t)E_T * M_T;
    float *obs_r = b->alloc(b, A * AFS_OBS_DIM * sizeof(float));
    float *obs_s = b->alloc(b, A * AFS_OBS_DIM * sizeof(float));
    uint8_t *act_r = b->alloc(b, A);
    for (size_t k = 0; k < sizeof policies / sizeof policies[0]; k++) {
        int policy = policies[k];
        afs_vecenv *v = open_vecenv(&cfg, b, E_T);
        afs_env r, s;
        cr_assert_eq(afs_env_init(&r, b, &cfg.env, E_T, cfg.run.seed), 0);
        cr_assert_eq(afs_env_init(&s, b, &cfg.env, E_T, cfg.run.seed), 0);
        cr_assert_eq(r.blob_bytes, v->env.blob_bytes);
        afs_env_begin_episode(&r, b, 0);
        expected_state(b, &r, &s, obs_s);
        same_state(v, &s, obs_s, policy, 0);
        int ends = 0;
        for (int t = 1; t <= 2 * L_T + 2; t++) {
            cr_assert_eq(afs_vecenv_heuristic_actions(v, policy), 0);
            int ended = afs_vecenv_step(v);
            if (r.slot == L_T)
                afs_env_begin_episode(&r, b, r.episode + 1);
            b->env_play_slots(b, &r, policy, 1, obs_r, act_r);
            cr_assert_eq(memcmp(v->action, act_r, A), 0,
                         "%s, step %d: the actions differ from the fused slot's",
                         afs_policy_name(policy), t);
            cr_assert_eq(ended, t % L_T == 0, "%s, step %d: step returned %d",
                         afs_policy_name(policy), t, ended);
            ends += ended;
            expected_state(b, &r, &s, obs_s);
            same_state(v, &s, obs_s, policy, t);
        }
        cr_assert_eq(ends, 2);
        afs_env_free(&r, b);
        afs_env_free(&s, b);
        afs_vecenv_destroy(v);
    }
    b->release(b, obs_r);
    b->release(b, obs_s);
    b->release(b, act_r);
    b->destroy(b);
}

/* The metrics row of one episode from episode_acc: the environments' sums
 * added in environment order in double (the backend's env_metrics order),
 * then afs_row_from_sums, as afs_episode_play makes it. */
static void row_of(const afs_vecenv *v, afs_episode_sums *sums, afs_episode_row *row)
{
    double *acc = malloc((size_t)v->E * AFS_ACC_N * sizeof(double));
    cr_assert_not_null(acc);
    v->b->to_host(v->b, acc, v->episode_acc, (size_t)v->E * AFS_ACC_N * sizeof(double));
    for (int a = 0; a < AFS_ACC_N; a++) {
        sums->v[a] = 0.0;
        for (int e = 0; e < v->E; e++)
            sums->v[a] += acc[(size_t)e * AFS_ACC_N + a];
    }
    free(acc);
    afs_row_from_sums(row, sums);
}

/* The row's metrics (not its timings), bit for bit. */
static void same_row(const afs_episode_row *got, const afs_episode_row *want, const char *what)
{
    cr_assert_eq(got->functions, want->functions, "%s: functions %lld, want %lld", what,
                 (long long)got->functions, (long long)want->functions);
    const struct { const char *name; double g, w; } cols[] = {
        {"mean_latency_s", got->mean_latency_s, want->mean_latency_s},
        {"success_rate", got->success_rate, want->success_rate},
        {"mean_cost", got->mean_cost, want->mean_cost},
        {"mean_reward", got->mean_reward, want->mean_reward},
        {"offload_fraction", got->offload_fraction, want->offload_fraction},
        {"drop_rate", got->drop_rate, want->drop_rate},
        {"miss_rate", got->miss_rate, want->miss_rate},
        {"cold_start_fraction", got->cold_start_fraction, want->cold_start_fraction},
    };
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        cr_assert_eq(memcmp(&cols[c].g, &cols[c].w, sizeof(double)), 0,
                     "%s: %s = %.17g, afsim run's %.17g", what, cols[c].name, cols[c].g,
                     cols[c].w);
}

/* Three episodes in a row (words 0, 1, 2), stepped with a heuristic's
 * actions, give afsim run's rows for that heuristic bit for bit: the
 * episode loop of afsim run (afs_episode_play, the agent afs_agent_create
 * makes, AFS_SLOTS_AT_ONCE slots a call) on an environment of its own.
 * Then a reset to episode 1 plays episode 1 again. */
Test(vecenv, episodes_equal_afsim_run)
{
    const int policies[] = {AFS_POLICY_GREEDY, AFS_POLICY_DEADLINE, AFS_POLICY_RANDOM};
    afs_config cfg;
    small_config(&cfg);
    cfg.env.slots = 30; /* more than AFS_SLOTS_AT_ONCE: afsim run plays 25, then 5 */
    char err[512] = "";
    afs_backend *b = afs_backend_cpu_create(2);
    for (size_t k = 0; k < sizeof policies / sizeof policies[0]; k++) {
        const char *name = afs_policy_name(policies[k]);
        afs_agent *agent = afs_agent_create(name, b, &cfg, E_T, 0, err, sizeof err);
        cr_assert_not_null(agent, "%s", err);
        afs_env r;
        cr_assert_eq(afs_env_init(&r, b, &cfg.env, E_T, cfg.run.seed), 0);
        afs_episode_row want[3];
        afs_episode_sums want_sums[3];
        for (uint32_t ep = 0; ep < 3; ep++) {
            afs_agent_stats st;
            cr_assert_eq(afs_episode_play(agent, &r, ep, AFS_PLAY_EVAL, NULL, &want[ep],
                                          &want_sums[ep], &st, err, sizeof err), 0, "%s", err);
            cr_assert_gt(want[ep].functions, 0);
        }
        afs_vecenv *v = open_vecenv(&cfg, b, E_T);
        for (uint32_t ep = 0; ep < 4; ep++) {
            uint32_t word = ep < 3 ? ep : 1; /* the fourth: episode 1 again, after a reset */
            if (ep == 3)
                afs_vecenv_reset(v, 1);
            cr_assert_eq(v->episode, word);
            for (int t = 0; t < cfg.env.slots; t++) {
                afs_vecenv_heuristic_actions(v, policies[k]);
                cr_assert_eq(afs_vecenv_step(v), t == cfg.env.slots - 1);
            }
            afs_episode_sums sums;
            afs_episode_row row;
            row_of(v, &sums, &row);
            char what[96];
            snprintf(what, sizeof what, "%s, episode %u%s", name, word, ep == 3 ? " again" : "");
            cr_assert_eq(memcmp(sums.v, want_sums[word].v, sizeof sums.v), 0,
                         "%s: the summed accumulators differ from afsim run's", what);
            same_row(&row, &want[word], what);
        }
        afs_vecenv_destroy(v);
        afs_env_free(&r, b);
        afs_agent_destroy(agent);
    }
    b->destroy(b);
}

/* done is 1 for every agent on the slots-th step of an episode and 0 on
 * every other, and step returns the same; the counters follow; the rewards
 * of an episode's steps, summed by hand, are its episode_acc's reward sum
 * per environment. */
Test(vecenv, done_on_the_last_slot_and_rewards_sum_to_episode_acc)
{
    afs_config cfg;
    small_config(&cfg);
    afs_backend *b = afs_backend_cpu_create(1);
    afs_vecenv *v = open_vecenv(&cfg, b, E_T);
    size_t A = (size_t)E_T * M_T;
    uint8_t zeros[E_T * M_T], ones[E_T * M_T];
    memset(zeros, 0, sizeof zeros);
    memset(ones, 1, sizeof ones);
    cr_assert_eq(memcmp(v->done, zeros, A), 0, "done is set before any step");
    for (size_t i = 0; i < A; i++)
        cr_assert_eq(v->reward[i], 0.0f, "reward[%zu] is set before any step", i);
    for (int ep = 0; ep < 3; ep++) {
        double by_hand[E_T] = {0.0};
        for (int t = 0; t < L_T; t++) {
            cr_assert_eq(v->slot, t);
            afs_vecenv_heuristic_actions(v, AFS_POLICY_RANDOM);
            int ended = afs_vecenv_step(v);
            int last = t == L_T - 1;
            cr_assert_eq(ended, last, "episode %d, slot %d: step returned %d", ep, t, ended);
            cr_assert_eq(memcmp(v->done, last ? ones : zeros, A), 0,
                         "episode %d, slot %d: done is not %d everywhere", ep, t, last);
            cr_assert_eq(v->episode, (uint32_t)(ep + last));
            cr_assert_eq(v->episodes_done, ep + last);
            cr_assert_eq(v->slot, last ? 0 : t + 1);
            for (int e = 0; e < E_T; e++)
                for (int m = 0; m < M_T; m++)
                    by_hand[e] += (double)v->reward[(size_t)e * M_T + m];
        }
        for (int e = 0; e < E_T; e++) {
            double acc = v->episode_acc[(size_t)e * AFS_ACC_N + AFS_ACC_REWARD];
            cr_assert_lt(acc, 0.0, "episode %d, environment %d: no reward summed", ep, e);
            cr_assert_gt(v->episode_acc[(size_t)e * AFS_ACC_N + AFS_ACC_GENERATED], 0.0);
            cr_assert(fabs(acc - by_hand[e]) <= 1e-9 * fabs(by_hand[e]),
                      "episode %d, environment %d: episode_acc's reward %.17g, the steps' "
                      "rewards sum to %.17g", ep, e, acc, by_hand[e]);
        }
    }
    afs_vecenv_reset(v, 9);
    cr_assert_eq(v->episode, 9u);
    cr_assert_eq(v->slot, 0);
    cr_assert_eq(v->episodes_done, 0);
    cr_assert_eq(memcmp(v->done, zeros, A), 0, "done survives a reset");
    for (size_t i = 0; i < A; i++)
        cr_assert_eq(v->reward[i], 0.0f, "reward[%zu] survives a reset", i);
    for (size_t i = 0; i < (size_t)E_T * AFS_ACC_N; i++)
        cr_assert_eq(v->episode_acc[i], 0.0, "episode_acc[%zu] survives a reset", i);
    afs_vecenv_destroy(v);
    b->destroy(b);
}

Test(vecenv, check_actions_names_the_agent_and_its_value)
{
    afs_config cfg;
    small_config(&cfg);
    afs_backend *b = afs_backend_cpu_create(1);
    afs_vecenv *v = open_vecenv(&cfg, b, E_T);
    char err[512] = "";
    cr_assert_eq(afs_vecenv_heuristic_actions(v, AFS_POLICY_RANDOM), 0);
    cr_assert_eq(afs_vecenv_check_actions(v, err, sizeof err), 0, "%s", err);
    size_t i = (size_t)M_T + 4; /* environment 1, agent 4 */
    v->action[i] = 2;
    v->action[i + 3] = 7; /* the first is named */
    cr_assert_eq(afs_vecenv_check_actions(v, err, sizeof err), -1);
    cr_assert(strstr(err, "action[17] = 2 (environment 1, agent 4)"), "message: %s", err);
    cr_assert(strstr(err, "0 ") && strstr(err, "or 1"), "no hint in: %s", err);
    v->action[i] = 1;
    cr_assert_eq(afs_vecenv_check_actions(v, err, sizeof err), -1);
    cr_assert(strstr(err, "action[20] = 7 (environment 1, agent 7)"), "message: %s", err);
    v->action[i + 3] = 255;
    cr_assert_eq(afs_vecenv_check_actions(v, err, sizeof err), -1);
    cr_assert(strstr(err, "= 255"), "message: %s", err);
    v->action[i + 3] = 0;
    cr_assert_eq(afs_vecenv_check_actions(v, err, sizeof err), 0, "%s", err);
    /* heuristic_actions refuses what is no policy, and writes nothing */
    memset(v->action, 1, (size_t)E_T * M_T);
    cr_assert_eq(afs_vecenv_heuristic_actions(v, AFS_POLICY_N), -1);
    cr_assert_eq(afs_vecenv_heuristic_actions(v, -1), -1);
    cr_assert_eq(afs_vecenv_heuristic_actions(v, AFS_POLICY_ALL_CLOUD), 0);
    cr_assert_eq(v->action[0], 0);
    afs_vecenv_destroy(v);
    b->destroy(b);
}

static void refused(const afs_config *cfg, afs_backend *b, int envs, const char *const *parts)
{
    char err[1024] = "";
    afs_vecenv *v = afs_vecenv_create(cfg, b, envs, 1, err, sizeof err);
    cr_assert_null(v, "envs = %d was accepted", envs);
    for (; *parts; parts++)
        cr_assert(strstr(err, *parts), "the message '%s' lacks '%s'", err, *parts);
}

Test(vecenv, create_refuses_no_environments_a_bad_config_and_too_much_memory)
{
    afs_config cfg;
    small_config(&cfg);
    afs_backend *b = afs_backend_cpu_create(1);
    refused(&cfg, b, 0, (const char *const[]){"envs = 0", "at least 1", NULL});
    refused(&cfg, b, -4, (const char *const[]){"envs = -4", NULL});
    afs_config bad = cfg;
    bad.env.f_min = 3.0f;
    bad.env.f_max = 2.0f;
    refused(&bad, b, E_T, (const char *const[]){"f_min", "f_max", NULL});
    bad = cfg;
    bad.env.t_jitter = bad.env.t_mean;
    refused(&bad, b, E_T, (const char *const[]){"t_jitter", "t_mean", NULL});
    bad = cfg;
    bad.env.agents = 0;
    refused(&bad, b, E_T, (const char *const[]){"env.agents = 0", NULL});
    bad = cfg;
    bad.env.slots = 0;
    refused(&bad, b, E_T, (const char *const[]){"env.slots = 0", NULL});
    bad = cfg;
    bad.env.agents = 150; /* INT_MAX environments: some 40 TiB, refused before allocating */
    refused(&bad, b, INT_MAX, (const char *const[]){"MiB", "lower envs", NULL});
    b->destroy(b);
}

/* ---- A backend whose alloc and release are counted ---- */

static afs_backend *real; /* the CPU backend behind the counted one */
static long live, allocs;

static void *counted_alloc(afs_backend *b, size_t bytes)
{
    (void)b;
    void *p = real->alloc(real, bytes);
    if (p) {
        live++;
        allocs++;
    }
    return p;
}

static void counted_release(afs_backend *b, void *p)
{
    (void)b;
    live--;
    real->release(real, p);
}

/* The pointers a caller may keep views of stay where they are from create
 * to destroy, and nothing is allocated or released after create: reset,
 * step (auto-reset included), check_actions and heuristic_actions work in
 * place. destroy releases every buffer create allocated. */
Test(vecenv, buffers_stay_in_place_and_destroy_releases_them)
{
    afs_config cfg;
    small_config(&cfg);
    real = afs_backend_cpu_create(1);
    afs_backend counted = *real;
    counted.alloc = counted_alloc;
    counted.release = counted_release;
    afs_vecenv *v = open_vecenv(&cfg, &counted, E_T);
    cr_assert_gt(live, 0);
    long after_create = allocs;
    const void *was[] = {v->obs, v->action, v->reward, v->done, v->episode_acc, v->env.blob};
    cr_assert_eq((void *)v->reward, (void *)v->env.reward, "reward is not the state's own array");
    char err[256];
    for (int round = 0; round < 2; round++) {
        afs_vecenv_reset(v, (uint32_t)(5 * round));
        for (int t = 0; t < 2 * L_T + 1; t++) {
            afs_vecenv_heuristic_actions(v, AFS_POLICY_GREEDY);
            cr_assert_eq(afs_vecenv_check_actions(v, err, sizeof err), 0, "%s", err);
            afs_vecenv_step(v);
        }
        const void *now[] = {v->obs, v->action, v->reward, v->done, v->episode_acc, v->env.blob};
        for (size_t k = 0; k < sizeof was / sizeof was[0]; k++)
            cr_assert_eq(now[k], was[k], "buffer %zu moved", k);
        cr_assert_eq(allocs, after_create, "%ld allocations after create",
                     allocs - after_create);
    }
    afs_vecenv_destroy(v);
    cr_assert_eq(live, 0, "%ld buffers left after destroy", live);
    afs_vecenv_destroy(NULL); /* nothing to free: no crash */
    real->destroy(real);
}

/* A new seed in the same buffers plays what a vecenv made with it plays:
 * every array of the state, after a reset and after steps. */
Test(vecenv, a_new_seed_plays_a_new_vecenv_of_that_seed)
{
    afs_config cfg;
    small_config(&cfg);
    afs_backend *b = afs_backend_cpu_create(1);
    afs_vecenv *v = open_vecenv(&cfg, b, E_T), *fresh;
    char err[256];
    fresh = afs_vecenv_create(&cfg, b, E_T, 91, err, sizeof err); /* v has 77 */
    cr_assert_not_null(fresh, "%s", err);
    const void *obs = v->obs;
    afs_vecenv_set_seed(v, 91);
    afs_vecenv_reset(v, 3);
    afs_vecenv_reset(fresh, 3);
    for (int t = 0; t <= L_T; t++) { /* across the episode's end */
        cr_assert_eq(memcmp(v->env.blob, fresh->env.blob, v->env.blob_bytes), 0,
                     "state differs after %d steps", t);
        cr_assert_eq(memcmp(v->obs, fresh->obs, (size_t)E_T * v->M * AFS_OBS_DIM * sizeof(float)),
                     0, "obs differs after %d steps", t);
        afs_vecenv_heuristic_actions(v, AFS_POLICY_RANDOM);
        afs_vecenv_heuristic_actions(fresh, AFS_POLICY_RANDOM);
        afs_vecenv_step(v);
        afs_vecenv_step(fresh);
    }
    cr_assert_eq((const void *)v->obs, obs, "the buffers moved");
    afs_vecenv_destroy(v);
    afs_vecenv_destroy(fresh);
    b->destroy(b);
}
