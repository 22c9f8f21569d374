/* Row-major single-precision matrix product of the CPU backend:
 * C[m, n] = A'[m, k] B'[k, n] + beta C[m, n], where A' is A or its transpose
 * (ta), B' likewise (tb), and lda, ldb, ldc are row strides.
 * With OpenBLAS (AFS_HAVE_CBLAS) this is cblas_sgemm; without it, a plain
 * loop (afs_gemm_reference), for machines that have no BLAS, such as a GPU
 * node where the CPU backend only serves as the reference. */
#ifndef AFS_GEMM_CPU_H
#define AFS_GEMM_CPU_H

void afs_gemm(int ta, int tb, int m, int n, int k, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);
/* The plain loop, always built, so that a test can compare it with BLAS. */
void afs_gemm_reference(int ta, int tb, int m, int n, int k, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc);
/* Lets OpenBLAS use its threads for the products that follow when they are
 * of `flops` or more each, else one (afs_gemm does this itself outside
 * parallel regions; call it with 0 before a parallel region whose threads
 * each call afs_gemm). */
void afs_gemm_threads_for(double flops);
/* 1 when afs_gemm is OpenBLAS. */
int afs_gemm_is_blas(void);

#endif
