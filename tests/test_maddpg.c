/* MADDPG (models/algos/maddpg.c): the axpy operation it adds (a known answer
 * on the CPU, CPU-CUDA parity), the actor update's first-layer substitution
 * and the critics' values of both actions it gives, against critics
 * computed naively here in double (each agent's input built with its own
 * action replaced), one update against the algorithm in double, and playing
 * and updating a tiny configuration: deterministic, and a checkpoint round
 * trip bit for bit. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "host/checkpoint.h"
#include "host/episode.h"
#include "host/trained.h"
#include "models/algos/agents.h"
#include "models/algos/maddpg_internal.h"

enum { OBS = AFS_OBS_DIM };

static float rnd(unsigned *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)(rand_r(s) % 100001) / 100000.0f;
}

/* ---- axpy ---- */

Test(maddpg, axpy_known_answer)
{
    afs_backend *b = afs_backend_cpu_create(1);
    float x[4] = {1.0f, -2.0f, 0.5f, 3.0f}, y[6] = {10.0f, 10.0f, 10.0f, 10.0f, -7.0f, -7.0f};
    b->axpy(b, 4, 0.25f, x, y); /* exact in binary: 0.25, -0.5, 0.125, 0.75 added */
    const float want[6] = {10.25f, 9.5f, 10.125f, 10.75f, -7.0f, -7.0f};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(y[i], want[i], "y[%d] = %.9g, want %.9g", i, y[i], want[i]);
    b->axpy(b, 0, 3.0f, x, y); /* empty work: nothing */
    b->axpy(b, 2, -1.0f, x + 2, y + 4);
    cr_assert(y[3] == 10.75f && y[4] == -7.5f && y[5] == -10.0f);
    b->destroy(b);
}

Test(maddpg, axpy_cuda_matches_cpu)
{
    afs_backend *g = test_cuda_or_skip("axpy parity");
    afs_backend *c = afs_backend_cpu_create(1);
    enum { N = 1000 + 3, GUARD = 32 };
    unsigned s = 5;
    static float x[N], y[N + 2 * GUARD], want[N + 2 * GUARD], got[N + 2 * GUARD];
    for (int i = 0; i < N; i++)
        x[i] = rnd(&s, -3.0f, 3.0f);
    for (int i = 0; i < N + 2 * GUARD; i++)
        y[i] = i < GUARD || i >= N + GUARD ? -4242.0f : rnd(&s, -3.0f, 3.0f);
    const float alpha = 0.3f; /* not exact: products round */
    memcpy(want, y, sizeof y);
    c->axpy(c, N, alpha, x, want + GUARD);
    float *gx = g->alloc(g, sizeof x), *gy = g->alloc(g, sizeof y);
    cr_assert(gx && gy);
    g->to_backend(g, gx, x, sizeof x);
    g->to_backend(g, gy, y, sizeof y);
    g->axpy(g, N, alpha, gx, gy + GUARD);
    g->axpy(g, 0, alpha, gx, gy); /* empty: nothing */
    g->to_host(g, got, gy, sizeof got);
    cr_assert_eq(memcmp(got, want, sizeof got), 0, "axpy differs between cpu and cuda (or wrote "
                 "outside its range)");
    for (int i = 0; i < N; i++) { /* and is y + alpha x, each rounded once */
        volatile float p = alpha * x[i];
        cr_assert_eq(want[GUARD + i], y[GUARD + i] + p, "cpu axpy[%d]", i);
    }
    g->release(g, gx);
    g->release(g, gy);
    g->destroy(g);
    c->destroy(c);
}

/* ---- A tiny MADDPG ---- */

enum { E_T = 2, M_T = 3, H1 = 5, H2 = 4, AH = 6, BATCH = 8, SLOTS = 6 };

static afs_config tiny_config(void)
{
    afs_config c;
    afs_config_defaults(&c);
    c.env.agents = M_T;
    c.env.slots = SLOTS;
    c.run.seed = 11;
    c.run.envs = E_T;
    c.maddpg.batch = BATCH;
    snprintf(c.maddpg.actor_hidden, sizeof c.maddpg.actor_hidden, "%d", AH);
    snprintf(c.maddpg.critic_hidden, sizeof c.maddpg.critic_hidden, "%d,%d", H1, H2);
    c.train.warmup = 2 * E_T * M_T;
    c.train.updates_per_slot = 2;
    /* a ring of 5 blocks (slots_for keeps room for the tree's rounding) */
    c.train.replay_mib = (float)(6.0 * (double)afs_replay_block_bytes(E_T * M_T, M_T, 0) /
                                 (1024.0 * 1024.0));
    return c;
}

