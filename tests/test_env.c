/* The environment's equations on small hand-built layouts (docs/model.md).
 * Expected values are worked out here from the equations in double precision,
 * independently of kernels/common/env_math.h, and compared within 1e-5
 * relative (the code computes in float). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "helpers.h"
#include "host/metrics.h"

#define REL 1e-5

static void near(double got, double want, const char *what)
{
    double tol = REL * fmax(1.0, fabs(want));
    cr_assert(fabs(got - want) <= tol, "%s: got %.9g, want %.9g", what, got, want);
}

/* 2 x 2 APs on a 200 m square: centres (50,50) (150,50) (50,150) (150,150). */
static afs_env_params small_params(int agents)
{
    afs_env_params p = test_params(agents);
    p.ap_grid = 2;
    p.area_m = 200.0f;
    return p;
}

static double gain(double x, double y, double ax, double ay)
{
    double d = fmax(sqrt((x - ax) * (x - ax) + (y - ay) * (y - ay)), 1.0);
    return pow(10.0, -(128.1 + 37.6 * log10(d / 1000.0)) / 10.0);
}

static const double ap_x[4] = {50, 150, 50, 150}, ap_y[4] = {50, 50, 150, 150};
#define NOISE_W 1e-13 /* -100 dBm */

/* A fresh env of `agents` ENs with no function anywhere, at slot 0. */
static void open_quiet(afs_env *env, afs_backend **b, int agents)
{
    afs_env_params p = small_params(agents);
    test_env_open(env, b, &p, 1, 7);
    for (int i = 0; i < agents; i++)
        test_take(env, (size_t)i);
}

static void quiet_slot(afs_env *env, afs_backend *b)
{
    uint8_t act[64] = {0};
    for (int i = 0; i < env->M; i++)
        test_take(env, (size_t)i);
    test_step(env, b, act);
}

Test(env, edge_latency_terms_by_hand)
{
    afs_env env;
    afs_backend *b;
    open_quiet(&env, &b, 1);
    env.f[0] = 2.0f;
    env.w[0] = 3.0f;
    test_give(&env, 0, 2.0f, 1.0f, 5.0f, 0.1f, 0);
    uint8_t act[1] = {1};
    test_step(&env, b, act);
    /* z/r_up = 2/50; cold start of 128 MB = 0.25 + 0.0005*128; wait 3/2;
     * run 1/2. */
    near(env.d_up[0], 0.04, "d_up");
    near(env.d_start[0], 0.314, "d_start");
    near(env.d_wait[0], 1.5, "d_wait");
    near(env.d_exec[0], 0.5, "d_exec");
    near(env.latency[0], 2.354, "latency");
    near(env.cost[0], 2.354, "cost R = D_l at the edge");
    near(env.reward[0], -2.354, "reward");
    cr_assert(env.flags[0] & AFS_F_SUCCESS);
    cr_assert(env.flags[0] & AFS_F_LOCAL);
    near(env.w_before[0], 3.0, "w before admission");
    /* 3 + 1 admitted, then drained by f * slot = 2. */
    near(env.w[0], 2.0, "queue after drain");
    test_env_close(&env, b);
}

Test(env, late_edge_function_fails_with_penalty)
{
    afs_env env;
    afs_backend *b;
    open_quiet(&env, &b, 1);
    env.f[0] = 1.0f;
    env.w[0] = 2.0f;
    test_give(&env, 0, 1.0f, 1.0f, 1.5f, 0.1f, 3); /* type 3: 1024 MB */
    uint8_t act[1] = {1};
    test_step(&env, b, act);
    double want = 1.0 / 50 + (0.25 + 0.0005 * 1024) + 2.0 + 1.0;
    near(env.latency[0], want, "latency");
    cr_assert(env.flags[0] & AFS_F_LATE);
    cr_assert(!(env.flags[0] & AFS_F_SUCCESS));
    near(env.reward[0], -want - 2.0, "reward = -R - miss_penalty");
    test_env_close(&env, b);
}

