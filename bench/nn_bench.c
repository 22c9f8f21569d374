/* Forward-plus-backward throughput of the actor and critic shapes of design
 * section 5 on one backend, in samples/s and achieved GFLOP/s, for batch
 * sizes 1024 .. 65536. One sample = one row through the network and back
 * (forward 2 in out flops per layer, backward 4 in out: 6 in out in all).
 * Median of the repeats after a warm-up; the end of each repeat waits for the
 * backend (a 4-byte copy to the host), so CUDA timings include the work.
 *
 * usage: nn_bench [--backend cpu|cuda] [--repeats N] [--max-batch B] [--tf32]
 *                 [--set SEC.KEY=VALUE ...]   (e.g. esdrl.actor_hidden=128,128) */
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

typedef struct shape {
    const char *name;
    int layers;
    int sizes[AFS_MLP_MAX_LAYERS + 1];
    int hidden, out;
} shape;

/* input -> hidden... -> output, the hidden sizes from configuration key
 * `key` (as the method reads them: models/algos/ac.c's ac_sizes). */
static shape shape_from(const char *name, int input, const char *key, const char *hidden,
                        int output)
{
    shape s = {name, 0, {0}, AFS_ACT_RELU, AFS_ACT_NONE};
    int n = afs_parse_sizes(hidden, s.sizes + 1, AFS_MLP_MAX_LAYERS - 1);
    if (n < 0) {
        fprintf(stderr, "nn_bench: %s = '%s': not a list of layer sizes like 64,64\n", key,
                hidden);
        exit(2);
    }
    s.sizes[0] = input;
    s.sizes[n + 1] = output;
    s.layers = n + 1;
    return s;
}

/* The networks the methods train, sized by their own keys. Defaults: ES-DRL
 * 10-64-64-2 and 12-64-64-1; AM-DRL's actor part 1 10-128-128 (obs ->
 * thought), part 2 256-128-2 ((h, integrated h) -> logits) and critic
 * 142-512-256-1 (obs, integrated thought, the others' share and in-group
 * flag, action: OBS + T + 2 + 2, the width amdrl.c gives it). MADDPG's
 * actors are ES-DRL's shape, M of them grouped; its stacked critics are not
 * timed here. */
static int method_shapes(const afs_config *cfg, shape *s)
{
    int T = cfg->comm.thought;
    s[0] = shape_from("amdrl_actor_part_one", AFS_OBS_DIM, "amdrl.actor_hidden",
                      cfg->amdrl.actor_hidden, T);
    s[1] = shape_from("amdrl_actor_part_two", 2 * T, "amdrl.part2_hidden",
                      cfg->comm.part2_hidden, 2);
    s[2] = shape_from("amdrl_critic", AFS_OBS_DIM + T + 2 + 2, "amdrl.critic_hidden",
                      cfg->amdrl.critic_hidden, 1);
    s[3] = shape_from("esdrl_actor", AFS_OBS_DIM, "esdrl.actor_hidden", cfg->esdrl.actor_hidden,
                      2);
    s[4] = shape_from("esdrl_critic", AFS_OBS_DIM + 2, "esdrl.critic_hidden",
                      cfg->esdrl.critic_hidden, 1);
    return 5;
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
                            "[--tf32] [--set SEC.KEY=VALUE, e.g. esdrl.actor_hidden=128,128]\n");
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
    shape shapes[8];
    int count = method_shapes(&cfg, shapes);
    for (int s = 0; s < count; s++)
        for (int batch = 1024; batch <= max_batch; batch *= 4) {
            double sec = time_one(b, &shapes[s], batch, repeats);
            printf("nn backend=%s%s net=%s batch=%d samples_per_s=%.4g gflops=%.3g\n", b->name,
                   tf32 || cfg.nn.tf32 ? "+tf32" : "", shapes[s].name, batch, batch / sec, batch * flops_per_sample(&shapes[s]) / sec / 1e9);
            fflush(stdout);
        }
    b->destroy(b);
    return 0;
}
