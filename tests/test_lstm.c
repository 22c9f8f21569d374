/* The CPU LSTM against a step-by-step reference written here in double
 * precision from the equations of kernels/common/lstm_layout.h (a separate implementation:
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

/* Reference for any shape d with lengths len: out [S, B, D*H], hn/cn
 * [D, B, H], all double; h0, c0 may be NULL (zeros). */
static void reference_of(const afs_lstm_desc *d, const int *len, const float *x, const float *p,
                         const float *h0, const float *c0, double *out, double *hn, double *cn)
{
    int S_ = d->S, B_ = d->B, IN_ = d->in, H_ = d->H, D_ = d->dirs;
    size_t per_dir = (size_t)4 * H_ * (IN_ + H_ + 2);
    memset(out, 0, sizeof(double) * S_ * B_ * D_ * H_);
    double (*h)[H_] = malloc(sizeof(double) * B_ * H_), (*c)[H_] = malloc(sizeof(double) * B_ * H_);
    double *a = malloc(sizeof(double) * 4 * H_), *hn_ = malloc(sizeof(double) * H_);
    for (int dir = 0; dir < D_; dir++) {
        const float *W = p + per_dir * dir, *U = W + 4 * H_ * IN_, *bw = U + 4 * H_ * H_;
        const float *bu = bw + 4 * H_;
        for (int b = 0; b < B_; b++)
            for (int j = 0; j < H_; j++) {
                h[b][j] = h0 ? h0[(dir * B_ + b) * H_ + j] : 0.0;
                c[b][j] = c0 ? c0[(dir * B_ + b) * H_ + j] : 0.0;
            }
        for (int step = 0; step < S_; step++)
            for (int b = 0; b < B_; b++) {
                if (step >= len[b])
                    continue;
                int t = dir == 0 ? step : len[b] - 1 - step;
                for (int r = 0; r < 4 * H_; r++) {
                    a[r] = (double)bw[r] + bu[r];
                    for (int n = 0; n < IN_; n++)
                        a[r] += (double)W[r * IN_ + n] * x[(t * B_ + b) * IN_ + n];
                    for (int n = 0; n < H_; n++)
                        a[r] += (double)U[r * H_ + n] * h[b][n];
                }
                for (int j = 0; j < H_; j++) {
                    double i = sig(a[j]), f = sig(a[H_ + j]), g = tanh(a[2 * H_ + j]);
                    double o = sig(a[3 * H_ + j]);
                    c[b][j] = f * c[b][j] + i * g;
                    hn_[j] = o * tanh(c[b][j]);
                }
                for (int j = 0; j < H_; j++) {
                    h[b][j] = hn_[j];
                    out[((size_t)t * B_ + b) * D_ * H_ + dir * H_ + j] = hn_[j];
                }
            }
        for (int b = 0; b < B_; b++)
            for (int j = 0; j < H_; j++) {
                hn[(dir * B_ + b) * H_ + j] = h[b][j];
                cn[(dir * B_ + b) * H_ + j] = c[b][j];
            }
    }
    free(h);
    free(c);
    free(a);
    free(hn_);
}

