/* The CPU LSTM against a step-by-step reference written here in double
 * precision from the equations of models/lstm.h (a separate implementation:
 * it walks time in the outer loop and keeps its own state), backward against
 * central finite differences, and sequence-length masking. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"

static afs_backend *cpu;
static void open_cpu(void) { cpu = afs_backend_cpu_create(1); }
static void close_cpu(void) { cpu->destroy(cpu); }
TestSuite(lstm, .init = open_cpu, .fini = close_cpu);

enum { S = 5, B = 4, IN = 3, H = 4, D = 2 };
static const int lengths[B] = {5, 3, 1, 0};
static const afs_lstm_desc desc = {S, B, IN, H, D};

static float *random_vec(size_t n, uint32_t stream, float scale)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = afs_uniform(afs_philox(8, stream, (uint32_t)i, 0, 0, 0).v[0], -scale, scale);
    return v;
}

static double sig(double a) { return 1.0 / (1.0 + exp(-a)); }

/* Reference: out [S, B, D*H], hn/cn [D, B, H], all double. */
static void reference(const float *x, const float *p, const float *h0, const float *c0,
                      double *out, double *hn, double *cn)
{
    size_t per_dir = (size_t)4 * H * (IN + H + 2);
    memset(out, 0, sizeof(double) * S * B * D * H);
    for (int dir = 0; dir < D; dir++) {
        const float *W = p + per_dir * dir, *U = W + 4 * H * IN, *bw = U + 4 * H * H, *bu = bw + 4 * H;
        double h[B][H], c[B][H];
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) {
                h[b][j] = h0[(dir * B + b) * H + j];
                c[b][j] = c0[(dir * B + b) * H + j];
            }
        for (int step = 0; step < S; step++)
            for (int b = 0; b < B; b++) {
                if (step >= lengths[b])
                    continue;
                int t = dir == 0 ? step : lengths[b] - 1 - step;
                double a[4 * H], hn_[H];
                for (int r = 0; r < 4 * H; r++) {
                    a[r] = (double)bw[r] + bu[r];
                    for (int n = 0; n < IN; n++)
                        a[r] += (double)W[r * IN + n] * x[(t * B + b) * IN + n];
                    for (int n = 0; n < H; n++)
                        a[r] += (double)U[r * H + n] * h[b][n];
                }
                for (int j = 0; j < H; j++) {
                    double i = sig(a[j]), f = sig(a[H + j]), g = tanh(a[2 * H + j]), o = sig(a[3 * H + j]);
                    c[b][j] = f * c[b][j] + i * g;
                    hn_[j] = o * tanh(c[b][j]);
                }
                for (int j = 0; j < H; j++) {
                    h[b][j] = hn_[j];
                    out[((size_t)t * B + b) * D * H + dir * H + j] = hn_[j];
                }
            }
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) {
                hn[(dir * B + b) * H + j] = h[b][j];
                cn[(dir * B + b) * H + j] = c[b][j];
            }
    }
}

typedef struct run { float out[S * B * D * H], hn[D * B * H], cn[D * B * H]; float *work; } run;

static void forward(const float *x, const float *p, const float *h0, const float *c0, run *r)
{
    cpu->lstm_forward(cpu, &desc, lengths, x, p, h0, c0, r->out, r->hn, r->cn, r->work);
}

Test(lstm, matches_the_step_by_step_reference_with_masking)
{
    size_t np = afs_lstm_params(&desc);
    cr_assert_eq(np, (size_t)2 * 4 * H * (IN + H + 2));
    float *x = random_vec(S * B * IN, 1, 1), *p = random_vec(np, 2, 0.5f);
    float *h0 = random_vec(D * B * H, 3, 0.5f), *c0 = random_vec(D * B * H, 4, 0.5f);
    run r;
    r.work = malloc(cpu->lstm_work_bytes(cpu, &desc));
    forward(x, p, h0, c0, &r);
    static double out[S * B * D * H], hn[D * B * H], cn[D * B * H];
    reference(x, p, h0, c0, out, hn, cn);
    for (int i = 0; i < S * B * D * H; i++)
        cr_assert(fabs(r.out[i] - out[i]) < 1e-5, "h_out[%d]: %g vs %g", i, r.out[i], out[i]);
    for (int i = 0; i < D * B * H; i++) {
        cr_assert(fabs(r.hn[i] - hn[i]) < 1e-5, "h_n[%d]", i);
        cr_assert(fabs(r.cn[i] - cn[i]) < 1e-5, "c_n[%d]", i);
    }
    /* Past a sequence's end: zeros, and padded inputs change nothing. */
    for (int t = 0; t < S; t++)
        for (int b = 0; b < B; b++)
            for (int j = 0; t >= lengths[b] && j < D * H; j++)
                cr_assert_eq(r.out[(t * B + b) * D * H + j], 0.0f);
    float before[S * B * D * H];
    memcpy(before, r.out, sizeof before);
    x[(4 * B + 1) * IN] += 5.0f; /* t = 4 of sequence 1 (length 3) */
    forward(x, p, h0, c0, &r);
    cr_assert_eq(memcmp(before, r.out, sizeof before), 0);
    /* An empty sequence keeps its initial state. */
    cr_assert_eq(r.hn[3 * H], h0[3 * H]);
    free(x); free(p); free(h0); free(c0); free(r.work);
}

