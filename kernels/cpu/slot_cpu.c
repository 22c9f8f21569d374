/* One environment's slot on the CPU, phase by phase over its M agents, in
 * loops the compiler vectorizes, 64 agents at a time: each calls the shared
 * branch-free math of kernels/common/env_math.h (afs_arrival_of,
 * afs_outcome_of, ...) for one agent, reading and writing the state
 * through restrict pointers into that environment's rows, so that several
 * agents go through one vector instruction. What cannot be reordered
 * without changing a result runs in agent order: the per-AP sums and the
 * metric sums (double). Where GCC's code falls short, x86 intrinsics take
 * over (philox_x86.c, slot_x86.c), picked at run time. Results are the
 * scalar per-agent functions' bit for bit (tests/test_slot_cpu.c compares
 * the two).
 *
 * Each function is compiled three times (AVX-512, AVX2, SSE2) and the
 * loader picks the one this CPU runs, so that one binary uses the vector
 * width of the machine it lands on; without FP contraction the three give
 * the same bits. Two rules keep GCC's vector loops fast: no byte in a
 * float loop (GCC would take 64 agents an iteration, spill, and leave the
 * remainder scalar), and a mask, not a select, where the select's way
 * depends on the agent (GCC may emit a branch, which the CPU mispredicts). */
#include <string.h>

#include "slot_x86.h"
#include "cpu_clones.h"
#include "philox_lanes.h"
#include "slot_cpu.h"

AFS_CLONE_INLINE int lanes_from(int M, int m0) { return M - m0 < AFS_LANES ? M - m0 : AFS_LANES; }

/* Where the chunk of agents from m0 starts when it may begin earlier, over
 * agents the chunk before it had, so that its length is a multiple of 8:
 * GCC's vector loops (16 lanes and then 8 with AVX-512, 8 with AVX2) then
 * leave no agent to the scalar remainder, where one agent costs about 4.5
 * times one in a vector (an agent-step took 14.6 ns with M = 150, whose
 * last chunk of 22 left 6 agents scalar, and 12.8 ns with M = 144). Only
 * for loops that give an agent the same values however often they run. */
AFS_CLONE_INLINE int overlapped_start(int M, int m0)
{
    int end = m0 + lanes_from(M, m0), start = end - (end - m0 + 7) / 8 * 8;
    return start > 0 ? start : 0;
}

AFS_HDI afs_block lane_block(uint32_t b[4][AFS_LANES], int l)
{
    afs_block x = {{b[0][l], b[1][l], b[2][l], b[3][l]}};
    return x;
}

/* Episode start of environment e: afs_reset_env, then afs_reset_agent
 * (with afs_place_agent) for every agent, 64 agents at a time in phases:
 * the draws, each AP's column of path gains (computed into a vector, then
 * stored with the row stride G), then each agent's AP and rates. */
