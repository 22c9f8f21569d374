/* The environment's polynomial logarithms and exponential
 * (kernels/common/fastmath.h) against double-precision libm, which is
 * exact to far below a float ulp.
 *
 * - Accuracy: the error in ulp of the float nearest the exact value, on a
 *   regular sample of every float over the ranges the model uses (a
 *   stride through the bit patterns, so every exponent and every part of
 *   the mantissa is visited), within the bounds fastmath.h states: log2
 *   and log 3.5 ulp, exp2 1.5 ulp. (A sweep of every 7th float from
 *   2^-24 to 2^40 measured 3.00, 3.24 and 1.15.)
 * - Exact values the decomposition must hit: log2 of powers of two, 2^n of
 *   integers.
 * - The model's uses: a rate and a path gain against the same formula in
 *   double, and the exponential draw against -mean ln u. */
#include <criterion/criterion.h>
#include <math.h>

#include "kernels/common/env_math.h"

/* |got - want| in units of the last place of the float nearest want. */
static double ulps(float got, double want)
{
    float w = (float)want;
    double ulp = (double)nextafterf(fabsf(w), INFINITY) - (double)fabsf(w);
    return fabs((double)got - want) / ulp;
}

/* The worst error of f against exact over floats [lo, hi), every
 * stride-th bit pattern. */
static double worst_ulps(float (*f)(float), double (*exact)(double), float lo, float hi,
                         uint32_t stride, float *where)
{
    double worst = 0.0;
    for (uint32_t u = afs_float_bits(lo); u < afs_float_bits(hi); u += stride) {
        float x = afs_bits_float(u);
        double want = exact((double)x);
        if (want == 0.0) /* log of 1: checked exactly below */
            continue;
        double e = ulps(f(x), want);
        if (e > worst) {
            worst = e;
            *where = x;
        }
    }
    return worst;
}

/* Expectation: within 3.5 ulp from the smallest uniform draw (2^-24) to a
 * signal-to-noise ratio of 2^40 (the largest the model reaches is about
 * 2^37: a node 1 m from its AP). */
Test(fastmath, log2_within_3_5_ulp)
{
    float where = 0.0f;
    double worst = worst_ulps(afs_log2f, log2, 0x1p-24f, 0x1p40f, 101, &where);
    cr_assert(worst <= 3.5, "log2: %.2f ulp at %.9g", worst, where);
    /* and densely around 1, where log2 x is small and t = (m-1)/(m+1) too */
    worst = worst_ulps(afs_log2f, log2, 0.5f, 2.0f, 7, &where);
    cr_assert(worst <= 3.5, "log2 near 1: %.2f ulp at %.9g", worst, where);
}

Test(fastmath, log_within_3_5_ulp)
{
    float where = 0.0f;
    double worst = worst_ulps(afs_logf, log, 0x1p-24f, 0x1p40f, 101, &where);
    cr_assert(worst <= 3.5, "log: %.2f ulp at %.9g", worst, where);
}

static float exp2_clamped(float y) { return afs_exp2f(y); }

Test(fastmath, exp2_within_1_5_ulp)
{
    float where = 0.0f;
    /* negative and positive arguments separately: the bit patterns of
     * negative floats run the other way */
    double worst = worst_ulps(exp2_clamped, exp2, 0x1p-30f, 127.0f, 37, &where);
    cr_assert(worst <= 1.5, "exp2: %.2f ulp at %.9g", worst, where);
    for (float y = -126.0f; y < 0.0f; y += 0.001953125f) { /* 2^-9 steps */
        double e = ulps(afs_exp2f(y), exp2((double)y));
        cr_assert(e <= 1.5, "exp2: %.2f ulp at %.9g", e, y);
    }
}

/* The networks' exponential and activations (afs_expf, afs_sigmoidf,
 * afs_tanhf) against double libm, densely (every 2^-12 from -90 to 90 and
 * a stride through the bit patterns near 0): within the bounds fastmath.h
 * states, exp 1.5 ulp (measured 1.17), sigmoid and tanh 2.5 ulp (2.00,
 * 1.99); sigmoid where its value is above 2^-20, as stated. */
static double sigmoid_exact(double x) { return 1.0 / (1.0 + exp(-x)); }

static void check_activation(float x)
{
    if (x >= -87.3f && x <= 88.0f) {
        double e = ulps(afs_expf(x), exp((double)x));
        cr_assert(e <= 1.5, "exp: %.2f ulp at %.9g", e, x);
    }
    if (sigmoid_exact(x) > 0x1p-20) {
        double e = ulps(afs_sigmoidf(x), sigmoid_exact(x));
        cr_assert(e <= 2.5, "sigmoid: %.2f ulp at %.9g", e, x);
    }
    if (x != 0.0f) {
        double e = ulps(afs_tanhf(x), tanh((double)x));
        cr_assert(e <= 2.5, "tanh: %.2f ulp at %.9g", e, x);
    }
}

