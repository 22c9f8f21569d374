/* CUDA neural-network operations: cuBLAS for the matrix products, small
 * kernels over kernels/common/nn_math.h for the rest. Every sum that feeds a
 * result (bias gradients, losses, norms) is reduced in a fixed order, so a
 * run is repeatable on one device. TF32 tensor-core math is off unless asked
 * for (afs_nn_cuda_set_tf32, from the nn.tf32 key). Empty work (a size of 0)
 * launches nothing: a grid of zero blocks is an invalid configuration. */
#include <cublas_v2.h>

#include "../common/nn_math.h"
#include "cuda_check.h"
#include "nn_cuda.h"


#define THREADS 256

static unsigned blocks_for(size_t n) { return (unsigned)((n + THREADS - 1) / THREADS); }

/* Launches kernel over n elements, one thread each, or nothing when n = 0. */
#define LAUNCH_N(n, kernel, ...)                                  \
    do {                                                          \
        if ((n) > 0) {                                            \
            kernel<<<blocks_for(n), THREADS>>>(__VA_ARGS__);      \
            CUDA_CHECK_LAUNCH();                                  \
        }                                                         \
    } while (0)

static cublasHandle_t handle_of(afs_backend *b) { return *(cublasHandle_t *)afs_cuda_blas_slot(b); }

void *afs_cuda_scratch_get(afs_backend *b, size_t bytes)
{
    afs_cuda_scratch *s = afs_cuda_scratch_of(b);
    if (s->bytes < bytes) {
        if (s->ptr)
            CUDA_CHECK(cudaFree(s->ptr));
        CUDA_CHECK(cudaMalloc(&s->ptr, bytes));
        s->bytes = bytes;
    }
    return s->ptr;
}

/* y[g, r, o] += bias[g, o] */
__global__ void k_add_bias(int G, int rows, int cols, const float *bias, float *y)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    size_t per = (size_t)rows * cols;
    if (i < (size_t)G * per)
        y[i] += bias[(i / per) * cols + i % cols];
}

/* Bias gradients db[g, o] += sum over rows of dy[g, r, o], in two passes
 * over a fixed partition of the rows, so the result is the same on every run
 * and every device. Pass 1: a block of 32 x BIAS_LANES threads sums `chunk`
 * rows of 32 columns (a warp reads 32 consecutive columns: coalesced), its
 * lanes combined in lane order. Pass 2 adds the chunk sums in chunk order.
 * (One thread per column summing all B rows leaves the device idle at large
 * B.) */
#define BIAS_LANES 8
#define BIAS_CHUNK 1024 /* rows per block, grown past 65535 chunks (grid.y) */

__global__ void k_bias_partial(int rows, int cols, int chunk, int chunks, const float *dy,
                               float *part)
{
    __shared__ float lane_sum[BIAS_LANES][32];
    int g = blockIdx.z, ch = blockIdx.y, c = blockIdx.x * 32 + threadIdx.x;
    long long r_end = min((long long)rows, (long long)(ch + 1) * chunk);
    const float *d = dy + (size_t)g * rows * cols;
    float s = 0.0f;
    if (c < cols)
        for (long long r = (long long)ch * chunk + threadIdx.y; r < r_end; r += BIAS_LANES)
            s += d[(size_t)r * cols + c];
    lane_sum[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        for (int k = 1; k < BIAS_LANES; k++)
            s += lane_sum[k][threadIdx.x];
        part[((size_t)g * chunks + ch) * cols + c] = s;
    }
}

__global__ void k_bias_total(int G, int cols, int chunks, const float *part, float *db)
{
    size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (k >= (size_t)G * cols)
        return;
    size_t g = k / cols, o = k % cols;
    float s = 0.0f;
    for (int ch = 0; ch < chunks; ch++)
        s += part[((size_t)g * chunks + ch) * cols + o];
    db[k] += s;
}