AFS_CPU_CLONES void afs_cpu_reset_env(afs_env env, int e)
{
    const afs_env_params p = env.p;
    const float area = p.area_m, f_min = p.f_min, f_max = p.f_max, mu_min = p.mu_min,
                mu_max = p.mu_max, b_tr = p.b_tr, p_tx = p.p_tx, noise = env.noise_w;
    int M = env.M, G = env.G;
    size_t base = (size_t)e * M;
    float *restrict x = env.pos_x + base, *restrict y = env.pos_y + base;
    float *restrict f = env.f + base, *restrict mu = env.mu + base, *restrict w = env.w + base;
    float *restrict h_own = env.h_own + base, *restrict r_re = env.r_re + base;
    float *restrict r_obs = env.r_obs + base, *restrict gain = env.gain + base * (size_t)G;
    int32_t *restrict ap = env.ap + base, *restrict last_edge = env.last_edge + base * (size_t)env.NT;
    uint32_t *restrict flags = env.flags + base;
    afs_reset_env(&env, e);
    uint32_t b[4][AFS_LANES];
    float column[AFS_LANES];
    for (int m0 = 0; m0 < M; m0 += AFS_LANES) {
        int n = lanes_from(M, m0);
        afs_cpu_philox_lanes(env.seed, AFS_STREAM_RESET, (uint32_t)e, (uint32_t)m0, env.episode,
                             0, n, b);
        #pragma omp simd
        for (int l = 0; l < n; l++) {
            int m = m0 + l;
            x[m] = afs_uniform(b[0][l], 0.0f, area);
            y[m] = afs_uniform(b[1][l], 0.0f, area);
            f[m] = afs_uniform(b[2][l], f_min, f_max);
            mu[m] = afs_uniform(b[3][l], mu_min, mu_max);
            w[m] = 0.0f;
            flags[m] = 0;
        }
        for (int g = 0; g < G; g++) {
            float cx = afs_ap_centre(g % p.ap_grid, &p), cy = afs_ap_centre(g / p.ap_grid, &p);
            #pragma omp simd
            for (int l = 0; l < n; l++) {
                float dx = x[m0 + l] - cx, dy = y[m0 + l] - cy;
                column[l] = afs_path_gain(sqrtf(dx * dx + dy * dy));
            }
            for (int l = 0; l < n; l++)
                gain[(size_t)(m0 + l) * G + g] = column[l];
        }
        for (int l = 0; l < n; l++) {
            int m = m0 + l, a = afs_ap_of(x[m], y[m], &p);
            ap[m] = a;
            h_own[m] = gain[(size_t)m * G + a];
        }
        #pragma omp simd
        for (int l = 0; l < n; l++) {
            int m = m0 + l;
            r_re[m] = afs_rate(b_tr, 1, p_tx * h_own[m], noise);
            r_obs[m] = r_re[m];
        }
    }
    for (size_t i = 0; i < (size_t)M * env.NT; i++)
        last_edge[i] = AFS_NEVER;
}

AFS_CPU_CLONES void afs_cpu_arrive_env(afs_env env, int e)
{
    const afs_env_params p = env.p;
    size_t base = (size_t)e * env.M;
    const float *restrict mu = env.mu + base;
    uint32_t *restrict flags = env.flags + base;
    int32_t *restrict type = env.type + base;
    float *restrict z = env.z + base, *restrict k = env.k + base, *restrict dl = env.dl + base;
    float *restrict c = env.c + base, *restrict d_idle = env.d_idle + base;
    uint32_t b0[4][AFS_LANES], b1[4][AFS_LANES];
    for (int from = 0; from < env.M; from += AFS_LANES) {
        int m0 = overlapped_start(env.M, from), n = from + lanes_from(env.M, from) - m0;
        afs_cpu_philox_lanes(env.seed, AFS_STREAM_SLOT, (uint32_t)e, (uint32_t)m0, env.episode,
                             afs_slot_counter(&env, 0), n, b0);
        afs_cpu_philox_lanes(env.seed, AFS_STREAM_SLOT, (uint32_t)e, (uint32_t)m0, env.episode,
                             afs_slot_counter(&env, 1), n, b1);
        #pragma omp simd
        for (int l = 0; l < n; l++) {
            int m = m0 + l;
            afs_arrival a = afs_arrival_of(&p, env.NT, mu[m], lane_block(b0, l),
                                           lane_block(b1, l));
            flags[m] = a.flags;
            type[m] = a.type;
            z[m] = a.z;
            k[m] = a.k;
            dl[m] = a.dl;
            c[m] = a.c;
            d_idle[m] = a.d_idle;
        }
    }
}

/* Environment e's actions by observation rule `kind` (afs_observed_action),
 * 64 agents at a time into 32-bit choices, then stored as bytes: with the
 * bytes in the loop, GCC would take 64 agents a vector iteration (as many
 * bytes as fill a vector) and leave the last 22 of 150 scalar. */
AFS_CLONE_INLINE void decide_by_observation(const afs_env *env, int e, int kind, uint8_t *act)
{
    float queue_cap = env->p.queue_cap, alpha = env->p.deadline_alpha;
    for (int from = 0; from < env->M; from += AFS_LANES) {
        int m0 = overlapped_start(env->M, from), n = from + lanes_from(env->M, from) - m0;
        int32_t choice[AFS_LANES];
        for (int l = 0; l < n; l++) {
            float o[AFS_OBS_DIM];
            afs_observe_agent(env, e, m0 + l, o);
            choice[l] = afs_observed_action(kind, o, queue_cap, alpha);
        }
        for (int l = 0; l < n; l++)
            act[m0 + l] = (uint8_t)choice[l];
    }
}