static double loss_of(const float *x, const float *p, const float *h0, const float *c0,
                      const float *r_out, const float *r_hn, run *r)
{
    forward(x, p, h0, c0, r);
    double s = 0;
    for (int i = 0; i < S * B * D * H; i++)
        s += (double)r_out[i] * r->out[i];
    for (int i = 0; i < D * B * H; i++)
        s += (double)r_hn[i] * r->hn[i];
    return s;
}

Test(lstm, backward_matches_finite_differences)
{
    size_t np = afs_lstm_params(&desc);
    float *x = random_vec(S * B * IN, 5, 1), *p = random_vec(np, 6, 0.5f);
    float *h0 = random_vec(D * B * H, 7, 0.5f), *c0 = random_vec(D * B * H, 8, 0.5f);
    float *r_out = random_vec(S * B * D * H, 9, 1), *r_hn = random_vec(D * B * H, 10, 1);
    run r;
    r.work = malloc(cpu->lstm_work_bytes(cpu, &desc));
    float *dp = calloc(np, sizeof(float)), dx[S * B * IN];
    forward(x, p, h0, c0, &r);
    cpu->lstm_backward(cpu, &desc, lengths, x, p, h0, c0, r.work, r.out, r_out, r_hn, dx, dp);
    const float step = 1e-2f;
    for (size_t i = 0; i < np; i++) {
        float keep = p[i];
        p[i] = keep + step;
        double up = loss_of(x, p, h0, c0, r_out, r_hn, &r);
        p[i] = keep - step;
        double down = loss_of(x, p, h0, c0, r_out, r_hn, &r);
        p[i] = keep;
        double num = (up - down) / (2 * step);
        cr_assert(fabs(dp[i] - num) <= 5e-3 * fmax(1.0, fabs(num)), "dparam %zu: %g vs %g", i, dp[i], num);
    }
    for (int i = 0; i < S * B * IN; i++) {
        float keep = x[i];
        x[i] = keep + step;
        double up = loss_of(x, p, h0, c0, r_out, r_hn, &r);
        x[i] = keep - step;
        double down = loss_of(x, p, h0, c0, r_out, r_hn, &r);
        x[i] = keep;
        double num = (up - down) / (2 * step);
        cr_assert(fabs(dx[i] - num) <= 5e-3 * fmax(1.0, fabs(num)), "dx %d: %g vs %g", i, dx[i], num);
    }
    free(x); free(p); free(h0); free(c0); free(r_out); free(r_hn); free(dp); free(r.work);
}

/* One step with carried state is the recurrent cell of the attention unit:
 * running S steps at once equals S single steps chained through h_n, c_n. */
Test(lstm, single_steps_chain_to_the_whole_sequence)
{
    const afs_lstm_desc seq = {3, 2, IN, H, 1}, one = {1, 2, IN, H, 1};
    const int len3[2] = {3, 3}, len1[2] = {1, 1};
    float *x = random_vec(3 * 2 * IN, 11, 1), *p = random_vec(afs_lstm_params(&seq), 12, 0.5f);
    float out[3 * 2 * H], hn[2 * H], cn[2 * H], step_out[2 * H], h[2 * H] = {0}, c[2 * H] = {0};
    float *work = malloc(cpu->lstm_work_bytes(cpu, &seq));
    cpu->lstm_forward(cpu, &seq, len3, x, p, NULL, NULL, out, hn, cn, work);
    for (int t = 0; t < 3; t++) {
        cpu->lstm_forward(cpu, &one, len1, x + t * 2 * IN, p, h, c, step_out, h, c, work);
        for (int i = 0; i < 2 * H; i++)
            cr_assert(fabsf(step_out[i] - out[t * 2 * H + i]) < 1e-6, "t %d i %d", t, i);
    }
    for (int i = 0; i < 2 * H; i++)
        cr_assert(fabsf(h[i] - hn[i]) < 1e-6 && fabsf(c[i] - cn[i]) < 1e-6);
    free(x); free(p); free(work);
}
