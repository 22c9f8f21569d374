/* LSTM through time on CUDA with cuDNN's RNN API (cudnnRNNForward and the
 * v8 backward calls) over padded variable-length sequences, handed to cuDNN
 * in its packed layout.
 *
 * afsim keeps the parameters in its own layout (kernels/common/lstm_layout.h, shared with
 * the CPU backend): one kernel copies them into cuDNN's weight space before
 * each call and adds cuDNN's weight gradients back after the backward, from
 * a table of segments made once per layer shape. The forward's reserve
 * space is the caller's `work` buffer, so the backward finds it there; the
 * backward passes write into their reserve space, so they get a copy and
 * `work` stays as the forward left it (a second backward of one forward
 * gives the same gradients, as on the CPU).
 *
 * What is costly to make (the RNN descriptor, the weight spaces, the segment
 * table: cudaMalloc and cudaFree each synchronize the device) is cached per
 * layer shape and math mode (kernels/plan_cache.h); work buffers only grow.
 * What changes from call to call (sequence lengths, batch size) is set on
 * the data descriptors each call, a host-only operation.
 *
 * The lengths are host input (cuDNN's data descriptors take them there);
 * cuDNN's calls and the packing kernels also need them, and the row maps
 * made from them, on the device. Those ints go up without waiting for the
 * device: staged in page-locked host memory and copied with
 * cudaMemcpyAsync on the default stream, the one every launch and cuDNN
 * call here uses, so the copy waits for the calls before it and the calls
 * after it wait for the copy. The page-locked buffer is rewritten only
 * once its last copy is done (an event recorded after it). And a call
 * with the shape (B, S) and lengths of the call before it copies nothing
 * and reuses that call's device ints: AM-DRL runs the channel on the same
 * groups for many calls in a row (a slot's steps, a forward then its
 * backward).
 *
 * cuDNN sees packed batches only (CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED):
 * the non-empty rows sorted by length, longest first (ties by row), time
 * step after time step with only the rows still running. Every call gathers
 * the caller's padded [S, B, width] tensors into that layout and scatters
 * the results back. Given the padded layout directly, cuDNN rearranged its
 * input with a kernel (RNNInputRearrangement) that took 1.2 s a call at
 * B = 153,600 on an H200: almost all of AM-DRL's training time
 * (docs/performance.md). Empty sequences never reach cuDNN
 * (kernels/common/lstm_layout.h): they get h_n = h0, c_n = c0, zero outputs
 * and no gradient. */
#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>

#include "../plan_cache.h"
#include "cuda_check.h"
#include "lstm_cuda.h"

#define THREADS 256

/* A contiguous run of parameters: afsim's offset, cuDNN's, the length. */
typedef struct segment { size_t ours, theirs, len; } segment;
#define SEGMENTS 32 /* 2 directions x 8 matrices and 8 biases */

/* One layer shape (in, H, dirs, math), built once. */
typedef struct plan {
    cudnnRNNDescriptor_t rnn;
    size_t weight_bytes;
    float *weights, *dweights;  /* cuDNN's weight space and its gradient */
    segment *segs;              /* device [nseg] */
    int nseg;
    size_t max_seg;
} plan;

/* A device buffer that only grows. */
typedef struct grow { void *ptr; size_t bytes; } grow;

typedef struct lstm_state {
    cudnnHandle_t handle;
    int tf32;
    afs_plan_cache cache;
    plan plans[AFS_PLAN_SLOTS];
    cudnnRNNDataDescriptor_t x, y;  /* re-set every call: lengths change */
    cudnnTensorDescriptor_t h;
    grow temp;    /* cuDNN's workspace */
    grow reserve; /* the backward's copy of the forward's reserve space */
    grow rows;    /* int32: the device copy of the staged ints (lengths, row maps) */
    grow pack;    /* packed copies of the tensors of the non-empty rows */
    int *host;    /* host ints, see host_ints */
    size_t host_cap;
    /* The last batch batch_of staged, see staged_ints: its host ints, and
     * what it was made from and found. */
    struct {
        int *pinned;        /* page-locked: the lengths [B], then the staged ints */
        size_t cap;         /* ints */
        cudaEvent_t copied; /* recorded after the copy out of pinned */
        int valid, B, S, n, total, maxlen;
    } stage;
    /* full_reserve's last answer: asking cuDNN costs a pass over B lengths */
    struct { const plan *p; afs_lstm_desc d; int tf32; size_t bytes; } full;
} lstm_state;

