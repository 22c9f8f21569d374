/* The best_response policy (docs/model.md, "Heuristic policies"): greedy
 * improved by coordinated descent on the environment's slot reward. Each
 * slot here is played from a copied state with every policy compared, and
 * the totals are the sums of the rewards env_step writes: the test's own
 * measure, not the descent's. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

/* A batch of environments on the CPU backend, a slot's functions drawn and
 * not yet played (`env`), and a second batch of the same shape (`work`)
 * into which that state is copied to play the slot one way or another. */
typedef struct scene {
    afs_backend *b;
    afs_env env, work;
    float *obs;
    uint8_t *act;
} scene;

/* Layout and load varied by seed so that both locations matter: k_scale
 * from 0.5 to 2, t_mean from 0.8 to 2 s, 1 to 3 APs a side. `warm` greedy
 * slots first, so that queues and warm containers are not all empty. */
static void scene_open(scene *s, int agents, int envs, uint32_t seed, int warm)
{
    afs_env_params p = test_params(agents);
    p.ap_grid = 1 + (int)(seed % 3);
    p.k_scale = 0.5f + 0.5f * (float)(seed % 4);
    p.t_mean = 0.8f + 0.4f * (float)(seed % 4);
    p.t_jitter = 0.2f * p.t_mean;
    p.idle_prob = 0.2f;
    memset(s, 0, sizeof *s);
    s->b = afs_backend_cpu_create(1);
    cr_assert_eq(afs_env_init(&s->env, s->b, &p, envs, seed), 0);
    cr_assert_eq(afs_env_init(&s->work, s->b, &p, envs, seed), 0);
    size_t n = (size_t)envs * agents;
    s->obs = s->b->alloc(s->b, n * AFS_OBS_DIM * sizeof(float));
    s->act = s->b->alloc(s->b, n);
    cr_assert(s->obs && s->act);
    afs_env_begin_episode(&s->env, s->b, seed % 5);
    for (int t = 0; t < warm; t++)
        s->b->env_play_slots(s->b, &s->env, AFS_POLICY_GREEDY, 1, s->obs, s->act);
    s->b->env_arrive(s->b, &s->env);
}

static void scene_close(scene *s)
{
    s->b->release(s->b, s->obs);
    s->b->release(s->b, s->act);
    afs_env_free(&s->env, s->b);
    afs_env_free(&s->work, s->b);
    s->b->destroy(s->b);
}

/* The drawn slot's state again in s->work. */
static void reload(scene *s)
{
    memcpy(s->work.blob, s->env.blob, s->env.blob_bytes);
    s->work.slot = s->env.slot;
    s->work.episode = s->env.episode;
    s->work.p = s->env.p;
}

/* Environment e's total reward of the slot just stepped in s->work, summed
 * in agent order. */
static double total_of(const scene *s, int e)
{
    double total = 0.0;
    for (int m = 0; m < s->work.M; m++) {
        size_t i = (size_t)e * s->work.M + m;
        if (s->work.flags[i] & AFS_F_HAS)
            total += s->work.reward[i];
    }
    return total;
}

/* Decides the drawn slot with `policy` into act (E*M). */
static void decide(scene *s, int policy, uint8_t *act)
{
    reload(s);
    s->b->env_observe(s->b, &s->work, s->obs);
    s->b->env_act(s->b, &s->work, policy, s->obs, act);
}

/* Plays the drawn slot with the given actions; totals[e] per environment. */
static void play(scene *s, const uint8_t *act, double *totals)
{
    reload(s);
    s->b->env_step(s->b, &s->work, act);
    for (int e = 0; e < s->work.E; e++)
        totals[e] = total_of(s, e);
}

static const int sizes[] = {2, 7, 40};

/* best_response's total is at least greedy's on every state (exactly: the
 * descent starts at greedy's actions and only takes gains), and above it on
 * some, or the test could not tell the policy from greedy. */