Test(env, queue_admits_exactly_at_capacity_and_drops_above)
{
    afs_env env;
    afs_backend *b;
    open_quiet(&env, &b, 2);
    env.f[0] = env.f[1] = 1.0f;
    env.w[0] = 8.0f; /* 8 + 2 = 10 = capacity: admitted */
    env.w[1] = 8.5f; /* 8.5 + 2 > 10: dropped */
    test_give(&env, 0, 1.0f, 2.0f, 100.0f, 0.1f, 0);
    test_give(&env, 1, 1.0f, 2.0f, 1.7f, 0.1f, 0);
    uint8_t act[2] = {1, 1};
    test_step(&env, b, act);
    cr_assert(!(env.flags[0] & AFS_F_DROPPED));
    cr_assert(env.flags[0] & AFS_F_SUCCESS);
    near(env.w[0], 9.0, "admitted then drained: 8 + 2 - 1");
    cr_assert(env.flags[1] & AFS_F_DROPPED);
    cr_assert(!(env.flags[1] & (AFS_F_SUCCESS | AFS_F_LATE)));
    near(env.latency[1], 0.0, "a dropped function has no latency");
    near(env.cost[1], 1.7, "a dropped function costs its deadline");
    near(env.reward[1], -1.7 - 2.0, "reward of a drop");
    near(env.w[1], 7.5, "dropped work is not queued: 8.5 - 1");
    test_env_close(&env, b);
}

Test(env, queue_drain_never_goes_negative)
{
    afs_env env;
    afs_backend *b;
    open_quiet(&env, &b, 2);
    env.f[0] = 3.0f;
    env.w[0] = 0.5f;
    env.f[1] = 1.0f;
    env.w[1] = 0.0f;
    test_give(&env, 1, 1.0f, 1.5f, 9.0f, 0.1f, 0);
    uint8_t act[2] = {1, 1};
    test_step(&env, b, act);
    near(env.w[0], 0.0, "0.5 - 3 clamps at 0");
    near(env.w[1], 0.5, "drained after admission: 0 + 1.5 - 1");
    near(env.d_wait[1], 0.0, "empty queue: no wait");
    test_env_close(&env, b);
}

/* Runs type 2 at EN 0 at slot 0, then again at slot `again`. */
static uint32_t edge_warm_after(int again)
{
    afs_env env;
    afs_backend *b;
    open_quiet(&env, &b, 1);
    env.f[0] = 3.5f;
    uint8_t act[1] = {1};
    test_give(&env, 0, 1.0f, 1.0f, 9.0f, 0.1f, 2);
    test_step(&env, b, act);
    cr_assert(!(env.flags[0] & AFS_F_WARM), "first use is cold");
    while (env.slot < again)
        quiet_slot(&env, b);
    test_give(&env, 0, 1.0f, 1.0f, 9.0f, 0.1f, 2);
    test_step(&env, b, act);
    uint32_t flags = env.flags[0];
    float d_start = env.d_start[0];
    test_env_close(&env, b);
    if (flags & AFS_F_WARM)
        near(d_start, 0.01, "warm start");
    else
        near(d_start, 0.25 + 0.0005 * 512, "cold start of 512 MB");
    return flags;
}

Test(env, warm_exactly_at_keep_alive_cold_one_slot_later)
{
    /* keep_alive = 10: used at slot 0, warm at slot 10, cold at slot 11. */
    cr_assert(edge_warm_after(1) & AFS_F_WARM);
    cr_assert(edge_warm_after(10) & AFS_F_WARM);
    cr_assert(!(edge_warm_after(11) & AFS_F_WARM));
}