static void bias_grad(afs_backend *b, int G, int rows, int cols, const float *dy, float *db)
{
    int chunk = BIAS_CHUNK;
    while ((rows + (long long)chunk - 1) / chunk > 65535)
        chunk *= 2;
    int chunks = (int)((rows + (long long)chunk - 1) / chunk);
    float *part = (float *)afs_cuda_scratch_get(b, (size_t)G * chunks * cols * sizeof(float));
    dim3 grid((unsigned)((cols + 31) / 32), (unsigned)chunks, (unsigned)G);
    k_bias_partial<<<grid, dim3(32, BIAS_LANES)>>>(rows, cols, chunk, chunks, dy, part);
    CUDA_CHECK_LAUNCH();
    LAUNCH_N((size_t)G * cols, k_bias_total, G, cols, chunks, part, db);
}

/* Row-major C = A' B' is column-major C^T = B'^T A'^T: B's storage read
 * as stored is B^T, so tb picks the transpose of B's operand, ta A's. */
static void gemm(afs_backend *b, int ta, int tb, int m, int n, int k, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc)
{
    const float one = 1.0f;
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) { /* C = beta C (in place: cuBLAS allows it without transposes); k >= 1 below */
        const float zero = 0.0f;
        if (beta == 0.0f) /* whatever C held, NaN included, as the CPU's loop */
            CUDA_CHECK(cudaMemset2DAsync(C, (size_t)ldc * sizeof(float), 0,
                                         (size_t)n * sizeof(float), (size_t)m));
        else
            CUBLAS_CHECK(cublasSgeam(handle_of(b), CUBLAS_OP_N, CUBLAS_OP_N, n, m, &beta, C, ldc,
                                     &zero, C, ldc, C, ldc));
        return;
    }
    CUBLAS_CHECK(cublasSgemm(handle_of(b), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                             ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &one, B, ldb, A, lda, &beta,
                             C, ldc));
}

/* Row-major matrices are column-major transposes: y^T = W x^T etc.; the G
 * layers are one strided-batched GEMM. cuBLAS needs in >= 1 (its leading
 * dimension), so a layer without inputs is its bias alone. */
static void linear_forward(afs_backend *b, int G, int B, int in, int out, const float *x,
                           const float *W, const float *bias, float *y)
{
    const float one = 1.0f, zero = 0.0f;
    size_t ny = (size_t)G * B * out;
    if (!ny)
        return;
    if (in > 0)
        CUBLAS_CHECK(cublasSgemmStridedBatched(handle_of(b), CUBLAS_OP_T, CUBLAS_OP_N, out, B,
                                               in, &one, W, in, (long long)out * in, x, in,
                                               (long long)B * in, &zero, y, out,
                                               (long long)B * out, G));
    else
        CUDA_CHECK(cudaMemsetAsync(y, 0, ny * sizeof(float)));
    LAUNCH_N(ny, k_add_bias, G, B, out, bias, y);
}

static void linear_backward(afs_backend *b, int G, int B, int in, int out, const float *x,
                            const float *W, const float *dy, float *dx, float *dW, float *db)
{
    const float one = 1.0f, zero = 0.0f;
    cublasHandle_t h = handle_of(b);
    if (!G || !B)
        return;
    if (dx && in > 0) { /* dx^T = W^T dy^T; dx = 0 when there are no outputs */
        if (out > 0)
            CUBLAS_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, in, B, out, &one,
                                                   W, in, (long long)out * in, dy, out,
                                                   (long long)B * out, &zero, dx, in,
                                                   (long long)B * in, G));
        else
            CUDA_CHECK(cudaMemsetAsync(dx, 0, (size_t)G * B * in * sizeof(float)));
    }
    if (!out)
        return;
    if (in > 0) /* dW^T += x^T dy */
        CUBLAS_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_T, in, out, B, &one, x,
                                               in, (long long)B * in, dy, out, (long long)B * out,
                                               &one, dW, in, (long long)out * in, G));
    bias_grad(b, G, B, out, dy, db);
}

__global__ void k_act(int kind, size_t n, const float *x, float *y)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = afs_act(kind, x[i]);
}