Test(best_response, never_worse_than_greedy_and_sometimes_better)
{
    int states = 0, better = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        for (uint32_t seed = 1; seed <= 8; seed++) {
            scene s;
            int E = 6;
            scene_open(&s, sizes[k], E, seed + 100 * (uint32_t)k, 2 + (int)seed % 3);
            size_t n = (size_t)E * sizes[k];
            uint8_t *greedy = malloc(n), *br = malloc(n);
            double tg[6], tb[6];
            decide(&s, AFS_POLICY_GREEDY, greedy);
            decide(&s, AFS_POLICY_BEST_RESPONSE, br);
            play(&s, greedy, tg);
            play(&s, br, tb);
            for (int e = 0; e < E; e++) {
                cr_assert(tb[e] >= tg[e], "M %d seed %u env %d: best_response %.9g < greedy %.9g",
                          sizes[k], seed, e, tb[e], tg[e]);
                states++;
                better += tb[e] > tg[e];
            }
            free(greedy);
            free(br);
            scene_close(&s);
        }
    cr_log_info("best_response beat greedy on %d of %d environment-slots", better, states);
    cr_assert(better >= states / 10, "better on only %d of %d states", better, states);
}

/* Where the descent stopped by itself, no single EN's switch raises the
 * total by more than the margin (twice the margin allowed: the descent
 * weighs a candidate with per-AP sums updated, the step forms them afresh,
 * which differs in the last bits). Brute force: every switch replayed
 * through env_step. */
Test(best_response, no_single_switch_improves_the_result)
{
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        for (uint32_t seed = 1; seed <= 4; seed++) {
            scene s;
            int E = 3, M = sizes[k];
            scene_open(&s, M, E, seed + 10 * (uint32_t)k, 3);
            s.env.p.br_rounds = 1000; /* to convergence */
            size_t n = (size_t)E * M;
            uint8_t *br = malloc(n);
            double base[3], flipped[3];
            decide(&s, AFS_POLICY_BEST_RESPONSE, br);
            play(&s, br, base);
            for (int e = 0; e < E; e++)
                for (int m = 0; m < M; m++) {
                    size_t i = (size_t)e * M + m;
                    if (!(s.env.flags[i] & AFS_F_HAS))
                        continue;
                    br[i] ^= 1;
                    play(&s, br, flipped);
                    br[i] ^= 1;
                    cr_assert(flipped[e] <= base[e] + 2.0 * afs_br_margin(base[e]),
                              "M %d seed %u env %d: switching EN %d gains %.9g", M, seed, e, m,
                              flipped[e] - base[e]);
                }
            free(br);
            scene_close(&s);
        }
}

/* The descent weighs each EN's reward as the step will pay it: for random
 * actions on random states, afs_edge_reward and afs_cloud_reward with the
 * per-AP sums in agent order give env_step's rewards bit for bit. */
Test(best_response, its_objective_is_what_the_step_pays)
{
    for (uint32_t seed = 1; seed <= 6; seed++) {
        scene s;
        int E = 4, M = 30;
        scene_open(&s, M, E, seed, 3);
        uint8_t act[4 * 30];
        for (int i = 0; i < E * M; i++)
            act[i] = (uint8_t)((i * 7 + (int)seed) % 3 != 0);
        double step_total[4];
        play(&s, act, step_total);
        for (int e = 0; e < E; e++) {
            int32_t n[AFS_MAX_AP_GRID * AFS_MAX_AP_GRID];
            float interf[AFS_MAX_AP_GRID * AFS_MAX_AP_GRID];
            afs_br_ap_sums(&s.env, e, act + e * M, n, interf);
            for (int g = 0; g < s.env.G; g++) {
                cr_assert_eq(n[g], s.work.n_ap[e * s.env.G + g]);
                cr_assert_eq(interf[g], s.work.i_ap[e * s.env.G + g], "I_%d", g);
            }
            for (int m = 0; m < M; m++) {
                size_t i = (size_t)e * M + m;
                if (!(s.env.flags[i] & AFS_F_HAS))
                    continue;
                int g = s.env.ap[i];
                float r = act[i] ? afs_edge_reward(&s.env, i)
                                 : afs_cloud_reward(&s.env, e, i, n[g], interf[g]);
                cr_assert_eq(r, s.work.reward[i], "seed %u EN %zu: %.9g vs the step's %.9g", seed,
                             i, r, s.work.reward[i]);
            }
            cr_assert_eq(afs_br_total(&s.env, e, act + e * M, n, interf), step_total[e]);
        }
        scene_close(&s);
    }
}