static afs_agent *make_agent(afs_backend *b, const afs_config *cfg, int train)
{
    char err[512] = "";
    afs_agent *a = afs_agent_create("maddpg", b, cfg, E_T, train, err, sizeof err);
    cr_assert_not_null(a, "%s", err);
    return a;
}

/* The agent's parameter sets: 0 actor, 1 critic_in, 2 critic_body, then
 * their targets. */
typedef struct sets6 {
    afs_ckpt_set s[8];
    afs_ckpt_blob blobs[4];
    afs_checkpoint c;
} sets6;

static void sets_of(afs_agent *a, sets6 *k, int with_replay)
{
    memset(k, 0, sizeof *k);
    k->c.sets = k->s;
    k->c.blobs = k->blobs;
    snprintf(k->c.algo, sizeof k->c.algo, "maddpg");
    a->ops->checkpoint(a, &k->c, with_replay);
}

/* Q_i computed naively in double from the documented layouts on one joint
 * row: x = [o_1..o_M (o: M OBS floats), a (2M floats: one-hot actions, or
 * whatever was substituted)]; h = relu(W_i x + b_i) with critic_in =
 * W [M, H1, D], b [M, H1]; the body group i: W [G, out, in] then b [G, out]
 * per layer (mlp.h), relu between, none at the output. */
static double naive_critic(const float *cin, const float *body, const float *o, const double *a,
                           int i)
{
    enum { D = M_T * (OBS + 2) };
    double x[D], h1[H1], h2[H2];
    for (int j = 0; j < M_T * OBS; j++)
        x[j] = o[j];
    for (int j = 0; j < 2 * M_T; j++)
        x[M_T * OBS + j] = a[j];
    const float *W = cin + (size_t)i * H1 * D, *bias = cin + (size_t)M_T * H1 * D + i * H1;
    for (int u = 0; u < H1; u++) {
        double s = bias[u];
        for (int j = 0; j < D; j++)
            s += (double)W[u * D + j] * x[j];
        h1[u] = s > 0 ? s : 0;
    }
    const float *W1 = body, *b1 = body + M_T * H2 * H1;      /* layer H1 -> H2 */
    const float *W2 = b1 + M_T * H2, *b2 = W2 + M_T * 1 * H2; /* layer H2 -> 1 */
    for (int u = 0; u < H2; u++) {
        double s = b1[i * H2 + u];
        for (int j = 0; j < H1; j++)
            s += (double)W1[(size_t)i * H2 * H1 + u * H1 + j] * h1[j];
        h2[u] = s > 0 ? s : 0;
    }
    double q = b2[i];
    for (int j = 0; j < H2; j++)
        q += (double)W2[i * H2 + j] * h2[j];
    return q;
}

/* Q_i of row b of obs [B, M, OBS], act [B, M] with agent i's action
 * replaced by sub. */
static double naive_q(const float *cin, const float *body, const float *obs,
                      const uint8_t *act, int b, int i, const double sub[2])
{
    double a[2 * M_T];
    for (int m = 0; m < M_T; m++)
        for (int k = 0; k < 2; k++)
            a[2 * m + k] = m == i ? sub[k] : (act[b * M_T + m] == k ? 1.0 : 0.0);
    return naive_critic(cin, body, obs + (size_t)b * M_T * OBS, a, i);
}

/* The logits l of actor m (actor set: OBS -> AH -> 2, G = M) on o; returns
 * l1 - l0. */
static double naive_logits(const float *actor, int m, const float *o, double l[2])
{
    const float *W = actor, *b0 = W + M_T * AH * OBS, *W1 = b0 + M_T * AH;
    const float *b1 = W1 + M_T * 2 * AH;
    double h[AH];
    for (int j = 0; j < AH; j++) {
        double s = b0[m * AH + j];
        for (int c = 0; c < OBS; c++)
            s += (double)W[(size_t)m * AH * OBS + j * OBS + c] * o[c];
        h[j] = s > 0 ? s : 0;
    }
    for (int j = 0; j < 2; j++) {
        l[j] = b1[m * 2 + j];
        for (int c = 0; c < AH; c++)
            l[j] += (double)W1[(size_t)m * 2 * AH + j * AH + c] * h[c];
    }
    return l[1] - l[0];
}

static double naive_margin(const float *actor, int m, const float *o)
{
    double l[2];
    return naive_logits(actor, m, o, l);
}

enum { BS = 6 }; /* rows of the substitution tests */

typedef struct sub_case {
    float obs[BS * M_T * OBS];
    uint8_t act[BS * M_T];
    float sub[M_T * BS * 2]; /* [M, B, 2] */
} sub_case;

/* Random rows; sub: one-hot samples (some equal to the replay's action) when
 * hard, else any reals. */
