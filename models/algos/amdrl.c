/* AM-DRL (the paper's method, section 4; design section 5), after ATOC:
 * actor part 1 maps an EN's observation to its thought h [T]; every t_comm
 * slots the attention unit (one step of an LSTM cell on h, then a linear
 * layer and a sigmoid) says which ENs initiate a communication group; the
 * backend forms the groups (form_groups: collaborators within range, first
 * ENs nobody chose, then ENs chosen by others, then other initiators,
 * nearest first, ties by index); a bidirectional LSTM (the channel) runs
 * over each group's thoughts, initiator first; an EN's integrated thought
 * ht is its output in its first group, the lowest-numbered initiator's
 * (h itself in none); actor part 2 maps [h, ht] to two logits. One critic
 * Q(o, ht, c, a) is shared by every EN, c the share of the other members
 * of its first group that offloaded (amdrl.critic = group). The replay
 * keeps joint rows (one environment's M records of a slot) with the groups
 * that acted, so a replayed batch runs the channel on them, and is
 * prioritized by each row's mean |TD error|.
 *
 * The update, per batch of R joint rows (N = R M agent rows):
 *  critic: y = r + gamma (1 - done) Q'(o', ht', c', argmax actor'(o')), the
 *    target actor running its channel on the next slot's groups;
 *  actor: the straight-through Gumbel-softmax of -Q with the critic's
 *    values of both actions (as ES-DRL: docs/model.md, "Learning"); the
 *    gradient flows through part 2, the EN's channel output, the channel
 *    and the gather of thoughts back into part 1;
 *  attention (amdrl.comm = attention): delta-Q of each initiator in the
 *    batch (paper eq. 6): the mean over its group of V(o_j, pi(h_j, ht_j))
 *    - V_0(o_j, pi(h_j, h_j)), V the critic's value under the actor's
 *    softmax probabilities, V_0 the same with the critic told what no
 *    communication is (h~ = h, not in a group, no group's actions); kept in
 *    a queue of amdrl.dq_queue values and made labels in [0, 1] by
 *    amdrl.labels (sign, the default: 1 where dQ > 0, 0 where below, so
 *    that p estimates the chance that talking helps; anchored; minmax);
 *    binary cross entropy of the squashed output 0.9 p + 0.05 (eq. 7).
 * Initiation at evaluation: by amdrl.eval_init, Bernoulli(p) (the
 * default: training's rule and draws) or p > amdrl.threshold (the paper's).
 * In training, by amdrl.init_rule: sample, Bernoulli(p) (the default);
 * threshold, p > threshold with each EN's decision flipped with
 * probability amdrl.explore_init. The two defaults are one rule: the 0.5
 * threshold at evaluation after Bernoulli(p) in training made evaluation
 * run a branch training hardly visited (docs/model.md, "AM-DRL").
 * amdrl.comm = random initiates each EN with probability amdrl.random_rate
 * (the control for the attention unit).
 * Host round trips: the groups (the LSTM takes their lengths on the host)
 * once per formation while playing; per update the batch's groups of both
 * slots, its actions and the target actions (c), delta-Q and labels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ac.h"
#include "amdrl_internal.h"
#include "core/fail.h"
#include "models/lstm_net.h"

enum { NET_PART1, NET_PART2, NET_CRITIC, NET_ATT_OUT, NET_PART1_T, NET_PART2_T, NET_CRITIC_T,
       N_MLP };
enum { LSTM_CHANNEL, LSTM_ATT, LSTM_CHANNEL_T, N_LSTM };

/* A set of groups as the channel runs them: grp [rows, K] as formed (or
 * replayed); first, the same with every EN's later positions -1, so that
 * an EN in several groups takes its integrated thought from its first
 * group, the one of the lowest-numbered initiator (docs/model.md,
 * "AM-DRL"); the groups' sizes on the host for the LSTM. */
typedef struct groups {
    const int16_t *grp;
    int16_t *first;
    int *lengths;     /* host */
    int any;          /* a group exists */
} groups;

typedef struct amdrl {
    afs_algo_params hp;
    afs_comm_params cp;
    afs_train_params tp;
    uint32_t seed;
    int E, M, L, T, K, R, comm; /* comm: enum below */
    int xd;                     /* the critic's input: o, h~, others, in a group, a: OBS + T + 2 + 2 */
    afs_mlp mlp[N_MLP];
    afs_lstm_net lstm[N_LSTM];
    char shapes[N_MLP + N_LSTM][128];
    int training;
    afs_replay replay;
    /* playing, [E M] rows: the groups formed last (len on the host too) */
    float *z, *ht, *count, *xg, *soft_e, *hard_e, *p2, *pz; /* pz: attention outputs */
    uint8_t *init, *chosen;
    int16_t *grp, *first, *grp_none; /* grp_none: no group, all -1 */
    int32_t *len;
    int *len_host, *ones_host;
    groups play;                     /* the groups formed last */
    groups test_groups;              /* afs_amdrl_integrate's */
    double round_floats;            /* what a slot of the current groups sends */
    long formations;                /* groups formed so far */
    float *consts; /* [CONST_N], see the enum below */
    double comm_floats, decisions;
    /* updating, [R M] rows */
    float *x, *x_next, *onehot, *y, *dq, *qpair, *qpair0, *unit, *done, *soft, *hard, *dhard;
    float *dlogits, *flipf;
    float *w_agent, *td_row, *zeros, *zu, *htu, *countu, *xgu, *dyc, *dxg, *dz, *dh, *dht;
    float *probs, *dv, *dqi, *ones2, *h_init, *labels, *ps, *dps, *dp, *datt;
    uint8_t *a_next;
    int32_t *init_rows;
    int16_t *grp_host, *first_host;          /* host [rows, K] */
    int16_t *firstu, *firstn;                /* backend [N, K]: the batch's slot, next slot */
    int32_t *first_of;                       /* host [rows]: each EN's first group's row, or -1 */
    uint8_t *act_host;                       /* host [N] */
    float *others_host, *others;             /* host, backend [N]: the critic's group input */
    float *ingroup_host, *ingroup;           /* host, backend [N]: 1 in a group, else 0 */
    int group_critic;                        /* amdrl.critic = group */
    int label_rule;                          /* amdrl.labels: enum afs_amdrl_labels */
    int sample_init;                         /* amdrl.init_rule = sample */
    int sample_eval;                         /* amdrl.eval_init = sample */
    int *lenu_host, *lenn_host, *init_host;
    float *dq_host;
    /* the delta-Q queue U (host; mirrored into dq_saved [Q + 2] for
     * checkpoints: the values, then the count and the next position) */
    float *queue, *dq_saved;
    int q_count, q_head;
    long long updates;
    ac_tally tally;
    double att_loss;
    /* diagnostics since the last stats call: initiators and ENs over the
     * formations; labels, positive delta-Q and the AUC over the updates */
    double inits, init_ens, labels_sum, dq_pos, dq_n, auc_sum, auc_n;
    float *p_host;                           /* host [N]: the unit's outputs on a batch */
    afs_amdrl_scored *ranked;                /* host [N]: afs_amdrl_auc's scratch */
} amdrl;

enum { COMM_ATTENTION, COMM_ALWAYS, COMM_NEVER, COMM_RANDOM };
/* The backend's constants: the threshold; 1 and 0 (every EN, none); the
 * log-odds of amdrl.random_rate, log(q / (1 - q)). */
enum { CONST_THRESHOLD, CONST_ONE, CONST_ZERO, CONST_RANDOM_LOGIT, CONST_N };

static amdrl *impl_of(afs_agent *a) { return a->impl; }

/* ---- The actor: part 1, the channel, part 2 ---- */

/* Loads groups g of N rows from grp (backend): to the host, their sizes,
 * and each EN's first position (first_host, then g->first). */
