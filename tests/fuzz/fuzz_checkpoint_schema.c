/* libFuzzer harness of the checkpoint reader, structure-aware: each input is
 * a recipe for a checkpoint, which the harness writes with HDF5 as a valid
 * file and loads with afs_checkpoint_load into the networks of
 * checkpoint_nets.h. The recipe decides, item by item, whether what the
 * reader expects is there and right, missing, of another type (other
 * integer or float widths, big-endian, strings), of another shape (scalar,
 * empty, 1 to 3 dimensions, other lengths), with other values, or a link
 * (dangling, or to the other network); datasets are contiguous, chunked or
 * compressed. Most items come out right, so that the reader gets deep.
 *
 * fuzz_checkpoint (raw bytes as the file) mostly exercises HDF5's own parser,
 * which crashes on malformed files (docs/testing.md); here every file is
 * valid HDF5, so every report is about afsim's reader: it must load or fail
 * with a message (NUL-terminated, non-empty), touching no memory it does not
 * own.
 *
 * Known defects of the reader that are not fixed yet can be left out of the
 * recipes, so that a short run looks for new ones: AFSIM_FUZZ_KNOWN holds
 * their ids, comma-separated (tests/fuzz/run.sh sets it from the folders
 * of known/checkpoint_schema/, where each one's reproducers are; see
 * docs/testing.md):
 *   attr-count    a counter or adam_t attribute with more than one element
 *   attr-empty    a counter or adam_t attribute with no element (must not load)
 *   dataset-rank  a params, adam_m or adam_v dataset of 2 or 3 dimensions
 *
 * AFSIM_FUZZ_VERBOSE=1 prints each recipe and what the reader said;
 * AFSIM_FUZZ_SAVE=FILE keeps the checkpoint of the last input in FILE. */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint_nets.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[4096], save_path[4096];
static afs_backend *cpu;
static afs_mlp actor, critic;
static int verbose;         /* AFSIM_FUZZ_VERBOSE=1: the recipe and the outcome */
static int avoid_attr_count, avoid_attr_empty, avoid_dataset_rank;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_checkpoint_schema: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static void clean_up(void)
{
    if (!save_path[0])
        unlink(path);
    rmdir(dir);
    afs_mlp_free(&actor, cpu);
    afs_mlp_free(&critic, cpu);
    cpu->destroy(cpu);
}

static int known(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; p && *p;) {
        if (!strncmp(p, id, n) && (p[n] == ',' || p[n] == 0))
            return 1;
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/afsim-fuzz-schema-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir))
        fail("mkdtemp", NULL);
    /* AFSIM_FUZZ_SAVE=FILE: write the checkpoint there and keep it (to
     * look at a reproducer with h5dump, or load it in a test). */
    const char *save = getenv("AFSIM_FUZZ_SAVE");
    snprintf(path, sizeof path, "%s/input.h5", dir);
    if (save && snprintf(save_path, sizeof save_path, "%s", save) < (int)sizeof save_path)
        snprintf(path, sizeof path, "%s", save_path);
    cpu = afs_backend_cpu_create(1);
    if (!cpu || fuzz_make_nets(cpu, &actor, &critic, 1))
        fail("cannot make the networks", NULL);
    atexit(clean_up);
    verbose = getenv("AFSIM_FUZZ_VERBOSE") != NULL;
    const char *k = getenv("AFSIM_FUZZ_KNOWN");
    avoid_attr_count = known(k, "attr-count");
    avoid_attr_empty = known(k, "attr-empty");
    avoid_dataset_rank = known(k, "dataset-rank");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return 0;
}

/* The recipe: bytes taken one at a time, zeros once they run out. */
typedef struct {
    const uint8_t *p;
    size_t n;
} recipe;

