/* MADDPG (Lowe et al. 2017; design section 5): one actor per EN on its own
 * observation, one centralized critic per EN on every EN's observation and
 * action of its environment, trained from joint transitions (one
 * environment's M records of one slot: a replay row of M records).
 * Discrete actions as in ES-DRL: the actors' two logits become an action
 * through the Gumbel-softmax (exploring; straight-through in the update:
 * hard forward, soft gradient); TD targets from target networks that follow
 * the online ones softly; Adam with the gradient's norm clipped per
 * parameter set.
 *
 * Shapes (fixed letters): E environments of M ENs, OBS observation floats,
 * B batch rows (joint transitions), H the critics' first hidden width,
 * D = M (OBS + 2) a critic's input.
 *
 * Parameter sets (each one checkpointed set, with its target twin
 * "<name>_target"):
 *   actor        grouped MLP, G = M: actor m is OBS -> actor_hidden -> 2
 *                logits on o_m. Observations come env-major [E*M, OBS]
 *                (row e*M + m); they are transposed to [M, E, OBS] for the
 *                grouped layers and the logits back to [E*M, 2].
 *   critic_in    the M critics' first layers stacked: W [M, H, D] then
 *                b [M, H], which is one linear layer of D inputs and M H
 *                outputs (shape text "linear D-MH x1").
 *   critic_body  grouped MLP, G = M: the rest of critic m,
 *                H -> critic_hidden[1..] -> 1.
 *
 * Critic input x [B, D] = [o_1 .. o_M (M OBS floats), one-hot a_1 .. a_M
 * (M 2 floats)]: a batch's obs [B, M, OBS] are already x's first M OBS
 * columns, and agent m's action takes columns M OBS + 2m, + 2m + 1 ("slot
 * m"). Q_m = body_m(relu(W_m x + b_m)), all at once: one linear (G = 1)
 * gives z [B, M H], regrouped to [M, B, H] (copy_cols), relu, the grouped
 * bodies: q [M, B].
 *
 * The actor update. Actor m's straight-through sample hard_m [B, 2] (hard
 * forward, the soft sample's gradient backward) is scored with critic m's
 * VALUES of both of agent m's actions, the others' actions from the
 * replay: qpair [M, B, 2], qpair[m, b, a] = Q_m(o_b, a_b with a_m = a), and
 * dL/dhard_m,a = -Q_m(.., a_m = a, ..) / B on the rows where EN m took a
 * decision (0 elsewhere: no function, no gradient), the gradient of the
 * multilinear extension sum_a hard_m,a Q_m(.., a_m = a, ..) of -mean_b Q_m.
 * Not the critic's slope in its action input at the sampled one-hot
 * action: a ReLU critic trained only at one-hot actions has no reason to
 * slope towards the better action: on the paper's setting ES-DRL's critic
 * (the same actor-critic core) valued local above cloud for the fast ENs
 * while its slope at the sampled cloud action said the opposite, and the
 * actor went to all-cloud and stayed (docs/model.md, "Learning"). With the values the update needs
 * no critic backward, and changes no critic.
 *
 * The values by first-layer substitution: Q_m with agent m's own action
 * replaced by sub_m [B, 2] has the pre-activation
 * z_m + W_m[:, slot m] (sub_m - onehot_m). The slices W_m[:, slot m] of
 * all m are gathered into wa [M, H, 2] by one copy_cols (its group stride
 * H D + 2 also moves two columns to the next agent's slot), and one
 * grouped linear (G = M, in = 2, out = H, zero bias) of
 * diff = sub - onehot_own [M, B, 2] is added to the regrouped z by axpy
 * (where sub equals the replay's action, diff is exactly 0 and so is the
 * change). For qpair, sub is the one-hot of action a on every row (copied
 * from the constant [2, 2] of ac_unit_actions with a row stride of 0),
 * a = 0, 1: one first-layer product for both, regrouped from z again for
 * the second. Then dhard = scale_rows(qpair, -valid / B),
 * gumbel_softmax_backward, plus logit_reg mean(logits^2) over each actor's
 * rows (train.logit_reg, 1e-3 as in the authors' code): without it the
 * logits grow at lr 1e-2 until the Gumbel noise no longer explores, and the
 * actors freeze at their first decisions (seen on tests/test_learning.c's
 * environment B); the grouped actors' backward; Adam. The reported actor
 * loss is -mean over agents and rows of Q_m at the sampled action
 * (qpair . hard).
 *
 * Cost: the critics grow as M^2: a forward multiplies D = M (OBS + 2) inputs
 * by M H outputs per batch row (M^2 (OBS + 2) H multiply-adds: at M = 150,
 * H = 64, 17.3 M per row, and as many parameters in critic_in); x is never
 * replicated per critic (M copies of [B, D] would be over a gigabyte at
 * M = 150, B = 1024). An update multiplies by critic_in three times (the
 * targets, the critic, the actors' values) and once backward. Workspace is
 * three [B, M H] buffers (z, zg, dh) and [M, B, 2] ones. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ac.h"
#include "core/fail.h"
#include "kernels/common/rng.h"
#include "maddpg_internal.h"

enum { OBS = AFS_OBS_DIM };

typedef struct maddpg {
    afs_algo_params hp;
    afs_train_params tp;
    uint32_t seed;
    int E, M, L, B, H, D;
    afs_mlp actor, body, actor_t, body_t;
    afs_params cin, cin_t;          /* critic_in: W [M, H, D], b [M, H] */
    char shapes[3][128];            /* actor, critic_in, critic_body */
    int training;
    afs_replay replay;
    /* playing */
    float *obs_g;                   /* [M, max(E, B), OBS] agent-major */
    float *logits_e, *soft_e, *hard_e; /* [E*M, 2] */
    /* updating */
    float *x;                       /* [B, D] critic input */
    float *z;                       /* [B, M H] first layers; also [M, B, H] scratch */
    float *zg;                      /* [M, B, H] pre-activations, then relu in place */
    float *dh;                      /* [M, B, H] dL/d(body input); also [B, M H]; also the
                                     * substitution's change to zg */
    float *onehot;                  /* [B, M, 2] the batch's actions, one-hot */
    float *own;                     /* [M, B, 2] the same, agent-major */
    float *rew, *done, *y, *dq;     /* [M, B] */
    float *mask;                    /* [B, M] */
    float *soft, *hard, *diff, *qpair, *dhard, *dlogits; /* [M, B, 2] */
    float *wa;                      /* [M, H, 2] W_m[:, slot m] */
    float *zero_h;                  /* [M, H] zero bias */
    float *unit;                    /* [2, 2] the one-hot actions (ac_unit_actions) */
    uint8_t *a_next;                /* [M, B] target actions */
    long long updates;
    ac_tally tally;
} maddpg;

