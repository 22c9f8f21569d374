/* Environment-step throughput of the CUDA backend, in agent-steps/s (one
 * agent deciding for one slot): the fused heuristic slot, timed with CUDA
 * events after a warm-up episode, median of repeated episodes. Beside it, the
 * bytes one slot must move per agent, the device-to-device copy bandwidth
 * measured in the same run, and the fraction of that bandwidth achieved.
 *
 * Each size runs with each thread count per environment of --env-block (0:
 * the backend's default, M rounded up to whole warps), so that one run on a
 * GPU settles which block size is faster.
 *
 * usage: cuda_env_bench [--envs E[,E...]] [--agents M] [--repeats N] [--policy NAME]
 *                       [--env-block T[,T...]] */
#include <algorithm>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

#include "core/policy_names.h"
#include "host/config.h"
#include "kernels/common/env_math.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/env_kernels.h"
#include "kernels/env.h"
#include "bench_bytes.h"

/* Device-to-device copy of a 1 GiB buffer: bytes read plus bytes written per second. */
static double copy_bandwidth(void)
{
    size_t n = (size_t)1 << 30;
    void *a, *b;
    CUDA_CHECK(cudaMalloc(&a, n));
    CUDA_CHECK(cudaMalloc(&b, n));
    cudaEvent_t t0, t1;
    CUDA_CHECK(cudaEventCreate(&t0));
    CUDA_CHECK(cudaEventCreate(&t1));
    CUDA_CHECK(cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice));
    std::vector<float> ms;
    for (int r = 0; r < 5; r++) {
        float t;
        CUDA_CHECK(cudaEventRecord(t0));
        CUDA_CHECK(cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice));
        CUDA_CHECK(cudaEventRecord(t1));
        CUDA_CHECK(cudaEventSynchronize(t1));
        CUDA_CHECK(cudaEventElapsedTime(&t, t0, t1));
        ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    CUDA_CHECK(cudaFree(a));
    CUDA_CHECK(cudaFree(b));
    return 2.0 * n / (ms[ms.size() / 2] * 1e-3);
}

static double bench_one(afs_backend *b, const afs_env_params *p, int envs, int repeats,
                        int policy)
{
    afs_env env;
    size_t agents = (size_t)envs * p->agents;
    if (afs_env_init(&env, b, p, envs, 1)) {
        fprintf(stderr, "cuda_env_bench: out of device memory at E=%d\n", envs);
        exit(1);
    }
    uint8_t *act = (uint8_t *)b->alloc(b, agents);
    cudaEvent_t t0, t1;
    CUDA_CHECK(cudaEventCreate(&t0));
    CUDA_CHECK(cudaEventCreate(&t1));
    std::vector<double> rates;
    for (int ep = 0; ep <= repeats; ep++) { /* episode 0 is the warm-up */
        float ms;
        afs_env_begin_episode(&env, b, (uint32_t)ep);
        CUDA_CHECK(cudaEventRecord(t0));
        for (int t = 0; t < p->slots; t++)
            b->env_play_slots(b, &env, policy, 1, NULL, act);
        CUDA_CHECK(cudaEventRecord(t1));
        CUDA_CHECK(cudaEventSynchronize(t1));
        CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
        if (ep > 0)
            rates.push_back((double)agents * p->slots / (ms * 1e-3));
    }
    std::sort(rates.begin(), rates.end());
    b->release(b, act);
    afs_env_free(&env, b);
    return rates[rates.size() / 2];
}

int main(int argc, char **argv)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    cfg.env.agents = 150;
    const char *env_list = "1024,8192,32768", *block_list = "0,256";
    int repeats = 5, policy = AFS_POLICY_GREEDY;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--envs") && v) env_list = argv[++i];
        else if (!strcmp(argv[i], "--agents") && v) cfg.env.agents = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && v) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--policy") && v) policy = afs_policy_from_name(argv[++i]);
        else if (!strcmp(argv[i], "--env-block") && v) block_list = argv[++i];
        else {
            fprintf(stderr, "usage: cuda_env_bench [--envs E[,E...]] [--agents M] [--repeats N] "
                            "[--policy NAME] [--env-block T[,T...]]\n");
            return 2;
        }
    }
    if (policy < 0 || cfg.env.agents < 1 || repeats < 1) {
        fprintf(stderr, "cuda_env_bench: bad --policy, --agents or --repeats\n");
        return 2;
    }
    char why[512];
    afs_backend *b = afs_backend_cuda_create(why, sizeof why);
    if (!b) {
        fprintf(stderr, "cuda_env_bench: %s\n", why);
        return 1;
    }
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    double bw = copy_bandwidth();
    double bytes = afs_bench_bytes_per_agent_step(cfg.env.ap_grid * cfg.env.ap_grid);
    printf("device: %s\ncopy bandwidth: %.1f GB/s (device to device, read + write)\n"
           "bytes per agent-step (floor): %.0f\n", prop.name, bw / 1e9, bytes);
    std::vector<int> blocks;
    char list[256];
    snprintf(list, sizeof list, "%s", block_list);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
        blocks.push_back(atoi(tok));
    snprintf(list, sizeof list, "%s", env_list);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
        for (int block : blocks) {
            int envs = atoi(tok);
            afs_cuda_set_env_block(b, block);
            double rate = bench_one(b, &cfg.env, envs, repeats, policy);
            double floor_rate = bw / bytes;
            afs_env shape;
            shape.M = cfg.env.agents;
            char threads[16];
            snprintf(threads, sizeof threads, "%u%s", afs_cuda_env_threads(&shape, block),
                     block ? "" : "(auto)");
            printf("afsim backend=cuda E=%d M=%d policy=%s block=%s agent_steps_per_s=%.4g "
                   "bandwidth_floor_rate=%.4g fraction_of_floor=%.2f\n",
                   envs, cfg.env.agents, afs_policy_name(policy), threads, rate, floor_rate,
                   rate / floor_rate);
            fflush(stdout);
        }
    b->destroy(b);
    return 0;
}