static lstm_state *state_of(afs_backend *b) { return *(lstm_state **)afs_cuda_lstm_slot(b); }

static void *grow_to(grow *g, size_t bytes)
{
    if (g->bytes < bytes) {
        if (g->ptr)
            CUDA_CHECK(cudaFree(g->ptr));
        CUDA_CHECK(cudaMalloc(&g->ptr, bytes));
        g->bytes = bytes;
    }
    return g->ptr;
}

/* cuDNN's math mode: FMA only (no TF32, whatever the card) unless nn.tf32;
 * CUDNN_DEFAULT_MATH lets cuDNN use TF32 tensor cores on A100 and newer. */
static cudnnMathType_t math_of(int tf32) { return tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH; }

/* The RNN descriptor of a layer: host-only, needs no device. */
static cudnnStatus_t describe(cudnnRNNDescriptor_t r, int in, int H, int dirs, int tf32)
{
    return cudnnSetRNNDescriptor_v8(
        r, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
        dirs == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
        CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, math_of(tf32), in, H, H, 1, NULL,
        CUDNN_RNN_PADDED_IO_DISABLED);
}

int afs_lstm_cuda_math_type(int in, int H, int dirs, int tf32)
{
    cudnnRNNDescriptor_t r;
    cudnnRNNAlgo_t algo;
    cudnnRNNMode_t mode;
    cudnnRNNBiasMode_t bias;
    cudnnDirectionMode_t dir;
    cudnnRNNInputMode_t input;
    cudnnDataType_t data, prec;
    cudnnMathType_t math = (cudnnMathType_t)-1;
    int32_t in_size, hidden, proj, layers;
    cudnnDropoutDescriptor_t drop;
    uint32_t aux;
    if (cudnnCreateRNNDescriptor(&r) != CUDNN_STATUS_SUCCESS)
        return -1;
    if (describe(r, in, H, dirs, tf32) != CUDNN_STATUS_SUCCESS ||
        cudnnGetRNNDescriptor_v8(r, &algo, &mode, &bias, &dir, &input, &data, &prec, &math,
                                 &in_size, &hidden, &proj, &layers, &drop, &aux) !=
            CUDNN_STATUS_SUCCESS)
        math = (cudnnMathType_t)-1;
    cudnnDestroyRNNDescriptor(r);
    return (int)math;
}

/* afsim's offsets of gate k's matrix and bias in direction dir (kernels/common/lstm_layout.h);
 * cuDNN's linear layer k < 4 is the input matrix of gate k, k >= 4 the
 * recurrent one of gate k - 4, each with its own bias. */
static void afsim_slot(const afs_lstm_desc *d, int dir, int k, segment *mat, segment *bias)
{
    size_t base = afs_lstm_dir_params(d) * (size_t)dir, H = (size_t)d->H, H4 = 4 * H;
    size_t gate = (size_t)(k % 4);
    if (k < 4) {
        mat->ours = base + gate * H * d->in;
        mat->len = H * d->in;
        bias->ours = base + H4 * (d->in + d->H) + gate * H;
    } else {
        mat->ours = base + H4 * d->in + gate * H * H;
        mat->len = H * H;
        bias->ours = base + H4 * (d->in + d->H) + H4 + gate * H;
    }
    bias->len = H;
}