static maddpg *impl_of(afs_agent *a) { return a->impl; }

/* src [R, M, cols] (env- or batch-major) to dst [M, R, cols] (agent-major). */
static void to_agents(afs_backend *b, int M, int R, int cols, const float *src, float *dst)
{
    b->copy_cols(b, M, R, cols, src, (size_t)M * cols, (size_t)cols, dst, (size_t)cols,
                 (size_t)R * cols);
}

/* src [M, R, cols] to dst [R, M, cols]. */
static void from_agents(afs_backend *b, int M, int R, int cols, const float *src, float *dst)
{
    b->copy_cols(b, M, R, cols, src, (size_t)cols, (size_t)R * cols, dst, (size_t)M * cols,
                 (size_t)cols);
}

/* The actors' logits [E*M, 2] on obs [E*M, OBS]. */
static const float *policy_logits(maddpg *m, afs_backend *b, const float *obs)
{
    to_agents(b, m->M, m->E, OBS, obs, m->obs_g);
    const float *logits = afs_mlp_forward(&m->actor, b, m->E, m->obs_g); /* [M, E, 2] */
    from_agents(b, m->M, m->E, 2, logits, m->logits_e);
    return m->logits_e;
}

static void act(afs_agent *a, const afs_env *env, const float *obs, int mode, uint8_t *action)
{
    maddpg *m = impl_of(a);
    afs_backend *b = a->b;
    int rows = m->E * m->M, train = mode == AFS_PLAY_TRAIN && m->training;
    const float *logits = policy_logits(m, b, obs);
    uint32_t counter = env->episode * (uint32_t)m->L + (uint32_t)env->slot;
    ac_actions(b, rows, logits, train, m->tp.gumbel_tau, ac_epsilon(&m->tp, a->progress), m->seed,
               counter, m->soft_e, m->hard_e, action);
}

