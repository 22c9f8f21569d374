#include "replay.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/groups_math.h"

#define ALIGN 256
/* Rows of a ring at most: the sum tree's L (an int, a power of two at
 * least slots x rows) and its nodes' indices (below 2 L) fit an int. */
#define MAX_ROWS (1ll << 30)

static size_t round_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

size_t afs_replay_record_bytes(int group_k)
{
    size_t bytes = sizeof(int16_t) * (size_t)(group_k > 0 ? group_k : 0);
#define AFS_X(type, name, per) bytes += sizeof(type) * (per);
    AFS_REPLAY_ARRAYS(AFS_X)
#undef AFS_X
    return bytes;
}

/* A block's records, and its rows' share of the tree (2 doubles a leaf). */
size_t afs_replay_block_bytes(int block, int row, int group_k)
{
    return (size_t)block * afs_replay_record_bytes(group_k) + (size_t)(block / row) * 2 * sizeof(double);
}

int afs_replay_slots_for(size_t budget, int block, int row, int group_k)
{
    size_t per = afs_replay_block_bytes(block, row, group_k);
    size_t slots = per ? budget / per : 0;
    size_t most = row > 0 && block >= row ? (size_t)(MAX_ROWS / (block / row)) : 0;
    slots = slots > most ? most : slots;
    /* the tree rounds its leaves up to a power of two: up to twice */
    while (slots >= 2 && slots * per + (size_t)slots * (block / row) * 2 * sizeof(double) > budget)
        slots--;
    return slots >= 2 ? (int)(slots > 1u << 30 ? 1u << 30 : slots) : 0;
}

/* Lays the ring's arrays out in one allocation (sets the pointers when base
 * is given); returns its size. */
static size_t layout(afs_replay *r, char *base)
{
    size_t off = 0, records = (size_t)r->slots * r->block;
#define AFS_X(type, name, per)                                      \
    if (base) r->name = (type *)(void *)(base + off);              \
    off += round_up(sizeof(type) * records * (per));
    AFS_REPLAY_ARRAYS(AFS_X)
#undef AFS_X
    if (base)
        r->grp = r->group_k ? (int16_t *)(void *)(base + off) : NULL;
    off += round_up(sizeof(int16_t) * records * (size_t)r->group_k);
    return off;
}

int afs_replay_init(afs_replay *r, afs_backend *b, int slots, int block, int row, int prioritized,
                    float alpha, float eps, int max_batch, int group_k)
{
    memset(r, 0, sizeof *r);
    if (slots < 2 || block < 1 || row < 1 || block % row || max_batch < 1 || group_k < 0 ||
        (long long)slots * (block / row) > MAX_ROWS)
        return -1;
    r->slots = slots;
    r->block = block;
    r->row = row;
    r->rows = block / row;
    r->prioritized = prioritized;
    r->group_k = group_k;
    r->alpha = alpha;
    r->eps = eps;
    r->max_batch = max_batch;
    r->L = 1;
    while (r->L < slots * r->rows)
        r->L *= 2;
    r->blob_bytes = layout(r, NULL);
    r->blob = b->alloc(b, r->blob_bytes);
    r->tree = b->alloc(b, 2 * (size_t)r->L * sizeof(double));
    r->max_prio = b->alloc(b, 2 * sizeof(float));
    r->row_ok = b->alloc(b, (size_t)r->rows);
    r->meta = b->alloc(b, 4 * sizeof(int64_t));
    size_t B = (size_t)max_batch, rec = (size_t)row;
    afs_batch *t = &r->batch;
    t->row = row;
    t->obs = b->alloc(b, B * rec * AFS_OBS_DIM * sizeof(float));
    t->next_obs = b->alloc(b, B * rec * AFS_OBS_DIM * sizeof(float));
    t->act = b->alloc(b, B * rec);
    t->flags = b->alloc(b, B * rec);
    t->rew = b->alloc(b, B * rec * sizeof(float));
    t->weight = prioritized ? b->alloc(b, B * sizeof(float)) : NULL;
    t->idx = b->alloc(b, B * sizeof(int32_t));
    t->grp = group_k ? b->alloc(b, B * rec * (size_t)group_k * sizeof(int16_t)) : NULL;
    t->next_grp = group_k ? b->alloc(b, B * rec * (size_t)group_k * sizeof(int16_t)) : NULL;
    r->next_idx = b->alloc(b, B * sizeof(int32_t));
    r->prob = b->alloc(b, B * sizeof(float));
    if (!r->blob || !r->tree || !r->max_prio || !r->row_ok || !r->meta || !t->obs ||
        !t->next_obs || !t->act || !t->flags || !t->rew || (prioritized && !t->weight) ||
        !t->idx || (group_k && (!t->grp || !t->next_grp)) || !r->next_idx || !r->prob) {
        afs_replay_free(r, b);
        return -1;
    }
    layout(r, r->blob);
    /* max_prio[0] = 1: the leaf of a uniform row; max_prio[1]: the largest
     * priority so far (prioritized), 1 at first. Every row may be drawn:
     * row_ok = VALID everywhere (made from max_prio[0] = 1, read with
     * stride 0). */
    b->fill(b, 2, 1.0f, r->max_prio);
    b->nonzero_flags(b, (size_t)r->rows, r->max_prio, 0, AFS_RF_VALID, 0, r->row_ok);
    return 0;
}