static unsigned byte(recipe *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static void bytes(recipe *r, void *out, size_t n)
{
    size_t k = n < r->n ? n : r->n;
    memcpy(out, r->p, k);
    memset((char *)out + k, 0, n - k);
    r->p += k;
    r->n -= k;
}

#define say(...) (verbose ? fprintf(stderr, __VA_ARGS__) : 0)

/* Another type than the one the reader asks for; *close_it says whether
 * the caller must close the returned id. */
static hid_t odd_type(recipe *r, int *close_it)
{
    static const char *const names[] = {"i8", "i16", "i32", "i64be", "u32", "u64", "f32", "f64be", "string"};
    unsigned k = byte(r) % 9;
    say(" type %s", names[k]);
    *close_it = 0;
    switch (k) {
    case 0: return H5T_NATIVE_SCHAR;
    case 1: return H5T_NATIVE_SHORT;
    case 2: return H5T_NATIVE_INT;
    case 3: return H5T_STD_I64BE;
    case 4: return H5T_NATIVE_UINT;
    case 5: return H5T_NATIVE_ULLONG;
    case 6: return H5T_NATIVE_FLOAT;
    case 7: return H5T_IEEE_F64BE;
    default: {
        hid_t s = H5Tcopy(H5T_C_S1);
        H5Tset_size(s, 1 + byte(r) % 12);
        *close_it = 1;
        return s;
    }
    }
}

/* A dataspace: scalar, null, or 1 to 3 dimensions of up to `most` each.
 * Known defects are left out by clamping (at most max_rank dimensions;
 * without allow_empty, no null space and no dimension of 0) rather than
 * by reading the recipe otherwise: a recipe means the same with or without
 * AFSIM_FUZZ_KNOWN, apart from what is clamped. */
static hid_t odd_space(recipe *r, hsize_t most, int max_rank, int allow_empty)
{
    unsigned k = byte(r) % 5;
    int rank = k >= 2 ? (int)k - 1 : 0;
    hsize_t dims[3] = {1, 1, 1};
    for (int i = 0; i < rank; i++)
        dims[i] = byte(r) % (most + 1);
    if (k == 1 && !allow_empty)
        k = 0;
    if (rank > max_rank)
        rank = max_rank;
    if (k >= 2 && rank == 0)
        k = 0;
    if (k == 0) {
        say(" scalar");
        return H5Screate(H5S_SCALAR);
    }
    if (k == 1) {
        say(" null");
        return H5Screate(H5S_NULL);
    }
    say(" dims");
    for (int i = 0; i < rank; i++) {
        if (!allow_empty && dims[i] == 0)
            dims[i] = 1;
        say(" %llu", (unsigned long long)dims[i]);
    }
    return H5Screate_simple(rank, dims, NULL);
}

/* Set when the recipe gave a counter (or adam_t) no element at all: such a
 * checkpoint must not load. */
static int empty_counter;

/* Writes attribute `name` of `obj`: the value the reader expects (type
 * `type`, `len` elements of `value`, 0 for a scalar), or, as the recipe
 * says, none, other values, another type or another shape. A counter is
 * one number (the root's counters, adam_t); sizes is a list. */
static void attribute(recipe *r, hid_t obj, const char *name, hid_t type, hsize_t len,
                      const void *value, size_t value_size, int counter)
{
    unsigned mode = byte(r) % 16;
    hid_t t = type, space;
    int close_type = 0;
    unsigned char buf[1024];
    memcpy(buf, value, value_size);
    say("  attribute %s:", name);
    if (mode == 12) {
        say(" missing\n");
        return;
    }
    if (mode == 13)
        bytes(r, buf, value_size), say(" other value");
    if (mode == 14)
        t = odd_type(r, &close_type);
    if (mode == 15) {
        if (counter)
            space = odd_space(r, 4, avoid_attr_count ? 0 : 3, !avoid_attr_empty);
        else
            space = odd_space(r, 4, 3, 1);
    } else {
        space = len ? H5Screate_simple(1, &len, NULL) : H5Screate(H5S_SCALAR);
    }
    say("\n");
    hssize_t points = H5Sget_simple_extent_npoints(space);
    size_t need = points > 0 ? (size_t)points * H5Tget_size(t) : 0;
    if (mode >= 14) /* other-typed or other-shaped elements: values from the recipe */
        bytes(r, buf, need < sizeof buf ? need : sizeof buf);
    if (points >= 0 && need <= sizeof buf) {
        hid_t a = H5Acreate2(obj, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) {
            H5Awrite(a, t, buf);
            H5Aclose(a);
            empty_counter |= counter && points == 0;
        }
    }
    H5Sclose(space);
    if (close_type)
        H5Tclose(t);
}

static void floats(recipe *r, hid_t g, const char *name, size_t count)
{
    unsigned mode = byte(r) % 16;
    hid_t t = H5T_NATIVE_FLOAT, space, dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int close_type = 0;
    hsize_t len = count;
    say("  dataset %s:", name);
    if (mode == 12) {
        say(" missing\n");
        H5Pclose(dcpl);
        return;
    }
    if (mode == 13) {
        len = (hsize_t)((long long)count + (int)(byte(r) % 5) - 2);
        say(" length %llu", (unsigned long long)len);
    }
    if (mode == 14)
        t = odd_type(r, &close_type);
    if (mode == 15)
        space = odd_space(r, count + 1, avoid_dataset_rank ? 1 : 3, 1);
    else
        space = H5Screate_simple(1, &len, NULL);
    /* Layout: contiguous, chunked, or chunked and compressed. */
    unsigned layout = byte(r) % 4;
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[3] = {0, 0, 0};
    H5Sget_simple_extent_dims(space, dims, NULL);
    int chunkable = rank > 0 && H5Sget_simple_extent_type(space) == H5S_SIMPLE;
    for (int i = 0; i < rank; i++)
        chunkable &= dims[i] > 0;
    if (layout >= 2 && chunkable) {
        hsize_t chunk[3];
        for (int i = 0; i < rank; i++)
            chunk[i] = 1 + byte(r) % dims[i];
        H5Pset_chunk(dcpl, rank, chunk);
        if (layout == 3)
            H5Pset_deflate(dcpl, 1);
        say(" chunked%s", layout == 3 ? ", deflate" : "");
    }
    say("\n");
    hid_t ds = H5Dcreate2(g, name, t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    hssize_t points = H5Sget_simple_extent_npoints(space);
    if (ds >= 0 && points > 0) {
        size_t bytes_n = (size_t)points * H5Tget_size(t);
        unsigned char *buf = malloc(bytes_n);
        bytes(r, buf, bytes_n);
        H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        free(buf);
    }
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    H5Pclose(dcpl);
    if (close_type)
        H5Tclose(t);
}

/* An object the reader opens as a group: a group (mostly), missing, a
 * dataset, or a soft link (dangling, or to `other`). Returns the group to
 * fill, or -1. */
static hid_t group(recipe *r, hid_t parent, const char *name, const char *other)
{
    unsigned mode = byte(r) % 16;
    if (mode < 12)
        return H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (mode == 12) {
        say(" group %s: missing\n", name);
    } else if (mode == 13) {
        say(" group %s: a dataset instead\n", name);
        hid_t s = H5Screate(H5S_SCALAR);
        hid_t d = H5Dcreate2(parent, name, H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d >= 0)
            H5Dclose(d);
        H5Sclose(s);
    } else if (mode == 14) {
        say(" group %s: a dangling soft link\n", name);
        H5Lcreate_soft("/nowhere", parent, name, H5P_DEFAULT, H5P_DEFAULT);
    } else {
        say(" group %s: a soft link to %s\n", name, other);
        H5Lcreate_soft(other, parent, name, H5P_DEFAULT, H5P_DEFAULT);
    }
    return -1;
}

static void network(recipe *r, hid_t nets, const char *name, const char *other, const afs_mlp *net)
{
    hid_t g = group(r, nets, name, other);
    if (g < 0)
        return;
    say(" network %s\n", name);
    int64_t t = 3;
    attribute(r, g, "sizes", H5T_NATIVE_INT, (hsize_t)net->layers + 1, net->sizes,
              sizeof(int) * (size_t)(net->layers + 1), 0);
    attribute(r, g, "adam_t", H5T_NATIVE_INT64, 0, &t, sizeof t, 1);
    floats(r, g, "params", net->n_params);
    floats(r, g, "adam_m", net->n_params);
    floats(r, g, "adam_v", net->n_params);
    H5Gclose(g);
}

static int write_checkpoint(recipe *r)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return -1;
    int64_t schema = AFS_CHECKPOINT_SCHEMA, episode = 6, slot = 78, updates = 9000;
    uint32_t seed = 12345;
    attribute(r, f, "schema_version", H5T_NATIVE_INT64, 0, &schema, sizeof schema, 1);
    attribute(r, f, "seed", H5T_NATIVE_UINT32, 0, &seed, sizeof seed, 1);
    attribute(r, f, "episode", H5T_NATIVE_INT64, 0, &episode, sizeof episode, 1);
    attribute(r, f, "slot", H5T_NATIVE_INT64, 0, &slot, sizeof slot, 1);
    attribute(r, f, "updates", H5T_NATIVE_INT64, 0, &updates, sizeof updates, 1);
    hid_t nets = group(r, f, "networks", "/");
    if (nets >= 0) {
        network(r, nets, "actor", "critic", &actor);
        network(r, nets, "critic", "actor", &critic);
        H5Gclose(nets);
    }
    return H5Fclose(f) < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    recipe r = {data, size};
    empty_counter = 0;
    if (write_checkpoint(&r))
        return 0;
    afs_mlp *nets[2] = {&actor, &critic};
    /* The counters on the heap, sized exactly: an attribute read that
     * writes more than one element past them is a report. */
    afs_counters *c = malloc(sizeof *c);
    char err[1024];
    memset(err, 0, sizeof err);
    int rc = afs_checkpoint_load(path, cpu, nets, fuzz_names, 2, c, err, sizeof err);
    if (rc) {
        if (memchr(err, 0, sizeof err) == NULL)
            fail("afs_checkpoint_load", "message not NUL-terminated");
        if (!err[0])
            fail("afs_checkpoint_load", "failed without a message");
    }
    if (!rc && empty_counter)
        fail("afs_checkpoint_load", "a checkpoint with a counter of no element loaded");
    if (rc)
        say("=> %s\n", err);
    else
        say("=> loaded: seed %u, episode %lld, slot %lld, updates %lld\n", c->seed,
            (long long)c->episode, (long long)c->slot, (long long)c->updates);
    free(c);
    return 0;
}