static void make_case(sub_case *t, unsigned seed, int hard)
{
    for (size_t j = 0; j < sizeof t->obs / sizeof *t->obs; j++)
        t->obs[j] = rnd(&seed, -1.5f, 1.5f);
    for (int j = 0; j < BS * M_T; j++)
        t->act[j] = (uint8_t)(rand_r(&seed) % 2);
    for (int j = 0; j < M_T * BS; j++) {
        int k = rand_r(&seed) % 2;
        t->sub[2 * j] = hard ? (float)(k == 0) : rnd(&seed, -2.0f, 2.0f);
        t->sub[2 * j + 1] = hard ? (float)(k == 1) : rnd(&seed, -2.0f, 2.0f);
    }
}

/* Spreads the critic's parameters (its uniform initial draws are small) so
 * that more units are active and the check sees larger values. */
static void spread(afs_params *p, float by)
{
    for (size_t j = 0; j < p->n; j++)
        p->value[j] *= by;
}

Test(maddpg, substitution_equals_direct_critics)
{
    afs_backend *b = afs_backend_cpu_create(1);
    afs_config cfg = tiny_config();
    afs_agent *a = make_agent(b, &cfg, 1);
    sets6 k;
    sets_of(a, &k, 0);
    cr_assert_eq(k.c.nsets, 6);
    cr_assert_str_eq(k.s[1].params->name, "critic_in");
    cr_assert_str_eq(k.s[1].shape, "linear 36-15 x1");
    cr_assert_eq(k.s[1].params->n, (size_t)M_T * H1 * (M_T * (OBS + 2)) + M_T * H1);
    spread(k.s[1].params, 3.0f);
    spread(k.s[2].params, 2.0f);
    const float *cin = k.s[1].params->value, *body = k.s[2].params->value;
    for (int hard = 0; hard < 2; hard++) {
        sub_case t;
        make_case(&t, 100u + (unsigned)hard, hard);
        const float *q = afs_maddpg_q_substituted(a, BS, t.obs, t.act, t.sub);
        cr_assert_not_null(q);
        double largest = 0.0;
        for (int i = 0; i < M_T; i++)
            for (int r = 0; r < BS; r++) {
                double s2[2] = {t.sub[(i * BS + r) * 2], t.sub[(i * BS + r) * 2 + 1]};
                double want = naive_q(cin, body, t.obs, t.act, r, i, s2);
                largest = fmax(largest, fabs(want));
                cr_assert(fabs(q[i * BS + r] - want) <= 1e-5 * (1.0 + fabs(want)),
                          "%s: Q_%d(row %d) = %.8g, direct %.8g", hard ? "hard" : "reals", i, r,
                          q[i * BS + r], want);
            }
        cr_assert(largest > 0.05, "the check should see non-trivial values (%g)", largest);
    }
    /* Where every sample is the replay's action, nothing is substituted:
     * the same value bit for bit as the critic on the batch itself. */
    sub_case t;
    make_case(&t, 7, 1);
    for (int i = 0; i < M_T; i++)
        for (int r = 0; r < BS; r++)
            for (int c = 0; c < 2; c++)
                t.sub[(i * BS + r) * 2 + c] = (float)(t.act[r * M_T + i] == c);
    float q1[M_T * BS];
    memcpy(q1, afs_maddpg_q_substituted(a, BS, t.obs, t.act, t.sub), sizeof q1);
    for (int i = 0; i < M_T; i++)
        for (int r = 0; r < BS; r++) {
            double s2[2] = {t.sub[(i * BS + r) * 2], t.sub[(i * BS + r) * 2 + 1]};
            cr_assert(fabs(q1[i * BS + r] - naive_q(cin, body, t.obs, t.act, r, i, s2)) <=
                      1e-5 * (1.0 + fabs(q1[i * BS + r])));
        }
    afs_agent_destroy(a);
    b->destroy(b);
}

/* The critics' values of both actions, as the actor update computes them
 * (the first layers once for both): against the critics in double with
 * agent m's action set to each action, and bit for bit the substituted
 * forward with the constant one-hot substitute; where the replay's action
 * is the one valued, the critic on the batch itself. */
