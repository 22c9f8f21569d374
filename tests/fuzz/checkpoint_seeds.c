/* Writes the seed corpus of fuzz_checkpoint: real checkpoints made by
 * afs_checkpoint_save of the harness's model (checkpoint_nets.h), and the
 * near misses that the reader must refuse with a message.
 *
 *   fuzz_checkpoint_seeds DIR
 *
 * tests/fuzz/corpus/checkpoint/ holds its output (docs/testing.md: how to
 * remake it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkpoint_nets.h"

static int save(const char *dir, const char *file, afs_backend *b, const afs_checkpoint *c,
                const afs_config *cfg)
{
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (afs_checkpoint_save(path, b, c, cfg, err, sizeof err)) {
        fprintf(stderr, "fuzz_checkpoint_seeds: %s\n", err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_checkpoint_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    afs_backend *b = afs_backend_cpu_create(1);
    static fuzz_model m;
    afs_mlp wide;
    if (!b || fuzz_model_make(&m, b, 7))
        return 1;
    /* Some Adam state, so that the moments are not all zero, and a ring of
     * bytes that are not. */
    m.actor.p.adam_t = 3;
    m.critic.p.adam_t = 5;
    float moments[64];
    unsigned char ring[FUZZ_RING_BYTES];
    for (int i = 0; i < 64; i++)
        moments[i] = 0.25f + (float)i / 64.0f;
    for (int i = 0; i < FUZZ_RING_BYTES; i++)
        ring[i] = (unsigned char)(i * 7 + 3);
    b->to_backend(b, m.actor.p.m, moments, m.actor.n_params * sizeof(float));
    b->to_backend(b, m.critic.p.v, moments, m.critic.n_params * sizeof(float));
    b->to_backend(b, m.ring, ring, sizeof ring);
    static const int wide_sizes[3] = {3, 5, 2};
    if (afs_mlp_init(&wide, b, "actor", wide_sizes, 2, 1, AFS_ACT_RELU, AFS_ACT_NONE, 1, 7, 1))
        return 1;
    afs_config cfg;
    afs_config_defaults(&cfg);
    m.c.counters = (afs_counters){12345, 6, 78, 9000, 0, NAN};
    afs_checkpoint c = m.c;
    int bad = 0;
    /* Loads, with its configuration (afs_checkpoint_config reads it back)
     * and training's optional run_id and eval_rows. */
    snprintf(c.run_id, sizeof c.run_id, "%s", FUZZ_RUN_ID);
    c.counters.eval_rows = FUZZ_EVAL_ROWS;
    bad |= save(dir, "valid", b, &c, &cfg);
    /* Loads only when the state is optional; no configuration, no run_id. */
    c = m.c;
    c.nblobs = 0;
    bad |= save(dir, "no-state", b, &c, NULL);
    /* Refused: a set missing, then other layer sizes. */
    c = m.c;
    c.nsets = 1;
    bad |= save(dir, "actor-only", b, &c, NULL);
    char shape[64];
    afs_mlp_shape(&wide, shape, sizeof shape);
    afs_ckpt_set other[2] = {{&wide.p, shape}, m.sets[1]};
    c = m.c;
    c.sets = other;
    bad |= save(dir, "other-sizes", b, &c, NULL);
    fuzz_model_free(&m, b);
    afs_mlp_free(&wide, b);
    b->destroy(b);
    return bad;
}