/* Environment e's coins (AFS_RULE_COIN): the Philox blocks of 64 agents at
 * a time, then their choices, as bytes after the loop (as above). */
AFS_CLONE_INLINE void decide_by_coin(const afs_env *env, int e, uint8_t *act)
{
    uint32_t b[4][AFS_LANES];
    for (int from = 0; from < env->M; from += AFS_LANES) {
        int m0 = overlapped_start(env->M, from), n = from + lanes_from(env->M, from) - m0;
        afs_cpu_philox_lanes(env->seed, AFS_STREAM_POLICY, (uint32_t)e, (uint32_t)m0,
                             env->episode, afs_slot_counter(env, 0), n, b);
        int32_t choice[AFS_LANES];
        for (int l = 0; l < n; l++)
            choice[l] = afs_coin_action(b[0][l]);
        for (int l = 0; l < n; l++)
            act[m0 + l] = (uint8_t)choice[l];
    }
}

/* The policy's rule (afs_policy_rule_of) for environment e's agents. */
AFS_CPU_CLONES void afs_cpu_decide_env(afs_env env, int e, int policy, uint8_t *action)
{
    uint8_t *restrict act = action + (size_t)e * env.M;
    afs_policy_rule rule = afs_policy_rule_of(policy);
    switch (rule.kind) {
    case AFS_RULE_COIN:
        decide_by_coin(&env, e, act);
        break;
    case AFS_RULE_CONSTANT:
        memset(act, rule.action, (size_t)env.M);
        break;
    default: /* an observation rule */
        decide_by_observation(&env, e, rule.kind, act);
    }
}

/* The offloaders (afs_offloads) among agents m0 .. m0 + n - 1 of the
 * environment whose first agent is base, in agent order, into idx;
 * returns how many. Branch-free: every agent's index is written and kept
 * only when it offloads (on AVX-512, 16 agents a compress). */
AFS_CLONE_INLINE int offloaders_of(const afs_env *env, size_t base, const uint8_t *act, int m0,
                                int n, int *idx)
{
    /* who offloads, a vector at a time, before the list: computed inside
     * it, the 0/1 came from a setcc whose partial register chained each
     * agent's step to the count (about 5 cycles an agent) */
    int32_t offloads[AFS_LANES];
    for (int l = 0; l < n; l++)
        offloads[l] = afs_offloads(env, base + (size_t)(m0 + l), act[m0 + l]);
#if AFS_SLOT_X86
    if (__builtin_cpu_supports("avx512f"))
        return afs_list_set_avx512(offloads, n, m0, idx);
#endif
    int count = 0;
    for (int l = 0; l < n; l++) {
        idx[count] = m0 + l;
        count += offloads[l];
    }
    return count;
}

/* Per-AP offloader counts n[G] and interference interf[G] of environment
 * e, summed in agent order (the order best_response's afs_br_ap_sums
 * uses, so that its totals are the step's), over the offloaders alone
 * (a list made without a branch: the others would add only zeros); the
 * loop over the APs is vectorized, and for G <= 16 on AVX2 or AVX-512 the
 * G sums stay in registers (slot_x86.c). An offloader's own AP adds
 * +0, which leaves a sum of non-negative terms as it was. */