/* The segment table of a plan: where cuDNN keeps each matrix and bias. */
static void map_segments(cudnnHandle_t h, const afs_lstm_desc *d, plan *p)
{
    segment host[SEGMENTS];
    cudnnTensorDescriptor_t md, bd;
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&md));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&bd));
    p->nseg = 0;
    p->max_seg = 0;
    for (int dir = 0; dir < d->dirs; dir++)
        for (int k = 0; k < 8; k++) {
            float *mat, *bias;
            segment *sm = &host[p->nseg++], *sb = &host[p->nseg++];
            CUDNN_CHECK(cudnnGetRNNWeightParams(h, p->rnn, dir, p->weight_bytes, p->weights, k,
                                                md, (void **)&mat, bd, (void **)&bias));
            afsim_slot(d, dir, k, sm, sb);
            sm->theirs = (size_t)(mat - p->weights);
            sb->theirs = (size_t)(bias - p->weights);
            p->max_seg = sm->len > p->max_seg ? sm->len : p->max_seg;
        }
    CUDNN_CHECK(cudnnDestroyTensorDescriptor(md));
    CUDNN_CHECK(cudnnDestroyTensorDescriptor(bd));
    CUDA_CHECK(cudaMalloc(&p->segs, (size_t)p->nseg * sizeof(segment)));
    CUDA_CHECK(cudaMemcpy(p->segs, host, (size_t)p->nseg * sizeof(segment), cudaMemcpyHostToDevice));
}

static void plan_build(lstm_state *st, const afs_lstm_desc *d, plan *p)
{
    CUDNN_CHECK(cudnnCreateRNNDescriptor(&p->rnn));
    CUDNN_CHECK(describe(p->rnn, d->in, d->H, d->dirs, st->tf32));
    CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(st->handle, p->rnn, &p->weight_bytes));
    CUDA_CHECK(cudaMalloc(&p->weights, p->weight_bytes));
    CUDA_CHECK(cudaMalloc(&p->dweights, p->weight_bytes));
    map_segments(st->handle, d, p);
}

static void plan_destroy(plan *p)
{
    CUDA_CHECK(cudaFree(p->segs));
    CUDA_CHECK(cudaFree(p->weights));
    CUDA_CHECK(cudaFree(p->dweights));
    CUDNN_CHECK(cudnnDestroyRNNDescriptor(p->rnn));
}

static plan *plan_for(lstm_state *st, const afs_lstm_desc *d)
{
    int key[AFS_PLAN_KEY] = {d->in, d->H, d->dirs, st->tf32}, build, evict;
    int slot = afs_plan_lookup(&st->cache, key, &build, &evict);
    if (evict) {
        plan_destroy(&st->plans[slot]);
        st->full.p = NULL;
    }
    if (build)
        plan_build(st, d, &st->plans[slot]);
    return &st->plans[slot];
}

/* Copies afsim's parameters into cuDNN's weight space (to_cudnn) or adds
 * cuDNN's weight gradients into afsim's; one block row per segment. */
__global__ void k_exchange(const segment *segs, float *ours, float *theirs, int to_cudnn)
{
    segment s = segs[blockIdx.y];
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= s.len)
        return;
    if (to_cudnn)
        theirs[s.theirs + i] = ours[s.ours + i];
    else
        ours[s.ours + i] += theirs[s.theirs + i];
}

static void exchange(const plan *p, float *ours, float *theirs, int to_cudnn)
{
    dim3 grid((unsigned)((p->max_seg + THREADS - 1) / THREADS), (unsigned)p->nseg);
    k_exchange<<<grid, THREADS>>>(p->segs, ours, theirs, to_cudnn);
    CUDA_CHECK_LAUNCH();
}

/* Moves n rows of `width` floats in each of `outer` blocks:
 * dst[t, dst_row(j)] = src[t, src_row(j)] for j < n, where a NULL map is
 * the identity and a NULL src writes zeros. Gathers the non-empty rows into
 * the packed batch, scatters results back, fills the empty rows. */
__global__ void k_move_rows(int outer, int n, int width, const float *src, int src_rows,
                            const int *src_map, float *dst, int dst_rows, const int *dst_map)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= (size_t)outer * n * width)
        return;
    int k = (int)(i % width), j = (int)(i / width % n), t = (int)(i / width / n);
    size_t to = ((size_t)t * dst_rows + (dst_map ? dst_map[j] : j)) * width + k;
    dst[to] = src ? src[((size_t)t * src_rows + (src_map ? src_map[j] : j)) * width + k] : 0.0f;
}

