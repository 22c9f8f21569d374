#include "gemm_cpu.h"

#ifdef AFS_HAVE_CBLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_in_parallel(void) { return 0; }
static int omp_get_thread_num(void) { return 0; }
static int omp_get_num_threads(void) { return 1; }
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

void afs_gemm_single_threaded(void)
{
#ifdef AFS_HAVE_CBLAS
    openblas_set_num_threads(1);
#endif
}

/* One product in the calling thread. */
static void gemm_one(int ta, int tb, int m, int n, int k, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc)
{
#ifdef AFS_HAVE_CBLAS
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                m, n, k, 1.0f, A, lda, B, ldb, beta, C, ldc);
#else
    afs_gemm_reference(ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
#endif
}

/* A product is split among threads in runs of ROW_ALIGN rows of C
 * (OpenBLAS's row blocking on AVX-512), and only where every thread's part
 * has more than SMALL_MNK multiply-adds. Below that a fork and join (a few
 * microseconds) costs more than the part saves; and OpenBLAS (0.3.x, on
 * AVX-512) multiplies products of up to 1e6 multiply-adds with its
 * small-matrix kernels, which sum over k in another order: a part moved
 * there would make the bits depend on the thread count. Split this way,
 * every element is the same dot product as without the split
 * (tests/test_nn.c, gemm_split_between_threads). */
#define ROW_ALIGN 16
#define SMALL_MNK 1.0e6

/* Rows [r0, r1) of part t of T. */
static void part_rows(int m, int T, int t, int *r0, int *r1)
{
    int blocks = (m + ROW_ALIGN - 1) / ROW_ALIGN;
    *r0 = ROW_ALIGN * (int)((long)blocks * t / T);
    *r1 = ROW_ALIGN * (int)((long)blocks * (t + 1) / T);
    *r0 = *r0 < m ? *r0 : m;
    *r1 = *r1 < m ? *r1 : m;
}

/* The most threads, up to `threads`, whose every part is large enough. */
static int split_threads(int threads, int m, int n, int k)
{
    for (int T = threads; T > 1; T--) {
        int smallest = m;
        for (int t = 0; t < T; t++) {
            int r0, r1;
            part_rows(m, T, t, &r0, &r1);
            smallest = r1 - r0 < smallest ? r1 - r0 : smallest;
        }
        if ((double)smallest * n * k > SMALL_MNK)
            return T;
    }
    return 1;
}

void afs_gemm(int threads, int ta, int tb, int m, int n, int k, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) { /* C = beta C; BLAS wants leading dimensions of at least 1 */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                C[(long)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(long)i * ldc + j];
        return;
    }
    int T = omp_in_parallel() ? 1 : split_threads(threads, m, n, k);
    if (T < 2) {
        gemm_one(ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    #pragma omp parallel num_threads(T)
    {
        int r0, r1;
        part_rows(m, omp_get_num_threads(), omp_get_thread_num(), &r0, &r1);
        if (r1 > r0) /* A's rows are its columns when it is transposed */
            gemm_one(ta, tb, r1 - r0, n, k, ta ? A + r0 : A + (long)r0 * lda, lda, B, ldb, beta,
                     C + (long)r0 * ldc, ldc);
    }
}

int afs_gemm_is_blas(void)
{
#ifdef AFS_HAVE_CBLAS
    return 1;
#else
    return 0;
#endif
}
