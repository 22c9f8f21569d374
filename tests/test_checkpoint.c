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

#include "fuzz/checkpoint_nets.h"
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
    cr_assert(strstr(err, "/nonexistent-dir") && strstr(err, "does not exist"), "%s", err);
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

/* ---- Contents that HDF5 does not check ---- */

/* The bytes of a file, and a copy of them written to path with bit `bit`
 * of byte `at` flipped. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *data = malloc(*len);
    cr_assert(data && fread(data, 1, *len, f) == *len);
    fclose(f);
    return data;
}

static void write_flipped(const char *path, const unsigned char *data, size_t len, size_t at,
                          int bit)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, at, f), at);
    fputc(data[at] ^ (1 << bit), f);
    cr_assert_eq(fwrite(data + at + 1, 1, len - at - 1, f), len - at - 1);
    fclose(f);
}

/* Where the first 64 bytes of x are in the file (they are stored as
 * written: native little-endian floats, no compression). */
static size_t offset_of(const unsigned char *data, size_t len, const void *x)
{
    for (size_t i = 0; i + 64 <= len; i++)
        if (!memcmp(data + i, x, 64))
            return i;
    cr_assert_fail("the values are not in the file");
    return 0;
}

enum { RING = 4096 };

/* Whether the networks, the Adam state, the counters and the ring of k
 * (loaded) are bit for bit those of want (saved). */
static int same_contents(const pair_ckpt *want, const pair_ckpt *k, const uint8_t *ring_want,
                         const uint8_t *ring)
{
    for (int s = 0; s < 2; s++) {
        const afs_params *p = want->sets[s].params, *q = k->sets[s].params;
        size_t bytes = p->n * sizeof(float);
        if (memcmp(p->value, q->value, bytes) || memcmp(p->m, q->m, bytes) ||
            memcmp(p->v, q->v, bytes) || p->adam_t != q->adam_t)
            return 0;
    }
    const afs_counters *a = &want->c.counters, *b = &k->c.counters;
    return a->seed == b->seed && a->episode == b->episode && a->slot == b->slot &&
           a->updates == b->updates && a->eval_rows == b->eval_rows &&
           !memcmp(&a->best_return, &b->best_return, sizeof(double)) &&
           !strcmp(want->c.algo, k->c.algo) && !memcmp(ring_want, ring, RING);
}

/* Every dataset carries a checksum (HDF5's Fletcher32) verified on load:
 * a bit flipped in a network's values or in the replay's bytes is refused
 * as damaged, where before it loaded with other weights (issue 23: one
 * actor weight 0.139 became 3.2e-11). And a bit flipped anywhere in the
 * file (200 places, a fixed draw) either is refused with a message or
 * changes nothing that the load gives back: never a silent change. */
Test(checkpoint, damaged_contents_are_refused_never_loaded)
{
    char path[512], bad[520], err[1024];
    snprintf(path, sizeof path, "%s/d.h5", dir);
    snprintf(bad, sizeof bad, "%s/bad.h5", dir);
    afs_mlp a1, c1, a2, c2;
    make(&a1, &c1);
    for (long u = 0; u < 5; u++)
        train_step(&a1, &c1, u);
    uint8_t ring[RING], back[RING];
    for (int i = 0; i < RING; i++)
        ring[i] = (uint8_t)(i * 37 + 11);
    afs_config cfg, cfg_back;
    afs_config_defaults(&cfg);
    pair_ckpt k1, k2;
    describe(&k1, &a1, &c1, (afs_counters){77, 5, 12, 40, 3, -1.25});
    afs_ckpt_blob blob = {"ring", ring, RING}, blob_back = {"ring", back, RING};
    k1.c.blobs = &blob;
    k1.c.nblobs = 1;
    cr_assert_eq(afs_checkpoint_save(path, cpu, &k1.c, &cfg, err, sizeof err), 0, "%s", err);
    size_t len;
    unsigned char *data = slurp(path, &len);
    make(&a2, &c2);
    describe(&k2, &a2, &c2, (afs_counters){0, 0, 0, 0, 0, 0});
    k2.c.blobs = &blob_back;
    k2.c.nblobs = 1;
    cr_assert_eq(afs_checkpoint_load(path, cpu, &k2.c, 0, NULL, err, sizeof err), 0, "%s", err);
    cr_assert(same_contents(&k1, &k2, ring, back), "the undamaged file loads as saved");

    const struct { const void *bytes; const char *what; } targets[3] = {
        {a1.p.value, "actor"}, {c1.p.v, "critic"}, {ring, "ring"}};
    for (int t = 0; t < 3; t++) {
        write_flipped(bad, data, len, offset_of(data, len, targets[t].bytes) + 5, 3);
        cr_assert_eq(afs_checkpoint_load(bad, cpu, &k2.c, 0, NULL, err, sizeof err), -1,
                     "a flipped bit in %s's contents loaded", targets[t].what);
        cr_assert(strstr(err, targets[t].what) && strstr(err, "damaged") && strstr(err, bad),
                  "%s", err);
    }

    uint64_t x = 0x9E3779B97F4A7C15ull;
    int refused = 0, same = 0;
    for (int i = 0; i < 200; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t at = (size_t)(x >> 33) % len;
        write_flipped(bad, data, len, at, (int)(x >> 20) & 7);
        memset(back, 0, sizeof back);
        err[0] = 0;
        if (afs_checkpoint_load(bad, cpu, &k2.c, 0, NULL, err, sizeof err)) {
            cr_assert(err[0], "byte %zu: refused without a message", at);
            refused++;
            continue;
        }
        cr_assert(same_contents(&k1, &k2, ring, back), "byte %zu: a flipped bit loaded with "
                  "other contents", at);
        char algo[32];
        afs_config_defaults(&cfg_back);
        if (afs_checkpoint_config(bad, algo, sizeof algo, &cfg_back, err, sizeof err) == 0)
            cr_assert_eq(afs_config_first_difference(&cfg, &cfg_back, NULL), -1,
                         "byte %zu: a flipped bit changed the configuration", at);
        same++;
    }
    cr_assert_gt(refused, 100, "%d of 200 flips refused", refused);
    free(data);
    afs_mlp_free(&a1, cpu); afs_mlp_free(&c1, cpu);
    afs_mlp_free(&a2, cpu); afs_mlp_free(&c2, cpu);
}

