/* AM-DRL (models/algos/amdrl.c): the delta-Q labels over their queue by
 * hand; the attention unit's gradient against finite differences of its
 * loss computed here in double from its output, and its first Adam step by
 * hand; the channel (gather, bidirectional LSTM, an EN's integrated
 * thought) against finite differences over a three-member group; groups
 * formed every t_comm slots and held in between; playing and updating
 * deterministically with a checkpoint round trip. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "host/checkpoint.h"
#include "host/episode.h"
#include "host/trace.h"
#include "kernels/common/groups_math.h"
#include "models/algos/agents.h"
#include "models/algos/amdrl_internal.h"

/* ---- Labels ---- */

static void expect_labels(const float *got, const float *want, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        cr_assert_float_eq(got[i], want[i], 1e-6f, "%s: label %d = %g, want %g", what, i, got[i],
                           want[i]);
}

Test(amdrl, minmax_labels_are_min_max_over_the_queue)
{
    float q[4] = {0}, lab[6];
    int count = 0, head = 0;
    afs_amdrl_labels(q, 4, &count, &head, (const float[]){7.0f}, 1, AFS_LABELS_MINMAX, lab);
    expect_labels(lab, (const float[]){0.5f}, 1, "one value: no range");
    count = head = 0;
    afs_amdrl_labels(q, 4, &count, &head, (const float[]){1.0f, 3.0f}, 2, AFS_LABELS_MINMAX, lab);
    expect_labels(lab, (const float[]){0.0f, 1.0f}, 2, "{1, 3}");
    afs_amdrl_labels(q, 4, &count, &head, (const float[]){2.0f}, 1, AFS_LABELS_MINMAX, lab);
    expect_labels(lab, (const float[]){0.5f}, 1, "2 in {1, 3, 2}");
    /* 5 fills the queue, 0 replaces the oldest (1): {0, 3, 2, 5} */
    afs_amdrl_labels(q, 4, &count, &head, (const float[]){5.0f, 0.0f}, 2, AFS_LABELS_MINMAX, lab);
    expect_labels(lab, (const float[]){1.0f, 0.0f}, 2, "{5, 0} in {0, 3, 2, 5}");
    cr_assert_eq(count, 4);
    cr_assert_eq(head, 1);
    /* six values into four places: 10 and -10 have left it: {3, 4, 1, 2},
     * and their labels are clamped */
    count = head = 0;
    afs_amdrl_labels(q, 4, &count, &head, (const float[]){10, -10, 1, 2, 3, 4}, 6, AFS_LABELS_MINMAX, lab);
    expect_labels(lab, (const float[]){1.0f, 0.0f, 0.0f, 1.0f / 3, 2.0f / 3, 1.0f}, 6,
                  "more values than places");
}

/* Anchored at dQ = 0: 0.5 + 0.5 dQ / max |dQ| over the queue, so a label is
 * above 1/2 exactly where talking helped, whatever the other values (the
 * min-max labels put 1 and 3 at 0 and 1 although both helped). */
Test(amdrl, anchored_labels_are_above_half_exactly_where_dq_is_positive)
{
    float q[4] = {0}, lab[6];
    int count = 0, head = 0;
    afs_amdrl_labels(q, 4, &count, &head, (const float[]){0.0f}, 1, AFS_LABELS_ANCHORED, lab);
    expect_labels(lab, (const float[]){0.5f}, 1, "only a zero: no scale");
    count = head = 0;
    /* {1, 3}: max |.| = 3: 0.5 + 0.5 / 3 and 1 */
    afs_amdrl_labels(q, 4, &count, &head, (const float[]){1.0f, 3.0f}, 2, AFS_LABELS_ANCHORED, lab);
    expect_labels(lab, (const float[]){0.5f + 0.5f / 3, 1.0f}, 2, "{1, 3}");
    /* -6 joins: max |.| = 6: 0 for it */
    afs_amdrl_labels(q, 4, &count, &head, (const float[]){-6.0f}, 1, AFS_LABELS_ANCHORED, lab);
    expect_labels(lab, (const float[]){0.0f}, 1, "-6 in {1, 3, -6}");
    /* -1.5 and 0 in {1, 3, -6, -1.5}, then 0 replaces 1: 0.375 and 0.5 */
    afs_amdrl_labels(q, 4, &count, &head, (const float[]){-1.5f, 0.0f}, 2, AFS_LABELS_ANCHORED, lab);
    expect_labels(lab, (const float[]){0.375f, 0.5f}, 2, "{-1.5, 0} in {0, 3, -6, -1.5}");
    /* six values into four places: 8 and -20 have left it: {2, -1, 4, 0.5},
     * max |.| = 4; their labels are clamped */
    count = head = 0;
    const float dq[6] = {8, -20, 2, -1, 4, 0.5f};
    afs_amdrl_labels(q, 4, &count, &head, dq, 6, AFS_LABELS_ANCHORED, lab);
    expect_labels(lab, (const float[]){1.0f, 0.0f, 0.75f, 0.375f, 1.0f, 0.5625f}, 6,
                  "more values than places");
    for (int i = 0; i < 6; i++)
        cr_assert_eq(lab[i] > 0.5f, dq[i] > 0.0f, "label %d", i);
}

