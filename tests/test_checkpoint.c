/* Checkpoints: a round trip of every buffer, clear errors, and a run restored
 * from a checkpoint continuing bit for bit as the uninterrupted one. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "host/checkpoint.h"
#include "models/mlp.h"

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
    afs_params_zero_grad(&critic->p, cpu);
    const float *q = afs_mlp_forward(critic, cpu, N, x);
    cpu->mse_loss(cpu, N, q, t, NULL, g);
    afs_mlp_backward(critic, cpu, N, g, NULL);
    afs_params_step(&critic->p, cpu, &(afs_optim){1e-3f, 0.9f, 0.999f, 1e-8f, 0.5f}, 0);
    afs_params_zero_grad(&actor->p, cpu);
    const float *a = afs_mlp_forward(actor, cpu, N, x);
    cpu->mse_loss(cpu, N * 2, a, x + 2, NULL, g);
    afs_mlp_backward(actor, cpu, N, g, NULL);
    afs_params_step(&actor->p, cpu, &(afs_optim){1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f}, 0);
}

static void make(afs_mlp *actor, afs_mlp *critic)
{
    cr_assert_eq(afs_mlp_init(actor, cpu, "actor", actor_sizes, 3, 1, AFS_ACT_RELU, AFS_ACT_NONE, N, 1, 1), 0);
    cr_assert_eq(afs_mlp_init(critic, cpu, "critic", critic_sizes, 2, 1, AFS_ACT_RELU, AFS_ACT_NONE, N, 1, 2), 0);
}

/* A checkpoint of the two networks (their shapes from afs_mlp_shape). */
typedef struct pair_ckpt {
    char shapes[2][128];
    afs_ckpt_set sets[2];
    afs_checkpoint c;
} pair_ckpt;

static void describe(pair_ckpt *k, afs_mlp *actor, afs_mlp *critic, afs_counters counters)
{
    memset(k, 0, sizeof *k);
    afs_mlp_shape(actor, k->shapes[0], sizeof k->shapes[0]);
    afs_mlp_shape(critic, k->shapes[1], sizeof k->shapes[1]);
    k->sets[0] = (afs_ckpt_set){&actor->p, k->shapes[0]};
    k->sets[1] = (afs_ckpt_set){&critic->p, k->shapes[1]};
    snprintf(k->c.algo, sizeof k->c.algo, "test");
    k->c.counters = counters;
    k->c.sets = k->sets;
    k->c.nsets = 2;
}

Test(checkpoint, restored_run_continues_bit_for_bit)
{
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/c.h5", dir);
    afs_mlp a1, c1, a2, c2;
    make(&a1, &c1);
    for (long u = 0; u < 40; u++)
        train_step(&a1, &c1, u);
    afs_config cfg;
    afs_config_defaults(&cfg);
    cfg.env.agents = 33;
    pair_ckpt k1, k2;
    describe(&k1, &a1, &c1, (afs_counters){77, 5, 12, 40, 3, -1.25});
    snprintf(k1.c.run_id, sizeof k1.c.run_id, "2026-11-27T00:00:00Z-42-0badcafe");
    cr_assert_eq(afs_checkpoint_save(path, cpu, &k1.c, &cfg, err, sizeof err), 0, "%s", err);
    for (long u = 40; u < 80; u++)
        train_step(&a1, &c1, u);

    make(&a2, &c2); /* fresh networks, other weights until restored */
    describe(&k2, &a2, &c2, (afs_counters){0, 0, 0, 0, 0, 0});
    cr_assert_eq(afs_checkpoint_load(path, cpu, &k2.c, 0, NULL, err, sizeof err), 0, "%s", err);
    afs_counters got = k2.c.counters;
    cr_assert(got.seed == 77 && got.episode == 5 && got.slot == 12 && got.updates == 40 &&
              got.eval_rows == 3 && got.best_return == -1.25);
    cr_assert_str_eq(k2.c.run_id, "2026-11-27T00:00:00Z-42-0badcafe");
    cr_assert_str_eq(k2.c.algo, "test");
    cr_assert_eq(a2.p.adam_t, 40);
    for (long u = got.updates; u < 80; u++)
        train_step(&a2, &c2, u);
    cr_assert_eq(memcmp(a1.p.value, a2.p.value, a1.n_params * sizeof(float)), 0, "actor differs");
    cr_assert_eq(memcmp(c1.p.value, c2.p.value, c1.n_params * sizeof(float)), 0, "critic differs");
    cr_assert_eq(memcmp(c1.p.v, c2.p.v, c1.n_params * sizeof(float)), 0, "Adam state differs");
    /* The configuration came along. */
    afs_config back;
    char algo[32];
    afs_config_defaults(&back);
    cr_assert_eq(afs_checkpoint_config(path, algo, sizeof algo, &back, err, sizeof err), 0, "%s", err);
    cr_assert(back.env.agents == 33 && !strcmp(algo, "test"));
    afs_mlp_free(&a1, cpu); afs_mlp_free(&c1, cpu);
    afs_mlp_free(&a2, cpu); afs_mlp_free(&c2, cpu);
}