/* A slot's transition is a joint row per environment: its M records. */
static void store(afs_agent *a, const float *obs, const uint8_t *action, const float *reward,
                  int done)
{
    maddpg *m = impl_of(a);
    if (m->training)
        afs_replay_store(&m->replay, a->b, obs, action, reward, done, NULL);
}

/* ---- The critics ---- */

/* x [B, D] = [obs (M OBS) | one-hot actions (M 2)] from obs [B, M, OBS]
 * and onehot [B, M, 2]. */
static void critic_input(maddpg *m, afs_backend *b, int B, const float *obs, const float *onehot)
{
    int mo = m->M * OBS;
    b->copy_cols(b, 1, B, mo, obs, (size_t)mo, 0, m->x, (size_t)m->D, 0);
    b->copy_cols(b, 1, B, 2 * m->M, onehot, (size_t)2 * m->M, 0, m->x + mo, (size_t)m->D, 0);
}

/* zg [M, B, H] = the first layers' pre-activations on x [B, D]. */
static void first_layers(maddpg *m, afs_backend *b, const afs_params *cin, int B)
{
    size_t mh = (size_t)m->M * m->H;
    b->linear_forward(b, 1, B, m->D, (int)mh, m->x, cin->value, cin->value + mh * m->D, m->z);
    to_agents(b, m->M, B, m->H, m->z, m->zg);
}

/* q [M, B] from zg: relu in place, then the grouped bodies. */
static const float *bodies(maddpg *m, afs_backend *b, afs_mlp *body, int B)
{
    b->activation_forward(b, AFS_ACT_RELU, (size_t)m->M * B * m->H, m->zg, m->zg);
    return afs_mlp_forward(body, b, B, m->zg);
}

/* dL/d(pre-activation) [M, B, H] (in z) from dL/dq [M, B], the online
 * bodies' gradients added. */
static const float *bodies_backward(maddpg *m, afs_backend *b, int B, const float *dq)
{
    afs_mlp_backward(&m->body, b, B, dq, m->dh);
    b->activation_backward(b, AFS_ACT_RELU, (size_t)m->M * B * m->H, m->zg, m->dh, m->z);
    return m->z;
}

/* The online critics' gradients (added) from dL/dq [M, B] of their last
 * forward on x. */
static void critic_backward(maddpg *m, afs_backend *b, int B, const float *dq)
{
    size_t mh = (size_t)m->M * m->H;
    const float *dz = bodies_backward(m, b, B, dq);
    from_agents(b, m->M, B, m->H, dz, m->dh); /* [B, M H] */
    b->linear_backward(b, 1, B, m->D, (int)mh, m->x, m->cin.value, m->dh, NULL, m->cin.grad,
                       m->cin.grad + mh * m->D);
}

/* zg [M, B, H] += W_m[:, slot m] (sub_m - own_m) for every m, where diff
 * holds sub [M, B, 2] on entry (and sub - own after): the pre-activations
 * of Q_m with agent m's own action replaced by sub_m. z is left as it is. */
static void add_substitution(maddpg *m, afs_backend *b, int B)
{
    int M = m->M, H = m->H;
    /* wa[m] = W_m[:, M OBS + 2m .. + 1]: group stride H D + 2 */
    b->copy_cols(b, M, H, 2, m->cin.value + (size_t)M * OBS, (size_t)m->D,
                 (size_t)H * m->D + 2, m->wa, 2, (size_t)H * 2);
    b->axpy(b, (size_t)M * B * 2, -1.0f, m->own, m->diff);
    b->linear_forward(b, M, B, 2, H, m->diff, m->wa, m->zero_h, m->dh); /* [M, B, H] */
    b->axpy(b, (size_t)M * B * H, 1.0f, m->dh, m->zg);
}

/* q [M, B]: Q_m on x with agent m's own action (own [M, B, 2]) replaced by
 * sub [M, B, 2], for every m, by first-layer substitution. */
static const float *substituted(maddpg *m, afs_backend *b, int B, const float *sub)
{
    first_layers(m, b, &m->cin, B);
    b->copy(b, m->diff, sub, (size_t)m->M * B * 2 * sizeof(float));
    add_substitution(m, b, B);
    return bodies(m, b, &m->body, B);
}

/* qpair [M, B, 2]: Q_m on x with agent m's own action replaced by action a
 * (one-hot, the same on every row), for a = 0, 1 and every m: what
 * substituted gives for sub = e_a, with the first layers computed once
 * (their pre-activations regrouped again from z for the second action). */
