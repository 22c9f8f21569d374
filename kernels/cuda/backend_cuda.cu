/* CUDA backend entry points. The device operation table arrives with issue 3
 * (environment) and issue 4 (networks); this build already links the CUDA
 * runtime and reports whether a device is usable, so that `--backend auto`
 * and `--backend cuda` give a true answer today. */
#include <stdio.h>

#include "../backend.h"
#include "cuda_check.h"

extern "C" int afs_cuda_built(void) { return 1; }

extern "C" afs_backend *afs_backend_cuda_create(char *err, size_t err_len)
{
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess) {
        snprintf(err, err_len, "no CUDA device (%s)", cudaGetErrorString(rc));
        return NULL;
    }
    if (count == 0) {
        snprintf(err, err_len, "no CUDA device");
        return NULL;
    }
    snprintf(err, err_len,
             "%d CUDA device(s) found, but this version's CUDA backend has no "
             "environment operations yet (they come with the CUDA environment work)",
             count);
    return NULL;
}