static void move_rows(int outer, int n, int width, const float *src, int src_rows,
                      const int *src_map, float *dst, int dst_rows, const int *dst_map)
{
    size_t total = (size_t)outer * n * width;
    if (!total || !dst)
        return;
    k_move_rows<<<(unsigned)((total + THREADS - 1) / THREADS), THREADS>>>(
        outer, n, width, src, src_rows, src_map, dst, dst_rows, dst_map);
    CUDA_CHECK_LAUNCH();
}

/* One call's batch in cuDNN's packed layout: the n non-empty rows of B,
 * sorted by length, longest first; `total` packed rows, time step after
 * time step (step t holds the sorted rows longer than t). */
typedef struct batch {
    int B, S, n, total;
    int maxlen;        /* the longest sequence */
    const int *len;    /* host [n]: the sorted lengths */
    const int *dev_len;/* device [n]: the same */
    const int *map;    /* device [n]: sorted row j is row map[j] */
    const int *empty;  /* device [B - n]: the empty rows */
    const int *seq;    /* device [total]: packed row p is padded row seq[p] (t B + row) */
    char *cursor;      /* next free byte of st->pack */
} batch;

/* The host ints of a call on B rows: rows [B] (non-empty ones first, see
 * afs_lstm_nonempty) and full [B] (every row at full length, for
 * lstm_work_bytes). What goes to the device is in staged_ints. */
static int *host_ints(lstm_state *st, int B, int S)
{
    size_t need = 2 * (size_t)B;
    if (st->host_cap < need) {
        free(st->host);
        st->host = (int *)malloc(need * sizeof(int));
        if (!st->host) {
            fprintf(stderr, "afsim: out of host memory in the cuDNN LSTM (B = %d, S = %d)\n", B, S);
            exit(1);
        }
        st->host_cap = need;
    }
    return st->host;
}

static int *full_of(lstm_state *st, const afs_lstm_desc *d) { return host_ints(st, d->B, d->S) + d->B; }

/* Whether this call's batch is the one staged last: the same shape and
 * lengths give the same sorted lengths and row maps. */
static int staged_already(const lstm_state *st, const afs_lstm_desc *d, const int *lengths)
{
    return st->stage.valid && st->stage.B == d->B && st->stage.S == d->S &&
           !memcmp(st->stage.pinned, lengths, (size_t)d->B * sizeof(int));
}

/* The page-locked ints of a new batch on B rows of up to S steps: the
 * lengths [B] it is made from, then what goes to the device, [B + n +
 * total] at most (S + 2) B: sorted lengths, map, empty rows, seq. Waits
 * for the copy out of them first: cudaMemcpyAsync reads them when the
 * device gets to it, which may be after the call that queued it returned. */
static int *staged_ints(lstm_state *st, int B, int S)
{
    size_t need = ((size_t)S + 3) * (size_t)B;
    CUDA_CHECK(cudaEventSynchronize(st->stage.copied)); /* at once before any copy */
    st->stage.valid = 0;
    if (st->stage.cap < need) {
        if (st->stage.pinned)
            CUDA_CHECK(cudaFreeHost(st->stage.pinned));
        st->stage.pinned = NULL;
        st->stage.cap = 0;
        if (cudaMallocHost((void **)&st->stage.pinned, need * sizeof(int)) != cudaSuccess) {
            fprintf(stderr, "afsim: out of page-locked host memory in the cuDNN LSTM (B = %d, "
                            "S = %d)\n", B, S);
            exit(1);
        }
        st->stage.cap = need;
    }
    return st->stage.pinned;
}

/* Copies `ints` staged ints to the device behind the work queued so far,
 * without waiting for it, and marks when the page-locked source is free. */
static void copy_staged(lstm_state *st, const int *src, size_t ints)
{
    int *dev = (int *)grow_to(&st->rows, ints * sizeof(int));
    CUDA_CHECK(cudaMemcpyAsync(dev, src, ints * sizeof(int), cudaMemcpyHostToDevice, 0));
    CUDA_CHECK(cudaEventRecord(st->stage.copied, 0));
}

/* Sorts the n non-empty rows by length, longest first, ties by row (a
 * counting sort: lengths are 1..S), into len [n] and map [n]; returns the
 * longest length. */