/* The fixed shape of most tests. */
static void reference(const float *x, const float *p, const float *h0, const float *c0,
                      double *out, double *hn, double *cn)
{
    reference_of(&desc, lengths, x, p, h0, c0, out, hn, cn);
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

Test(lstm, nonempty_rows_in_order_then_the_empty_ones)
{
    const int lens[6] = {3, 0, 1, 0, 0, 2};
    int rows[6], len[6];
    cr_assert_eq(afs_lstm_nonempty(lens, 6, rows, len), 3);
    const int want_rows[6] = {0, 2, 5, 1, 3, 4}, want_len[3] = {3, 1, 2};
    cr_assert_arr_eq(rows, want_rows, sizeof want_rows);
    cr_assert_arr_eq(len, want_len, sizeof want_len);
    const int none[2] = {0, 0};
    cr_assert_eq(afs_lstm_nonempty(none, 2, rows, len), 0);
    cr_assert(rows[0] == 0 && rows[1] == 1);
}

/* An empty sequence (kernels/common/lstm_layout.h): zero outputs, h_n = h0 and c_n = c0
 * (zeros without them), dx = 0 even where dx held garbage, and no effect on
 * the parameter gradients: a batch with an empty row gives exactly the
 * gradients of the batch without it. */
Test(lstm, an_empty_sequence_keeps_its_state_and_gets_no_gradient)
{
    size_t np = afs_lstm_params(&desc);
    float *x = random_vec(S * B * IN, 13, 1), *p = random_vec(np, 14, 0.5f);
    float *h0 = random_vec(D * B * H, 15, 0.5f), *c0 = random_vec(D * B * H, 16, 0.5f);
    float *r_out = random_vec(S * B * D * H, 17, 1), *r_hn = random_vec(D * B * H, 18, 1);
    run r;
    r.work = malloc(cpu->lstm_work_bytes(cpu, &desc));
    forward(x, p, h0, c0, &r);
    for (int dir = 0; dir < D; dir++)
        for (int j = 0; j < H; j++) {
            int at = (dir * B + 3) * H + j; /* sequence 3 is empty */
            cr_assert_eq(r.hn[at], h0[at]);
            cr_assert_eq(r.cn[at], c0[at]);
        }
    float hn[D * B * H], cn[D * B * H], out[S * B * D * H];
    cpu->lstm_forward(cpu, &desc, lengths, x, p, NULL, NULL, out, hn, cn, r.work);
    for (int dir = 0; dir < D; dir++)
        for (int j = 0; j < H; j++)
            cr_assert(hn[(dir * B + 3) * H + j] == 0.0f && cn[(dir * B + 3) * H + j] == 0.0f);

    float *dp = calloc(np, sizeof(float)), dx[S * B * IN];
    for (int i = 0; i < S * B * IN; i++)
        dx[i] = 777.0f;
    forward(x, p, h0, c0, &r);
    cpu->lstm_backward(cpu, &desc, lengths, x, p, h0, c0, r.work, r.out, r_out, r_hn, dx, dp);
    for (int t = 0; t < S; t++)
        for (int b = 0; b < B; b++)
            for (int n = 0; t >= lengths[b] && n < IN; n++)
                cr_assert_eq(dx[(t * B + b) * IN + n], 0.0f, "dx at t %d of sequence %d", t, b);

    /* The same batch without sequence 3: rows 0-2, states and gradients
     * of rows 0-2 only. */
    const afs_lstm_desc three = {S, 3, IN, H, D};
    float x3[S * 3 * IN], h03[D * 3 * H], c03[D * 3 * H], ro3[S * 3 * D * H], rh3[D * 3 * H];
    for (int t = 0; t < S; t++)
        for (int b = 0; b < 3; b++) {
            memcpy(&x3[(t * 3 + b) * IN], &x[(t * B + b) * IN], IN * sizeof(float));
            memcpy(&ro3[(t * 3 + b) * D * H], &r_out[(t * B + b) * D * H], D * H * sizeof(float));
        }
    for (int dir = 0; dir < D; dir++)
        for (int b = 0; b < 3; b++) {
            memcpy(&h03[(dir * 3 + b) * H], &h0[(dir * B + b) * H], H * sizeof(float));
            memcpy(&c03[(dir * 3 + b) * H], &c0[(dir * B + b) * H], H * sizeof(float));
            memcpy(&rh3[(dir * 3 + b) * H], &r_hn[(dir * B + b) * H], H * sizeof(float));
        }
    float out3[S * 3 * D * H], hn3[D * 3 * H], cn3[D * 3 * H], dx3[S * 3 * IN];
    float *dp3 = calloc(np, sizeof(float)), *work3 = malloc(cpu->lstm_work_bytes(cpu, &three));
    cpu->lstm_forward(cpu, &three, lengths, x3, p, h03, c03, out3, hn3, cn3, work3);
    cpu->lstm_backward(cpu, &three, lengths, x3, p, h03, c03, work3, out3, ro3, rh3, dx3, dp3);
    cr_assert_arr_eq(dp, dp3, np * sizeof(float), "an empty sequence changed the parameter gradients");
    free(x); free(p); free(h0); free(c0); free(r_out); free(r_hn); free(dp); free(dp3);
    free(work3); free(r.work);
}

/* The backward leaves the forward's work as it was (kernels/backend.h), so
 * one forward may have several backwards, each giving the same gradients. */
Test(lstm, a_second_backward_gives_the_same_gradients)
{
    size_t np = afs_lstm_params(&desc), wb = cpu->lstm_work_bytes(cpu, &desc);
    float *x = random_vec(S * B * IN, 19, 1), *p = random_vec(np, 20, 0.5f);
    float *r_out = random_vec(S * B * D * H, 21, 1);
    run r;
    r.work = malloc(wb);
    forward(x, p, NULL, NULL, &r);
    char *kept = malloc(wb);
    memcpy(kept, r.work, wb);
    float *first = calloc(np, sizeof(float)), *second = calloc(np, sizeof(float));
    cpu->lstm_backward(cpu, &desc, lengths, x, p, NULL, NULL, r.work, r.out, r_out, NULL, NULL, first);
    cr_assert_eq(memcmp(kept, r.work, wb), 0, "the backward changed work");
    cpu->lstm_backward(cpu, &desc, lengths, x, p, NULL, NULL, r.work, r.out, r_out, NULL, NULL, second);
    cr_assert_arr_eq(first, second, np * sizeof(float), "the second backward differs");
    free(x); free(p); free(r_out); free(r.work); free(kept); free(first); free(second);
}

/* A batch as AM-DRL's channel has them: many sequences, lengths 0 .. S in
 * no order (the CPU ranks them by length, longest first, and packs the
 * valid steps), on two threads (products and cells split among them):
 * the outputs and final states against the reference, the gradients of
 * some parameters and inputs against central differences, and the same
 * bits as on one thread. */
/* Big enough that the products (from 2e6 flops) and the cells (from 2^15
 * gate values a step) are split between the threads. */
enum { BS = 5, BB = 600, BIN = 32, BH = 32 };

static double big_loss(afs_backend *b, const afs_lstm_desc *d, const int *len, const float *x,
                       const float *p, const float *r_out, float *out, float *work)
{
    b->lstm_forward(b, d, len, x, p, NULL, NULL, out, NULL, NULL, work);
    double s = 0.0;
    for (int i = 0; i < BS * BB * 2 * BH; i++)
        s += (double)r_out[i] * out[i];
    return s;
}

/* grad [n] against central differences of big_loss in v[i] (v is x or p:
 * the loss sees each change), for every stride-th i. */
static void big_differences(afs_backend *b, const afs_lstm_desc *d, const int *len,
                            const float *x, const float *p, const float *r_out, float *out,
                            float *work, float *v, size_t n, size_t stride, const float *grad,
                            const char *what)
{
    const float step = 1e-2f;
    for (size_t i = 0; i < n; i += stride) {
        float keep = v[i];
        v[i] = keep + step;
        double up = big_loss(b, d, len, x, p, r_out, out, work);
        v[i] = keep - step;
        double down = big_loss(b, d, len, x, p, r_out, out, work);
        v[i] = keep;
        double num = (up - down) / (2 * step);
        cr_assert(fabs(grad[i] - num) <= 5e-3 * fmax(1.0, fabs(num)), "%s %zu: %g vs %g", what,
                  i, grad[i], num);
    }
}

Test(lstm, unsorted_lengths_on_two_threads)
{
    const afs_lstm_desc d = {BS, BB, BIN, BH, 2};
    int len[BB];
    for (int i = 0; i < BB; i++)
        len[i] = (int)(afs_philox(8, 30, (uint32_t)i, 0, 0, 0).v[0] % (BS + 1));
    len[0] = 2; /* not sorted whatever the draws */
    len[1] = 5;
    size_t np = afs_lstm_params(&d), nx = (size_t)BS * BB * BIN, no = (size_t)BS * BB * 2 * BH;
    float *x = random_vec(nx, 31, 1), *p = random_vec(np, 32, 0.5f), *r_out = random_vec(no, 33, 1);
    afs_backend *two = afs_backend_cpu_create(2);
    float *work = malloc(two->lstm_work_bytes(two, &d)), *out = malloc(no * sizeof(float));
    static float hn[2 * BB * BH], cn[2 * BB * BH];
    two->lstm_forward(two, &d, len, x, p, NULL, NULL, out, hn, cn, work);
    double *want = malloc(no * sizeof(double));
    static double whn[2 * BB * BH], wcn[2 * BB * BH];
    reference_of(&d, len, x, p, NULL, NULL, want, whn, wcn);
    for (size_t i = 0; i < no; i++)
        cr_assert(fabs(out[i] - want[i]) < 1e-5, "h_out[%zu]: %g vs %g", i, out[i], want[i]);
    for (int i = 0; i < 2 * BB * BH; i++)
        cr_assert(fabs(hn[i] - whn[i]) < 1e-5 && fabs(cn[i] - wcn[i]) < 1e-5, "state %d", i);

    float *dp = calloc(np, sizeof(float)), *dx = malloc(nx * sizeof(float));
    two->lstm_backward(two, &d, len, x, p, NULL, NULL, work, out, r_out, NULL, dx, dp);
    big_differences(two, &d, len, x, p, r_out, out, work, p, np, 97, dp, "dparam");
    big_differences(two, &d, len, x, p, r_out, out, work, x, nx, 1777, dx, "dx");

    /* one thread: the same bits */
    float *out1 = malloc(no * sizeof(float)), *dp1 = calloc(np, sizeof(float));
    float *dx1 = malloc(nx * sizeof(float));
    big_loss(two, &d, len, x, p, r_out, out, work);
    cpu->lstm_forward(cpu, &d, len, x, p, NULL, NULL, out1, NULL, NULL, work);
    cr_assert_arr_eq(out, out1, no * sizeof(float), "one thread's outputs differ");
    memset(dp, 0, np * sizeof(float));
    two->lstm_backward(two, &d, len, x, p, NULL, NULL, work, out, r_out, NULL, dx, dp);
    cpu->lstm_backward(cpu, &d, len, x, p, NULL, NULL, work, out1, r_out, NULL, dx1, dp1);
    cr_assert_arr_eq(dp, dp1, np * sizeof(float), "one thread's parameter gradients differ");
    cr_assert_arr_eq(dx, dx1, nx * sizeof(float), "one thread's input gradients differ");
    two->destroy(two);
    free(x); free(p); free(r_out); free(work); free(out); free(want); free(dp); free(dx);
    free(out1); free(dp1); free(dx1);
}
