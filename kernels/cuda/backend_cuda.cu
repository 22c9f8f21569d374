/* The CUDA backend: device memory, copies, the environment operations
 * launched from env_kernels.cu, and the cuBLAS and cuDNN handles behind the
 * network operations (nn_cuda.cu, lstm_cuda.cu). Created inside the process
 * that uses it (a CUDA context does not survive fork). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "../common/env_math.h"
#include "cuda_check.h"
#include "env_kernels.h"
#include "groups_cuda.h"
#include "learn_cuda.h"
#include "lstm_cuda.h"
#include "nn_cuda.h"

typedef struct cuda_impl {
    int device;
    char name[256];
    double *sums;      /* device [AFS_ACC_N]: episode totals */
    cublasHandle_t blas;
    void *lstm;               /* lstm_cuda.cu's state: cuDNN handle, cached plans */
    afs_cuda_scratch scratch; /* reductions of the NN operations */
    int env_block;            /* threads per environment, 0 = by M (benchmarks set it) */
} cuda_impl;

static cuda_impl *impl_of(afs_backend *b) { return (cuda_impl *)b->impl; }

/* Out of device memory is the user's to fix (a smaller run.envs), so it is
 * returned as NULL, not a fatal error. */
static void *cu_alloc(afs_backend *b, size_t bytes)
{
    (void)b;
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError(); /* clear it, so that later checks do not see it */
        return NULL;
    }
    CUDA_CHECK(cudaMemset(p, 0, bytes ? bytes : 1));
    return p;
}

static void cu_release(afs_backend *b, void *ptr)
{
    (void)b;
    CUDA_CHECK(cudaFree(ptr));
}

static void cu_to_host(afs_backend *b, void *dst, const void *src, size_t n)
{
    (void)b;
    CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost));
}

static void cu_to_backend(afs_backend *b, void *dst, const void *src, size_t n)
{
    (void)b;
    CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice));
}

static void cu_zero(afs_backend *b, void *dst, size_t n)
{
    (void)b;
    CUDA_CHECK(cudaMemset(dst, 0, n));
}

static unsigned env_threads(afs_backend *b, const afs_env *env)
{
    return afs_cuda_env_threads(env, impl_of(b)->env_block);
}

void afs_cuda_set_env_block(afs_backend *b, int threads) { impl_of(b)->env_block = threads; }

static void cu_env_reset(afs_backend *b, afs_env *env) { afs_cuda_env_reset(env, env_threads(b, env)); }
static void cu_env_arrive(afs_backend *b, afs_env *env) { (void)b; afs_cuda_env_arrive(env); }

static void cu_env_observe(afs_backend *b, const afs_env *env, float *obs)
{
    (void)b;
    afs_cuda_env_observe(env, obs);
}

/* best_response's scratch: the backend's grow-only buffer (nn_cuda.h),
 * allocated at the first slot and reused by every later one. */
static void *br_scratch(afs_backend *b, const afs_env *env, int policy)
{
    if (!afs_policy_rule_of(policy).descent || env->E <= 0 || env->M <= 0)
        return NULL;
    return afs_cuda_scratch_get(b, afs_cuda_best_response_scratch_bytes(env));
}

static void cu_env_act(afs_backend *b, const afs_env *env, int policy, const float *obs,
                       uint8_t *action)
{
    afs_cuda_env_act(env, policy, obs, action);
    if (afs_policy_rule_of(policy).descent)
        afs_cuda_env_best_response(env, action, br_scratch(b, env, policy));
}

static void cu_env_step(afs_backend *b, afs_env *env, const uint8_t *action)
{
    afs_cuda_env_step(env, action, env_threads(b, env));
    env->slot++;
}

/* Three launches: a GPU holds every environment's state at once, so there
 * is no cache to keep it in between them. */
static void cu_env_step_next(afs_backend *b, afs_env *env, const uint8_t *action, float *obs)
{
    cu_env_step(b, env, action);
    b->env_arrive(b, env);
    b->env_observe(b, env, obs);
}

/* One launch a slot: a GPU holds every environment's state at once. */
static void cu_env_play_slots(afs_backend *b, afs_env *env, int policy, int count, float *obs,
                              uint8_t *action)
{
    for (int s = 0; s < count; s++) {
        afs_cuda_env_play_slot(env, policy, obs, action, br_scratch(b, env, policy),
                               env_threads(b, env));
        env->slot++;
    }
}