static void load_groups(amdrl *m, afs_backend *b, int N, const int16_t *grp, groups *g)
{
    int K = m->K;
    b->to_host(b, m->grp_host, grp, (size_t)N * K * sizeof(int16_t));
    g->grp = grp;
    g->any = 0;
    afs_group_first_rows(m->grp_host, N, m->M, K, m->first_of);
    for (int s = 0; s < N; s++) {
        int len = 0;
        for (int t = 0; t < K; t++) {
            int j = afs_group_member(m->grp_host, m->M, K, s, t);
            len += j >= 0;
            /* a member of a row appears once in it: here, if this is its first group */
            m->first_host[(size_t)s * K + t] =
                (int16_t)(j >= 0 && m->first_of[j] == s ? m->grp_host[(size_t)s * K + t] : -1);
        }
        g->lengths[s] = len;
        g->any |= len > 0;
    }
    b->to_backend(b, g->first, m->first_host, (size_t)N * K * sizeof(int16_t));
}

/* h~ [N, T] of thoughts h [N, T] over groups g: the channel's output at
 * each EN's first position (h where an EN is in no group). xg [K, N, T]
 * and count [N] are scratch kept for the backward. The channel runs on
 * every group whole: an EN's thought enters each group it is in. */
static void integrate(amdrl *m, afs_backend *b, afs_lstm_net *ch, int N, const groups *g,
                      const float *h, float *xg, float *count, float *ht)
{
    if (!g->any) { /* nobody communicates: h~ = h, and no EN counts a group */
        b->copy(b, ht, h, (size_t)N * m->T * sizeof(float));
        b->fill(b, (size_t)N, 0.0f, count);
        return;
    }
    b->group_gather(b, N, m->M, m->K, m->T, g->grp, h, xg);
    const float *yc = afs_lstm_net_forward(ch, b, N, g->lengths, xg);
    b->group_mean(b, N, m->M, m->K, m->T, g->first, yc, h, ht, count); /* one position each */
}

/* z [N, 2T] = [a, c] of two [N, T] arrays. */
static void concat(amdrl *m, afs_backend *b, int N, const float *a, const float *c, float *z)
{
    b->copy_cols(b, 1, N, m->T, a, (size_t)m->T, 0, z, 2 * (size_t)m->T, 0);
    b->copy_cols(b, 1, N, m->T, c, (size_t)m->T, 0, z + m->T, 2 * (size_t)m->T, 0);
}

/* Logits [N, 2] of the actor given by nets (part 1, part 2) and channel ch
 * on obs [N, OBS]; h stays in part 1's workspace. */
static const float *actor_forward(amdrl *m, afs_backend *b, afs_mlp *p1, afs_lstm_net *ch,
                                  afs_mlp *p2, int N, const float *obs, const groups *g,
                                  float *xg, float *count, float *ht, float *z)
{
    const float *h = afs_mlp_forward(p1, b, N, obs);
    integrate(m, b, ch, N, g, h, xg, count, ht);
    concat(m, b, N, h, ht, z);
    return afs_mlp_forward(p2, b, N, z);
}

/* The LSTM takes the groups' sizes as host ints; the backend writes int32. */
_Static_assert(sizeof(int) == sizeof(int32_t), "group sizes are copied as int32");

/* The floats a round of the groups of sizes lengths [N] (host) sends:
 * every member but the initiator (which runs the channel) sends its
 * thought and receives its integrated thought. */
static double round_floats(const amdrl *m, int N, const int *lengths)
{
    double floats = 0.0;
    for (int s = 0; s < N; s++) {
        if (lengths[s] > 1)
            floats += 2.0 * m->T * (lengths[s] - 1);
    }
    return floats;
}

/* ---- Playing ---- */

/* The attention unit's logit z [k] (p = sigmoid z) on thoughts h [k, T]. */
static const float *attention_logit(amdrl *m, afs_backend *b, int k, const float *h)
{
    const float *c = afs_lstm_net_forward(&m->lstm[LSTM_ATT], b, k, m->ones_host, h);
    return afs_mlp_forward(&m->mlp[NET_ATT_OUT], b, k, c);
}

/* init [N] = 1 with probability sigmoid(logit[i]), logit backend [N]:
 * the Gumbel-argmax of the rows [0, logit] (Philox stream
 * AFS_STREAM_ATTENTION, the slot's counter). */
static void bernoulli(amdrl *m, afs_backend *b, const afs_env *env, int N, const float *logit,
                      size_t stride)
{
    uint32_t counter = env->episode * (uint32_t)m->L + (uint32_t)env->slot;
    b->copy_cols(b, 1, N, 1, m->consts + CONST_ZERO, 0, 0, m->p2, 2, 0);
    b->copy_cols(b, 1, N, 1, logit, stride, 0, m->p2 + 1, 2, 0);
    b->gumbel_softmax_forward(b, N, 2, 1.0f, 0.0f, m->seed, AFS_STREAM_ATTENTION, counter, m->p2,
                              m->soft_e, m->hard_e);
    b->argmax_rows(b, (size_t)N, 2, m->hard_e, m->init);
}

/* The attention unit's initiators on thoughts h [N, T]: p > threshold, the
 * argmax of the rows [threshold, p] (ties: no); with amdrl.eval_init =
 * sample, Bernoulli(p) in evaluation too. Exploring, with
 * amdrl.init_rule = sample, Bernoulli(p) instead (the logits [0, z]), so
 * that initiators, and with them delta-Q labels, keep coming: with the
 * threshold alone the unit can stop every initiation and never learn
 * again (docs/model.md). With threshold, each decision flipped with
 * probability amdrl.explore_init: the initiators drawn with log-odds
 * +-log((1 - e) / e), + where the threshold said yes. */
static void attention_initiators(amdrl *m, afs_backend *b, const afs_env *env, int N,
                                 const float *h, int explore)
{
    const float *z = attention_logit(m, b, N, h);
    if (explore ? m->sample_init : m->sample_eval) { /* the same draws in both modes */
        bernoulli(m, b, env, N, z, 1);
        return;
    }
    b->activation_forward(b, AFS_ACT_SIGMOID, (size_t)N, z, m->pz);
    b->copy_cols(b, 1, N, 1, m->consts + CONST_THRESHOLD, 0, 0, m->p2, 2, 0);
    b->copy_cols(b, 1, N, 1, m->pz, 1, 0, m->p2 + 1, 2, 0);
    b->argmax_rows(b, (size_t)N, 2, m->p2, m->init);
    if (!explore || m->cp.explore_init <= 0.0f)
        return;
    /* pz (free again) = 2 L init - L: +L where the threshold said yes, -L
     * elsewhere (exact: 2L is L doubled) */
    float L = logf((1.0f - m->cp.explore_init) / m->cp.explore_init);
    b->flag_floats(b, (size_t)N, m->init, 1, 2.0f * L, m->flipf);
    b->fill(b, (size_t)N, -L, m->pz);
    b->axpy(b, (size_t)N, 1.0f, m->flipf, m->pz);
    bernoulli(m, b, env, N, m->pz, 1);
}

/* Forms this slot's groups from the thoughts h [E M, T] (every t_comm
 * slots): the initiators by the attention unit (attention_initiators: the
 * threshold in evaluation, amdrl.init_rule's in training), at random, or
 * all, or none; counts them for the diagnostics. */
static void form(amdrl *m, afs_backend *b, const afs_env *env, const float *h, int explore)
{
    int N = m->E * m->M;
    float q = m->cp.random_rate;
    if (m->comm == COMM_ATTENTION)
        attention_initiators(m, b, env, N, h, explore);
    else if (m->comm == COMM_RANDOM && q > 0.0f && q < 1.0f)
        bernoulli(m, b, env, N, m->consts + CONST_RANDOM_LOGIT, 0);
    else /* every EN (1 != 0) or none (0 != 0) */
        b->nonzero_flags(b, (size_t)N, m->consts + (m->comm == COMM_ALWAYS ||
                         (m->comm == COMM_RANDOM && q >= 1.0f) ? CONST_ONE : CONST_ZERO),
                         0, 1, 0, m->init);
    b->form_groups(b, env, m->K, m->cp.comm_range_m, m->init, m->chosen, m->grp, m->len);
    m->formations++;
    load_groups(m, b, N, m->grp, &m->play);
    m->round_floats = round_floats(m, N, m->play.lengths);
    for (int s = 0; s < N; s++)
        m->inits += m->play.lengths[s] > 0;
    m->init_ens += N;
}