/* Backend arrays saved as raw bytes (the replay), and optional on load. */
Test(checkpoint, state_arrays_round_trip)
{
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/s.h5", dir);
    afs_mlp a, c;
    make(&a, &c);
    pair_ckpt k;
    describe(&k, &a, &c, (afs_counters){1, 2, 3, 4, 0, NAN});
    int32_t ring[5] = {1, -2, 3, -4, 5}, back[5] = {0};
    afs_ckpt_blob blob = {"ring", ring, sizeof ring};
    k.c.blobs = &blob;
    k.c.nblobs = 1;
    cr_assert_eq(afs_checkpoint_save(path, cpu, &k.c, NULL, err, sizeof err), 0, "%s", err);
    blob.data = back;
    int loaded = -1;
    cr_assert_eq(afs_checkpoint_load(path, cpu, &k.c, 0, &loaded, err, sizeof err), 0, "%s", err);
    cr_assert(loaded == 1 && !memcmp(ring, back, sizeof ring));
    /* Without state in the file: an error, unless optional. */
    k.c.nblobs = 0;
    cr_assert_eq(afs_checkpoint_save(path, cpu, &k.c, NULL, err, sizeof err), 0, "%s", err);
    k.c.nblobs = 1;
    cr_assert_eq(afs_checkpoint_load(path, cpu, &k.c, 0, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "no saved state"), "%s", err);
    cr_assert_eq(afs_checkpoint_load(path, cpu, &k.c, 1, &loaded, err, sizeof err), 0, "%s", err);
    cr_assert_eq(loaded, 0);
    afs_mlp_free(&a, cpu); afs_mlp_free(&c, cpu);
}

