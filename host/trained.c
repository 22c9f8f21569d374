#include "trained.h"

#include "checkpoint.h"
#include "core/fail.h"
#include "models/algos/agents.h"

afs_agent *afs_agent_from_checkpoint(const char *path, afs_backend *b, const afs_config *cfg,
                                     int envs, char *err, size_t n)
{
    /* The algorithm and its hyper-parameters (network sizes) from the
     * checkpoint; the environment from the run. */
    afs_config made;
    char algo[32];
    afs_config_defaults(&made);
    if (afs_checkpoint_config(path, algo, sizeof algo, &made, err, n))
        return NULL;
    made.env = cfg->env;
    made.run = cfg->run;
    afs_agent *a = afs_agent_create(algo, b, &made, envs, 0, err, n);
    if (!a)
        return NULL;
    if (!a->learns) {
        afs_agent_destroy(a);
        afs_fail(err, n, "%s: a checkpoint of '%s', which learns nothing", path, algo);
        return NULL;
    }
    afs_ckpt_set sets[AFS_CKPT_MAX_SETS];
    afs_checkpoint c = {.sets = sets};
    a->ops->checkpoint(a, &c, 0);
    if (afs_checkpoint_load(path, b, &c, 1, NULL, err, n)) {
        afs_agent_destroy(a);
        return NULL;
    }
    a->ops->set_updates(a, c.counters.updates, 0, err, n); /* no replay: nothing to check */
    return a;
}