Test(env, warmth_is_per_type_and_per_location)
{
    afs_env env;
    afs_backend *b;
    open_quiet(&env, &b, 2);
    env.f[0] = env.f[1] = 3.5f;
    uint8_t act[2] = {1, 1};
    test_give(&env, 0, 1.0f, 1.0f, 9.0f, 0.1f, 2);
    test_step(&env, b, act);
    /* Slot 1: EN 0 runs another type (cold), EN 1 runs type 2 (cold: the
     * container at EN 0 does not warm EN 1). */
    test_give(&env, 0, 1.0f, 1.0f, 9.0f, 0.1f, 5);
    test_give(&env, 1, 1.0f, 1.0f, 9.0f, 0.1f, 2);
    test_step(&env, b, act);
    cr_assert(!(env.flags[0] & AFS_F_WARM));
    cr_assert(!(env.flags[1] & AFS_F_WARM));
    test_env_close(&env, b);
}

/* Three offloaders near AP 0, one near AP 3, one idle EN near AP 1. */
static void cloud_layout(afs_env *env, afs_backend **b)
{
    static const float xy[5][2] = {{40, 50}, {60, 45}, {50, 70}, {160, 150}, {150, 40}};
    open_quiet(env, b, 5);
    for (int i = 0; i < 5; i++) {
        afs_place_agent(env, (size_t)i, xy[i][0], xy[i][1]);
        env->f[i] = 1.0f;
    }
    env->f_c[0] = 40.0f;
    for (int i = 0; i < 4; i++)
        test_give(env, (size_t)i, 2.0f, 1.5f, 1.6f, 0.1f, 1); /* 256 MB */
    env->d_idle[2] = 0.3f; /* a network idle period for EN 2 */
}

static double xy_of(int i, int axis)
{
    static const double xy[5][2] = {{40, 50}, {60, 45}, {50, 70}, {160, 150}, {150, 40}};
    return xy[i][axis];
}

/* Interference at AP g from the offloaders of other APs (0..3 offload). */
static double interference(int g)
{
    int ap_of[4] = {0, 0, 0, 3};
    double sum = 0;
    for (int j = 0; j < 4; j++)
        if (ap_of[j] != g)
            sum += 0.1 * 0.5 * gain(xy_of(j, 0), xy_of(j, 1), ap_x[g], ap_y[g]);
    return sum;
}

Test(env, cloud_rate_sharing_interference_and_latency)
{
    afs_env env;
    afs_backend *b;
    cloud_layout(&env, &b);
    cr_assert_eq(env.ap[0], 0);
    cr_assert_eq(env.ap[2], 0);
    cr_assert_eq(env.ap[3], 3);
    cr_assert_eq(env.ap[4], 1);
    uint8_t act[5] = {0, 0, 0, 0, 1};
    test_step(&env, b, act);
    cr_assert_eq(env.n_ap[0], 3);
    cr_assert_eq(env.n_ap[1], 0);
    cr_assert_eq(env.n_ap[3], 1);
    near(env.i_ap[0] / interference(0), 1.0, "I_0");
    near(env.i_ap[3] / interference(3), 1.0, "I_3");
    for (int i = 0; i < 4; i++) {
        int g = i < 3 ? 0 : 3, n = i < 3 ? 3 : 1;
        double h = gain(xy_of(i, 0), xy_of(i, 1), ap_x[g], ap_y[g]);
        double r_tr = 5.0 / n * log2(1 + 0.5 * h / (NOISE_W + interference(g)));
        double r_re = 5.0 * log2(1 + 0.5 * h / NOISE_W);
        double idle = i == 2 ? 0.3 : 0.0;
        double d = 2.0 / 50 + (0.25 + 0.0005 * 256) + 2.0 / r_tr + 1.5 / 40.0 + 0.1 / r_re + idle;
        near(env.d_tr[i], 2.0 / r_tr, "d_tr = z / r_tr");
        near(env.d_re[i], 0.1 / r_re, "d_re = c / r_re");
        near(env.d_exec[i], 1.5 / 40.0, "d_exec = k / f_c");
        near(env.latency[i], d, "cloud latency");
        near(env.cost[i], 0.5 * 1.0 * 1.5 + 0.5 * d, "P = w1 rho k + w2 D_c");
        cr_assert_eq((env.flags[i] & AFS_F_SUCCESS) != 0, d <= 1.6, "success iff D <= T");
        near(env.reward[i], -(0.75 + 0.5 * d) - (d > 1.6 ? 2.0 : 0.0), "reward");
    }
    test_env_close(&env, b);
}

