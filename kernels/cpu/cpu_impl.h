/* The CPU backend's private state, shared by its files: the thread count
 * and the scratch buffers that operations reuse from call to call (the
 * LSTM's packed sequences and gradients), so that a gradient step
 * allocates nothing: a fresh calloc of megabytes per call cost a page
 * fault per 4 KiB page, about a fifth of AM-DRL's LSTM time. */
#ifndef AFS_CPU_IMPL_H
#define AFS_CPU_IMPL_H

#include <stddef.h>
#include "../backend.h"

enum { AFS_CPU_SCRATCH_N = 6 };

typedef struct cpu_impl {
    int threads;
    void *scratch[AFS_CPU_SCRATCH_N];
    size_t scratch_bytes[AFS_CPU_SCRATCH_N];
} cpu_impl;

static inline int afs_cpu_threads(const afs_backend *b)
{
    return ((const cpu_impl *)b->impl)->threads;
}

/* Scratch buffer `slot` (< AFS_CPU_SCRATCH_N) of at least `bytes`, its
 * contents unspecified, valid until the next call for the same slot. Exits
 * with a message when the host is out of memory, as the CPU backend's other
 * allocations during a run do (afsim checks its memory before it starts). */
void *afs_cpu_scratch(afs_backend *b, int slot, size_t bytes);
/* Frees every scratch buffer (the backend's destroy). */
void afs_cpu_scratch_free(afs_backend *b);

#endif