static int sort_by_length(const int *lengths, const int *rows, int n, int S, int *len, int *map)
{
    int *at = (int *)calloc((size_t)S + 2, sizeof(int));
    if (!at) {
        fprintf(stderr, "afsim: out of host memory in the cuDNN LSTM\n");
        exit(1);
    }
    for (int j = 0; j < n; j++) {
        int l = lengths[rows[j]];
        if (l > S) {
            fprintf(stderr, "afsim: cuDNN LSTM: row %d has length %d, more than S = %d\n",
                    rows[j], l, S);
            exit(1);
        }
        at[S - l + 1]++; /* longest first: length l goes to bucket S - l */
    }
    for (int k = 1; k <= S; k++)
        at[k] += at[k - 1];
    for (int j = 0; j < n; j++) {
        int l = lengths[rows[j]], to = at[S - l]++;
        len[to] = l;
        map[to] = rows[j];
    }
    free(at);
    return n ? len[0] : 0;
}

/* Sorts and maps a new batch into the page-locked ints (see staged_ints)
 * and copies them to the device. */
static void stage_batch(lstm_state *st, const afs_lstm_desc *d, const int *lengths)
{
    int *key = staged_ints(st, d->B, d->S), *stage = key + d->B;
    int *rows = host_ints(st, d->B, d->S);
    int n = afs_lstm_nonempty(lengths, d->B, rows, stage); /* stage: overwritten below */
    int *len = stage, *map = stage + n, *empty = map + n, *seq = empty + (d->B - n);
    int maxlen = sort_by_length(lengths, rows, n, d->S, len, map), total = 0;
    memcpy(empty, rows + n, (size_t)(d->B - n) * sizeof(int));
    for (int t = 0; t < maxlen; t++)
        for (int j = 0; j < n && len[j] > t; j++)
            seq[total++] = t * d->B + map[j];
    copy_staged(st, stage, (size_t)d->B + n + total);
    memcpy(key, lengths, (size_t)d->B * sizeof(int));
    st->stage.B = d->B;
    st->stage.S = d->S;
    st->stage.n = n;
    st->stage.total = total;
    st->stage.maxlen = maxlen;
    st->stage.valid = 1;
}

/* This call's batch: the one staged last when the lengths are the same (its
 * device ints stay as they are until a batch of other lengths is staged,
 * behind every call queued before), else a new one. */
static batch batch_of(lstm_state *st, const afs_lstm_desc *d, const int *lengths)
{
    if (!staged_already(st, d, lengths))
        stage_batch(st, d, lengths);
    batch bt = {d->B, d->S, st->stage.n, st->stage.total, st->stage.maxlen, NULL, NULL, NULL,
                NULL, NULL, NULL};
    const int *dev = (const int *)st->rows.ptr;
    bt.len = st->stage.pinned + d->B;
    bt.dev_len = dev;
    bt.map = dev + bt.n;
    bt.empty = dev + 2 * bt.n;
    bt.seq = dev + d->B + bt.n;
    return bt;
}

/* Room for a packed tensor of `floats` floats, 256-byte aligned. */
static float *take(batch *bt, size_t floats)
{
    float *p = (float *)bt->cursor;
    bt->cursor += (floats * sizeof(float) + 255) / 256 * 256;
    return p;
}

/* Packed copy of a state [outer, B, width] (NULL stays NULL): the sorted rows. */
static float *gather(batch *bt, int outer, int width, const float *src)
{
    if (!src)
        return NULL;
    float *dst = take(bt, (size_t)outer * bt->n * width);
    move_rows(outer, bt->n, width, src, bt->B, bt->map, dst, bt->n, NULL);
    return dst;
}

/* Packed copy [total, width] of a sequence tensor [S, B, width] (NULL stays NULL). */
static float *pack(batch *bt, int width, const float *src)
{
    if (!src)
        return NULL;
    float *dst = take(bt, (size_t)bt->total * width);
    move_rows(1, bt->total, width, src, 0, bt->seq, dst, bt->total, NULL);
    return dst;
}

/* Scatters a packed [total, width] into a padded [S, B, width] (its padding
 * left as it is). */
static void unpack(const batch *bt, int width, const float *src, float *dst)
{
    move_rows(1, bt->total, width, src, bt->total, NULL, dst, 0, bt->seq);
}

