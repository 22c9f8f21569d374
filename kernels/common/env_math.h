/* The environment's per-element math, written once for both backends.
 * Every equation is in docs/model.md with its units; this file follows it line
 * for line. Functions here touch only agent i's (or environment e's) entries,
 * so a CPU loop and a CUDA thread can call them alike; sums over agents (per-AP
 * load, metrics) are left to the backend, which must sum in a fixed order. */
#ifndef AFS_ENV_MATH_H
#define AFS_ENV_MATH_H

#include <math.h>
#include "afs_hd.h"
#include "env_state.h"
#include "fastmath.h"
#include "rng.h"

/* ---- Observation: the paper's state S, scaled to O(1). ---- */
enum afs_obs_field {
    AFS_OBS_DEADLINE, AFS_OBS_K, AFS_OBS_Z, AFS_OBS_HAS, AFS_OBS_QUEUE,
    AFS_OBS_MU, AFS_OBS_R_RE, AFS_OBS_R_TR, AFS_OBS_F, AFS_OBS_F_C, AFS_OBS_DIM
};
/* Divisors: observation = quantity / scale (docs/model.md, "Observation"). */
#define AFS_OBS_SCALE_DEADLINE 2.0f   /* s */
#define AFS_OBS_SCALE_K 2.0f          /* Gcycles */
#define AFS_OBS_SCALE_Z 3.0f          /* Mbit */
#define AFS_OBS_SCALE_RATE 100.0f     /* Mbit/s */
#define AFS_OBS_SCALE_F 3.5f          /* GHz */
#define AFS_OBS_SCALE_F_C 50.0f       /* GHz */
/* the queue is scaled by its capacity */

/* best_response starts from greedy's actions, which the backend then
 * improves over each environment (afs_best_response_env, below). */
enum afs_policy {
    AFS_POLICY_RANDOM, AFS_POLICY_GREEDY, AFS_POLICY_ALL_LOCAL,
    AFS_POLICY_ALL_CLOUD, AFS_POLICY_BEST_RESPONSE, AFS_POLICY_DEADLINE, AFS_POLICY_N
};

/* ---- Radio ---- */

/* Power gain from path loss 128.1 + 37.6 log10(d_km) dB, d at least 1 m. */
AFS_HDI float afs_path_gain(float dist_m)
{
    /* fmaxf(dist_m, 1) to the bit (NaN too), in a form the CPU vectorizes */
    float d_km = (dist_m > 1.0f ? dist_m : 1.0f) / 1000.0f;
    float loss_db = 128.1f + 37.6f * (afs_log2f(d_km) * AFS_LOG10_2);
    return afs_exp2f(-loss_db / 10.0f * AFS_LOG2_10);
}

/* Noise power sigma^2 in W from dBm. */
AFS_HD float afs_noise_w(float dbm)
{
    return powf(10.0f, (dbm - 30.0f) / 10.0f);
}

/* log2(1 + SINR), bit/s/Hz: the part of a Shannon rate that does not
 * depend on how the band is shared. */
AFS_HDI float afs_spectral_efficiency(float rx_power_w, float noise_interf_w)
{
    return afs_log2f(1.0f + rx_power_w / noise_interf_w);
}

/* The rate, Mbit/s, of a link of spectral efficiency se on a band b (MHz)
 * shared equally by `share` users. */
AFS_HDI float afs_rate_at(float b_mhz, int share, float se)
{
    return (b_mhz / (float)share) * se;
}

/* Shannon rate of a band b (MHz) shared equally by `share` users, Mbit/s. */
AFS_HDI float afs_rate(float b_mhz, int share, float rx_power_w,
                      float noise_interf_w)
{
    return afs_rate_at(b_mhz, share, afs_spectral_efficiency(rx_power_w, noise_interf_w));
}

/* Cell index of a coordinate on a grid of `grid` cells of side `cell`. */
AFS_HDI int afs_cell_of(float coord, float cell, int grid)
{
    float c = coord / cell; /* clamped in float: no out-of-range cast, NaN gives 0 */
    return c >= (float)grid ? grid - 1 : c > 0.0f ? (int)c : 0;
}

/* AP of a position: the grid cell it falls in, which is the nearest AP
 * centre of a regular grid (integer result, identical on every backend). */
AFS_HDI int afs_ap_of(float x, float y, const afs_env_params *p)
{
    float cell = p->area_m / (float)p->ap_grid;
    return afs_cell_of(y, cell, p->ap_grid) * p->ap_grid + afs_cell_of(x, cell, p->ap_grid);
}

AFS_HDI float afs_ap_centre(int coord, const afs_env_params *p)
{
    return ((float)coord + 0.5f) * (p->area_m / (float)p->ap_grid);
}

/* ---- Serverless start ---- */

AFS_HDI float afs_memory_mb(int type, const afs_env_params *p)
{
    return p->mem_base_mb * (float)(1 << (type % 4));
}

