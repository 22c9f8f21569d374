/* Writes the seed corpus of fuzz_checkpoint: real checkpoints made by
 * afs_checkpoint_save of the harness's networks (checkpoint_nets.h), and the
 * near misses that the reader must refuse with a message.
 *
 *   fuzz_checkpoint_seeds DIR
 *
 * tests/fuzz/corpus/checkpoint/ holds its output (docs/testing.md: how to
 * remake it). */
#include <stdio.h>
#include <stdlib.h>

#include "checkpoint_nets.h"

static int save(const char *dir, const char *file, afs_backend *b, afs_mlp *const *nets,
                const char *const *names, int count, const afs_counters *c)
{
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (afs_checkpoint_save(path, b, nets, names, count, c, err, sizeof err)) {
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
    afs_mlp actor, critic, wide;
    if (!b || fuzz_make_nets(b, &actor, &critic, 7))
        return 1;
    /* Some Adam state, so that the moments are not all zero. */
    actor.adam_t = 3;
    critic.adam_t = 3;
    float moments[64];
    for (int i = 0; i < 64; i++)
        moments[i] = 0.25f + (float)i / 64.0f;
    b->to_backend(b, actor.adam_m, moments, actor.n_params * sizeof(float));
    b->to_backend(b, critic.adam_v, moments, critic.n_params * sizeof(float));
    static const int wide_sizes[3] = {3, 5, 2};
    if (afs_mlp_init(&wide, b, wide_sizes, 2, AFS_ACT_RELU, AFS_ACT_NONE, 1, 7, 1))
        return 1;
    afs_mlp *both[2] = {&actor, &critic}, *other[2] = {&wide, &critic};
    const afs_counters c = {12345, 6, 78, 9000};
    int bad = 0;
    /* Loads. */
    bad |= save(dir, "valid", b, both, fuzz_names, 2, &c);
    /* Refused: a network missing, then other layer sizes. */
    bad |= save(dir, "actor-only", b, both, fuzz_names, 1, &c);
    bad |= save(dir, "other-sizes", b, other, fuzz_names, 2, &c);
    afs_mlp_free(&actor, b);
    afs_mlp_free(&critic, b);
    afs_mlp_free(&wide, b);
    b->destroy(b);
    return bad;
}