static void reserve_pack(lstm_state *st, batch *bt, const afs_lstm_desc *d)
{
    size_t T = (size_t)bt->total, n = (size_t)bt->n, DH = (size_t)d->dirs * d->H;
    size_t floats = T * d->in * 2 + T * DH * 2 + n * DH * 4; /* the backward's set */
    bt->cursor = (char *)grow_to(&st->pack, floats * sizeof(float) + 16 * 256);
}

/* Sets the packed input descriptor for n rows of the sorted lengths len
 * (host) and sizes cuDNN's buffers for them. */
static void size_for(lstm_state *st, const plan *p, const afs_lstm_desc *d, int n, int maxlen,
                     const int *len, size_t *work_bytes, size_t *reserve_bytes)
{
    CUDNN_CHECK(cudnnSetRNNDataDescriptor(st->x, CUDNN_DATA_FLOAT,
                                          CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, maxlen, n,
                                          d->in, len, NULL));
    CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(st->handle, p->rnn, CUDNN_FWD_MODE_TRAINING, st->x,
                                          work_bytes, reserve_bytes));
}

/* Reserve space for every row at full length: what the caller allocates.
 * Asked for on every call, so the last answer is kept. */
static size_t full_reserve(lstm_state *st, const plan *p, const afs_lstm_desc *d)
{
    size_t work = 0, reserve = 0;
    if (d->B <= 0 || d->S <= 0)
        return 0;
    if (st->full.p == p && st->full.tf32 == st->tf32 && !memcmp(&st->full.d, d, sizeof *d))
        return st->full.bytes;
    int *full = full_of(st, d);
    for (int i = 0; i < d->B; i++)
        full[i] = d->S;
    size_for(st, p, d, d->B, d->S, full, &work, &reserve);
    st->full.p = p;
    st->full.d = *d;
    st->full.tf32 = st->tf32;
    st->full.bytes = reserve;
    return reserve;
}

static size_t lstm_work_bytes(afs_backend *b, const afs_lstm_desc *d)
{
    lstm_state *st = state_of(b);
    return full_reserve(st, plan_for(st, d), d);
}

/* Sets every descriptor for this call's batch and sizes cuDNN's buffers.
 * The packed batch's reserve space must fit the caller's work buffer, sized
 * by lstm_work_bytes for every row at full length. */
static void describe_call(lstm_state *st, const plan *p, const afs_lstm_desc *d,
                          const batch *bt, size_t *work_bytes, size_t *reserve_bytes)
{
    size_t have = full_reserve(st, p, d);
    size_for(st, p, d, bt->n, bt->maxlen, bt->len, work_bytes, reserve_bytes);
    if (*reserve_bytes > have) {
        fprintf(stderr, "afsim: cuDNN LSTM needs %zu bytes of reserve space, more than the %zu "
                        "of lstm_work_bytes (S %d, B %d, in %d, H %d)\n",
                *reserve_bytes, have, d->S, d->B, d->in, d->H);
        exit(1);
    }
    CUDNN_CHECK(cudnnSetRNNDataDescriptor(st->y, CUDNN_DATA_FLOAT,
                                          CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, bt->maxlen,
                                          bt->n, d->dirs * d->H, bt->len, NULL));
    int dims[3] = {d->dirs, bt->n, d->H}, strides[3] = {bt->n * d->H, d->H, 1};
    CUDNN_CHECK(cudnnSetTensorNdDescriptor(st->h, CUDNN_DATA_FLOAT, 3, dims, strides));
}

/* What the forward and the backward do first: descriptors and buffer sizes
 * for this batch, parameters into cuDNN's weight space; returns the
 * workspace. */
static void *prepare_call(lstm_state *st, const plan *p, const afs_lstm_desc *d, const batch *bt,
                          const float *params, size_t *work_bytes, size_t *reserve_bytes)
{
    describe_call(st, p, d, bt, work_bytes, reserve_bytes);
    exchange(p, (float *)params, p->weights, 1);
    return grow_to(&st->temp, *work_bytes ? *work_bytes : 1);
}