AFS_CLONE_INLINE void ap_sums(const afs_env *env, int e, const uint8_t *action,
                           int32_t *restrict n, float *restrict interf)
{
    int G = env->G, M = env->M;
    size_t base = (size_t)e * M;
    const int32_t *restrict ap = env->ap + base;
    const float *restrict gain = env->gain + base * (size_t)G;
    /* afs_interference_term's reuse * p_tx * gain, whose first product
     * rounds the same here */
    float rp = env->p.reuse * env->p.p_tx;
    for (int g = 0; g < G; g++) {
        n[g] = 0;
        interf[g] = 0.0f;
    }
    afs_add_offloaders_fn *add_in_registers = NULL;
#if AFS_SLOT_X86
    if (G <= AFS_SLOT_X86_MAX_TABLE)
        add_in_registers = __builtin_cpu_supports("avx512f") ? afs_add_offloaders_avx512
                           : __builtin_cpu_supports("avx2")  ? afs_add_offloaders_avx2
                                                             : NULL;
#endif
    for (int m0 = 0; m0 < M; m0 += AFS_LANES) {
        int idx[AFS_LANES + 16]; /* afs_list_set_avx512's room */
        int k_end = offloaders_of(env, base, action + base, m0, lanes_from(M, m0), idx);
        if (add_in_registers) {
            add_in_registers(gain, ap, idx, k_end, G, rp, n, interf);
            continue;
        }
        for (int k = 0; k < k_end; k++) {
            int m = idx[k], own = ap[m];
            const float *restrict row = gain + (size_t)m * G;
            n[own]++;
            for (int g = 0; g < G; g++)
                interf[g] += g != own ? rp * row[g] : 0.0f;
        }
    }
}

/* The outcome's table lookups for a run of agents (afs_lookup_in): by
 * permutes and a gather in registers where the tables fit (slot_x86.c),
 * else one agent at a time. */
AFS_CLONE_INLINE void look_up(afs_lookup_in in, int32_t *n_of, float *i_of, int32_t *last_use)
{
#if AFS_SLOT_X86
    if (in.G <= AFS_SLOT_X86_MAX_TABLE && in.NT <= AFS_SLOT_X86_MAX_TABLE &&
        __builtin_cpu_supports("avx512f")) {
        afs_look_up_avx512(in, n_of, i_of, last_use);
        return;
    }
#endif
    for (int l = 0; l < in.n; l++) { /* both loads, then a select: GCC vectorizes it */
        int g = in.ap[l], t = in.type[l];
        int32_t at_edge = in.last_edge[(in.m0 + l) * in.NT + t], in_cloud = in.last_cloud[t];
        n_of[l] = in.n_ap[g];
        i_of[l] = in.i_ap[g];
        last_use[l] = in.local[l] ? at_edge : in_cloud;
    }
}

/* Slot phases 3-5 over the agents, 64 at a time: each one's outcome from
 * the slot's start and the AP sums, then its drained queue and the rate
 * its AP broadcasts. Nothing else in the step reads w or r_obs, so the end
 * of the slot can follow each run of outcomes. */
