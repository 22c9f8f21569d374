/* LSTM through time on the CPU: the reference for the CUDA (cuDNN) version.
 * Each (direction, sequence) pair runs on its own; the loops follow the
 * equations of kernels/common/lstm_layout.h one for one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/nn_math.h"
#include "lstm_cpu.h"

enum { GI, GF, GG, GO, CELL, HID, SAVED }; /* blocks of H floats kept per step */

typedef struct dir_params { const float *W, *U, *bw, *bu; } dir_params;

static dir_params params_of(const afs_lstm_desc *d, const float *p, int dir)
{
    const float *base = p + afs_lstm_dir_params(d) * (size_t)dir;
    size_t H4 = (size_t)4 * d->H;
    dir_params q = {base, base + H4 * d->in, base + H4 * (d->in + d->H),
                    base + H4 * (d->in + d->H) + H4};
    return q;
}

/* The step at position k of direction dir for a sequence of length len. */
static int step_time(int dir, int k, int len) { return dir == 0 ? k : len - 1 - k; }

static const float *saved(const afs_lstm_desc *d, const float *work, int t, int b, int dir)
{
    return work + (((size_t)t * d->B + b) * d->dirs + dir) * SAVED * d->H;
}

static void forward_one(const afs_lstm_desc *d, int dir, int b, int len, const float *x,
                        const float *params, const float *h0, const float *c0, float *h_out,
                        float *h_n, float *c_n, float *work)
{
    int H = d->H, in = d->in;
    dir_params q = params_of(d, params, dir);
    const float *h_prev = h0 ? h0 + ((size_t)dir * d->B + b) * H : NULL;
    const float *c_prev = c0 ? c0 + ((size_t)dir * d->B + b) * H : NULL;
    for (int k = 0; k < len; k++) { /* len >= 1 */
        int t = step_time(dir, k, len);
        const float *xt = x + ((size_t)t * d->B + b) * in;
        float *s = (float *)saved(d, work, t, b, dir);
        for (int j = 0; j < 4 * H; j++) {
            float a = q.bw[j] + q.bu[j];
            for (int n = 0; n < in; n++)
                a += q.W[(size_t)j * in + n] * xt[n];
            for (int n = 0; h_prev && n < H; n++)
                a += q.U[(size_t)j * H + n] * h_prev[n];
            int gate = j / H;
            s[gate * H + j % H] = gate == GG ? tanhf(a) : afs_act(AFS_ACT_SIGMOID, a);
        }
        for (int j = 0; j < H; j++) {
            float c = s[GF * H + j] * (c_prev ? c_prev[j] : 0.0f) + s[GI * H + j] * s[GG * H + j];
            s[CELL * H + j] = c;
            s[HID * H + j] = s[GO * H + j] * tanhf(c);
        }
        memcpy(h_out + ((size_t)t * d->B + b) * d->dirs * H + (size_t)dir * H, s + HID * H,
               H * sizeof(float));
        h_prev = s + HID * H;
        c_prev = s + CELL * H;
    }
    if (h_n)
        memcpy(h_n + ((size_t)dir * d->B + b) * H, h_prev, H * sizeof(float));
    if (c_n)
        memcpy(c_n + ((size_t)dir * d->B + b) * H, c_prev, H * sizeof(float));
}

/* Final states of an empty sequence: its initial ones (kernels/common/lstm_layout.h). */
static void fill_empty(const afs_lstm_desc *d, int b, const float *h0, const float *c0,
                       float *h_n, float *c_n)
{
    size_t H = (size_t)d->H;
    for (int dir = 0; dir < d->dirs; dir++) {
        size_t at = ((size_t)dir * d->B + b) * H;
        for (size_t j = 0; j < H; j++) {
            if (h_n)
                h_n[at + j] = h0 ? h0[at + j] : 0.0f;
            if (c_n)
                c_n[at + j] = c0 ? c0[at + j] : 0.0f;
        }
    }
}

/* Rows of the non-empty sequences (and their lengths), then the empty ones;
 * the caller frees *rows (one allocation for both arrays). */
static int split_rows(const afs_lstm_desc *d, const int *lengths, int **rows, int **len)
{
    *rows = malloc((size_t)2 * (d->B > 0 ? d->B : 1) * sizeof(int));
    if (!*rows) {
        fprintf(stderr, "afsim: out of host memory in the CPU LSTM (B = %d)\n", d->B);
        exit(1);
    }
    *len = *rows + d->B;
    return afs_lstm_nonempty(lengths, d->B, *rows, *len);
}