Test(fastmath, exp_sigmoid_tanh_within_their_bounds)
{
    for (float x = -90.0f; x <= 90.0f; x += 0x1p-12f)
        check_activation(x);
    for (uint32_t u = afs_float_bits(0x1p-30f); u < afs_float_bits(2.0f); u += 997) {
        check_activation(afs_bits_float(u));
        check_activation(-afs_bits_float(u));
    }
}

/* Expectation: saturation where the exact value rounds to it, symmetry,
 * and NaN in, NaN out (training's non-finite checks must see it). */
Test(fastmath, activations_saturate_and_pass_nan)
{
    cr_assert_eq(afs_tanhf(10.0f), 1.0f);
    cr_assert_eq(afs_tanhf(-10.0f), -1.0f);
    cr_assert_eq(afs_tanhf(INFINITY), 1.0f);
    cr_assert_eq(afs_tanhf(0.0f), 0.0f);
    cr_assert_eq(afs_sigmoidf(100.0f), 1.0f);
    cr_assert_eq(afs_sigmoidf(0.0f), 0.5f);
    cr_assert(afs_sigmoidf(-INFINITY) >= 0.0f && afs_sigmoidf(-INFINITY) < 1e-37f);
    for (float x = 0.01f; x < 20.0f; x *= 1.37f)
        cr_assert_eq(afs_tanhf(-x), -afs_tanhf(x), "tanh is odd at %g", x);
    cr_assert(isnan(afs_expf(NAN)) && isnan(afs_sigmoidf(NAN)) && isnan(afs_tanhf(NAN)));
    cr_assert_eq(afs_expf(0.0f), 1.0f);
    cr_assert_eq(afs_expf(1000.0f), afs_expf(88.0f)); /* clamped, finite */
}

/* Expectation: the exponent split is exact, so log2 2^n = n and 2^n of an
 * integer n is exactly 2^n, and log 1 = 0. Outside [-126, 127] exp2
 * clamps. */
Test(fastmath, exact_at_powers_of_two)
{
    for (int n = -126; n <= 127; n++) {
        cr_assert_eq(afs_log2f(ldexpf(1.0f, n)), (float)n, "log2 2^%d", n);
        cr_assert_eq(afs_exp2f((float)n), ldexpf(1.0f, n), "2^%d", n);
    }
    cr_assert_eq(afs_logf(1.0f), 0.0f);
    cr_assert_eq(afs_exp2f(-1000.0f), ldexpf(1.0f, -126));
    cr_assert_eq(afs_exp2f(1000.0f), ldexpf(1.0f, 127));
    /* the clamp is fminf(fmaxf(y, -126), 127)'s, NaN included */
    cr_assert_eq(afs_exp2f(NAN), ldexpf(1.0f, -126));
    cr_assert_eq(afs_exp2f(-INFINITY), ldexpf(1.0f, -126));
    cr_assert_eq(afs_exp2f(INFINITY), ldexpf(1.0f, 127));
}

/* Expectation: a distance under 1 m counts as 1 m (fmaxf(d, 1)'s
 * semantics, NaN included): the gain at 1 m, a loss of
 * 128.1 + 37.6 log10(0.001) = 15.3 dB, 10^-1.53. */
Test(fastmath, path_gain_floors_the_distance_at_one_metre)
{
    float at_1m = afs_path_gain(1.0f);
    cr_assert_float_eq(at_1m, powf(10.0f, -1.53f), 1e-5f * powf(10.0f, -1.53f));
    cr_assert_eq(afs_path_gain(0.0f), at_1m);
    cr_assert_eq(afs_path_gain(0.25f), at_1m);
    cr_assert_eq(afs_path_gain(NAN), at_1m);
    cr_assert_lt(afs_path_gain(2.0f), at_1m);
}

/* Expectation: the model's rate (b/share) log2(1 + p h / (N + I)), path
 * gain 10^-(128.1 + 37.6 log10 d_km)/10 and exponential draw -mean ln u,
 * each within a few float roundings (1e-6 relative; the gain's exponent
 * is about -40 in log2, so its roundings weigh 40 times more: 1e-5) of
 * the same formula in double. */
Test(fastmath, model_quantities_match_double)
{
    for (float d = 1.0f; d < 500.0f; d *= 1.01f) {
        double want = pow(10.0, -(128.1 + 37.6 * log10(d / 1000.0)) / 10.0);
        double got = afs_path_gain(d);
        cr_assert(fabs(got - want) <= 1e-5 * want, "gain at %g m: %.9g vs %.9g", d, got, want);
    }
    for (float snr = 1.0f; snr < 1e11f; snr *= 1.7f) {
        double want = 5.0 / 3.0 * log2(1.0 + (double)snr);
        double got = afs_rate(5.0f, 3, snr * 1e-13f, 1e-13f);
        cr_assert(fabs(got - want) <= 1e-6 * want, "rate at snr %g: %.9g vs %.9g", snr, got,
                  want);
    }
    for (uint32_t x = 0; x < 0xFFFFFF00u; x += 0x00F0F0F1u) {
        double want = -0.1 * log((double)afs_u01(x));
        double got = afs_exponential(x, 0.1f);
        cr_assert(fabs(got - want) <= 1e-6 * want + 1e-12, "exponential of %u", x);
    }
}