AFS_CLONE_INLINE void outcomes(afs_env env, int e, const uint8_t *action, const int32_t *n_ap,
                            const float *i_ap)
{
    const afs_env_params p = env.p;
    size_t base = (size_t)e * env.M;
    int NT = env.NT, slot = env.slot, keep = p.keep_alive;
    const uint8_t *restrict act = action + base;
    const int32_t *restrict ap = env.ap + base, *restrict type = env.type + base;
    const int32_t *restrict last_edge = env.last_edge + base * (size_t)NT;
    const int32_t *restrict last_cloud = env.last_cloud + (size_t)e * NT;
    const float *restrict z = env.z + base, *restrict k = env.k + base;
    const float *restrict f = env.f + base, *restrict dl = env.dl + base;
    const float *restrict c = env.c + base, *restrict h_own = env.h_own + base;
    const float *restrict r_re = env.r_re + base;
    uint32_t *restrict flags = env.flags + base;
    float *restrict w = env.w + base, *restrict w_before = env.w_before + base;
    float *restrict d_up = env.d_up + base, *restrict d_start = env.d_start + base;
    float *restrict d_wait = env.d_wait + base, *restrict d_exec = env.d_exec + base;
    float *restrict d_tr = env.d_tr + base, *restrict d_re = env.d_re + base;
    float *restrict d_idle = env.d_idle + base, *restrict latency = env.latency + base;
    float *restrict cost = env.cost + base, *restrict reward = env.reward + base;
    float *restrict r_obs = env.r_obs + base;
    float f_c = env.f_c[e], b_tr = p.b_tr;
    /* The last chunk may start over agents of the one before it
     * (overlapped_start), which replace their outcome's inputs: those are
     * put back before it, and it computes the same values again. */
    int last = (env.M - 1) / AFS_LANES * AFS_LANES, again = overlapped_start(env.M, last);
    uint32_t flags_in[8]; /* at most 7 agents again */
    float w_in[8], d_idle_in[8];
    for (int m = again; m < last; m++) {
        flags_in[m - again] = flags[m];
        w_in[m - again] = w[m];
        d_idle_in[m - again] = d_idle[m];
    }
    for (int from = 0; from < env.M; from += AFS_LANES) {
        int m0 = overlapped_start(env.M, from), m_end = from + lanes_from(env.M, from);
        for (int m = m0; m < from; m++) {
            flags[m] = flags_in[m - m0];
            w[m] = w_in[m - m0];
            d_idle[m] = d_idle_in[m - m0];
        }
        /* the actions as 32-bit 0/1: bytes in the loop below would make GCC
         * take 64 agents a vector iteration (as many bytes as fill a vector),
         * spilling, and leave the last 22 of 150 scalar */
        int32_t local[AFS_LANES], n_of[AFS_LANES], last_use[AFS_LANES];
        float i_of[AFS_LANES], efficiency[AFS_LANES];
        for (int m = m0; m < m_end; m++)
            local[m - m0] = act[m] != 0;
        afs_lookup_in in = {n_ap, last_cloud, last_edge, i_ap, env.G, NT, m0, m_end - m0,
                            ap + m0, type + m0, local};
        look_up(in, n_of, i_of, last_use);
        #pragma omp simd
        for (int m = m0; m < m_end; m++) {
            int n = n_of[m - m0];
            afs_outcome_in a;
            a.flags = flags[m];
            a.local = local[m - m0];
            /* only the chosen location's warmth is looked up */
            a.warm_edge = a.warm_cloud = afs_is_warm(last_use[m - m0], slot, keep);
            a.type = type[m];
            a.w = w[m];
            a.z = z[m];
            a.k = k[m];
            a.f = f[m];
            a.dl = dl[m];
            a.c = c[m];
            a.d_idle = d_idle[m];
            float se = afs_shared_efficiency(&env, h_own[m], i_of[m - m0]);
            efficiency[m - m0] = se;
            a.r_tr = afs_rate_at(b_tr, n > 0 ? n : 1, se); /* afs_uplink_rate's */
            a.f_c = f_c;
            a.r_re = r_re[m];
            afs_outcome o = afs_outcome_of(&p, a);
            flags[m] = o.flags;
            w_before[m] = a.w;
            w[m] = o.w;
            d_up[m] = o.d_up;
            d_start[m] = o.d_start;
            d_wait[m] = o.d_wait;
            d_exec[m] = o.d_exec;
            d_tr[m] = o.d_tr;
            d_re[m] = o.d_re;
            d_idle[m] = o.d_idle;
            latency[m] = o.latency;
            cost[m] = o.cost;
            reward[m] = o.reward;
        }
        /* phases 4-5 (afs_end_slot_agent): the broadcast rate from the
         * uplink's spectral efficiency, one logarithm for both */
        #pragma omp simd
        for (int m = m0; m < m_end; m++) {
            w[m] = afs_drained(&p, w[m], f[m]);
            r_obs[m] = afs_rate_at(b_tr, n_of[m - m0] + 1, efficiency[m - m0]);
        }
    }
}

/* The counting accumulators over the agents, exact in any order: a
 * reduction GCC vectorizes by itself. (Under `omp simd` it made c[] an
 * array per lane in memory and left one of the loop's copies scalar.) */
