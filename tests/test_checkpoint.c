/* Checkpoints: a round trip of every buffer, clear errors, and a run restored
 * from a checkpoint continuing bit for bit as the uninterrupted one. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "host/checkpoint.h"

static afs_backend *cpu;
static char dir[] = "/tmp/afsim-ckpt-XXXXXX";
static void setup(void)
{
    cpu = afs_backend_cpu_create(1);
    cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void)
{
    cpu->destroy(cpu);
    test_remove_dir(dir);
}
TestSuite(checkpoint, .init = setup, .fini = teardown);

static const int actor_sizes[4] = {10, 16, 16, 2};
static const int critic_sizes[3] = {12, 32, 1};

enum { N = 32 };

/* One update of both networks on a batch that depends on the update number
 * (drawn from Philox, as a replay sample would be). */
static void train_step(afs_mlp *actor, afs_mlp *critic, long update)
{
    float x[N * 12], t[N], g[N * 2];
    for (int i = 0; i < N * 12; i++)
        x[i] = afs_uniform(afs_philox(1, 9, (uint32_t)update, (uint32_t)i, 0, 0).v[0], -1, 1);
    for (int i = 0; i < N; i++)
        t[i] = x[i * 12] * x[i * 12 + 1];
    afs_mlp_zero_grad(critic, cpu);
    const float *q = afs_mlp_forward(critic, cpu, N, x);
    cpu->mse_loss(cpu, N, q, t, NULL, g);
    afs_mlp_backward(critic, cpu, N, g, NULL);
    afs_mlp_adam(critic, cpu, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.5f);
    afs_mlp_zero_grad(actor, cpu);
    const float *a = afs_mlp_forward(actor, cpu, N, x);
    cpu->mse_loss(cpu, N * 2, a, x + 2, NULL, g);
    afs_mlp_backward(actor, cpu, N, g, NULL);
    afs_mlp_adam(actor, cpu, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f);
}

static void make(afs_mlp *actor, afs_mlp *critic)
{
    cr_assert_eq(afs_mlp_init(actor, cpu, actor_sizes, 3, AFS_ACT_RELU, AFS_ACT_NONE, N, 1, 1), 0);
    cr_assert_eq(afs_mlp_init(critic, cpu, critic_sizes, 2, AFS_ACT_RELU, AFS_ACT_NONE, N, 1, 2), 0);
}

static const char *const names[2] = {"actor", "critic"};

Test(checkpoint, restored_run_continues_bit_for_bit)
{
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/c.h5", dir);
    afs_mlp a1, c1, a2, c2;
    make(&a1, &c1);
    for (long u = 0; u < 40; u++)
        train_step(&a1, &c1, u);
    afs_counters saved = {77, 5, 12, 40};
    afs_mlp *nets1[2] = {&a1, &c1};
    cr_assert_eq(afs_checkpoint_save(path, cpu, nets1, names, 2, &saved, err, sizeof err), 0, "%s", err);
    for (long u = 40; u < 80; u++)
        train_step(&a1, &c1, u);

    make(&a2, &c2); /* fresh networks, other weights until restored */
    afs_mlp *nets2[2] = {&a2, &c2};
    afs_counters got;
    cr_assert_eq(afs_checkpoint_load(path, cpu, nets2, names, 2, &got, err, sizeof err), 0, "%s", err);
    cr_assert(got.seed == 77 && got.episode == 5 && got.slot == 12 && got.updates == 40);
    cr_assert_eq(a2.adam_t, 40);
    for (long u = got.updates; u < 80; u++)
        train_step(&a2, &c2, u);
    cr_assert_eq(memcmp(a1.params, a2.params, a1.n_params * sizeof(float)), 0, "actor differs");
    cr_assert_eq(memcmp(c1.params, c2.params, c1.n_params * sizeof(float)), 0, "critic differs");
    cr_assert_eq(memcmp(c1.adam_v, c2.adam_v, c1.n_params * sizeof(float)), 0, "Adam state differs");
    afs_mlp_free(&a1, cpu); afs_mlp_free(&c1, cpu);
    afs_mlp_free(&a2, cpu); afs_mlp_free(&c2, cpu);
}

Test(checkpoint, mismatches_and_missing_files_are_clear_errors)
{
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/m.h5", dir);
    afs_mlp a, c, other;
    make(&a, &c);
    afs_mlp *nets[2] = {&a, &c};
    afs_counters k = {1, 0, 0, 0};
    cr_assert_eq(afs_checkpoint_save(path, cpu, nets, names, 2, &k, err, sizeof err), 0, "%s", err);
    cr_assert_eq(access(path, F_OK), 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "the temporary file is renamed away");
    const int wider[4] = {10, 32, 16, 2};
    cr_assert_eq(afs_mlp_init(&other, cpu, wider, 3, AFS_ACT_RELU, AFS_ACT_NONE, N, 1, 1), 0);
    afs_mlp *wrong[2] = {&other, &c};
    cr_assert_eq(afs_checkpoint_load(path, cpu, wrong, names, 2, &k, err, sizeof err), -1);
    cr_assert(strstr(err, "actor") && strstr(err, "layer sizes"), "%s", err);
    const char *const bad_names[2] = {"actor", "attention"};
    cr_assert_eq(afs_checkpoint_load(path, cpu, nets, bad_names, 2, &k, err, sizeof err), -1);
    cr_assert(strstr(err, "attention"), "%s", err);
    cr_assert_eq(afs_checkpoint_load("/nonexistent.h5", cpu, nets, names, 2, &k, err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent.h5"), "%s", err);
    cr_assert_eq(afs_checkpoint_save("/nonexistent-dir/c.h5", cpu, nets, names, 2, &k, err, sizeof err), -1);
    cr_assert(strstr(err, "cannot create"), "%s", err);
    afs_mlp_free(&a, cpu); afs_mlp_free(&c, cpu); afs_mlp_free(&other, cpu);
}
