/* What every agent has, made and freed in one place: the agent, its
 * implementation's memory and the slot's buffers the loop fills. */
#include "agent.h"

#include <stdlib.h>

#include "core/fail.h"
#include "kernels/common/env_math.h"

afs_agent *afs_agent_new(const afs_agent_ops *ops, const char *name, int learns, afs_backend *b,
                         size_t impl_bytes, size_t rows, char *err, size_t n)
{
    afs_agent *a = calloc(1, sizeof *a);
    void *impl = calloc(1, impl_bytes);
    if (!a || !impl) {
        free(a);
        free(impl);
        afs_fail(err, n, "%s: out of host memory", name);
        return NULL;
    }
    *a = (afs_agent){.ops = ops, .name = name, .learns = learns, .b = b, .impl = impl};
    a->obs = b->alloc(b, rows * AFS_OBS_DIM * sizeof(float));
    a->act = b->alloc(b, rows);
    if (!a->obs || !a->act) {
        afs_fail(err, n, "%s: out of %s memory for the observations of %zu ENs", name, b->name,
                 rows);
        afs_agent_destroy(a);
        return NULL;
    }
    err[0] = 0;
    return a;
}

void afs_agent_destroy(afs_agent *a)
{
    if (!a)
        return;
    a->ops->destroy(a);
    if (a->obs)
        a->b->release(a->b, a->obs);
    if (a->act)
        a->b->release(a->b, a->act);
    free(a->impl);
    free(a);
}
