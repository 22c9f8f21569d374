#include "checkpoint.h"

#include <errno.h>
#include <math.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fail.h"
#include "h5attr.h"
#include "h5out.h"

/* Chunks of at most this many bytes: each carries its own checksum. */
#define CHUNK_BYTES (1u << 20)

/* A 1-D dataset of count elements of type, copied from backend memory,
 * with HDF5's Fletcher32 checksum on each chunk (docs/output.md,
 * "Checkpoints": HDF5 checks its own structure, not a dataset's values). */
static herr_t write_array(hid_t group, const char *name, hid_t type, afs_backend *b,
                          const void *dev, size_t count, size_t elem, void *host)
{
    hsize_t len = count, chunk = count < CHUNK_BYTES / elem ? count : CHUNK_BYTES / elem;
    b->to_host(b, host, dev, count * elem);
    hid_t space = H5Screate_simple(1, &len, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0 || (count && (H5Pset_chunk(dcpl, 1, &chunk) < 0 ||
                               H5Pset_fletcher32(dcpl) < 0))) {
        if (dcpl >= 0)
            H5Pclose(dcpl);
        H5Sclose(space);
        return -1;
    }
    hid_t ds = H5Dcreate2(group, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, host);
    if (ds >= 0)
        H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    return rc;
}

enum { READ_OK = 0, READ_MISSING = -1, READ_DAMAGED = -2 };

/* Reads a 1-D dataset of exactly count elements into host: READ_MISSING
 * when it is missing or has another shape (checked before reading: a file
 * may hold anything), READ_DAMAGED when its contents cannot be read (a
 * chunk whose checksum does not match, or a file cut short). */
static int read_dataset(hid_t group, const char *name, hid_t type, size_t count, void *host)
{
    hid_t ds = H5Dopen2(group, name, H5P_DEFAULT);
    if (ds < 0)
        return READ_MISSING;
    hid_t space = H5Dget_space(ds);
    hsize_t len = 0;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (rank == 1) /* a dimension per rank: check the rank first */
        H5Sget_simple_extent_dims(space, &len, NULL);
    if (space >= 0)
        H5Sclose(space);
    int rc = rank != 1 || len != count ? READ_MISSING
             : H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, host) < 0 ? READ_DAMAGED
                                                                          : READ_OK;
    H5Dclose(ds);
    return rc;
}

/* What read_dataset's failure means, for messages. */
static const char *read_failure(int rc)
{
    return rc == READ_DAMAGED ? "damaged: its checksum does not match (or the file is cut short)"
                              : "missing or of another size";
}

static herr_t attr_i64(hid_t obj, const char *name, int64_t v)
{
    return afs_h5_attr_write(obj, name, H5T_NATIVE_INT64, 0, &v);
}

