/* libFuzzer harness of the checkpoint reader (host/checkpoint.h): each input
 * is written to a file, loaded with afs_checkpoint_load into the model of
 * checkpoint_nets.h (two parameter sets and a state array) on the CPU
 * backend, and read with afs_checkpoint_config. Each must succeed or fail
 * with a message (NUL-terminated, non-empty); anything else, and every
 * sanitizer report, is a crash. The state is loaded as optional first;
 * a file that loads so is loaded again with the state required, which must
 * load when the state was there and fail with a message when it was not;
 * what loads has NUL-terminated names (algo, run_id) and no negative
 * counter, and the reader leaves no HDF5 object open. Then a replay's
 * state (checkpoint_nets.h's fuzz_replay: ring, sum tree, priorities,
 * bookkeeping, AM-DRL's groups) is loaded and checked by
 * afs_replay_restore_meta, which must accept it or refuse it with a
 * message; what it accepts is used (a batch drawn, its groups walked as
 * AM-DRL walks them, a block stored): an index it let through that is out
 * of range is a sanitizer report.
 * The seeds (corpus/checkpoint/) are real checkpoints: a structure-unaware
 * mutation of an HDF5 file mostly ends in the reader's superblock check or
 * HDF5's checksums, and only valid files reach afsim's reader, which
 * fuzz_checkpoint_schema fuzzes with valid files. HDF5 1.10 itself crashes
 * on malformed files of the old format (regressions/checkpoint/hdf5-*,
 * docs/testing.md), which the reader now refuses before HDF5 opens them;
 * strings are read only when fixed-length (a variable-length string's
 * global heap has no checksum, and a damaged one made HDF5 loop for
 * minutes: regressions/checkpoint/vlen-string-global-heap-loop). */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint_nets.h"
#include "kernels/common/groups_math.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], input_path[96];
static afs_backend *cpu;
static fuzz_model model;
static fuzz_replay replay;
static afs_config *cfg;
static int verbose; /* AFSIM_FUZZ_VERBOSE=1: say what each input gave */

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_checkpoint: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void clean_up(void)
{
    unlink(input_path);
    rmdir(dir);
    fuzz_model_free(&model, cpu);
    afs_replay_free(&replay.r, cpu);
    free(cfg);
    cpu->destroy(cpu);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/afsim-fuzz-checkpoint-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir))
        fail("mkdtemp", NULL);
    snprintf(input_path, sizeof input_path, "%s/input.h5", dir);
    cpu = afs_backend_cpu_create(1);
    cfg = malloc(sizeof *cfg);
    if (!cpu || !cfg || fuzz_model_make(&model, cpu, 1) || fuzz_replay_make(&replay, cpu))
        fail("cannot make the model", NULL);
    atexit(clean_up);
    verbose = getenv("AFSIM_FUZZ_VERBOSE") != NULL;
    return 0;
}

static void check_message(const char *call, int rc, const char *err, size_t n)
{
    if (!rc)
        return;
    if (memchr(err, 0, n) == NULL)
        fail(call, "message not NUL-terminated");
    if (!err[0])
        fail(call, "failed without a message");
}

/* afs_checkpoint_load into the model; *loaded: blobs_loaded. */
static int load(int blobs_optional, int *loaded, char *err, size_t n)
{
    /* A copy on the heap, sized exactly: what the reader writes into it
     * (the algorithm's name, the counters) must stay inside. */
    afs_checkpoint *c = malloc(sizeof *c);
    if (!c)
        fail("out of memory", NULL);
    *c = model.c;
    memset(c->algo, 'x', sizeof c->algo);
    memset(c->run_id, 'x', sizeof c->run_id);
    *loaded = -1;
    memset(err, 0, n);
    int rc = afs_checkpoint_load(input_path, cpu, c, blobs_optional, loaded, err, n);
    check_message("afs_checkpoint_load", rc, err, n);
    if (!rc && *loaded != 0 && *loaded != 1)
        fail("afs_checkpoint_load", "loaded without setting blobs_loaded");
    if (!rc && !memchr(c->algo, 0, sizeof c->algo))
        fail("afs_checkpoint_load", "loaded an algorithm name that is not NUL-terminated");
    if (!rc && !memchr(c->run_id, 0, sizeof c->run_id))
        fail("afs_checkpoint_load", "loaded a run_id that is not NUL-terminated");
    if (!rc && c->counters.eval_rows < 0)
        fail("afs_checkpoint_load", "loaded a negative eval_rows");
    if (!rc && !blobs_optional && !*loaded)
        fail("afs_checkpoint_load", "loaded without the state it requires");
    free(c);
    return rc;
}