/* Sign labels: 1 where talking helped, 0 where it hurt, 1/2 at exactly 0,
 * whatever the queue holds. */
Test(amdrl, sign_labels_are_one_where_dq_is_positive)
{
    float q[4] = {0}, lab[5];
    int count = 0, head = 0;
    afs_amdrl_labels(q, 4, &count, &head, (const float[]){1e-9f, -3.0f, 0.0f, 250.0f, -1e-9f}, 5,
                     AFS_LABELS_SIGN, lab);
    expect_labels(lab, (const float[]){1.0f, 0.0f, 0.5f, 1.0f, 0.0f}, 5, "signs");
    cr_assert_eq(count, 4);
}

/* ---- A tiny AM-DRL ---- */

enum { E_T = 2, M_T = 4, T_T = 4, A_T = 3, BATCH = 8, SLOTS = 6 };

static afs_config tiny_config(void)
{
    afs_config c;
    afs_config_defaults(&c);
    c.env.agents = M_T;
    c.env.slots = SLOTS;
    c.env.area_m = 50.0f;
    c.run.seed = 5;
    c.run.envs = E_T;
    c.amdrl.batch = BATCH; /* two joint rows */
    snprintf(c.amdrl.actor_hidden, sizeof c.amdrl.actor_hidden, "6");
    snprintf(c.amdrl.critic_hidden, sizeof c.amdrl.critic_hidden, "7,5");
    snprintf(c.comm.part2_hidden, sizeof c.comm.part2_hidden, "5");
    c.comm.thought = T_T;
    c.comm.channel_hidden = T_T / 2;
    c.comm.attention_hidden = A_T;
    c.comm.group_m = 3;
    c.comm.t_comm = 2;
    c.comm.comm_range_m = 1000.0f;
    c.comm.dq_queue = 16;
    c.train.warmup = 2 * E_T * M_T;
    c.train.updates_per_slot = 1;
    c.train.replay_mib = 1.0f;
    return c;
}

static afs_agent *make_agent(afs_backend *b, const afs_config *cfg, int train)
{
    char err[512] = "";
    afs_agent *a = afs_agent_create("amdrl", b, cfg, E_T, train, err, sizeof err);
    cr_assert_not_null(a, "%s", err);
    return a;
}

static float rnd(unsigned *s, float lo, float hi)
{
    *s = *s * 1103515245u + 12345u;
    return lo + (hi - lo) * (float)((*s >> 8) & 0xFFFF) / 65535.0f;
}

/* ---- The attention unit ---- */

/* Its loss in double from its output p: mean BCE of 0.9 p + 0.05. */
static double attention_loss(afs_agent *a, int k, const float *h, const float *y)
{
    const float *p = afs_amdrl_attention_output(a, k, h);
    cr_assert_not_null(p);
    double L = 0.0;
    for (int i = 0; i < k; i++) {
        double s = 0.9 * p[i] + 0.05;
        L -= y[i] * log(s) + (1.0 - y[i]) * log(1.0 - s);
    }
    return L / k;
}

