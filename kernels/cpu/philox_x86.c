/* Philox4x32-10 for a run of agents, written for AVX-512 and AVX2 with
 * intrinsics: afs_philox_lanes's words (philox_lanes.h), about twice as
 * fast. GCC vectorizes afs_philox_lanes's 32 x 32 -> 64-bit products by
 * widening every lane to 64 bits and multiplying with vpmullq; here each
 * product is two vpmuludq (the even lanes, then the odd ones moved down)
 * and two blends that gather the high and the low words, and several
 * vectors' rounds are interleaved so that one's multiplies wait while
 * another's run. The four products of the first three rounds that every
 * lane shares are made once, in scalar code (philox_shared). The
 * multiplier bounds the rest. docs/performance.md has the figures. */
#include "philox_lanes.h"

#if AFS_PHILOX_X86
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2")))
/* inlined, so that each V is its own code with the state in registers */
#define AFS_ALWAYS_INLINE static inline __attribute__((always_inline))

/* The words of the first three rounds that every lane shares. Lanes
 * differ only in the counter's agent word x1 = m, so round 1's two
 * products, round 2's of x2 and round 3's of x0 are one scalar product
 * each for the whole run: 4 of the 20, where the vector multiplier bounds
 * the rest. With P = M0 x0 of round 2 and Q = M1 x2 of round 3, the
 * rounds read
 *   after 1: x0 = a ^ m,        x1, x2, x3 shared
 *   after 2: x0, x1 shared,     x2 = hi(P) ^ g,  x3 = lo(P)
 *   after 3: x0 = hi(Q) ^ h,    x1 = lo(Q),      x2 = x3 ^ i,  x3 = j
 * and rounds 4 to 10 run in full from key {k0, k1}. */
typedef struct philox_shared { uint32_t a, g, h, i, j, k0, k1; } philox_shared;

static inline void mul_hi_lo_32(uint32_t m, uint32_t x, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)m * x;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

static philox_shared shared_rounds(uint32_t seed, uint32_t stream, uint32_t c0, uint32_t c2,
                                   uint32_t c3)
{
    philox_shared s;
    uint32_t k0 = seed, k1 = stream, hi0, lo0, hi1, lo1;
    mul_hi_lo_32(AFS_PHILOX_M0, c0, &hi0, &lo0); /* round 1 */
    mul_hi_lo_32(AFS_PHILOX_M1, c2, &hi1, &lo1);
    s.a = hi1 ^ k0;
    uint32_t x1 = lo1, x2 = hi0 ^ c3 ^ k1, x3 = lo0;
    k0 += AFS_PHILOX_W0;
    k1 += AFS_PHILOX_W1;
    mul_hi_lo_32(AFS_PHILOX_M1, x2, &hi1, &lo1); /* round 2 */
    uint32_t x0 = hi1 ^ x1 ^ k0;
    x1 = lo1;
    s.g = x3 ^ k1;
    k0 += AFS_PHILOX_W0;
    k1 += AFS_PHILOX_W1;
    mul_hi_lo_32(AFS_PHILOX_M0, x0, &hi0, &lo0); /* round 3 */
    s.h = x1 ^ k0;
    s.i = hi0 ^ k1;
    s.j = lo0;
    s.k0 = k0 + AFS_PHILOX_W0;
    s.k1 = k1 + AFS_PHILOX_W1;
    return s;
}

/* The high and the low word of x * m in every 32-bit lane (m: a 32-bit
 * multiplier in each 64-bit lane). */
AVX512 AFS_ALWAYS_INLINE void mul_hi_lo_512(__m512i x, __m512i m, __m512i *hi, __m512i *lo)
{
    __m512i even = _mm512_mul_epu32(x, m);
    __m512i odd = _mm512_mul_epu32(_mm512_shuffle_epi32(x, _MM_PERM_CDAB), m);
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_shuffle_epi32(even, _MM_PERM_CDAB), odd);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_shuffle_epi32(odd, _MM_PERM_CDAB));
}