/* The replay's state, loaded (when there) and checked, then used. */
static void load_replay(void)
{
    char err[1024];
    int loaded = -1;
    memset(err, 0, sizeof err);
    int rc = afs_checkpoint_load(input_path, cpu, &replay.c, 1, &loaded, err, sizeof err);
    check_message("afs_checkpoint_load (replay)", rc, err, sizeof err);
    if (verbose && (rc || !loaded))
        fprintf(stderr, "fuzz_checkpoint: replay: %s\n", rc ? err : "no replay state");
    if (rc || !loaded)
        return;
    memset(err, 0, sizeof err);
    rc = afs_replay_restore_meta(&replay.r, cpu, err, sizeof err);
    check_message("afs_replay_restore_meta", rc, err, sizeof err);
    if (verbose)
        fprintf(stderr, "fuzz_checkpoint: replay: %s\n", rc ? err : "restored");
    if (rc)
        return;
    enum { N = FUZZ_BATCH * FUZZ_ROW };
    int32_t first[N];
    afs_replay_sample(&replay.r, cpu, FUZZ_BATCH, 1, 2, 3, 0.5f);
    afs_group_first_rows(replay.r.batch.grp, N, FUZZ_ROW, FUZZ_GROUP_K, first);
    afs_group_first_rows(replay.r.batch.next_grp, N, FUZZ_ROW, FUZZ_GROUP_K, first);
    fuzz_replay_store(&replay, cpu, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(input_path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        fail("cannot write", input_path);
    char err[1024];
    int loaded = -1;
    int rc = load(1, &loaded, err, sizeof err);
    if (verbose)
        fprintf(stderr, "fuzz_checkpoint: optional state: %s\n",
                rc ? err : loaded ? "loaded, with the state" : "loaded, without the state");
    if (!rc) {
        int with = -1;
        int rc2 = load(0, &with, err, sizeof err);
        if (loaded && rc2)
            fail("afs_checkpoint_load", "the state loads as optional, but not as required");
        if (!loaded && !rc2)
            fail("afs_checkpoint_load", "no state as optional, but loaded as required");
        if (verbose)
            fprintf(stderr, "fuzz_checkpoint: required state: %s\n", rc2 ? err : "loaded");
    }
    /* The configuration: the keys are set from the file, over the defaults. */
    char *algo = malloc(32); /* exactly: a longer name must be refused, not written */
    if (!algo)
        fail("out of memory", NULL);
    afs_config_defaults(cfg);
    memset(err, 0, sizeof err);
    rc = afs_checkpoint_config(input_path, algo, 32, cfg, err, sizeof err);
    check_message("afs_checkpoint_config", rc, err, sizeof err);
    if (!rc && !memchr(algo, 0, 32))
        fail("afs_checkpoint_config", "algorithm name not NUL-terminated");
    if (verbose)
        fprintf(stderr, "fuzz_checkpoint: configuration: %s%s\n", rc ? err : "read, algo ",
                rc ? "" : algo);
    free(algo);
    load_replay();
    /* The reader closes whatever it opens, on every path. */
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0)
        fail("afs_checkpoint_load or afs_checkpoint_config", "left an HDF5 object open");
    return 0;
}