static void q_of_both_actions(maddpg *m, afs_backend *b, int B)
{
    size_t mb = (size_t)m->M * B;
    first_layers(m, b, &m->cin, B);
    for (int a = 0; a < 2; a++) {
        if (a)
            to_agents(b, m->M, B, m->H, m->z, m->zg);
        /* every row's substitute from the same two floats (stride 0) */
        b->copy_cols(b, 1, (int)mb, 2, m->unit + 2 * a, 0, 0, m->diff, 2, 0);
        add_substitution(m, b, B);
        const float *q = bodies(m, b, &m->body, B);
        b->copy_cols(b, 1, (int)mb, 1, q, 1, 0, m->qpair + a, 2, 0);
    }
}

/* x and own from a batch's obs [B, M, OBS] and actions [B, M]. */
static void batch_input(maddpg *m, afs_backend *b, int B, const float *obs, const uint8_t *act)
{
    b->one_hot(b, (size_t)B * m->M, 2, act, m->onehot);
    critic_input(m, b, B, obs, m->onehot);
    to_agents(b, m->M, B, 2, m->onehot, m->own);
}

/* TD targets y [M, B] = r + gamma (1 - done) Q'_m(o', a'), a'_j = argmax of
 * target actor j on o'_j. */
static void targets(maddpg *m, afs_backend *b, const afs_batch *t)
{
    int B = t->B, M = m->M;
    size_t mb = (size_t)M * B;
    to_agents(b, M, B, OBS, t->next_obs, m->obs_g);
    const float *logits = afs_mlp_forward(&m->actor_t, b, B, m->obs_g); /* [M, B, 2] */
    b->argmax_rows(b, mb, 2, logits, m->a_next);
    b->one_hot(b, mb, 2, m->a_next, m->own);
    from_agents(b, M, B, 2, m->own, m->onehot);
    critic_input(m, b, B, t->next_obs, m->onehot);
    first_layers(m, b, &m->cin_t, B);
    const float *q_next = bodies(m, b, &m->body_t, B);
    b->flag_floats(b, mb, t->flags, AFS_RF_DONE, 1.0f, m->mask);
    to_agents(b, M, B, 1, m->mask, m->done);
    to_agents(b, M, B, 1, t->rew, m->rew);
    b->td_target(b, mb, m->hp.gamma, m->rew, m->done, q_next, m->y);
}