/* Lanes 0 .. 16 V - 1, V vectors of 16 (V a constant once inlined, so that
 * the state stays in registers). */
AVX512 AFS_ALWAYS_INLINE void philox_512(int V, uint32_t seed, uint32_t stream, uint32_t c0,
                                     uint32_t m0, uint32_t c2, uint32_t c3,
                                     uint32_t out[4][AFS_LANES])
{
    const __m512i M0 = _mm512_set1_epi64(AFS_PHILOX_M0), M1 = _mm512_set1_epi64(AFS_PHILOX_M1);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    philox_shared s = shared_rounds(seed, stream, c0, c2, c3);
    __m512i x0[4], x1[4], x2[4], x3[4];
    for (int v = 0; v < V; v++) { /* rounds 1 to 3 (philox_shared) */
        __m512i m = _mm512_add_epi32(_mm512_set1_epi32((int)(m0 + 16u * (uint32_t)v)), lane);
        __m512i hi, lo;
        mul_hi_lo_512(_mm512_xor_si512(_mm512_set1_epi32((int)s.a), m), M0, &hi, &lo);
        x3[v] = lo;
        mul_hi_lo_512(_mm512_xor_si512(hi, _mm512_set1_epi32((int)s.g)), M1, &hi, &lo);
        x0[v] = _mm512_xor_si512(hi, _mm512_set1_epi32((int)s.h));
        x1[v] = lo;
        x2[v] = _mm512_xor_si512(x3[v], _mm512_set1_epi32((int)s.i));
        x3[v] = _mm512_set1_epi32((int)s.j);
    }
    uint32_t k0 = s.k0, k1 = s.k1;
    for (int r = 3; r < 10; r++) {
        __m512i K0 = _mm512_set1_epi32((int)k0), K1 = _mm512_set1_epi32((int)k1);
        for (int v = 0; v < V; v++) {
            __m512i hi0, lo0, hi1, lo1;
            mul_hi_lo_512(x0[v], M0, &hi0, &lo0);
            mul_hi_lo_512(x2[v], M1, &hi1, &lo1);
            x0[v] = _mm512_ternarylogic_epi32(hi1, x1[v], K0, 0x96); /* three-way xor */
            x1[v] = lo1;
            x2[v] = _mm512_ternarylogic_epi32(hi0, x3[v], K1, 0x96);
            x3[v] = lo0;
        }
        k0 += AFS_PHILOX_W0;
        k1 += AFS_PHILOX_W1;
    }
    for (int v = 0; v < V; v++) {
        _mm512_storeu_si512(&out[0][16 * v], x0[v]);
        _mm512_storeu_si512(&out[1][16 * v], x1[v]);
        _mm512_storeu_si512(&out[2][16 * v], x2[v]);
        _mm512_storeu_si512(&out[3][16 * v], x3[v]);
    }
}

AVX512 void afs_philox_lanes_avx512(uint32_t seed, uint32_t stream, uint32_t c0, uint32_t m0,
                                    uint32_t c2, uint32_t c3, int n,
                                    uint32_t out[4][AFS_LANES])
{
    switch ((n + 15) / 16) { /* vectors of 16 lanes */
    case 1: philox_512(1, seed, stream, c0, m0, c2, c3, out); break;
    case 2: philox_512(2, seed, stream, c0, m0, c2, c3, out); break;
    case 3: philox_512(3, seed, stream, c0, m0, c2, c3, out); break;
    default: philox_512(4, seed, stream, c0, m0, c2, c3, out); break;
    }
}

AVX2 AFS_ALWAYS_INLINE void mul_hi_lo_256(__m256i x, __m256i m, __m256i *hi, __m256i *lo)
{
    __m256i even = _mm256_mul_epu32(x, m);
    __m256i odd = _mm256_mul_epu32(_mm256_shuffle_epi32(x, 0xB1), m);
    *hi = _mm256_blend_epi32(_mm256_shuffle_epi32(even, 0xB1), odd, 0xAA);
    *lo = _mm256_blend_epi32(even, _mm256_shuffle_epi32(odd, 0xB1), 0xAA);
}