Test(amdrl, attention_unit_gradient_and_first_step_by_hand)
{
    afs_backend *b = afs_backend_cpu_create(1);
    afs_config cfg = tiny_config();
    afs_agent *a = make_agent(b, &cfg, 1);
    enum { K3 = 3 };
    float h[K3 * T_T], y[K3] = {0.0f, 0.3f, 1.0f};
    unsigned s = 3;
    for (int i = 0; i < K3 * T_T; i++)
        h[i] = rnd(&s, 0.0f, 2.0f); /* thoughts are ReLU outputs */
    afs_params *sets[2] = {afs_amdrl_params(a, "attention_cell"),
                           afs_amdrl_params(a, "attention_out")};
    cr_assert(sets[0] && sets[1]);
    float *before[2];
    for (int k = 0; k < 2; k++) {
        before[k] = malloc(sets[k]->n * sizeof(float));
        memcpy(before[k], sets[k]->value, sets[k]->n * sizeof(float));
    }
    double want_loss = attention_loss(a, K3, h, y);
    char err[256];
    double loss = afs_amdrl_attention_fit(a, K3, h, y, err, sizeof err);
    cr_assert_float_eq(loss, want_loss, 1e-5, "loss %.8g, in double %.8g", loss, want_loss);
    double lr = cfg.comm.attention_lr, largest = 0.0;
    for (int k = 0; k < 2; k++) {
        afs_params *p = sets[k];
        float *after = malloc(p->n * sizeof(float));
        memcpy(after, p->value, p->n * sizeof(float));
        memcpy(p->value, before[k], p->n * sizeof(float)); /* the gradient's point */
        for (size_t i = 0; i < p->n; i++) {
            float saved = p->value[i], hf = 1e-3f;
            p->value[i] = saved + hf;
            double lp = attention_loss(a, K3, h, y);
            p->value[i] = saved - hf;
            double lm = attention_loss(a, K3, h, y);
            p->value[i] = saved;
            double fd = (lp - lm) / (2.0 * hf), g = p->grad[i];
            largest = fmax(largest, fabs(fd));
            cr_assert(fabs(g - fd) <= 2e-4 + 1e-2 * fabs(fd), "%s[%zu]: gradient %.7g, finite "
                      "difference %.7g", p->name, i, g, fd);
            /* Adam's first step: m^ = g, v^ = g^2, so the change is
             * -lr g / (|g| + eps) */
            double step = -lr * g / (fabs(g) + 1e-8);
            cr_assert_float_eq(after[i] - before[k][i], step, 1e-6, "%s[%zu]: moved %.8g, by hand "
                               "%.8g", p->name, i, after[i] - before[k][i], step);
        }
        free(after);
        free(before[k]);
    }
    cr_assert(largest > 1e-3, "the check should see a non-trivial gradient (%g)", largest);
    afs_agent_destroy(a);
    b->destroy(b);
}

/* ---- The channel ---- */

/* L = <h~, w> of the integrated thoughts. */
static double channel_loss(afs_agent *a, const int16_t *grp, const float *h, const float *w)
{
    const float *ht = afs_amdrl_integrate(a, M_T, grp, h);
    cr_assert_not_null(ht);
    double L = 0.0;
    for (int i = 0; i < M_T * T_T; i++)
        L += (double)ht[i] * w[i];
    return L;
}

/* One joint row of M = 4: EN 1 initiated a group {1, 3, 0}; EN 2 is in no
 * group and keeps its thought. dL/dh by finite differences of every
 * thought entry (through the gather, both directions of the LSTM and the
 * EN's output), and of the channel's parameters. */
