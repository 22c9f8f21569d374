/* What the actor-critic methods share: exploration, optimizer steps that
 * refuse non-finite gradients, the statistics they report, their sizes. */
#include <math.h>
#include <stdio.h>

#include "ac.h"
#include "core/fail.h"

void ac_tally_report(ac_tally *t, afs_agent_stats *out, double replay_fill)
{
    double u = (double)t->updates;
    out->critic_loss = u > 0 ? t->critic_loss / u : NAN;
    out->actor_loss = u > 0 ? t->actor_loss / u : NAN;
    out->td_abs = u > 0 ? t->td_abs / u : NAN;
    out->updates = u;
    out->replay_fill = replay_fill;
    out->comm_floats = 0.0; /* decisions are taken apart, on local observations */
    out->init_rate = 0.0;
    out->label_mean = out->dq_positive = out->attention_auc = NAN;
    *t = (ac_tally){0};
}

float ac_epsilon(const afs_train_params *tp, double progress)
{
    double p = progress < 0 ? 0 : progress > 1 ? 1 : progress;
    return (float)(tp->epsilon + (tp->epsilon_end - tp->epsilon) * p);
}

void ac_actions(afs_backend *b, int rows, const float *logits, int explore, float tau,
                float epsilon, uint32_t seed, uint32_t counter, float *soft, float *hard,
                uint8_t *act)
{
    if (explore) {
        b->gumbel_softmax_forward(b, rows, 2, tau, epsilon, seed, AFS_STREAM_EXPLORE, counter,
                                  logits, soft, hard);
        b->argmax_rows(b, (size_t)rows, 2, hard, act);
    } else {
        b->argmax_rows(b, (size_t)rows, 2, logits, act);
    }
}

float *ac_unit_actions(afs_backend *b)
{
    static const float unit[4] = {1.0f, 0.0f, 0.0f, 1.0f};
    float *u = b->alloc(b, sizeof unit);
    if (u)
        b->to_backend(b, u, unit, sizeof unit);
    return u;
}

void ac_q_of_both_actions(afs_backend *b, afs_mlp *critic, int B, float *x, int width, int at,
                          const float *unit, float *qpair)
{
    for (int a = 0; a < 2; a++) {
        /* every row's action columns from the same two floats (stride 0) */
        b->copy_cols(b, 1, B, 2, unit + 2 * a, 0, 0, x + at, (size_t)width, 0);
        const float *q = afs_mlp_forward(critic, b, B, x);
        b->copy_cols(b, 1, B, 1, q, 1, 0, qpair + a, 2, 0);
    }
}

int ac_check_loss(double loss, const char *algo, const char *what, long update, char *err,
                  size_t n)
{
    if (isfinite(loss))
        return 0;
    return afs_fail(err, n, "%s: the %s is %g at gradient step %ld: training stops, the networks "
                    "as they were before this step", algo, what, loss, update);
}

int ac_step(afs_params *p, afs_backend *b, const afs_optim *o, const char *algo, long update,
            char *err, size_t n)
{
    double norm = afs_params_step(p, b, o, 1);
    if (isfinite(norm))
        return 0;
    return afs_fail(err, n, "%s: the gradient of the %s has norm %g at gradient step %ld: "
                    "training stops, the networks as they were before this step", algo,
                    p->name, norm, update);
}

afs_optim ac_optim(const afs_algo_params *p, int critic)
{
    return (afs_optim){critic ? p->critic_lr : p->actor_lr, 0.9f, 0.999f, 1e-8f, p->grad_clip};
}

int ac_sizes(const char *hidden, int in, int out, int *sizes, const char *what, char *err,
             size_t n)
{
    int h = afs_parse_sizes(hidden, sizes + 1, AFS_MLP_MAX_LAYERS - 1);
    if (h < 0)
        return afs_fail(err, n, "%s: hidden sizes '%s' are not a list like 64,64", what, hidden);
    sizes[0] = in;
    sizes[h + 1] = out;
    return h + 1;
}

/* A batch of more rows than the replay holds would draw the same records
 * several times in one step: refused, in the key's own unit (ES-DRL's
 * batch counts records, MADDPG's joint rows, AM-DRL's records rounded up
 * to joint rows). */
static int batch_fits(const afs_config *cfg, const char *algo, const afs_algo_params *hp, int row,
                      int batch, double capacity, char *err, size_t n)
{
    double rows = capacity / row;
    if (batch <= rows)
        return 1;
    char drawn[96], held[96];
    if (row == 1) {
        snprintf(drawn, sizeof drawn, "%d records", batch);
        snprintf(held, sizeof held, "%.0f records", capacity);
    } else {
        snprintf(drawn, sizeof drawn, "%d joint rows of %d records", batch, row);
        snprintf(held, sizeof held, "%.0f joint rows, %.0f records", rows, capacity);
    }
    afs_fail(err, n, "%s.batch = %d: %s per gradient step, more than the replay holds (%s at "
             "train.replay_mib = %g): lower %s.batch or raise train.replay_mib", algo,
             hp->batch, drawn, held,
             (double)cfg->train.replay_mib, algo);
    return 0;
}

int ac_replay_slots(const afs_config *cfg, const char *algo, const afs_algo_params *hp, int block,
                    int row, int group_k, int batch, afs_replay_info *info, char *err, size_t n)
{
    size_t budget = (size_t)((double)cfg->train.replay_mib * 1024.0 * 1024.0);
    int slots = afs_replay_slots_for(budget, block, row, group_k);
    if (!slots)
        return afs_fail(err, n, "train.replay_mib = %g MiB holds fewer than 2 slots of %d records "
                        "(%.1f MiB each): raise train.replay_mib or lower run.envs",
                        (double)cfg->train.replay_mib, block,
                        (double)afs_replay_block_bytes(block, row, group_k) / (1024.0 * 1024.0));
    info->record_bytes = (double)afs_replay_block_bytes(block, row, group_k) / block;
    info->capacity = (double)slots * block;
    if (!batch_fits(cfg, algo, hp, row, batch, info->capacity, err, n))
        return 0;
    info->slots = slots;
    info->ratio = (double)cfg->train.updates_per_slot * batch * row / block;
    return slots;
}

double ac_bufs_alloc(afs_backend *b, const ac_buf *s, int k, int *ok)
{
    double total = 0.0;
    for (int i = 0; i < k; i++)
        total += (double)s[i].bytes;
    for (int i = 0; i < k && *ok; i++)
        if (s[i].bytes)
            *ok = (*s[i].ptr = b->alloc(b, s[i].bytes)) != NULL;
    return total;
}

void ac_bufs_release(afs_backend *b, const ac_buf *s, int k)
{
    for (int i = 0; i < k; i++)
        if (*s[i].ptr)
            b->release(b, *s[i].ptr);
}

int ac_replay_blobs(afs_replay *r, afs_backend *b, afs_ckpt_blob *blobs)
{
    afs_replay_sync_meta(r, b);
    blobs[0] = (afs_ckpt_blob){"replay_ring", r->blob, r->blob_bytes};
    blobs[1] = (afs_ckpt_blob){"replay_tree", r->tree, 2 * (size_t)r->L * sizeof(double)};
    blobs[2] = (afs_ckpt_blob){"replay_priority", r->max_prio, 2 * sizeof(float)};
    blobs[3] = (afs_ckpt_blob){"replay_meta", r->meta, 4 * sizeof(int64_t)};
    return 4;
}
