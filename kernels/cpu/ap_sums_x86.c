/* The per-AP sums over a run of offloaders in vector registers
 * (ap_sums_x86.h). An offloader's lanes beyond G are not loaded and its
 * own AP's lane is multiplied to +0.0f, as the plain loop's select adds. */
#include "ap_sums_x86.h"

#if AFS_AP_SUMS_X86
#include <immintrin.h>

__attribute__((target("avx512f"))) void
afs_add_offloaders_avx512(const float *gain, const int32_t *ap, const int *idx, int count,
                          int G, float rp, int32_t *n, float *interf)
{
    __mmask16 in_g = (__mmask16)((1u << G) - 1u);
    __m512 sums = _mm512_maskz_loadu_ps(in_g, interf), rpv = _mm512_set1_ps(rp);
    for (int k = 0; k < count; k++) {
        int m = idx[k], own = ap[m];
        __m512 row = _mm512_maskz_loadu_ps(in_g, gain + (size_t)m * G);
        __mmask16 others = (__mmask16)(in_g & ~(1u << own));
        sums = _mm512_add_ps(sums, _mm512_maskz_mul_ps(others, rpv, row));
        n[own]++;
    }
    _mm512_mask_storeu_ps(interf, in_g, sums);
}

/* The lanes of APs g0 .. g0 + 7 below G, but own, as all-ones words. */
__attribute__((target("avx2"))) static inline __m256i lanes_256(int g0, int G, int own)
{
    __m256i g = _mm256_add_epi32(_mm256_set1_epi32(g0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i below = _mm256_cmpgt_epi32(_mm256_set1_epi32(G), g);
    return _mm256_andnot_si256(_mm256_cmpeq_epi32(g, _mm256_set1_epi32(own)), below);
}

__attribute__((target("avx2"))) void
afs_add_offloaders_avx2(const float *gain, const int32_t *ap, const int *idx, int count, int G,
                        float rp, int32_t *n, float *interf)
{
    __m256i in_lo = lanes_256(0, G, -1), in_hi = lanes_256(8, G, -1);
    __m256 lo = _mm256_maskload_ps(interf, in_lo), hi = _mm256_maskload_ps(interf + 8, in_hi);
    __m256 rpv = _mm256_set1_ps(rp);
    for (int k = 0; k < count; k++) {
        int m = idx[k], own = ap[m];
        const float *row = gain + (size_t)m * G;
        /* the lanes kept: G's and not own; the others load 0 and add +0.0f */
        __m256 row_lo = _mm256_maskload_ps(row, lanes_256(0, G, own));
        __m256 row_hi = _mm256_maskload_ps(row + 8, lanes_256(8, G, own));
        lo = _mm256_add_ps(lo, _mm256_mul_ps(rpv, row_lo));
        hi = _mm256_add_ps(hi, _mm256_mul_ps(rpv, row_hi));
        n[own]++;
    }
    _mm256_maskstore_ps(interf, in_lo, lo);
    _mm256_maskstore_ps(interf + 8, in_hi, hi);
}
#endif
