/* libFuzzer harness of the configuration reader and validator (host/config.h).
 *
 * Each input is used twice:
 * - as a file: written to a temporary file, loaded with afs_config_load over
 *   the defaults, then checked with afs_config_check. A configuration that
 *   passes both must round-trip: afs_config_dump's output loads back and
 *   checks to the same value of every key (the README promises that the
 *   dump loads back with --config);
 * - as one `--set` argument (afs_config_set_arg), then checked.
 * Every failure must leave a message: a NUL-terminated, non-empty string.
 * Anything else, and every sanitizer report, is a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], input_path[96], dump_path[96];
static int verbose; /* AFSIM_FUZZ_VERBOSE=1: say what each input gave */

static void remove_files(void)
{
    unlink(input_path);
    unlink(dump_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* /dev/shm when there is one: a file per input, kept off the disk. */
    snprintf(dir, sizeof dir, "%s/afsim-fuzz-config-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) {
        perror("fuzz_config: mkdtemp");
        exit(1);
    }
    snprintf(input_path, sizeof input_path, "%s/input.ini", dir);
    snprintf(dump_path, sizeof dump_path, "%s/dump.ini", dir);
    atexit(remove_files);
    verbose = getenv("AFSIM_FUZZ_VERBOSE") != NULL;
    return 0;
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* A failure must say why, within the buffer. */
static void check_message(const char *err, size_t n, const char *who)
{
    if (memchr(err, 0, n) == NULL)
        fail(who, "message not NUL-terminated");
    if (!err[0])
        fail(who, "failed without a message");
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        fail("cannot write", path);
}

/* The dump of a valid configuration loads back to the same values. */
static void round_trip(const afs_config *cfg)
{
    FILE *f = fopen(dump_path, "w");
    if (!f)
        fail("cannot write", dump_path);
    afs_config_dump(cfg, f);
    if (fclose(f))
        fail("cannot write", dump_path);
    afs_config *back = malloc(sizeof *back);
    char err[2048];
    afs_config_defaults(back);
    if (afs_config_load(back, dump_path, err, sizeof err))
        fail("the dump of a valid configuration does not load", err);
    if (afs_config_check(back, err, sizeof err))
        fail("the dump of a valid configuration does not check", err);
    for (int i = 0; i < afs_config_key_count(); i++) {
        const afs_config_key *k = afs_config_key_at(i);
        char a[AFS_PATH_MAX + 8], b[AFS_PATH_MAX + 8];
        afs_config_format(cfg, k, a, sizeof a);
        afs_config_format(back, k, b, sizeof b);
        if (strcmp(a, b)) {
            fprintf(stderr, "fuzz_config: %s.%s = '%s' dumps and loads back as '%s'\n",
                    k->section, k->name, a, b);
            fail("the dump does not round-trip", NULL);
        }
    }
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Heap copies, sized exactly: a read past the end is a report. */
    afs_config *cfg = malloc(sizeof *cfg);
    char err[2048];

    write_file(input_path, data, size);
    afs_config_defaults(cfg);
    memset(err, 0, sizeof err);
    if (afs_config_load(cfg, input_path, err, sizeof err))
        check_message(err, sizeof err, "afs_config_load");
    else if (afs_config_check(cfg, err, sizeof err))
        check_message(err, sizeof err, "afs_config_check");
    else
        round_trip(cfg);
    if (verbose)
        fprintf(stderr, "fuzz_config: file: %s\n", err[0] ? err : "valid");

    char *arg = malloc(size + 1);
    memcpy(arg, data, size);
    arg[size] = 0;
    afs_config_defaults(cfg);
    memset(err, 0, sizeof err);
    if (afs_config_set_arg(cfg, arg, "--set", err, sizeof err))
        check_message(err, sizeof err, "afs_config_set_arg");
    else if (afs_config_check(cfg, err, sizeof err))
        check_message(err, sizeof err, "afs_config_check after --set");
    if (verbose)
        fprintf(stderr, "fuzz_config: --set: %s\n", err[0] ? err : "valid");
    free(arg);
    free(cfg);
    return 0;
}