/* cuDNN runs on packed copies only, so h0 may be h_n and c0 c_n (the
 * recurrent cell stepped in place): the initial states are read into the
 * packed batch before anything is written back. */
static void lstm_forward(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                         const float *x, const float *params, const float *h0, const float *c0,
                         float *h_out, float *h_n, float *c_n, float *work)
{
    lstm_state *st = state_of(b);
    size_t DH = (size_t)d->dirs * d->H;
    if (d->B <= 0)
        return;
    CUDA_CHECK(cudaMemsetAsync(h_out, 0, (size_t)d->S * d->B * DH * sizeof(float)));
    plan *p = plan_for(st, d);
    batch bt = batch_of(st, d, lengths);
    int nempty = d->B - bt.n;
    move_rows(d->dirs, nempty, d->H, h0, d->B, bt.empty, h_n, d->B, bt.empty);
    move_rows(d->dirs, nempty, d->H, c0, d->B, bt.empty, c_n, d->B, bt.empty);
    if (!bt.n)
        return;
    size_t work_bytes, reserve_bytes;
    void *temp = prepare_call(st, p, d, &bt, params, &work_bytes, &reserve_bytes);
    reserve_pack(st, &bt, d);
    const float *px = pack(&bt, d->in, x);
    const float *ph0 = gather(&bt, d->dirs, d->H, h0), *pc0 = gather(&bt, d->dirs, d->H, c0);
    float *py = take(&bt, (size_t)bt.total * DH);
    float *phn = h_n ? take(&bt, (size_t)d->dirs * bt.n * d->H) : NULL;
    float *pcn = c_n ? take(&bt, (size_t)d->dirs * bt.n * d->H) : NULL;
    CUDNN_CHECK(cudnnRNNForward(st->handle, p->rnn, CUDNN_FWD_MODE_TRAINING, bt.dev_len, st->x,
                                px, st->y, py, st->h, ph0, phn, st->h, pc0, pcn, p->weight_bytes,
                                p->weights, work_bytes, temp, reserve_bytes, work));
    unpack(&bt, (int)DH, py, h_out);
    move_rows(d->dirs, bt.n, d->H, phn, bt.n, NULL, h_n, d->B, bt.map);
    move_rows(d->dirs, bt.n, d->H, pcn, bt.n, NULL, c_n, d->B, bt.map);
}

static void lstm_backward(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                          const float *x, const float *params, const float *h0,
                          const float *c0, const float *work, const float *h_out,
                          const float *dh_out, const float *dh_n, float *dx, float *dparams)
{
    lstm_state *st = state_of(b);
    size_t DH = (size_t)d->dirs * d->H, nx = (size_t)d->S * d->B * d->in;
    if (d->B <= 0)
        return;
    /* Zeros at padded positions (and for empty rows), as on the CPU. */
    if (dx)
        CUDA_CHECK(cudaMemsetAsync(dx, 0, nx * sizeof(float)));
    plan *p = plan_for(st, d);
    batch bt = batch_of(st, d, lengths);
    if (!bt.n)
        return;
    size_t work_bytes, reserve_bytes;
    void *temp = prepare_call(st, p, d, &bt, params, &work_bytes, &reserve_bytes);
    void *reserve = grow_to(&st->reserve, reserve_bytes ? reserve_bytes : 1);
    CUDA_CHECK(cudaMemcpyAsync(reserve, work, reserve_bytes, cudaMemcpyDeviceToDevice));
    reserve_pack(st, &bt, d);
    const float *px = pack(&bt, d->in, x), *py = pack(&bt, (int)DH, h_out);
    const float *pdy = pack(&bt, (int)DH, dh_out), *pdhn = gather(&bt, d->dirs, d->H, dh_n);
    const float *ph0 = gather(&bt, d->dirs, d->H, h0), *pc0 = gather(&bt, d->dirs, d->H, c0);
    float *pdx = take(&bt, (size_t)bt.total * d->in); /* cuDNN always writes dx */
    /* The data pass must come first: it leaves in the reserve space what the
     * weight pass reads. */
    CUDNN_CHECK(cudnnRNNBackwardData_v8(st->handle, p->rnn, bt.dev_len, st->y, py, pdy, st->x,
                                        pdx, st->h, ph0, pdhn, NULL, st->h, pc0, NULL, NULL,
                                        p->weight_bytes, p->weights, work_bytes, temp,
                                        reserve_bytes, reserve));
    CUDA_CHECK(cudaMemsetAsync(p->dweights, 0, p->weight_bytes));
    CUDNN_CHECK(cudnnRNNBackwardWeights_v8(st->handle, p->rnn, CUDNN_WGRAD_MODE_ADD, bt.dev_len,
                                           st->x, px, st->h, ph0, st->y, py, p->weight_bytes,
                                           p->dweights, work_bytes, temp, reserve_bytes,
                                           reserve));
    exchange(p, dparams, p->dweights, 0);
    if (dx)
        unpack(&bt, d->in, pdx, dx);
}