/* Warm when the type ran at this location within the last keep_alive slots. */
AFS_HDI int afs_is_warm(int32_t last_use, int32_t slot, int keep_alive)
{
    return (last_use != AFS_NEVER) & (last_use >= slot - keep_alive); /* no branch */
}

AFS_HDI float afs_container_start(int warm, int type, const afs_env_params *p)
{
    return warm ? p->d_warm
                : p->cold_base + p->cold_per_mb * afs_memory_mb(type, p);
}

/* ---- Episode start ---- */

/* Puts agent i at (x, y): its gains to every AP, its AP, its downlink rate,
 * and the uplink rate it sees before anybody offloads. */
AFS_HD void afs_place_agent(const afs_env *env, size_t i, float x, float y)
{
    const afs_env_params *p = &env->p;
    env->pos_x[i] = x;
    env->pos_y[i] = y;
    for (int g = 0; g < env->G; g++) {
        float dx = x - afs_ap_centre(g % p->ap_grid, p);
        float dy = y - afs_ap_centre(g / p->ap_grid, p);
        env->gain[i * env->G + g] = afs_path_gain(sqrtf(dx * dx + dy * dy));
    }
    int ap = afs_ap_of(x, y, p);
    float h = env->gain[i * env->G + ap];
    env->ap[i] = ap;
    env->h_own[i] = h;
    env->r_re[i] = afs_rate(p->b_tr, 1, p->p_tx * h, env->noise_w);
    env->r_obs[i] = env->r_re[i];
}

/* Draws EN m's position and properties; clears its queue and containers. */
AFS_HD void afs_reset_agent(const afs_env *env, int e, int m)
{
    const afs_env_params *p = &env->p;
    size_t i = (size_t)e * env->M + m;
    afs_block b = afs_philox(env->seed, AFS_STREAM_RESET, (uint32_t)e,
                             (uint32_t)m, env->episode, 0);
    afs_place_agent(env, i, afs_uniform(b.v[0], 0.0f, p->area_m),
                    afs_uniform(b.v[1], 0.0f, p->area_m));
    env->f[i] = afs_uniform(b.v[2], p->f_min, p->f_max);
    env->mu[i] = afs_uniform(b.v[3], p->mu_min, p->mu_max);
    env->w[i] = 0.0f;
    for (int t = 0; t < env->NT; t++)
        env->last_edge[i * env->NT + t] = AFS_NEVER;
    env->flags[i] = 0;
}

AFS_HD void afs_reset_env(const afs_env *env, int e)
{
    afs_block b = afs_philox(env->seed, AFS_STREAM_RESET, (uint32_t)e,
                             AFS_AGENT_NONE, env->episode, 0);
    env->f_c[e] = afs_uniform(b.v[0], env->p.fc_min, env->p.fc_max);
    for (int t = 0; t < env->NT; t++)
        env->last_cloud[(size_t)e * env->NT + t] = AFS_NEVER;
    for (int g = 0; g < env->G; g++) {
        env->n_ap[(size_t)e * env->G + g] = 0;
        env->i_ap[(size_t)e * env->G + g] = 0.0f;
    }
    for (int a = 0; a < AFS_ACC_N; a++)
        env->acc[(size_t)e * AFS_ACC_N + a] = 0.0;
}

/* ---- Slot phase 1: arrivals ---- */

/* What arrives at an EN this slot, drawn from its two blocks of the slot:
 * b0 {arrival, z, k, T} and b1 {c, type, idle?, idle length}, b1 read only
 * when a function arrived. Branch-free (every draw made, the unused ones
 * masked), so that the CPU computes it for many agents at once. */
typedef struct afs_arrival {
    uint32_t flags;
    int32_t type;
    float z, k, dl, c, d_idle;
} afs_arrival;

AFS_HDI afs_arrival afs_arrival_of(const afs_env_params *p, int NT, float mu, afs_block b0,
                                  afs_block b1)
{
    int has = afs_bernoulli(b0.v[0], mu);
    float idle = afs_bernoulli(b1.v[2], p->idle_prob) ? afs_exponential(b1.v[3], p->idle_mean)
                                                      : 0.0f;
    afs_arrival a;
    a.flags = has ? AFS_F_HAS : 0u;
    a.type = has ? (int32_t)afs_int_below(b1.v[1], (uint32_t)NT) : 0;
    a.z = has ? afs_uniform(b0.v[1], p->z_min, p->z_max) : 0.0f;
    a.k = has ? afs_uniform(b0.v[2], p->k_min, p->k_max) * p->k_scale : 0.0f;
    a.dl = has ? p->t_mean + afs_uniform(b0.v[3], -p->t_jitter, p->t_jitter) : 0.0f;
    a.c = has ? afs_uniform(b1.v[0], p->c_min, p->c_max) : 0.0f;
    a.d_idle = has ? idle : 0.0f;
    return a;
}