/* One gradient step of the critics, then of the actors, then the targets. */
static int one_update(maddpg *m, afs_backend *b, char *err, size_t n)
{
    int B = m->B, M = m->M;
    size_t mb = (size_t)M * B;
    long u = (long)m->updates;
    afs_replay_sample(&m->replay, b, B, m->seed, AFS_STREAM_REPLAY, (uint32_t)u, 1.0f);
    const afs_batch *t = &m->replay.batch;
    targets(m, b, t);

    /* Critics: squared TD error, mean over M B. */
    batch_input(m, b, B, t->obs, t->act);
    first_layers(m, b, &m->cin, B);
    const float *q = bodies(m, b, &m->body, B);
    double critic_loss = b->mse_loss(b, mb, q, m->y, NULL, m->dq);
    if (ac_check_loss(critic_loss, "maddpg", "critic loss", u, err, n))
        return -1;
    double td_abs = b->mean_abs_diff(b, mb, q, m->y);
    afs_params_zero_grad(&m->cin, b);
    afs_params_zero_grad(&m->body.p, b);
    critic_backward(m, b, B, m->dq);
    afs_optim copt = ac_optim(&m->hp, 1), aopt = ac_optim(&m->hp, 0);
    if (ac_step(&m->cin, b, &copt, "maddpg", u, err, n) ||
        ac_step(&m->body.p, b, &copt, "maddpg", u, err, n))
        return -1;

    /* Actors: the straight-through Gumbel-softmax (hard sample forward,
     * the soft sample's gradient backward) of -Q_m, with critic m's values
     * at both of agent m's actions (the others' actions from the replay):
     * dL/dhard_m,a = -Q_m(o, a with a_m = a) / B, the gradient of Q_m's
     * multilinear extension sum_a hard_m,a Q_m(.., a_m = a, ..). Not the
     * critic's slope at the sampled one-hot action (docs/model.md,
     * "Learning"). */
    to_agents(b, M, B, OBS, t->obs, m->obs_g);
    const float *logits = afs_mlp_forward(&m->actor, b, B, m->obs_g); /* [M, B, 2] */
    b->gumbel_softmax_forward(b, (int)mb, 2, m->tp.gumbel_tau, 0.0f, m->seed, AFS_STREAM_UPDATE,
                              (uint32_t)u, logits, m->soft, m->hard);
    q_of_both_actions(m, b, B);
    /* -1/B where agent m took a decision: no function, no gradient */
    b->flag_floats(b, mb, t->flags, AFS_RF_VALID, -1.0f / (float)B, m->mask);
    to_agents(b, M, B, 1, m->mask, m->dq);
    b->scale_rows(b, mb, 2, m->qpair, m->dq, m->dhard);
    /* reported: -mean over agents and rows of Q_m at the sampled action */
    b->scale_rows(b, mb * 2, 1, m->qpair, m->hard, m->dlogits);
    double actor_loss = -2.0 * b->mean(b, mb * 2, m->dlogits);
    if (ac_check_loss(actor_loss, "maddpg", "actor loss", u, err, n))
        return -1;
    b->gumbel_softmax_backward(b, (int)mb, 2, m->tp.gumbel_tau, m->soft, m->dhard, m->dlogits);
    /* + logit_reg mean(logits^2) per agent (the MADDPG authors' code):
     * bounded logits, so that exploration does not die out */
    b->axpy(b, mb * 2, m->tp.logit_reg / (float)B, logits, m->dlogits);
    afs_params_zero_grad(&m->actor.p, b);
    afs_mlp_backward(&m->actor, b, B, m->dlogits, NULL);
    if (ac_step(&m->actor.p, b, &aopt, "maddpg", u, err, n))
        return -1;

    afs_params_soft_update(&m->actor_t.p, &m->actor.p, b, m->hp.tau);
    afs_params_soft_update(&m->cin_t, &m->cin, b, m->hp.tau);
    afs_params_soft_update(&m->body_t.p, &m->body.p, b, m->hp.tau);
    m->updates++;
    m->tally.critic_loss += critic_loss;
    m->tally.actor_loss += actor_loss;
    m->tally.td_abs += td_abs;
    m->tally.updates++;
    return 0;
}

static int update(afs_agent *a, char *err, size_t n)
{
    maddpg *m = impl_of(a);
    if (!m->training || afs_replay_records(&m->replay) < m->tp.warmup ||
        afs_replay_rows(&m->replay) <= 0)
        return 0;
    for (int k = 0; k < m->tp.updates_per_slot; k++)
        if (one_update(m, a->b, err, n))
            return -1;
    return 0;
}

static void stats(afs_agent *a, afs_agent_stats *out)
{
    maddpg *m = impl_of(a);
    double fill = m->training ? (double)afs_replay_records(&m->replay) /
                                    (double)afs_replay_capacity(&m->replay) : 0.0;
    ac_tally_report(&m->tally, out, fill);
}

static void checkpoint(afs_agent *a, afs_checkpoint *c, int with_replay)
{
    maddpg *m = impl_of(a);
    afs_params *sets[6] = {&m->actor.p, &m->cin, &m->body.p,
                           &m->actor_t.p, &m->cin_t, &m->body_t.p};
    for (int i = 0; i < 6; i++)
        c->sets[i] = (afs_ckpt_set){sets[i], m->shapes[i % 3]};
    c->nsets = 6;
    c->nblobs = 0;
    if (!with_replay || !m->training)
        return;
    c->nblobs = ac_replay_blobs(&m->replay, a->b, c->blobs);
}

static long long updates(afs_agent *a) { return impl_of(a)->updates; }

static int set_updates(afs_agent *a, long long u, int replay_loaded, char *err, size_t n)
{
    maddpg *m = impl_of(a);
    m->updates = u;
    return m->training && replay_loaded ? afs_replay_restore_meta(&m->replay, a->b, err, n) : 0;
}

enum { N_PLAY = 4, N_UPDATE = 20 };

static int play_bufs(maddpg *m, ac_buf *s)
{
    size_t rows = (size_t)m->E * m->M, R = (size_t)(m->E > m->B ? m->E : m->B), f = sizeof(float);
    ac_buf all[N_PLAY] = {
        {(void **)&m->obs_g, (size_t)m->M * R * OBS * f}, {(void **)&m->logits_e, rows * 2 * f},
        {(void **)&m->soft_e, rows * 2 * f},              {(void **)&m->hard_e, rows * 2 * f},
    };
    memcpy(s, all, sizeof all);
    return N_PLAY;
}

