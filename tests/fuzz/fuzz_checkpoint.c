/* libFuzzer harness of the checkpoint reader (host/checkpoint.h): each input
 * is written to a file and loaded with afs_checkpoint_load into the networks
 * of checkpoint_nets.h on the CPU backend. It must load or fail with a
 * message (NUL-terminated, non-empty); anything else, and every sanitizer
 * report, is a crash. The seeds (corpus/checkpoint/) are real checkpoints:
 * a structure-unaware mutation of an HDF5 file mostly ends in HDF5's own
 * early parse errors, and only valid files reach afsim's reader. HDF5 1.10
 * also crashes on some of them (known/checkpoint/, docs/testing.md), so
 * tests/fuzz/run.sh replays this harness but fuzzes it only when asked;
 * fuzz_checkpoint_schema fuzzes the reader with valid files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint_nets.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], input_path[96];
static afs_backend *cpu;
static afs_mlp actor, critic;
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
    afs_mlp_free(&actor, cpu);
    afs_mlp_free(&critic, cpu);
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
    if (!cpu || fuzz_make_nets(cpu, &actor, &critic, 1))
        fail("cannot make the networks", NULL);
    atexit(clean_up);
    verbose = getenv("AFSIM_FUZZ_VERBOSE") != NULL;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(input_path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        fail("cannot write", input_path);
    afs_mlp *nets[2] = {&actor, &critic};
    afs_counters c;
    char err[1024];
    memset(&c, 0, sizeof c);
    memset(err, 0, sizeof err);
    int rc = afs_checkpoint_load(input_path, cpu, nets, fuzz_names, 2, &c, err, sizeof err);
    if (rc) {
        if (memchr(err, 0, sizeof err) == NULL)
            fail("afs_checkpoint_load", "message not NUL-terminated");
        if (!err[0])
            fail("afs_checkpoint_load", "failed without a message");
    }
    if (verbose)
        fprintf(stderr, "fuzz_checkpoint: %s\n", rc ? err : "loaded");
    return 0;
}
