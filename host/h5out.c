#include "fail.h"
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include "h5out.h"
#include "h5attr.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef AFS_VERSION
#define AFS_VERSION "unknown"
#endif
#ifndef AFS_GIT_REVISION
#define AFS_GIT_REVISION "unknown"
#endif

#define EPISODE_CHUNK 64
#define TRACE_CHUNK 4096

struct afs_h5 {
    hid_t file, runs, run;     /* run: the current policy's group, or -1 */
    hid_t ds_episode, ds_functions, ds_trace;
    hid_t ds_metric[32];
    hid_t trace_type;
    int64_t rows;              /* episodes written to the current run */
    hsize_t trace_rows;
    char path[AFS_PATH_MAX];
};

/* Checked HDF5 call: a negative result becomes an error naming the call. The
 * usual causes a user can act on are a full disk or a file removed mid-run. */
#define AFS_H5_CHECK(expr)                                                          \
    do {                                                                       \
        if ((expr) < 0)                                                        \
            return afs_fail(err, n, "%s: HDF5 call failed: %s (%s:%d); is the disk full or the file gone?", \
                        h->path, #expr, __FILE__, __LINE__);                  \
    } while (0)

static hid_t string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static herr_t attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = string_type();
    herr_t rc = afs_h5_attr_write(obj, name, t, 0, &value);
    H5Tclose(t);
    return rc;
}

static herr_t attr_int(hid_t obj, const char *name, long long value)
{
    int64_t v = value;
    return afs_h5_attr_write(obj, name, H5T_NATIVE_INT64, 0, &v);
}

