/* CUDA kernels of the environment, calling the same host+device math as the
 * CPU backend (kernels/common/env_math.h).
 *
 * Per-agent phases run one thread per agent over all E*M agents. The step
 * runs one block per environment, a thread per agent (looping when M exceeds
 * the block), with the environment's sums over agents (per-AP offloaders and
 * interference, metrics) reduced in shared memory in a fixed tree order: no
 * atomics whose order could change a result. */
#include "../common/env_math.h"
#include "cuda_check.h"
#include "env_kernels.h"

#define AGENT_BLOCK 256  /* threads per block of the per-agent kernels */
#define ENV_BLOCK 256    /* most threads per environment in the step */
/* Blocks of the step per multiprocessor that __launch_bounds__ asks room
 * for: it caps the step at 80 registers. Since the outcome became one
 * branch-free function shared with the CPU's vectorized loops
 * (afs_outcome_of), a cap of 64 (4 blocks) spills 24 bytes; docs/
 * performance.md has the figures (the cost in occupancy is not yet
 * measured on a GPU). The build sets it (CMake's AFSIM_ENV_MIN_BLOCKS),
 * so that bench/gpu_run.sh --min-blocks times other values. */
#ifndef ENV_MIN_BLOCKS
#define ENV_MIN_BLOCKS 3
#endif
/* Threads per block of best_response's descent (a thread per environment):
 * small, so that a few environments still spread over multiprocessors. */
#define BR_BLOCK 32

static unsigned agent_blocks(const afs_env *env)
{
    size_t n = (size_t)env->E * env->M;
    return (unsigned)((n + AGENT_BLOCK - 1) / AGENT_BLOCK);
}

unsigned afs_cuda_env_threads(const afs_env *env, int block)
{
    int threads = (block > 0 ? block : env->M + 31) / 32 * 32;
    return (unsigned)(threads < 32 ? 32 : threads > ENV_BLOCK ? ENV_BLOCK : threads);
}

/* Nothing to launch for an empty batch (a grid of zero blocks is an invalid
 * configuration). */
static int empty(const afs_env *env) { return env->E <= 0 || env->M <= 0; }

__global__ void k_reset(afs_env env)
{
    int e = blockIdx.x;
    if (threadIdx.x == 0)
        afs_reset_env(&env, e);
    for (int m = threadIdx.x; m < env.M; m += blockDim.x)
        afs_reset_agent(&env, e, m);
}

__global__ void k_arrive(afs_env env)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < (size_t)env.E * env.M)
        afs_arrive_agent(&env, (int)(i / env.M), (int)(i % env.M));
}

__global__ void k_observe(afs_env env, float *obs)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < (size_t)env.E * env.M)
        afs_observe_agent(&env, (int)(i / env.M), (int)(i % env.M), obs + i * AFS_OBS_DIM);
}

__global__ void k_act(afs_env env, int policy, const float *obs, uint8_t *action)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < (size_t)env.E * env.M)
        action[i] = afs_heuristic_action(&env, policy, (int)(i / env.M), (int)(i % env.M),
                                         obs + i * AFS_OBS_DIM);
}

/* best_response's descent, one thread per environment: the whole descent
 * is one serial function (kernels/common/env_math.h), so each thread runs
 * the CPU's float operations in the CPU's order. scratch: [E, 2 G] counts,
 * then [E, 2 G] interference sums. */
__global__ void k_best_response(afs_env env, uint8_t *action, int32_t *n, float *interf)
{
    int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e < env.E) {
        size_t off = (size_t)e * 2 * env.G;
        afs_best_response_env(&env, e, action + (size_t)e * env.M, n + off, interf + off);
    }
}

/* Sum of v over the block, in a fixed order; every thread gets the result.
 * scratch holds one T per warp. */
template <typename T>
__device__ T block_sum(T v, T *scratch)
{
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    int warps = (blockDim.x + 31) / 32;
    for (int off = 16; off > 0; off /= 2)
        v += __shfl_down_sync(0xffffffffu, v, off);
    __syncthreads(); /* scratch may still be read by a previous call */
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    T total = 0;
    for (int w = 0; w < warps; w++)
        total += scratch[w];
    return total;
}

/* Per-AP offloader counts and interference of environment e. */
__device__ void ap_sums(const afs_env *env, int e, const uint8_t *action,
                        float *fscratch, int *iscratch)
{
    for (int g = 0; g < env->G; g++) {
        float interf = 0.0f;
        int count = 0;
        for (int m = threadIdx.x; m < env->M; m += blockDim.x) {
            size_t i = (size_t)e * env->M + m;
            if (!afs_offloads(env, i, action[i]))
                continue;
            if (env->ap[i] == g)
                count++;
            else
                interf += afs_interference_term(env, i, g);
        }
        interf = block_sum(interf, fscratch);
        count = block_sum(count, iscratch);
        if (threadIdx.x == 0) {
            env->n_ap[(size_t)e * env->G + g] = count;
            env->i_ap[(size_t)e * env->G + g] = interf;
        }
    }
    __syncthreads(); /* n_ap and i_ap are read by every thread next */
}