static int save_set(hid_t parent, afs_backend *b, const afs_ckpt_set *s, void *host)
{
    hid_t g = H5Gcreate2(parent, s->params->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return -1;
    const afs_params *p = s->params;
    int bad = afs_h5_attr_write_string(g, "shape", s->shape) < 0 ||
              attr_i64(g, "adam_t", p->adam_t) < 0 ||
              write_array(g, "value", H5T_NATIVE_FLOAT, b, p->value, p->n, sizeof(float), host) < 0 ||
              write_array(g, "adam_m", H5T_NATIVE_FLOAT, b, p->m, p->n, sizeof(float), host) < 0 ||
              write_array(g, "adam_v", H5T_NATIVE_FLOAT, b, p->v, p->n, sizeof(float), host) < 0;
    H5Gclose(g);
    return bad ? -1 : 0;
}

/* The largest buffer a save or load moves through the host. */
static size_t largest(const afs_checkpoint *c)
{
    size_t m = 1;
    for (int i = 0; i < c->nsets; i++)
        m = c->sets[i].params->n * sizeof(float) > m ? c->sets[i].params->n * sizeof(float) : m;
    for (int i = 0; i < c->nblobs; i++)
        m = c->blobs[i].bytes > m ? c->blobs[i].bytes : m;
    return m;
}

static int write_file(hid_t f, afs_backend *b, const afs_checkpoint *c, const afs_config *cfg,
                      void *host)
{
    const afs_counters *k = &c->counters;
    if (attr_i64(f, "schema_version", AFS_CHECKPOINT_SCHEMA) < 0 ||
        afs_h5_attr_write_string(f, "algo", c->algo) < 0 ||
        afs_h5_attr_write(f, "seed", H5T_NATIVE_UINT32, 0, &k->seed) < 0 ||
        attr_i64(f, "episode", k->episode) < 0 || attr_i64(f, "slot", k->slot) < 0 ||
        attr_i64(f, "updates", k->updates) < 0 || attr_i64(f, "eval_rows", k->eval_rows) < 0 ||
        afs_h5_attr_write(f, "best_eval_return", H5T_NATIVE_DOUBLE, 0, &k->best_return) < 0 ||
        (c->run_id[0] && afs_h5_attr_write_string(f, "run_id", c->run_id) < 0) ||
        (cfg && afs_h5_config_write(f, cfg) < 0))
        return -1;
    hid_t g = H5Gcreate2(f, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = g < 0;
    for (int i = 0; i < c->nsets && !bad; i++)
        bad = save_set(g, b, &c->sets[i], host);
    if (g >= 0)
        H5Gclose(g);
    if (bad || !c->nblobs)
        return bad ? -1 : 0;
    g = H5Gcreate2(f, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad = g < 0;
    for (int i = 0; i < c->nblobs && !bad; i++)
        bad = write_array(g, c->blobs[i].name, H5T_NATIVE_UINT8, b, c->blobs[i].data,
                          c->blobs[i].bytes, 1, host) < 0;
    if (g >= 0)
        H5Gclose(g);
    return bad ? -1 : 0;
}

int afs_checkpoint_save(const char *path, afs_backend *b, const afs_checkpoint *c,
                        const afs_config *cfg, char *err, size_t n)
{
    char tmp[AFS_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* the rename below replaces whatever is at path: only a regular file */
    if (afs_check_output(path, "train.checkpoint", 1, err, n) ||
        afs_check_output(tmp, "train.checkpoint", 1, err, n))
        return -1;
    /* a stale NAME.tmp goes first: were it a link, creating the file
     * through it would truncate whatever it points to */
    if (unlink(tmp) && errno != ENOENT)
        return afs_fail(err, n, "%s: cannot remove the stale temporary checkpoint: %s", tmp,
                        strerror(errno));
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    void *host = malloc(largest(c));
    /* HDF5 1.10's format: checksummed superblock and object headers, which
     * HDF5 verifies as it reads (afs_checkpoint_load refuses older ones). */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST);
    hid_t f = host ? H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
    H5Pclose(fapl);
    if (f < 0) {
        free(host);
        return afs_fail(err, n, "%s: cannot create the checkpoint (%s)", tmp,
                        host ? "directory missing or not writable?" : "out of memory");
    }
    int bad = write_file(f, b, c, cfg, host);
    bad |= H5Fclose(f) < 0;
    free(host);
    if (bad) {
        remove(tmp);
        return afs_fail(err, n, "%s: writing the checkpoint failed (disk full?); the previous "
                        "one is kept", path);
    }
    if (rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        return afs_fail(err, n, "%s: cannot move the new checkpoint into place: %s", path,
                        strerror(e));
    }
    return 0;
}

void afs_h5_beside(const char *path, const char *tag, char *buf, size_t n)
{
    size_t len = strlen(path);
    int h5 = len > 3 && !strcmp(path + len - 3, ".h5");
    snprintf(buf, n, "%.*s.%s.h5", (int)(h5 ? len - 3 : len), path, tag);
}

/* For a file that is not a checkpoint: when it is a results file with a
 * training's checkpoint beside it (the default name), where that is. */
static const char *hint_beside(const char *path, char *buf, size_t n)
{
    char ckpt[AFS_PATH_MAX + 16];
    struct stat st;
    afs_h5_beside(path, "ckpt", ckpt, sizeof ckpt);
    if (stat(ckpt, &st) != 0 || !S_ISREG(st.st_mode))
        return "";
    snprintf(buf, n, "; a results file? The checkpoint of its training is %s: give that", ckpt);
    return buf;
}

/* A checkpoint is HDF5 with a superblock of version 2 or later (checksums):
 * what afs_checkpoint_save writes. Checked before HDF5 parses the file,
 * which it cannot always do safely when the file is damaged. */
static int checksummed_hdf5(const char *path, char *err, size_t n)
{
    static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[9];
    FILE *f = fopen(path, "rb");
    if (!f)
        return afs_fail(err, n, "%s: cannot open the checkpoint: %s", path, strerror(errno));
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (got < sizeof head || memcmp(head, signature, sizeof signature))
        return afs_fail(err, n, "%s: not a checkpoint (not an HDF5 file)", path);
    char hint[AFS_PATH_MAX + 96];
    if (head[8] < 2)
        return afs_fail(err, n, "%s: not a checkpoint written by this afsim (HDF5 superblock "
                        "version %d, without checksums)%s", path, head[8],
                        hint_beside(path, hint, sizeof hint));
    return 0;
}

/* Opens a checkpoint and checks its schema; the file, or -1 with err. */
static hid_t open_checkpoint(const char *path, char *err, size_t n)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (checksummed_hdf5(path, err, n))
        return -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        afs_fail(err, n, "%s: cannot open the checkpoint (damaged?)", path);
        return -1;
    }
    int64_t schema = 0;
    if (afs_h5_attr_read(f, "schema_version", H5T_NATIVE_INT64, 0, &schema) < 0 ||
        schema != AFS_CHECKPOINT_SCHEMA) {
        afs_fail(err, n, "%s: checkpoint schema %lld, this afsim reads %d", path,
                 (long long)schema, AFS_CHECKPOINT_SCHEMA);
        H5Fclose(f);
        return -1;
    }
    return f;
}

/* The index of the first value of x [count] that is not finite (or, with
 * nonnegative, is below 0), or -1. */
static long first_bad(const float *x, size_t count, int nonnegative)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(x[i]) || (nonnegative && x[i] < 0.0f))
            return (long)i;
    return -1;
}

