/* LSTM through time on CUDA with cuDNN's RNN API (cudnnRNNForward and the
 * v8 backward calls), padded variable-length sequences in the time-major
 * unpacked layout. afsim keeps the parameters in its own layout
 * (models/lstm.h, shared with the CPU backend); they are copied into cuDNN's
 * weight space before each call, and cuDNN's weight gradients are added back
 * into afsim's layout after the backward. The forward's reserve space is the
 * caller's `work` buffer, so the backward finds it there. */
#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda_check.h"
#include "lstm_cuda.h"


/* Everything cuDNN needs for one shape, made per call (shapes change with the
 * communication groups) and destroyed after. */
typedef struct rnn {
    cudnnRNNDescriptor_t rnn;
    cudnnRNNDataDescriptor_t x, y;
    cudnnTensorDescriptor_t h;
    int32_t *dev_lengths;
    size_t weight_bytes, work_bytes, reserve_bytes;
    void *weights, *temp;
} rnn;

static cudnnHandle_t handle_of(afs_backend *b) { return *(cudnnHandle_t *)afs_cuda_dnn_slot(b); }

static void rnn_open(afs_backend *b, const afs_lstm_desc *d, const int *lengths, rnn *r)
{
    cudnnHandle_t h = handle_of(b);
    CUDNN_CHECK(cudnnCreateRNNDescriptor(&r->rnn));
    CUDNN_CHECK(cudnnSetRNNDescriptor_v8(
        r->rnn, CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
        d->dirs == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
        CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, CUDNN_DEFAULT_MATH, d->in, d->H, d->H, 1, NULL,
        CUDNN_RNN_PADDED_IO_ENABLED));
    float zero = 0.0f;
    CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&r->x));
    CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&r->y));
    CUDNN_CHECK(cudnnSetRNNDataDescriptor(r->x, CUDNN_DATA_FLOAT,
                                          CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, d->S, d->B,
                                          d->in, lengths, &zero));
    CUDNN_CHECK(cudnnSetRNNDataDescriptor(r->y, CUDNN_DATA_FLOAT,
                                          CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, d->S, d->B,
                                          d->dirs * d->H, lengths, &zero));
    int dims[3] = {d->dirs, d->B, d->H}, strides[3] = {d->B * d->H, d->H, 1};
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&r->h));
    CUDNN_CHECK(cudnnSetTensorNdDescriptor(r->h, CUDNN_DATA_FLOAT, 3, dims, strides));
    CUDA_CHECK(cudaMalloc(&r->dev_lengths, (size_t)d->B * sizeof(int32_t)));
    CUDA_CHECK(cudaMemcpy(r->dev_lengths, lengths, (size_t)d->B * sizeof(int32_t),
                          cudaMemcpyHostToDevice));
    CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(h, r->rnn, &r->weight_bytes));
    CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(h, r->rnn, CUDNN_FWD_MODE_TRAINING, r->x,
                                          &r->work_bytes, &r->reserve_bytes));
    CUDA_CHECK(cudaMalloc(&r->weights, r->weight_bytes));
    CUDA_CHECK(cudaMalloc(&r->temp, r->work_bytes ? r->work_bytes : 1));
}

static void rnn_close(rnn *r)
{
    CUDA_CHECK(cudaFree(r->temp));
    CUDA_CHECK(cudaFree(r->weights));
    CUDA_CHECK(cudaFree(r->dev_lengths));
    CUDNN_CHECK(cudnnDestroyTensorDescriptor(r->h));
    CUDNN_CHECK(cudnnDestroyRNNDataDescriptor(r->x));
    CUDNN_CHECK(cudnnDestroyRNNDataDescriptor(r->y));
    CUDNN_CHECK(cudnnDestroyRNNDescriptor(r->rnn));
}

/* Where cuDNN keeps gate k's input (k < 4) or recurrent (k >= 4) matrix and
 * bias of direction dir, inside a weight space. */
static void cudnn_slot(afs_backend *b, rnn *r, void *space, int dir, int k, float **mat,
                       float **bias)
{
    cudnnTensorDescriptor_t md, bd;
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&md));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&bd));
    CUDNN_CHECK(cudnnGetRNNWeightParams(handle_of(b), r->rnn, dir, r->weight_bytes, space, k,
                                        md, (void **)mat, bd, (void **)bias));
    CUDNN_CHECK(cudnnDestroyTensorDescriptor(md));
    CUDNN_CHECK(cudnnDestroyTensorDescriptor(bd));
}

/* afsim's offsets of gate k's matrix and bias in direction dir (models/lstm.h). */
static void afsim_slot(const afs_lstm_desc *d, int dir, int k, size_t *mat, size_t *bias,
                       size_t *mat_len)
{
    size_t base = afs_lstm_dir_params(d) * (size_t)dir, H = (size_t)d->H, H4 = 4 * H;
    size_t gate = (size_t)(k % 4);
    if (k < 4) {
        *mat = base + gate * H * d->in;
        *mat_len = H * d->in;
        *bias = base + H4 * (d->in + d->H) + gate * H;
    } else {
        *mat = base + H4 * d->in + gate * H * H;
        *mat_len = H * H;
        *bias = base + H4 * (d->in + d->H) + H4 + gate * H;
    }
}