/* Plans are keyed by the math mode too: switching builds (or finds) them. */
void afs_lstm_cuda_set_tf32(afs_backend *b, int on) { state_of(b)->tf32 = on != 0; }

unsigned long long afs_lstm_cuda_plan_builds(afs_backend *b)
{
    return state_of(b)->cache.builds;
}

int afs_lstm_cuda_install(afs_backend *b, char *err, size_t err_len)
{
    lstm_state *st = (lstm_state *)calloc(1, sizeof *st);
    *(lstm_state **)afs_cuda_lstm_slot(b) = st;
    if (!st) {
        snprintf(err, err_len, "out of host memory");
        return -1;
    }
    cudnnStatus_t rc = cudnnCreate(&st->handle);
    if (rc != CUDNN_STATUS_SUCCESS) {
        snprintf(err, err_len, "cannot start cuDNN: %s", cudnnGetErrorString(rc));
        st->handle = NULL;
        return -1;
    }
    /* cuDNN 9 loads its RNN part (libcudnn_adv) on first use: a missing
     * one shows here, as a backend that cannot start, not as an exit. */
    if ((rc = cudnnCreateRNNDataDescriptor(&st->x)) != CUDNN_STATUS_SUCCESS ||
        (rc = cudnnCreateRNNDataDescriptor(&st->y)) != CUDNN_STATUS_SUCCESS ||
        (rc = cudnnCreateTensorDescriptor(&st->h)) != CUDNN_STATUS_SUCCESS) {
        snprintf(err, err_len, "cannot use cuDNN's RNN functions (libcudnn_adv): %s",
                 cudnnGetErrorString(rc));
        return -1;
    }
    cudaError_t crc = cudaEventCreateWithFlags(&st->stage.copied, cudaEventDisableTiming);
    if (crc != cudaSuccess) {
        snprintf(err, err_len, "cannot create a CUDA event: %s", cudaGetErrorString(crc));
        st->stage.copied = NULL;
        return -1;
    }
    b->lstm_forward = lstm_forward;
    b->lstm_backward = lstm_backward;
    b->lstm_work_bytes = lstm_work_bytes;
    return 0;
}

void afs_lstm_cuda_release(afs_backend *b)
{
    lstm_state *st = state_of(b);
    if (!st)
        return;
    for (int s = 0; s < st->cache.filled; s++)
        plan_destroy(&st->plans[s]);
    if (st->stage.copied) {
        CUDA_CHECK(cudaEventSynchronize(st->stage.copied)); /* the copy out of pinned */
        CUDA_CHECK(cudaEventDestroy(st->stage.copied));
    }
    if (st->stage.pinned)
        CUDA_CHECK(cudaFreeHost(st->stage.pinned));
    grow *bufs[4] = {&st->temp, &st->reserve, &st->rows, &st->pack};
    for (int i = 0; i < 4; i++)
        if (bufs[i]->ptr)
            CUDA_CHECK(cudaFree(bufs[i]->ptr));
    if (st->x)
        cudnnDestroyRNNDataDescriptor(st->x);
    if (st->y)
        cudnnDestroyRNNDataDescriptor(st->y);
    if (st->h)
        cudnnDestroyTensorDescriptor(st->h);
    if (st->handle)
        cudnnDestroy(st->handle);
    free(st->host);
    free(st);
    *(lstm_state **)afs_cuda_lstm_slot(b) = NULL;
}