/* The Philox counter word of block `block` of this slot. */
AFS_HDI uint32_t afs_slot_counter(const afs_env *env, uint32_t block)
{
    return (uint32_t)env->slot * AFS_BLOCKS_PER_SLOT + block;
}

AFS_HD void afs_store_arrival(const afs_env *env, size_t i, afs_arrival a)
{
    env->flags[i] = a.flags;
    env->type[i] = a.type;
    env->z[i] = a.z;
    env->k[i] = a.k;
    env->dl[i] = a.dl;
    env->c[i] = a.c;
    env->d_idle[i] = a.d_idle;
}

AFS_HD void afs_arrive_agent(const afs_env *env, int e, int m)
{
    size_t i = (size_t)e * env->M + m;
    afs_block b0 = afs_philox(env->seed, AFS_STREAM_SLOT, (uint32_t)e, (uint32_t)m,
                              env->episode, afs_slot_counter(env, 0));
    afs_block b1 = {{0u, 0u, 0u, 0u}};
    if (afs_bernoulli(b0.v[0], env->mu[i])) /* the second block only when needed */
        b1 = afs_philox(env->seed, AFS_STREAM_SLOT, (uint32_t)e, (uint32_t)m, env->episode,
                        afs_slot_counter(env, 1));
    afs_store_arrival(env, i, afs_arrival_of(&env->p, env->NT, env->mu[i], b0, b1));
}

/* ---- Slot phase 2: observe and decide ---- */

/* Writes agent i = e * M + m's observation row o[AFS_OBS_DIM]. */
AFS_HDI void afs_observe_agent(const afs_env *env, int e, int m, float *o)
{
    size_t i = (size_t)e * env->M + m;
    o[AFS_OBS_DEADLINE] = env->dl[i] / AFS_OBS_SCALE_DEADLINE;
    o[AFS_OBS_K] = env->k[i] / AFS_OBS_SCALE_K;
    o[AFS_OBS_Z] = env->z[i] / AFS_OBS_SCALE_Z;
    o[AFS_OBS_HAS] = (env->flags[i] & AFS_F_HAS) ? 1.0f : 0.0f;
    o[AFS_OBS_QUEUE] = env->w[i] / env->p.queue_cap;
    o[AFS_OBS_MU] = env->mu[i];
    o[AFS_OBS_R_RE] = env->r_re[i] / AFS_OBS_SCALE_RATE;
    o[AFS_OBS_R_TR] = env->r_obs[i] / AFS_OBS_SCALE_RATE;
    o[AFS_OBS_F] = env->f[i] / AFS_OBS_SCALE_F;
    o[AFS_OBS_F_C] = env->f_c[e] / AFS_OBS_SCALE_F_C;
}

/* Greedy: the location with the smaller completion time estimated from the
 * observation alone. Both estimates omit the upload z / r_up (the same at
 * either location) and the container start and result return (not observed).
 * A queue that cannot take the function makes the edge estimate infinite. */
AFS_HDI int afs_greedy_action(const float *o, float queue_cap)
{
    float w = o[AFS_OBS_QUEUE] * queue_cap;
    float k = o[AFS_OBS_K] * AFS_OBS_SCALE_K;
    float z = o[AFS_OBS_Z] * AFS_OBS_SCALE_Z;
    float f = o[AFS_OBS_F] * AFS_OBS_SCALE_F;
    float f_c = o[AFS_OBS_F_C] * AFS_OBS_SCALE_F_C;
    float r_tr = o[AFS_OBS_R_TR] * AFS_OBS_SCALE_RATE;
    if (w + k > queue_cap)
        return 0;
    return (w + k) / f <= z / r_tr + k / f_c;
}

/* Deadline: run at the EN when its own estimate of local completion, the
 * queue ahead plus the function itself at its CPU rate, is within alpha
 * times the function's deadline, and the queue can take it; else the
 * cloud. Unlike greedy it never compares with the cloud, whose estimate
 * every EN of an AP shares and follows at once (greedy's herding): it
 * offloads only what would miss locally. alpha (deadline.alpha) trades
 * local misses (too high) against cloud congestion and cost (too low). */
AFS_HDI int afs_deadline_action(const float *o, float queue_cap, float alpha)
{
    float w = o[AFS_OBS_QUEUE] * queue_cap;
    float k = o[AFS_OBS_K] * AFS_OBS_SCALE_K;
    float f = o[AFS_OBS_F] * AFS_OBS_SCALE_F;
    float t = o[AFS_OBS_DEADLINE] * AFS_OBS_SCALE_DEADLINE;
    if (w + k > queue_cap)
        return 0;
    return (w + k) / f <= alpha * t;
}

