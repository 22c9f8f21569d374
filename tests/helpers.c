#include "helpers.h"

#define _DEFAULT_SOURCE /* rmdir, unlink */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

afs_env_params test_params(int agents)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    cfg.env.agents = agents;
    cfg.env.idle_prob = 0.0f;
    return cfg.env;
}

void test_env_open(afs_env *env, afs_backend **b, const afs_env_params *p, int envs,
                   uint32_t seed)
{
    *b = afs_backend_cpu_create(1);
    cr_assert_not_null(*b);
    cr_assert_eq(afs_env_init(env, *b, p, envs, seed), 0);
    afs_env_begin_episode(env, *b, 0);
}

void test_env_close(afs_env *env, afs_backend *b)
{
    afs_env_free(env, b);
    b->destroy(b);
}

void test_give(afs_env *env, size_t i, float z, float k, float deadline, float c, int type)
{
    env->flags[i] = AFS_F_HAS;
    env->z[i] = z;
    env->k[i] = k;
    env->dl[i] = deadline;
    env->c[i] = c;
    env->type[i] = type;
    env->d_idle[i] = 0.0f;
}

void test_take(afs_env *env, size_t i)
{
    env->flags[i] = 0;
    env->z[i] = env->k[i] = env->dl[i] = env->c[i] = env->d_idle[i] = 0.0f;
    env->type[i] = 0;
}

void test_step(afs_env *env, afs_backend *b, const uint8_t *actions)
{
    b->env_step(b, env, actions);
}

uint64_t test_state_hash(const afs_env *env)
{
    const unsigned char *s = env->blob;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < env->blob_bytes; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void test_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        char path[1024];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path))
            rmdir(path);
    }
    closedir(d);
    rmdir(dir);
}