Test(maddpg, values_of_both_actions_equal_direct_critics)
{
    afs_backend *b = afs_backend_cpu_create(1);
    afs_config cfg = tiny_config();
    afs_agent *a = make_agent(b, &cfg, 1);
    sets6 k;
    sets_of(a, &k, 0);
    spread(k.s[1].params, 3.0f);
    spread(k.s[2].params, 2.0f);
    const float *cin = k.s[1].params->value, *body = k.s[2].params->value;
    for (unsigned seed = 31; seed < 34; seed++) {
        sub_case t;
        make_case(&t, seed, 1);
        float qpair[M_T * BS * 2];
        const float *got = afs_maddpg_q_of_both_actions(a, BS, t.obs, t.act);
        cr_assert_not_null(got);
        memcpy(qpair, got, sizeof qpair);
        double largest = 0.0, apart = 0.0;
        int own = 0;
        for (int i = 0; i < M_T; i++)
            for (int r = 0; r < BS; r++) {
                for (int c = 0; c < 2; c++) {
                    double e[2] = {c == 0, c == 1};
                    double want = naive_q(cin, body, t.obs, t.act, r, i, e);
                    float q = qpair[(i * BS + r) * 2 + c];
                    largest = fmax(largest, fabs(want));
                    cr_assert(fabs(q - want) <= 1e-5 * (1.0 + fabs(want)),
                              "Q_%d(row %d, a_%d = %d) = %.8g, direct %.8g", i, r, i, c, q,
                              want);
                    own += t.act[r * M_T + i] == c;
                }
                apart = fmax(apart, fabs(qpair[(i * BS + r) * 2 + 1] - qpair[(i * BS + r) * 2]));
            }
        cr_assert(largest > 0.05 && apart > 1e-3, "the check should see non-trivial values "
                  "(largest %g, actions apart by %g)", largest, apart);
        cr_assert_eq(own, M_T * BS);
        for (int c = 0; c < 2; c++) {
            for (int j = 0; j < M_T * BS; j++) {
                t.sub[2 * j] = (float)(c == 0);
                t.sub[2 * j + 1] = (float)(c == 1);
            }
            const float *q = afs_maddpg_q_substituted(a, BS, t.obs, t.act, t.sub);
            cr_assert_not_null(q);
            for (int j = 0; j < M_T * BS; j++)
                cr_assert_eq(memcmp(&q[j], &qpair[2 * j + c], sizeof(float)), 0,
                             "[%d, %d]: %.9g substituted, %.9g of both actions", j, c, q[j],
                             qpair[2 * j + c]);
        }
    }
    cr_assert_null(afs_maddpg_q_of_both_actions(a, BATCH + 1, NULL, NULL), "B > maddpg.batch");
    afs_agent_destroy(a);
    b->destroy(b);
}

/* Every value, Adam moment and step count of the agent's six sets, as one
 * host copy. */
typedef struct snapshot {
    float *data;
    size_t n;
    long adam_t[6];
} snapshot;

static snapshot take(afs_agent *a)
{
    sets6 k;
    sets_of(a, &k, 0);
    snapshot s = {NULL, 0, {0}};
    for (int i = 0; i < 6; i++)
        s.n += 3 * k.s[i].params->n;
    s.data = malloc(s.n * sizeof(float));
    float *at = s.data;
    for (int i = 0; i < 6; i++) {
        afs_params *p = k.s[i].params;
        float *src[3] = {p->value, p->m, p->v};
        for (int j = 0; j < 3; j++, at += p->n)
            memcpy(at, src[j], p->n * sizeof(float));
        s.adam_t[i] = p->adam_t;
    }
    return s;
}

static int same(const snapshot *x, const snapshot *y)
{
    return x->n == y->n && !memcmp(x->data, y->data, x->n * sizeof(float)) &&
           !memcmp(x->adam_t, y->adam_t, sizeof x->adam_t);
}

/* Set i's values in a snapshot (sets of k, in order). */
static const float *snap_values(const snapshot *s, const sets6 *k, int i)
{
    size_t at = 0;
    for (int j = 0; j < i; j++)
        at += 3 * k->s[j].params->n;
    return s->data + at;
}

/* The critic loss mean over M B of (Q_i - y_i)^2 on a batch, in double. */
static double naive_loss(const float *cin, const float *body, const afs_batch *t,
                         double y[M_T][BATCH], double *td_abs)
{
    double loss = 0.0, td = 0.0;
    for (int r = 0; r < BATCH; r++)
        for (int i = 0; i < M_T; i++) {
            double a[2 * M_T];
            for (int m = 0; m < M_T; m++)
                for (int c = 0; c < 2; c++)
                    a[2 * m + c] = t->act[r * M_T + m] == c;
            double d = naive_critic(cin, body, t->obs + (size_t)r * M_T * OBS, a, i) - y[i][r];
            loss += d * d;
            td += fabs(d);
        }
    if (td_abs)
        *td_abs = td / (M_T * BATCH);
    return loss / (M_T * BATCH);
}

/* The straight-through surrogate of the actors' loss: J = sum over agents
 * m and rows r of dhard[m][r] . soft_m(r), soft = softmax((l + g) / tau) of
 * actor m's logits l on o_{r,m} and the Gumbel noise g, plus the logits'
 * penalty LOGIT_REG mean(l^2) of each actor over its rows (train.logit_reg): its
 * gradient in the actor's parameters is the one the update takes. Two
 * classes: soft_1 is the logistic of (l1 - l0 + g1 - g0) / tau. */