/* Two ENs 100 m from the one AP (no interference), the same function each:
 * z = 30 Mbit, k = 1 Gcycle, T = 1.6 s, c = 0.1 Mbit, type 0 (cold
 * everywhere: 0.25 + 0.0005 x 128 = 0.314 s), f_m = 1 GHz, f_c = 40 GHz.
 *   h = 10^-(128.1 + 37.6 log10 0.1)/10 = 10^-9.05; SNR = 0.5 h / 1e-13;
 *   r = 5 log2(1 + SNR) = 60.6 Mbit/s alone, 30.3 shared.
 *   edge:        0.6 + 0.314 + 1/1                         = 1.914 s, late
 *   cloud alone: 0.6 + 0.314 + 30/r + 1/40 + 0.1/r         = 1.436 s, success
 *   cloud both:  0.6 + 0.314 + 30/(r/2) + 1/40 + 0.1/r     = 1.931 s, late
 * Greedy sees the lone rate (the broadcast before any slot): edge 1 s
 * against cloud 30/60.6 + 1/40 = 0.52 s, so both offload, and both are
 * late. The descent visits EN 0 first: moving it to the edge (late, but the
 * other's cloud run now succeeds) gains, so EN 0 runs at its EN and EN 1
 * offloads; EN 1 moving to the edge would make both late. */
static double lone_rate(void)
{
    double h = pow(10.0, -(128.1 + 37.6 * log10(0.1)) / 10.0);
    return 5.0 * log2(1.0 + 0.5 * h / 1e-13);
}

Test(best_response, two_ens_one_ap_worked_by_hand)
{
    afs_env_params p = test_params(2);
    p.ap_grid = 1; /* one AP at (175, 175) */
    afs_env env;
    afs_backend *b;
    test_env_open(&env, &b, &p, 1, 3);
    env.f_c[0] = 40.0f;
    for (int i = 0; i < 2; i++) {
        afs_place_agent(&env, (size_t)i, i ? 275.0f : 75.0f, 175.0f);
        env.f[i] = 1.0f;
        env.w[i] = 0.0f;
        test_give(&env, (size_t)i, 30.0f, 1.0f, 1.6f, 0.1f, 0);
    }
    float obs[2 * AFS_OBS_DIM];
    uint8_t greedy[2], br[2];
    b->env_observe(b, &env, obs);
    b->env_act(b, &env, AFS_POLICY_GREEDY, obs, greedy);
    b->env_act(b, &env, AFS_POLICY_BEST_RESPONSE, obs, br);
    cr_assert(greedy[0] == 0 && greedy[1] == 0, "greedy offloads both: %d %d", greedy[0], greedy[1]);
    cr_assert(br[0] == 1 && br[1] == 0, "best_response: EN 0 local, EN 1 cloud, got %d %d", br[0],
              br[1]);

    double r = lone_rate(), start = 0.25 + 0.0005 * 128;
    double edge = 0.6 + start + 1.0;
    double alone = 0.6 + start + 30.0 / r + 1.0 / 40.0 + 0.1 / r;
    double both = 0.6 + start + 30.0 / (r / 2) + 1.0 / 40.0 + 0.1 / r;
    cr_assert(edge > 1.6 && alone <= 1.6 && both > 1.6, "the layout is as worked out");
    double want_br = -(edge + 2.0) - (0.5 + 0.5 * alone);
    double want_greedy = 2 * (-(0.5 + 0.5 * both) - 2.0);
    test_step(&env, b, br);
    cr_assert(env.flags[0] & AFS_F_LATE && env.flags[1] & AFS_F_SUCCESS);
    double got = (double)env.reward[0] + env.reward[1];
    cr_assert(fabs(got - want_br) <= 1e-5 * fabs(want_br), "total %.9g, by hand %.9g", got, want_br);
    cr_assert(want_br > want_greedy, "by hand: %.6g > greedy's %.6g", want_br, want_greedy);
    test_env_close(&env, b);
}