static int update_bufs(maddpg *m, ac_buf *s)
{
    size_t B = (size_t)m->B, M = (size_t)m->M, H = (size_t)m->H, f = sizeof(float);
    size_t mb = M * B, big = mb * H * f;
    ac_buf all[N_UPDATE] = {
        {(void **)&m->x, B * (size_t)m->D * f}, {(void **)&m->z, big},
        {(void **)&m->zg, big},                 {(void **)&m->dh, big},
        {(void **)&m->onehot, mb * 2 * f},      {(void **)&m->own, mb * 2 * f},
        {(void **)&m->rew, mb * f},             {(void **)&m->done, mb * f},
        {(void **)&m->y, mb * f},               {(void **)&m->dq, mb * f},
        {(void **)&m->mask, mb * f},            {(void **)&m->soft, mb * 2 * f},
        {(void **)&m->hard, mb * 2 * f},        {(void **)&m->diff, mb * 2 * f},
        {(void **)&m->qpair, mb * 2 * f},       {(void **)&m->dhard, mb * 2 * f},
        {(void **)&m->dlogits, mb * 2 * f},     {(void **)&m->wa, M * H * 2 * f},
        {(void **)&m->zero_h, M * H * f},       {(void **)&m->a_next, mb},
    };
    memcpy(s, all, sizeof all);
    return N_UPDATE;
}

static void destroy(afs_agent *a)
{
    maddpg *m = impl_of(a);
    afs_backend *b = a->b;
    afs_mlp *nets[4] = {&m->actor, &m->body, &m->actor_t, &m->body_t};
    for (int i = 0; i < 4; i++)
        afs_mlp_free(nets[i], b);
    afs_params_free(&m->cin, b);
    afs_params_free(&m->cin_t, b);
    afs_replay_free(&m->replay, b); /* nothing when it was never made */
    ac_buf s[N_PLAY + N_UPDATE];
    int k = play_bufs(m, s);
    k += update_bufs(m, s + k);
    ac_bufs_release(b, s, k);
    if (m->unit)
        b->release(b, m->unit);
}

static const afs_agent_ops ops = {.act = act, .store = store, .update = update, .stats = stats,
                                  .checkpoint = checkpoint, .updates = updates,
                                  .set_updates = set_updates, .destroy = destroy};

/* The networks' layer sizes: the actors' (as, al layers) and the critics'
 * (cs, cl: D -> critic_hidden -> 1, of which the first layer is stacked);
 * 0, or -1 with err. */
static int net_sizes(const afs_algo_params *hp, int D, int *as, int *al, int *cs, int *cl,
                     char *err, size_t n)
{
    *al = ac_sizes(hp->actor_hidden, OBS, 2, as, "maddpg.actor_hidden", err, n);
    *cl = ac_sizes(hp->critic_hidden, D, 1, cs, "maddpg.critic_hidden", err, n);
    if (*al < 0 || *cl < 0)
        return -1;
    if (*cl < 2)
        return afs_fail(err, n, "maddpg.critic_hidden = '%s': the critics need a hidden layer "
                        "(their first layers are stacked into one), e.g. 64,64",
                        hp->critic_hidden);
    return 0;
}

/* The bytes of M actors (playing E rows each, or a batch) and their
 * targets, and of M critics: their stacked first layers critic_in (W [M,
 * H, D], b [M, H]: cin_n parameters) and bodies H -> ... -> 1, online and
 * target. */
static double net_bytes(const int *as, int al, const int *cs, int cl, int M, int E, int B)
{
    int rows = E > B ? E : B;
    double cin_n = (double)M * cs[1] * cs[0] + (double)M * cs[1];
    return afs_mlp_bytes(as, al, M, rows) + afs_mlp_bytes(as, al, M, B) +
           2.0 * afs_mlp_bytes(cs + 1, cl - 1, M, B) + 2.0 * 4.0 * sizeof(float) * cin_n;
}

static int network_bytes(afs_backend *b, const afs_config *cfg, int envs, double *bytes,
                         char *err, size_t n)
{
    (void)b; /* the same on every backend */
    int as[AFS_MLP_MAX_LAYERS + 1], cs[AFS_MLP_MAX_LAYERS + 1], al, cl, M = cfg->env.agents;
    if (net_sizes(&cfg->maddpg, M * (OBS + 2), as, &al, cs, &cl, err, n))
        return -1;
    *bytes = net_bytes(as, al, cs, cl, M, envs, cfg->maddpg.batch);
    return 0;
}

