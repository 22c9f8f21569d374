/* LSTM through time on the CPU: the reference for the CUDA (cuDNN) version,
 * following the equations of kernels/common/lstm_layout.h.
 *
 * Packed by step. The non-empty sequences are ranked by length, longest
 * first (ties by index), so that the sequences still running at step k
 * are ranks 0 .. m_k - 1. Step k of rank r is packed row off_k + r, with
 * off_k = m_0 + ... + m_{k-1}; P = off_S rows hold every valid step. Step
 * k is time k in the forward direction and time len - 1 - k in the
 * reverse one. So every product is one GEMM over contiguous rows, with
 * nothing multiplied for padding or empty sequences: the input projections
 * of all P steps at once, and per step the recurrent products of ranks
 * 0 .. m_k - 1, whose previous outputs are the first m_k rows of step
 * k - 1. (cuDNN's packed layout is the same idea.) The gates and cells are
 * vector loops over fastmath.h's sigmoid and tanh, rows split among the
 * threads. Scratch comes from the backend (cpu_impl.h): a call allocates
 * nothing. */
#include <string.h>

#include "../common/nn_math.h"
#include "cpu_clones.h"
#include "cpu_impl.h"
#include "gemm_cpu.h"
#include "lstm_cpu.h"

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
static int omp_get_num_threads(void) { return 1; }
#endif

enum { GI, GF, GG, GO }; /* the gates, blocks of H in a row of 4H */
/* The backend's scratch slots this file uses (cpu_impl.h). */
enum { SCR_ORDER, SCR_X, SCR_DA, SCR_STATE, SCR_DX, SCR_BIAS };

/* The ranking of a call's sequences, and where each step's rows start. */
typedef struct order {
    int n, P;        /* non-empty sequences; valid steps */
    int *row, *len;  /* [n]: rank -> batch row, its length */
    int *m, *off;    /* [S]: running at step k; [S + 1]: first row of step k */
} order;

/* Ranks by a counting sort on the length, longest first, index order
 * within a length. Lengths are at most S (lstm_layout.h; a longer one
 * counts as S). */
static order rank_sequences(afs_backend *b, const afs_lstm_desc *d, const int *lengths)
{
    int S = d->S, B = d->B;
    int *ints = afs_cpu_scratch(b, SCR_ORDER, sizeof(int) * ((size_t)2 * B + 3 * (size_t)S + 3));
    order o = {0, 0, ints, ints + B, ints + 2 * B, ints + 2 * B + S};
    int *start = o.off + S + 1; /* [S + 1]: first rank of each length */
    memset(start, 0, sizeof(int) * ((size_t)S + 1));
    for (int i = 0; i < B; i++)
        if (lengths[i] > 0)
            start[lengths[i] < S ? lengths[i] : S]++;
    for (int l = S, first = 0; l >= 1; l--) { /* counts to first ranks */
        int count = start[l];
        start[l] = first;
        first += count;
        o.n = first;
    }
    for (int i = 0; i < B; i++)
        if (lengths[i] > 0) {
            int l = lengths[i] < S ? lengths[i] : S;
            int r = start[l]++;
            o.row[r] = i;
            o.len[r] = l;
        }
    o.off[0] = 0;
    for (int k = 0, r = o.n; k < S; k++) {
        while (r > 0 && o.len[r - 1] <= k)
            r--;
        o.m[k] = r;
        o.off[k + 1] = o.off[k] + r;
    }
    o.P = o.off[S];
    return o;
}

static int time_of(int dir, int k, int len) { return dir == 0 ? k : len - 1 - k; }

/* A direction's share of work: the gates (i, f, g, o after their
 * activations) [P, 4H], the cells [P, H] and the outputs [P, H] of every
 * valid step, packed; room for S B rows. */
typedef struct saved { float *gates, *cell, *hid; } saved;

static saved saved_of(const afs_lstm_desc *d, const float *work, int dir)
{
    size_t rows = (size_t)d->S * d->B, H = (size_t)d->H;
    float *base = (float *)work + rows * 6 * H * dir;
    return (saved){base, base + rows * 4 * H, base + rows * 5 * H};
}