/* What each heuristic policy is, said once: both forms of the decision,
 * the per-agent one below (CUDA, the scalar CPU reference) and the CPU's
 * vectorized one (kernels/cpu/slot_cpu.c), dispatch on a policy's rule,
 * and the backends run best_response's descent where the rule asks for
 * it. A new heuristic is its enum afs_policy value, its name
 * (core/policy_names.c) and its rule here; one that reads the observation
 * in a new way adds a kind and its action function as well. */
enum afs_rule_kind {
    AFS_RULE_COIN,     /* a fair coin per agent and slot (stream AFS_STREAM_POLICY) */
    AFS_RULE_CONSTANT, /* the same action for every agent */
    AFS_RULE_GREEDY,   /* afs_greedy_action on the agent's observation */
    AFS_RULE_DEADLINE, /* afs_deadline_action, with deadline.alpha */
};

typedef struct afs_policy_rule {
    int kind;         /* enum afs_rule_kind */
    uint8_t action;   /* AFS_RULE_CONSTANT's action */
    int descent;      /* then best_response's descent over each environment
                       * (afs_best_response_env), starting from these actions */
} afs_policy_rule;

AFS_HDI afs_policy_rule afs_rule(int kind, int action, int descent)
{
    afs_policy_rule r;
    r.kind = kind;
    r.action = (uint8_t)action;
    r.descent = descent;
    return r;
}

AFS_HDI afs_policy_rule afs_policy_rule_of(int policy)
{
    switch (policy) {
    case AFS_POLICY_RANDOM: return afs_rule(AFS_RULE_COIN, 0, 0);
    case AFS_POLICY_GREEDY: return afs_rule(AFS_RULE_GREEDY, 0, 0);
    case AFS_POLICY_ALL_LOCAL: return afs_rule(AFS_RULE_CONSTANT, 1, 0);
    case AFS_POLICY_BEST_RESPONSE: return afs_rule(AFS_RULE_GREEDY, 0, 1);
    case AFS_POLICY_DEADLINE: return afs_rule(AFS_RULE_DEADLINE, 0, 0);
    default: return afs_rule(AFS_RULE_CONSTANT, 0, 0); /* all_cloud */
    }
}

/* The action of an observation rule (AFS_RULE_GREEDY, AFS_RULE_DEADLINE)
 * on observation row o; a constant kind folds the choice away. */
AFS_HDI int afs_observed_action(int kind, const float *o, float queue_cap, float alpha)
{
    return kind == AFS_RULE_DEADLINE ? afs_deadline_action(o, queue_cap, alpha)
                                     : afs_greedy_action(o, queue_cap);
}

/* The coin of AFS_RULE_COIN for agent m of environment e this slot, from
 * its Philox block's first word. */
AFS_HDI int afs_coin_action(uint32_t word) { return afs_bernoulli(word, 0.5f); }

/* Action of a heuristic policy for agent i = e * M + m, whose observation
 * row is o: 1 = run at the EN, 0 = cloud (before any descent). */
AFS_HD uint8_t afs_heuristic_action(const afs_env *env, int policy, int e,
                                    int m, const float *o)
{
    afs_policy_rule r = afs_policy_rule_of(policy);
    switch (r.kind) {
    case AFS_RULE_COIN: {
        afs_block b = afs_philox(env->seed, AFS_STREAM_POLICY, (uint32_t)e,
                                 (uint32_t)m, env->episode, afs_slot_counter(env, 0));
        return (uint8_t)afs_coin_action(b.v[0]);
    }
    case AFS_RULE_CONSTANT:
        return r.action;
    default:
        return (uint8_t)afs_observed_action(r.kind, o, env->p.queue_cap, env->p.deadline_alpha);
    }
}

/* ---- Slot phase 3: outcome of each function ---- */

/* Offloaders' contribution to the per-AP sums: n_ap[g] += 1 for the EN's own
 * AP; i_ap[g] += reuse * p * h_{i,g} for every other AP g. */
AFS_HDI int afs_offloads(const afs_env *env, size_t i, uint8_t action)
{
    return (env->flags[i] & AFS_F_HAS) && action == 0;
}

AFS_HDI float afs_interference_term(const afs_env *env, size_t i, int g)
{
    return env->p.reuse * env->p.p_tx * env->gain[i * env->G + g];
}

/* Outcome terms as pure functions of the slot's start, so that the step
 * (which stores them) and best_response's descent (which only weighs them)
 * compute the same floats. */

/* Warmth at the slot's start (no within-slot warmth, docs/model.md). */
AFS_HD int afs_edge_warm(const afs_env *env, size_t i)
{
    return afs_is_warm(env->last_edge[i * env->NT + env->type[i]], env->slot,
                       env->p.keep_alive);
}

AFS_HD int afs_cloud_warm(const afs_env *env, int e, size_t i)
{
    return afs_is_warm(env->last_cloud[(size_t)e * env->NT + env->type[i]],
                       env->slot, env->p.keep_alive);
}

