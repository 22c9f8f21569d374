/* ES-DRL (design section 5, after the paper's baseline): experience-shared
 * deep RL. One actor and one critic, each shared by every EN, decide and
 * learn on local observations; every EN's transitions go to one shared
 * replay. DDPG-style: the actor's two logits become an action through the
 * Gumbel-softmax (exploring, straight-through in the update: hard forward,
 * soft gradient), the critic Q(o, a) learns from TD targets of target
 * networks that follow the online ones softly.
 *
 * Shapes: E environments of M ENs, OBS observation floats, B batch rows.
 * Critic input x = [o, one-hot a]  [B, OBS + 2]. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ac.h"
#include "core/fail.h"

enum { XD = AFS_OBS_DIM + 2 }; /* critic input width */

typedef struct esdrl {
    afs_algo_params hp;
    afs_train_params tp;
    uint32_t seed;
    int E, M, L, B;
    afs_mlp actor, critic, actor_t, critic_t;
    char shapes[4][128];
    int training;
    afs_replay replay;
    /* playing: [E*M] rows */
    float *soft_e, *hard_e;
    /* updating: [B] rows */
    float *x, *x_next, *onehot, *y, *dq, *qpair, *unit, *done, *soft, *hard, *dhard, *dlogits;
    uint8_t *a_next;
    long long updates;
    ac_tally tally;
} esdrl;

static esdrl *impl_of(afs_agent *a) { return a->impl; }

static void act(afs_agent *a, const afs_env *env, const float *obs, int mode, uint8_t *action)
{
    esdrl *e = impl_of(a);
    afs_backend *b = a->b;
    int rows = e->E * e->M, train = mode == AFS_PLAY_TRAIN && e->training;
    const float *logits = afs_mlp_forward(&e->actor, b, rows, obs);
    uint32_t counter = env->episode * (uint32_t)e->L + (uint32_t)env->slot;
    ac_actions(b, rows, logits, train, e->tp.gumbel_tau, ac_epsilon(&e->tp, a->progress), e->seed,
               counter, e->soft_e, e->hard_e, action);
}

static void store(afs_agent *a, const float *obs, const uint8_t *action, const float *reward,
                  int done)
{
    esdrl *e = impl_of(a);
    if (e->training)
        afs_replay_store(&e->replay, a->b, obs, action, reward, done, NULL);
}

/* x [B, OBS + 2] = [o, one-hot a] */
static void critic_input(afs_backend *b, int B, const float *obs, const float *onehot, float *x)
{
    b->copy_cols(b, 1, B, AFS_OBS_DIM, obs, AFS_OBS_DIM, 0, x, XD, 0);
    b->copy_cols(b, 1, B, 2, onehot, 2, 0, x + AFS_OBS_DIM, XD, 0);
}

/* TD targets y = r + gamma (1 - done) Q'(o', argmax actor'(o')). */
static void targets(esdrl *e, afs_backend *b, const afs_batch *t)
{
    int B = t->B;
    const float *logits = afs_mlp_forward(&e->actor_t, b, B, t->next_obs);
    b->argmax_rows(b, (size_t)B, 2, logits, e->a_next);
    b->one_hot(b, (size_t)B, 2, e->a_next, e->onehot);
    critic_input(b, B, t->next_obs, e->onehot, e->x_next);
    const float *q_next = afs_mlp_forward(&e->critic_t, b, B, e->x_next);
    b->flag_floats(b, (size_t)B, t->flags, AFS_RF_DONE, 1.0f, e->done);
    b->td_target(b, (size_t)B, e->hp.gamma, t->rew, e->done, q_next, e->y);
}