#define LOGIT_REG 1e-3 /* train.logit_reg's default, which tiny_config keeps */

static double surrogate(const float *actor, const afs_batch *t, double dg[M_T][BATCH],
                        double dhard[M_T][BATCH][2], double tau)
{
    double J = 0.0;
    for (int m = 0; m < M_T; m++)
        for (int r = 0; r < BATCH; r++) {
            double l[2];
            double z = (naive_logits(actor, m, t->obs + ((size_t)r * M_T + m) * OBS, l) +
                        dg[m][r]) / tau;
            double s1 = 1.0 / (1.0 + exp(-z));
            J += dhard[m][r][0] * (1.0 - s1) + dhard[m][r][1] * s1;
            J += LOGIT_REG * (l[0] * l[0] + l[1] * l[1]) / (2.0 * BATCH);
        }
    return J;
}

/* Central differences at two steps that disagree: the step crossed a
 * ReLU's kink, and the difference says nothing about the gradient there. */
static int kink(const double fd[2])
{
    return fabs(fd[0] - fd[1]) > 1e-6 + 1e-3 * fabs(fd[0]);
}

/* One gradient step against the algorithm computed here in double, on the
 * batch the step drew (the replay's batch afterwards), without gradient
 * clipping: the critic loss from TD targets of the target networks (the
 * target actors' argmax on o', the target critics), critic_in's gradient
 * against finite differences of that loss; the actor loss (Q_m with agent
 * m's Gumbel sample, the others' replay actions, the critic after its
 * step) and the actors' gradient against finite differences of the
 * straight-through surrogate, with dL/dhard_m,a = -(valid)/B Q_m(.., a_m = a,
 * ..) (critic m's values of both actions, not its slope) held fixed, and
 * the logits' penalty; the soft updates of the three targets. */
