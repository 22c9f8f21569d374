#include "env.h"
#include "common/env_math.h"

#include <math.h>
#include <string.h>

#define AFS_ALIGN 256 /* every array starts on a 256-byte boundary */

static size_t round_up(size_t n) { return (n + AFS_ALIGN - 1) / AFS_ALIGN * AFS_ALIGN; }

/* Walks the array list once: sets the pointers when base is given, and
 * returns the total size either way. */
static size_t layout(afs_env *env, char *base)
{
    size_t E = (size_t)env->E, A = E * (size_t)env->M;
    size_t G = (size_t)env->G, NT = (size_t)env->NT;
    size_t off = 0;
#define AFS_X(type, name, count)                                   \
    if (base) env->name = (type *)(void *)(base + off);            \
    off += round_up(sizeof(type) * (size_t)(count));
    AFS_ENV_ARRAYS(AFS_X)
#undef AFS_X
    (void)A; (void)G; (void)NT;
    return off;
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