/* dst[i] += src[i] */
__global__ void k_add(size_t n, const float *src, float *dst)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        dst[i] += src[i];
}

/* Copies afsim's parameters into cuDNN's weight space (to_cudnn) or adds
 * cuDNN's weight gradients into afsim's (the other way). */
static void exchange(afs_backend *b, const afs_lstm_desc *d, rnn *r, void *space, float *ours,
                     int to_cudnn)
{
    for (int dir = 0; dir < d->dirs; dir++)
        for (int k = 0; k < 8; k++) {
            float *mat, *bias;
            size_t m, bo, len;
            cudnn_slot(b, r, space, dir, k, &mat, &bias);
            afsim_slot(d, dir, k, &m, &bo, &len);
            if (to_cudnn) {
                CUDA_CHECK(cudaMemcpy(mat, ours + m, len * sizeof(float), cudaMemcpyDeviceToDevice));
                CUDA_CHECK(cudaMemcpy(bias, ours + bo, (size_t)d->H * sizeof(float),
                                      cudaMemcpyDeviceToDevice));
            } else {
                k_add<<<(unsigned)((len + 255) / 256), 256>>>(len, mat, ours + m);
                CUDA_CHECK_LAUNCH();
                k_add<<<(unsigned)((d->H + 255) / 256), 256>>>((size_t)d->H, bias, ours + bo);
                CUDA_CHECK_LAUNCH();
            }
        }
}

static size_t lstm_work_bytes(afs_backend *b, const afs_lstm_desc *d)
{
    int *lengths = (int *)malloc((size_t)d->B * sizeof(int));
    for (int i = 0; i < d->B; i++)
        lengths[i] = d->S;
    rnn r;
    rnn_open(b, d, lengths, &r);
    size_t bytes = r.reserve_bytes;
    rnn_close(&r);
    free(lengths);
    return bytes;
}

static void lstm_forward(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                         const float *x, const float *params, const float *h0, const float *c0,
                         float *h_out, float *h_n, float *c_n, float *work)
{
    rnn r;
    rnn_open(b, d, lengths, &r);
    exchange(b, d, &r, r.weights, (float *)params, 1);
    CUDNN_CHECK(cudnnRNNForward(handle_of(b), r.rnn, CUDNN_FWD_MODE_TRAINING, r.dev_lengths,
                                r.x, x, r.y, h_out, r.h, h0, h_n, r.h, c0, c_n, r.weight_bytes,
                                r.weights, r.work_bytes, r.temp, r.reserve_bytes, work));
    rnn_close(&r);
}

static void lstm_backward(afs_backend *b, const afs_lstm_desc *d, const int *lengths,
                          const float *x, const float *params, const float *h0,
                          const float *c0, const float *work, const float *h_out,
                          const float *dh_out, const float *dh_n, float *dx, float *dparams)
{
    rnn r;
    rnn_open(b, d, lengths, &r);
    exchange(b, d, &r, r.weights, (float *)params, 1);
    float *dx_buf = dx;
    if (!dx_buf)
        CUDA_CHECK(cudaMalloc(&dx_buf, (size_t)d->S * d->B * d->in * sizeof(float)));
    /* The data pass must come first: it leaves in the reserve space what the
     * weight pass reads. */
    CUDNN_CHECK(cudnnRNNBackwardData_v8(handle_of(b), r.rnn, r.dev_lengths, r.y, h_out, dh_out,
                                        r.x, dx_buf, r.h, h0, dh_n, NULL, r.h, c0, NULL, NULL,
                                        r.weight_bytes, r.weights, r.work_bytes, r.temp,
                                        r.reserve_bytes, (void *)work));
    void *dweights;
    CUDA_CHECK(cudaMalloc(&dweights, r.weight_bytes));
    CUDA_CHECK(cudaMemset(dweights, 0, r.weight_bytes));
    CUDNN_CHECK(cudnnRNNBackwardWeights_v8(handle_of(b), r.rnn, CUDNN_WGRAD_MODE_ADD,
                                           r.dev_lengths, r.x, x, r.h, h0, r.y, h_out,
                                           r.weight_bytes, dweights, r.work_bytes, r.temp,
                                           r.reserve_bytes, (void *)work));
    exchange(b, d, &r, dweights, dparams, 0);
    CUDA_CHECK(cudaFree(dweights));
    if (!dx)
        CUDA_CHECK(cudaFree(dx_buf));
    rnn_close(&r);
}

int afs_lstm_cuda_install(afs_backend *b, char *err, size_t err_len)
{
    cudnnHandle_t *h = (cudnnHandle_t *)afs_cuda_dnn_slot(b);
    cudnnStatus_t st = cudnnCreate(h);
    if (st != CUDNN_STATUS_SUCCESS) {
        snprintf(err, err_len, "cannot start cuDNN: %s", cudnnGetErrorString(st));
        *h = NULL;
        return -1;
    }
    b->lstm_forward = lstm_forward;
    b->lstm_backward = lstm_backward;
    b->lstm_work_bytes = lstm_work_bytes;
    return 0;
}

void afs_lstm_cuda_release(afs_backend *b)
{
    cudnnHandle_t *h = (cudnnHandle_t *)afs_cuda_dnn_slot(b);
    if (*h)
        cudnnDestroy(*h);
    *h = NULL;
}