Test(amdrl, channel_gradient_matches_finite_differences_over_a_three_member_group)
{
    afs_backend *b = afs_backend_cpu_create(1);
    afs_config cfg = tiny_config();
    afs_agent *a = make_agent(b, &cfg, 1);
    enum { K = 4 };
    int16_t grp[M_T * K];
    for (int i = 0; i < M_T * K; i++)
        grp[i] = -1;
    grp[1 * K + 0] = 1;
    grp[1 * K + 1] = 3;
    grp[1 * K + 2] = 0;
    float h[M_T * T_T], w[M_T * T_T], dh[M_T * T_T];
    unsigned s = 17;
    for (int i = 0; i < M_T * T_T; i++) {
        h[i] = rnd(&s, 0.0f, 1.5f);
        w[i] = rnd(&s, -1.0f, 1.0f);
    }
    const float *ht = afs_amdrl_integrate(a, M_T, grp, h);
    for (int c = 0; c < T_T; c++)
        cr_assert_eq(ht[2 * T_T + c], h[2 * T_T + c], "EN 2 is in no group: h~ = h");
    int moved = 0;
    for (int j = 0; j < M_T; j += 1)
        for (int c = 0; c < T_T && j != 2; c++)
            moved += fabsf(ht[j * T_T + c] - h[j * T_T + c]) > 1e-4f;
    cr_assert(moved > 0, "the group's members should get integrated thoughts");
    afs_amdrl_integrate_backward(a, M_T, grp, w, dh);
    afs_params *ch = afs_amdrl_params(a, "channel");
    float *gp = malloc(ch->n * sizeof(float));
    memcpy(gp, ch->grad, ch->n * sizeof(float));
    double largest = 0.0;
    for (int i = 0; i < M_T * T_T; i++) {
        float saved = h[i], hf = 1e-2f;
        h[i] = saved + hf;
        double lp = channel_loss(a, grp, h, w);
        h[i] = saved - hf;
        double lm = channel_loss(a, grp, h, w);
        h[i] = saved;
        double fd = (lp - lm) / (2.0 * hf);
        largest = fmax(largest, fabs(fd));
        cr_assert(fabs(dh[i] - fd) <= 1e-3 + 1e-2 * fabs(fd), "dL/dh[EN %d, %d] = %.7g, finite "
                  "difference %.7g", i / T_T, i % T_T, dh[i], fd);
    }
    for (size_t i = 0; i < ch->n; i += 3) {
        float saved = ch->value[i], hf = 1e-2f;
        ch->value[i] = saved + hf;
        double lp = channel_loss(a, grp, h, w);
        ch->value[i] = saved - hf;
        double lm = channel_loss(a, grp, h, w);
        ch->value[i] = saved;
        double fd = (lp - lm) / (2.0 * hf);
        cr_assert(fabs(gp[i] - fd) <= 1e-3 + 1e-2 * fabs(fd), "dL/dchannel[%zu] = %.7g, finite "
                  "difference %.7g", i, gp[i], fd);
    }
    cr_assert(largest > 1e-2, "the check should see a non-trivial gradient (%g)", largest);
    free(gp);
    afs_agent_destroy(a);
    b->destroy(b);
}

/* ---- Playing and updating ---- */

static void play(afs_agent *a, afs_backend *b, afs_env *env, int episodes, int train)
{
    char err[512];
    for (int ep = 0; ep < episodes; ep++) {
        afs_env_begin_episode(env, b, (uint32_t)ep);
        for (int t = 0; t < SLOTS; t++) {
            afs_episode_slot(a, env, train ? AFS_PLAY_TRAIN : AFS_PLAY_EVAL);
            cr_assert_eq(a->ops->update(a, err, sizeof err), 0, "%s", err);
        }
    }
}

Test(amdrl, groups_form_every_t_comm_slots_and_hold_in_between)
{
    afs_backend *b = afs_backend_cpu_create(1);
    afs_config cfg = tiny_config();
    cfg.comm.t_comm = 4;
    snprintf(cfg.comm.comm, sizeof cfg.comm.comm, "always");
    afs_agent *a = make_agent(b, &cfg, 0);
    afs_env env;
    cr_assert_eq(afs_env_init(&env, b, &cfg.env, E_T, cfg.run.seed), 0);
    afs_env_begin_episode(&env, b, 0);
    long formed = afs_amdrl_formations(a);
    for (int t = 0; t < SLOTS; t++) {
        afs_episode_slot(a, &env, AFS_PLAY_EVAL);
        long now = afs_amdrl_formations(a);
        cr_assert_eq(now - formed, t % 4 == 0, "slot %d: %ld formations", t, now - formed);
        formed = now;
    }
    /* every EN initiates: M groups of M members (all in range) each
     * environment, and each sends its thought out and back per member */
    afs_agent_stats st;
    a->ops->stats(a, &st);
    double want = 2.0 * T_T * (M_T - 1) * M_T / M_T; /* per EN and slot */
    cr_assert_float_eq(st.comm_floats, want, 1e-9, "communication %g floats per decision, want %g",
                       st.comm_floats, want);
    afs_env_free(&env, b);
    afs_agent_destroy(a);
    b->destroy(b);
}