/* The slot's actions on obs into act (explore: Gumbel samples, uniform
 * ones with probability epsilon); may_form: groups form at this slot when
 * it is a formation's. */
static void act_on(amdrl *m, afs_backend *b, const afs_env *env, const float *obs, int explore,
                   float epsilon, int may_form, uint8_t *act)
{
    int N = m->E * m->M;
    const float *h = afs_mlp_forward(&m->mlp[NET_PART1], b, N, obs);
    if (may_form && m->comm != COMM_NEVER && env->slot % m->cp.t_comm == 0)
        form(m, b, env, h, explore);
    integrate(m, b, &m->lstm[LSTM_CHANNEL], N, &m->play, h, m->xg, m->count, m->ht);
    concat(m, b, N, h, m->ht, m->z);
    const float *logits = afs_mlp_forward(&m->mlp[NET_PART2], b, N, m->z);
    uint32_t counter = env->episode * (uint32_t)m->L + (uint32_t)env->slot;
    ac_actions(b, N, logits, explore, m->tp.gumbel_tau, epsilon, m->seed, counter, m->soft_e,
               m->hard_e, act);
}

static void act(afs_agent *a, const afs_env *env, const float *obs, int mode, uint8_t *action)
{
    amdrl *m = impl_of(a);
    if (mode == AFS_PLAY_DECIDE) { /* the groups as they stand: changes no state */
        act_on(m, a->b, env, obs, 0, 0.0f, 0, action);
        return;
    }
    if (env->slot == 0)
        m->play.any = 0; /* a new episode: no group carries over */
    act_on(m, a->b, env, obs, mode == AFS_PLAY_TRAIN && m->training,
           ac_epsilon(&m->tp, a->progress), 1, action);
    m->comm_floats += m->play.any ? m->round_floats : 0.0;
    m->decisions += m->E * m->M;
}

/* The slot's joint rows with the groups that acted, or "none" (all -1). */
static void store(afs_agent *a, const float *obs, const uint8_t *action, const float *reward,
                  int done)
{
    amdrl *m = impl_of(a);
    if (m->training)
        afs_replay_store(&m->replay, a->b, obs, action, reward, done,
                         m->play.any ? m->grp : m->grp_none);
}

/* ---- Updating ---- */

/* others [N]: for each EN, the share of the other members of its first
 * group that offloaded (actions act [N], backend), and ingroup [N]: 1 for
 * an EN in a group; both 0 in no group or with amdrl.critic = local.
 * Centralized training within the groups: the critic may see what the
 * group did, the actor only what it was told. ingroup tells the critic
 * "in no group" apart from "in a group where nobody offloaded", so that it
 * can value the counterfactual of no communication (value_gain). */
static void group_others(amdrl *m, afs_backend *b, int N, const groups *g, const uint8_t *act)
{
    memset(m->others_host, 0, (size_t)N * sizeof(float));
    memset(m->ingroup_host, 0, (size_t)N * sizeof(float));
    if (m->group_critic && g->any) {
        b->to_host(b, m->act_host, act, (size_t)N);
        for (int i = 0; i < N; i++) {
            int s = m->first_of[i], base = i / m->M * m->M, off = 0;
            for (int t = 0; s >= 0 && t < g->lengths[s]; t++) {
                int j = base + m->grp_host[(size_t)s * m->K + t];
                off += j != i && m->act_host[j] == 0;
            }
            int others = s >= 0 ? g->lengths[s] - 1 : 0;
            m->others_host[i] = others > 0 ? (float)off / (float)others : 0.0f;
            m->ingroup_host[i] = s >= 0 ? 1.0f : 0.0f;
        }
    }
    b->to_backend(b, m->others, m->others_host, (size_t)N * sizeof(float));
    b->to_backend(b, m->ingroup, m->ingroup_host, (size_t)N * sizeof(float));
}

/* The critic's input columns after o and h~: others, in a group, then
 * the action's two. */
#define X_OTHERS(m) (AFS_OBS_DIM + (m)->T)
#define X_ACTION(m) (AFS_OBS_DIM + (m)->T + 2)

/* x [N, OBS + T + 2 + 2] = [o, h~, others, in a group, one-hot a]: the
 * critic values an action given what the EN knows after communicating and
 * what the rest of its group did (docs/model.md, "AM-DRL"); others and
 * ingroup NULL: as in no group (both 0), onehot NULL: left as it is. */
static void critic_input(const amdrl *m, afs_backend *b, int N, const float *obs,
                         const float *ht, const float *others, const float *ingroup,
                         const float *onehot, float *x)
{
    size_t xd = (size_t)m->xd;
    b->copy_cols(b, 1, N, AFS_OBS_DIM, obs, AFS_OBS_DIM, 0, x, xd, 0);
    b->copy_cols(b, 1, N, m->T, ht, (size_t)m->T, 0, x + AFS_OBS_DIM, xd, 0);
    if (others) {
        b->copy_cols(b, 1, N, 1, others, 1, 0, x + X_OTHERS(m), xd, 0);
        b->copy_cols(b, 1, N, 1, ingroup, 1, 0, x + X_OTHERS(m) + 1, xd, 0);
    } else {
        for (int c = 0; c < 2; c++)
            b->copy_cols(b, 1, N, 1, m->consts + CONST_ZERO, 0, 0, x + X_OTHERS(m) + c, xd, 0);
    }
    if (onehot)
        b->copy_cols(b, 1, N, 2, onehot, 2, 0, x + X_ACTION(m), xd, 0);
}

/* The groups of a replayed batch (or none with amdrl.comm = never), into
 * the scratch of the slot (first, lengths). */
static groups batch_groups(amdrl *m, afs_backend *b, int N, const int16_t *grp, int16_t *first,
                           int *lengths)
{
    groups g = {grp, first, lengths, 0};
    if (m->comm != COMM_NEVER)
        load_groups(m, b, N, grp, &g);
    return g;
}

/* TD targets y = r + gamma (1 - done) Q'(o', ht', c', argmax actor'(o')),
 * the target actor's channel on the next slot's groups g (the ones that
 * acted there: a formation may fall between the two slots). */
static void targets(amdrl *m, afs_backend *b, const afs_batch *t, int N, const groups *g)
{
    const float *logits =
        actor_forward(m, b, &m->mlp[NET_PART1_T], &m->lstm[LSTM_CHANNEL_T], &m->mlp[NET_PART2_T],
                      N, t->next_obs, g, m->xgu, m->countu, m->htu, m->zu);
    b->argmax_rows(b, (size_t)N, 2, logits, m->a_next);
    b->one_hot(b, (size_t)N, 2, m->a_next, m->onehot);
    group_others(m, b, N, g, m->a_next);
    critic_input(m, b, N, t->next_obs, m->htu, m->others, m->ingroup, m->onehot, m->x_next);
    const float *q_next = afs_mlp_forward(&m->mlp[NET_CRITIC_T], b, N, m->x_next);
    b->flag_floats(b, (size_t)N, t->flags, AFS_RF_DONE, 1.0f, m->done);
    b->td_target(b, (size_t)N, m->hp.gamma, t->rew, m->done, q_next, m->y);
}

/* The critic's step on the batch, with the online actor's h~ in htu;
 * leaves x = [o, h~, one-hot a]. */
static int critic_step(amdrl *m, afs_backend *b, const afs_batch *t, int N, const groups *g,
                       long u, char *err, size_t n)
{
    b->one_hot(b, (size_t)N, 2, t->act, m->onehot);
    group_others(m, b, N, g, t->act);
    critic_input(m, b, N, t->obs, m->htu, m->others, m->ingroup, m->onehot, m->x);
    afs_mlp *critic = &m->mlp[NET_CRITIC];
    const float *q = afs_mlp_forward(critic, b, N, m->x);
    const float *w = NULL;
    if (m->replay.prioritized) { /* each joint row's weight on its M agents */
        b->copy_cols(b, t->B, m->M, 1, t->weight, 0, 1, m->w_agent, 1, (size_t)m->M);
        w = m->w_agent;
    }
    double loss = b->mse_loss(b, (size_t)N, q, m->y, w, m->dq);
    if (ac_check_loss(loss, "amdrl", "critic loss", u, err, n))
        return -1;
    m->tally.td_abs += b->mean_abs_diff(b, (size_t)N, q, m->y);
    if (m->replay.prioritized) { /* a joint row's priority: its mean |TD error| */
        b->row_mean_abs_diff(b, t->B, m->M, q, m->y, m->td_row);
        afs_replay_update(&m->replay, b, m->td_row, m->zeros);
    }
    afs_params_zero_grad(&critic->p, b);
    afs_mlp_backward(critic, b, N, m->dq, NULL);
    afs_optim o = ac_optim(&m->hp, 1);
    m->tally.critic_loss += loss;
    return ac_step(&critic->p, b, &o, "amdrl", u, err, n);
}