_Static_assert(AFS_ACC_COUNTS == 7, "one reduction variable per counter");
AFS_CLONE_INLINE void add_counts(const uint32_t *restrict flags, int M, double *acc)
{
    int k0 = 0, k1 = 0, k2 = 0, k3 = 0, k4 = 0, k5 = 0, k6 = 0;
    for (int m = 0; m < M; m++) {
        int c[AFS_ACC_COUNTS];
        afs_outcome_counts(flags[m], c);
        k0 += c[0], k1 += c[1], k2 += c[2], k3 += c[3], k4 += c[4], k5 += c[5], k6 += c[6];
    }
    int k[AFS_ACC_COUNTS] = {k0, k1, k2, k3, k4, k5, k6};
    for (int a = 0; a < AFS_ACC_COUNTS; a++)
        acc[a] += k[a];
}

/* A float's bits without the sign, shifted up by one: the exponent field
 * is the top 8 bits, and their order is the magnitudes' order. */
AFS_CLONE_INLINE uint32_t magnitude_bits(float x) { return afs_float_bits(x) << 1; }

AFS_CLONE_INLINE uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }
AFS_CLONE_INLINE uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

AFS_CPU_CLONES afs_unordered_sums afs_cpu_sum_unordered(const uint32_t *restrict flags,
                                                       const float *restrict latency,
                                                       const float *restrict cost,
                                                       const float *restrict reward, int M)
{
    double lat = 0.0, cst = 0.0, rwd = 0.0;
    uint32_t least = UINT32_MAX, most = 0u; /* a zero's bits less 1 wrap around */
    #pragma omp simd reduction(+ : lat, cst, rwd) reduction(min : least) reduction(max : most)
    for (int m = 0; m < M; m++) {
        float l = afs_counted_latency(flags[m], latency[m]);
        uint32_t ml = magnitude_bits(l), mc = magnitude_bits(cost[m]);
        uint32_t mr = magnitude_bits(reward[m]);
        most = max_u32(most, max_u32(ml, max_u32(mc, mr)));
        least = min_u32(least, min_u32(ml - 1u, min_u32(mc - 1u, mr - 1u)));
        lat += (double)l;
        cst += (double)cost[m];
        rwd += (double)reward[m];
    }
    afs_unordered_sums s = {lat, cst, rwd, least, most};
    return s;
}

/* Whether n finite floats whose exponent fields lie in [lo, hi] add up in
 * double with no rounding, in any order: each is a multiple of 2^(lo -
 * 150), the smallest one's unit in the last place, and below 2^(hi - 126)
 * in magnitude, so every partial sum is a multiple of that unit below
 * n 2^(hi - lo + 24) of them, which a double holds exactly while that is
 * at most 2^53. (Infinities and NaNs have field 255: never.) */
int afs_sums_are_exact(uint32_t lo, uint32_t hi, int n)
{
    int log2_n = 0;
    while (log2_n < 31 && (1L << log2_n) < n)
        log2_n++;
    return hi < 255u && (int)hi - (int)lo + 24 + log2_n <= 53;
}

/* The float accumulators (afs_accumulate_floats's three doubles), whose
 * totals depend on the order of the additions in general, as added in
 * agent order. Where no partial sum can round (afs_sums_are_exact allows
 * 21 binades at M = 150; the six heuristics' terms spanned 8 at most),
 * every order gives those bits, and the sums are vector reductions;
 * otherwise the agents' terms are added one by one, each addition
 * waiting for the one before (3 cycles an agent, partly hidden by the
 * work around it: the vector form took an agent-step from 13.4 to 13.2 ns). */
AFS_CPU_CLONES void afs_cpu_float_sums(const uint32_t *restrict flags,
                                       const float *restrict latency,
                                       const float *restrict cost, const float *restrict reward,
                                       int M, double *restrict acc)
{
    afs_unordered_sums s;
#if AFS_SLOT_X86
    if (__builtin_cpu_supports("avx512f"))
        s = afs_sum_unordered_avx512(flags, latency, cost, reward, M);
    else
#endif
        s = afs_cpu_sum_unordered(flags, latency, cost, reward, M);
    /* a subnormal's field, 0, shares field 1's unit in the last place */
    uint32_t lo = max_u32((s.least + 1u) >> 24, 1u), hi = s.most >> 24;
    if (!afs_sums_are_exact(lo, hi, M)) {
        s.latency = s.cost = s.reward = 0.0;
        for (int m = 0; m < M; m++) {
            s.latency += (double)afs_counted_latency(flags[m], latency[m]);
            s.cost += (double)cost[m];
            s.reward += (double)reward[m];
        }
    }
    acc[AFS_ACC_LATENCY] += s.latency;
    acc[AFS_ACC_COST] += s.cost;
    acc[AFS_ACC_REWARD] += s.reward;
}

