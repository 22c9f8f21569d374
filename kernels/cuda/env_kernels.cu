/* CUDA kernels of the environment's per-agent phases, calling the same
 * host+device math as the CPU backend (kernels/common/env_math.h).
 * One thread per agent, grid-stride over E*M agents.
 * The CUDA backend's operation table (issue 3) launches these; until then this
 * file is built in CI so that the shared headers keep compiling under nvcc. */
#include "../common/env_math.h"

extern "C" {

__global__ void afs_k_reset_agents(afs_env env)
{
    size_t n = (size_t)env.E * env.M;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        afs_reset_agent(&env, (int)(i / env.M), (int)(i % env.M));
}

__global__ void afs_k_arrive(afs_env env)
{
    size_t n = (size_t)env.E * env.M;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        afs_arrive_agent(&env, (int)(i / env.M), (int)(i % env.M));
}

__global__ void afs_k_observe(afs_env env, float *obs)
{
    size_t n = (size_t)env.E * env.M;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        afs_observe_agent(&env, (int)(i / env.M), (int)(i % env.M), obs + i * AFS_OBS_DIM);
}

__global__ void afs_k_act(afs_env env, int policy, const float *obs, uint8_t *action)
{
    size_t n = (size_t)env.E * env.M;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        action[i] = afs_heuristic_action(&env, policy, (int)(i / env.M),
                                         (int)(i % env.M), obs + i * AFS_OBS_DIM);
}

}