/* integrate's backward on the update's batch: ADDS dL/dh into dh [N, T] from dL/dh~ dht [N, T], and
 * dL/dparams into the channel's gradients. */
static void integrate_backward(amdrl *m, afs_backend *b, int N, const groups *g,
                               const float *dht, float *dh)
{
    if (!g->any) {
        b->axpy(b, (size_t)N * m->T, 1.0f, dht, dh);
        return;
    }
    b->group_mean_backward(b, N, m->M, m->K, m->T, g->first, m->countu, dht, m->dyc, dh);
    afs_lstm_net_backward(&m->lstm[LSTM_CHANNEL], b, N, g->lengths, m->dyc, m->dxg);
    b->group_gather_backward(b, N, m->M, m->K, m->T, g->grp, m->dxg, dh);
}

/* dv [N] = V(o, h~, pi with h~) - V_0(o, h, pi without), V = sum_a pi_a
 * Q(., a): from the two softmaxes in probs [2, N, 2], the critic's values
 * of both actions as the batch communicated (qpair) and as if nobody had
 * (qpair0: h~ = h, in no group: the critic's input for an EN that did not
 * talk). obs and h [N, T] are the batch's; x_next is scratch. */
static void value_gain(amdrl *m, afs_backend *b, int N, const float *obs, const float *h)
{
    float *with = m->probs, *without = m->probs + (size_t)N * 2;
    critic_input(m, b, N, obs, h, NULL, NULL, NULL, m->x_next);
    ac_q_of_both_actions(b, &m->mlp[NET_CRITIC], N, m->x_next, m->xd, X_ACTION(m), m->unit,
                         m->qpair0);
    b->scale_rows(b, (size_t)N * 2, 1, with, m->qpair, with);
    b->scale_rows(b, (size_t)N * 2, 1, without, m->qpair0, without);
    b->axpy(b, (size_t)N * 2, -1.0f, without, with);
    b->linear_forward(b, 1, N, 2, 1, with, m->ones2, m->zeros, m->dv); /* pair sums */
}

void afs_amdrl_labels(float *queue, int Q, int *count, int *head, const float *dq, int n,
                      int rule, float *labels)
{
    for (int i = 0; i < n; i++) {
        queue[*head] = dq[i];
        *head = (*head + 1) % Q;
        *count += *count < Q;
    }
    float lo = queue[0], hi = queue[0], big = fabsf(queue[0]);
    for (int i = 1; i < *count; i++) {
        lo = fminf(lo, queue[i]);
        hi = fmaxf(hi, queue[i]);
        big = fmaxf(big, fabsf(queue[i]));
    }
    for (int i = 0; i < n; i++) { /* clamped: a value may have left the queue already */
        float l = rule == AFS_LABELS_SIGN ? (dq[i] > 0.0f ? 1.0f : dq[i] < 0.0f ? 0.0f : 0.5f)
                  : rule == AFS_LABELS_ANCHORED ? (big > 0.0f ? 0.5f + 0.5f * dq[i] / big : 0.5f)
                  : (hi > lo ? (dq[i] - lo) / (hi - lo) : 0.5f);
        labels[i] = fminf(1.0f, fmaxf(0.0f, l));
    }
}

static int by_score(const void *x, const void *y)
{
    float a = ((const afs_amdrl_scored *)x)->p, b = ((const afs_amdrl_scored *)y)->p;
    return (a > b) - (a < b);
}

double afs_amdrl_auc(const float *p, const float *dq, int k, afs_amdrl_scored *scratch)
{
    for (int i = 0; i < k; i++)
        scratch[i] = (afs_amdrl_scored){p[i], dq[i] > 0.0f};
    qsort(scratch, (size_t)k, sizeof *scratch, by_score);
    double rank_sum = 0.0, pos = 0.0;
    for (int i = 0, j; i < k; i = j) { /* a run of equal scores shares its mean rank */
        for (j = i; j < k && scratch[j].p == scratch[i].p; j++)
            ;
        for (int t = i; t < j; t++)
            if (scratch[t].positive) {
                rank_sum += 0.5 * (i + 1 + j);
                pos += 1.0;
            }
    }
    double neg = k - pos;
    return pos > 0.0 && neg > 0.0 ? (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg) : NAN;
}

static double attention_fit(amdrl *m, afs_backend *b, int k, const float *h, const float *labels,
                            long u, char *err, size_t n);

/* The attention unit's step (paper eq. 7) on the batch's initiators, whose
 * thoughts are h [N, T] and value gains dv [N]. */
static int attention_step(amdrl *m, afs_backend *b, int N, const groups *g, const float *h,
                          long u, char *err, size_t n)
{
    b->group_average(b, N, m->M, m->K, g->grp, m->dv, m->dqi);
    b->to_host(b, m->dq_host, m->dqi, (size_t)N * sizeof(float));
    int k = 0;
    for (int s = 0; s < N; s++)
        if (g->lengths[s] > 0) {
            m->init_host[k] = s;
            m->dq_host[k++] = m->dq_host[s]; /* k <= s: compacted in place */
        }
    if (!k)
        return 0;
    float *labels_host = m->dq_host + N; /* the second half of the host scratch */
    afs_amdrl_labels(m->queue, m->cp.dq_queue, &m->q_count, &m->q_head, m->dq_host, k,
                     m->label_rule, labels_host);
    b->to_backend(b, m->init_rows, m->init_host, (size_t)k * sizeof(int32_t));
    b->to_backend(b, m->labels, labels_host, (size_t)k * sizeof(float));
    b->gather_rows(b, (size_t)k, (size_t)m->T * sizeof(float), m->init_rows, h, m->h_init);
    double loss = attention_fit(m, b, k, m->h_init, m->labels, u, err, n);
    m->att_loss += isfinite(loss) ? loss : 0.0;
    if (!isfinite(loss))
        return -1;
    /* diagnostics: the labels, how often talking helped, and whether the
     * unit's outputs (before this step, in pz) rank those initiators first */
    b->to_host(b, m->p_host, m->pz, (size_t)k * sizeof(float));
    for (int i = 0; i < k; i++) {
        m->labels_sum += labels_host[i];
        m->dq_pos += m->dq_host[i] > 0.0f;
    }
    m->dq_n += k;
    double auc = afs_amdrl_auc(m->p_host, m->dq_host, k, m->ranked);
    m->auc_sum += isfinite(auc) ? auc : 0.0;
    m->auc_n += isfinite(auc);
    return 0;
}

/* One step of the attention unit on thoughts h [k, T] towards labels [k]
 * (paper eq. 7): the loss, or NaN with err when it or a gradient is not
 * finite. The gradients stay in the sets until the next step. */