/* The EN's containers the slot used, those of each admitted function:
 * a scatter on AVX-512 (slot_x86.c), else a read-modify-write per agent.
 * After the outcome loop, whose warmth is the slot's start's. */
AFS_CLONE_INLINE void mark_edge_containers(const afs_env *env, int e)
{
    size_t base = (size_t)e * env->M;
    const uint32_t *restrict flags = env->flags + base;
    const int32_t *restrict type = env->type + base;
    int32_t *restrict last_edge = env->last_edge + base * (size_t)env->NT, slot = env->slot;
    int NT = env->NT;
#if AFS_SLOT_X86
    if (__builtin_cpu_supports("avx512f")) {
        afs_mark_edge_avx512(flags, type, env->M, NT, slot, last_edge);
        return;
    }
#endif
    for (int m = 0; m < env->M; m++) {
        /* admitted at the EN: slot, else the value there, by a mask (a
         * select, GCC makes a branch of, which the CPU cannot predict) */
        int32_t *used = &last_edge[m * NT + type[m]];
        int32_t admitted = (flags[m] & (AFS_F_LOCAL | AFS_F_DROPPED)) == AFS_F_LOCAL;
        *used ^= (*used ^ slot) & -admitted;
    }
}

/* The cloud's container types the slot used, one bit each. */
AFS_CLONE_INLINE uint32_t cloud_types_used(const afs_env *env, int e)
{
    size_t base = (size_t)e * env->M;
    uint32_t used = 0;
    for (int m = 0; m < env->M; m++)
        used |= afs_cloud_type_bit(env, base + (size_t)m);
    return used;
}

AFS_CPU_CLONES void afs_cpu_step_env(afs_env env, int e, const uint8_t *action)
{
    int32_t n[AFS_MAX_AP_GRID * AFS_MAX_AP_GRID];
    float interf[AFS_MAX_AP_GRID * AFS_MAX_AP_GRID];
    double acc[AFS_ACC_N] = {0};
    ap_sums(&env, e, action, n, interf);
    outcomes(env, e, action, n, interf);
    add_counts(env.flags + (size_t)e * env.M, env.M, acc);
    size_t base = (size_t)e * env.M;
    afs_cpu_float_sums(env.flags + base, env.latency + base, env.cost + base, env.reward + base,
                       env.M, acc);
    mark_edge_containers(&env, e);
    uint32_t cloud_types = cloud_types_used(&env, e);
    for (int g = 0; g < env.G; g++) {
        env.n_ap[(size_t)e * env.G + g] = n[g];
        env.i_ap[(size_t)e * env.G + g] = interf[g];
    }
    afs_mark_cloud_types(&env, e, cloud_types);
    for (int a = 0; a < AFS_ACC_N; a++)
        env.acc[(size_t)e * AFS_ACC_N + a] += acc[a];
}

/* Asks for environment e's rows of every array of the state
 * (kernels/common/env_state.h) in the L2, one line at a time: a thread
 * calls it for the next environment it will play while it plays this one's
 * slots. */
static void prefetch_row(const void *array, size_t row_bytes, int e)
{
    const char *row = (const char *)array + (size_t)e * row_bytes;
    for (size_t at = 0; at < row_bytes; at += 64)
        __builtin_prefetch(row + at, 0, 2);
}

void afs_cpu_prefetch_env(const afs_env *env, int e)
{
    size_t E = (size_t)env->E, A = E * (size_t)env->M, G = (size_t)env->G, NT = (size_t)env->NT;
    (void)A, (void)G, (void)NT;
#define AFS_X(type, name, count) prefetch_row(env->name, sizeof(type) * ((count) / E), e);
    AFS_ENV_ARRAYS(AFS_X)
#undef AFS_X
}