/* The same state decided twice gives the same actions, also with scratch
 * full of garbage; and a cap of one round stops the descent after its
 * first round: its actions equal the converged ones exactly when the
 * converged descent switched nothing after round 1 (it ran at most 2
 * rounds), and its total is never above the converged one. */
Test(best_response, deterministic_and_rounds_cap_the_descent)
{
    int longer = 0, equal = 0;
    for (uint32_t seed = 1; seed <= 6; seed++) {
        scene s;
        int E = 4, M = 40;
        scene_open(&s, M, E, seed, 3);
        size_t n = (size_t)E * M;
        uint8_t *a1 = malloc(n), *a2 = malloc(n), *conv = malloc(n), *one = malloc(n);
        decide(&s, AFS_POLICY_BEST_RESPONSE, a1);
        decide(&s, AFS_POLICY_BEST_RESPONSE, a2);
        cr_assert_eq(memcmp(a1, a2, n), 0, "seed %u: two decisions differ", seed);

        decide(&s, AFS_POLICY_GREEDY, conv);
        afs_env uncapped = s.env;
        uncapped.p.br_rounds = 1000;
        int rounds[4];
        for (int e = 0; e < E; e++) {
            int32_t sn[2 * AFS_MAX_AP_GRID * AFS_MAX_AP_GRID];
            float si[2 * AFS_MAX_AP_GRID * AFS_MAX_AP_GRID];
            memset(sn, 0x7f, sizeof sn);
            memset(si, 0xff, sizeof si); /* NaNs */
            rounds[e] = afs_best_response_env(&uncapped, e, conv + (size_t)e * M, sn, si);
        }
        s.env.p.br_rounds = 1;
        decide(&s, AFS_POLICY_BEST_RESPONSE, one);
        s.env.p.br_rounds = 8;
        double t_conv[4], t_one[4];
        play(&s, conv, t_conv);
        play(&s, one, t_one);
        for (int e = 0; e < E; e++) {
            int same = !memcmp(conv + (size_t)e * M, one + (size_t)e * M, (size_t)M);
            cr_assert_eq(same, rounds[e] <= 2, "seed %u env %d: %d rounds to converge, rounds = 1 %s",
                         seed, e, rounds[e], same ? "equal" : "differs");
            cr_assert(t_one[e] <= t_conv[e], "seed %u env %d: one round %.9g above converged %.9g",
                      seed, e, t_one[e], t_conv[e]);
            longer += rounds[e] > 2;
            equal += same;
        }
        /* The default (8 rounds) converged here: the same as 1000. */
        cr_assert_eq(memcmp(a1, conv, n), 0, "seed %u: 8 rounds differ from 1000", seed);
        free(a1);
        free(a2);
        free(conv);
        free(one);
        scene_close(&s);
    }
    cr_log_info("%d environment-slots needed more than one round of switches, %d did not", longer,
                equal);
    cr_assert(longer > 0, "no state needed a second round: the cap was not exercised");
}

/* The state after best_response slots on 1 and on 2 threads. At E = 48,
 * M = 150 (E M^2 just above 2^20 pairs of agents) the CPU backend spreads
 * the descent over both; environments are independent, so the bits must
 * not change. */
static uint64_t threaded_hash(int threads, int fused)
{
    afs_env_params p = test_params(150);
    afs_backend *b = afs_backend_cpu_create(threads);
    afs_env env;
    cr_assert_eq(afs_env_init(&env, b, &p, 48, 21), 0);
    afs_env_begin_episode(&env, b, 1);
    size_t n = (size_t)48 * 150;
    float *obs = b->alloc(b, n * AFS_OBS_DIM * sizeof(float));
    uint8_t *act = b->alloc(b, n);
    for (int t = 0; t < 2; t++) {
        if (fused) {
            b->env_play_slots(b, &env, AFS_POLICY_BEST_RESPONSE, 1, obs, act);
            continue;
        }
        b->env_arrive(b, &env);
        b->env_observe(b, &env, obs);
        b->env_act(b, &env, AFS_POLICY_BEST_RESPONSE, obs, act);
        b->env_step(b, &env, act);
    }
    uint64_t h = test_state_hash(&env);
    b->release(b, obs);
    b->release(b, act);
    afs_env_free(&env, b);
    b->destroy(b);
    return h;
}