Test(env, broadcast_rate_is_the_rate_of_one_more_offloader)
{
    afs_env env;
    afs_backend *b;
    cloud_layout(&env, &b);
    uint8_t act[5] = {0, 0, 0, 0, 1};
    test_step(&env, b, act);
    /* EN 0 (AP 0, 3 offloaders): b / 4; EN 4 (AP 1, none): b / 1. */
    double h0 = gain(40, 50, ap_x[0], ap_y[0]);
    near(env.r_obs[0], 5.0 / 4 * log2(1 + 0.5 * h0 / (NOISE_W + interference(0))), "r_obs EN 0");
    double h4 = gain(150, 40, ap_x[1], ap_y[1]);
    near(env.r_obs[4], 5.0 / 1 * log2(1 + 0.5 * h4 / (NOISE_W + interference(1))), "r_obs EN 4");
    test_env_close(&env, b);
}

Test(env, cloud_containers_warm_from_the_next_slot)
{
    afs_env env;
    afs_backend *b;
    cloud_layout(&env, &b);
    uint8_t act[5] = {0, 0, 1, 1, 1};
    test_take(&env, 2);
    test_take(&env, 3);
    test_step(&env, b, act);
    /* Both offloaded type 1 in the same slot: both cold. */
    cr_assert(!(env.flags[0] & AFS_F_WARM));
    cr_assert(!(env.flags[1] & AFS_F_WARM));
    for (int i = 0; i < 5; i++)
        test_take(&env, (size_t)i);
    test_give(&env, 4, 1.0f, 1.0f, 9.0f, 0.1f, 1);
    test_give(&env, 3, 1.0f, 1.0f, 9.0f, 0.1f, 0);
    uint8_t act2[5] = {0, 0, 0, 0, 0};
    test_step(&env, b, act2);
    cr_assert(env.flags[4] & AFS_F_WARM, "type 1 ran in the cloud last slot");
    cr_assert(!(env.flags[3] & AFS_F_WARM), "type 0 never ran in the cloud");
    near(env.d_start[4], 0.01, "warm start");
    test_env_close(&env, b);
}

Test(env, metrics_aggregate_a_hand_built_slot)
{
    afs_env env;
    afs_backend *b;
    open_quiet(&env, &b, 4);
    for (int i = 0; i < 4; i++)
        env.f[i] = 2.0f;
    env.w[1] = 9.5f;
    test_give(&env, 0, 2.0f, 1.0f, 5.0f, 0.1f, 0);  /* local, succeeds */
    test_give(&env, 1, 2.0f, 1.0f, 1.6f, 0.1f, 0);  /* local, dropped */
    test_give(&env, 2, 2.0f, 1.0f, 0.05f, 0.1f, 0); /* cloud, late */
    uint8_t act[4] = {1, 1, 0, 1};                  /* EN 3 has no function */
    test_step(&env, b, act);
    afs_episode_sums s;
    b->env_metrics(b, &env, &s);
    cr_assert_eq(s.v[AFS_ACC_GENERATED], 3.0);
    cr_assert_eq(s.v[AFS_ACC_COMPLETED], 2.0);
    cr_assert_eq(s.v[AFS_ACC_SUCCESS], 1.0);
    cr_assert_eq(s.v[AFS_ACC_DROPPED], 1.0);
    cr_assert_eq(s.v[AFS_ACC_LATE], 1.0);
    cr_assert_eq(s.v[AFS_ACC_OFFLOADED], 1.0);
    cr_assert_eq(s.v[AFS_ACC_COLD], 2.0);
    double l0 = 0.04 + 0.314 + 0.0 + 0.5, l2 = env.latency[2];
    afs_episode_row row;
    afs_row_from_sums(&row, &s);
    near(row.mean_latency_s, (l0 + l2) / 2, "mean over the 2 completed");
    near(row.success_rate, 1.0 / 3, "success rate");
    near(row.drop_rate, 1.0 / 3, "drop rate");
    near(row.miss_rate, 1.0 / 3, "late rate");
    near(row.offload_fraction, 1.0 / 3, "offload fraction");
    near(row.cold_start_fraction, 1.0, "both completed were cold");
    near(row.mean_cost, (l0 + 1.6 + (0.5 + 0.5 * l2)) / 3, "mean cost");
    near(row.mean_reward, (-l0 + (-1.6 - 2) + (-(0.5 + 0.5 * l2) - 2)) / 3, "mean reward");
    cr_assert_eq(row.functions, 3);
    test_env_close(&env, b);
}