static double attention_fit(amdrl *m, afs_backend *b, int k, const float *h, const float *labels,
                            long u, char *err, size_t n)
{
    afs_lstm_net *cell = &m->lstm[LSTM_ATT];
    afs_mlp *head = &m->mlp[NET_ATT_OUT];
    b->activation_forward(b, AFS_ACT_SIGMOID, (size_t)k, attention_logit(m, b, k, h), m->pz);
    b->fill(b, (size_t)k, 0.05f, m->ps); /* squashed: 0.9 p + 0.05, finite loss */
    b->axpy(b, (size_t)k, 0.9f, m->pz, m->ps);
    double loss = b->bce_loss(b, (size_t)k, m->ps, labels, NULL, m->dps);
    if (ac_check_loss(loss, "amdrl", "attention loss", u, err, n))
        return NAN;
    b->fill(b, (size_t)k, 0.0f, m->dp);
    b->axpy(b, (size_t)k, 0.9f, m->dps, m->dp);
    b->activation_backward(b, AFS_ACT_SIGMOID, (size_t)k, m->pz, m->dp, m->dp); /* dL/dz */
    afs_params_zero_grad(&head->p, b);
    afs_params_zero_grad(&cell->p, b);
    afs_mlp_backward(head, b, k, m->dp, m->datt);
    afs_lstm_net_backward(cell, b, k, m->ones_host, m->datt, NULL);
    afs_optim o = {m->cp.attention_lr, 0.9f, 0.999f, 1e-8f, m->hp.grad_clip};
    if (ac_step(&head->p, b, &o, "amdrl", u, err, n) || ac_step(&cell->p, b, &o, "amdrl", u, err, n))
        return NAN;
    return loss;
}

/* The actor's step (and, with attention, the attention unit's), after
 * part 1's thoughts h and their integration (htu) on the batch: the
 * gradient through part 2, the channel's output, the channel and the
 * gather into part 1. */
static int actor_step(amdrl *m, afs_backend *b, const afs_batch *t, int N, const groups *g,
                      const float *h, long u, char *err, size_t n)
{
    afs_mlp *p1 = &m->mlp[NET_PART1], *p2 = &m->mlp[NET_PART2];
    afs_lstm_net *ch = &m->lstm[LSTM_CHANNEL];
    int T = m->T, gain = m->comm == COMM_ATTENTION && g->any;
    if (gain) { /* the policy without communication first: part 2's last forward must be the other */
        concat(m, b, N, h, h, m->zu);
        b->softmax_forward(b, N, 2, afs_mlp_forward(p2, b, N, m->zu), m->probs + (size_t)N * 2);
    }
    concat(m, b, N, h, m->htu, m->zu);
    const float *logits = afs_mlp_forward(p2, b, N, m->zu);
    b->gumbel_softmax_forward(b, N, 2, m->tp.gumbel_tau, 0.0f, m->seed, AFS_STREAM_UPDATE, (uint32_t)u,
                              logits, m->soft, m->hard);
    ac_q_of_both_actions(b, &m->mlp[NET_CRITIC], N, m->x, m->xd, X_ACTION(m), m->unit, m->qpair);
    /* as ES-DRL: dL/dhard_a = -valid Q(o, a) / N (docs/model.md, "Learning") */
    b->flag_floats(b, (size_t)N, t->flags, AFS_RF_VALID, -1.0f / (float)N, m->dq);
    b->scale_rows(b, (size_t)N, 2, m->qpair, m->dq, m->dhard);
    b->scale_rows(b, (size_t)N * 2, 1, m->qpair, m->hard, m->dlogits);
    double loss = -2.0 * b->mean(b, (size_t)N * 2, m->dlogits);
    if (ac_check_loss(loss, "amdrl", "actor loss", u, err, n))
        return -1;
    m->tally.actor_loss += loss;
    if (gain) {
        b->softmax_forward(b, N, 2, logits, m->probs);
        value_gain(m, b, N, t->obs, h);
    }
    b->gumbel_softmax_backward(b, N, 2, m->tp.gumbel_tau, m->soft, m->dhard, m->dlogits);
    b->axpy(b, (size_t)N * 2, m->tp.logit_reg / (float)N, logits, m->dlogits);
    afs_params_zero_grad(&p1->p, b);
    afs_params_zero_grad(&ch->p, b);
    afs_params_zero_grad(&p2->p, b);
    afs_mlp_backward(p2, b, N, m->dlogits, m->dz);
    b->copy_cols(b, 1, N, T, m->dz, 2 * (size_t)T, 0, m->dh, (size_t)T, 0);
    b->copy_cols(b, 1, N, T, m->dz + T, 2 * (size_t)T, 0, m->dht, (size_t)T, 0);
    integrate_backward(m, b, N, g, m->dht, m->dh);
    afs_mlp_backward(p1, b, N, m->dh, NULL);
    afs_optim o = ac_optim(&m->hp, 0);
    if (ac_step(&p1->p, b, &o, "amdrl", u, err, n) || ac_step(&ch->p, b, &o, "amdrl", u, err, n) ||
        ac_step(&p2->p, b, &o, "amdrl", u, err, n))
        return -1;
    return gain ? attention_step(m, b, N, g, h, u, err, n) : 0;
}

static int one_update(amdrl *m, afs_backend *b, double progress, char *err, size_t n)
{
    long u = (long)m->updates;
    float beta = afs_replay_beta(m->hp.per_beta0, progress);
    afs_replay_sample(&m->replay, b, m->R, m->seed, AFS_STREAM_REPLAY, (uint32_t)u, beta);
    const afs_batch *t = &m->replay.batch;
    int N = m->R * m->M;
    /* the next slot's groups first: the host scratch then holds the slot's */
    groups next = batch_groups(m, b, N, t->next_grp, m->firstn, m->lenn_host);
    targets(m, b, t, N, &next);
    groups g = batch_groups(m, b, N, t->grp, m->firstu, m->lenu_host);
    /* the online actor's thoughts and integrated thoughts: the critic's
     * input (no gradient through it) and the actor's step */
    const float *h = afs_mlp_forward(&m->mlp[NET_PART1], b, N, t->obs);
    integrate(m, b, &m->lstm[LSTM_CHANNEL], N, &g, h, m->xgu, m->countu, m->htu);
    if (critic_step(m, b, t, N, &g, u, err, n) || actor_step(m, b, t, N, &g, h, u, err, n))
        return -1;
    static const int online[] = {NET_PART1, NET_PART2, NET_CRITIC};
    static const int target[] = {NET_PART1_T, NET_PART2_T, NET_CRITIC_T};
    for (int i = 0; i < 3; i++)
        afs_params_soft_update(&m->mlp[target[i]].p, &m->mlp[online[i]].p, b, m->hp.tau);
    afs_params_soft_update(&m->lstm[LSTM_CHANNEL_T].p, &m->lstm[LSTM_CHANNEL].p, b, m->hp.tau);
    m->updates++;
    m->tally.updates++;
    return 0;
}

static int update(afs_agent *a, char *err, size_t n)
{
    amdrl *m = impl_of(a);
    if (!m->training || afs_replay_records(&m->replay) < m->tp.warmup ||
        afs_replay_rows(&m->replay) <= 0)
        return 0;
    for (int k = 0; k < m->tp.updates_per_slot; k++)
        if (one_update(m, a->b, a->progress, err, n))
            return -1;
    return 0;
}

static void stats(afs_agent *a, afs_agent_stats *out)
{
    amdrl *m = impl_of(a);
    double fill = m->training ? (double)afs_replay_records(&m->replay) /
                                    (double)afs_replay_capacity(&m->replay) : 0.0;
    ac_tally_report(&m->tally, out, fill);
    out->comm_floats = m->decisions > 0 ? m->comm_floats / m->decisions : 0.0;
    out->init_rate = m->init_ens > 0 ? m->inits / m->init_ens : 0.0;
    out->label_mean = m->dq_n > 0 ? m->labels_sum / m->dq_n : NAN;
    out->dq_positive = m->dq_n > 0 ? m->dq_pos / m->dq_n : NAN;
    out->attention_auc = m->auc_n > 0 ? m->auc_sum / m->auc_n : NAN;
    m->comm_floats = m->decisions = m->inits = m->init_ens = 0.0;
    m->labels_sum = m->dq_pos = m->dq_n = m->auc_sum = m->auc_n = 0.0;
}

/* ---- Checkpoints, lifetime ---- */