/* Every parameter set of two agents, bit for bit. */
static void expect_same_sets(afs_agent *x, afs_agent *y, const char *what)
{
    afs_ckpt_set sx[AFS_CKPT_MAX_SETS], sy[AFS_CKPT_MAX_SETS];
    afs_ckpt_blob bx[AFS_CKPT_MAX_BLOBS], by[AFS_CKPT_MAX_BLOBS];
    afs_checkpoint cx = {.sets = sx, .blobs = bx}, cy = {.sets = sy, .blobs = by};
    x->ops->checkpoint(x, &cx, 0);
    y->ops->checkpoint(y, &cy, 0);
    cr_assert_eq(cx.nsets, cy.nsets);
    cr_assert_eq(cx.nsets, 10, "7 networks and 3 LSTMs");
    for (int i = 0; i < cx.nsets; i++) {
        afs_params *p = cx.sets[i].params, *q = cy.sets[i].params;
        cr_assert_str_eq(p->name, q->name);
        cr_assert_eq(p->n, q->n);
        cr_assert_eq(memcmp(p->value, q->value, p->n * sizeof(float)), 0, "%s: %s differs",
                     what, p->name);
    }
}

/* Two agents made alike play and learn alike, in every communication
 * mode; what one saves, another loads bit for bit; learning changed the
 * networks. */
Test(amdrl, plays_and_updates_deterministically_and_checkpoints)
{
    static const char *modes[] = {"attention", "always", "never"};
    char dir[] = "/tmp/afsim-amdrl-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    for (int k = 0; k < 3; k++) {
        afs_backend *b = afs_backend_cpu_create(1);
        afs_config cfg = tiny_config();
        snprintf(cfg.comm.comm, sizeof cfg.comm.comm, "%s", modes[k]);
        cfg.comm.comm_range_m = 30.0f; /* some ENs out of range */
        afs_agent *x = make_agent(b, &cfg, 1), *y = make_agent(b, &cfg, 1);
        afs_agent *fresh = make_agent(b, &cfg, 1);
        afs_env ex, ey;
        cr_assert_eq(afs_env_init(&ex, b, &cfg.env, E_T, cfg.run.seed), 0);
        cr_assert_eq(afs_env_init(&ey, b, &cfg.env, E_T, cfg.run.seed), 0);
        play(x, b, &ex, 3, 1);
        play(y, b, &ey, 3, 1);
        cr_assert_gt(x->ops->updates(x), 0, "%s: no gradient step was taken", modes[k]);
        cr_assert_eq(x->ops->updates(x), y->ops->updates(y));
        expect_same_sets(x, y, modes[k]);
        afs_agent_stats st;
        x->ops->stats(x, &st);
        cr_assert(isfinite(st.critic_loss) && isfinite(st.actor_loss), "%s", modes[k]);
        cr_assert_eq(st.comm_floats > 0.0, k != 2, "%s: %g floats per decision", modes[k],
                     st.comm_floats);
        /* learning moved every online network away from a fresh agent's */
        afs_ckpt_set sx[AFS_CKPT_MAX_SETS], sf[AFS_CKPT_MAX_SETS];
        afs_checkpoint cx = {.sets = sx}, cf = {.sets = sf};
        x->ops->checkpoint(x, &cx, 0);
        fresh->ops->checkpoint(fresh, &cf, 0);
        static const char *learned[] = {"actor_part1", "actor_part2", "critic"};
        for (int i = 0; i < cx.nsets; i++)
            for (int j = 0; j < 3; j++)
                if (!strcmp(cx.sets[i].params->name, learned[j]))
                    cr_assert_neq(memcmp(cx.sets[i].params->value, cf.sets[i].params->value,
                                         cx.sets[i].params->n * sizeof(float)), 0,
                                  "%s: %s did not change", modes[k], learned[j]);
        /* a checkpoint round trip */
        char path[128], err[1024];
        snprintf(path, sizeof path, "%s/%s.h5", dir, modes[k]);
        afs_ckpt_blob bx[AFS_CKPT_MAX_BLOBS];
        cx.blobs = bx;
        x->ops->checkpoint(x, &cx, 1);
        snprintf(cx.algo, sizeof cx.algo, "amdrl");
        cr_assert_eq(afs_checkpoint_save(path, b, &cx, &cfg, err, sizeof err), 0, "%s", err);
        afs_ckpt_blob bf[AFS_CKPT_MAX_BLOBS];
        cf.blobs = bf;
        fresh->ops->checkpoint(fresh, &cf, 1);
        int loaded = 0;
        cr_assert_eq(afs_checkpoint_load(path, b, &cf, 0, &loaded, err, sizeof err), 0, "%s", err);
        cr_assert_eq(fresh->ops->set_updates(fresh, x->ops->updates(x), 1, err, sizeof err), 0,
                     "%s", err);
        expect_same_sets(x, fresh, "after loading");
        /* and both go on alike (the replay, its groups, the queue came along) */
        play(x, b, &ex, 1, 1);
        play(fresh, b, &ey, 1, 1);
        expect_same_sets(x, fresh, "one episode after loading");
        afs_env_free(&ex, b);
        afs_env_free(&ey, b);
        afs_agent_destroy(x);
        afs_agent_destroy(y);
        afs_agent_destroy(fresh);
        b->destroy(b);
    }
    test_remove_dir(dir);
}

