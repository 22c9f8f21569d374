#include "env.h"
#include "common/env_math.h"

#include <math.h>
#include <string.h>

#define AFS_ALIGN 256 /* every array starts on a 256-byte boundary */
#define AFS_PAGE 4096 /* the stride at which addresses share L1 cache sets */

static size_t round_up(size_t n) { return (n + AFS_ALIGN - 1) / AFS_ALIGN * AFS_ALIGN; }

/* The offset, at or after off, of array j: on a 256-byte boundary whose
 * place within a 4 KiB page is j's own "colour" (j mod 16).
 *
 * Why: a slot streams through some 30 arrays at once, element i of each.
 * Packed end to end, arrays whose sizes are multiples of 4 KiB (E * M * 4
 * bytes is one at E = 1024 or 8192, M = 150) all start at the same place in
 * a page, so element i of every array falls into the same cache sets: 30
 * streams fought over the 8 ways of an L1 set, and a thread ran 3x slower
 * per agent at E = 1024 than at E = 1000 (docs/performance.md). Colours
 * spread the streams over the sets for any E; the padding is under 4 KiB
 * an array. */
static size_t coloured(size_t off, int j)
{
    size_t want = (size_t)(j % (AFS_PAGE / AFS_ALIGN)) * AFS_ALIGN;
    size_t have = round_up(off) % AFS_PAGE;
    return round_up(off) + (want + AFS_PAGE - have) % AFS_PAGE;
}

/* Walks the array list once: sets the pointers when base is given, and
 * returns the total size either way. */
static size_t layout(afs_env *env, char *base)
{
    size_t E = (size_t)env->E, A = E * (size_t)env->M;
    size_t G = (size_t)env->G, NT = (size_t)env->NT;
    size_t off = 0;
    int j = 0;
#define AFS_X(type, name, count)                                   \
    off = coloured(off, j++);                                      \
    if (base) env->name = (type *)(void *)(base + off);            \
    off += sizeof(type) * (size_t)(count);
    AFS_ENV_ARRAYS(AFS_X)
#undef AFS_X
    (void)A; (void)G; (void)NT;
    return round_up(off);
}

static void set_dims(afs_env *env, const afs_env_params *p, int envs)
{
    memset(env, 0, sizeof *env);
    env->E = envs;
    env->M = p->agents;
    env->G = p->ap_grid * p->ap_grid;
    env->NT = p->types;
    env->p = *p;
}

size_t afs_env_bytes(const afs_env_params *p, int envs)
{
    afs_env env;
    set_dims(&env, p, envs);
    return layout(&env, NULL);
}

int afs_env_init(afs_env *env, afs_backend *b, const afs_env_params *p,
                 int envs, uint32_t seed)
{
    set_dims(env, p, envs);
    env->seed = seed;
    env->noise_w = afs_noise_w(p->noise_dbm);
    env->blob_bytes = layout(env, NULL);
    env->blob = b->alloc(b, env->blob_bytes);
    if (!env->blob)
        return -1;
    layout(env, env->blob);
    return 0;
}

void afs_env_free(afs_env *env, afs_backend *b)
{
    if (env->blob)
        b->release(b, env->blob);
    env->blob = NULL;
}

void afs_env_begin_episode(afs_env *env, afs_backend *b, uint32_t episode)
{
    env->episode = episode;
    env->slot = 0;
    b->env_reset(b, env);
}
