/* libFuzzer harness of the checkpoint reader, structure-aware: each input is
 * a recipe for a checkpoint, which the harness writes with HDF5 as a valid
 * file in the format afs_checkpoint_save writes (HDF5 1.10, checksums),
 * loads with afs_checkpoint_load into the model of checkpoint_nets.h (the
 * parameter sets "actor" and "critic", the state array "ring"), and reads
 * with afs_checkpoint_config. The recipe decides, item by item, whether
 * what the reader expects is there and right, missing, of another type
 * (other integer or float widths, big-endian, short fixed-length or
 * variable-length strings, arrays, compounds), of another shape (scalar,
 * empty, 1 to 3 dimensions, other lengths), with other values (other or
 * overlong text, text in a string type of another size or padding, a null
 * string), or a link (dangling, to itself, to another item, hard,
 * external); datasets are contiguous, chunked or compressed. Text is
 * written as afs_h5_attr_write_string writes it (fixed-length, UTF-8,
 * NUL-terminated). Most items come out right, so that the reader gets
 * deep. In recipe order:
 *
 *   /  schema_version, seed, episode, slot, updates   (counters)
 *   /params, then /params/actor and /params/critic, each:
 *          shape (text), adam_t (counter), value, adam_m, adam_v (float32 [n])
 *   /  algo (text)
 *   /state, /state/ring (uint8 [FUZZ_RING_BYTES])
 *   whether the state is optional for the load (a byte, bit 0; 0: required)
 *   the configuration: absent, or every key as afs_checkpoint_save writes
 *   it with up to three of them (chosen by index) as the recipe says
 *   /  eval_rows (counter), run_id (text): training's, optional (missing
 *      is right too)
 *
 * fuzz_checkpoint (raw bytes as the file) mostly exercises HDF5's own parser
 * (docs/testing.md); here every file is valid HDF5, so every report is about
 * afsim's reader. It must load or fail with a message (NUL-terminated,
 * non-empty), touching no memory it does not own, and:
 *   - a recipe that changes nothing the load reads must load (with the
 *     state; without it exactly when /state is missing and optional, and
 *     then leaving the ring alone); one that changes nothing
 *     afs_checkpoint_config reads must give back every key's value;
 *   - what loads holds what the right items said (counters, algo, adam_t,
 *     every value of value, adam_m, adam_v and the ring; eval_rows 0 and
 *     run_id "" when missing), and a key that the recipe left right reads
 *     back as written;
 *   - a counter with no element must not load.
 *
 * Known defects of the reader that are not fixed yet can be left out of the
 * recipes, so that a short run looks for new ones: AFSIM_FUZZ_KNOWN holds
 * their ids, comma-separated (tests/fuzz/run.sh sets it from the folders
 * of known/checkpoint_schema/, where each one's reproducers are; see
 * docs/testing.md):
 *   attr-count    a counter or adam_t attribute with more than one element
 *   attr-empty    a counter or adam_t attribute with no element (must not load)
 *   dataset-rank  a value, adam_m, adam_v or ring dataset of 2 or 3 dimensions
 * (all three fixed; their reproducers are in regressions/checkpoint_schema/).
 *
 * AFSIM_FUZZ_VERBOSE=1 prints each recipe and what the reader said;
 * AFSIM_FUZZ_SAVE=FILE keeps the checkpoint of the last input in FILE. */
#include <math.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint_nets.h"
#include "host/h5attr.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[4096], save_path[4096];
static afs_backend *cpu;
static fuzz_model model;
static afs_config *defaults, *back;
static int verbose;         /* AFSIM_FUZZ_VERBOSE=1: the recipe and the outcome */
static int avoid_attr_count, avoid_attr_empty, avoid_dataset_rank;

/* What the harness writes where an item is right. */
static const char *const set_names[2] = {"actor", "critic"};
static const int64_t set_adam_t[2] = {3, 5};
static const char *const data_names[3] = {"value", "adam_m", "adam_v"};
static const afs_counters counters = {12345, 6, 78, 9000, 0, NAN};
static float *expect_data[2][3];
static unsigned char expect_ring[FUZZ_RING_BYTES];

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
    fuzz_model_free(&model, cpu);
    for (int s = 0; s < 2; s++)
        for (int d = 0; d < 3; d++)
            free(expect_data[s][d]);
    free(defaults);
    free(back);
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