/* The trace's positions and groups: each record holds its EN's position,
 * and the initiator of its first group as the groups formed from those
 * positions with every EN initiating give them (formed again here, each
 * EN's first group the lowest initiator's that holds it); with
 * comm = never, no group. On the backend that open_backend() gives (on CUDA the
 * tracer reads the groups back from device memory). */
static void trace_records_positions_and_first_groups(afs_backend *(*open_backend)(void))
{
    static const char *const modes[2] = {"always", "never"};
    for (int mode = 0; mode < 2; mode++) {
        afs_backend *b = open_backend();
        afs_config cfg = tiny_config();
        cfg.comm.group_m = 2;
        cfg.comm.comm_range_m = 25.0f; /* in a 50 m area: not everybody in range */
        snprintf(cfg.comm.comm, sizeof cfg.comm.comm, "%s", modes[mode]);
        afs_agent *a = make_agent(b, &cfg, 0);
        afs_env env;
        afs_tracer tr;
        cr_assert_eq(afs_env_init(&env, b, &cfg.env, E_T, cfg.run.seed), 0);
        cr_assert_eq(afs_tracer_init(&tr, &env), 0);
        afs_env_begin_episode(&env, b, 0);
        afs_episode_slot(a, &env, AFS_PLAY_EVAL);
        int K = 0;
        const int16_t *grp = a->ops->groups(a, &K);
        cr_assert_eq(grp != NULL, mode == 0, "%s: groups %s", modes[mode], grp ? "given" : "none");
        cr_assert_eq(afs_tracer_collect(&tr, b, &env, grp, K), 0);
        cr_assert_gt(tr.count, 0, "no function in the slot");

        enum { N = E_T * M_T, KM = 3 };
        float px[N], py[N];
        b->to_host(b, px, env.pos_x, sizeof px);
        b->to_host(b, py, env.pos_y, sizeof py);
        int16_t want_grp[N * KM];
        int32_t len[N], first[N];
        uint8_t init[M_T], chosen[M_T];
        memset(init, 1, sizeof init);
        for (int e = 0; e < E_T; e++)
            afs_group_form_env(M_T, KM, cfg.comm.comm_range_m, px + e * M_T, py + e * M_T, init,
                               chosen, want_grp + e * M_T * KM, len + e * M_T);
        for (int i = 0; i < N; i++)
            first[i] = -1;
        for (int s = 0; s < N; s++)
            for (int k = 0; k < KM; k++) {
                int j = afs_group_member(want_grp, M_T, KM, s, k);
                if (j >= 0 && first[j] < 0)
                    first[j] = s % M_T;
            }
        int grouped = 0;
        for (size_t r = 0; r < tr.count; r++) {
            const afs_trace_rec *rec = &tr.recs[r];
            int i = rec->env * M_T + rec->en;
            cr_assert(rec->x == px[i] && rec->y == py[i], "record %zu: (%g, %g), EN at (%g, %g)", r,
                      rec->x, rec->y, px[i], py[i]);
            int want = mode == 0 ? first[i] : -1;
            cr_assert_eq(rec->group, want, "%s: env %d EN %d: group %d, want %d", modes[mode],
                         rec->env, rec->en, rec->group, want);
            grouped += mode == 0 && rec->group != rec->en;
        }
        if (mode == 0)
            cr_assert_gt(grouped, 0, "no EN's first group was another's: the check would be weak");
        afs_tracer_free(&tr);
        afs_env_free(&env, b);
        afs_agent_destroy(a);
        b->destroy(b);
    }
}

