/* Forward-plus-backward throughput of the actor and critic shapes of design
 * section 5 on one backend, in samples/s and achieved GFLOP/s, for batch
 * sizes 1024 .. 65536. One sample = one row through the network and back
 * (forward 2 in out flops per layer, backward 4 in out: 6 in out in all).
 * Median of the repeats after a warm-up; the end of each repeat waits for the
 * backend (a 4-byte copy to the host), so CUDA timings include the work.
 *
 * usage: nn_bench [--backend cpu|cuda] [--repeats N] [--max-batch B] [--tf32]
 *                 [--set nn.KEY=VALUE ...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/config.h"
#include "kernels/common/env_math.h"
#include "models/mlp.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct shape { const char *name; int layers; int sizes[5]; int hidden, out; } shape;

/* The AM-DRL (ATOC) actor and critic take their hidden sizes from the
 * configuration (nn.actor_hidden, default obs 10 -> 128 -> 128 -> 128 -> 2
 * logits; nn.critic_hidden, default (obs, action) 12 -> 512 -> 256 -> 1);
 * the ES-DRL / MADDPG bodies are 10 -> 64 -> 64 -> 2 and 12 -> 64 -> 64 -> 1. */
static shape shapes[] = {
    {"amdrl_actor", 0, {0}, AFS_ACT_RELU, AFS_ACT_NONE},
    {"amdrl_critic", 0, {0}, AFS_ACT_RELU, AFS_ACT_NONE},
    {"esdrl_actor", 3, {10, 64, 64, 2}, AFS_ACT_RELU, AFS_ACT_NONE},
    {"esdrl_critic", 3, {12, 64, 64, 1}, AFS_ACT_RELU, AFS_ACT_NONE},
};

/* input -> hidden... -> output from a configuration list. */
static void shape_from(shape *s, int input, const char *hidden, int output)
{
    int h[AFS_MLP_MAX_LAYERS];
    int n = afs_parse_sizes(hidden, h, 3);
    if (n < 0) {
        fprintf(stderr, "nn_bench: bad hidden sizes '%s'\n", hidden);
        exit(2);
    }
    s->sizes[0] = input;
    for (int i = 0; i < n; i++)
        s->sizes[i + 1] = h[i];
    s->sizes[n + 1] = output;
    s->layers = n + 1;
}

static double flops_per_sample(const shape *s)
{
    double f = 0;
    for (int l = 0; l < s->layers; l++)
        f += 6.0 * s->sizes[l] * s->sizes[l + 1];
    return f;
}

static double time_one(afs_backend *b, const shape *s, int batch, int repeats)
{
    afs_mlp net;
    if (afs_mlp_init(&net, b, s->name, s->sizes, s->layers, 1, s->hidden, s->out, batch, 1, 1)) {
        fprintf(stderr, "nn_bench: out of %s memory at batch %d\n", b->name, batch);
        exit(1);
    }
    size_t nin = (size_t)batch * s->sizes[0], nout = (size_t)batch * s->sizes[s->layers];
    float *host = malloc((nin > nout ? nin : nout) * sizeof(float));
    for (size_t i = 0; i < (nin > nout ? nin : nout); i++)
        host[i] = afs_uniform(afs_philox(2, 3, (uint32_t)i, 0, 0, 0).v[0], -1, 1);
    float *x = b->alloc(b, nin * sizeof(float)), *dy = b->alloc(b, nout * sizeof(float));
    b->to_backend(b, x, host, nin * sizeof(float));
    b->to_backend(b, dy, host, nout * sizeof(float));
    double *t = malloc((size_t)repeats * sizeof *t);
    float sync;
    for (int r = -1; r < repeats; r++) { /* r = -1 warms up */
        double t0 = now_s();
        afs_params_zero_grad(&net.p, b);
        afs_mlp_forward(&net, b, batch, x);
        afs_mlp_backward(&net, b, batch, dy, NULL);
        b->to_host(b, &sync, net.p.grad, sizeof sync);
        if (r >= 0)
            t[r] = now_s() - t0;
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp_double);
    double median = t[repeats / 2];
    free(t);
    free(host);
    b->release(b, x);
    b->release(b, dy);
    afs_mlp_free(&net, b);
    return median;
}

int main(int argc, char **argv)
{
    const char *backend = "cpu";
    int repeats = 7, max_batch = 65536, tf32 = 0;
    afs_config cfg;
    char err[512];
    afs_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--backend") && v) backend = argv[++i];
        else if (!strcmp(argv[i], "--repeats") && v) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-batch") && v) max_batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tf32")) tf32 = 1;
        else if (!strcmp(argv[i], "--set") && v) {
            if (afs_config_set_arg(&cfg, argv[++i], "--set", err, sizeof err)) {
                fprintf(stderr, "nn_bench: %s\n", err);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: nn_bench [--backend cpu|cuda] [--repeats N] [--max-batch B] "
                            "[--tf32] [--set nn.KEY=VALUE]\n");
            return 2;
        }
    }
    if (repeats < 1) {
        fprintf(stderr, "nn_bench: --repeats must be at least 1\n");
        return 2;
    }
    char why[512] = "";
    afs_backend *b = !strcmp(backend, "cuda") ? afs_backend_cuda_create(why, sizeof why)
                                              : afs_backend_cpu_create(0);
    if (!b) {
        fprintf(stderr, "nn_bench: --backend %s: %s\n", backend, why);
        return 1;
    }
    b->set_tf32(b, tf32 || cfg.nn.tf32);
    shape_from(&shapes[0], AFS_OBS_DIM, cfg.nn.actor_hidden, 2);
    shape_from(&shapes[1], AFS_OBS_DIM + 2, cfg.nn.critic_hidden, 1);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int batch = 1024; batch <= max_batch; batch *= 4) {
            double sec = time_one(b, &shapes[s], batch, repeats);
            printf("nn backend=%s%s net=%s batch=%d samples_per_s=%.4g gflops=%.3g\n", b->name,
                   tf32 || cfg.nn.tf32 ? "+tf32" : "", shapes[s].name, batch, batch / sec, batch * flops_per_sample(&shapes[s]) / sec / 1e9);
            fflush(stdout);
        }
    b->destroy(b);
    return 0;
}
