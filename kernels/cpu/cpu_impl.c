#include "cpu_impl.h"

#include <stdio.h>
#include <stdlib.h>

void *afs_cpu_scratch(afs_backend *b, int slot, size_t bytes)
{
    cpu_impl *impl = b->impl;
    if (impl->scratch_bytes[slot] < bytes) {
        free(impl->scratch[slot]);
        impl->scratch[slot] = malloc(bytes);
        impl->scratch_bytes[slot] = impl->scratch[slot] ? bytes : 0;
        if (!impl->scratch[slot]) {
            fprintf(stderr, "afsim: out of host memory for %zu bytes of CPU scratch\n", bytes);
            exit(1);
        }
    }
    return impl->scratch[slot];
}

void afs_cpu_scratch_free(afs_backend *b)
{
    cpu_impl *impl = b->impl;
    for (int i = 0; i < AFS_CPU_SCRATCH_N; i++) {
        free(impl->scratch[i]);
        impl->scratch[i] = NULL;
        impl->scratch_bytes[i] = 0;
    }
}
