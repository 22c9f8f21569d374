/* LSTM through time on the CPU: the reference for the CUDA (cuDNN) version,
 * following the equations of kernels/common/lstm_layout.h. All sequences of
 * a direction advance together, so that the matrix products are products
 * of batches (afs_gemm: OpenBLAS): the input projections of every step at
 * once, the recurrent ones per step over the sequences still running;
 * each sequence's gates and cell are its own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/nn_math.h"
#include "gemm_cpu.h"
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

/* Host scratch of a call; exits on failure as the rest of the CPU backend's
 * allocations do (afsim checks its memory before it starts). */
static float *scratch(size_t floats)
{
    float *p = calloc(floats ? floats : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "afsim: out of host memory in the CPU LSTM (%zu floats)\n", floats);
        exit(1);
    }
    return p;
}

/* Sequences still running at step k (length > k): their indices into the
 * non-empty list; the count. */
static int active_at(const int *len, int n, int k, int *act)
{
    int m = 0;
    for (int j = 0; j < n; j++)
        if (len[j] > k)
            act[m++] = j;
    return m;
}

/* The state before step k of non-empty sequence j (row b): the saved one
 * of its previous step, else the initial one (h0/c0 or NULL: zeros). */
static const float *prev_state(const afs_lstm_desc *d, const float *work, const float *init,
                               int dir, int b, int k, int len, int block)
{
    if (k > 0)
        return saved(d, work, step_time(dir, k - 1, len), b, dir) + block * d->H;
    return init ? init + ((size_t)dir * d->B + b) * d->H : NULL;
}

/* Gates, cell and output of one step of one sequence from its
 * pre-activations a [4H] (clobbered), into s [SAVED H]. */
static void cell_forward(int H, float *a, const float *c_prev, float *s)
{
    for (int j = 0; j < 4 * H; j++) {
        int gate = j / H;
        s[gate * H + j % H] = gate == GG ? tanhf(a[j]) : afs_act(AFS_ACT_SIGMOID, a[j]);
    }
    for (int j = 0; j < H; j++) {
        float c = s[GF * H + j] * (c_prev ? c_prev[j] : 0.0f) + s[GI * H + j] * s[GG * H + j];
        s[CELL * H + j] = c;
        s[HID * H + j] = s[GO * H + j] * tanhf(c);
    }
}

/* One direction over every non-empty sequence at once: the input
 * projections of all steps as one product, then per step the recurrent
 * projections of the running sequences as one product, and each
 * sequence's cell. */
static void forward_dir(const afs_lstm_desc *d, int dir, const int *rows, const int *len, int n,
                        const float *x, const float *params, const float *h0, const float *c0,
                        float *h_out, float *work)
{
    int H = d->H, G4 = 4 * H;
    size_t SB = (size_t)d->S * d->B;
    dir_params q = params_of(d, params, dir);
    float *ax = scratch(SB * G4), *hp = scratch((size_t)n * H), *r = scratch((size_t)n * G4);
    int *act = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!act)
        exit(1);
    afs_gemm(0, 1, (int)SB, G4, d->in, x, d->in, q.W, d->in, 0.0f, ax, G4);
    for (int k = 0; k < d->S; k++) {
        int m = active_at(len, n, k, act);
        if (!m)
            break;
        int recur = k > 0 || h0;
        for (int i = 0; recur && i < m; i++) {
            const float *h = prev_state(d, work, h0, dir, rows[act[i]], k, len[act[i]], HID);
            memcpy(hp + (size_t)i * H, h, H * sizeof(float));
        }
        if (recur)
            afs_gemm(0, 1, m, G4, H, hp, H, q.U, H, 0.0f, r, G4);
        #pragma omp parallel for schedule(static) if (m * G4 >= (1 << 15))
        for (int i = 0; i < m; i++) {
            int b = rows[act[i]], t = step_time(dir, k, len[act[i]]);
            float a[4 * H];
            const float *axt = ax + ((size_t)t * d->B + b) * G4;
            for (int j = 0; j < G4; j++)
                a[j] = q.bw[j] + q.bu[j] + axt[j] + (recur ? r[(size_t)i * G4 + j] : 0.0f);
            float *s = (float *)saved(d, work, t, b, dir);
            cell_forward(H, a, prev_state(d, work, c0, dir, b, k, len[act[i]], CELL), s);
            memcpy(h_out + ((size_t)t * d->B + b) * d->dirs * H + (size_t)dir * H, s + HID * H,
                   H * sizeof(float));
        }
    }
    free(ax);
    free(hp);
    free(r);
    free(act);
}

/* The final states of the non-empty sequences. */
static void final_states(const afs_lstm_desc *d, const int *rows, const int *len, int n,
                         const float *work, float *h_n, float *c_n)
{
    size_t H = (size_t)d->H;
    for (int dir = 0; dir < d->dirs; dir++)
        for (int j = 0; j < n; j++) {
            const float *s = saved(d, work, step_time(dir, len[j] - 1, len[j]), rows[j], dir);
            size_t at = ((size_t)dir * d->B + rows[j]) * H;
            if (h_n)
                memcpy(h_n + at, s + HID * H, H * sizeof(float));
            if (c_n)
                memcpy(c_n + at, s + CELL * H, H * sizeof(float));
        }
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
    for (int dir = 0; n > 0 && dir < d->dirs; dir++)
        forward_dir(d, dir, rows, len, n, x, params, h0, c0, h_out, work);
    final_states(d, rows, len, n, work, h_n, c_n);
    for (int j = n; j < d->B; j++)
        fill_empty(d, rows[j], h0, c0, h_n, c_n);
    free(rows);
}

