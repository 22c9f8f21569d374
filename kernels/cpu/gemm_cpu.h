/* Row-major single-precision matrix product of the CPU backend:
 * C[m, n] = A'[m, k] B'[k, n] + beta C[m, n], where A' is A or its transpose
 * (ta), B' likewise (tb), and lda, ldb, ldc are row strides.
 * With OpenBLAS (AFS_HAVE_CBLAS) this is cblas_sgemm; without it, a plain
 * loop (afs_gemm_reference), for machines that have no BLAS, such as a GPU
 * node where the CPU backend only serves as the reference.
 *
 * Threads: OpenMP owns the cores. OpenBLAS runs in the thread that calls it
 * (afs_gemm_single_threaded, set when the CPU backend is made), and a large
 * product is split by rows of C among `threads` OpenMP threads, each
 * multiplying its rows with one OpenBLAS call. Two pools of threads on the
 * same cores made each wait for the other: OpenBLAS's idle threads spin on
 * sched_yield for a while after every product, and so do OpenMP's after
 * every loop (docs/performance.md, "Training on the CPU"). */
#ifndef AFS_GEMM_CPU_H
#define AFS_GEMM_CPU_H

void afs_gemm(int threads, int ta, int tb, int m, int n, int k, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
/* The plain loop, always built, so that a test can compare it with BLAS. */
void afs_gemm_reference(int ta, int tb, int m, int n, int k, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc);
/* Makes OpenBLAS run every product in its caller's thread. */
void afs_gemm_single_threaded(void);
/* 1 when afs_gemm is OpenBLAS. */
int afs_gemm_is_blas(void);

#endif