/* Rate of an EN of power gain h to its AP, in a band shared by n ENs
 * under interference interf (W). */
AFS_HDI float afs_shared_rate(const afs_env *env, float h, int n, float interf)
{
    const afs_env_params *p = &env->p;
    return afs_rate(p->b_tr, n, p->p_tx * h, env->noise_w + interf);
}

/* The spectral efficiency of that link: the CPU computes it once for an
 * EN's uplink rate and the rate its AP broadcasts (afs_rate_at of the
 * two shares), the same floats as the two afs_shared_rate. */
AFS_HDI float afs_shared_efficiency(const afs_env *env, float h, float interf)
{
    return afs_spectral_efficiency(env->p.p_tx * h, env->noise_w + interf);
}

/* Uplink rate of offloader i of an AP with n offloaders and interference
 * interf (W). */
AFS_HD float afs_uplink_rate(const afs_env *env, size_t i, int n, float interf)
{
    return afs_shared_rate(env, env->h_own[i], n, interf);
}

/* Cost R of a completed function (paper eq. 3). */
AFS_HDI float afs_cost(const afs_env_params *p, int local, float latency, float k)
{
    return local ? latency : p->w1 * p->rho * k + p->w2 * latency;
}

AFS_HDI float afs_reward_of(const afs_env_params *p, float cost, int failed)
{
    return -cost - (failed ? p->miss_penalty : 0.0f);
}

/* What agent i's function costs and how it ends, given the slot's start
 * (its own state, warmth at either location, the uplink rate it would get
 * in the cloud) and its action. Branch-free, as afs_arrival_of. */
typedef struct afs_outcome_in {
    uint32_t flags;
    int local;          /* the action: 1 = at the EN */
    int warm_edge, warm_cloud;
    int32_t type;
    float w, z, k, f, dl, c, d_idle;
    float r_tr;         /* uplink rate if offloaded (read only then) */
    float f_c, r_re;
} afs_outcome_in;

typedef struct afs_outcome {
    uint32_t flags;
    int runs_edge;      /* admitted into the EN's queue: its container is used */
    float w;            /* the queue after admission */
    float d_up, d_start, d_wait, d_exec, d_tr, d_re, d_idle, latency, cost, reward;
} afs_outcome;

AFS_HDI afs_outcome afs_outcome_of(const afs_env_params *p, afs_outcome_in a)
{
    /* 0/1 flags combined with & | ^, not && || !: no branch, and one
     * integer width through the loop for the vectorizer */
    int has = (a.flags & AFS_F_HAS) != 0u;
    int local = has & a.local, cloud = has & (a.local ^ 1);
    int dropped = local & (a.w + a.k > p->queue_cap); /* queue full: not run */
    int runs = has & (dropped ^ 1);
    int warm = local ? a.warm_edge : a.warm_cloud;
    afs_outcome o;
    o.runs_edge = local & (dropped ^ 1);
    o.w = o.runs_edge ? a.w + a.k : a.w;
    o.d_up = runs ? a.z / p->r_up : 0.0f;
    o.d_start = runs ? afs_container_start(warm, a.type, p) : 0.0f;
    o.d_wait = o.runs_edge ? a.w / a.f : 0.0f;
    o.d_exec = o.runs_edge ? a.k / a.f : cloud ? a.k / a.f_c : 0.0f;
    o.d_tr = cloud ? a.z / a.r_tr : 0.0f;
    o.d_re = cloud ? a.c / a.r_re : 0.0f;
    o.d_idle = local ? 0.0f : a.d_idle; /* an idle network delays offloads only */
    float at_edge = o.d_up + o.d_start + o.d_wait + o.d_exec;
    float in_cloud = o.d_up + o.d_start + o.d_tr + o.d_exec + o.d_re + o.d_idle;
    o.latency = o.runs_edge ? at_edge : cloud ? in_cloud : 0.0f;
    int late = runs & (o.latency > a.dl);
    /* each 0 or 1 times its bit: no select per flag (the selects cost the
     * CPU's vectorized step 0.5 ns an agent, 2%) */
    o.flags = a.flags | (uint32_t)local * AFS_F_LOCAL | (uint32_t)(has & warm) * AFS_F_WARM |
              (uint32_t)dropped * AFS_F_DROPPED | (uint32_t)late * AFS_F_LATE |
              (uint32_t)(runs & (late ^ 1)) * AFS_F_SUCCESS;
    o.cost = dropped ? a.dl /* charged its whole deadline */
           : runs ? afs_cost(p, local, o.latency, a.k) : 0.0f;
    o.reward = has ? afs_reward_of(p, o.cost, dropped | late) : 0.0f;
    return o;
}

/* Agent i's inputs to afs_outcome_of; n and interf are its AP's offloader
 * count and interference this slot. */