static afs_backend *cpu_backend(void) { return afs_backend_cpu_create(1); }
static afs_backend *cuda_backend(void) { return test_cuda_or_skip("AM-DRL's trace on CUDA"); }

Test(amdrl, the_trace_records_positions_and_first_groups)
{
    trace_records_positions_and_first_groups(cpu_backend);
}

/* The same on CUDA (skipped without a usable device; required by the GPU
 * check, bench/gpu_check.sh). */
Test(amdrl, cuda_trace_records_positions_and_first_groups_from_device_memory)
{
    trace_records_positions_and_first_groups(cuda_backend);
}

/* The initiators of one formation at slot 0 of episode 0, as a 0/1 mask
 * per EN (from the groups that acted: rows with any member), and the
 * stats' initiation rate, for an agent made for training or not, playing
 * in mode. Training agents play before their warm-up ends: no update
 * changes the networks between the two plays. */
static double initiators(const afs_config *cfg, int train, int mode, uint8_t *mask)
{
    afs_backend *b = afs_backend_cpu_create(1);
    afs_agent *a = make_agent(b, cfg, train);
    afs_env env;
    cr_assert_eq(afs_env_init(&env, b, &cfg->env, E_T, cfg->run.seed), 0);
    afs_env_begin_episode(&env, b, 0);
    afs_episode_slot(a, &env, mode);
    int K;
    const int16_t *grp = a->ops->groups(a, &K);
    for (int s = 0; s < E_T * M_T; s++)
        mask[s] = grp && grp[(size_t)s * K] >= 0;
    afs_agent_stats st;
    a->ops->stats(a, &st);
    afs_env_free(&env, b);
    afs_agent_destroy(a);
    b->destroy(b);
    return st.init_rate;
}

/* init_rule = threshold without flips is eval_init = threshold's rule in
 * training too: the same initiators from the same networks and state;
 * with flips at 1/2 (a coin per EN) the training initiators differ from
 * the evaluation's somewhere, so the comparison can fail. The rate the
 * stats report is the mask's mean. */
Test(amdrl, threshold_rule_initiates_alike_in_training_and_evaluation)
{
    afs_config cfg = tiny_config();
    snprintf(cfg.comm.init_rule, sizeof cfg.comm.init_rule, "threshold");
    snprintf(cfg.comm.eval_init, sizeof cfg.comm.eval_init, "threshold");
    cfg.comm.explore_init = 0.0f;
    uint8_t eval[E_T * M_T], train[E_T * M_T], flipped[E_T * M_T];
    /* The untrained unit's outputs lie close together: bisect the threshold
     * between everybody (0) and nobody (1) until it splits the ENs. */
    float lo = 0.0f, hi = 1.0f;
    int mixed = 0;
    for (int step = 0; step < 40 && !mixed; step++) {
        float th = 0.5f * (lo + hi);
        cfg.comm.threshold = th;
        double rate = initiators(&cfg, 0, AFS_PLAY_EVAL, eval);
        initiators(&cfg, 1, AFS_PLAY_TRAIN, train);
        cr_assert_arr_eq(eval, train, sizeof eval, "threshold %.9g: training initiated other ENs "
                         "than evaluation", th);
        double count = 0.0;
        for (int i = 0; i < E_T * M_T; i++)
            count += eval[i];
        cr_assert_float_eq(rate, count / (E_T * M_T), 1e-12);
        mixed = count > 0.0 && count < E_T * M_T;
        if (count == E_T * M_T)
            lo = th;
        else if (count == 0.0)
            hi = th;
    }
    cr_assert(mixed, "no threshold split the ENs: the comparison showed nothing");
    cfg.comm.threshold = 0.5f;
    initiators(&cfg, 0, AFS_PLAY_EVAL, eval);
    cfg.comm.explore_init = 0.5f;
    initiators(&cfg, 1, AFS_PLAY_TRAIN, flipped);
    cr_assert(memcmp(eval, flipped, sizeof eval), "coins at 1/2 flipped none of 8 decisions");
}

