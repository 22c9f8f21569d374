/* The memory check of afsim run and afsim train: what a run will allocate,
 * printed, and refused with a clear message when it does not fit. */
#ifndef AFS_MEMORY_H
#define AFS_MEMORY_H

#include <stddef.h>
#include "kernels/backend.h"

/* Bytes on the backend and on the host (the CPU backend's memory is host
 * memory: both count there), with what they are for ("state 12.0 MiB,
 * replay 512.0 MiB"), checked against 90% of what the backend can give and
 * 80% of the machine's memory. 0, or -1 with err naming the sizes and hint
 * (what to lower). */
int afs_memory_check(afs_backend *b, double on_backend, double on_host, const char *detail,
                     const char *hint, int verbose, char *err, size_t n);

double afs_mib(double bytes);

#endif