typedef struct dir_params { const float *W, *U, *bw, *bu; } dir_params;

static dir_params params_of(const afs_lstm_desc *d, const float *p, int dir)
{
    const float *base = p + afs_lstm_dir_params(d) * (size_t)dir;
    size_t H4 = (size_t)4 * d->H;
    return (dir_params){base, base + H4 * d->in, base + H4 * (d->in + d->H),
                        base + H4 * (d->in + d->H) + H4};
}

/* xp [P, in] = the input of every valid step of direction dir, packed. */
static float *pack_inputs(afs_backend *b, const afs_lstm_desc *d, const order *o, int dir,
                          const float *x)
{
    size_t in = (size_t)d->in;
    float *xp = afs_cpu_scratch(b, SCR_X, sizeof(float) * in * (o->P ? o->P : 1));
    for (int k = 0; k < d->S; k++)
        for (int r = 0; r < o->m[k]; r++)
            memcpy(xp + (o->off[k] + r) * in,
                   x + ((size_t)time_of(dir, k, o->len[r]) * d->B + o->row[r]) * in,
                   in * sizeof(float));
    return xp;
}

/* hp [n, H] = the initial states of direction dir, by rank, in scratch
 * slot `slot`. */
static float *pack_initial(afs_backend *b, const afs_lstm_desc *d, const order *o, int dir,
                           const float *h0, int slot)
{
    size_t H = (size_t)d->H;
    float *hp = afs_cpu_scratch(b, slot, sizeof(float) * H * (o->n ? o->n : 1));
    for (int r = 0; r < o->n; r++)
        memcpy(hp + r * H, h0 + ((size_t)dir * d->B + o->row[r]) * H, H * sizeof(float));
    return hp;
}

/* The cells of ranks r0 .. r1 - 1 at step k: gates (pre-activations in,
 * activations out), cell and output from the previous cell, each rank's
 * output also into h_out. */
typedef struct cell_args {
    const afs_lstm_desc *d;
    const order *o;
    saved s;
    const float *bias, *c0; /* bias [4H] = b_w + b_u */
    const float *zeros;     /* [H]: the cell before a first step without c0 */
    float *h_out;
    int dir, k;
} cell_args;

/* The cell before rank r's step a->k: its previous step's, else c0's, else
 * zeros (one loop for every case: a branch in it keeps it scalar). */
AFS_CLONE_INLINE const float *prev_cell(const cell_args *a, int r)
{
    const order *o = a->o;
    size_t H = (size_t)a->d->H;
    if (a->k > 0)
        return a->s.cell + ((size_t)o->off[a->k - 1] + r) * H;
    return a->c0 ? a->c0 + ((size_t)a->dir * a->d->B + o->row[r]) * H : a->zeros;
}

AFS_CPU_CLONES static void cells_forward(const cell_args *a, int r0, int r1)
{
    int H = a->d->H, k = a->k;
    const order *o = a->o;
    for (int r = r0; r < r1; r++) {
        size_t p = (size_t)o->off[k] + r;
        float *g = a->s.gates + p * 4 * H, *c = a->s.cell + p * H, *h = a->s.hid + p * H;
        const float *cp = prev_cell(a, r);
        for (int j = 0; j < GG * H; j++) /* i, f */
            g[j] = afs_sigmoidf(g[j] + a->bias[j]);
        for (int j = GG * H; j < GO * H; j++)
            g[j] = afs_tanhf(g[j] + a->bias[j]);
        for (int j = GO * H; j < 4 * H; j++)
            g[j] = afs_sigmoidf(g[j] + a->bias[j]);
        for (int j = 0; j < H; j++)
            c[j] = g[GF * H + j] * cp[j] + g[GI * H + j] * g[GG * H + j];
        for (int j = 0; j < H; j++)
            h[j] = g[GO * H + j] * afs_tanhf(c[j]);
        int t = time_of(a->dir, k, o->len[r]);
        memcpy(a->h_out + (((size_t)t * a->d->B + o->row[r]) * a->d->dirs + a->dir) * H, h,
               (size_t)H * sizeof(float));
    }
}

/* Rows of a step per thread from this many gate values: below it the
 * fork and join cost more than the loop. */
