/* Linked instead of kernels/cuda when the project is built without CUDA. */
#include <stdio.h>

#include "../backend.h"
#include "../cuda/lstm_cuda.h"

int afs_cuda_built(void) { return 0; }

afs_backend *afs_backend_cuda_create(char *err, size_t err_len)
{
    snprintf(err, err_len, "this build has no CUDA backend (configure with nvcc on PATH)");
    return NULL;
}

/* The tests' probe of the cuDNN plan cache, so that they link; never called
 * (without a CUDA backend those tests skip). */
unsigned long long afs_lstm_cuda_plan_builds(afs_backend *b)
{
    (void)b;
    return 0;
}