static void checkpoint(afs_agent *a, afs_checkpoint *c, int with_replay)
{
    amdrl *m = impl_of(a);
    int k = 0;
    for (int i = 0; i < N_MLP; i++, k++)
        c->sets[k] = (afs_ckpt_set){&m->mlp[i].p, m->shapes[k]};
    for (int i = 0; i < N_LSTM; i++, k++)
        c->sets[k] = (afs_ckpt_set){&m->lstm[i].p, m->shapes[k]};
    c->nsets = k;
    c->nblobs = 0;
    if (!with_replay || !m->training)
        return;
    /* the replay, and the delta-Q queue: its values, its count, its next
     * position */
    int Q = m->cp.dq_queue, nb = ac_replay_blobs(&m->replay, a->b, c->blobs);
    m->queue[Q] = (float)m->q_count;
    m->queue[Q + 1] = (float)m->q_head;
    a->b->to_backend(a->b, m->dq_saved, m->queue, (size_t)(Q + 2) * sizeof(float));
    c->blobs[nb++] = (afs_ckpt_blob){"dq_queue", m->dq_saved, (size_t)(Q + 2) * sizeof(float)};
    c->nblobs = nb;
}

static long long updates(afs_agent *a) { return impl_of(a)->updates; }

/* Whether x is a whole number in [0, below). */
static int index_below(float x, int below) { return x >= 0.0f && x < (float)below && x == floorf(x); }

static int set_updates(afs_agent *a, long long u, int replay_loaded, char *err, size_t n)
{
    amdrl *m = impl_of(a);
    m->updates = u;
    if (!m->training || !replay_loaded)
        return 0;
    if (afs_replay_restore_meta(&m->replay, a->b, err, n))
        return -1;
    /* the delta-Q queue: its values, then its count and next position,
     * checked before they become indices */
    int Q = m->cp.dq_queue;
    a->b->to_host(a->b, m->queue, m->dq_saved, (size_t)(Q + 2) * sizeof(float));
    for (int i = 0; i < Q; i++)
        if (!isfinite(m->queue[i]))
            return afs_fail(err, n, "amdrl: the delta-Q queue holds %g at %d", (double)m->queue[i], i);
    if (!index_below(m->queue[Q], Q + 1) || !index_below(m->queue[Q + 1], Q))
        return afs_fail(err, n, "amdrl: the delta-Q queue's count %g or position %g is out of "
                        "range (a queue of %d)", (double)m->queue[Q], (double)m->queue[Q + 1], Q);
    m->q_count = (int)m->queue[Q];
    m->q_head = (int)m->queue[Q + 1];
    return 0;
}

enum { MAX_BUFS = 64 };

/* Every backend buffer of the agent, with its size (0: not needed). */
static int buffers(amdrl *m, ac_buf *s, int train)
{
    size_t f = sizeof(float), P = (size_t)m->E * m->M, N = (size_t)m->R * m->M;
    size_t T = (size_t)m->T, K = (size_t)m->K, A = (size_t)m->cp.attention_hidden;
    size_t u = train ? 1 : 0, Q = train ? (size_t)m->cp.dq_queue + 2 : 0;
    ac_buf all[] = {
        {(void **)&m->z, P * 2 * T * f},         {(void **)&m->ht, P * T * f},
        {(void **)&m->count, P * f},             {(void **)&m->xg, K * P * T * f},
        {(void **)&m->soft_e, P * 2 * f},        {(void **)&m->hard_e, P * 2 * f},
        {(void **)&m->p2, P * 2 * f},            {(void **)&m->init, P},
        {(void **)&m->chosen, P},                {(void **)&m->grp, P * K * sizeof(int16_t)},
        {(void **)&m->grp_none, P * K * sizeof(int16_t)},
        {(void **)&m->first, P * K * sizeof(int16_t)},
        {(void **)&m->firstu, u * N * K * sizeof(int16_t)},
        {(void **)&m->firstn, u * N * K * sizeof(int16_t)},
        {(void **)&m->others, u * N * f},        {(void **)&m->ingroup, u * N * f},
        {(void **)&m->qpair0, u * N * 2 * f},    {(void **)&m->flipf, P * f},
        {(void **)&m->len, P * sizeof(int32_t)}, {(void **)&m->consts, CONST_N * f},
        {(void **)&m->pz, (P > N ? P : N) * f},
        {(void **)&m->x, u * N * m->xd * f},     {(void **)&m->x_next, u * N * m->xd * f},
        {(void **)&m->onehot, u * N * 2 * f},    {(void **)&m->y, u * N * f},
        {(void **)&m->dq, u * N * f},            {(void **)&m->qpair, u * N * 2 * f},
        {(void **)&m->done, u * N * f},          {(void **)&m->soft, u * N * 2 * f},
        {(void **)&m->hard, u * N * 2 * f},      {(void **)&m->dhard, u * N * 2 * f},
        {(void **)&m->dlogits, u * N * 2 * f},   {(void **)&m->w_agent, u * N * f},
        {(void **)&m->td_row, u * m->R * f},     {(void **)&m->zeros, u * m->R * f},
        {(void **)&m->zu, u * N * 2 * T * f},    {(void **)&m->htu, u * N * T * f},
        {(void **)&m->countu, u * N * f},        {(void **)&m->xgu, u * K * N * T * f},
        {(void **)&m->dyc, u * K * N * T * f},   {(void **)&m->dxg, u * K * N * T * f},
        {(void **)&m->dz, u * N * 2 * T * f},    {(void **)&m->dh, u * N * T * f},
        {(void **)&m->dht, u * N * T * f},       {(void **)&m->probs, u * N * 4 * f},
        {(void **)&m->dv, u * N * f},            {(void **)&m->dqi, u * N * f},
        {(void **)&m->ones2, u * 2 * f},         {(void **)&m->h_init, u * N * T * f},
        {(void **)&m->labels, u * N * f},        {(void **)&m->ps, u * N * f},
        {(void **)&m->dps, u * N * f},           {(void **)&m->dp, u * N * f},
        {(void **)&m->datt, u * N * A * f},      {(void **)&m->a_next, u * N},
        {(void **)&m->init_rows, u * N * sizeof(int32_t)},
        {(void **)&m->dq_saved, Q * f},
    };
    _Static_assert(sizeof all / sizeof all[0] <= MAX_BUFS, "room for every buffer");
    memcpy(s, all, sizeof all);
    return (int)(sizeof all / sizeof all[0]);
}


static void destroy(afs_agent *a)
{
    amdrl *m = impl_of(a);
    afs_backend *b = a->b;
    for (int i = 0; i < N_MLP; i++)
        afs_mlp_free(&m->mlp[i], b);
    for (int i = 0; i < N_LSTM; i++)
        afs_lstm_net_free(&m->lstm[i], b);
    afs_replay_free(&m->replay, b);
    ac_buf s[MAX_BUFS];
    ac_bufs_release(b, s, buffers(m, s, 1));
    if (m->unit)
        b->release(b, m->unit);
    void *host[] = {m->len_host, m->ones_host, m->grp_host, m->first_host, m->first_of,
                    m->act_host, m->others_host, m->ingroup_host, m->p_host, m->ranked,
                    m->lenu_host,
                    m->lenn_host,
                    m->init_host,
                    m->dq_host, m->queue};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++)
        free(host[i]);
}

/* The groups that acted in the slot just played (backend memory, rows of
 * K), or NULL when nobody communicated. */
static const int16_t *acted_groups(afs_agent *a, int *K)
{
    amdrl *m = impl_of(a);
    *K = m->K;
    return m->play.any ? m->grp : NULL;
}

static const afs_agent_ops ops = {.act = act, .store = store, .update = update, .stats = stats,
                                  .checkpoint = checkpoint, .updates = updates,
                                  .set_updates = set_updates, .destroy = destroy,
                                  .groups = acted_groups};

/* The layer sizes of the networks: actor part 1 (s1, l1 layers), part 2
 * (s2, l2), the critic (sc, lc); 0, or -1 with err. */
static int net_sizes(const amdrl *m, int *s1, int *l1, int *s2, int *l2, int *sc, int *lc,
                     char *err, size_t n)
{
    *l1 = ac_sizes(m->hp.actor_hidden, AFS_OBS_DIM, m->T, s1, "amdrl.actor_hidden", err, n);
    *l2 = ac_sizes(m->cp.part2_hidden, 2 * m->T, 2, s2, "amdrl.part2_hidden", err, n);
    *lc = ac_sizes(m->hp.critic_hidden, m->xd, 1, sc, "amdrl.critic_hidden", err, n);
    return *l1 < 0 || *l2 < 0 || *lc < 0 ? -1 : 0;
}