void afs_replay_free(afs_replay *r, afs_backend *b)
{
    void *bufs[] = {r->blob, r->tree, r->max_prio, r->row_ok, r->meta, r->batch.obs,
                    r->batch.next_obs, r->batch.act, r->batch.flags, r->batch.rew,
                    r->batch.weight, r->batch.idx, r->batch.grp, r->batch.next_grp,
                    r->next_idx, r->prob};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i])
            b->release(b, bufs[i]);
    memset(r, 0, sizeof *r);
}

/* The leaf value of a drawable row: 1 (uniform) or the largest priority. */
static const float *leaf_value(const afs_replay *r) { return r->max_prio + (r->prioritized ? 1 : 0); }

/* Block s's rows may be drawn from now on. */
static void open_rows(afs_replay *r, afs_backend *b, int s)
{
    b->sumtree_set_range(b, r->tree, r->L, s * r->rows, r->rows, r->row_ok, AFS_RF_VALID,
                         leaf_value(r));
}

void afs_replay_store(afs_replay *r, afs_backend *b, const float *obs, const uint8_t *act,
                      const float *rew, int done, const int16_t *grp)
{
    int s = r->head;
    size_t at = (size_t)s * r->block;
    if (r->group_k)
        b->copy(b, r->grp + at * r->group_k, grp,
                (size_t)r->block * r->group_k * sizeof(int16_t));
    b->copy(b, r->obs + at * AFS_OBS_DIM, obs, (size_t)r->block * AFS_OBS_DIM * sizeof(float));
    b->copy(b, r->act + at, act, (size_t)r->block);
    b->copy(b, r->rew + at, rew, (size_t)r->block * sizeof(float));
    b->nonzero_flags(b, (size_t)r->block, obs + AFS_OBS_HAS, AFS_OBS_DIM, AFS_RF_VALID,
                     done ? AFS_RF_DONE : 0, r->flags + at);
    /* The previous block's next observations are this block's. */
    if (r->pending)
        open_rows(r, b, (s + r->slots - 1) % r->slots);
    if (done) /* terminal: drawable at once */
        open_rows(r, b, s);
    else
        b->sumtree_set_range(b, r->tree, r->L, s * r->rows, r->rows, NULL, 0, NULL);
    r->pending = !done;
    r->head = (s + 1) % r->slots;
    r->blocks++;
}

long long afs_replay_records(const afs_replay *r)
{
    long long kept = r->blocks < r->slots ? r->blocks : r->slots;
    return kept * r->block;
}

long long afs_replay_rows(const afs_replay *r)
{
    long long kept = r->blocks < r->slots ? r->blocks : r->slots;
    return (kept - (r->pending ? 1 : 0)) * r->rows;
}

long long afs_replay_capacity(const afs_replay *r) { return (long long)r->slots * r->block; }

void afs_replay_sample(afs_replay *r, afs_backend *b, int B, uint32_t seed, uint32_t stream,
                       uint32_t counter, float beta)
{
    afs_batch *t = &r->batch;
    size_t rec = (size_t)r->row;
    t->B = B;
    b->sumtree_sample(b, r->tree, r->L, (size_t)B, seed, stream, counter, t->idx, r->prob);
    b->index_add_mod(b, (size_t)B, t->idx, r->rows, r->slots * r->rows, r->next_idx);
    b->gather_rows(b, (size_t)B, rec * AFS_OBS_DIM * sizeof(float), t->idx, r->obs, t->obs);
    b->gather_rows(b, (size_t)B, rec * AFS_OBS_DIM * sizeof(float), r->next_idx, r->obs,
                   t->next_obs);
    b->gather_rows(b, (size_t)B, rec, t->idx, r->act, t->act);
    b->gather_rows(b, (size_t)B, rec * sizeof(float), t->idx, r->rew, t->rew);
    b->gather_rows(b, (size_t)B, rec, t->idx, r->flags, t->flags);
    if (r->group_k) {
        size_t width = rec * (size_t)r->group_k * sizeof(int16_t);
        b->gather_rows(b, (size_t)B, width, t->idx, r->grp, t->grp);
        b->gather_rows(b, (size_t)B, width, r->next_idx, r->grp, t->next_grp);
    }
    if (r->prioritized)
        b->is_weights(b, (size_t)B, r->prob, beta, t->weight);
}

float afs_replay_beta(float beta0, double progress)
{
    double p = !(progress > 0.0) ? 0.0 : progress > 1.0 ? 1.0 : progress; /* NaN: 0 */
    return (float)(beta0 + (1.0 - beta0) * p);
}