/* The replay: joint rows, an environment's M records of a slot. */
static int plan(const afs_config *cfg, int envs, afs_replay_info *info, char *err, size_t n)
{
    int M = cfg->env.agents;
    return ac_replay_slots(cfg, "maddpg", &cfg->maddpg, envs * M, M, 0, cfg->maddpg.batch, info,
                           err, n);
}

/* critic_in's values, drawn as afs_mlp_init draws a layer: uniform on
 * +-1/sqrt(D), parameter i from word i % 4 of Philox block i / 4 (key
 * {seed, stream}), on the host. 0, or -1 when out of host memory. */
static int init_critic_in(afs_params *p, afs_backend *b, int D, uint32_t seed, uint32_t stream)
{
    float *host = malloc(p->n * sizeof *host);
    if (!host)
        return -1;
    float bound = 1.0f / sqrtf((float)D);
    for (size_t i = 0; i < p->n; i++) {
        afs_block blk = afs_philox(seed, stream, (uint32_t)(i / 4), 0, 0, 0);
        host[i] = afs_uniform(blk.v[i % 4], -bound, bound);
    }
    b->to_backend(b, p->value, host, p->n * sizeof *host);
    free(host);
    return 0;
}

/* The networks; 0, or -1 with err. */
static int make_nets(maddpg *m, afs_backend *b, char *err, size_t n)
{
    int as[AFS_MLP_MAX_LAYERS + 1], cs[AFS_MLP_MAX_LAYERS + 1], al, cl;
    if (net_sizes(&m->hp, m->D, as, &al, cs, &cl, err, n))
        return -1;
    m->H = cs[1];
    const int *bs = cs + 1; /* the bodies: H -> ... -> 1 */
    int bl = cl - 1, M = m->M, B = m->B, rows = m->E > B ? m->E : B;
    size_t cin_n = (size_t)M * m->H * m->D + (size_t)M * m->H; /* W [M, H, D], b [M, H] */
    if ((double)M * m->H > INT_MAX)
        return afs_fail(err, n, "maddpg: %d critics of first hidden width %d: their %g stacked "
                        "outputs do not fit one layer", M, m->H, (double)M * m->H);
    double nets = net_bytes(as, al, cs, cl, M, m->E, B);
    if (afs_mlp_init(&m->actor, b, "actor", as, al, M, AFS_ACT_RELU, AFS_ACT_NONE, rows, m->seed,
                     AFS_STREAM_INIT) ||
        afs_params_alloc(&m->cin, b, "critic_in", cin_n) ||
        init_critic_in(&m->cin, b, m->D, m->seed, AFS_STREAM_INIT + 1) ||
        afs_mlp_init(&m->body, b, "critic_body", bs, bl, M, AFS_ACT_RELU, AFS_ACT_NONE, B,
                     m->seed, AFS_STREAM_INIT + 2) ||
        afs_mlp_init(&m->actor_t, b, "actor_target", as, al, M, AFS_ACT_RELU, AFS_ACT_NONE, B,
                     m->seed, AFS_STREAM_INIT) ||
        afs_params_alloc(&m->cin_t, b, "critic_in_target", cin_n) ||
        afs_mlp_init(&m->body_t, b, "critic_body_target", bs, bl, M, AFS_ACT_RELU, AFS_ACT_NONE,
                     B, m->seed, AFS_STREAM_INIT + 2))
        return afs_fail(err, n, "maddpg: out of %s memory for the networks: %.1f MiB for M = %d "
                        "actors and critics of D = %d inputs, first hidden H = %d, batch %d (the "
                        "critics grow as M^2): lower env.agents, maddpg.batch or "
                        "maddpg.critic_hidden", b->name, nets / (1024.0 * 1024.0), M, m->D, m->H,
                        B);
    afs_mlp_shape(&m->actor, m->shapes[0], sizeof m->shapes[0]);
    snprintf(m->shapes[1], sizeof m->shapes[1], "linear %d-%d x1", m->D, M * m->H);
    afs_mlp_shape(&m->body, m->shapes[2], sizeof m->shapes[2]);
    return 0;
}