/* Slot phases 3-5 for environment blockIdx.x, after arrivals and actions. */
__device__ void step_block(const afs_env *env, const uint8_t *action)
{
    __shared__ float fscratch[32];
    __shared__ int iscratch[32];
    __shared__ double dscratch[32];
    __shared__ unsigned int cloud_types;
    int e = blockIdx.x;
    double acc[AFS_ACC_N] = {0};
    if (threadIdx.x == 0)
        cloud_types = 0;
    ap_sums(env, e, action, fscratch, iscratch);
    for (int m = threadIdx.x; m < env->M; m += blockDim.x) {
        size_t i = (size_t)e * env->M + m;
        afs_outcome_agent(env, e, i, action[i]);
        afs_accumulate(env, i, acc);
        uint32_t bit = afs_cloud_type_bit(env, i);
        if (bit)
            atomicOr(&cloud_types, bit); /* OR: the same whatever the order */
        afs_end_slot_agent(env, e, i); /* needs only agent i and the AP sums */
    }
    for (int a = 0; a < AFS_ACC_N; a++) {
        double total = block_sum(acc[a], dscratch);
        if (threadIdx.x == 0)
            env->acc[(size_t)e * AFS_ACC_N + a] += total;
    }
    __syncthreads();
    if (threadIdx.x == 0)
        afs_mark_cloud_types(env, e, cloud_types);
}

__global__ void __launch_bounds__(ENV_BLOCK, ENV_MIN_BLOCKS) k_step(afs_env env, const uint8_t *action)
{
    step_block(&env, action);
}

/* A whole heuristic slot of environment blockIdx.x; the observation stays
 * in registers. */
__global__ void __launch_bounds__(ENV_BLOCK, ENV_MIN_BLOCKS)
k_play_slot(afs_env env, int policy, uint8_t *action)
{
    int e = blockIdx.x;
    for (int m = threadIdx.x; m < env.M; m += blockDim.x) {
        float o[AFS_OBS_DIM];
        afs_arrive_agent(&env, e, m);
        afs_observe_agent(&env, e, m, o);
        action[(size_t)e * env.M + m] = afs_heuristic_action(&env, policy, e, m, o);
    }
    __syncthreads();
    step_block(&env, action);
}

/* Episode totals: thread a sums accumulator a over the environments with
 * the CPU backend's function, so the totals match it bit for bit given the
 * same per-environment sums. */
__global__ void k_sum_envs(afs_env env, double *out)
{
    int a = threadIdx.x;
    if (a < AFS_ACC_N)
        out[a] = afs_sum_over_envs(&env, a);
}

void afs_cuda_env_sum(const afs_env *env, double *out)
{
    k_sum_envs<<<1, 32>>>(*env, out); /* one thread per accumulator, even for E = 0 */
    CUDA_CHECK_LAUNCH();
}

void afs_cuda_env_reset(const afs_env *env, unsigned threads)
{
    if (empty(env))
        return;
    k_reset<<<env->E, threads>>>(*env);
    CUDA_CHECK_LAUNCH();
}

void afs_cuda_env_arrive(const afs_env *env)
{
    if (empty(env))
        return;
    k_arrive<<<agent_blocks(env), AGENT_BLOCK>>>(*env);
    CUDA_CHECK_LAUNCH();
}

void afs_cuda_env_observe(const afs_env *env, float *obs)
{
    if (empty(env))
        return;
    k_observe<<<agent_blocks(env), AGENT_BLOCK>>>(*env, obs);
    CUDA_CHECK_LAUNCH();
}

void afs_cuda_env_act(const afs_env *env, int policy, const float *obs, uint8_t *action)
{
    if (empty(env))
        return;
    k_act<<<agent_blocks(env), AGENT_BLOCK>>>(*env, policy, obs, action);
    CUDA_CHECK_LAUNCH();
}

void afs_cuda_env_step(const afs_env *env, const uint8_t *action, unsigned threads)
{
    if (empty(env))
        return;
    k_step<<<env->E, threads>>>(*env, action);
    CUDA_CHECK_LAUNCH();
}

size_t afs_cuda_best_response_scratch_bytes(const afs_env *env)
{
    return (size_t)env->E * 2 * env->G * (sizeof(int32_t) + sizeof(float));
}

void afs_cuda_env_best_response(const afs_env *env, uint8_t *action, void *scratch)
{
    if (empty(env))
        return;
    int32_t *n = (int32_t *)scratch;
    float *interf = (float *)(n + (size_t)env->E * 2 * env->G);
    unsigned blocks = (unsigned)((env->E + BR_BLOCK - 1) / BR_BLOCK);
    k_best_response<<<blocks, BR_BLOCK>>>(*env, action, n, interf);
    CUDA_CHECK_LAUNCH();
}

/* A policy with a descent (best_response) takes the four phases (the
 * descent between the decision and the step needs every agent's first
 * action); the others fuse. */
void afs_cuda_env_play_slot(const afs_env *env, int policy, float *obs, uint8_t *action,
                            void *scratch, unsigned threads)
{
    if (empty(env))
        return;
    if (afs_policy_rule_of(policy).descent) {
        afs_cuda_env_arrive(env);
        afs_cuda_env_observe(env, obs);
        afs_cuda_env_act(env, policy, obs, action);
        afs_cuda_env_best_response(env, action, scratch);
        afs_cuda_env_step(env, action, threads);
        return;
    }
    k_play_slot<<<env->E, threads>>>(*env, policy, action);
    CUDA_CHECK_LAUNCH();
}