/* The LSTMs: the channel, the attention unit's cell, the channel's target. */
static void lstm_sizes(const amdrl *m, int *S, int *H, int *dirs)
{
    const int s[N_LSTM] = {m->K, 1, m->K};
    const int h[N_LSTM] = {m->cp.channel_hidden, m->cp.attention_hidden, m->cp.channel_hidden};
    const int d[N_LSTM] = {2, 1, 2};
    memcpy(S, s, sizeof s);
    memcpy(H, h, sizeof h);
    memcpy(dirs, d, sizeof d);
}

/* The bytes make_nets allocates for batches of `rows` rows: the MLPs (each
 * in online and target copies but the attention unit's output layer) and
 * the LSTMs, with their gradients, Adam moments and workspaces. */
static double nets_bytes(const amdrl *m, afs_backend *b, int rows, const int *s1, int l1,
                         const int *s2, int l2, const int *sc, int lc)
{
    int sa[2] = {m->cp.attention_hidden, 1}, S[N_LSTM], H[N_LSTM], dirs[N_LSTM];
    double bytes = 2.0 * (afs_mlp_bytes(s1, l1, 1, rows) + afs_mlp_bytes(s2, l2, 1, rows) +
                          afs_mlp_bytes(sc, lc, 1, rows)) +
                   afs_mlp_bytes(sa, 1, 1, rows);
    lstm_sizes(m, S, H, dirs);
    for (int i = 0; i < N_LSTM; i++)
        bytes += afs_lstm_net_bytes(b, S[i], rows, m->T, H[i], dirs[i]);
    return bytes;
}

/* The networks; 0, or -1 with err. */
static int make_nets(amdrl *m, afs_backend *b, int rows, char *err, size_t n)
{
    int s1[AFS_MLP_MAX_LAYERS + 1], s2[AFS_MLP_MAX_LAYERS + 1], sc[AFS_MLP_MAX_LAYERS + 1];
    int sa[2] = {m->cp.attention_hidden, 1}, l1, l2, lc;
    if (net_sizes(m, s1, &l1, s2, &l2, sc, &lc, err, n))
        return -1;
    double bytes = nets_bytes(m, b, rows, s1, l1, s2, l2, sc, lc);
    static const char *names[N_MLP] = {"actor_part1", "actor_part2", "critic", "attention_out",
                                       "actor_part1_target", "actor_part2_target",
                                       "critic_target"};
    const int *sizes[N_MLP] = {s1, s2, sc, sa, s1, s2, sc};
    const int layers[N_MLP] = {l1, l2, lc, 1, l1, l2, lc};
    /* the thought is a ReLU layer's output; the attention unit's a logit z
     * (p = sigmoid z, taken where needed) */
    const int out_act[N_MLP] = {AFS_ACT_RELU, AFS_ACT_NONE, AFS_ACT_NONE, AFS_ACT_NONE,
                                AFS_ACT_RELU, AFS_ACT_NONE, AFS_ACT_NONE};
    const uint32_t stream[N_MLP] = {0, 1, 2, 3, 0, 1, 2};
    for (int i = 0; i < N_MLP; i++) {
        if (afs_mlp_init(&m->mlp[i], b, names[i], sizes[i], layers[i], 1, AFS_ACT_RELU,
                         out_act[i], rows, m->seed, AFS_STREAM_INIT + stream[i]))
            return afs_fail(err, n, "amdrl: out of %s memory for the networks: %.1f MiB "
                            "(weights, gradients, Adam moments and workspaces for %d rows): "
                            "lower amdrl.batch, run.envs or the hidden sizes", b->name,
                            bytes / (1024.0 * 1024.0), rows);
        afs_mlp_shape(&m->mlp[i], m->shapes[i], sizeof m->shapes[i]);
    }
    static const char *lnames[N_LSTM] = {"channel", "attention_cell", "channel_target"};
    int S[N_LSTM], H[N_LSTM], dirs[N_LSTM];
    lstm_sizes(m, S, H, dirs);
    const uint32_t lstream[N_LSTM] = {4, 5, 4};
    for (int i = 0; i < N_LSTM; i++) {
        if (afs_lstm_net_init(&m->lstm[i], b, lnames[i], S[i], rows, m->T, H[i], dirs[i],
                              m->seed, AFS_STREAM_INIT + lstream[i]))
            return afs_fail(err, n, "amdrl: out of %s memory for the %s LSTM (%d sequences of "
                            "%d steps; the networks take %.1f MiB in all)", b->name, lnames[i],
                            rows, S[i], bytes / (1024.0 * 1024.0));
        afs_lstm_net_shape(&m->lstm[i], m->shapes[N_MLP + i], sizeof m->shapes[N_MLP + i]);
    }
    afs_params_copy(&m->mlp[NET_PART1_T].p, &m->mlp[NET_PART1].p, b);
    afs_params_copy(&m->mlp[NET_PART2_T].p, &m->mlp[NET_PART2].p, b);
    afs_params_copy(&m->mlp[NET_CRITIC_T].p, &m->mlp[NET_CRITIC].p, b);
    afs_params_copy(&m->lstm[LSTM_CHANNEL_T].p, &m->lstm[LSTM_CHANNEL].p, b);
    return 0;
}

/* Host scratch and the backend's constants; 0, or -1 when out of memory. */
static int make_host(amdrl *m, afs_backend *b, int train)
{
    size_t P = (size_t)m->E * m->M, N = (size_t)m->R * m->M, K = (size_t)m->K;
    size_t rows = P > N ? P : N;
    m->len_host = calloc(P, sizeof(int));
    m->ones_host = malloc(rows * sizeof(int));
    m->grp_host = malloc(rows * K * sizeof(int16_t));
    m->first_host = malloc(rows * K * sizeof(int16_t));
    m->first_of = malloc(rows * sizeof *m->first_of);
    m->act_host = malloc(rows);
    m->others_host = malloc(rows * sizeof(float));
    m->ingroup_host = malloc(rows * sizeof(float));
    m->p_host = malloc(rows * sizeof(float));
    m->ranked = malloc(rows * sizeof *m->ranked);
    m->play = (groups){m->grp, m->first, m->len_host, 0};
    int16_t *none = malloc(P * K * sizeof(int16_t));
    int ok = m->len_host && m->ones_host && m->grp_host && m->first_host && m->first_of &&
             m->act_host && m->others_host && m->ingroup_host && m->p_host && m->ranked &&
             none;
    if (ok) {
        for (size_t i = 0; i < rows; i++)
            m->ones_host[i] = 1;
        for (size_t i = 0; i < P * K; i++)
            none[i] = -1;
        b->to_backend(b, m->grp_none, none, P * K * sizeof(int16_t));
        b->to_backend(b, m->grp, none, P * K * sizeof(int16_t));
        float q = m->cp.random_rate;
        const float consts[CONST_N] = {m->cp.threshold, 1.0f, 0.0f,
                                       q > 0.0f && q < 1.0f ? logf(q / (1.0f - q)) : 0.0f};
        b->to_backend(b, m->consts, consts, sizeof consts);
    }
    free(none);
    if (!ok || !train)
        return ok ? 0 : -1;
    m->lenu_host = malloc(N * sizeof(int));
    m->lenn_host = malloc(N * sizeof(int));
    m->init_host = malloc(N * sizeof(int));
    m->dq_host = malloc(2 * N * sizeof(float));
    m->queue = calloc((size_t)m->cp.dq_queue + 2, sizeof(float));
    m->unit = ac_unit_actions(b);
    if (!m->lenu_host || !m->lenn_host || !m->init_host || !m->dq_host || !m->queue || !m->unit)
        return -1;
    b->fill(b, 2, 1.0f, m->ones2);
    b->fill(b, (size_t)m->R, 0.0f, m->zeros);
    return 0;
}

int afs_amdrl_label_rule(const char *labels)
{
    return !strcmp(labels, "sign")       ? AFS_LABELS_SIGN
           : !strcmp(labels, "anchored") ? AFS_LABELS_ANCHORED
           : !strcmp(labels, "minmax")   ? AFS_LABELS_MINMAX
                                         : -1;
}