/* Reduced on the device; one copy of AFS_ACC_N doubles per episode. */
static void cu_env_metrics(afs_backend *b, const afs_env *env, afs_episode_sums *out)
{
    cuda_impl *c = impl_of(b);
    afs_cuda_env_sum(env, c->sums);
    CUDA_CHECK(cudaMemcpy(out->v, c->sums, sizeof out->v, cudaMemcpyDeviceToHost));
}

void *afs_cuda_blas_slot(afs_backend *b) { return &impl_of(b)->blas; }
afs_cuda_scratch *afs_cuda_scratch_of(afs_backend *b) { return &impl_of(b)->scratch; }
void *afs_cuda_lstm_slot(afs_backend *b) { return &impl_of(b)->lstm; }

/* One switch for every matrix product: cuBLAS's and cuDNN's. */
static void cu_set_tf32(afs_backend *b, int on)
{
    afs_nn_cuda_set_tf32(b, on);
    afs_lstm_cuda_set_tf32(b, on);
}

static double cu_memory_budget(afs_backend *b)
{
    (void)b;
    size_t free_bytes = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
    return (double)free_bytes;
}

/* Waits for every operation queued on the device. */
static void cu_synchronize(afs_backend *b)
{
    (void)b;
    CUDA_CHECK(cudaDeviceSynchronize());
}

static void cu_destroy(afs_backend *b)
{
    if (!b)
        return;
    afs_nn_cuda_release(b);
    afs_lstm_cuda_release(b);
    CUDA_CHECK(cudaFree(impl_of(b)->sums));
    free(b->impl);
    free(b);
}

extern "C" int afs_cuda_built(void) { return 1; }

/* Picks device 0 and makes its context now, so that every later failure is a
 * real error; explains the usual reasons a device is not usable. */
static int open_device(cuda_impl *c, char *err, size_t err_len)
{
    int count = 0, driver = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    cudaDriverGetVersion(&driver);
    if (driver == 0) {
        snprintf(err, err_len, "no NVIDIA driver is installed (no GPU on this machine?)");
        return -1;
    }
    if (rc == cudaErrorInsufficientDriver) {
        snprintf(err, err_len, "the NVIDIA driver is older than this build's CUDA runtime %d.%d (%s)",
                 CUDART_VERSION / 1000, CUDART_VERSION % 1000 / 10, cudaGetErrorString(rc));
        return -1;
    }
    if (rc != cudaSuccess || count == 0) {
        snprintf(err, err_len, "no CUDA device (%s)",
                 rc != cudaSuccess ? cudaGetErrorString(rc) : "none found");
        return -1;
    }
    cudaDeviceProp prop;
    if ((rc = cudaSetDevice(0)) != cudaSuccess || (rc = cudaFree(0)) != cudaSuccess ||
        (rc = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess) {
        snprintf(err, err_len, "cannot use CUDA device 0: %s", cudaGetErrorString(rc));
        return -1;
    }
    if ((rc = cudaMalloc(&c->sums, AFS_ACC_N * sizeof(double))) != cudaSuccess) {
        snprintf(err, err_len, "cannot allocate on CUDA device 0: %s", cudaGetErrorString(rc));
        return -1;
    }
    c->device = 0;
    snprintf(c->name, sizeof c->name, "%s", prop.name);
    return 0;
}

extern "C" afs_backend *afs_backend_cuda_create(char *err, size_t err_len)
{
    afs_backend *b = (afs_backend *)calloc(1, sizeof *b);
    cuda_impl *c = (cuda_impl *)calloc(1, sizeof *c);
    if (!b || !c || open_device(c, err, err_len)) {
        if (!b || !c)
            snprintf(err, err_len, "out of host memory");
        free(b);
        free(c);
        return NULL;
    }
    b->name = "cuda";
    b->impl = c;
    b->alloc = cu_alloc;
    b->release = cu_release;
    b->to_host = cu_to_host;
    b->to_backend = cu_to_backend;
    b->zero = cu_zero;
    b->env_reset = cu_env_reset;
    b->env_arrive = cu_env_arrive;
    b->env_observe = cu_env_observe;
    b->env_act = cu_env_act;
    b->env_step = cu_env_step;
    b->env_step_next = cu_env_step_next;
    b->env_play_slots = cu_env_play_slots;
    b->env_metrics = cu_env_metrics;
    b->destroy = cu_destroy;
    b->synchronize = cu_synchronize;
    b->memory_budget = cu_memory_budget;
    if (afs_nn_cuda_install(b, err, err_len) || afs_lstm_cuda_install(b, err, err_len)) {
        cu_destroy(b);
        return NULL;
    }
    b->set_tf32 = cu_set_tf32;
    afs_learn_cuda_install(b);
    afs_groups_cuda_install(b);
    return b;
}