__global__ void k_act_grad(int kind, size_t n, const float *y, const float *dy, float *dx)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        dx[i] = afs_act_grad(kind, y[i], dy[i]);
}

static void activation_forward(afs_backend *b, int kind, size_t n, const float *x, float *y)
{
    (void)b;
    LAUNCH_N(n, k_act, kind, n, x, y);
}

static void activation_backward(afs_backend *b, int kind, size_t n, const float *y,
                                const float *dy, float *dx)
{
    (void)b;
    LAUNCH_N(n, k_act_grad, kind, n, y, dy, dx);
}

/* One thread per row: the rows here are a few actions wide. */
__global__ void k_softmax(int rows, int cols, const float *x, float *y)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < rows)
        afs_softmax_row(x + (size_t)r * cols, y + (size_t)r * cols, cols);
}

__global__ void k_softmax_grad(int rows, int cols, float scale, const float *y, const float *dy,
                               float *dx)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < rows) {
        size_t o = (size_t)r * cols;
        afs_softmax_grad_row(y + o, dy + o, dx + o, cols, scale);
    }
}

static void softmax_forward(afs_backend *b, int rows, int cols, const float *x, float *y)
{
    (void)b;
    LAUNCH_N(cols > 0 ? rows : 0, k_softmax, rows, cols, x, y);
}

static void softmax_backward(afs_backend *b, int rows, int cols, const float *y,
                             const float *dy, float *dx)
{
    (void)b;
    LAUNCH_N(cols > 0 ? rows : 0, k_softmax_grad, rows, cols, 1.0f, y, dy, dx);
}

__global__ void k_gumbel(int rows, int cols, float tau, float epsilon, uint32_t seed,
                         uint32_t stream, uint32_t counter, const float *logits, float *soft,
                         float *hard)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows)
        return;
    size_t o = (size_t)r * cols;
    afs_gumbel_softmax_row(logits + o, soft + o, hard + o, cols, tau, epsilon, seed, stream,
                           (uint32_t)r, counter);
}

static void gumbel_softmax_forward(afs_backend *b, int rows, int cols, float tau, float epsilon,
                                   uint32_t seed, uint32_t stream, uint32_t counter,
                                   const float *logits, float *soft, float *hard)
{
    (void)b;
    LAUNCH_N(cols > 0 ? rows : 0, k_gumbel, rows, cols, tau, epsilon, seed, stream, counter,
             logits, soft, hard);
}

static void gumbel_softmax_backward(afs_backend *b, int rows, int cols, float tau,
                                    const float *soft, const float *dhard, float *dlogits)
{
    (void)b;
    LAUNCH_N(cols > 0 ? rows : 0, k_softmax_grad, rows, cols, 1.0f / tau, soft, dhard, dlogits);
}

/* Per-element loss terms and gradients; the terms go to `terms` for the sum. */
__global__ void k_loss(int bce, size_t n, const float *pred, const float *target,
                       const float *weight, float *grad, double *terms)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float w = weight ? weight[i] : 1.0f, inv_n = 1.0f / (float)n;
    terms[i] = bce ? afs_bce_term(pred[i], target[i], w, inv_n, &grad[i])
                   : afs_mse_term(pred[i], target[i], w, inv_n, &grad[i]);
}

/* Sum of n doubles by one block: each thread a strided partial sum, then a
 * fixed tree; the same order on every run. */
__global__ void k_sum(size_t n, const double *v, double *out)
{
    __shared__ double part[THREADS];
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x)
        s += v[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int step = THREADS / 2; step > 0; step /= 2) {
        if ((int)threadIdx.x < step)
            part[threadIdx.x] += part[threadIdx.x + step];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        *out = part[0];
}

__global__ void k_square(size_t n, const float *g, double *sq)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        sq[i] = (double)g[i] * g[i];
}

/* terms [n] and the total right after them, in one scratch buffer. */
static double *terms_of(afs_backend *b, size_t n) { return (double *)afs_cuda_scratch_get(b, (n + 1) * sizeof(double)); }

