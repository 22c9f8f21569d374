/* Statistical checks at fixed seeds against closed forms. Each compares the
 * mean over many independent environments with its expectation, within five
 * standard errors estimated from the same environments (a z-test; at a fixed
 * seed the outcome is deterministic, and 5 sigma leaves a false-alarm chance
 * below 1e-6 for any seed). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "helpers.h"

#define ENVS 512

typedef struct sample { double sum, sum2; int n; } sample;

static void add(sample *s, double x) { s->sum += x; s->sum2 += x * x; s->n++; }
static double mean(const sample *s) { return s->sum / s->n; }
static double stderr_of(const sample *s)
{
    double m = mean(s), var = (s->sum2 - s->n * m * m) / (s->n - 1);
    return sqrt(fmax(var, 0.0) / s->n);
}

static void expect_mean(const sample *s, double want, double bias, const char *what)
{
    double tol = 5.0 * stderr_of(s) + bias;
    cr_assert(fabs(mean(s) - want) <= tol, "%s: mean %.6g, expected %.6g +- %.3g",
              what, mean(s), want, tol);
}

/* One EN per environment with fixed CPU and arrival probability. */
static afs_env_params one_en(float f, float mu, float cap, int keep_alive)
{
    afs_env_params p = test_params(1);
    p.f_min = p.f_max = f;
    p.mu_min = p.mu_max = mu;
    p.queue_cap = cap;
    p.keep_alive = keep_alive;
    return p;
}

/* An arrival of a given type at slot t is cold unless that type arrived in one
 * of the previous min(t, K) slots; each slot brings it with probability
 * q = mu / types, independently. So E[cold starts per episode] =
 * sum_t mu (1 - q)^min(t, K). */
Test(stats, cold_start_probability_under_bernoulli_arrivals)
{
    const float mu = 0.6f;
    const int K = 3, L = 100;
    afs_env_params p = one_en(3.5f, mu, 1e6f, K);
    p.slots = L;
    afs_env env;
    afs_backend *b;
    test_env_open(&env, &b, &p, ENVS, 11);
    float *obs = malloc(ENVS * AFS_OBS_DIM * sizeof(float));
    uint8_t act[ENVS];
    for (int t = 0; t < L; t++)
        b->env_play_slots(b, &env, AFS_POLICY_ALL_LOCAL, 1, obs, act);
    double q = mu / 8.0, want = 0.0;
    for (int t = 0; t < L; t++)
        want += mu * pow(1.0 - q, t < K ? t : K);
    sample cold = {0};
    for (int e = 0; e < ENVS; e++) {
        cr_assert_eq(env.acc[e * AFS_ACC_N + AFS_ACC_DROPPED], 0.0, "no drops with a huge queue");
        add(&cold, env.acc[e * AFS_ACC_N + AFS_ACC_COLD]);
    }
    expect_mean(&cold, want, 0.0, "cold starts per episode");
    free(obs);
    test_env_close(&env, b);
}

Test(stats, arrival_frequency_and_type_spread)
{
    const float mu = 0.3f;
    afs_env_params p = one_en(3.5f, mu, 1e6f, 10);
    afs_env env;
    afs_backend *b;
    test_env_open(&env, &b, &p, ENVS, 12);
    float *obs = malloc(ENVS * AFS_OBS_DIM * sizeof(float));
    uint8_t act[ENVS];
    long types[8] = {0}, n = 0;
    sample arrivals = {0};
    for (int t = 0; t < 100; t++) {
        b->env_play_slots(b, &env, AFS_POLICY_ALL_LOCAL, 1, obs, act);
        for (int e = 0; e < ENVS; e++) {
            int has = (env.flags[e] & AFS_F_HAS) != 0;
            add(&arrivals, has);
            if (has) {
                types[env.type[e]]++;
                n++;
            }
        }
    }
    expect_mean(&arrivals, mu, 0.0, "arrivals per slot");
    /* Chi-square with 7 degrees of freedom; its 0.9999 quantile is 29.9. */
    double chi2 = 0.0;
    for (int t = 0; t < 8; t++)
        chi2 += (types[t] - n / 8.0) * (types[t] - n / 8.0) / (n / 8.0);
    cr_assert(chi2 < 29.9, "types not uniform: chi2 = %g", chi2);
    free(obs);
    test_env_close(&env, b);
}

/* Work drained per slot: (queue at the start of the slot + admitted work)
 * - queue at the end. Returns per-environment means over L slots. */
static void drained_per_slot(float f, float mu, float cap, uint32_t seed, int L,
                             sample *drain, double *max_final)
{
    afs_env_params p = one_en(f, mu, cap, 10);
    p.slots = L;
    afs_env env;
    afs_backend *b;
    test_env_open(&env, &b, &p, ENVS, seed);
    float *obs = malloc(ENVS * AFS_OBS_DIM * sizeof(float));
    uint8_t act[ENVS];
    double total[ENVS] = {0}, admitted[ENVS] = {0};
    for (int t = 0; t < L; t++) {
        b->env_play_slots(b, &env, AFS_POLICY_ALL_LOCAL, 1, obs, act);
        for (int e = 0; e < ENVS; e++) {
            uint32_t fl = env.flags[e];
            double in = ((fl & AFS_F_HAS) && !(fl & AFS_F_DROPPED)) ? env.k[e] : 0.0;
            double d = env.w_before[e] + in - env.w[e];
            cr_assert(d >= -1e-5 && d <= f + 1e-5, "drained %g outside [0, f]", d);
            total[e] += d;
            admitted[e] += in;
        }
    }
    *max_final = 0.0;
    for (int e = 0; e < ENVS; e++) {
        /* Conservation: everything admitted was drained or is still queued. */
        cr_assert(fabs(total[e] + env.w[e] - admitted[e]) < 1e-3 * (1 + admitted[e]));
        add(drain, total[e] / L);
        *max_final = fmax(*max_final, env.w[e]);
    }
    free(obs);
    test_env_close(&env, b);
}

/* Stable queue (mu E[k] = 0.5 * 1.5 = 0.75 < f = 1): in the long run the EN
 * drains what arrives, mu E[k] per slot. The backlog left at the end, at
 * most max_final, biases the mean down by at most max_final / L. */
Test(stats, stable_queue_drains_the_arrival_rate)
{
    sample drain = {0};
    double max_final;
    drained_per_slot(1.0f, 0.5f, 1e6f, 21, 400, &drain, &max_final);
    expect_mean(&drain, 0.5 * 1.5, max_final / 400, "drained per slot");
}

/* Saturated queue (0.75 arriving > f = 0.5, capacity 10): once loaded the
 * queue stays loaded and drains f per slot, minus the few slots before it
 * first fills (the first arrival comes within a few slots; bias <= 5 f / L). */
Test(stats, saturated_queue_drains_at_full_speed)
{
    sample drain = {0};
    double max_final;
    drained_per_slot(0.5f, 0.5f, 10.0f, 22, 400, &drain, &max_final);
    expect_mean(&drain, 0.5, 5 * 0.5 / 400, "drained per slot");
}