/* One gradient step of the critic, then of the actor, then the targets. */
static int one_update(esdrl *e, afs_backend *b, double progress, char *err, size_t n)
{
    int B = e->B;
    long u = (long)e->updates;
    float beta = afs_replay_beta(e->hp.per_beta0, progress);
    afs_replay_sample(&e->replay, b, B, e->seed, AFS_STREAM_REPLAY, (uint32_t)u, beta);
    const afs_batch *t = &e->replay.batch;
    targets(e, b, t);

    /* Critic: weighted squared TD error. */
    b->one_hot(b, (size_t)B, 2, t->act, e->onehot);
    critic_input(b, B, t->obs, e->onehot, e->x);
    const float *q = afs_mlp_forward(&e->critic, b, B, e->x);
    double critic_loss = b->mse_loss(b, (size_t)B, q, e->y, t->weight, e->dq);
    if (ac_check_loss(critic_loss, "esdrl", "critic loss", u, err, n))
        return -1;
    double td_abs = b->mean_abs_diff(b, (size_t)B, q, e->y);
    afs_replay_update(&e->replay, b, q, e->y);
    afs_params_zero_grad(&e->critic.p, b);
    afs_mlp_backward(&e->critic, b, B, e->dq, NULL);
    afs_optim copt = ac_optim(&e->hp, 1), aopt = ac_optim(&e->hp, 0);
    if (ac_step(&e->critic.p, b, &copt, "esdrl", u, err, n))
        return -1;

    /* Actor: the straight-through Gumbel-softmax (hard sample forward, the
     * soft sample's gradient backward) of -Q, with the critic's values at
     * both actions: dL/dhard_a = -Q(o, a) / B, the gradient of Q's
     * multilinear extension sum_a hard_a Q(o, a). Not the critic's slope at
     * the sampled one-hot action: a ReLU critic trained only at one-hot
     * actions has no reason to slope towards the better one, and measured
     * on the paper's setting it sloped the wrong way (docs/model.md,
     * "Learning"). */
    const float *logits = afs_mlp_forward(&e->actor, b, B, t->obs);
    b->gumbel_softmax_forward(b, B, 2, e->tp.gumbel_tau, 0.0f, e->seed, AFS_STREAM_UPDATE, (uint32_t)u,
                              logits, e->soft, e->hard);
    ac_q_of_both_actions(b, &e->critic, B, e->x, XD, AFS_OBS_DIM, e->unit, e->qpair);
    /* rows without a function took no decision: no actor gradient */
    b->flag_floats(b, (size_t)B, t->flags, AFS_RF_VALID, -1.0f / (float)B, e->dq);
    b->scale_rows(b, (size_t)B, 2, e->qpair, e->dq, e->dhard);
    /* reported: -mean over the batch of Q at the sampled action */
    b->scale_rows(b, (size_t)B * 2, 1, e->qpair, e->hard, e->dlogits);
    double actor_loss = -2.0 * b->mean(b, (size_t)B * 2, e->dlogits);
    if (ac_check_loss(actor_loss, "esdrl", "actor loss", u, err, n))
        return -1;
    b->gumbel_softmax_backward(b, B, 2, e->tp.gumbel_tau, e->soft, e->dhard, e->dlogits);
    /* + logit_reg mean(logits^2): bounded logits, so exploration goes on */
    b->axpy(b, (size_t)B * 2, e->tp.logit_reg / (float)B, logits, e->dlogits);
    afs_params_zero_grad(&e->actor.p, b);
    afs_mlp_backward(&e->actor, b, B, e->dlogits, NULL);
    if (ac_step(&e->actor.p, b, &aopt, "esdrl", u, err, n))
        return -1;

    afs_params_soft_update(&e->actor_t.p, &e->actor.p, b, e->hp.tau);
    afs_params_soft_update(&e->critic_t.p, &e->critic.p, b, e->hp.tau);
    e->updates++;
    e->tally.critic_loss += critic_loss;
    e->tally.actor_loss += actor_loss;
    e->tally.td_abs += td_abs;
    e->tally.updates++;
    return 0;
}

static int update(afs_agent *a, char *err, size_t n)
{
    esdrl *e = impl_of(a);
    if (!e->training || afs_replay_records(&e->replay) < e->tp.warmup ||
        afs_replay_rows(&e->replay) <= 0)
        return 0;
    for (int k = 0; k < e->tp.updates_per_slot; k++)
        if (one_update(e, a->b, a->progress, err, n))
            return -1;
    return 0;
}

static void stats(afs_agent *a, afs_agent_stats *out)
{
    esdrl *e = impl_of(a);
    double fill = e->training ? (double)afs_replay_records(&e->replay) /
                                    (double)afs_replay_capacity(&e->replay) : 0.0;
    ac_tally_report(&e->tally, out, fill);
}