AFS_HD afs_outcome_in afs_outcome_input(const afs_env *env, int e, size_t i, uint8_t action,
                                        int n, float interf)
{
    afs_outcome_in a;
    a.flags = env->flags[i];
    a.local = action != 0;
    /* only the chosen location's warmth is read: one lookup, not two */
    a.warm_edge = a.warm_cloud = a.local ? afs_edge_warm(env, i) : afs_cloud_warm(env, e, i);
    a.type = env->type[i];
    a.w = env->w[i];
    a.z = env->z[i];
    a.k = env->k[i];
    a.f = env->f[i];
    a.dl = env->dl[i];
    a.c = env->c[i];
    a.d_idle = env->d_idle[i];
    /* read only for an offload (whose EN is one of its AP's n >= 1): a GPU
     * thread skips the logarithm, and its registers, for the others */
    a.r_tr = (a.flags & AFS_F_HAS) && !a.local ? afs_uplink_rate(env, i, n, interf) : 1.0f;
    a.f_c = env->f_c[e];
    a.r_re = env->r_re[i];
    return a;
}

AFS_HD void afs_store_outcome(const afs_env *env, size_t i, float w_before, afs_outcome o)
{
    env->flags[i] = o.flags;
    env->w_before[i] = w_before;
    env->w[i] = o.w;
    env->d_up[i] = o.d_up;
    env->d_start[i] = o.d_start;
    env->d_wait[i] = o.d_wait;
    env->d_exec[i] = o.d_exec;
    env->d_tr[i] = o.d_tr;
    env->d_re[i] = o.d_re;
    env->d_idle[i] = o.d_idle;
    env->latency[i] = o.latency;
    env->cost[i] = o.cost;
    env->reward[i] = o.reward;
    if (o.runs_edge)
        env->last_edge[i * env->NT + env->type[i]] = env->slot;
}

/* Everything of slot phase 3 for agent i except the per-environment sums;
 * n_ap and i_ap hold this slot's. */
AFS_HD void afs_outcome_agent(const afs_env *env, int e, size_t i, uint8_t action)
{
    size_t eg = (size_t)e * env->G + env->ap[i];
    float w_before = env->w[i];
    afs_outcome_in a = afs_outcome_input(env, e, i, action, env->n_ap[eg], env->i_ap[eg]);
    afs_store_outcome(env, i, w_before, afs_outcome_of(&env->p, a));
}

/* The counting accumulators' increments for an outcome with flags fl,
 * each 0 or 1 (enum afs_metric_slot up to AFS_ACC_COLD): sums of these are
 * exact in any order. */
#define AFS_ACC_COUNTS (AFS_ACC_COLD + 1)
AFS_HDI void afs_outcome_counts(uint32_t fl, int *c)
{
    /* each flag as 0 or 1 by a shift, not a comparison: GCC vectorizes the
     * CPU's sum of these over agents only then */
    int has = (int)(fl / AFS_F_HAS & 1u), local = (int)(fl / AFS_F_LOCAL & 1u);
    int warm = (int)(fl / AFS_F_WARM & 1u), dropped = (int)(fl / AFS_F_DROPPED & 1u);
    int done = has & (dropped ^ 1);
    c[AFS_ACC_GENERATED] = has;
    c[AFS_ACC_COMPLETED] = done;
    c[AFS_ACC_SUCCESS] = (int)(fl / AFS_F_SUCCESS & 1u);
    c[AFS_ACC_DROPPED] = has & dropped;
    c[AFS_ACC_LATE] = (int)(fl / AFS_F_LATE & 1u);
    c[AFS_ACC_OFFLOADED] = has & (local ^ 1);
    c[AFS_ACC_COLD] = done & (warm ^ 1);
}

/* The latency the accumulator counts: a completed function's, else +0.0f,
 * by a mask (the sum a select would give, without the branch compilers
 * make of the select, mispredicted in the CPU's ordered pass). */
AFS_HDI float afs_counted_latency(uint32_t fl, float latency)
{
    uint32_t done = ((fl & AFS_F_HAS) != 0u) & ((fl & AFS_F_DROPPED) == 0u);
    return afs_bits_float(afs_float_bits(latency) & (0u - done));
}

/* The accumulators that sum floats (latency, cost, reward), whose totals
 * depend on the order of the additions. (The CPU's ordered pass,
 * kernels/cpu/slot_cpu.c, adds the same three doubles to locals.) */
AFS_HDI void afs_accumulate_floats(double *acc, uint32_t fl, float latency, float cost,
                                   float reward)
{
    acc[AFS_ACC_LATENCY] += (double)afs_counted_latency(fl, latency);
    acc[AFS_ACC_COST] += cost;
    acc[AFS_ACC_REWARD] += reward;
}

/* Adds an outcome to a per-environment accumulator row. An EN without a
 * function adds zeros, which leave every sum as it was. */
