/* The environment's logarithms and exponentials, written once for both
 * backends: plain float adds, multiplies and one division, no library call.
 *
 * Why not logf, log2f, powf: glibc's and CUDA's differ in the last bits, so
 * the backends' rates and exponential draws differed by a few ulp, and a
 * loop that calls a library function is not vectorized on the CPU. These
 * give the same float on every backend and every CPU (the build keeps FP
 * contraction off on both) and vectorize.
 *
 * Accuracy against the exact value, measured over every float the model
 * can pass (tests/test_fastmath.c checks it on a sample): afs_log2f and
 * afs_logf within 3.5 ulp (measured: 3.00 and 3.24), afs_exp2f within 1.5
 * ulp (1.15; glibc's log2f: 0.75). Domain: afs_log2f and afs_logf take positive
 * normal floats (the model's arguments are 1 + SNR >= 1, distances of at
 * least 1 m, and uniforms of at least 2^-24); afs_exp2f clamps its argument
 * to [-126, 127], where the result is a normal float. */
#ifndef AFS_FASTMATH_H
#define AFS_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "afs_hd.h"

AFS_HDI uint32_t afs_float_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

AFS_HDI float afs_bits_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#define AFS_SQRT_HALF_BITS 0x3f3504f3u /* bits of sqrt(1/2) as a float */

/* log2 x for a positive normal x. Writes x = 2^e m with m in
 * [sqrt(1/2), sqrt(2)), then log2 m = (2 / ln 2) atanh t, t = (m-1)/(m+1),
 * |t| <= 0.172, by its series t + t^3/3 + ... + t^9/9 (the next term is
 * below 2^-29 of the result). */
AFS_HDI float afs_log2f(float x)
{
    uint32_t u = afs_float_bits(x);
    uint32_t off = u - AFS_SQRT_HALF_BITS;
    /* e: the top 9 bits of off as a signed number, without relying on a
     * signed right shift */
    int32_t e = (int32_t)((off >> 23) ^ 0x100u) - 0x100;
    float m = afs_bits_float(u - ((uint32_t)e << 23));
    float t = (m - 1.0f) / (m + 1.0f); /* m - 1 is exact */
    float t2 = t * t;
    /* 2 / ((2k + 1) ln 2), k = 0 .. 4 */
    float poly = 2.88539008f + t2 * (0.961796694f + t2 * (0.577078016f +
                 t2 * (0.412198583f + t2 * 0.320598898f)));
    return (float)e + t * poly;
}

/* Natural logarithm of a positive normal x. */
AFS_HDI float afs_logf(float x)
{
    return afs_log2f(x) * 0.693147182f; /* ln 2 */
}

/* 2^y, y clamped to [-126, 127]: y = n + f with n an integer and |f| <=
 * 1/2, 2^f = e^(f ln 2) by its Taylor series to f^7 (the next term is
 * below 2^-27), times 2^n built in the exponent bits. */
AFS_HDI float afs_exp2f(float y)
{
    /* fminf(fmaxf(y, -126), 127) to the bit (NaN gives -126), in a form
     * the CPU vectorizes */
    y = y > -126.0f ? y : -126.0f;
    y = y < 127.0f ? y : 127.0f;
    float n = floorf(y + 0.5f);
    float f = y - n; /* exact */
    /* (ln 2)^k / k!, k = 1 .. 7 */
    float p = 1.0f + f * (0.693147181f + f * (0.240226507f + f * (0.0555041087f +
              f * (0.00961812911f + f * (0.00133335581f + f * (1.54035304e-4f +
              f * 1.52527338e-5f))))));
    return p * afs_bits_float((uint32_t)((int32_t)n + 127) << 23);
}

/* e^x, x clamped to [-87.3, 88] (the result a normal float): x = n ln 2 +
 * r with n an integer and |r| <= ln 2 / 2, r exact by ln 2 split in two
 * (Cody and Waite: the high part has 16 bits, so n times it is exact for
 * |n| < 2^8), e^r by its Taylor series to r^7 (the next term is below
 * 2^-27), times 2^n built in the exponent bits. Within 1.5 ulp; NaN
 * gives NaN. */
AFS_HDI float afs_expf(float x)
{
    float y = x > -87.3f ? x : -87.3f; /* NaN computes as -87.3, returns NaN */
    y = y < 88.0f ? y : 88.0f;
    float n = floorf(y * 1.44269504f + 0.5f);
    float r = y - n * 0.693145752f; /* ln 2, high part: exact */
    r = r - n * 1.42860682e-6f;     /* ln 2, low part */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f +
              r * (0.00833333377f + r * (0.00138888892f + r * 1.98412701e-4f))))));
    float e = p * afs_bits_float((uint32_t)((int32_t)n + 127) << 23);
    return x == x ? e : x;
}

/* The networks' activations (kernels/common/nn_math.h, and the CPU LSTM's
 * gates), from afs_expf: the same bits on both backends, and loops over
 * them vectorize on the CPU, where glibc's expf and tanhf are calls.
 * sigmoid(x) = 1 / (1 + e^-x): within 2.5 ulp where the result is above
 * 2^-20 (x > -13.9; measured 2.00), e^-x's own error below that. */
AFS_HDI float afs_sigmoidf(float x)
{
    return 1.0f / (1.0f + afs_expf(-x));
}

/* tanh x: for |x| < 1/2 its odd Taylor series to x^15 (the next term is
 * below 2^-27 of the result), else sign(x) (1 - 2 / (1 + e^2|x|)); within
 * 2.5 ulp (measured 1.99), and exactly +-1 from |x| = 9.1 on. */
AFS_HDI float afs_tanhf(float x)
{
    float a = fabsf(x);
    float x2 = x * x;
    float small = x * (1.0f + x2 * (-0.333333343f + x2 * (0.133333340f + x2 * (-0.0539682545f +
                  x2 * (0.0218694881f + x2 * (-0.00886323960f + x2 * (0.00359212653f +
                  x2 * -0.00145583438f)))))));
    float big = 1.0f - 2.0f / (1.0f + afs_expf(2.0f * a));
    big = x < 0.0f ? -big : big;
    return a < 0.5f ? small : big;
}

#define AFS_LOG2_10 3.32192809f  /* log2 10 */
#define AFS_LOG10_2 0.301029996f /* log10 2 */

#endif