void afs_replay_update(afs_replay *r, afs_backend *b, const float *pred, const float *target)
{
    if (!r->prioritized)
        return;
    /* r->prob is free again once the weights are made: the new priorities */
    b->td_priority(b, (size_t)r->batch.B, pred, target, r->alpha, r->eps, r->prob,
                   r->max_prio + 1);
    b->sumtree_set(b, r->tree, r->L, (size_t)r->batch.B, r->batch.idx, r->prob);
}

void afs_replay_sync_meta(afs_replay *r, afs_backend *b)
{
    int64_t meta[4] = {r->head, r->blocks, r->pending, 0};
    b->to_backend(b, r->meta, meta, sizeof meta);
}

/* -1 with the message in err (the replay layer knows no file names: the
 * caller adds the checkpoint's). host/fail.h's afs_fail does the same, but
 * models/ does not include host/ where it can avoid it (issue 24). */
static int refuse(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The bookkeeping: head is where block number `blocks` goes (the ring fills
 * from slot 0), and a pending block is one that was written. */
static int check_meta(const afs_replay *r, const int64_t *meta, char *err, size_t n)
{
    int64_t head = meta[0], blocks = meta[1], pending = meta[2];
    if (blocks < 0 || blocks > INT64_MAX / 2 || head < 0 || head >= r->slots ||
        head != blocks % r->slots || (pending != 0 && pending != 1) || (pending && !blocks) ||
        meta[3] != 0)
        return refuse(err, n, "the replay's bookkeeping is out of range (head %lld, blocks "
                      "%lld, pending %lld, %lld; a ring of %d slots)", (long long)head,
                      (long long)blocks, (long long)pending, (long long)meta[3], r->slots);
    return 0;
}

/* The largest priority and a uniform leaf's value (1); both are leaves. */
static int check_priority(const float *prio, char *err, size_t n)
{
    if (prio[0] != 1.0f || !isfinite(prio[1]) || !(prio[1] > 0.0f))
        return refuse(err, n, "the replay's priorities are damaged (%g, %g)", (double)prio[0],
                      (double)prio[1]);
    return 0;
}

/* The sum tree: finite, not negative, each node the sum of its children
 * (as every update leaves it, bit for bit), and 0 at every leaf of a row
 * that cannot be drawn (past the ring, never written, or waiting for its
 * next observations), so that a draw always lands on a stored row. */
static int check_tree(const afs_replay *r, const double *tree, int64_t blocks, int pending,
                      char *err, size_t n)
{
    long long L = r->L, kept = blocks < r->slots ? blocks : r->slots;
    long long waiting = pending ? (blocks - 1) % r->slots : -1;
    for (long long p = 1; p < 2 * L; p++)
        if (!isfinite(tree[p]) || tree[p] < 0.0 || (p < L && tree[p] != tree[2 * p] + tree[2 * p + 1]))
            return refuse(err, n, "the replay's sum tree is damaged (node %lld of %lld)", p, 2 * L);
    for (long long i = 0; i < L; i++) {
        long long s = i / r->rows;
        if (tree[L + i] != 0.0 && (s >= kept || s == waiting))
            return refuse(err, n, "the replay's sum tree gives row %lld, which cannot be drawn "
                          "(%lld blocks stored)", i, (long long)blocks);
    }
    return 0;
}

/* The groups (AM-DRL), block by block through the host. */
static int check_groups(const afs_replay *r, afs_backend *b, int16_t *host, char *err, size_t n)
{
    size_t per = (size_t)r->block * r->group_k;
    for (int s = 0; s < r->slots; s++) {
        b->to_host(b, host, r->grp + (size_t)s * per, per * sizeof(int16_t));
        long bad = afs_group_rows_check(host, r->block, r->row, r->group_k);
        if (bad >= 0)
            return refuse(err, n, "the replay's communication groups are damaged (slot %d, "
                          "record %ld: members outside its %d records)", s, bad, r->row);
    }
    return 0;
}

int afs_replay_restore_meta(afs_replay *r, afs_backend *b, char *err, size_t n)
{
    int64_t meta[4];
    float prio[2];
    b->to_host(b, meta, r->meta, sizeof meta);
    b->to_host(b, prio, r->max_prio, sizeof prio);
    if (check_meta(r, meta, err, n) || check_priority(prio, err, n))
        return -1;
    size_t tree_bytes = 2 * (size_t)r->L * sizeof(double);
    size_t grp_bytes = (size_t)r->block * r->group_k * sizeof(int16_t);
    void *host = malloc(tree_bytes > grp_bytes ? tree_bytes : grp_bytes);
    if (!host)
        return refuse(err, n, "out of host memory to check the replay (%zu bytes)", tree_bytes);
    b->to_host(b, host, r->tree, tree_bytes);
    int rc = check_tree(r, host, meta[1], (int)meta[2], err, n);
    if (!rc && r->group_k)
        rc = check_groups(r, b, host, err, n);
    free(host);
    if (rc)
        return -1;
    r->head = (int)meta[0];
    r->blocks = meta[1];
    r->pending = (int)meta[2];
    return 0;
}
