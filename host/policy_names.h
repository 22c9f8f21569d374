/* Names of the heuristic policies (enum afs_policy in kernels/common). */
#ifndef AFS_POLICY_NAMES_H
#define AFS_POLICY_NAMES_H

#define AFS_POLICY_NAMES "random, greedy, all_local, all_cloud, best_response, deadline"

#ifdef __cplusplus
extern "C" {
#endif

/* The policy's enum value, or -1 for an unknown name. */
int afs_policy_from_name(const char *name);
const char *afs_policy_name(int policy);

#ifdef __cplusplus
}
#endif

#endif