/* A float array of a parameter set, refused when it holds NaN or Inf (a
 * checkpoint written by afsim never does: training stops before), or for
 * Adam's second moment a negative value. */
static int read_floats(hid_t g, const char *path, afs_backend *b, const afs_params *p,
                       const char *what, float *dev, void *host, char *err, size_t n)
{
    /* read into the host buffer first, checked before it reaches the backend */
    int rc = read_dataset(g, what, H5T_NATIVE_FLOAT, p->n, host);
    if (rc)
        return afs_fail(err, n, "%s: parameter set '%s' is incomplete or damaged (%s %s)", path,
                        p->name, what, read_failure(rc));
    long bad = first_bad(host, p->n, !strcmp(what, "adam_v"));
    if (bad >= 0)
        return afs_fail(err, n, "%s: parameter set '%s' holds %g in %s[%ld]: not a usable "
                        "checkpoint", path, p->name, (double)((float *)host)[bad], what, bad);
    b->to_backend(b, dev, host, p->n * sizeof(float));
    return 0;
}

static int load_set(hid_t parent, const char *path, afs_backend *b, afs_ckpt_set *s, void *host,
                    char *err, size_t n)
{
    afs_params *p = s->params;
    hid_t g = H5Gopen2(parent, p->name, H5P_DEFAULT);
    if (g < 0)
        return afs_fail(err, n, "%s: no parameter set '%s' in the checkpoint", path, p->name);
    char shape[256] = "";
    int64_t t = 0;
    int rc = 0;
    if (afs_h5_attr_read_string(g, "shape", shape, sizeof shape) < 0 || strcmp(shape, s->shape))
        rc = afs_fail(err, n, "%s: '%s' is a %s in the checkpoint, not the %s configured", path,
                      p->name, shape[0] ? shape : "(shape missing)", s->shape);
    else if (afs_h5_attr_read(g, "adam_t", H5T_NATIVE_INT64, 0, &t) < 0 || t < 0)
        rc = afs_fail(err, n, "%s: parameter set '%s' is incomplete (adam_t)", path, p->name);
    else
        rc = read_floats(g, path, b, p, "value", p->value, host, err, n) ||
             read_floats(g, path, b, p, "adam_m", p->m, host, err, n) ||
             read_floats(g, path, b, p, "adam_v", p->v, host, err, n) ? -1 : 0;
    H5Gclose(g);
    if (!rc)
        p->adam_t = (long)t;
    return rc;
}