static herr_t config_attrs(hid_t obj, const afs_config *cfg)
{
    for (int i = 0; i < afs_config_key_count(); i++) {
        const afs_config_key *k = afs_config_key_at(i);
        const char *field = (const char *)cfg + k->offset;
        char name[128], text[AFS_PATH_MAX + 8];
        herr_t rc;
        snprintf(name, sizeof name, "%s.%s", k->section, k->name);
        switch (k->type) {
        case AFS_T_FLOAT: rc = afs_h5_attr_write(obj, name, H5T_NATIVE_FLOAT, 0, field); break;
        case AFS_T_U32: rc = attr_int(obj, name, *(const uint32_t *)(const void *)field); break;
        case AFS_T_INT:
        case AFS_T_BOOL: rc = attr_int(obj, name, *(const int *)(const void *)field); break;
        default:
            afs_config_format(cfg, k, text, sizeof text);
            rc = attr_string(obj, name, text);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static hid_t create_extendible(hid_t group, const char *name, hid_t type, hsize_t chunk)
{
    hsize_t dims = 0, maxdims = H5S_UNLIMITED;
    hid_t space = H5Screate_simple(1, &dims, &maxdims);
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(plist, 1, &chunk);
    hid_t ds = H5Dcreate2(group, name, type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    H5Pclose(plist);
    H5Sclose(space);
    return ds;
}

/* Writes count elements at rows [at, at + count) of a 1-D dataset. */
static herr_t append(hid_t ds, hid_t type, hsize_t at, hsize_t count, const void *data)
{
    hsize_t size = at + count;
    if (H5Dset_extent(ds, &size) < 0)
        return -1;
    hid_t file_space = H5Dget_space(ds);
    hid_t mem_space = H5Screate_simple(1, &count, NULL);
    herr_t rc = H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &at, NULL, &count, NULL);
    if (rc >= 0)
        rc = H5Dwrite(ds, type, mem_space, file_space, H5P_DEFAULT, data);
    H5Sclose(mem_space);
    H5Sclose(file_space);
    return rc;
}

static hid_t trace_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(afs_trace_rec));
    hid_t reason = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t v;
    v = AFS_OK; H5Tenum_insert(reason, "ok", &v);
    v = AFS_DEADLINE_MISSED; H5Tenum_insert(reason, "deadline_missed", &v);
    v = AFS_QUEUE_FULL; H5Tenum_insert(reason, "queue_full", &v);
#define I32(f) H5Tinsert(t, #f, HOFFSET(afs_trace_rec, f), H5T_NATIVE_INT32);
#define F32(f) H5Tinsert(t, #f, HOFFSET(afs_trace_rec, f), H5T_NATIVE_FLOAT);
#define I8(f) H5Tinsert(t, #f, HOFFSET(afs_trace_rec, f), H5T_NATIVE_INT8);
    I32(episode) I32(env) I32(slot) I32(en)
    F32(z) F32(k) F32(deadline) F32(c) I32(type) F32(memory_mb)
    F32(f_m) F32(f_c) F32(w_before) I32(ap) I32(n_g) F32(h) F32(i_g)
    F32(r_tr) F32(r_re) I8(warm) I8(action) I8(success) I8(dropped)
    H5Tinsert(t, "reason", HOFFSET(afs_trace_rec, reason), reason);
    F32(d_up) F32(d_start) F32(d_wait) F32(d_exec) F32(d_tr) F32(d_re) F32(d_idle)
    F32(latency) F32(cost) F32(reward)
#undef I32
#undef F32
#undef I8
    H5Tclose(reason);
    return t;
}

static void iso_time(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_root_attrs(afs_h5 *h, const afs_config *cfg, char *err, size_t n)
{
    char when[32];
    iso_time(when, sizeof when);
    AFS_H5_CHECK(attr_int(h->file, "schema_version", AFS_SCHEMA_VERSION));
    AFS_H5_CHECK(attr_string(h->file, "afsim_version", AFS_VERSION));
    AFS_H5_CHECK(attr_string(h->file, "git_revision", AFS_GIT_REVISION));
    AFS_H5_CHECK(attr_string(h->file, "created_utc", when));
    AFS_H5_CHECK(config_attrs(h->file, cfg));
    AFS_H5_CHECK(H5Fflush(h->file, H5F_SCOPE_LOCAL));
    return 0;
}

static void close_id(hid_t *id, herr_t (*close)(hid_t))
{
    if (*id >= 0)
        close(*id);
    *id = -1;
}

/* Closes the current run's objects; every id is -1 afterwards. */
static void close_run(afs_h5 *h)
{
    close_id(&h->ds_episode, H5Dclose);
    close_id(&h->ds_functions, H5Dclose);
    for (int c = 0; c < afs_metric_column_count; c++)
        close_id(&h->ds_metric[c], H5Dclose);
    close_id(&h->ds_trace, H5Dclose);
    close_id(&h->run, H5Gclose);
}

afs_h5 *afs_h5_create(const char *path, int overwrite, const afs_config *cfg,
                      char *err, size_t n)
{
    struct stat st;
    if (!overwrite && stat(path, &st) == 0) {
        afs_fail(err, n, "%s already exists: choose another --out, or pass --force to replace it", path);
        return NULL;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported by AFS_H5_CHECK */
    afs_h5 *h = calloc(1, sizeof *h);
    if (!h) {
        afs_fail(err, n, "out of memory");
        return NULL;
    }
    snprintf(h->path, sizeof h->path, "%s", path);
    h->run = h->ds_episode = h->ds_functions = h->ds_trace = -1;
    for (int c = 0; c < afs_metric_column_count; c++)
        h->ds_metric[c] = -1;
    h->trace_type = trace_type();
    /* EXCL: a file that appeared since the check above is not replaced. */
    h->file = H5Fcreate(path, overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (h->file < 0) {
        afs_fail(err, n, "%s: cannot create the results file (does its directory exist and is it writable?)", path);
        H5Tclose(h->trace_type);
        free(h);
        return NULL;
    }
    h->runs = H5Gcreate2(h->file, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (h->runs < 0 || write_root_attrs(h, cfg, err, n)) {
        if (h->runs < 0)
            afs_fail(err, n, "%s: cannot create group /runs", path);
        char ignored[8];
        afs_h5_close(h, ignored, sizeof ignored);
        return NULL;
    }
    return h;
}

int afs_h5_begin_run(afs_h5 *h, const char *policy, const char *backend,
                     const afs_config *cfg, int with_trace, char *err, size_t n)
{
    close_run(h);
    h->rows = 0;
    h->trace_rows = 0;
    h->run = H5Gcreate2(h->runs, policy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (h->run < 0)
        return afs_fail(err, n, "%s: cannot create group /runs/%s (is the policy named twice?)", h->path, policy);
    AFS_H5_CHECK(attr_string(h->run, "policy", policy));
    AFS_H5_CHECK(attr_string(h->run, "backend", backend));
    AFS_H5_CHECK(attr_int(h->run, "envs", cfg->run.envs));
    AFS_H5_CHECK(attr_int(h->run, "agents", cfg->env.agents));
    AFS_H5_CHECK(attr_int(h->run, "seed", cfg->run.seed));
    AFS_H5_CHECK(h->ds_episode = create_extendible(h->run, "episode", H5T_NATIVE_INT64, EPISODE_CHUNK));
    AFS_H5_CHECK(h->ds_functions = create_extendible(h->run, "functions", H5T_NATIVE_INT64, EPISODE_CHUNK));
    for (int c = 0; c < afs_metric_column_count; c++) {
        const afs_metric_column *col = &afs_metric_columns[c];
        AFS_H5_CHECK(h->ds_metric[c] = create_extendible(h->run, col->name, H5T_NATIVE_DOUBLE, EPISODE_CHUNK));
        AFS_H5_CHECK(attr_string(h->ds_metric[c], "unit", col->unit));
        AFS_H5_CHECK(attr_string(h->ds_metric[c], "description", col->doc));
    }
    if (with_trace)
        AFS_H5_CHECK(h->ds_trace = create_extendible(h->run, "trace", h->trace_type, TRACE_CHUNK));
    AFS_H5_CHECK(H5Fflush(h->file, H5F_SCOPE_LOCAL));
    return 0;
}

int afs_h5_append_trace(afs_h5 *h, const afs_trace_rec *recs, size_t count,
                        char *err, size_t n)
{
    if (h->ds_trace < 0)
        return afs_fail(err, n, "%s: trace records given to a run begun without a trace", h->path);
    if (!count)
        return 0;
    AFS_H5_CHECK(append(h->ds_trace, h->trace_type, h->trace_rows, count, recs));
    h->trace_rows += count;
    return 0;
}

int afs_h5_append_episode(afs_h5 *h, const afs_episode_row *row, char *err, size_t n)
{
    hsize_t at = (hsize_t)h->rows;
    /* `episode` goes last: its length is the number of complete rows even
     * when a run is killed in the middle of this burst. */
    AFS_H5_CHECK(append(h->ds_functions, H5T_NATIVE_INT64, at, 1, &row->functions));
    for (int c = 0; c < afs_metric_column_count; c++) {
        const double *v = (const double *)(const void *)((const char *)row + afs_metric_columns[c].offset);
        AFS_H5_CHECK(append(h->ds_metric[c], H5T_NATIVE_DOUBLE, at, 1, v));
    }
    AFS_H5_CHECK(append(h->ds_episode, H5T_NATIVE_INT64, at, 1, &row->episode));
    AFS_H5_CHECK(H5Fflush(h->file, H5F_SCOPE_LOCAL));
    h->rows++;
    return 0;
}

int afs_h5_close(afs_h5 *h, char *err, size_t n)
{
    if (!h)
        return 0;
    close_run(h);
    if (h->runs >= 0)
        H5Gclose(h->runs);
    H5Tclose(h->trace_type);
    herr_t rc = H5Fclose(h->file);
    int result = rc < 0 ? afs_fail(err, n, "%s: closing the results file failed (disk full?)", h->path) : 0;
    free(h);
    return result;
}
