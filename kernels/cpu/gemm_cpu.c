#include "gemm_cpu.h"

#ifdef AFS_HAVE_CBLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_in_parallel(void) { return 0; }
#endif

void afs_gemm_reference(int ta, int tb, int m, int n, int k, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++) {
                float a = ta ? A[(long)p * lda + i] : A[(long)i * lda + p];
                float b = tb ? B[(long)j * ldb + p] : B[(long)p * ldb + j];
                s += a * b;
            }
            float *c = &C[(long)i * ldc + j];
            *c = beta == 0.0f ? s : s + beta * *c;
        }
}

/* OpenBLAS's threads only for large products: for small ones (the
 * actor-critic layers of a batch, 1e7 flops) their start and barrier cost
 * more than they save, and between the environment's OpenMP loops they
 * compete with OpenMP's waiting threads for the cores (measured: ES-DRL
 * training at E = 64 twice as fast with one BLAS thread). The choice
 * depends on the sizes alone; OpenBLAS splits rows and columns among its
 * threads, never the sum over k, so results do not depend on it. */
#define AFS_GEMM_THREADED_FLOPS 1.0e8

void afs_gemm_threads_for(double flops)
{
#ifdef AFS_HAVE_CBLAS
    static int most; /* OpenBLAS's own thread count, read once */
    if (!most)
        most = openblas_get_num_threads();
    int want = flops >= AFS_GEMM_THREADED_FLOPS ? most : 1;
    if (openblas_get_num_threads() != want)
        openblas_set_num_threads(want);
#else
    (void)flops;
#endif
}

void afs_gemm(int ta, int tb, int m, int n, int k, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) { /* C = beta C; BLAS wants leading dimensions of at least 1 */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                C[(long)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(long)i * ldc + j];
        return;
    }
#ifdef AFS_HAVE_CBLAS
    if (!omp_in_parallel())
        afs_gemm_threads_for(2.0 * m * n * k);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                m, n, k, 1.0f, A, lda, B, ldb, beta, C, ldc);
#else
    afs_gemm_reference(ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
#endif
}

int afs_gemm_is_blas(void)
{
#ifdef AFS_HAVE_CBLAS
    return 1;
#else
    return 0;
#endif
}