static double sum_to_host(size_t n, double *terms)
{
    double total;
    k_sum<<<1, THREADS>>>(n, terms, terms + n);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaMemcpy(&total, terms + n, sizeof total, cudaMemcpyDeviceToHost));
    return total;
}

static double loss(afs_backend *b, int bce, size_t n, const float *pred, const float *target,
                   const float *weight, float *grad)
{
    if (!n)
        return 0.0;
    double *terms = terms_of(b, n);
    LAUNCH_N(n, k_loss, bce, n, pred, target, weight, grad, terms);
    return sum_to_host(n, terms);
}

static double mse_loss(afs_backend *b, size_t n, const float *pred, const float *target,
                       const float *weight, float *grad)
{
    return loss(b, 0, n, pred, target, weight, grad);
}

static double bce_loss(afs_backend *b, size_t n, const float *prob, const float *target,
                       const float *weight, float *grad)
{
    return loss(b, 1, n, prob, target, weight, grad);
}

__global__ void k_adam(size_t n, float *p, const float *g, float *m, float *v, afs_adam hp)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        afs_adam_update(&p[i], g[i], &m[i], &v[i], &hp);
}

static void adam_step(afs_backend *b, size_t n, float *param, const float *grad, float *m,
                      float *v, const afs_adam *hp)
{
    (void)b;
    LAUNCH_N(n, k_adam, n, param, grad, m, v, *hp);
}

__global__ void k_soft_update(size_t n, float tau, const float *online, float *target)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        target[i] = afs_soft_update(target[i], online[i], tau);
}

static void soft_update(afs_backend *b, size_t n, float tau, const float *online, float *target)
{
    (void)b;
    LAUNCH_N(n, k_soft_update, n, tau, online, target);
}

__global__ void k_scale(size_t n, float s, float *g)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        g[i] *= s;
}

static double clip_grad_norm(afs_backend *b, size_t n, float *grad, float max_norm)
{
    if (!n)
        return 0.0;
    double *sq = terms_of(b, n);
    LAUNCH_N(n, k_square, n, grad, sq);
    double norm = sqrt(sum_to_host(n, sq));
    if (norm > max_norm)
        LAUNCH_N(n, k_scale, n, (float)(max_norm / norm), grad);
    return norm;
}

void afs_nn_cuda_set_tf32(afs_backend *b, int on)
{
    CUBLAS_CHECK(cublasSetMathMode(handle_of(b), on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

int afs_nn_cuda_install(afs_backend *b, char *err, size_t err_len)
{
    cublasHandle_t *h = (cublasHandle_t *)afs_cuda_blas_slot(b);
    cublasStatus_t st = cublasCreate(h);
    if (st != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, err_len, "cannot start cuBLAS: %s", cublasGetStatusString(st));
        *h = NULL;
        return -1;
    }
    afs_nn_cuda_set_tf32(b, 0);
    b->gemm = gemm;
    b->linear_forward = linear_forward;
    b->linear_backward = linear_backward;
    b->activation_forward = activation_forward;
    b->activation_backward = activation_backward;
    b->softmax_forward = softmax_forward;
    b->softmax_backward = softmax_backward;
    b->gumbel_softmax_forward = gumbel_softmax_forward;
    b->gumbel_softmax_backward = gumbel_softmax_backward;
    b->mse_loss = mse_loss;
    b->bce_loss = bce_loss;
    b->adam_step = adam_step;
    b->soft_update = soft_update;
    b->clip_grad_norm = clip_grad_norm;
    return 0;
}

void afs_nn_cuda_release(afs_backend *b)
{
    cublasHandle_t *h = (cublasHandle_t *)afs_cuda_blas_slot(b);
    if (*h)
        cublasDestroy(*h);
    *h = NULL;
    afs_cuda_scratch *s = afs_cuda_scratch_of(b);
    if (s->ptr)
        CUDA_CHECK(cudaFree(s->ptr));
    s->ptr = NULL;
    s->bytes = 0;
}
