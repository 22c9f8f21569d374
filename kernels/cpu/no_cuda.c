/* Linked instead of kernels/cuda when the project is built without CUDA. */
#include <stdio.h>

#include "../backend.h"

int afs_cuda_built(void) { return 0; }

afs_backend *afs_backend_cuda_create(char *err, size_t err_len)
{
    snprintf(err, err_len, "this build has no CUDA backend (configure with nvcc on PATH)");
    return NULL;
}
