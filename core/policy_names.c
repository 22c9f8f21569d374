#include "policy_names.h"

#include <stdio.h>
#include <string.h>

#include "kernels/common/env_math.h"

static const char *const names[AFS_POLICY_N] = {
    [AFS_POLICY_RANDOM] = "random",
    [AFS_POLICY_GREEDY] = "greedy",
    [AFS_POLICY_ALL_LOCAL] = "all_local",
    [AFS_POLICY_ALL_CLOUD] = "all_cloud",
    [AFS_POLICY_BEST_RESPONSE] = "best_response",
    [AFS_POLICY_DEADLINE] = "deadline",
};

int afs_policy_from_name(const char *name)
{
    for (int i = 0; i < AFS_POLICY_N; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

const char *afs_policy_name(int policy)
{
    return policy >= 0 && policy < AFS_POLICY_N ? names[policy] : "?";
}

const char *afs_policy_names(char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < AFS_POLICY_N && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", names[i]);
    return buf;
}