Test(env, empty_episode_gives_nan_not_zero)
{
    afs_episode_sums s;
    afs_episode_row row;
    memset(&s, 0, sizeof s);
    afs_row_from_sums(&row, &s);
    cr_assert(isnan(row.success_rate));
    cr_assert(isnan(row.mean_latency_s));
}

/* deadline: local when (w + k) / f <= alpha T and the queue takes it,
 * whatever the cloud would take. */
Test(env, deadline_runs_locally_what_meets_alpha_times_the_deadline)
{
    float o[AFS_OBS_DIM] = {0};
    /* w = 2, k = 1 (Gcycles), f = 2 GHz: 1.5 s locally; T = 1.6 s. */
    o[AFS_OBS_QUEUE] = 2.0f / 10.0f;
    o[AFS_OBS_K] = 1.0f / AFS_OBS_SCALE_K;
    o[AFS_OBS_F] = 2.0f / AFS_OBS_SCALE_F;
    o[AFS_OBS_DEADLINE] = 1.6f / AFS_OBS_SCALE_DEADLINE;
    o[AFS_OBS_R_TR] = 1000.0f / AFS_OBS_SCALE_RATE; /* a cloud far faster: not looked at */
    o[AFS_OBS_F_C] = 40.0f / AFS_OBS_SCALE_F_C;
    cr_assert_eq(afs_deadline_action(o, 10.0f, 1.0f), 1, "1.5 s <= 1.6 s: local");
    cr_assert_eq(afs_deadline_action(o, 10.0f, 0.9f), 0, "1.5 s > 0.9 x 1.6 = 1.44 s: cloud");
    cr_assert_eq(afs_deadline_action(o, 10.0f, 0.95f), 1, "1.5 s <= 1.52 s: local");
    o[AFS_OBS_QUEUE] = 9.5f / 10.0f; /* 9.5 + 1 > 10: the queue cannot take it */
    cr_assert_eq(afs_deadline_action(o, 10.0f, 100.0f), 0, "full queue: cloud");
}