AFS_HDI void afs_accumulate_outcome(double *acc, uint32_t fl, float latency, float cost,
                                    float reward)
{
    int c[AFS_ACC_COUNTS];
    afs_outcome_counts(fl, c);
    for (int a = 0; a < AFS_ACC_COUNTS; a++)
        acc[a] += c[a];
    afs_accumulate_floats(acc, fl, latency, cost, reward);
}

AFS_HD void afs_accumulate(const afs_env *env, size_t i, double *acc)
{
    if (!(env->flags[i] & AFS_F_HAS)) /* adds only zeros: a GPU thread skips it */
        return;
    afs_accumulate_outcome(acc, env->flags[i], env->latency[i], env->cost[i], env->reward[i]);
}

/* Episode total of accumulator a over every environment, in environment
 * order (the one order both backends use, so their totals agree). */
AFS_HD double afs_sum_over_envs(const afs_env *env, int a)
{
    double total = 0.0;
    for (int e = 0; e < env->E; e++)
        total += env->acc[(size_t)e * AFS_ACC_N + a];
    return total;
}

/* Bit of a cloud container type used this slot (types < AFS_MAX_TYPES). */
AFS_HDI uint32_t afs_cloud_type_bit(const afs_env *env, size_t i)
{
    uint32_t fl = env->flags[i];
    uint32_t to_cloud = (fl & (AFS_F_HAS | AFS_F_LOCAL)) == AFS_F_HAS;
    return to_cloud << env->type[i]; /* type: 0 .. NT - 1, also without a function */
}

/* ---- Slot phases 4-5: end of slot ---- */

/* The queue after a slot of work at CPU f. */
AFS_HDI float afs_drained(const afs_env_params *p, float w, float f)
{
    float left = w - f * p->slot_s;
    return left > 0.0f ? left : 0.0f;
}

/* The rate an AP with n offloaders and interference interf broadcasts to
 * an EN of gain h for next slot: the rate a new offloader would have had
 * this slot. */
AFS_HDI float afs_broadcast_rate(const afs_env *env, float h, int n, float interf)
{
    return afs_shared_rate(env, h, n + 1, interf);
}

/* Drains agent i's queue and sets the rate its AP broadcasts for next slot. */
AFS_HD void afs_end_slot_agent(const afs_env *env, int e, size_t i)
{
    size_t eg = (size_t)e * env->G + env->ap[i];
    env->w[i] = afs_drained(&env->p, env->w[i], env->f[i]);
    env->r_obs[i] = afs_broadcast_rate(env, env->h_own[i], env->n_ap[eg], env->i_ap[eg]);
}

AFS_HD void afs_mark_cloud_types(const afs_env *env, int e, uint32_t used)
{
    for (int t = 0; t < env->NT; t++)
        if (used & (1u << t))
            env->last_cloud[(size_t)e * env->NT + t] = env->slot;
}


/* ---- best_response: coordinated descent over one environment's slot ----
 *
 * Starting from greedy's actions, ENs with a function are visited in index
 * order m = 0 .. M-1, round after round; EN m switches location when that
 * raises the environment's total reward this slot by more than
 * afs_br_margin. It stops after a round without a switch or after
 * p.br_rounds rounds. The total is what the step would pay: each EN's
 * reward as afs_score defines it, with the true per-AP offloader counts and
 * interference the actions produce, its own queue, and warmth as at the
 * slot's start.
 *
 * Why the total and not each EN's own latency: in this congestion game a
 * selfish best response can end worse than greedy (an EN that moves to the
 * cloud slows every other offloader of its AP and, by interference, of the
 * others), whereas ascent on the total never ends below greedy and stops
 * where no single switch helps the environment: a coordinated bound for the
 * learned policies (docs/model.md). One whole descent is this one function,
 * so that the CPU's loop over environments and one CUDA thread per
 * environment run the same float operations. */

/* A switch must gain more than this to be taken: 1e-6 of the total (plus
 * 1e-9 for a total of 0). The backends' states differ in the last bits
 * (they sum each AP's interference in different orders); without a margin
 * a switch worth nothing would split them. */
#define AFS_BR_MARGIN_REL 1e-6
#define AFS_BR_MARGIN_ABS 1e-9

AFS_HD double afs_br_margin(double total)
{
    return AFS_BR_MARGIN_REL * fabs(total) + AFS_BR_MARGIN_ABS;
}

/* The reward agent i's function would get at its EN: the step's
 * afs_run_at_edge and afs_score, without touching the state. */
AFS_HD float afs_edge_reward(const afs_env *env, size_t i)
{
    const afs_env_params *p = &env->p;
    float w = env->w[i], k = env->k[i], f = env->f[i];
    if (w + k > p->queue_cap)
        return afs_reward_of(p, env->dl[i], 1); /* dropped: charged its deadline */
    float start = afs_container_start(afs_edge_warm(env, i), env->type[i], p);
    float latency = env->z[i] / p->r_up + start + w / f + k / f;
    return afs_reward_of(p, afs_cost(p, 1, latency, k), latency > env->dl[i]);
}

