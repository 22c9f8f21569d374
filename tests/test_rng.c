/* The counter-based generator (kernels/common/rng.h): Philox4x32-10 against
 * Random123's published known-answer vectors, and the derived draws against
 * their distributions at fixed seeds. Statistical bounds are 5 standard
 * errors (or a stated chi-square / Kolmogorov quantile): deterministic at a
 * fixed seed, and loose enough that any seed would pass with probability
 * above 1 - 1e-6. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/common/rng.h"

#define N 1000000

/* Random123's kat_vectors (the distribution's examples/kat_vectors, lines
 * "philox4x32 10 CTR[4] KEY[2] EXPECTED[4]"). afs_philox takes the key as
 * (seed, stream) = (key word 0, key word 1). */
Test(rng, philox4x32_10_known_answers)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int v = 0; v < 3; v++) {
        const uint32_t *k = kat[v];
        afs_block b = afs_philox(k[4], k[5], k[0], k[1], k[2], k[3]);
        for (int w = 0; w < 4; w++)
            cr_assert_eq(b.v[w], k[6 + w], "vector %d word %d: %08x, want %08x", v, w,
                         b.v[w], k[6 + w]);
    }
}

Test(rng, u01_is_open_exact_and_symmetric)
{
    cr_assert_eq(afs_u01(0), 0x1p-24f);
    cr_assert_eq(afs_u01(0xffffffffu), 1.0f - 0x1p-24f);
    for (uint32_t i = 0; i < 100000; i++) {
        uint32_t x = i * 2654435761u;
        float u = afs_u01(x);
        cr_assert(u > 0.0f && u < 1.0f);
        double scaled = (double)u * 16777216.0; /* an odd integer */
        cr_assert_eq(fmod(scaled, 2.0), 1.0, "u01(%08x) * 2^24 = %g", x, scaled);
        cr_assert_eq(u + afs_u01(~x), 1.0f, "u01(x) + u01(~x) must be exactly 1");
    }
}

/* Word w of counter c under one key: the words the tests draw from. */
static uint32_t word(uint32_t stream, uint32_t c, int w)
{
    return afs_philox(2024, stream, c, 0, 0, 0).v[w];
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

Test(rng, uniform_mean_variance_and_ks)
{
    /* U[2, 5]: mean 3.5, variance 9/12 = 0.75. The standard error of the
     * mean is sqrt(0.75 / n); of the variance, sqrt((mu4 - sigma^4) / n) with
     * mu4 = 9^2 / 80 = 1.0125 for a uniform of width 3. */
    float *u = malloc(N * sizeof *u);
    double sum = 0, sum2 = 0;
    for (uint32_t i = 0; i < N; i++) {
        u[i] = afs_uniform(word(7, i / 4, (int)(i % 4)), 2.0f, 5.0f);
        cr_assert(u[i] > 2.0f && u[i] < 5.0f);
        sum += u[i];
    }
    double mean = sum / N;
    for (int i = 0; i < N; i++)
        sum2 += (u[i] - mean) * (u[i] - mean);
    double var = sum2 / (N - 1);
    cr_assert(fabs(mean - 3.5) < 5 * sqrt(0.75 / N), "mean %g", mean);
    cr_assert(fabs(var - 0.75) < 5 * sqrt((1.0125 - 0.5625) / N), "variance %g", var);
    /* Kolmogorov-Smirnov against the uniform CDF: D < 1.95 / sqrt(n) is the
     * 0.001 critical value. */
    qsort(u, N, sizeof *u, cmp_float);
    double d = 0;
    for (int i = 0; i < N; i++) {
        double cdf = (u[i] - 2.0) / 3.0;
        d = fmax(d, fmax(fabs(cdf - (double)i / N), fabs((double)(i + 1) / N - cdf)));
    }
    cr_assert(d < 1.95 / sqrt(N), "KS statistic %g", d);
    free(u);
}

/* Chi-square of afs_int_below(x, n) against uniform; limits are the 0.9999
 * quantiles for n - 1 degrees of freedom (7: 29.88, 5: 25.74). */
static void int_below_uniform(uint32_t n, double limit)
{
    long count[8] = {0};
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v = afs_int_below(word(8, i / 4, (int)(i % 4)), n);
        cr_assert(v < n);
        count[v]++;
    }
    double chi2 = 0, expect = (double)N / n;
    for (uint32_t v = 0; v < n; v++)
        chi2 += (count[v] - expect) * (count[v] - expect) / expect;
    cr_assert(chi2 < limit, "n = %u: chi2 = %g", n, chi2);
}