/* Whether the datasets of a checkpoint carry a filter (the checksum). */
static int filtered(const char *path, const char *dataset)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "%s", path);
    hid_t ds = H5Dopen2(f, dataset, H5P_DEFAULT);
    cr_assert(ds >= 0, "%s", dataset);
    hid_t dcpl = H5Dget_create_plist(ds);
    int nfilters = H5Pget_nfilters(dcpl);
    H5Pclose(dcpl);
    H5Dclose(ds);
    H5Fclose(f);
    return nfilters;
}

/* A checkpoint written before the checksums (tests/data/: by afsim's
 * fuzz seed writer, tests/fuzz/checkpoint_seeds.c, at 59569d8, its
 * datasets without a filter) still loads, with what that writer put in:
 * the networks of checkpoint_nets.h made with seed 7, its Adam moments
 * 0.25 + i / 64, its ring of bytes 7 i + 3, its counters and run_id. */
Test(checkpoint, a_file_from_before_the_checksums_still_loads)
{
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/tests/data/checkpoint-before-checksums", AFSIM_SOURCE_DIR);
    cr_assert_eq(filtered(path, "params/actor/value"), 0, "not a file from before the checksums");
    static fuzz_model want, got;
    cr_assert_eq(fuzz_model_make(&want, cpu, 7), 0);
    cr_assert_eq(fuzz_model_make(&got, cpu, 99), 0); /* other weights until loaded */
    int loaded = 0;
    cr_assert_eq(afs_checkpoint_load(path, cpu, &got.c, 0, &loaded, err, sizeof err), 0, "%s", err);
    cr_assert_eq(loaded, 1);
    cr_assert_eq(memcmp(want.actor.p.value, got.actor.p.value, want.actor.n_params * sizeof(float)), 0);
    cr_assert_eq(memcmp(want.critic.p.value, got.critic.p.value,
                        want.critic.n_params * sizeof(float)), 0);
    for (size_t i = 0; i < want.actor.n_params; i++)
        cr_assert_eq(got.actor.p.m[i], 0.25f + (float)i / 64.0f, "adam_m[%zu]", i);
    for (int i = 0; i < FUZZ_RING_BYTES; i++)
        cr_assert_eq(got.ring[i], (unsigned char)(i * 7 + 3), "ring[%d]", i);
    cr_assert(got.c.counters.seed == 12345 && got.c.counters.episode == 6 &&
              got.c.counters.slot == 78 && got.c.counters.updates == 9000 &&
              got.c.counters.eval_rows == FUZZ_EVAL_ROWS && got.actor.p.adam_t == 3);
    cr_assert_str_eq(got.c.run_id, FUZZ_RUN_ID);
    /* and what this afsim writes has the checksum on every dataset */
    char mine[600];
    snprintf(mine, sizeof mine, "%s/new.h5", dir);
    cr_assert_eq(afs_checkpoint_save(mine, cpu, &got.c, NULL, err, sizeof err), 0, "%s", err);
    const char *datasets[4] = {"params/actor/value", "params/critic/adam_m",
                               "params/critic/adam_v", "state/ring"};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(filtered(mine, datasets[i]), 1, "%s", datasets[i]);
    fuzz_model_free(&want, cpu);
    fuzz_model_free(&got, cpu);
}
