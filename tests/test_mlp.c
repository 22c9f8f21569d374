/* The MLP of models/: parameter layout and initialization, backward against
 * central finite differences (see test_nn.c for the tolerance), training. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/mlp.h"

static afs_backend *cpu;
static void open_cpu(void) { cpu = afs_backend_cpu_create(1); }
static void close_cpu(void) { cpu->destroy(cpu); }
TestSuite(mlp, .init = open_cpu, .fini = close_cpu);

static const int sizes[4] = {3, 5, 4, 2};

Test(mlp, layout_and_initialization)
{
    afs_mlp a, c;
    cr_assert_eq(afs_mlp_init(&a, cpu, "net", sizes, 3, 1, AFS_ACT_TANH, AFS_ACT_NONE, 8, 7, 1), 0);
    /* (3*5 + 5) + (5*4 + 4) + (4*2 + 2) = 20 + 24 + 10 */
    cr_assert_eq(a.n_params, 54);
    cr_assert_eq(a.w_off[1], 20);
    cr_assert_eq(a.b_off[1], 40);
    cr_assert_eq(a.b_off[2], 52);
    for (int l = 0; l < 3; l++) {
        float bound = 1.0f / sqrtf((float)sizes[l]);
        for (size_t i = a.w_off[l]; i < a.b_off[l] + (size_t)sizes[l + 1]; i++)
            cr_assert(fabsf(a.p.value[i]) <= bound, "param %zu = %g beyond %g", i, a.p.value[i], bound);
    }
    cr_assert_eq(afs_mlp_init(&c, cpu, "net", sizes, 3, 1, AFS_ACT_TANH, AFS_ACT_NONE, 8, 7, 1), 0);
    cr_assert_eq(memcmp(a.p.value, c.p.value, a.n_params * sizeof(float)), 0, "same seed");
    afs_mlp_free(&c, cpu);
    cr_assert_eq(afs_mlp_init(&c, cpu, "net", sizes, 3, 1, AFS_ACT_TANH, AFS_ACT_NONE, 8, 7, 2), 0);
    cr_assert_neq(memcmp(a.p.value, c.p.value, a.n_params * sizeof(float)), 0, "another stream");
    afs_mlp_free(&c, cpu);
    afs_mlp_free(&a, cpu);
    int bad[2] = {3, 0};
    cr_assert_eq(afs_mlp_init(&a, cpu, "net", bad, 1, 1, AFS_ACT_TANH, AFS_ACT_NONE, 8, 7, 1), -1);
}

enum { BATCH = 6 };

static double net_loss(afs_mlp *net, const float *x, const float *r)
{
    const float *y = afs_mlp_forward(net, cpu, BATCH, x);
    double s = 0;
    for (int i = 0; i < BATCH * 2; i++)
        s += (double)y[i] * r[i];
    return s;
}

static float *random_vec(size_t n, uint32_t stream)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = afs_uniform(afs_philox(5, stream, (uint32_t)i, 0, 0, 0).v[0], -1, 1);
    return v;
}

static double central(float *v, size_t i, afs_mlp *net, const float *x, const float *r)
{
    const float h = 1e-2f;
    float keep = v[i];
    v[i] = keep + h;
    double up = net_loss(net, x, r);
    v[i] = keep - h;
    double down = net_loss(net, x, r);
    v[i] = keep;
    return (up - down) / (2 * h);
}

Test(mlp, backward_matches_finite_differences)
{
    afs_mlp net;
    cr_assert_eq(afs_mlp_init(&net, cpu, "net", sizes, 3, 1, AFS_ACT_TANH, AFS_ACT_SIGMOID, BATCH, 3, 4), 0);
    float *x = random_vec(BATCH * 3, 1), *r = random_vec(BATCH * 2, 2), dx[BATCH * 3];
    afs_params_zero_grad(&net.p, cpu);
    afs_mlp_forward(&net, cpu, BATCH, x);
    afs_mlp_backward(&net, cpu, BATCH, r, dx);
    for (size_t i = 0; i < net.n_params; i++) {
        double num = central(net.p.value, i, &net, x, r);
        cr_assert(fabs(net.p.grad[i] - num) <= 5e-3 * fmax(1.0, fabs(num)),
                  "param %zu: analytic %g numeric %g", i, net.p.grad[i], num);
    }
    for (size_t i = 0; i < BATCH * 3; i++) {
        double num = central(x, i, &net, x, r);
        cr_assert(fabs(dx[i] - num) <= 5e-3 * fmax(1.0, fabs(num)), "dx %zu: %g vs %g", i, dx[i], num);
    }
    free(x);
    free(r);
    afs_mlp_free(&net, cpu);
}