/* comm = random: each EN with probability random_rate, the same draws in
 * every play of the same episode (evaluation is repeatable); rate 0 is
 * nobody, 1 everybody; over 8 ENs at 0.5 some initiate and some not. */
Test(amdrl, random_initiation_at_its_rate)
{
    afs_config cfg = tiny_config();
    snprintf(cfg.comm.comm, sizeof cfg.comm.comm, "random");
    uint8_t first[E_T * M_T], again[E_T * M_T];
    const float rates[3] = {0.0f, 1.0f, 0.5f};
    for (int r = 0; r < 3; r++) {
        cfg.comm.random_rate = rates[r];
        double rate = initiators(&cfg, 0, AFS_PLAY_EVAL, first);
        initiators(&cfg, 0, AFS_PLAY_EVAL, again);
        cr_assert_arr_eq(first, again, sizeof first, "rate %g: two plays differ", rates[r]);
        if (r < 2)
            cr_assert_float_eq(rate, rates[r], 1e-12, "rate %g gave %g", rates[r], rate);
        else
            cr_assert(rate > 0.0 && rate < 1.0, "rate 0.5 gave %g over 8 ENs", rate);
    }
}

/* eval_init = sample is training's sample rule in evaluation: the same
 * Philox draws (stream and counter of the slot), so the same initiators
 * from the same networks; and it is not the threshold's rule (a threshold
 * of 1 initiates nobody, the draws at p about 1/2 some). */
Test(amdrl, sampled_evaluation_initiates_as_sampled_training)
{
    afs_config cfg = tiny_config();
    snprintf(cfg.comm.eval_init, sizeof cfg.comm.eval_init, "sample");
    cfg.comm.threshold = 1.0f;
    uint8_t eval[E_T * M_T], train[E_T * M_T];
    double rate = initiators(&cfg, 0, AFS_PLAY_EVAL, eval);
    initiators(&cfg, 1, AFS_PLAY_TRAIN, train);
    cr_assert_arr_eq(eval, train, sizeof eval, "sampled evaluation initiated other ENs");
    cr_assert(rate > 0.0, "the draws initiated nobody: the threshold's rule, not sampling");
    snprintf(cfg.comm.eval_init, sizeof cfg.comm.eval_init, "threshold");
    cr_assert_eq(initiators(&cfg, 0, AFS_PLAY_EVAL, eval), 0.0, "a threshold of 1 initiated");
}

/* The AUC by hand, and against every pair compared on random scores with
 * ties: positives 0.9 and 0.8 against negatives 0.8 and 0.3 win 1, 1, 1/2
 * and 1 of 4 pairs. */
Test(amdrl, auc_by_hand_and_against_every_pair)
{
    afs_amdrl_scored scratch[200];
    const float p[4] = {0.9f, 0.8f, 0.3f, 0.8f}, dq[4] = {1.0f, -1.0f, -2.0f, 3.0f};
    cr_assert_float_eq(afs_amdrl_auc(p, dq, 4, scratch), 3.5 / 4.0, 1e-12);
    const float same[3] = {1.0f, 2.0f, 0.5f};
    cr_assert(isnan(afs_amdrl_auc(p, same, 3, scratch)), "one class: no AUC");
    float rp[200], rdq[200];
    unsigned seed = 7;
    for (int i = 0; i < 200; i++) {
        rp[i] = (float)(int)rnd(&seed, 0.0f, 20.0f) / 20.0f; /* 21 values: many ties */
        rdq[i] = rnd(&seed, -1.0f, 1.0f);
    }
    double wins = 0.0, pairs = 0.0;
    for (int i = 0; i < 200; i++)
        for (int j = 0; j < 200; j++)
            if (rdq[i] > 0.0f && !(rdq[j] > 0.0f)) {
                wins += rp[i] > rp[j] ? 1.0 : rp[i] == rp[j] ? 0.5 : 0.0;
                pairs += 1.0;
            }
    cr_assert_float_eq(afs_amdrl_auc(rp, rdq, 200, scratch), wins / pairs, 1e-12);
}