static void checkpoint(afs_agent *a, afs_checkpoint *c, int with_replay)
{
    esdrl *e = impl_of(a);
    afs_mlp *nets[4] = {&e->actor, &e->critic, &e->actor_t, &e->critic_t};
    for (int i = 0; i < 4; i++)
        c->sets[i] = (afs_ckpt_set){&nets[i]->p, e->shapes[i]};
    c->nsets = 4;
    c->nblobs = 0;
    if (!with_replay || !e->training)
        return;
    c->nblobs = ac_replay_blobs(&e->replay, a->b, c->blobs);
}

static long long updates(afs_agent *a) { return impl_of(a)->updates; }

static int set_updates(afs_agent *a, long long u, int replay_loaded, char *err, size_t n)
{
    esdrl *e = impl_of(a);
    e->updates = u;
    return e->training && replay_loaded ? afs_replay_restore_meta(&e->replay, a->b, err, n) : 0;
}

static void destroy(afs_agent *a)
{
    esdrl *e = impl_of(a);
    afs_backend *b = a->b;
    afs_mlp *nets[4] = {&e->actor, &e->critic, &e->actor_t, &e->critic_t};
    for (int i = 0; i < 4; i++)
        afs_mlp_free(nets[i], b);
    afs_replay_free(&e->replay, b); /* nothing when it was never made */
    void *bufs[] = {e->soft_e, e->hard_e, e->x, e->x_next, e->onehot, e->y, e->dq, e->qpair,
                    e->unit, e->done, e->soft, e->hard, e->dhard, e->dlogits, e->a_next};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i])
            b->release(b, bufs[i]);
}

static const afs_agent_ops ops = {.act = act, .store = store, .update = update, .stats = stats,
                                  .checkpoint = checkpoint, .updates = updates,
                                  .set_updates = set_updates, .destroy = destroy};

/* The networks' layer sizes (as, cs) and layer counts (al, cl); 0, or -1
 * with err. */
static int net_sizes(const afs_algo_params *hp, int *as, int *al, int *cs, int *cl, char *err,
                     size_t n)
{
    *al = ac_sizes(hp->actor_hidden, AFS_OBS_DIM, 2, as, "esdrl.actor_hidden", err, n);
    *cl = ac_sizes(hp->critic_hidden, XD, 1, cs, "esdrl.critic_hidden", err, n);
    return *al < 0 || *cl < 0 ? -1 : 0;
}

/* The bytes of the four networks: the actor plays E M rows or takes a
 * batch of B, the others take batches. */
static double net_bytes(const int *as, int al, const int *cs, int cl, int rows, int B)
{
    return afs_mlp_bytes(as, al, 1, rows) + afs_mlp_bytes(as, al, 1, B) +
           2.0 * afs_mlp_bytes(cs, cl, 1, B);
}

static int network_bytes(afs_backend *b, const afs_config *cfg, int envs, double *bytes,
                         char *err, size_t n)
{
    (void)b; /* the same on every backend */
    int as[AFS_MLP_MAX_LAYERS + 1], cs[AFS_MLP_MAX_LAYERS + 1], al, cl, B = cfg->esdrl.batch;
    if (net_sizes(&cfg->esdrl, as, &al, cs, &cl, err, n))
        return -1;
    int rows = envs * cfg->env.agents > B ? envs * cfg->env.agents : B;
    *bytes = net_bytes(as, al, cs, cl, rows, B);
    return 0;
}

/* The replay: every EN's record of a slot on its own (rows of one). */
static int plan(const afs_config *cfg, int envs, afs_replay_info *info, char *err, size_t n)
{
    return ac_replay_slots(cfg, "esdrl", &cfg->esdrl, envs * cfg->env.agents, 1, 0,
                           cfg->esdrl.batch, info, err, n);
}