Test(maddpg, one_step_matches_the_algorithm)
{
    cr_assert_eq(tiny_config().train.logit_reg, (float)LOGIT_REG, "the surrogate's penalty");
    afs_backend *b = afs_backend_cpu_create(1);
    afs_config cfg = tiny_config();
    cfg.maddpg.grad_clip = 0.0f;
    cfg.train.updates_per_slot = 1;
    afs_env env;
    cr_assert_eq(afs_env_init(&env, b, &cfg.env, E_T, 5), 0);
    afs_env_begin_episode(&env, b, 0);
    afs_agent *a = make_agent(b, &cfg, 1);
    char err[512] = "";
    for (int s = 0; s < 4; s++)
        afs_episode_slot(a, &env, AFS_PLAY_TRAIN);
    sets6 k;
    sets_of(a, &k, 0);
    spread(k.s[3].params, -1.5f); /* targets unlike the online sets */
    spread(k.s[4].params, 1.3f);
    spread(k.s[5].params, 0.8f);
    snapshot before = take(a);
    afs_agent_stats st;
    cr_assert_eq(a->ops->update(a, err, sizeof err), 0, "%s", err);
    a->ops->stats(a, &st);
    cr_assert_eq(st.updates, 1.0);
    const afs_batch *t = &afs_maddpg_replay(a)->batch;
    cr_assert_eq(t->B, BATCH);
    const float *actor0 = snap_values(&before, &k, 0), *cin0 = snap_values(&before, &k, 1);
    const float *body0 = snap_values(&before, &k, 2), *actor_t0 = snap_values(&before, &k, 3);
    const float *cin_t0 = snap_values(&before, &k, 4), *body_t0 = snap_values(&before, &k, 5);
    const double gamma = cfg.maddpg.gamma, tau = cfg.train.gumbel_tau;

    /* TD targets and the critic loss. */
    static double y[M_T][BATCH];
    for (int r = 0; r < BATCH; r++) {
        const float *o2 = t->next_obs + (size_t)r * M_T * OBS;
        double a2[2 * M_T];
        for (int m = 0; m < M_T; m++) {
            int an = naive_margin(actor_t0, m, o2 + m * OBS) > 0;
            a2[2 * m] = an == 0;
            a2[2 * m + 1] = an == 1;
        }
        for (int i = 0; i < M_T; i++) {
            int done = (t->flags[r * M_T + i] & AFS_RF_DONE) != 0;
            y[i][r] = t->rew[r * M_T + i] +
                      gamma * (1 - done) * naive_critic(cin_t0, body_t0, o2, a2, i);
        }
    }
    double td_abs, loss = naive_loss(cin0, body0, t, y, &td_abs);
    cr_assert(fabs(st.critic_loss - loss) <= 1e-4 * loss + 1e-7, "critic loss %.8g, direct %.8g",
              st.critic_loss, loss);
    cr_assert(fabs(st.td_abs - td_abs) <= 1e-4 * td_abs + 1e-7, "td %.8g, direct %.8g",
              st.td_abs, td_abs);

    /* critic_in's gradient (the critic step's: the actor step leaves it). */
    const afs_params *cin = k.s[1].params;
    float *cp = malloc(cin->n * sizeof *cp);
    memcpy(cp, cin0, cin->n * sizeof *cp);
    double largest = 0.0;
    int checked = 0, kinks = 0;
    for (size_t j = 0; j < cin->n; j += 7) {
        double fd[2];
        for (int h = 0; h < 2; h++) {
            float c0 = cp[j], hi = c0 + (h ? 2e-4f : 1e-4f), lo = c0 - (h ? 2e-4f : 1e-4f);
            cp[j] = hi;
            double lp = naive_loss(cp, body0, t, y, NULL);
            cp[j] = lo;
            double lm = naive_loss(cp, body0, t, y, NULL);
            cp[j] = c0;
            fd[h] = (lp - lm) / ((double)hi - (double)lo);
        }
        if (!kink(fd)) {
            largest = fmax(largest, fabs(fd[0]));
            checked++;
            cr_assert(fabs(cin->grad[j] - fd[0]) <= 1e-4 + 1e-3 * fabs(fd[0]),
                      "critic_in gradient [%zu] = %.7g, finite difference %.7g", j,
                      cin->grad[j], fd[0]);
        } else {
            kinks++;
        }
    }
    cr_assert(kinks * 10 <= checked, "%d of %d differences cross a kink", kinks, checked);
    cr_assert(largest > 1e-3, "critic_in's gradient should not be trivially 0 (%g)", largest);
    free(cp);

    /* The actors: the critic as it is after its step (the actor step
     * changes no critic), the noise of row m B + r of the agent-major
     * [M, B] logits, update 0. */
    const float *cin1 = k.s[1].params->value, *body1 = k.s[2].params->value;
    static double dg[M_T][BATCH], dhard[M_T][BATCH][2];
    double actor_loss = 0.0;
    int valid = 0;
    for (int m = 0; m < M_T; m++)
        for (int r = 0; r < BATCH; r++) {
            afs_block blk = afs_philox(cfg.run.seed, AFS_STREAM_UPDATE, (uint32_t)(m * BATCH + r),
                                       0, 0, 0);
            double g0 = afs_gumbel(blk.v[0]), g1 = afs_gumbel(blk.v[1]);
            dg[m][r] = g1 - g0;
            double l = naive_margin(actor0, m, t->obs + ((size_t)r * M_T + m) * OBS);
            double hard[2] = {l + g1 - g0 > 0 ? 0.0 : 1.0, l + g1 - g0 > 0 ? 1.0 : 0.0};
            actor_loss -= naive_q(cin1, body1, t->obs, t->act, r, m, hard);
            int v = (t->flags[r * M_T + m] & AFS_RF_VALID) != 0;
            valid += v;
            for (int c = 0; c < 2; c++) { /* critic m's value of each action */
                double e[2] = {c == 0, c == 1};
                dhard[m][r][c] = -(double)v / BATCH * naive_q(cin1, body1, t->obs, t->act, r, m, e);
            }
        }
    actor_loss /= M_T * BATCH;
    cr_assert(valid > 0 && valid < M_T * BATCH, "%d decisions in the batch", valid);
    cr_assert(fabs(st.actor_loss - actor_loss) <= 1e-4 * fabs(actor_loss) + 1e-7,
              "actor loss %.8g, direct %.8g", st.actor_loss, actor_loss);
    const afs_params *actor = k.s[0].params;
    float *ap = malloc(actor->n * sizeof *ap);
    memcpy(ap, actor0, actor->n * sizeof *ap);
    largest = 0.0;
    checked = kinks = 0;
    for (size_t j = 0; j < actor->n; j++) {
        double fd[2];
        for (int h = 0; h < 2; h++) {
            float c0 = ap[j], hi = c0 + (h ? 2e-4f : 1e-4f), lo = c0 - (h ? 2e-4f : 1e-4f);
            ap[j] = hi;
            double jp = surrogate(ap, t, dg, dhard, tau);
            ap[j] = lo;
            double jm = surrogate(ap, t, dg, dhard, tau);
            ap[j] = c0;
            fd[h] = (jp - jm) / ((double)hi - (double)lo);
        }
        if (!kink(fd)) {
            largest = fmax(largest, fabs(fd[0]));
            checked++;
            cr_assert(fabs(actor->grad[j] - fd[0]) <= 1e-5 + 1e-3 * fabs(fd[0]),
                      "actor gradient [%zu] = %.7g, finite difference %.7g", j, actor->grad[j],
                      fd[0]);
        } else {
            kinks++;
        }
    }
    cr_assert(kinks * 10 <= checked, "%d of %d differences cross a kink", kinks, checked);
    cr_assert(largest > 1e-4, "the actors' gradient should not be trivially 0 (%g)", largest);
    free(ap);

    /* The targets followed their online sets softly. */
    for (int i = 0; i < 3; i++) {
        const afs_params *on = k.s[i].params, *tg = k.s[3 + i].params;
        const float *old = snap_values(&before, &k, 3 + i);
        for (size_t j = 0; j < on->n; j++) {
            double want = cfg.maddpg.tau * (double)on->value[j] +
                          (1.0 - cfg.maddpg.tau) * (double)old[j];
            cr_assert(fabs(tg->value[j] - want) <= 1e-6, "%s[%zu]", tg->name, j);
        }
    }
    free(before.data);
    afs_agent_destroy(a);
    afs_env_free(&env, b);
    b->destroy(b);
}

