/* Names of the heuristic policies (enum afs_policy in kernels/common). */
#ifndef AFS_POLICY_NAMES_H
#define AFS_POLICY_NAMES_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The policy's enum value, or -1 for an unknown name. */
int afs_policy_from_name(const char *name);
const char *afs_policy_name(int policy);
/* Every name, in enum order, as "random, greedy, ...": the one list that
 * messages and help texts show (cut to fit n). */
const char *afs_policy_names(char *buf, size_t n);

#ifdef __cplusplus
}
#endif

#endif
