/* Writes the seed corpus of fuzz_checkpoint: real checkpoints made by
 * afs_checkpoint_save of the harness's model (checkpoint_nets.h), and the
 * near misses that the reader must refuse with a message: among them a
 * replay's state out of range or damaged as issue 23 found it (head
 * 1,000,000, blocks -1, groups of 0x7f bytes, a bit flipped in the ring's
 * contents, which its checksum refuses).
 *
 *   fuzz_checkpoint_seeds DIR
 *
 * tests/fuzz/corpus/checkpoint/ holds its output (docs/testing.md: how to
 * remake it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkpoint_nets.h"

/* A copy of DIR/from as DIR/to with one bit flipped inside the first 64
 * bytes equal to `contents` (a dataset's values, stored as they are). */
static int flipped_copy(const char *dir, const char *from, const char *to, const void *contents)
{
    char path[4096];
    unsigned char data[1 << 16];
    snprintf(path, sizeof path, "%s/%s", dir, from);
    FILE *f = fopen(path, "rb");
    size_t len = f ? fread(data, 1, sizeof data, f) : 0;
    if (f)
        fclose(f);
    for (size_t i = 0; i + 64 <= len; i++)
        if (!memcmp(data + i, contents, 64)) {
            data[i + 9] ^= 0x10;
            snprintf(path, sizeof path, "%s/%s", dir, to);
            f = fopen(path, "wb");
            int bad = !f || fwrite(data, 1, len, f) != len;
            if (f)
                bad |= fclose(f) != 0;
            return bad;
        }
    fprintf(stderr, "fuzz_checkpoint_seeds: the ring's contents are not in %s\n", from);
    return 1;
}

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
    /* With a replay's state (fuzz_replay: 5 blocks stored, the ring
     * wrapped, a batch's priorities updated) beside the ring: loads; then
     * the same with its bookkeeping or groups out of range, refused by
     * afs_replay_restore_meta, and a bit flipped in the ring's contents. */
    static fuzz_replay fr;
    if (fuzz_replay_make(&fr, b))
        return 1;
    float pred[FUZZ_BATCH] = {0.5f, 1.0f, 2.0f, 0.25f}, zero[FUZZ_BATCH] = {0};
    for (int k = 0; k < 5; k++) {
        fuzz_replay_store(&fr, b, k);
        afs_replay_sample(&fr.r, b, FUZZ_BATCH, 1, 2, (uint32_t)k, 0.5f);
        afs_replay_update(&fr.r, b, pred, zero);
    }
    afs_replay_sync_meta(&fr.r, b);
    afs_ckpt_blob all[5] = {m.blob, fr.blobs[0], fr.blobs[1], fr.blobs[2], fr.blobs[3]};
    c = m.c;
    c.blobs = all;
    c.nblobs = 5;
    bad |= save(dir, "replay", b, &c, &cfg);
    bad |= flipped_copy(dir, "replay", "replay-bit-flipped", fr.r.obs);
    int64_t meta[4];
    memcpy(meta, fr.r.meta, sizeof meta);
    fr.r.meta[0] = 1000000;
    bad |= save(dir, "replay-head-out-of-range", b, &c, &cfg);
    memcpy(fr.r.meta, meta, sizeof meta);
    fr.r.meta[1] = -1;
    bad |= save(dir, "replay-blocks-negative", b, &c, &cfg);
    memcpy(fr.r.meta, meta, sizeof meta);
    size_t quarter = fr.r.blob_bytes / 4;
    memset((char *)fr.r.blob + fr.r.blob_bytes - quarter, 0x7f, quarter);
    bad |= save(dir, "replay-groups-damaged", b, &c, &cfg);
    afs_replay_free(&fr.r, b);
    fuzz_model_free(&m, b);
    afs_mlp_free(&wide, b);
    b->destroy(b);
    return bad;
}