static void play(afs_agent *a, afs_env *env, uint32_t episode)
{
    afs_episode_row row;
    afs_episode_sums sums;
    afs_agent_stats st;
    char err[512] = "";
    cr_assert_eq(afs_episode_play(a, env, episode, AFS_PLAY_TRAIN, NULL, &row, &sums, &st, err,
                                  sizeof err), 0, "%s", err);
    cr_assert(isfinite(st.critic_loss) && isfinite(st.actor_loss) && isfinite(st.td_abs),
              "losses %g %g %g", st.critic_loss, st.actor_loss, st.td_abs);
    cr_assert(st.updates > 0 && st.replay_fill > 0.0 && st.replay_fill <= 1.0);
}

Test(maddpg, plays_updates_deterministically_and_checkpoints)
{
    afs_backend *b = afs_backend_cpu_create(1);
    afs_config cfg = tiny_config();
    afs_env env1, env2, env3;
    cr_assert_eq(afs_env_init(&env1, b, &cfg.env, E_T, 3), 0);
    cr_assert_eq(afs_env_init(&env2, b, &cfg.env, E_T, 3), 0);
    cr_assert_eq(afs_env_init(&env3, b, &cfg.env, E_T, 3), 0);
    afs_agent *a1 = make_agent(b, &cfg, 1), *a2 = make_agent(b, &cfg, 1);
    cr_assert_eq(a1->replay.slots, 5);
    snapshot start = take(a1);
    for (uint32_t ep = 0; ep < 2; ep++) {
        play(a1, &env1, ep);
        play(a2, &env2, ep);
    }
    long long u = a1->ops->updates(a1);
    cr_assert_eq(u, a2->ops->updates(a2));
    cr_assert(u >= 2 * SLOTS, "updates %lld", u); /* warm-up of 2 slots, 2 per slot after */
    snapshot s1 = take(a1), s2 = take(a2);
    cr_assert(!same(&start, &s1), "the updates changed nothing");
    cr_assert(same(&s1, &s2), "two agents of one seed differ after the same updates");

    /* A checkpoint (with the replay) restores every set bit for bit, into
     * an agent whose parameters were overwritten, and the restored one
     * continues exactly as the original. */
    char dir[] = "/tmp/afsim-maddpg-XXXXXX", path[600], err[1024] = "";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.h5", dir);
    sets6 k1;
    sets_of(a1, &k1, 1);
    cr_assert_eq(k1.c.nblobs, 4);
    k1.c.counters = (afs_counters){.seed = cfg.run.seed, .episode = 2, .updates = u};
    afs_config kept = cfg; /* the stored configuration must pass the key ranges */
    kept.train.replay_mib = 1.0f;
    cr_assert_eq(afs_checkpoint_save(path, b, &k1.c, &kept, err, sizeof err), 0, "%s", err);

    afs_agent *a3 = make_agent(b, &cfg, 1);
    sets6 k3;
    sets_of(a3, &k3, 1);
    for (int i = 0; i < 6; i++) {
        afs_params *p = k3.s[i].params;
        b->fill(b, p->n, 0.5f, p->value);
        b->fill(b, p->n, 0.25f, p->m);
        p->adam_t = 99;
    }
    int blobs = 0;
    cr_assert_eq(afs_checkpoint_load(path, b, &k3.c, 0, &blobs, err, sizeof err), 0, "%s", err);
    cr_assert_eq(a3->ops->set_updates(a3, k3.c.counters.updates, 1, err, sizeof err), 0, "%s", err);
    snapshot s3 = take(a3);
    cr_assert(same(&s1, &s3), "the checkpoint did not restore every set bit for bit");
    cr_assert_eq(a3->ops->updates(a3), u);

    play(a1, &env1, 2);
    play(a3, &env3, 2);
    snapshot s1b = take(a1), s3b = take(a3);
    cr_assert(same(&s1b, &s3b), "the restored agent does not continue as the original");
    cr_assert_eq(a1->ops->updates(a1), a3->ops->updates(a3));

    /* Playing for evaluation from the checkpoint (no replay). */
    afs_agent *ev = afs_agent_from_checkpoint(path, b, &cfg, E_T, err, sizeof err);
    cr_assert_not_null(ev, "%s", err);
    afs_env_begin_episode(&env3, b, 5);
    afs_episode_slot(ev, &env3, AFS_PLAY_EVAL);
    afs_episode_decide(ev, &env3);
    afs_agent_destroy(ev);

    free(start.data);
    free(s1.data);
    free(s2.data);
    free(s3.data);
    free(s1b.data);
    free(s3b.data);
    afs_agent_destroy(a1);
    afs_agent_destroy(a2);
    afs_agent_destroy(a3);
    afs_env_free(&env1, b);
    afs_env_free(&env2, b);
    afs_env_free(&env3, b);
    test_remove_dir(dir);
    b->destroy(b);
}