Test(rng, int_below_is_uniform)
{
    int_below_uniform(8, 29.88);
    int_below_uniform(6, 25.74);
    /* Multiply-shift by hand: the top bits pick the bucket. */
    cr_assert_eq(afs_int_below(0x00000000u, 8), 0);
    cr_assert_eq(afs_int_below(0x20000000u, 8), 1);
    cr_assert_eq(afs_int_below(0xffffffffu, 8), 7);
    cr_assert_eq(afs_int_below(0x80000000u, 6), 3);
}

Test(rng, exponential_mean_and_variance)
{
    /* Exp(mean 0.1): mean 0.1, variance 0.01; the variance of the sample
     * variance is (mu4 - sigma^4) / n = (9 - 1) * 1e-4 / n. */
    double sum = 0, sum2 = 0;
    for (uint32_t i = 0; i < N; i++) {
        double x = afs_exponential(word(9, i / 4, (int)(i % 4)), 0.1f);
        cr_assert(x > 0 && isfinite(x));
        sum += x;
        sum2 += x * x;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    cr_assert(fabs(mean - 0.1) < 5 * sqrt(0.01 / N), "mean %g", mean);
    cr_assert(fabs(var - 0.01) < 5 * sqrt(8e-4 / N), "variance %g", var);
}

Test(rng, bernoulli_frequency)
{
    long ones = 0;
    for (uint32_t i = 0; i < N; i++)
        ones += afs_bernoulli(word(10, i / 4, (int)(i % 4)), 0.3f);
    double p = (double)ones / N;
    cr_assert(fabs(p - 0.3) < 5 * sqrt(0.3 * 0.7 / N), "frequency %g", p);
    cr_assert_eq(afs_bernoulli(0, 0.0f), 0, "p = 0 never fires");
    cr_assert_eq(afs_bernoulli(0xffffffffu, 1.0f), 1, "p = 1 always fires");
}

Test(rng, every_key_and_counter_word_matters)
{
    afs_block base = afs_philox(1, 2, 3, 4, 5, 6);
    afs_block other[6] = {
        afs_philox(9, 2, 3, 4, 5, 6), afs_philox(1, 9, 3, 4, 5, 6),
        afs_philox(1, 2, 9, 4, 5, 6), afs_philox(1, 2, 3, 9, 5, 6),
        afs_philox(1, 2, 3, 4, 9, 6), afs_philox(1, 2, 3, 4, 5, 9),
    };
    for (int k = 0; k < 6; k++)
        for (int w = 0; w < 4; w++)
            cr_assert_neq(base.v[w], other[k].v[w], "changing argument %d left word %d", k, w);
    /* A pure function: the same counter gives the same block whatever was
     * drawn in between. */
    afs_block again = afs_philox(1, 2, 3, 4, 5, 6);
    for (int w = 0; w < 4; w++)
        cr_assert_eq(base.v[w], again.v[w]);
}

Test(rng, streams_are_uncorrelated)
{
    /* Pearson correlation of uniforms from two streams at the same counters:
     * its standard error is 1 / sqrt(n). */
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (uint32_t i = 0; i < N; i++) {
        double x = afs_u01(word(AFS_STREAM_SLOT, i, 0));
        double y = afs_u01(word(AFS_STREAM_POLICY, i, 0));
        sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
    }
    double cov = sxy / N - sx / N * sy / N;
    double r = cov / sqrt((sxx / N - sx / N * sx / N) * (syy / N - sy / N * sy / N));
    cr_assert(fabs(r) < 5 / sqrt(N), "correlation %g", r);
}