static afs_params *set_params(int s)
{
    return s ? &model.critic.p : &model.actor.p;
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
    defaults = malloc(sizeof *defaults);
    back = malloc(sizeof *back);
    if (!cpu || !defaults || !back || fuzz_model_make(&model, cpu, 1))
        fail("cannot make the model", NULL);
    afs_config_defaults(defaults);
    for (int s = 0; s < 2; s++)
        for (int d = 0; d < 3; d++) {
            size_t n = set_params(s)->n;
            if (!(expect_data[s][d] = malloc(n * sizeof(float))))
                fail("out of memory", NULL);
            for (size_t i = 0; i < n; i++)
                expect_data[s][d][i] = (float)((s * 3 + d + 1) * 1000 + (int)i) * 0.5f;
        }
    for (int i = 0; i < FUZZ_RING_BYTES; i++)
        expect_ring[i] = (unsigned char)(i * 7 + 3);
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

/* What the recipe did, for the checks after loading. */
static struct {
    int load_changed;    /* an item that afs_checkpoint_load reads is not right */
    int config_changed;  /* one that afs_checkpoint_config reads is not right */
    int empty_counter;   /* a counter that the load reads has no element */
    int empty_schema;    /* schema_version has none */
    int state_missing;   /* no /state at all (and nothing else in its place) */
    int optional;        /* the state is optional for the load */
    int counter_right[5];
    int algo_right, adam_t_right[2], data_right[2][3], ring_right;
    int eval_rows_right, run_id_right; /* 1 right, 2 missing (right too), 0 other */
    unsigned char key_right[AFS_MAX_KEYS];
} got;

/* The mode that the next item will take (its first byte), to tell an
 * optional item that is missing from one that is otherwise not right. */
static unsigned next_mode(const recipe *r)
{
    return r->n ? r->p[0] % 16 : 0;
}

/* Another type than the one the reader asks for; *close_it says whether
 * the caller must close the returned id. */
static hid_t odd_type(recipe *r, int *close_it)
{
    static const char *const names[] = {"i8",     "i16",          "i32",       "i64be",
                                        "u32",    "u64",          "f32",       "f64be",
                                        "string", "vlen string", "float[2]", "compound"};
    unsigned k = byte(r) % 12;
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
    case 8: {
        hid_t s = H5Tcopy(H5T_C_S1);
        H5Tset_size(s, 1 + byte(r) % 12);
        *close_it = 1;
        return s;
    }
    case 9: {
        hid_t s = H5Tcopy(H5T_C_S1);
        H5Tset_size(s, H5T_VARIABLE); /* what afsim wrote before: refused now */
        H5Tset_cset(s, H5T_CSET_UTF8);
        *close_it = 1;
        return s;
    }
    case 10: {
        hsize_t two = 2;
        *close_it = 1;
        return H5Tarray_create2(H5T_NATIVE_FLOAT, 1, &two);
    }
    default: {
        hid_t c = H5Tcreate(H5T_COMPOUND, sizeof(float));
        H5Tinsert(c, "x", 0, H5T_NATIVE_FLOAT);
        *close_it = 1;
        return c;
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

/* A UTF-8 string type: fixed-length, NUL-terminated, of len bytes (as
 * afs_h5_attr_write_string writes), or variable-length when len is 0 (the
 * only way to write a null string; the reader refuses it). */
static hid_t utf8_string(size_t len)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len ? len : H5T_VARIABLE);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* Elements to write, for `points` elements of type t: a variable-length
 * string type takes pointers (each `text`, which may be NULL); any other
 * type the raw bytes of `raw`, repeated or cut to size. NULL when there is
 * nothing to write. Free with free(). */
static void *elements(hid_t t, hssize_t points, const void *raw, size_t raw_n, const char *text)
{
    if (points <= 0)
        return NULL;
    if (H5Tis_variable_str(t) > 0) {
        const char **p = malloc((size_t)points * sizeof *p);
        for (hssize_t i = 0; p && i < points; i++)
            p[i] = text;
        return p;
    }
    size_t n = (size_t)points * H5Tget_size(t);
    unsigned char *b = malloc(n);
    for (size_t i = 0; b && i < n; i++)
        b[i] = raw_n ? ((const unsigned char *)raw)[i % raw_n] : 0;
    return b;
}

/* Creates attribute `name` of obj; returns 1 when it was written. */
static int put_attribute(hid_t obj, const char *name, hid_t t, hid_t space, const void *raw,
                         size_t raw_n, const char *text)
{
    hssize_t points = H5Sget_simple_extent_npoints(space);
    if (points < 0 || points > 4096)
        return 0;
    hid_t a = H5Acreate2(obj, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return 0;
    void *buf = elements(t, points, raw, raw_n, text);
    if (buf)
        H5Awrite(a, t, buf);
    free(buf);
    H5Aclose(a);
    return 1;
}

/* Writes numeric attribute `name` of obj: the scalar the reader expects
 * (type `type`, `value` of `size` bytes), or, as the recipe says, none, an
 * other value, another type or another shape. A counter is one number that
 * the reader requires (*empty: set when it was given no element). Returns 1
 * when it is right. */
static int attribute(recipe *r, hid_t obj, const char *name, hid_t type, const void *value,
                     size_t size, int counter, int *empty)
{
    unsigned mode = byte(r) % 16;
    hid_t t = type, space;
    int close_type = 0;
    unsigned char buf[64];
    memcpy(buf, value, size);
    say("  attribute %s:", name);
    if (mode == 12) {
        say(" missing\n");
        return 0;
    }
    if (mode == 13)
        bytes(r, buf, size), say(" other value");
    if (mode == 14)
        t = odd_type(r, &close_type);
    if (mode == 15) {
        if (counter)
            space = odd_space(r, 4, avoid_attr_count ? 0 : 3, !avoid_attr_empty);
        else
            space = odd_space(r, 4, 3, 1);
    } else {
        space = H5Screate(H5S_SCALAR);
    }
    say("\n");
    /* Other-typed or other-shaped elements: up to 64 bytes from the recipe. */
    size_t raw_n = size;
    if (mode >= 14) {
        hssize_t points = H5Sget_simple_extent_npoints(space);
        size_t need = points > 0 ? (size_t)points * H5Tget_size(t) : 0;
        raw_n = need < sizeof buf ? need : sizeof buf;
        bytes(r, buf, raw_n);
    }
    if (put_attribute(obj, name, t, space, buf, raw_n, "12345") && empty &&
        H5Sget_simple_extent_npoints(space) == 0)
        *empty = 1;
    H5Sclose(space);
    if (close_type)
        H5Tclose(t);
    return mode < 12;
}

/* Text other than `want`, into buf [2048]; NULL for a null string. Or
 * `want` in a fixed-length type of another size (*size: one to two bytes
 * short of strlen + 1, or up to two more, whose bytes repeat the text
 * after its NUL) and padding (*pad); *size 0: strlen + 1, NUL-terminated. */
static const char *odd_text(recipe *r, const char *want, char *buf, size_t *size, H5T_str_t *pad)
{
    static const int lengths[5] = {31, 63, 255, 1023, 1031}; /* buffers' edges */
    static const H5T_str_t pads[3] = {H5T_STR_NULLTERM, H5T_STR_NULLPAD, H5T_STR_SPACEPAD};
    static const char *const pad_names[3] = {"NUL-terminated", "NUL-padded", "space-padded"};
    size_t n = strlen(want);
    unsigned k = byte(r) % 6, a, len;
    *size = 0;
    *pad = H5T_STR_NULLTERM;
    switch (k) {
    case 0:
        len = byte(r) % 48;
        bytes(r, buf, len);
        buf[len] = 0;
        say(" text of %u bytes from the recipe", len);
        return buf;
    case 1:
        snprintf(buf, 2048, "%s", want);
        a = byte(r);
        if (n)
            buf[a % n] = (char)byte(r);
        say(" one character changed");
        return buf;
    case 2:
        a = byte(r);
        len = (unsigned)(lengths[a % 5] + (int)(byte(r) % 5) - 2);
        snprintf(buf, 2048, "%s", want);
        for (size_t i = n; i < len; i++)
            buf[i] = 'x';
        buf[len > n ? len : n] = 0;
        say(" %zu characters long", strlen(buf));
        return buf;
    case 3:
        say(" empty");
        return "";
    case 4:
        say(" a null string");
        return NULL;
    default:
        a = byte(r);
        *size = (n + 1 + a % 5 >= 2) ? n + 1 + a % 5 - 2 : 1;
        a = byte(r) % 3;
        *pad = pads[a];
        say(" in %zu bytes, %s", *size, pad_names[a]);
        return want;
    }
}

/* Writes string attribute `name` of obj: the fixed-length UTF-8 scalar
 * `want`, or as the recipe says. Returns 1 when it is right. */
static int string_attribute(recipe *r, hid_t obj, const char *name, const char *want)
{
    static char text_buf[2048];
    unsigned mode = byte(r) % 16;
    const char *text = want;
    hid_t t, space;
    say("  attribute %s:", name);
    if (mode == 12) {
        say(" missing\n");
        return 0;
    }
    size_t size = 0;
    H5T_str_t pad = H5T_STR_NULLTERM;
    if (mode == 13)
        text = odd_text(r, want, text_buf, &size, &pad);
    if (mode == 14) {
        int close_type;
        t = odd_type(r, &close_type);
        if (!close_type)
            t = H5Tcopy(t);
    } else {
        t = utf8_string(size ? size : text ? strlen(text) + 1 : 0);
        H5Tset_strpad(t, pad);
    }
    space = mode == 15 ? odd_space(r, 4, 3, 1) : H5Screate(H5S_SCALAR);
    say("\n");
    /* A fixed-length string holds the text (as much as fits); other types
     * take bytes from the recipe. */
    unsigned char raw[64];
    const void *src = raw;
    size_t raw_n = 0;
    if (mode == 14 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) <= 0) {
        raw_n = strlen(want);
        memcpy(raw, want, raw_n < sizeof raw ? raw_n : sizeof raw);
        raw_n = raw_n < sizeof raw ? raw_n : sizeof raw;
    } else if (mode == 14) {
        raw_n = H5Tget_size(t) < sizeof raw ? H5Tget_size(t) : sizeof raw;
        bytes(r, raw, raw_n);
    } else if (text) {
        src = text;
        raw_n = strlen(text) + 1;
    }
    put_attribute(obj, name, t, space, src, raw_n, text);
    H5Sclose(space);
    H5Tclose(t);
    return mode < 12;
}

/* A link where an object belongs: kind 0 dangling soft, 1 soft to target,
 * 2 hard to target (nothing when it does not exist yet), 3 soft to
 * itself, 4 external to a missing file, 5 external to target in this file. */
static void link_to(hid_t parent, const char *name, unsigned kind, const char *target)
{
    static const char *const kinds[] = {"dangling soft link", "soft link", "hard link",
                                        "soft link to itself", "external link to a missing file",
                                        "external link into this file"};
    say(" %s%s%s\n", kinds[kind], kind == 1 || kind == 2 || kind == 5 ? " to " : "",
        kind == 1 || kind == 2 || kind == 5 ? target : "");
    char self[256];
    switch (kind) {
    case 0: H5Lcreate_soft("/nowhere", parent, name, H5P_DEFAULT, H5P_DEFAULT); break;
    case 1: H5Lcreate_soft(target, parent, name, H5P_DEFAULT, H5P_DEFAULT); break;
    case 2: H5Lcreate_hard(parent, target, parent, name, H5P_DEFAULT, H5P_DEFAULT); break;
    case 3:
        snprintf(self, sizeof self, "%s", name);
        H5Lcreate_soft(self, parent, name, H5P_DEFAULT, H5P_DEFAULT);
        break;
    case 4:
        H5Lcreate_external("/nonexistent/afsim-fuzz.h5", "/", parent, name, H5P_DEFAULT,
                           H5P_DEFAULT);
        break;
    default: H5Lcreate_external(path, target, parent, name, H5P_DEFAULT, H5P_DEFAULT);
    }
}

/* A 1-D dataset of `count` elements of `type` (`data`) as the reader
 * expects it, or as the recipe says: missing, a link (`other`: a path it
 * may lead to), another length, type or shape. Returns 1 when right. */
static int array(recipe *r, hid_t g, const char *name, hid_t type, const void *data,
                 size_t count, const char *other)
{
    unsigned mode = byte(r) % 16;
    hid_t t = type, space, dcpl;
    int close_type = 0;
    hsize_t len = count;
    say("  dataset %s:", name);
    if (mode == 11) {
        static const unsigned kinds[4] = {0, 1, 2, 4};
        link_to(g, name, kinds[byte(r) % 4], other);
        return 0;
    }
    if (mode == 12) {
        say(" missing\n");
        return 0;
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
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
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
        /* The expected values (padded with zeros), or for another type or
         * shape, up to 16 bytes from the recipe and then those values. */
        size_t elem = H5Tget_size(type), n = count * elem;
        unsigned char *raw = calloc(n + 16, 1);
        if (!raw)
            fail("out of memory", NULL);
        memcpy(raw, data, n);
        size_t raw_n = n;
        if (mode == 13 && len > count)
            raw_n = (size_t)len * elem; /* the zeros after them */
        if (mode >= 14) {
            memmove(raw + 16, raw, n);
            bytes(r, raw, 16);
            raw_n = n + 16;
        }
        void *buf = elements(t, points, raw, raw_n, "0.5");
        if (buf)
            H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
        free(buf);
        free(raw);
    }
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    H5Pclose(dcpl);
    if (close_type)
        H5Tclose(t);
    return mode < 11;
}

/* An object the reader opens as a group: a group (mostly), missing, a
 * dataset, or a link (`other`: a path it may lead to). Returns the group
 * to fill, or -1; *missing: set when there is nothing under the name. */
static hid_t group(recipe *r, hid_t parent, const char *name, const char *other, int *missing)
{
    unsigned mode = byte(r) % 16;
    if (mode < 12)
        return H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (mode == 12) {
        say(" group %s: missing\n", name);
        if (missing)
            *missing = 1;
    } else if (mode == 13) {
        say(" group %s: a dataset instead\n", name);
        hid_t s = H5Screate(H5S_SCALAR);
        hid_t d = H5Dcreate2(parent, name, H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        if (d >= 0)
            H5Dclose(d);
        H5Sclose(s);
    } else if (mode == 14) {
        static const unsigned kinds[3] = {0, 3, 4};
        say(" group %s:", name);
        link_to(parent, name, kinds[byte(r) % 3], other);
    } else {
        static const unsigned kinds[3] = {1, 2, 5};
        say(" group %s:", name);
        link_to(parent, name, kinds[byte(r) % 3], other);
    }
    return -1;
}

/* /params/<s>: returns 1 when the group itself is right. */
static int set(recipe *r, hid_t params, int s)
{
    const afs_params *p = set_params(s);
    hid_t g = group(r, params, set_names[s], s ? "/params/actor" : "/params/critic", NULL);
    if (g < 0)
        return 0;
    say(" set %s\n", set_names[s]);
    static const char *const others[2][3] = {
        {"/params/critic/value", "value", "adam_m"},
        {"/params/actor/value", "value", "adam_m"},
    };
    int ok = string_attribute(r, g, "shape", model.shapes[s]);
    got.adam_t_right[s] = attribute(r, g, "adam_t", H5T_NATIVE_INT64, &set_adam_t[s],
                                    sizeof set_adam_t[s], 1, &got.empty_counter);
    ok &= got.adam_t_right[s];
    for (int d = 0; d < 3; d++) {
        got.data_right[s][d] = array(r, g, data_names[d], H5T_NATIVE_FLOAT, expect_data[s][d],
                                     p->n, others[s][d]);
        ok &= got.data_right[s][d];
    }
    got.load_changed |= !ok;
    H5Gclose(g);
    return 1;
}

/* The configuration at the root: every key as afs_checkpoint_save writes
 * it (afs_h5_config_write), then up to three keys rewritten by the
 * recipe. */
static void configuration(recipe *r, hid_t f)
{
    int keys = afs_config_key_count();
    unsigned k = byte(r) % 16;
    if (k == 12) {
        say(" configuration: missing\n");
        got.config_changed = 1;
        return;
    }
    if (afs_h5_config_write(f, defaults) < 0)
        fail("afs_h5_config_write", "cannot write the configuration");
    memset(got.key_right, 1, sizeof got.key_right);
    for (unsigned i = 0; i < k % 4; i++) {
        int index = (int)(byte(r) % (unsigned)keys);
        const afs_config_key *key = afs_config_key_at(index);
        const char *field = (const char *)defaults + key->offset;
        char name[128], text[AFS_PATH_MAX + 8];
        snprintf(name, sizeof name, "%s.%s", key->section, key->name);
        H5Adelete(f, name);
        say(" configuration key %d\n", index);
        int64_t v = 0;
        int right;
        switch (key->type) {
        case AFS_T_FLOAT:
            right = attribute(r, f, name, H5T_NATIVE_FLOAT, field, sizeof(float), 0, NULL);
            break;
        case AFS_T_STRING:
            afs_config_format(defaults, key, text, sizeof text);
            right = string_attribute(r, f, name, text);
            break;
        default:
            if (key->type == AFS_T_U32)
                v = *(const uint32_t *)(const void *)field;
            else
                v = *(const int *)(const void *)field;
            right = attribute(r, f, name, H5T_NATIVE_INT64, &v, sizeof v, 0, NULL);
        }
        got.key_right[index] &= (unsigned char)right;
        got.config_changed |= !right;
    }
}

static int write_checkpoint(recipe *r)
{
    /* As afs_checkpoint_save writes it: HDF5 1.10's format (the reader
     * refuses a file without checksums before HDF5 opens it). */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0)
        return -1;
    int64_t schema = AFS_CHECKPOINT_SCHEMA;
    int schema_empty = 0;
    int right = attribute(r, f, "schema_version", H5T_NATIVE_INT64, &schema, sizeof schema, 1,
                          &schema_empty);
    got.load_changed |= !right;
    got.config_changed |= !right;
    got.empty_counter |= schema_empty;
    got.empty_schema = schema_empty;
    got.counter_right[0] = attribute(r, f, "seed", H5T_NATIVE_UINT32, &counters.seed,
                                     sizeof counters.seed, 1, &got.empty_counter);
    got.counter_right[1] = attribute(r, f, "episode", H5T_NATIVE_INT64, &counters.episode,
                                     sizeof counters.episode, 1, &got.empty_counter);
    got.counter_right[2] = attribute(r, f, "slot", H5T_NATIVE_INT64, &counters.slot,
                                     sizeof counters.slot, 1, &got.empty_counter);
    got.counter_right[3] = attribute(r, f, "updates", H5T_NATIVE_INT64, &counters.updates,
                                     sizeof counters.updates, 1, &got.empty_counter);
    for (int i = 0; i < 4; i++)
        got.load_changed |= !got.counter_right[i];
    hid_t params = group(r, f, "params", "/", NULL);
    got.load_changed |= params < 0;
    int set_right[2] = {0, 0};
    if (params >= 0) {
        for (int s = 0; s < 2; s++)
            set_right[s] = set(r, params, s);
        H5Gclose(params);
    }
    for (int s = 0; s < 2; s++) {
        got.load_changed |= !set_right[s];
        got.adam_t_right[s] &= set_right[s];
        for (int d = 0; d < 3; d++)
            got.data_right[s][d] &= set_right[s];
    }
    got.algo_right = string_attribute(r, f, "algo", FUZZ_ALGO);
    got.load_changed |= !got.algo_right;
    got.config_changed |= !got.algo_right;
    hid_t state = group(r, f, "state", "/params", &got.state_missing);
    got.load_changed |= state < 0 && !got.state_missing;
    if (state >= 0) {
        say(" state\n");
        got.ring_right = array(r, state, "ring", H5T_NATIVE_UINT8, expect_ring, FUZZ_RING_BYTES,
                               "/params/actor/value");
        got.load_changed |= !got.ring_right;
        H5Gclose(state);
    }
    got.optional = byte(r) & 1;
    say(" state %s\n", got.optional ? "optional" : "required");
    configuration(r, f);
    /* Training's own: optional, missing is right too. */
    static const int64_t eval_rows = FUZZ_EVAL_ROWS;
    unsigned mode = next_mode(r);
    right = attribute(r, f, "eval_rows", H5T_NATIVE_INT64, &eval_rows, sizeof eval_rows, 1,
                      &got.empty_counter);
    got.eval_rows_right = right ? 1 : mode == 12 ? 2 : 0;
    mode = next_mode(r);
    got.run_id_right = string_attribute(r, f, "run_id", FUZZ_RUN_ID) ? 1 : mode == 12 ? 2 : 0;
    got.load_changed |= !got.eval_rows_right || !got.run_id_right;
    return H5Fclose(f) < 0 ? -1 : 0;
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

/* Fills what a load writes with bytes that no right item holds. */
static void clear_model(void)
{
    for (int s = 0; s < 2; s++) {
        afs_params *p = set_params(s);
        float *bufs[3] = {p->value, p->m, p->v};
        for (int d = 0; d < 3; d++)
            memset(bufs[d], 0xa5, p->n * sizeof(float)); /* the CPU backend's memory */
        p->adam_t = -7;
    }
    memset(model.ring, 0xa5, FUZZ_RING_BYTES);
}

/* After a load that succeeded: the right items' values are in place. */
static void check_loaded(const afs_checkpoint *c, int loaded)
{
    const afs_counters *k = &c->counters;
    if ((got.counter_right[0] && k->seed != counters.seed) ||
        (got.counter_right[1] && k->episode != counters.episode) ||
        (got.counter_right[2] && k->slot != counters.slot) ||
        (got.counter_right[3] && k->updates != counters.updates))
        fail("afs_checkpoint_load", "loaded other counters than the file's");
    if (!memchr(c->algo, 0, sizeof c->algo))
        fail("afs_checkpoint_load", "loaded an algorithm name that is not NUL-terminated");
    if (got.algo_right && strcmp(c->algo, FUZZ_ALGO))
        fail("afs_checkpoint_load", "loaded another algorithm name than the file's");
    if ((got.eval_rows_right == 1 && k->eval_rows != FUZZ_EVAL_ROWS) ||
        (got.eval_rows_right == 2 && k->eval_rows != 0) || k->eval_rows < 0)
        fail("afs_checkpoint_load", "loaded another eval_rows than the file's");
    if (!memchr(c->run_id, 0, sizeof c->run_id))
        fail("afs_checkpoint_load", "loaded a run_id that is not NUL-terminated");
    if ((got.run_id_right == 1 && strcmp(c->run_id, FUZZ_RUN_ID)) ||
        (got.run_id_right == 2 && c->run_id[0]))
        fail("afs_checkpoint_load", "loaded another run_id than the file's");
    for (int s = 0; s < 2; s++) {
        const afs_params *p = set_params(s);
        const float *bufs[3] = {p->value, p->m, p->v};
        if (got.adam_t_right[s] && p->adam_t != set_adam_t[s])
            fail("afs_checkpoint_load", "loaded another adam_t than the file's");
        for (int d = 0; d < 3; d++)
            if (got.data_right[s][d] && memcmp(bufs[d], expect_data[s][d], p->n * sizeof(float)))
                fail("afs_checkpoint_load", "loaded other parameters than the file's");
    }
    if (loaded && got.ring_right && memcmp(model.ring, expect_ring, FUZZ_RING_BYTES))
        fail("afs_checkpoint_load", "loaded another state than the file's");
    if (!loaded) {
        for (int i = 0; i < FUZZ_RING_BYTES; i++)
            if (model.ring[i] != 0xa5)
                fail("afs_checkpoint_load", "changed the state it says it did not load");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    recipe r = {data, size};
    memset(&got, 0, sizeof got);
    if (write_checkpoint(&r))
        fail("cannot write the checkpoint", path);
    /* The load, into a description on the heap sized exactly: what the
     * reader writes into it must stay inside. */
    afs_checkpoint *c = malloc(sizeof *c);
    char err[1024];
    if (!c)
        fail("out of memory", NULL);
    *c = model.c;
    memset(c->algo, 'x', sizeof c->algo);
    memset(c->run_id, 'x', sizeof c->run_id);
    memset(&c->counters, 0xa5, sizeof c->counters);
    clear_model();
    memset(err, 0, sizeof err);
    int loaded = -1;
    int rc = afs_checkpoint_load(path, cpu, c, got.optional, &loaded, err, sizeof err);
    check_message("afs_checkpoint_load", rc, err, sizeof err);
    if (!rc && loaded != 0 && loaded != 1)
        fail("afs_checkpoint_load", "loaded without setting blobs_loaded");
    if (!rc && got.empty_counter)
        fail("afs_checkpoint_load", "a checkpoint with a counter of no element loaded");
    if (!rc && !got.optional && !loaded)
        fail("afs_checkpoint_load", "loaded without the state it requires");
    if (!got.load_changed) {
        if (got.state_missing && !got.optional && !rc)
            fail("afs_checkpoint_load", "loaded without the /state it requires");
        if ((!got.state_missing || got.optional) && rc)
            fail("afs_checkpoint_load: refused a valid checkpoint", err);
        if (!rc && loaded != !got.state_missing)
            fail("afs_checkpoint_load", "blobs_loaded says otherwise than the file");
    }
    if (!rc)
        check_loaded(c, loaded);
    if (rc)
        say("=> load: %s\n", err);
    else
        say("=> loaded%s: seed %u, episode %lld, slot %lld, updates %lld\n",
            loaded ? " with the state" : " without the state", c->counters.seed,
            (long long)c->counters.episode, (long long)c->counters.slot,
            (long long)c->counters.updates);
    free(c);

    /* The configuration, read over a zeroed one (so that a key left unset
     * shows), and an algorithm buffer sized exactly. */
    char *algo = malloc(32);
    if (!algo)
        fail("out of memory", NULL);
    memset(back, 0, sizeof *back);
    memset(err, 0, sizeof err);
    rc = afs_checkpoint_config(path, algo, 32, back, err, sizeof err);
    check_message("afs_checkpoint_config", rc, err, sizeof err);
    if (!rc && got.empty_schema)
        fail("afs_checkpoint_config", "read a checkpoint whose schema_version has no element");
    if (rc && !got.config_changed)
        fail("afs_checkpoint_config: refused a valid checkpoint", err);
    if (!rc && got.algo_right && strcmp(algo, FUZZ_ALGO))
        fail("afs_checkpoint_config", "read another algorithm name than the file's");
    for (int i = 0; !rc && i < afs_config_key_count(); i++) {
        const afs_config_key *key = afs_config_key_at(i);
        char want[AFS_PATH_MAX + 8], have[AFS_PATH_MAX + 8];
        if (!got.key_right[i])
            continue;
        afs_config_format(defaults, key, want, sizeof want);
        afs_config_format(back, key, have, sizeof have);
        if (strcmp(want, have)) {
            fprintf(stderr, "fuzz_checkpoint_schema: %s.%s: wrote %s, read %s\n", key->section,
                    key->name, want, have);
            fail("afs_checkpoint_config", "read another value than the file's");
        }
    }
    if (rc)
        say("=> configuration: %s\n", err);
    else
        say("=> configuration read, algo %s\n", algo);
    free(algo);
    /* The reader closes whatever it opens (a file left open would also
     * keep the next recipe from being written). */
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0)
        fail("afs_checkpoint_load or afs_checkpoint_config", "left an HDF5 object open");
    return 0;
}
