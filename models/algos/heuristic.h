/* The heuristic policies as agents (heuristic.c): what afs_agent_create
 * makes for a policy name (core/policy_names.h). Internal to models/algos. */
#ifndef AFS_HEURISTIC_H
#define AFS_HEURISTIC_H

#include "agent.h"

/* The agent of heuristic `policy` (enum afs_policy), named `name`, for
 * `envs` environments of `agents` ENs; NULL with err when out of memory. */
afs_agent *afs_heuristic_create(int policy, const char *name, afs_backend *b, int envs,
                                int agents, char *err, size_t n);

#endif