/* enum of amdrl.comm's value (COMM_ATTENTION ...), or -1. */
static int comm_mode(const char *comm)
{
    return !strcmp(comm, "attention") ? COMM_ATTENTION
           : !strcmp(comm, "always")  ? COMM_ALWAYS
           : !strcmp(comm, "never")   ? COMM_NEVER
           : !strcmp(comm, "random")  ? COMM_RANDOM
                                      : -1;
}

/* A group's entries: its initiator and at most group_m collaborators. */
static int group_entries(const afs_config *cfg) { return cfg->comm.group_m + 1; }

/* The joint rows of a batch: amdrl.batch counts agent rows, rounded up to
 * whole joint rows of M. */
static int batch_rows(const afs_config *cfg)
{
    return (cfg->amdrl.batch + cfg->env.agents - 1) / cfg->env.agents;
}

/* The replay: joint rows (an environment's M records of a slot) with the
 * groups that acted. */
static int plan(const afs_config *cfg, int envs, afs_replay_info *info, char *err, size_t n)
{
    int M = cfg->env.agents;
    return ac_replay_slots(cfg, "amdrl", &cfg->amdrl, envs * M, M, group_entries(cfg),
                           batch_rows(cfg), info, err, n);
}

/* What the configuration sets in an agent for `envs` environments. */
static void configure(amdrl *m, const afs_config *cfg, int envs)
{
    m->hp = cfg->amdrl;
    m->cp = cfg->comm;
    m->tp = cfg->train;
    m->seed = cfg->run.seed;
    m->E = envs;
    m->M = cfg->env.agents;
    m->L = cfg->env.slots;
    m->T = cfg->comm.thought;
    m->xd = AFS_OBS_DIM + m->T + 2 + 2;
    m->group_critic = !strcmp(cfg->comm.critic, "group");
    m->label_rule = afs_amdrl_label_rule(cfg->comm.labels);
    m->sample_init = !strcmp(cfg->comm.init_rule, "sample");
    m->sample_eval = !strcmp(cfg->comm.eval_init, "sample");
    m->K = group_entries(cfg);
    m->R = batch_rows(cfg);
    m->comm = comm_mode(cfg->comm.comm);
}

static int network_bytes(afs_backend *b, const afs_config *cfg, int envs, double *bytes,
                         char *err, size_t n)
{
    amdrl *m = calloc(1, sizeof *m);
    if (!m)
        return afs_fail(err, n, "out of host memory");
    configure(m, cfg, envs);
    int s1[AFS_MLP_MAX_LAYERS + 1], s2[AFS_MLP_MAX_LAYERS + 1], sc[AFS_MLP_MAX_LAYERS + 1];
    int l1, l2, lc, P = m->E * m->M, N = m->R * m->M;
    int rc = net_sizes(m, s1, &l1, s2, &l2, sc, &lc, err, n);
    if (!rc) {
        ac_buf s[MAX_BUFS];
        int k = buffers(m, s, 1); /* sizes only: nothing is allocated */
        *bytes = nets_bytes(m, b, P > N ? P : N, s1, l1, s2, l2, sc, lc);
        for (int i = 0; i < k; i++)
            *bytes += (double)s[i].bytes;
    }
    free(m);
    return rc;
}

static afs_agent *create(afs_backend *b, const afs_config *cfg, int envs, int train, char *err,
                         size_t n)
{
    afs_agent *a = afs_agent_new(&ops, "amdrl", 1, b, sizeof(amdrl),
                                 (size_t)envs * cfg->env.agents, err, n);
    if (!a)
        return NULL;
    amdrl *m = a->impl;
    configure(m, cfg, envs);
    m->training = train;
    int P = m->E * m->M, N = m->R * m->M, rows = P > N ? P : N;
    int ok = m->comm >= 0 ||
             !afs_fail(err, n, "amdrl.comm = '%s': attention, always, never or random", cfg->comm.comm);
    ok = ok && make_nets(m, b, rows, err, n) == 0;
    ac_buf s[MAX_BUFS];
    double bytes = ok ? ac_bufs_alloc(b, s, buffers(m, s, train), &ok) : 0.0;
    if (!ok && !err[0])
        afs_fail(err, n, "amdrl: out of %s memory for its buffers (%.1f MiB)", b->name,
                 bytes / (1024.0 * 1024.0));
    ok = ok && (make_host(m, b, train) == 0 || !afs_fail(err, n, "amdrl: out of memory"));
    if (ok && train) {
        int slots = plan(cfg, envs, &a->replay, err, n);
        ok = slots > 0;
        if (ok && afs_replay_init(&m->replay, b, slots, P, m->M,
                                  !strcmp(m->hp.replay, "prioritized"), m->hp.per_alpha,
                                  m->hp.per_eps, m->R, m->K))
            ok = !afs_fail(err, n, "amdrl: out of %s memory for a replay of %d slots", b->name,
                           slots);
    }
    if (!ok) {
        if (!err[0])
            afs_fail(err, n, "amdrl: out of %s memory", b->name);
        afs_agent_destroy(a);
        return NULL;
    }
    return a;
}

const afs_learner afs_amdrl = {
    "amdrl", "AM-DRL (the paper's): ENs the attention unit picks share thoughts in groups "
    "through an LSTM channel",
    offsetof(afs_config, amdrl), create, plan, network_bytes,
};

/* ---- What the tests reach (amdrl_internal.h) ---- */

static int fits(const amdrl *m, int rows) { return m->training && rows >= 1 && rows <= m->R * m->M; }

const float *afs_amdrl_integrate(afs_agent *a, int N, const int16_t *grp, const float *h)
{
    amdrl *m = impl_of(a);
    if (!fits(m, N) || N % m->M)
        return NULL;
    m->test_groups = (groups){grp, m->firstu, m->lenu_host, 0};
    load_groups(m, a->b, N, grp, &m->test_groups);
    integrate(m, a->b, &m->lstm[LSTM_CHANNEL], N, &m->test_groups, h, m->xgu, m->countu,
              m->htu);
    return m->htu;
}

void afs_amdrl_integrate_backward(afs_agent *a, int N, const int16_t *grp, const float *dht,
                                  float *dh)
{
    amdrl *m = impl_of(a);
    (void)grp; /* the groups of the last afs_amdrl_integrate */
    afs_params_zero_grad(&m->lstm[LSTM_CHANNEL].p, a->b);
    a->b->zero(a->b, dh, (size_t)N * m->T * sizeof(float));
    integrate_backward(m, a->b, N, &m->test_groups, dht, dh);
}

const float *afs_amdrl_attention_output(afs_agent *a, int k, const float *h)
{
    amdrl *m = impl_of(a);
    if (!fits(m, k))
        return NULL;
    a->b->activation_forward(a->b, AFS_ACT_SIGMOID, (size_t)k, attention_logit(m, a->b, k, h),
                             m->pz);
    return m->pz;
}

double afs_amdrl_attention_fit(afs_agent *a, int k, const float *h, const float *labels,
                               char *err, size_t n)
{
    amdrl *m = impl_of(a);
    if (!fits(m, k))
        return NAN;
    return attention_fit(m, a->b, k, h, labels, 0, err, n);
}

const float *afs_amdrl_play_attention(afs_agent *a, const afs_env *env)
{
    amdrl *m = impl_of(a);
    int N = m->E * m->M;
    a->b->env_observe(a->b, env, a->obs);
    const float *h = afs_mlp_forward(&m->mlp[NET_PART1], a->b, N, a->obs);
    a->b->activation_forward(a->b, AFS_ACT_SIGMOID, (size_t)N, attention_logit(m, a->b, N, h),
                             m->pz);
    return m->pz;
}

afs_params *afs_amdrl_params(afs_agent *a, const char *name)
{
    amdrl *m = impl_of(a);
    for (int i = 0; i < N_MLP; i++)
        if (!strcmp(m->mlp[i].p.name, name))
            return &m->mlp[i].p;
    for (int i = 0; i < N_LSTM; i++)
        if (!strcmp(m->lstm[i].p.name, name))
            return &m->lstm[i].p;
    return NULL;
}

long afs_amdrl_formations(afs_agent *a) { return impl_of(a)->formations; }