Test(mlp, regression_trains_with_adam)
{
    enum { N = 64 };
    const int s[3] = {2, 24, 1};
    afs_mlp net;
    cr_assert_eq(afs_mlp_init(&net, cpu, "net", s, 2, 1, AFS_ACT_TANH, AFS_ACT_NONE, N, 11, 1), 0);
    float x[N * 2], t[N], grad[N];
    for (int i = 0; i < N; i++) {
        x[2 * i] = afs_uniform(afs_philox(1, 1, (uint32_t)i, 0, 0, 0).v[0], -1.5f, 1.5f);
        x[2 * i + 1] = afs_uniform(afs_philox(1, 1, (uint32_t)i, 0, 0, 0).v[1], -1.5f, 1.5f);
        t[i] = sinf(x[2 * i]) * x[2 * i + 1];
    }
    double loss = 0;
    for (int step = 0; step < 3000; step++) {
        afs_params_zero_grad(&net.p, cpu);
        const float *y = afs_mlp_forward(&net, cpu, N, x);
        loss = cpu->mse_loss(cpu, N, y, t, NULL, grad);
        afs_mlp_backward(&net, cpu, N, grad, NULL);
        afs_params_step(&net.p, cpu, &(afs_optim){0.01f, 0.9f, 0.999f, 1e-8f, 0.0f}, 0);
    }
    cr_assert(loss < 2e-3, "final loss %g", loss);
    cr_assert_eq(net.p.adam_t, 3000);
    afs_mlp_free(&net, cpu);
}

/* G groups are G independent networks: the G = 3 network, its parameters
 * laid out W [G, out, in] then bias [G, out] per layer, gives each group's
 * rows what a G = 1 network with that group's parameters gives, forward and
 * backward. */
Test(mlp, groups_are_independent_networks)
{
    enum { G = 3, B = 4 };
    afs_mlp grouped, one[G];
    cr_assert_eq(afs_mlp_init(&grouped, cpu, "g", sizes, 3, G, AFS_ACT_TANH, AFS_ACT_NONE, B, 5, 6), 0);
    cr_assert_eq(grouped.n_params, (size_t)G * 54);
    float *x = random_vec((size_t)G * B * 3, 20), *dy = random_vec((size_t)G * B * 2, 21);
    afs_params_zero_grad(&grouped.p, cpu);
    const float *y = afs_mlp_forward(&grouped, cpu, B, x);
    float ys[G * B * 2];
    memcpy(ys, y, sizeof ys);
    afs_mlp_backward(&grouped, cpu, B, dy, NULL);
    for (int g = 0; g < G; g++) {
        cr_assert_eq(afs_mlp_init(&one[g], cpu, "one", sizes, 3, 1, AFS_ACT_TANH, AFS_ACT_NONE, B, 9, 9), 0);
        for (int l = 0; l < 3; l++) { /* group g's slices of layer l */
            size_t w = (size_t)sizes[l + 1] * sizes[l], bsz = (size_t)sizes[l + 1];
            memcpy(one[g].p.value + one[g].w_off[l], grouped.p.value + grouped.w_off[l] + g * w,
                   w * sizeof(float));
            memcpy(one[g].p.value + one[g].b_off[l], grouped.p.value + grouped.b_off[l] + g * bsz,
                   bsz * sizeof(float));
        }
        afs_params_zero_grad(&one[g].p, cpu);
        const float *yg = afs_mlp_forward(&one[g], cpu, B, x + (size_t)g * B * 3);
        for (int i = 0; i < B * 2; i++)
            cr_assert_eq(yg[i], ys[g * B * 2 + i], "group %d output %d", g, i);
        afs_mlp_backward(&one[g], cpu, B, dy + (size_t)g * B * 2, NULL);
        for (int l = 0; l < 3; l++) {
            size_t w = (size_t)sizes[l + 1] * sizes[l], bsz = (size_t)sizes[l + 1];
            cr_assert_eq(memcmp(one[g].p.grad + one[g].w_off[l], grouped.p.grad + grouped.w_off[l] + g * w,
                                w * sizeof(float)), 0, "group %d layer %d dW", g, l);
            cr_assert_eq(memcmp(one[g].p.grad + one[g].b_off[l], grouped.p.grad + grouped.b_off[l] + g * bsz,
                                bsz * sizeof(float)), 0, "group %d layer %d db", g, l);
        }
        afs_mlp_free(&one[g], cpu);
    }
    char shape[128];
    afs_mlp_shape(&grouped, shape, sizeof shape);
    cr_assert_str_eq(shape, "mlp 3-5-4-2 x3 tanh/none");
    free(x);
    free(dy);
    afs_mlp_free(&grouped, cpu);
}
