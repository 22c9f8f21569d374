#include "trace.h"

#include <stdlib.h>
#include <string.h>

#include "../kernels/common/env_math.h"
#include "../kernels/common/groups_math.h"

int afs_tracer_init(afs_tracer *t, const afs_env *env)
{
    memset(t, 0, sizeof *t);
    t->host_blob = malloc(env->blob_bytes);
    if (!t->host_blob)
        return -1;
    /* The same layout at another base: shift every pointer of the view. */
    t->view = *env;
    ptrdiff_t shift = (char *)t->host_blob - (char *)env->blob;
#define AFS_X(type, name, count) t->view.name = (type *)(void *)((char *)env->name + shift);
    AFS_ENV_ARRAYS(AFS_X)
#undef AFS_X
    t->view.blob = t->host_blob;
    return 0;
}

void afs_tracer_free(afs_tracer *t)
{
    free(t->host_blob);
    free(t->recs);
    free(t->grp);
    free(t->group_of);
    memset(t, 0, sizeof *t);
}

static int reserve(afs_tracer *t, size_t more)
{
    if (t->count + more <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->count + more)
        cap *= 2;
    afs_trace_rec *r = realloc(t->recs, cap * sizeof *r);
    if (!r)
        return -1;
    t->recs = r;
    t->cap = cap;
    return 0;
}

static void fill(afs_trace_rec *r, const afs_env *v, const int32_t *group_of, int e, int m)
{
    size_t i = (size_t)e * v->M + m;
    size_t eg = (size_t)e * v->G + v->ap[i];
    uint32_t fl = v->flags[i];
    int local = (fl & AFS_F_LOCAL) != 0;
    memset(r, 0, sizeof *r);
    r->episode = (int32_t)v->episode;
    r->env = e;
    r->slot = v->slot - 1; /* the slot just stepped */
    r->en = m;
    r->z = v->z[i]; r->k = v->k[i]; r->deadline = v->dl[i]; r->c = v->c[i];
    r->type = v->type[i];
    r->memory_mb = afs_memory_mb(v->type[i], &v->p);
    r->f_m = v->f[i]; r->f_c = v->f_c[e];
    r->w_before = v->w_before[i];
    r->ap = v->ap[i]; r->n_g = v->n_ap[eg];
    r->h = v->h_own[i]; r->i_g = v->i_ap[eg];
    r->r_tr = local ? 0.0f : afs_rate(v->p.b_tr, v->n_ap[eg], v->p.p_tx * v->h_own[i],
                                     v->noise_w + v->i_ap[eg]);
    r->r_re = v->r_re[i];
    r->warm = (fl & AFS_F_WARM) != 0;
    r->action = (int8_t)local;
    r->success = (fl & AFS_F_SUCCESS) != 0;
    r->dropped = (fl & AFS_F_DROPPED) != 0;
    r->reason = r->dropped ? AFS_QUEUE_FULL : (fl & AFS_F_LATE) ? AFS_DEADLINE_MISSED : AFS_OK;
    r->d_up = v->d_up[i]; r->d_start = v->d_start[i]; r->d_wait = v->d_wait[i];
    r->d_exec = v->d_exec[i]; r->d_tr = v->d_tr[i]; r->d_re = v->d_re[i];
    r->d_idle = v->d_idle[i];
    r->latency = v->latency[i]; r->cost = v->cost[i]; r->reward = v->reward[i];
    r->x = v->pos_x[i]; r->y = v->pos_y[i];
    r->group = group_of ? group_of[i] : -1;
}

/* A host copy of the groups, and each EN's first one; 0, or -1 when out
 * of memory. */
static int load_groups(afs_tracer *t, afs_backend *b, const afs_env *env, const int16_t *grp,
                       int K)
{
    size_t N = (size_t)env->E * env->M;
    if (t->grp_cap < N * (size_t)K) {
        int16_t *g = realloc(t->grp, N * (size_t)K * sizeof *g);
        int32_t *o = g ? realloc(t->group_of, N * sizeof *o) : NULL;
        if (g)
            t->grp = g;
        if (!o)
            return -1;
        t->group_of = o;
        t->grp_cap = N * (size_t)K;
    }
    b->to_host(b, t->grp, grp, N * (size_t)K * sizeof *t->grp);
    /* each EN's first group's initiator, as an EN of its environment */
    afs_group_first_rows(t->grp, (int)N, env->M, K, t->group_of);
    for (size_t i = 0; i < N; i++)
        t->group_of[i] = t->group_of[i] < 0 ? -1 : t->group_of[i] % env->M;
    return 0;
}

int afs_tracer_collect(afs_tracer *t, afs_backend *b, const afs_env *env, const int16_t *grp,
                       int K)
{
    afs_env *v = &t->view;
    b->to_host(b, v->blob, env->blob, env->blob_bytes);
    v->episode = env->episode;
    v->slot = env->slot;
    if (reserve(t, (size_t)env->E * env->M) || (grp && K > 0 && load_groups(t, b, env, grp, K)))
        return -1;
    const int32_t *group_of = grp && K > 0 ? t->group_of : NULL;
    for (int e = 0; e < v->E; e++)
        for (int m = 0; m < v->M; m++)
            if (v->flags[(size_t)e * v->M + m] & AFS_F_HAS)
                fill(&t->recs[t->count++], v, group_of, e, m);
    return 0;
}