#define CELLS_PARALLEL (1 << 15)

/* fn over ranks 0 .. m - 1, split among T threads in contiguous runs. */
#define SPLIT_RANKS(T, m, per_rank, fn, args)                                    \
    do {                                                                         \
        int threads_ = (m) * (per_rank) >= CELLS_PARALLEL ? (T) : 1;            \
        _Pragma("omp parallel num_threads(threads_)")                           \
        {                                                                        \
            int t_ = omp_get_thread_num(), nt_ = omp_get_num_threads();          \
            fn(args, (int)((long)(m) * t_ / nt_), (int)((long)(m) * (t_ + 1) / nt_)); \
        }                                                                        \
    } while (0)

static void forward_dir(afs_backend *b, const afs_lstm_desc *d, const order *o, int dir,
                        const float *x, const float *params, const float *h0, const float *c0,
                        float *h_out, float *work)
{
    int H = d->H, G4 = 4 * H, T = afs_cpu_threads(b);
    dir_params q = params_of(d, params, dir);
    saved s = saved_of(d, work, dir);
    float *bias = afs_cpu_scratch(b, SCR_BIAS, sizeof(float) * (G4 + H)), *zeros = bias + G4;
    for (int j = 0; j < G4; j++)
        bias[j] = q.bw[j] + q.bu[j];
    memset(zeros, 0, (size_t)H * sizeof(float));
    const float *xp = pack_inputs(b, d, o, dir, x);
    afs_gemm(T, 0, 1, o->P, G4, d->in, xp, d->in, q.W, d->in, 0.0f, s.gates, G4);
    cell_args a = {d, o, s, bias, c0, zeros, h_out, dir, 0};
    for (int k = 0; k < d->S && o->m[k] > 0; k++) {
        int m = o->m[k];
        float *gk = s.gates + (size_t)o->off[k] * G4;
        if (k > 0) /* the first m rows of step k - 1 are these ranks' outputs */
            afs_gemm(T, 0, 1, m, G4, H, s.hid + (size_t)o->off[k - 1] * H, H, q.U, H, 1.0f, gk,
                     G4);
        else if (h0)
            afs_gemm(T, 0, 1, m, G4, H, pack_initial(b, d, o, dir, h0, SCR_STATE), H, q.U, H, 1.0f,
                     gk, G4);
        a.k = k;
        SPLIT_RANKS(T, m, G4, cells_forward, &a);
    }
}

/* Outputs past each sequence's end are 0 (every output of an empty one). */
static void zero_padding(const afs_lstm_desc *d, const int *lengths, float *h_out)
{
    size_t row = (size_t)d->dirs * d->H;
    for (int t = 0; t < d->S; t++)
        for (int i = 0; i < d->B; i++)
            if (t >= lengths[i])
                memset(h_out + ((size_t)t * d->B + i) * row, 0, row * sizeof(float));
}

/* h_n, c_n [D, B, H]: each non-empty sequence's last step, each empty one's
 * initial state (zeros without h0, c0: lstm_layout.h). */
static void final_states(const afs_lstm_desc *d, const int *lengths, const order *o,
                         const float *work, const float *h0, const float *c0, float *h_n,
                         float *c_n)
{
    size_t H = (size_t)d->H;
    for (int dir = 0; dir < d->dirs; dir++) {
        saved s = saved_of(d, work, dir);
        for (int r = 0; r < o->n; r++) {
            size_t p = (size_t)o->off[o->len[r] - 1] + r, at = ((size_t)dir * d->B + o->row[r]) * H;
            if (h_n)
                memcpy(h_n + at, s.hid + p * H, H * sizeof(float));
            if (c_n)
                memcpy(c_n + at, s.cell + p * H, H * sizeof(float));
        }
        for (int i = 0; i < d->B; i++) {
            size_t at = ((size_t)dir * d->B + i) * H;
            for (size_t j = 0; lengths[i] <= 0 && j < H; j++) {
                if (h_n)
                    h_n[at + j] = h0 ? h0[at + j] : 0.0f;
                if (c_n)
                    c_n[at + j] = c0 ? c0[at + j] : 0.0f;
            }
        }
    }
}