Test(best_response, the_thread_count_does_not_change_results, .timeout = 60)
{
    uint64_t one = threaded_hash(1, 1);
    cr_assert_eq(one, threaded_hash(2, 1), "fused slots");
    cr_assert_eq(one, threaded_hash(2, 0), "phase by phase on 2 threads");
}

Test(best_response, rounds_is_a_checked_key_with_a_default)
{
    afs_config cfg;
    char err[512];
    afs_config_defaults(&cfg);
    cr_assert_eq(cfg.env.br_rounds, 8);
    cr_assert_eq(afs_config_set_arg(&cfg, "best_response.rounds=3", "--set", err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(cfg.env.br_rounds, 3);
    cr_assert_eq(afs_config_set_arg(&cfg, "best_response.rounds=0", "--set", err, sizeof err), -1);
    cr_assert(strstr(err, "best_response.rounds") && strstr(err, "[1, 1000] rounds"), "%s", err);
    cr_assert_eq(afs_config_set_arg(&cfg, "best_response.rounds=1001", "--set", err, sizeof err),
                 -1);
    char dump[16384] = "";
    FILE *f = fmemopen(dump, sizeof dump - 1, "w");
    afs_config_dump(&cfg, f);
    fclose(f);
    const char *sec = strstr(dump, "[best_response]\n");
    cr_assert_not_null(sec, "%s", dump);
    cr_assert(strstr(sec, "rounds = 3") && strstr(sec, "(rounds)"), "%s", sec);
}

/* `afsim run --policy best_response` runs and shows in the summary. */
Test(best_response, afsim_run_plays_it, .timeout = 60)
{
    char dir[] = "/tmp/afsim-br-XXXXXX", cmd[1024], out[8192] = "";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "%s run --backend cpu --policy greedy,best_response --episodes 1 --envs 2 "
             "--set env.agents=9 --set env.slots=4 --set best_response.rounds=2 --out %s/r.h5 2>&1",
             AFSIM_BIN, dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = 0;
    int status = pclose(p);
    test_remove_dir(dir);
    cr_assert_eq(status, 0, "%s\n%s", cmd, out);
    cr_assert(strstr(out, "\ngreedy ") && strstr(out, "\nbest_response "), "%s", out);
}

/* The descent's own rewards (afs_edge_reward, afs_cloud_reward) meet the
 * deadline as the step does: a latency exactly at it succeeds, a float
 * below it is late (test_exact_open's latencies are exact in float), each
 * with its reward, -R or -R - miss_penalty. In the cloud R = w1 rho k + w2 D
 * with w1 != w2 (0.998046875). */
Test(best_response, its_rewards_meet_the_deadline_at_equality)
{
    for (int local = 0; local < 2; local++)
        for (int late = 0; late < 2; late++) {
            float d = local ? TEST_EXACT_EDGE_S : TEST_EXACT_CLOUD_S;
            float cost = local ? d : TEST_EXACT_CLOUD_COST;
            afs_env env;
            afs_backend *b;
            test_exact_open(&env, &b, local, late ? nextafterf(d, 0.0f) : d);
            float r = local ? afs_edge_reward(&env, 0) : afs_cloud_reward(&env, 0, 0, 1, 0.0f);
            float want = -cost - (late ? 2.0f : 0.0f);
            cr_assert_eq(r, want, "%s, deadline %s: reward %.9g, by hand %.9g", local ? "edge" : "cloud",
                         late ? "a float below the latency" : "the latency", r, want);
            test_env_close(&env, b);
        }
}
