/* One checked-call macro per CUDA library: a failing call prints the
 * expression, file, line and the library's own error string, then stops the
 * program. Failures a user can cause (no device, out of memory) are checked
 * where they can happen and reported with a hint instead. */
#ifndef AFS_CUDA_CHECK_H
#define AFS_CUDA_CHECK_H

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CUDA_CHECK(expr)                                                       \
    do {                                                                       \
        cudaError_t afs_rc_ = (expr);                                          \
        if (afs_rc_ != cudaSuccess) {                                          \
            fprintf(stderr, "afsim: CUDA error at %s:%d: %s: %s\n", __FILE__,  \
                    __LINE__, #expr, cudaGetErrorString(afs_rc_));             \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* After every kernel launch: a bad launch configuration is reported at once;
 * debug builds also wait for the kernel, so that a fault names its launch. */
#ifdef NDEBUG
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
#else
#define CUDA_CHECK_LAUNCH()                                                    \
    do {                                                                       \
        CUDA_CHECK(cudaGetLastError());                                        \
        CUDA_CHECK(cudaDeviceSynchronize());                                   \
    } while (0)
#endif

#endif
