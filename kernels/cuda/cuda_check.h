/* One checked-call macro for the CUDA runtime: a failing call prints the
 * expression, file, line and CUDA's own error string, then stops the program. */
#ifndef AFS_CUDA_CHECK_H
#define AFS_CUDA_CHECK_H

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CUDA_CHECK(expr)                                                       \
    do {                                                                       \
        cudaError_t afs_rc_ = (expr);                                          \
        if (afs_rc_ != cudaSuccess) {                                          \
            fprintf(stderr, "afsim: CUDA error %s at %s:%d: %s\n",             \
                    cudaGetErrorString(afs_rc_), __FILE__, __LINE__, #expr);   \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#endif