/* The networks; 0, or -1 with err. */
static int make_nets(esdrl *e, afs_backend *b, char *err, size_t n)
{
    int as[AFS_MLP_MAX_LAYERS + 1], cs[AFS_MLP_MAX_LAYERS + 1], al, cl;
    if (net_sizes(&e->hp, as, &al, cs, &cl, err, n))
        return -1;
    int rows = e->E * e->M > e->B ? e->E * e->M : e->B;
    if (afs_mlp_init(&e->actor, b, "actor", as, al, 1, AFS_ACT_RELU, AFS_ACT_NONE, rows, e->seed,
                     AFS_STREAM_INIT) ||
        afs_mlp_init(&e->critic, b, "critic", cs, cl, 1, AFS_ACT_RELU, AFS_ACT_NONE, e->B, e->seed,
                     AFS_STREAM_INIT + 1) ||
        afs_mlp_init(&e->actor_t, b, "actor_target", as, al, 1, AFS_ACT_RELU, AFS_ACT_NONE, e->B,
                     e->seed, AFS_STREAM_INIT) ||
        afs_mlp_init(&e->critic_t, b, "critic_target", cs, cl, 1, AFS_ACT_RELU, AFS_ACT_NONE, e->B,
                     e->seed, AFS_STREAM_INIT + 1))
        return afs_fail(err, n, "esdrl: out of %s memory for the networks: %.1f MiB (weights, "
                        "gradients, Adam moments and the layers' outputs for batches of %d): "
                        "lower esdrl.batch, esdrl.actor_hidden or esdrl.critic_hidden", b->name,
                        net_bytes(as, al, cs, cl, rows, e->B) / (1024.0 * 1024.0), e->B);
    afs_mlp *nets[4] = {&e->actor, &e->critic, &e->actor_t, &e->critic_t};
    for (int i = 0; i < 4; i++)
        afs_mlp_shape(nets[i], e->shapes[i], sizeof e->shapes[i]);
    return 0;
}

static afs_agent *create(afs_backend *b, const afs_config *cfg, int envs, int train, char *err,
                         size_t n)
{
    afs_agent *a = afs_agent_new(&ops, "esdrl", 1, b, sizeof(esdrl),
                                 (size_t)envs * cfg->env.agents, err, n);
    if (!a)
        return NULL;
    esdrl *e = a->impl;
    e->hp = cfg->esdrl;
    e->tp = cfg->train;
    e->seed = cfg->run.seed;
    e->E = envs;
    e->M = cfg->env.agents;
    e->L = cfg->env.slots;
    e->B = cfg->esdrl.batch;
    e->training = train;
    size_t rows = (size_t)e->E * e->M, B = (size_t)e->B;
    int ok = make_nets(e, b, err, n) == 0;
    if (ok) {
        e->soft_e = b->alloc(b, rows * 2 * sizeof(float));
        e->hard_e = b->alloc(b, rows * 2 * sizeof(float));
        ok = e->soft_e && e->hard_e;
    }
    if (ok && train) {
        int slots = plan(cfg, envs, &a->replay, err, n);
        ok = slots > 0;
        if (ok && afs_replay_init(&e->replay, b, slots, (int)rows, 1,
                                  !strcmp(e->hp.replay, "prioritized"), e->hp.per_alpha,
                                  e->hp.per_eps, e->B, 0))
            ok = !afs_fail(err, n, "esdrl: out of %s memory for a replay of %d slots", b->name,
                           slots);
        e->x = b->alloc(b, B * XD * sizeof(float));
        e->x_next = b->alloc(b, B * XD * sizeof(float));
        e->qpair = b->alloc(b, B * 2 * sizeof(float));
        e->unit = ac_unit_actions(b);
        e->onehot = b->alloc(b, B * 2 * sizeof(float));
        e->soft = b->alloc(b, B * 2 * sizeof(float));
        e->hard = b->alloc(b, B * 2 * sizeof(float));
        e->dhard = b->alloc(b, B * 2 * sizeof(float));
        e->dlogits = b->alloc(b, B * 2 * sizeof(float));
        e->y = b->alloc(b, B * sizeof(float));
        e->dq = b->alloc(b, B * sizeof(float));
        e->done = b->alloc(b, B * sizeof(float));
        e->a_next = b->alloc(b, B);
        ok = ok && e->x && e->x_next && e->qpair && e->unit && e->onehot && e->soft && e->hard &&
             e->dhard &&
             e->dlogits && e->y && e->dq && e->done && e->a_next;
        if (!ok && !err[0])
            afs_fail(err, n, "esdrl: out of %s memory for the updates", b->name);
    }
    if (!ok) {
        if (!err[0])
            afs_fail(err, n, "esdrl: out of %s memory", b->name);
        afs_agent_destroy(a);
        return NULL;
    }
    /* The targets start as copies of the online networks. */
    afs_params_copy(&e->actor_t.p, &e->actor.p, b);
    afs_params_copy(&e->critic_t.p, &e->critic.p, b);
    return a;
}

const afs_learner afs_esdrl = {
    "esdrl", "experience-shared: one actor and one critic that every EN shares, one replay",
    offsetof(afs_config, esdrl), create, plan, network_bytes,
};