static void lstm_forward(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                         const float *x, const float *params, const float *h0, const float *c0,
                         float *h_out, float *h_n, float *c_n, float *work)
{
    order o = rank_sequences(b, d, lengths);
    zero_padding(d, lengths, h_out);
    for (int dir = 0; o.n > 0 && dir < d->dirs; dir++)
        forward_dir(b, d, &o, dir, x, params, h0, c0, h_out, work);
    final_states(d, lengths, &o, work, h0, c0, h_n, c_n);
}

/* The backward of ranks r0 .. r1 - 1 at step k: dL/da of each into DA
 * from dL/dh (the output's gradient plus the next step's, dh_next) and
 * the cell's carried gradient dc_next (updated to the previous step's). */
typedef struct grad_args {
    cell_args c;
    const float *dh_out, *dh_next;
    float *dc_next, *DA;
} grad_args;

/* One rank's step backward: dL/da [4H] into da from its gates g, cell c,
 * previous cell cp, dL/dh (dht + dhn) and the carried dL/dc (dcn, updated
 * to the previous step's). Its arrays never overlap: restrict lets the
 * loop vectorize, which GCC otherwise gives up on (too many pairs to
 * check at run time). */
AFS_CLONE_INLINE void gate_grads(int H, const float *restrict g, const float *restrict c,
                                 const float *restrict cp, const float *restrict dht,
                                 const float *restrict dhn, float *restrict dcn,
                                 float *restrict da)
{
    for (int j = 0; j < H; j++) {
        float i = g[GI * H + j], f = g[GF * H + j], gg = g[GG * H + j], og = g[GO * H + j];
        float dh = dht[j] + dhn[j], tc = afs_tanhf(c[j]), prev = cp[j];
        float dc = dh * og * (1.0f - tc * tc) + dcn[j];
        da[GI * H + j] = dc * gg * i * (1.0f - i);
        da[GF * H + j] = dc * prev * f * (1.0f - f);
        da[GG * H + j] = dc * i * (1.0f - gg * gg);
        da[GO * H + j] = dh * tc * og * (1.0f - og);
        dcn[j] = dc * f;
    }
}

AFS_CPU_CLONES static void cells_backward(const grad_args *a, int r0, int r1)
{
    const afs_lstm_desc *d = a->c.d;
    const order *o = a->c.o;
    int H = d->H, k = a->c.k, dir = a->c.dir;
    for (int r = r0; r < r1; r++) {
        size_t p = (size_t)o->off[k] + r;
        const float *g = a->c.s.gates + p * 4 * H, *c = a->c.s.cell + p * H;
        const float *cp = prev_cell(&a->c, r);
        int t = time_of(dir, k, o->len[r]);
        const float *dht = a->dh_out + (((size_t)t * d->B + o->row[r]) * d->dirs + dir) * H;
        const float *dhn = a->dh_next + (size_t)r * H;
        float *dcn = a->dc_next + (size_t)r * H, *da = a->DA + p * 4 * H;
        gate_grads(H, g, c, cp, dht, dhn, dcn, da);
    }
}

/* dL/dx of every valid step: DXp [P, in] = DA W, added at each step's
 * place in dx [S, B, in]. */
static void input_gradient(afs_backend *b, const afs_lstm_desc *d, const order *o, int dir,
                           const float *DA, const float *W, float *dx)
{
    size_t in = (size_t)d->in;
    float *dxp = afs_cpu_scratch(b, SCR_DX, sizeof(float) * in * (size_t)o->P);
    afs_gemm(afs_cpu_threads(b), 0, 0, o->P, d->in, 4 * d->H, DA, 4 * d->H, W, d->in, 0.0f, dxp,
             d->in);
    for (int k = 0; k < d->S; k++)
        for (int r = 0; r < o->m[k]; r++) {
            float *to = dx + ((size_t)time_of(dir, k, o->len[r]) * d->B + o->row[r]) * in;
            const float *from = dxp + ((size_t)o->off[k] + r) * in;
            for (size_t j = 0; j < in; j++)
                to[j] += from[j];
        }
}