Test(env, greedy_picks_the_smaller_estimate)
{
    float o[AFS_OBS_DIM] = {0};
    /* w = 2, k = 1, f = 1: edge 3 s. z = 2 Mbit at 1 Mbit/s + 1/40: cloud 2.025 s. */
    o[AFS_OBS_QUEUE] = 2.0f / 10.0f;
    o[AFS_OBS_K] = 1.0f / AFS_OBS_SCALE_K;
    o[AFS_OBS_Z] = 2.0f / AFS_OBS_SCALE_Z;
    o[AFS_OBS_F] = 1.0f / AFS_OBS_SCALE_F;
    o[AFS_OBS_F_C] = 40.0f / AFS_OBS_SCALE_F_C;
    o[AFS_OBS_R_TR] = 1.0f / AFS_OBS_SCALE_RATE;
    cr_assert_eq(afs_greedy_action(o, 10.0f), 0, "cloud is faster");
    o[AFS_OBS_R_TR] = 100.0f / AFS_OBS_SCALE_RATE; /* cloud 0.045 s */
    o[AFS_OBS_QUEUE] = 0.0f;                      /* edge 1 s */
    cr_assert_eq(afs_greedy_action(o, 10.0f), 0);
    o[AFS_OBS_F] = 3.5f / AFS_OBS_SCALE_F;
    o[AFS_OBS_R_TR] = 1.0f / AFS_OBS_SCALE_RATE; /* edge 0.29 s, cloud 2.03 s */
    cr_assert_eq(afs_greedy_action(o, 10.0f), 1, "edge is faster");
    o[AFS_OBS_QUEUE] = 9.5f / 10.0f; /* 9.5 + 1 > 10: the queue cannot take it */
    cr_assert_eq(afs_greedy_action(o, 10.0f), 0, "full queue: cloud");
}

/* docs/model.md: success is D <= T. A latency exactly at the deadline
 * succeeds, one a float below it (nextafterf towards 0) is late, at either
 * location, with the reward each implies: -R on time, -R - miss_penalty
 * late. The latencies are exact in float (test_exact_open), so the
 * boundary is hit exactly, not within a rounding. */
Test(env, a_latency_exactly_at_the_deadline_succeeds_and_one_ulp_over_is_late)
{
    for (int local = 0; local < 2; local++)
        for (int late = 0; late < 2; late++) {
            float d = local ? TEST_EXACT_EDGE_S : TEST_EXACT_CLOUD_S;
            float cost = local ? d : TEST_EXACT_CLOUD_COST;
            afs_env env;
            afs_backend *b;
            test_exact_open(&env, &b, local, late ? nextafterf(d, 0.0f) : d);
            uint8_t act[1] = {(uint8_t)local};
            test_step(&env, b, act);
            const char *where = local ? "edge" : "cloud";
            cr_assert_eq(env.latency[0], d, "%s: latency %.9g, by hand %.9g", where, env.latency[0], d);
            cr_assert_eq((env.flags[0] & AFS_F_SUCCESS) != 0, !late, "%s, late %d: success flag", where, late);
            cr_assert_eq((env.flags[0] & AFS_F_LATE) != 0, late, "%s, late %d: late flag", where, late);
            cr_assert_eq(env.cost[0], cost, "%s: cost %.9g, by hand %.9g", where, env.cost[0], cost);
            cr_assert_eq(env.reward[0], -cost - (late ? 2.0f : 0.0f), "%s, late %d: reward %.9g", where,
                         late, env.reward[0]);
            test_env_close(&env, b);
        }
}

/* The cloud's cost P = w1 rho k + w2 D (paper eq. 3) with w1 != w2 (the
 * defaults make them equal, so a swap would pass every other test): 0.25 x
 * 3 x 1 + 0.75 x 0.6640625 = 1.248046875, exact in float; swapped it would
 * be 0.75 x 3 + 0.25 x 0.6640625 = 2.416. */
Test(env, the_cloud_cost_weighs_compute_by_w1_and_latency_by_w2)
{
    afs_env env;
    afs_backend *b;
    test_exact_open(&env, &b, 0, 10.0f);
    env.p.rho = 3.0f;
    uint8_t act[1] = {0};
    test_step(&env, b, act);
    cr_assert_eq(env.latency[0], TEST_EXACT_CLOUD_S);
    cr_assert_eq(env.cost[0], 1.248046875f, "P = %.9g, by hand 1.248046875", env.cost[0]);
    cr_assert_eq(env.reward[0], -1.248046875f, "on time: reward -P");
    test_env_close(&env, b);
}