static afs_agent *create(afs_backend *b, const afs_config *cfg, int envs, int train, char *err,
                         size_t n)
{
    afs_agent *a = afs_agent_new(&ops, "maddpg", 1, b, sizeof(maddpg),
                                 (size_t)envs * cfg->env.agents, err, n);
    if (!a)
        return NULL;
    maddpg *m = a->impl;
    m->hp = cfg->maddpg;
    m->tp = cfg->train;
    m->seed = cfg->run.seed;
    m->E = envs;
    m->M = cfg->env.agents;
    m->L = cfg->env.slots;
    m->B = cfg->maddpg.batch;
    m->D = m->M * (OBS + 2);
    m->training = train;
    int ok = 1;
    if (train && strcmp(m->hp.replay, "uniform"))
        ok = !afs_fail(err, n, "maddpg.replay = '%s': MADDPG draws joint transitions uniformly "
                       "(design section 5); set maddpg.replay = uniform", m->hp.replay);
    ok = ok && make_nets(m, b, err, n) == 0;
    ac_buf s[N_PLAY + N_UPDATE];
    if (ok) {
        int k = play_bufs(m, s);
        double bytes = ac_bufs_alloc(b, s, k, &ok);
        if (!ok)
            afs_fail(err, n, "maddpg: out of %s memory for playing: %.1f MiB for %d environments "
                     "of %d agents: lower run.envs", b->name, bytes / (1024.0 * 1024.0), m->E,
                     m->M);
    }
    if (ok && train) {
        int slots = plan(cfg, envs, &a->replay, err, n);
        ok = slots > 0;
        if (ok && afs_replay_init(&m->replay, b, slots, m->E * m->M, m->M, 0, m->hp.per_alpha,
                                  m->hp.per_eps, m->B, 0))
            ok = !afs_fail(err, n, "maddpg: out of %s memory for a replay of %d slots (%.1f MiB)",
                           b->name, slots,
                           slots * (double)afs_replay_block_bytes(m->E * m->M, m->M, 0) /
                               (1024.0 * 1024.0));
        if (ok) {
            int k = update_bufs(m, s);
            double bytes = ac_bufs_alloc(b, s, k, &ok) + 4.0 * sizeof(float);
            ok = ok && (m->unit = ac_unit_actions(b)) != NULL;
            if (!ok)
                afs_fail(err, n, "maddpg: out of %s memory for the updates: %.1f MiB for batch "
                         "B = %d of M = %d agents, critic input D = %d, first hidden H = %d "
                         "(three [B, M H] buffers of %.1f MiB each): lower maddpg.batch or "
                         "env.agents", b->name, bytes / (1024.0 * 1024.0), m->B, m->M, m->D,
                         m->H, (double)m->B * m->M * m->H * sizeof(float) / (1024.0 * 1024.0));
        }
    }
    if (!ok) {
        if (!err[0])
            afs_fail(err, n, "maddpg: out of %s memory", b->name);
        afs_agent_destroy(a);
        return NULL;
    }
    /* The targets start as copies of the online networks. */
    afs_params_copy(&m->actor_t.p, &m->actor.p, b);
    afs_params_copy(&m->cin_t, &m->cin, b);
    afs_params_copy(&m->body_t.p, &m->body.p, b);
    return a;
}

const afs_learner afs_maddpg = {
    "maddpg", "MADDPG: an actor per EN on its own observation, a critic per EN on its "
    "environment's joint observations and actions",
    offsetof(afs_config, maddpg), create, plan, network_bytes,
};

/* ---- For tests (maddpg_internal.h) ---- */

const float *afs_maddpg_q_substituted(afs_agent *a, int B, const float *obs, const uint8_t *act,
                                      const float *sub)
{
    maddpg *m = impl_of(a);
    if (!m->training || B < 1 || B > m->B)
        return NULL;
    batch_input(m, a->b, B, obs, act);
    return substituted(m, a->b, B, sub);
}

const float *afs_maddpg_q_of_both_actions(afs_agent *a, int B, const float *obs,
                                          const uint8_t *act)
{
    maddpg *m = impl_of(a);
    if (!m->training || B < 1 || B > m->B)
        return NULL;
    batch_input(m, a->b, B, obs, act);
    q_of_both_actions(m, a->b, B);
    return m->qpair;
}

afs_replay *afs_maddpg_replay(afs_agent *a)
{
    maddpg *m = impl_of(a);
    return m->training ? &m->replay : NULL;
}