static void lstm_forward(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                         const float *x, const float *params, const float *h0, const float *c0,
                         float *h_out, float *h_n, float *c_n, float *work)
{
    (void)b;
    int *rows, *len, n = split_rows(d, lengths, &rows, &len);
    memset(h_out, 0, (size_t)d->S * d->B * d->dirs * d->H * sizeof(float));
    for (int dir = 0; dir < d->dirs; dir++)
        for (int j = 0; j < n; j++)
            forward_one(d, dir, rows[j], len[j], x, params, h0, c0, h_out, h_n, c_n, work);
    for (int j = n; j < d->B; j++)
        fill_empty(d, rows[j], h0, c0, h_n, c_n);
    free(rows);
}

static void backward_one(const afs_lstm_desc *d, int dir, int b, int len, const float *x,
                         const float *params, const float *h0, const float *c0,
                         const float *work, const float *dh_out, const float *dh_n, float *dx,
                         float *dparams)
{
    int H = d->H, in = d->in;
    dir_params q = params_of(d, params, dir);
    float *gW = dparams + afs_lstm_dir_params(d) * (size_t)dir;
    float *gU = gW + (size_t)4 * H * in, *gbw = gU + (size_t)4 * H * H, *gbu = gbw + 4 * H;
    float dh_next[H], dc_next[H], da[4 * H];
    for (int j = 0; j < H; j++) {
        dh_next[j] = dh_n ? dh_n[((size_t)dir * d->B + b) * H + j] : 0.0f;
        dc_next[j] = 0.0f;
    }
    for (int k = len - 1; k >= 0; k--) {
        int t = step_time(dir, k, len);
        const float *s = saved(d, work, t, b, dir);
        const float *h_prev = k > 0 ? saved(d, work, step_time(dir, k - 1, len), b, dir) + HID * H
                                    : (h0 ? h0 + ((size_t)dir * d->B + b) * H : NULL);
        const float *c_prev = k > 0 ? saved(d, work, step_time(dir, k - 1, len), b, dir) + CELL * H
                                    : (c0 ? c0 + ((size_t)dir * d->B + b) * H : NULL);
        const float *dht = dh_out + ((size_t)t * d->B + b) * d->dirs * H + (size_t)dir * H;
        for (int j = 0; j < H; j++) {
            float i = s[GI * H + j], f = s[GF * H + j], g = s[GG * H + j], o = s[GO * H + j];
            float tc = tanhf(s[CELL * H + j]);
            float dh = dht[j] + dh_next[j];
            float dc = dh * o * (1.0f - tc * tc) + dc_next[j];
            da[GI * H + j] = dc * g * i * (1.0f - i);
            da[GF * H + j] = dc * (c_prev ? c_prev[j] : 0.0f) * f * (1.0f - f);
            da[GG * H + j] = dc * i * (1.0f - g * g);
            da[GO * H + j] = dh * tc * o * (1.0f - o);
            dc_next[j] = dc * f;
        }
        const float *xt = x + ((size_t)t * d->B + b) * in;
        float *dxt = dx ? dx + ((size_t)t * d->B + b) * in : NULL;
        for (int j = 0; j < 4 * H; j++) {
            gbw[j] += da[j];
            gbu[j] += da[j];
            for (int n = 0; n < in; n++) {
                gW[(size_t)j * in + n] += da[j] * xt[n];
                if (dxt)
                    dxt[n] += q.W[(size_t)j * in + n] * da[j];
            }
            for (int n = 0; h_prev && n < H; n++)
                gU[(size_t)j * H + n] += da[j] * h_prev[n];
        }
        for (int n = 0; n < H; n++) {
            float sum = 0.0f;
            for (int j = 0; j < 4 * H; j++)
                sum += q.U[(size_t)j * H + n] * da[j];
            dh_next[n] = sum;
        }
    }
}

static void lstm_backward(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                          const float *x, const float *params, const float *h0,
                          const float *c0, const float *work, const float *h_out,
                          const float *dh_out, const float *dh_n, float *dx, float *dparams)
{
    (void)b;
    (void)h_out; /* the work buffer holds every step's output already */
    int *rows, *len, n = split_rows(d, lengths, &rows, &len);
    if (dx)
        memset(dx, 0, (size_t)d->S * d->B * d->in * sizeof(float));
    for (int dir = 0; dir < d->dirs; dir++)
        for (int j = 0; j < n; j++)
            backward_one(d, dir, rows[j], len[j], x, params, h0, c0, work, dh_out, dh_n, dx,
                         dparams);
    free(rows);
}

/* Per step, batch row and direction: the four gates, the cell, the output. */
static size_t lstm_work_bytes(afs_backend *b, const afs_lstm_desc *d)
{
    (void)b;
    return (size_t)d->S * d->B * d->dirs * d->H * SAVED * sizeof(float);
}

void afs_lstm_cpu_install(afs_backend *b)
{
    b->lstm_work_bytes = lstm_work_bytes;
    b->lstm_forward = lstm_forward;
    b->lstm_backward = lstm_backward;
}