static int read_counters(hid_t f, const char *path, afs_checkpoint *c, char *err, size_t n)
{
    afs_counters *k = &c->counters;
    if (afs_h5_attr_read_string(f, "algo", c->algo, sizeof c->algo) < 0 ||
        afs_h5_attr_read(f, "seed", H5T_NATIVE_UINT32, 0, &k->seed) < 0 ||
        afs_h5_attr_read(f, "episode", H5T_NATIVE_INT64, 0, &k->episode) < 0 ||
        afs_h5_attr_read(f, "slot", H5T_NATIVE_INT64, 0, &k->slot) < 0 ||
        afs_h5_attr_read(f, "updates", H5T_NATIVE_INT64, 0, &k->updates) < 0 ||
        k->episode < 0 || k->slot < 0 || k->updates < 0)
        return afs_fail(err, n, "%s: the checkpoint's algorithm or counters are missing", path);
    /* Training's own, absent from other checkpoints. */
    k->eval_rows = 0;
    k->best_return = NAN;
    c->run_id[0] = 0;
    if (H5Aexists(f, "eval_rows") > 0 &&
        (afs_h5_attr_read(f, "eval_rows", H5T_NATIVE_INT64, 0, &k->eval_rows) < 0 || k->eval_rows < 0))
        return afs_fail(err, n, "%s: the checkpoint's eval_rows is unreadable", path);
    if (H5Aexists(f, "best_eval_return") > 0 &&
        afs_h5_attr_read(f, "best_eval_return", H5T_NATIVE_DOUBLE, 0, &k->best_return) < 0)
        return afs_fail(err, n, "%s: the checkpoint's best_eval_return is unreadable", path);
    if (H5Aexists(f, "run_id") > 0 &&
        afs_h5_attr_read_string(f, "run_id", c->run_id, sizeof c->run_id) < 0)
        return afs_fail(err, n, "%s: the checkpoint's run_id is unreadable", path);
    return 0;
}

int afs_checkpoint_load(const char *path, afs_backend *b, afs_checkpoint *c, int blobs_optional,
                        int *blobs_loaded, char *err, size_t n)
{
    hid_t f = open_checkpoint(path, err, n);
    if (f < 0)
        return -1;
    int rc = read_counters(f, path, c, err, n);
    void *host = rc ? NULL : malloc(largest(c));
    hid_t g = rc ? -1 : H5Gopen2(f, "params", H5P_DEFAULT);
    if (!rc && (g < 0 || !host))
        rc = afs_fail(err, n, "%s: %s", path, host ? "no /params group" : "out of memory");
    for (int i = 0; i < c->nsets && !rc; i++)
        rc = load_set(g, path, b, &c->sets[i], host, err, n);
    if (g >= 0)
        H5Gclose(g);
    int have_state = !rc && c->nblobs && H5Lexists(f, "state", H5P_DEFAULT) > 0;
    if (!rc && c->nblobs && !have_state && !blobs_optional)
        rc = afs_fail(err, n, "%s: the checkpoint holds no saved state (replay)", path);
    g = have_state ? H5Gopen2(f, "state", H5P_DEFAULT) : -1;
    for (int i = 0; i < c->nblobs && have_state && !rc; i++) {
        const afs_ckpt_blob *s = &c->blobs[i];
        int got = g < 0 ? READ_MISSING : read_dataset(g, s->name, H5T_NATIVE_UINT8, s->bytes, host);
        if (got)
            rc = afs_fail(err, n, "%s: saved state '%s' is %s", path, s->name, read_failure(got));
        else
            b->to_backend(b, s->data, host, s->bytes);
    }
    if (g >= 0)
        H5Gclose(g);
    if (blobs_loaded)
        *blobs_loaded = have_state && !rc;
    free(host);
    H5Fclose(f);
    return rc ? -1 : 0;
}

int afs_checkpoint_config(const char *path, char *algo, size_t algo_n, afs_config *cfg,
                          char *err, size_t n)
{
    hid_t f = open_checkpoint(path, err, n);
    if (f < 0)
        return -1;
    int rc = 0;
    if (afs_h5_attr_read_string(f, "algo", algo, algo_n) < 0)
        rc = afs_fail(err, n, "%s: the checkpoint does not say its algorithm", path);
    else
        rc = afs_h5_config_read(f, path, cfg, err, n);
    H5Fclose(f);
    return rc ? -1 : 0;
}