/* dL/da [4H] of one step of one sequence from dL/dh (dh) and the cell's
 * carried gradient (dc_next, updated to the previous step's). */
static void cell_backward(int H, const float *s, const float *c_prev, const float *dh,
                          float *dc_next, float *da)
{
    for (int j = 0; j < H; j++) {
        float i = s[GI * H + j], f = s[GF * H + j], g = s[GG * H + j], o = s[GO * H + j];
        float tc = tanhf(s[CELL * H + j]);
        float dc = dh[j] * o * (1.0f - tc * tc) + dc_next[j];
        da[GI * H + j] = dc * g * i * (1.0f - i);
        da[GF * H + j] = dc * (c_prev ? c_prev[j] : 0.0f) * f * (1.0f - f);
        da[GG * H + j] = dc * i * (1.0f - g * g);
        da[GO * H + j] = dh[j] * tc * o * (1.0f - o);
        dc_next[j] = dc * f;
    }
}

/* One direction's backward over every non-empty sequence at once: per step
 * (last first) each running sequence's dL/da, then the recurrent products
 * of the running sequences (dL/dU, dL/dh of the step before); at the end
 * the input products of all steps (dL/dW, dL/dx) and the biases. */
static void backward_dir(const afs_lstm_desc *d, int dir, const int *rows, const int *len,
                         int n, const float *x, const float *params, const float *h0,
                         const float *c0, const float *work, const float *dh_out,
                         const float *dh_n, float *dx, float *dparams)
{
    int H = d->H, in = d->in, G4 = 4 * H;
    size_t SB = (size_t)d->S * d->B;
    dir_params q = params_of(d, params, dir);
    float *gW = dparams + afs_lstm_dir_params(d) * (size_t)dir;
    float *gU = gW + (size_t)G4 * in, *gbw = gU + (size_t)G4 * H, *gbu = gbw + G4;
    float *DA = scratch(SB * G4), *dact = scratch((size_t)n * G4), *hp = scratch((size_t)n * H);
    float *dh_next = scratch((size_t)n * H), *dc_next = scratch((size_t)n * H);
    float *dhp = scratch((size_t)n * H);
    int *act = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!act)
        exit(1);
    for (int j = 0; dh_n && j < n; j++)
        memcpy(dh_next + (size_t)j * H, dh_n + ((size_t)dir * d->B + rows[j]) * H,
               H * sizeof(float));
    for (int k = d->S - 1; k >= 0; k--) {
        int m = active_at(len, n, k, act), recur = k > 0 || h0;
        if (!m)
            continue;
        #pragma omp parallel for schedule(static) if (m * G4 >= (1 << 15))
        for (int i = 0; i < m; i++) {
            int j = act[i], b = rows[j], t = step_time(dir, k, len[j]);
            const float *dht = dh_out + ((size_t)t * d->B + b) * d->dirs * H + (size_t)dir * H;
            float dh[H];
            for (int c = 0; c < H; c++)
                dh[c] = dht[c] + dh_next[(size_t)j * H + c];
            float *da = dact + (size_t)i * G4;
            cell_backward(H, saved(d, work, t, b, dir),
                          prev_state(d, work, c0, dir, b, k, len[j], CELL), dh,
                          dc_next + (size_t)j * H, da);
            memcpy(DA + ((size_t)t * d->B + b) * G4, da, G4 * sizeof(float));
            if (recur)
                memcpy(hp + (size_t)i * H, prev_state(d, work, h0, dir, b, k, len[j], HID),
                       H * sizeof(float));
        }
        if (!recur)
            continue; /* the first step from zero states: no U term */
        afs_gemm(1, 0, G4, H, m, dact, G4, hp, H, 1.0f, gU, H);
        afs_gemm(0, 0, m, H, G4, dact, G4, q.U, H, 0.0f, dhp, H);
        for (int i = 0; i < m; i++)
            memcpy(dh_next + (size_t)act[i] * H, dhp + (size_t)i * H, H * sizeof(float));
    }
    afs_gemm(1, 0, G4, in, (int)SB, DA, G4, x, in, 1.0f, gW, in);
    if (dx)
        afs_gemm(0, 0, (int)SB, in, G4, DA, G4, q.W, in, 1.0f, dx, in);
    for (size_t r = 0; r < SB; r++) /* rows in order: a fixed sum */
        for (int j = 0; j < G4; j++) {
            gbw[j] += DA[r * G4 + j];
            gbu[j] += DA[r * G4 + j];
        }
    free(DA);
    free(dact);
    free(hp);
    free(dh_next);
    free(dc_next);
    free(dhp);
    free(act);
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
    for (int dir = 0; n > 0 && dir < d->dirs; dir++)
        backward_dir(d, dir, rows, len, n, x, params, h0, c0, work, dh_out, dh_n, dx, dparams);
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