Test(checkpoint, mismatches_and_missing_files_are_clear_errors)
{
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/m.h5", dir);
    afs_mlp a, c, other;
    make(&a, &c);
    pair_ckpt k;
    describe(&k, &a, &c, (afs_counters){1, 0, 0, 0, 0, NAN});
    cr_assert_eq(afs_checkpoint_save(path, cpu, &k.c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(access(path, F_OK), 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "the temporary file is renamed away");
    const int wider[4] = {10, 32, 16, 2};
    cr_assert_eq(afs_mlp_init(&other, cpu, "actor", wider, 3, 1, AFS_ACT_RELU, AFS_ACT_NONE, N, 1, 1), 0);
    pair_ckpt wrong;
    describe(&wrong, &other, &c, k.c.counters);
    cr_assert_eq(afs_checkpoint_load(path, cpu, &wrong.c, 0, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "actor") && strstr(err, "mlp 10-16-16-2") && strstr(err, "mlp 10-32-16-2"),
              "%s", err);
    snprintf(c.p.name, sizeof c.p.name, "attention");
    cr_assert_eq(afs_checkpoint_load(path, cpu, &k.c, 0, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "attention"), "%s", err);
    cr_assert_eq(afs_checkpoint_load("/nonexistent.h5", cpu, &k.c, 0, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent.h5"), "%s", err);
    cr_assert_eq(afs_checkpoint_save("/nonexistent-dir/c.h5", cpu, &k.c, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "cannot create"), "%s", err);
    /* Not HDF5, or HDF5 without checksums: refused before HDF5 reads it. */
    FILE *f = fopen(tmp, "w");
    fputs("not a checkpoint", f);
    fclose(f);
    cr_assert_eq(afs_checkpoint_load(tmp, cpu, &k.c, 0, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "not an HDF5 file"), "%s", err);
    afs_mlp_free(&a, cpu); afs_mlp_free(&c, cpu); afs_mlp_free(&other, cpu);
}

/* A checkpoint written before best_response.rounds, the [amdrl] section
 * and the exploration keys existed (the attributes removed here) reads
 * what afsim did then: the defaults, but amdrl.eval_init = threshold and
 * train.keep_best = false; any other missing key is still refused. */
Test(checkpoint, a_key_added_later_reads_its_default_from_an_older_file)
{
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/old.h5", dir);
    afs_mlp a, c;
    make(&a, &c);
    pair_ckpt k;
    describe(&k, &a, &c, (afs_counters){1, 0, 0, 0, 0, NAN});
    afs_config cfg, back;
    char algo[32];
    afs_config_defaults(&cfg);
    cfg.env.br_rounds = 3;
    cr_assert_eq(afs_checkpoint_save(path, cpu, &k.c, &cfg, err, sizeof err), 0, "%s", err);
    afs_config_defaults(&back);
    cr_assert_eq(afs_checkpoint_config(path, algo, sizeof algo, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(back.env.br_rounds, 3, "a file that has the key keeps its value");

    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    cr_assert(H5Adelete(f, "best_response.rounds") >= 0);
    /* and the [amdrl] section, added after the first esdrl and maddpg
     * checkpoints: each of its keys */
    for (int i = 0; i < afs_config_key_count(); i++) {
        const afs_config_key *key = afs_config_key_at(i);
        char name[128];
        snprintf(name, sizeof name, "%s.%s", key->section, key->name);
        if (!strcmp(key->section, "amdrl"))
            cr_assert(H5Adelete(f, name) >= 0, "%s", name);
    }
    /* and the exploration and selection keys of 2026-12-06 */
    cr_assert(H5Adelete(f, "train.epsilon") >= 0 && H5Adelete(f, "train.epsilon_end") >= 0 &&
              H5Adelete(f, "train.keep_best") >= 0);
    H5Fclose(f);
    memset(&back, 0, sizeof back);
    cr_assert_eq(afs_checkpoint_config(path, algo, sizeof algo, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(back.env.br_rounds, 8, "the default");
    cr_assert_eq(back.comm.group_m, 4, "amdrl.group_m's default");
    cr_assert_str_eq(back.amdrl.replay, "prioritized", "amdrl.replay's default");
    /* not the defaults where afsim behaved otherwise before the key: the
     * threshold at evaluation (the default is sample now), no best copy */
    cr_assert_str_eq(back.comm.eval_init, "threshold", "an old file evaluated by the threshold");
    cr_assert_eq(back.train.keep_best, 0, "an old file kept no best checkpoint");
    cr_assert_eq(back.train.epsilon, 0.0f);

    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    cr_assert(H5Adelete(f, "env.agents") >= 0);
    H5Fclose(f);
    cr_assert_eq(afs_checkpoint_config(path, algo, sizeof algo, &back, err, sizeof err), -1);
    cr_assert(strstr(err, "env.agents") && strstr(err, "missing"), "%s", err);
    afs_mlp_free(&a, cpu); afs_mlp_free(&c, cpu);
}
