/* The CPU slot's table work in vector registers (slot_x86.h). */
#include "slot_x86.h"
#include "../common/env_state.h"

#if AFS_SLOT_X86
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

/* The first `left` of 16 lanes (all 16 when left >= 16). */
AVX512 static inline __mmask16 first_lanes(int left)
{
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

/* Agents a .. a + 15 as a vector of their rows' first entries, a NT. */
AVX512 static inline __m512i rows_of(int a, int NT)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return _mm512_mullo_epi32(_mm512_add_epi32(_mm512_set1_epi32(a), lane), _mm512_set1_epi32(NT));
}

/* An offloader's lanes beyond G are not loaded, and its own AP's lane is
 * multiplied to +0.0f, as the plain loop's select adds. */
AVX512 void afs_add_offloaders_avx512(const float *gain, const int32_t *ap, const int *idx,
                                      int count, int G, float rp, int32_t *n, float *interf)
{
    __mmask16 in_g = first_lanes(G);
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

AVX512 void afs_look_up_avx512(afs_lookup_in in, int32_t *n_of, float *i_of, int32_t *last_use)
{
    __m512i n_table = _mm512_maskz_loadu_epi32(first_lanes(in.G), in.n_ap);
    __m512 i_table = _mm512_maskz_loadu_ps(first_lanes(in.G), in.i_ap);
    __m512i cloud_table = _mm512_maskz_loadu_epi32(first_lanes(in.NT), in.last_cloud);
    for (int l = 0; l < in.n; l += 16) {
        __mmask16 live = first_lanes(in.n - l);
        __m512i g = _mm512_maskz_loadu_epi32(live, in.ap + l);
        __m512i t = _mm512_maskz_loadu_epi32(live, in.type + l);
        __m512i local = _mm512_maskz_loadu_epi32(live, in.local + l);
        _mm512_mask_storeu_epi32(n_of + l, live, _mm512_permutexvar_epi32(g, n_table));
        _mm512_mask_storeu_ps(i_of + l, live, _mm512_permutexvar_ps(g, i_table));
        /* the cloud's last use, replaced by the EN's where the agent chose
         * its EN */
        __m512i at = _mm512_add_epi32(rows_of(in.m0 + l, in.NT), t);
        __mmask16 at_edge = _mm512_mask_test_epi32_mask(live, local, local);
        __m512i last = _mm512_mask_i32gather_epi32(_mm512_permutexvar_epi32(t, cloud_table),
                                                   at_edge, at, in.last_edge, 4);
        _mm512_mask_storeu_epi32(last_use + l, live, last);
    }
}

AVX512 int afs_list_set_avx512(const int32_t *flag, int n, int first, int *idx)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int count = 0;
    for (int l = 0; l < n; l += 16) {
        __m512i f = _mm512_maskz_loadu_epi32(first_lanes(n - l), flag + l);
        __mmask16 set = _mm512_test_epi32_mask(f, f);
        __m512i at = _mm512_add_epi32(_mm512_set1_epi32(first + l), lane);
        /* a compress into a register and a whole store: Zen 4 runs a
         * compressing store to memory as microcode */
        _mm512_storeu_si512(idx + count, _mm512_maskz_compress_epi32(set, at));
        count += __builtin_popcount(set);
    }
    return count;
}

/* The float bits of x, the sign dropped, shifted up by one: an order of
 * magnitudes. */
AVX512 static inline __m512i magnitudes(__m512 x)
{
    return _mm512_slli_epi32(_mm512_castps_si512(x), 1);
}

/* acc + the 16 floats of x, as doubles, in two vectors of 8. */
AVX512 static inline void add_as_doubles(__m512d acc[2], __m512 x)
{
    __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
    acc[0] = _mm512_add_pd(acc[0], _mm512_cvtps_pd(_mm512_castps512_ps256(x)));
    acc[1] = _mm512_add_pd(acc[1], _mm512_cvtps_pd(high));
}

AVX512 afs_unordered_sums afs_sum_unordered_avx512(const uint32_t *flags, const float *latency,
                                                   const float *cost, const float *reward, int M)
{
    __m512d lat[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()}, cst[2] = {lat[0], lat[0]},
            rwd[2] = {lat[0], lat[0]};
    __m512i least = _mm512_set1_epi32(-1), most = _mm512_setzero_si512();
    const __m512i one = _mm512_set1_epi32(1);
    for (int m = 0; m < M; m += 16) {
        __mmask16 live = first_lanes(M - m);
        __m512i fl = _mm512_maskz_loadu_epi32(live, flags + m);
        /* afs_counted_latency: of a function that ran (arrived, not dropped) */
        __mmask16 ran = _mm512_test_epi32_mask(fl, _mm512_set1_epi32((int)AFS_F_HAS)) &
                        _mm512_testn_epi32_mask(fl, _mm512_set1_epi32((int)AFS_F_DROPPED));
        __m512 terms[3] = {_mm512_maskz_loadu_ps(live & ran, latency + m),
                           _mm512_maskz_loadu_ps(live, cost + m),
                           _mm512_maskz_loadu_ps(live, reward + m)};
        for (int q = 0; q < 3; q++) {
            __m512i mag = magnitudes(terms[q]);
            most = _mm512_max_epu32(most, mag);
            least = _mm512_min_epu32(least, _mm512_sub_epi32(mag, one));
        }
        add_as_doubles(lat, terms[0]);
        add_as_doubles(cst, terms[1]);
        add_as_doubles(rwd, terms[2]);
    }
    afs_unordered_sums s;
    s.latency = _mm512_reduce_add_pd(_mm512_add_pd(lat[0], lat[1]));
    s.cost = _mm512_reduce_add_pd(_mm512_add_pd(cst[0], cst[1]));
    s.reward = _mm512_reduce_add_pd(_mm512_add_pd(rwd[0], rwd[1]));
    s.least = (uint32_t)_mm512_reduce_min_epu32(least);
    s.most = (uint32_t)_mm512_reduce_max_epu32(most);
    return s;
}

AVX512 void afs_mark_edge_avx512(const uint32_t *flags, const int32_t *type, int M, int NT,
                                 int32_t slot, int32_t *last_edge)
{
    const __m512i outcome_bits = _mm512_set1_epi32((int)(AFS_F_LOCAL | AFS_F_DROPPED));
    for (int m = 0; m < M; m += 16) {
        __mmask16 live = first_lanes(M - m);
        __m512i fl = _mm512_maskz_loadu_epi32(live, flags + m);
        __m512i t = _mm512_maskz_loadu_epi32(live, type + m);
        __mmask16 admitted = _mm512_mask_cmpeq_epi32_mask(
            live, _mm512_and_si512(fl, outcome_bits), _mm512_set1_epi32((int)AFS_F_LOCAL));
        __m512i at = _mm512_add_epi32(rows_of(m, NT), t);
        _mm512_mask_i32scatter_epi32(last_edge, admitted, at, _mm512_set1_epi32(slot), 4);
    }
}
#endif