static void backward_dir(afs_backend *b, const afs_lstm_desc *d, const order *o, int dir,
                         const float *x, const float *params, const float *h0, const float *c0,
                         const float *work, const float *dh_out, const float *dh_n, float *dx,
                         float *dparams)
{
    int H = d->H, in = d->in, G4 = 4 * H, T = afs_cpu_threads(b);
    size_t n = (size_t)o->n;
    dir_params q = params_of(d, params, dir);
    saved s = saved_of(d, work, dir);
    float *gW = dparams + afs_lstm_dir_params(d) * (size_t)dir;
    float *gU = gW + (size_t)G4 * in, *gbw = gU + (size_t)G4 * H, *gbu = gbw + G4;
    float *DA = afs_cpu_scratch(b, SCR_DA, sizeof(float) * G4 * (size_t)o->P);
    /* dh_next and dc_next [n, H] by rank; a rank's start at its last step */
    float *dh_next = afs_cpu_scratch(b, SCR_STATE, sizeof(float) * (2 * n + 1) * H);
    float *dc_next = dh_next + n * H, *zeros = dc_next + n * H;
    memset(dc_next, 0, (n + 1) * H * sizeof(float));
    for (size_t r = 0; r < n; r++)
        for (int j = 0; j < H; j++)
            dh_next[r * H + j] = dh_n ? dh_n[((size_t)dir * d->B + o->row[r]) * H + j] : 0.0f;
    grad_args a = {{d, o, s, NULL, c0, zeros, NULL, dir, 0}, dh_out, dh_next, dc_next, DA};
    for (int k = d->S - 1; k >= 0; k--) {
        int m = o->m[k];
        if (!m)
            continue;
        a.c.k = k;
        SPLIT_RANKS(T, m, G4, cells_backward, &a);
        const float *dak = DA + (size_t)o->off[k] * G4;
        if (k > 0) {
            const float *hp = s.hid + (size_t)o->off[k - 1] * H;
            afs_gemm(T, 1, 0, G4, H, m, dak, G4, hp, H, 1.0f, gU, H);
            afs_gemm(T, 0, 0, m, H, G4, dak, G4, q.U, H, 0.0f, dh_next, H);
        } else if (h0) { /* the U term of the first step; no gradient into h0 */
            afs_gemm(T, 1, 0, G4, H, m, dak, G4, pack_initial(b, d, o, dir, h0, SCR_DX), H, 1.0f,
                     gU, H);
        }
    }
    afs_gemm(T, 1, 0, G4, in, o->P, DA, G4, pack_inputs(b, d, o, dir, x), in, 1.0f, gW, in);
    if (dx)
        input_gradient(b, d, o, dir, DA, q.W, dx);
    for (int p = 0; p < o->P; p++) /* packed rows in order: a fixed sum */
        for (int j = 0; j < G4; j++) {
            gbw[j] += DA[(size_t)p * G4 + j];
            gbu[j] += DA[(size_t)p * G4 + j];
        }
}

static void lstm_backward(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                          const float *x, const float *params, const float *h0,
                          const float *c0, const float *work, const float *h_out,
                          const float *dh_out, const float *dh_n, float *dx, float *dparams)
{
    (void)h_out; /* the work buffer holds every step's output already */
    order o = rank_sequences(b, d, lengths);
    if (dx)
        memset(dx, 0, (size_t)d->S * d->B * d->in * sizeof(float));
    for (int dir = 0; o.n > 0 && dir < d->dirs; dir++)
        backward_dir(b, d, &o, dir, x, params, h0, c0, work, dh_out, dh_n, dx, dparams);
}

/* Per step, batch row and direction: the four gates, the cell, the output
 * (packed: only valid steps are used, at most S B of them). */
static size_t lstm_work_bytes(afs_backend *b, const afs_lstm_desc *d)
{
    (void)b;
    return (size_t)d->S * d->B * d->dirs * d->H * 6 * sizeof(float);
}

void afs_lstm_cpu_install(afs_backend *b)
{
    b->lstm_work_bytes = lstm_work_bytes;
    b->lstm_forward = lstm_forward;
    b->lstm_backward = lstm_backward;
}
