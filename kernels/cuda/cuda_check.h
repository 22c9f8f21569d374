/* One checked-call macro per CUDA library (runtime, cuBLAS, cuDNN): a
 * failing call prints the expression, file, line and the library's own error
 * string, then stops the program. Failures a user can cause (no device, out
 * of memory) are checked where they can happen and reported with a hint
 * instead. */
#ifndef AFS_CUDA_CHECK_H
#define AFS_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>

#define AFS_LIBRARY_CHECK(lib, type, ok, to_string, expr)                      \
    do {                                                                       \
        type afs_rc_ = (expr);                                                 \
        if (afs_rc_ != (ok)) {                                                 \
            fprintf(stderr, "afsim: %s error at %s:%d: %s: %s\n", lib,         \
                    __FILE__, __LINE__, #expr, to_string(afs_rc_));            \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#define CUBLAS_CHECK(expr) \
    AFS_LIBRARY_CHECK("cuBLAS", cublasStatus_t, CUBLAS_STATUS_SUCCESS, cublasGetStatusString, expr)
#define CUDNN_CHECK(expr) \
    AFS_LIBRARY_CHECK("cuDNN", cudnnStatus_t, CUDNN_STATUS_SUCCESS, cudnnGetErrorString, expr)

#define CUDA_CHECK(expr) \
    AFS_LIBRARY_CHECK("CUDA", cudaError_t, cudaSuccess, cudaGetErrorString, expr)

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