/* The actors act per agent: the decision of agent m in environment e
 * comes from actor m (group m of the grouped actor) on o_{e,m} alone:
 * checked against the actor computed here in double on every agent's
 * observation, for many environments. */
Test(maddpg, actors_act_on_their_own_observations)
{
    enum { EV = 16 };
    afs_backend *b = afs_backend_cpu_create(1);
    afs_config cfg = tiny_config();
    afs_env env;
    cr_assert_eq(afs_env_init(&env, b, &cfg.env, EV, 4), 0);
    afs_env_begin_episode(&env, b, 0);
    char err[512] = "";
    afs_agent *a = afs_agent_create("maddpg", b, &cfg, EV, 0, err, sizeof err);
    cr_assert_not_null(a, "%s", err);
    sets6 k;
    sets_of(a, &k, 1);
    cr_assert_eq(k.c.nblobs, 0, "an agent made for playing has no replay");
    spread(k.s[0].params, 4.0f);
    float *W = k.s[0].params->value; /* actor: OBS -> AH -> 2, G = M */
    float *b1 = W + M_T * AH * OBS + M_T * AH + M_T * 2 * AH;
    /* The slot's arrivals are drawn from counters: drawing them here gives
     * what the slot will draw, and the observation it will see. */
    static float obs[EV * M_T * OBS];
    static double margin[EV * M_T]; /* l1 - l0 of actor m on o_{e,m} */
    b->env_arrive(b, &env);
    b->env_observe(b, &env, obs);
    for (int pass = 0; pass < 2; pass++)
        for (int m = 0; m < M_T; m++) {
            double sum = 0.0;
            for (int e = 0; e < EV; e++) {
                margin[e * M_T + m] = naive_margin(W, m, obs + ((size_t)e * M_T + m) * OBS);
                sum += margin[e * M_T + m];
            }
            if (pass == 0) /* centre each actor's margins: decisions of both kinds */
                b1[m * 2 + 1] -= (float)(sum / EV);
        }
    afs_episode_slot(a, &env, AFS_PLAY_EVAL);
    int checked = 0, local = 0;
    for (int e = 0; e < EV; e++)
        for (int m = 0; m < M_T; m++) {
            size_t i = (size_t)e * M_T + m;
            if (!(env.flags[i] & AFS_F_HAS) || fabs(margin[i]) < 1e-4)
                continue;
            int want = margin[i] > 0, got = (env.flags[i] & AFS_F_LOCAL) != 0;
            cr_assert_eq(got, want, "env %d agent %d: action %d, its actor says %d", e, m, got,
                         want);
            checked++;
            local += got;
        }
    cr_assert(checked >= EV && local > 0 && local < checked, "%d decisions, %d local", checked,
              local);
    afs_agent_destroy(a);
    afs_env_free(&env, b);
    b->destroy(b);
}

Test(maddpg, refuses_what_it_cannot_do)
{
    afs_backend *b = afs_backend_cpu_create(1);
    char err[512] = "";
    afs_config cfg = tiny_config();
    snprintf(cfg.maddpg.replay, sizeof cfg.maddpg.replay, "prioritized");
    cr_assert_null(afs_agent_create("maddpg", b, &cfg, E_T, 1, err, sizeof err));
    cr_assert(strstr(err, "maddpg.replay"), "%s", err);
    cfg = tiny_config();
    snprintf(cfg.maddpg.critic_hidden, sizeof cfg.maddpg.critic_hidden, "none");
    cr_assert_null(afs_agent_create("maddpg", b, &cfg, E_T, 1, err, sizeof err));
    cr_assert(strstr(err, "critic_hidden"), "%s", err);
    b->destroy(b);
}