/* Lanes l0 .. l0 + 15, two vectors of 8 (AVX2's 16 registers hold no
 * more without spilling). */
AVX2 AFS_ALWAYS_INLINE void philox_256(int l0, uint32_t seed, uint32_t stream, uint32_t c0,
                                   uint32_t m0, uint32_t c2, uint32_t c3,
                                   uint32_t out[4][AFS_LANES])
{
    const __m256i M0 = _mm256_set1_epi64x(AFS_PHILOX_M0), M1 = _mm256_set1_epi64x(AFS_PHILOX_M1);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    philox_shared s = shared_rounds(seed, stream, c0, c2, c3);
    __m256i x0[2], x1[2], x2[2], x3[2];
    for (int v = 0; v < 2; v++) { /* rounds 1 to 3 (philox_shared) */
        __m256i m = _mm256_add_epi32(_mm256_set1_epi32((int)(m0 + (uint32_t)(l0 + 8 * v))), lane);
        __m256i hi, lo;
        mul_hi_lo_256(_mm256_xor_si256(_mm256_set1_epi32((int)s.a), m), M0, &hi, &lo);
        x3[v] = lo;
        mul_hi_lo_256(_mm256_xor_si256(hi, _mm256_set1_epi32((int)s.g)), M1, &hi, &lo);
        x0[v] = _mm256_xor_si256(hi, _mm256_set1_epi32((int)s.h));
        x1[v] = lo;
        x2[v] = _mm256_xor_si256(x3[v], _mm256_set1_epi32((int)s.i));
        x3[v] = _mm256_set1_epi32((int)s.j);
    }
    uint32_t k0 = s.k0, k1 = s.k1;
    for (int r = 3; r < 10; r++) {
        __m256i K0 = _mm256_set1_epi32((int)k0), K1 = _mm256_set1_epi32((int)k1);
        for (int v = 0; v < 2; v++) {
            __m256i hi0, lo0, hi1, lo1;
            mul_hi_lo_256(x0[v], M0, &hi0, &lo0);
            mul_hi_lo_256(x2[v], M1, &hi1, &lo1);
            x0[v] = _mm256_xor_si256(_mm256_xor_si256(hi1, x1[v]), K0);
            x1[v] = lo1;
            x2[v] = _mm256_xor_si256(_mm256_xor_si256(hi0, x3[v]), K1);
            x3[v] = lo0;
        }
        k0 += AFS_PHILOX_W0;
        k1 += AFS_PHILOX_W1;
    }
    for (int v = 0; v < 2; v++) {
        _mm256_storeu_si256((__m256i *)&out[0][l0 + 8 * v], x0[v]);
        _mm256_storeu_si256((__m256i *)&out[1][l0 + 8 * v], x1[v]);
        _mm256_storeu_si256((__m256i *)&out[2][l0 + 8 * v], x2[v]);
        _mm256_storeu_si256((__m256i *)&out[3][l0 + 8 * v], x3[v]);
    }
}

AVX2 void afs_philox_lanes_avx2(uint32_t seed, uint32_t stream, uint32_t c0, uint32_t m0,
                                uint32_t c2, uint32_t c3, int n, uint32_t out[4][AFS_LANES])
{
    for (int l0 = 0; l0 < n; l0 += 16)
        philox_256(l0, seed, stream, c0, m0, c2, c3, out);
}
#endif

void afs_cpu_philox_lanes(uint32_t seed, uint32_t stream, uint32_t c0, uint32_t m0,
                          uint32_t c2, uint32_t c3, int n, uint32_t out[4][AFS_LANES])
{
#if AFS_PHILOX_X86
    if (__builtin_cpu_supports("avx512f")) {
        afs_philox_lanes_avx512(seed, stream, c0, m0, c2, c3, n, out);
        return;
    }
    if (__builtin_cpu_supports("avx2")) {
        afs_philox_lanes_avx2(seed, stream, c0, m0, c2, c3, n, out);
        return;
    }
#endif
    afs_philox_lanes(seed, stream, c0, m0, c2, c3, n, out);
}