/* The reward agent i's function would get in the cloud with n offloaders
 * and interference interf at its AP: afs_run_in_cloud and afs_score. */
AFS_HD float afs_cloud_reward(const afs_env *env, int e, size_t i, int n,
                              float interf)
{
    const afs_env_params *p = &env->p;
    float r_tr = afs_uplink_rate(env, i, n, interf);
    float start = afs_container_start(afs_cloud_warm(env, e, i), env->type[i], p);
    float latency = env->z[i] / p->r_up + start + env->z[i] / r_tr +
                    env->k[i] / env->f_c[e] + env->c[i] / env->r_re[i] +
                    env->d_idle[i];
    return afs_reward_of(p, afs_cost(p, 0, latency, env->k[i]), latency > env->dl[i]);
}

/* n[G], interf[G]: environment e's per-AP sums under act (its M actions),
 * summed in agent order, as the CPU step sums them. */
AFS_HD void afs_br_ap_sums(const afs_env *env, int e, const uint8_t *act,
                           int32_t *n, float *interf)
{
    for (int g = 0; g < env->G; g++) {
        n[g] = 0;
        interf[g] = 0.0f;
    }
    for (int m = 0; m < env->M; m++) {
        size_t i = (size_t)e * env->M + m;
        if (!afs_offloads(env, i, act[m]))
            continue;
        n[env->ap[i]]++;
        for (int g = 0; g < env->G; g++)
            if (g != env->ap[i])
                interf[g] += afs_interference_term(env, i, g);
    }
}

/* The objective: environment e's total reward under act with per-AP sums
 * n, interf, in agent order, in double. */
AFS_HD double afs_br_total(const afs_env *env, int e, const uint8_t *act,
                           const int32_t *n, const float *interf)
{
    double total = 0.0;
    for (int m = 0; m < env->M; m++) {
        size_t i = (size_t)e * env->M + m;
        if (!(env->flags[i] & AFS_F_HAS))
            continue;
        int g = env->ap[i];
        total += act[m] ? afs_edge_reward(env, i)
                        : afs_cloud_reward(env, e, i, n[g], interf[g]);
    }
    return total;
}

/* to_n, to_i: the sums n, interf with agent i switched away from `local`:
 * O(G), its own AP's count and every other AP's interference. */
AFS_HD void afs_br_switched_sums(const afs_env *env, size_t i, int local,
                                 const int32_t *n, const float *interf,
                                 int32_t *to_n, float *to_i)
{
    int own = env->ap[i];
    for (int g = 0; g < env->G; g++) {
        float term = g == own ? 0.0f : afs_interference_term(env, i, g);
        to_n[g] = n[g];
        to_i[g] = local ? interf[g] + term : interf[g] - term;
    }
    to_n[own] += local ? 1 : -1; /* local -> cloud adds an offloader */
}

/* Improves environment e's actions act (its M entries, greedy's on entry)
 * in place. Scratch: n [2 G], interf [2 G] (the current sums, then a
 * candidate's). Returns the rounds it ran (the last one without a switch
 * unless p.br_rounds stopped it). A candidate is weighed with sums updated
 * in O(G); one that passes is weighed again with sums formed afresh (the
 * step's, bit for bit on the CPU), so that the rounding of the updates can
 * neither accept a loss nor pile up over switches: every accepted total is
 * what the step will pay, and each beats the last by more than the margin. */
AFS_HD int afs_best_response_env(const afs_env *env, int e, uint8_t *act,
                                 int32_t *n, float *interf)
{
    int32_t *cand_n = n + env->G;
    float *cand_i = interf + env->G;
    afs_br_ap_sums(env, e, act, n, interf);
    double total = afs_br_total(env, e, act, n, interf);
    int rounds = 0, switched = 1;
    while (switched && rounds < env->p.br_rounds) {
        switched = 0;
        rounds++;
        for (int m = 0; m < env->M; m++) {
            size_t i = (size_t)e * env->M + m;
            if (!(env->flags[i] & AFS_F_HAS))
                continue;
            afs_br_switched_sums(env, i, act[m], n, interf, cand_n, cand_i);
            act[m] ^= 1;
            double cand = afs_br_total(env, e, act, cand_n, cand_i);
            if (cand > total + afs_br_margin(total)) {
                afs_br_ap_sums(env, e, act, cand_n, cand_i);
                cand = afs_br_total(env, e, act, cand_n, cand_i);
            }
            if (!(cand > total + afs_br_margin(total))) {
                act[m] ^= 1; /* no gain: back */
                continue;
            }
            for (int g = 0; g < env->G; g++) {
                n[g] = cand_n[g];
                interf[g] = cand_i[g];
            }
            total = cand;
            switched = 1;
        }
    }
    return rounds;
}

#endif
