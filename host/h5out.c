#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include "h5out.h"
#include "h5attr.h"

#include <errno.h>
#include <hdf5.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/fail.h"

#ifndef AFS_VERSION
#define AFS_VERSION "unknown"
#endif
#ifndef AFS_GIT_REVISION
#define AFS_GIT_REVISION "unknown"
#endif

#define EPISODE_CHUNK 64
#define TRACE_CHUNK 4096
#define FIRST_CAPACITY 4096 /* episode rows allocated at first, at most */
#define MAX_COLUMNS 32

/* Rows of 1-D datasets that grow together. Their storage is allocated ahead
 * (capacity), in a metadata change of its own flushed before any row goes
 * there, so that writing a row touches raw data only; the group's `finished`
 * attribute says how many rows are complete. */
typedef struct table {
    hid_t ds[MAX_COLUMNS];
    int n;
    hsize_t rows;      /* finished */
    hsize_t capacity;  /* allocated in every dataset */
} table;

struct afs_h5 {
    hid_t file, runs, run;     /* run: the current run's group, or -1 */
    hid_t trace_type, finished_type;
    table episodes, trace;     /* trace.n is 0 without --trace */
    const afs_h5_run *runs_desc; /* the caller's descriptors */
    int nruns;
    const afs_h5_run *current; /* the run the appends go to */
    hsize_t trace_pending;     /* trace records written for the episode under way */
    int write_failed;          /* a write of this file failed: write nothing more */
    dev_t dev;                 /* the file created, to notice it replaced */
    ino_t ino;
    char path[AFS_PATH_MAX];
};

/* The system's reason behind the last HDF5 failure ("No space left on
 * device"), read from the error stack where HDF5's file driver leaves it,
 * or HDF5's own description of the innermost error. */
typedef struct reason_walk { char text[256]; int from_system; } reason_walk;

static herr_t reason_of_frame(unsigned n, const H5E_error2_t *e, void *data)
{
    reason_walk *w = data;
    (void)n;
    const char *m = e->desc ? strstr(e->desc, "error message = '") : NULL;
    if (m) {
        m += strlen("error message = '");
        const char *end = strchr(m, '\'');
        snprintf(w->text, sizeof w->text, "%.*s", end ? (int)(end - m) : 200, m);
        w->from_system = 1;
    } else if (!w->from_system && e->desc && !w->text[0]) {
        snprintf(w->text, sizeof w->text, "%s", e->desc);
    }
    return 0;
}

static const char *h5_reason(char *buf, size_t n)
{
    reason_walk w = {"", 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, reason_of_frame, &w);
    snprintf(buf, n, "%s", w.text[0] ? w.text : "unknown reason");
    return buf;
}

/* Checked HDF5 call: a negative result becomes an error naming the path,
 * the system's reason and the call. */
#define AFS_H5_CHECK(expr)                                                          \
    do {                                                                            \
        if ((expr) < 0) {                                                           \
            char why_[256];                                                         \
            h->write_failed = 1;                                                    \
            return afs_fail(err, n, "%s: writing the results failed: %s (%s at %s:%d)", \
                            h->path, h5_reason(why_, sizeof why_), #expr, __FILE__, __LINE__); \
        }                                                                           \
    } while (0)

static herr_t attr_string(hid_t obj, const char *name, const char *value)
{
    return afs_h5_attr_write_string(obj, name, value);
}

static herr_t attr_int(hid_t obj, const char *name, long long value)
{
    int64_t v = value;
    return afs_h5_attr_write(obj, name, H5T_NATIVE_INT64, 0, &v);
}

/* An empty 1-D dataset that grows by set_extent; its chunks are allocated
 * (and filled with `fill`) when it grows, not when written. */
static hid_t create_column(hid_t group, const char *name, hid_t type, hsize_t chunk,
                           const void *fill)
{
    hsize_t dims = 0, maxdims = H5S_UNLIMITED;
    hid_t space = H5Screate_simple(1, &dims, &maxdims);
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(plist, 1, &chunk);
    H5Pset_alloc_time(plist, H5D_ALLOC_TIME_EARLY);
    H5Pset_obj_track_times(plist, 0);
    if (fill)
        H5Pset_fill_value(plist, type, fill);
    hid_t ds = H5Dcreate2(group, name, type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    H5Pclose(plist);
    H5Sclose(space);
    return ds;
}

/* Every dataset of t at least `want` rows long (doubling), flushed before
 * anything is written there: a run killed now keeps its finished rows. */
static herr_t table_reserve(hid_t file, table *t, hsize_t want, hsize_t first)
{
    if (want <= t->capacity)
        return 0;
    hsize_t cap = t->capacity ? t->capacity : first;
    while (cap < want)
        cap *= 2;
    for (int c = 0; c < t->n; c++)
        if (H5Dset_extent(t->ds[c], &cap) < 0)
            return -1;
    t->capacity = cap;
    return H5Fflush(file, H5F_SCOPE_LOCAL);
}

/* Writes count elements at rows [at, at + count) of a 1-D dataset. */
static herr_t write_rows(hid_t ds, hid_t type, hsize_t at, hsize_t count, const void *data)
{
    hid_t file_space = H5Dget_space(ds);
    hid_t mem_space = H5Screate_simple(1, &count, NULL);
    herr_t rc = H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &at, NULL, &count, NULL);
    if (rc >= 0)
        rc = H5Dwrite(ds, type, mem_space, file_space, H5P_DEFAULT, data);
    H5Sclose(mem_space);
    H5Sclose(file_space);
    return rc;
}

/* Cuts every dataset of t to its finished rows (a clean close). */
static herr_t table_trim(table *t)
{
    herr_t rc = 0;
    for (int c = 0; c < t->n; c++)
        if (H5Dset_extent(t->ds[c], &t->rows) < 0)
            rc = -1;
    t->capacity = t->rows;
    return rc;
}

static void table_close(table *t)
{
    for (int c = 0; c < t->n; c++)
        H5Dclose(t->ds[c]);
    memset(t, 0, sizeof *t);
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
    F32(latency) F32(cost) F32(reward) F32(x) F32(y) I32(group)
#undef I32
#undef F32
#undef I8
    H5Tclose(reason);
    return t;
}

/* The `finished` attribute: episodes and trace records that are complete,
 * in one attribute so that one write changes both. */
typedef struct finished_rec { int64_t episodes, trace_records; } finished_rec;

static hid_t finished_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(finished_rec));
    H5Tinsert(t, "episodes", HOFFSET(finished_rec, episodes), H5T_NATIVE_INT64);
    H5Tinsert(t, "trace_records", HOFFSET(finished_rec, trace_records), H5T_NATIVE_INT64);
    return t;
}

static herr_t write_finished(afs_h5 *h)
{
    finished_rec f = {(int64_t)h->episodes.rows, (int64_t)h->trace.rows};
    hid_t a = H5Aopen(h->run, "finished", H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, h->finished_type, &f);
    if (a >= 0)
        H5Aclose(a);
    return rc;
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
    AFS_H5_CHECK(afs_h5_config_write(h->file, cfg));
    AFS_H5_CHECK(H5Fflush(h->file, H5F_SCOPE_LOCAL));
    return 0;
}

/* Closes the current run's objects. */
static void close_run(afs_h5 *h)
{
    table_close(&h->episodes);
    table_close(&h->trace);
    if (h->run >= 0)
        H5Gclose(h->run);
    h->run = -1;
}

/* ---- Where the file goes: every reason a create can fail, named ---- */

/* The directory part of path, in buf. */
static const char *dir_of(const char *path, char *buf, size_t n)
{
    char copy[AFS_PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(buf, n, "%s", dirname(copy));
    return buf;
}

int afs_check_output(const char *path, const char *option, int overwrite, char *err, size_t n)
{
    struct stat st, lst;
    struct statvfs vfs;
    char dir[AFS_PATH_MAX];
    if (strlen(path) >= AFS_PATH_MAX - 64)
        return afs_fail(err, n, "%s: the file name is too long (%s)", path, option);
    dir_of(path, dir, sizeof dir);
    int exists = lstat(path, &lst) == 0, target = stat(path, &st) == 0;
    if (target && S_ISDIR(st.st_mode))
        return afs_fail(err, n, "%s is a directory: give %s a file name, e.g. %s/afsim.h5",
                        path, option, path);
    if (exists && !target)
        return afs_fail(err, n, "%s is a symbolic link to a missing file: remove it or choose "
                        "another %s", path, option);
    if (exists && !S_ISREG(st.st_mode))
        return afs_fail(err, n, "%s exists and is not a regular file (a device, a pipe or a "
                        "socket: afsim replaces only regular files): choose another %s", path,
                        option);
    if (exists && !overwrite)
        return afs_fail(err, n, "%s already exists: choose another %s, or pass --force to "
                        "replace it", path, option);
    if (stat(dir, &st) != 0)
        return afs_fail(err, n, "%s: the directory %s does not exist (%s): create it first",
                        path, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return afs_fail(err, n, "%s: %s is not a directory", path, dir);
    if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
        return afs_fail(err, n, "%s: %s is on a read-only file system", path, dir);
    if (access(dir, W_OK) != 0)
        return afs_fail(err, n, "%s: cannot write in %s (%s)", path, dir, strerror(errno));
    return 0;
}

int afs_h5_check_destination(const char *path, int overwrite, char *err, size_t n)
{
    return afs_check_output(path, "--out", overwrite, err, n);
}

/* A name beside path for the new file: it takes its place only once it is
 * a valid results file, so that a run killed while creating it leaves no
 * half-made file at path. */
static void temp_name(const char *path, char *buf, size_t n)
{
    char dir[AFS_PATH_MAX], copy[AFS_PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(buf, n, "%s/.%s.afsim-new-%ld", dir_of(path, dir, sizeof dir), basename(copy),
             (long)getpid());
}

/* Moves the new file to path: replacing an old one (overwrite), or only if
 * no file is there (link fails when the name exists; where a file system
 * has no hard links, a check then a rename: the lock keeps other afsim
 * runs away). 0, or -1 with errno. */
static int publish(const char *made, const char *path, int overwrite)
{
    if (overwrite)
        return rename(made, path);
    if (link(made, path) == 0)
        return unlink(made);
    if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP)
        return -1;
    struct stat st;
    if (lstat(path, &st) == 0) {
        errno = EEXIST;
        return -1;
    }
    return rename(made, path);
}

static void free_h5(afs_h5 *h)
{
    if (h->trace_type >= 0)
        H5Tclose(h->trace_type);
    if (h->finished_type >= 0)
        H5Tclose(h->finished_type);
    free(h);
}

void afs_h5_setup(void)
{
    /* HDF5 closes what is open at exit, and after a close that failed (a
     * full disk) that second close crashes in HDF5 1.10: every file is
     * closed by afsim itself, so the library need not. */
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported with their reason */
}

/* The group of one run with its attributes, its datasets and their first
 * rows allocated: all made before the file is published, so that a run
 * killed later never interrupts their creation. */
/* Rows allocated at first for run r: what it expects, up to FIRST_CAPACITY. */
static hsize_t first_rows(const afs_h5_run *r, const afs_config *cfg)
{
    long long want = r->rows > 0 ? r->rows : cfg->run.episodes;
    return (hsize_t)(want < 1 ? 1 : want < FIRST_CAPACITY ? want : FIRST_CAPACITY);
}

/* The group of one run with its attributes, its datasets and their first
 * rows allocated: all made before the file is published, so that a run
 * killed later never interrupts their creation. */
static int make_run(afs_h5 *h, const afs_h5_run *r, const afs_config *cfg, char *err, size_t n)
{
    hid_t g;
    if (r->nextra < 0 || r->nextra > MAX_COLUMNS - 2 - afs_metric_column_count)
        return afs_fail(err, n, "%s: run %s has %d extra columns, more than a table holds",
                        h->path, r->name, r->nextra);
    AFS_H5_CHECK(g = H5Gcreate2(h->runs, r->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    h->run = g;
    AFS_H5_CHECK(attr_string(g, "policy", r->policy ? r->policy : r->name));
    AFS_H5_CHECK(attr_string(g, "backend", r->backend));
    AFS_H5_CHECK(attr_int(g, "envs", cfg->run.envs));
    AFS_H5_CHECK(attr_int(g, "agents", cfg->env.agents));
    AFS_H5_CHECK(attr_int(g, "seed", cfg->run.seed));
    if (r->checkpoint)
        AFS_H5_CHECK(attr_string(g, "checkpoint", r->checkpoint));
    if (r->trained_with)
        AFS_H5_CHECK(attr_string(g, "trained_with", r->trained_with));
    for (int i = 0; i < r->nnumbers; i++)
        AFS_H5_CHECK(afs_h5_attr_write(g, r->numbers[i].name, H5T_NATIVE_DOUBLE, 0,
                                       &r->numbers[i].value));
    finished_rec none = {0, 0};
    AFS_H5_CHECK(afs_h5_attr_write(g, "finished", h->finished_type, 0, &none));
    const int64_t no_episode = -1;
    const double nan = (double)NAN;
    table *t = &h->episodes;
    AFS_H5_CHECK(t->ds[t->n++] = create_column(g, "episode", H5T_NATIVE_INT64, EPISODE_CHUNK, &no_episode));
    AFS_H5_CHECK(t->ds[t->n++] = create_column(g, "functions", H5T_NATIVE_INT64, EPISODE_CHUNK, &no_episode));
    for (int c = 0; c < afs_metric_column_count + r->nextra; c++) {
        const afs_metric_column *m = c < afs_metric_column_count ? &afs_metric_columns[c] : NULL;
        const afs_h5_column *x = m ? NULL : &r->extra[c - afs_metric_column_count];
        hid_t ds;
        AFS_H5_CHECK(ds = create_column(g, m ? m->name : x->name, H5T_NATIVE_DOUBLE,
                                        EPISODE_CHUNK, &nan));
        t->ds[t->n++] = ds;
        AFS_H5_CHECK(attr_string(ds, "unit", m ? m->unit : x->unit));
        AFS_H5_CHECK(attr_string(ds, "description", m ? m->doc : x->doc));
    }
    if (r->trace)
        AFS_H5_CHECK(h->trace.ds[h->trace.n++] = create_column(g, "trace", h->trace_type, TRACE_CHUNK, NULL));
    hsize_t first = first_rows(r, cfg);
    for (int c = 0; c < t->n; c++)
        AFS_H5_CHECK(H5Dset_extent(t->ds[c], &first));
    /* The trace: room for about one episode's records to begin with. */
    double per_episode = (double)cfg->run.envs * cfg->env.agents * cfg->env.slots * cfg->env.mu_max;
    hsize_t records = (hsize_t)(per_episode < (1 << 20) ? per_episode + 1 : (1 << 20));
    for (int c = 0; c < h->trace.n; c++)
        AFS_H5_CHECK(H5Dset_extent(h->trace.ds[c], &records));
    close_run(h);
    return 0;
}

afs_h5 *afs_h5_create(const char *path, int overwrite, const afs_config *cfg,
                      const afs_h5_run *runs, int nruns, char *err, size_t n)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors are reported with their reason */
    if (afs_h5_check_destination(path, overwrite, err, n))
        return NULL;
    afs_h5 *h = calloc(1, sizeof *h);
    if (!h) {
        afs_fail(err, n, "out of memory");
        return NULL;
    }
    snprintf(h->path, sizeof h->path, "%s", path);
    h->file = h->runs = h->run = -1;
    h->trace_type = trace_type();
    h->finished_type = finished_type();
    h->runs_desc = runs;
    h->nruns = nruns;
    char made[AFS_PATH_MAX + 64];
    temp_name(path, made, sizeof made);
    unlink(made); /* left by a killed run of the same pid: never a results file */
    h->file = H5Fcreate(made, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (h->file < 0) {
        char why[256];
        afs_fail(err, n, "%s: cannot create the results file: %s", path, h5_reason(why, sizeof why));
        free_h5(h);
        return NULL;
    }
    /* Everything but the rows, then the move to path: a file that fails on
     * the way never takes the place of anything. */
    char why[256];
    struct stat st;
    int bad = 0;
    h->runs = H5Gcreate2(h->file, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (h->runs < 0)
        bad = afs_fail(err, n, "%s: cannot create group /runs: %s", path, h5_reason(why, sizeof why));
    else if (write_root_attrs(h, cfg, err, n))
        bad = -1;
    for (int r = 0; !bad && r < nruns; r++)
        bad = make_run(h, &runs[r], cfg, err, n);
    if (!bad && H5Fflush(h->file, H5F_SCOPE_LOCAL) < 0)
        bad = afs_fail(err, n, "%s: writing the results failed: %s", path, h5_reason(why, sizeof why));
    else if (!bad && publish(made, path, overwrite) != 0)
        bad = afs_fail(err, n, "%s: cannot put the new results file there: %s%s", path,
                       strerror(errno), errno == EEXIST ? " (a file appeared meanwhile)" : "");
    else if (!bad && stat(path, &st) != 0)
        bad = afs_fail(err, n, "%s: the new results file is gone: %s", path, strerror(errno));
    if (bad) {
        close_run(h);
        if (h->runs >= 0)
            H5Gclose(h->runs);
        H5Fclose(h->file);
        unlink(made); /* ours, and not a valid results file: leave nothing behind */
        free_h5(h);
        return NULL;
    }
    h->dev = st.st_dev;
    h->ino = st.st_ino;
    return h;
}

int afs_h5_set_run_id(afs_h5 *h, const char *run_id, char *err, size_t n)
{
    AFS_H5_CHECK(attr_string(h->file, "run_id", run_id));
    AFS_H5_CHECK(H5Fflush(h->file, H5F_SCOPE_LOCAL));
    return 0;
}

static int begin_and_keep(afs_h5 *h, const afs_h5_run *r, long long keep, char *err, size_t n);

afs_h5 *afs_h5_continue(const char *path, const char *run_id, const afs_h5_run *runs,
                        const long long *keep, int nruns, char *err, size_t n)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct stat st;
    int missing = stat(path, &st) != 0 ? errno : 0;
    if (missing || !S_ISREG(st.st_mode)) {
        afs_fail(err, n, "%s: no results file to continue there (%s)", path,
                 missing ? strerror(missing) : "not a regular file");
        return NULL;
    }
    afs_h5 *h = calloc(1, sizeof *h);
    if (!h) {
        afs_fail(err, n, "out of memory");
        return NULL;
    }
    snprintf(h->path, sizeof h->path, "%s", path);
    h->runs = h->run = -1;
    h->trace_type = trace_type();
    h->finished_type = finished_type();
    h->runs_desc = runs;
    h->nruns = nruns;
    h->dev = st.st_dev;
    h->ino = st.st_ino;
    char id[128] = "", why[256];
    int bad = 0;
    h->file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (h->file < 0)
        bad = afs_fail(err, n, "%s: cannot open the results file to continue it: %s", path,
                       h5_reason(why, sizeof why));
    else if (afs_h5_attr_read_string(h->file, "run_id", id, sizeof id) < 0 || strcmp(id, run_id))
        bad = afs_fail(err, n, "%s is not the results file of this training (its run_id is "
                       "'%s', the checkpoint's '%s'): give another --out to start a new one",
                       path, id, run_id);
    else if ((h->runs = H5Gopen2(h->file, "runs", H5P_DEFAULT)) < 0)
        bad = afs_fail(err, n, "%s: no /runs group", path);
    for (int r = 0; r < nruns && !bad; r++)
        bad = begin_and_keep(h, &runs[r], keep[r], err, n);
    if (bad) {
        close_run(h);
        if (h->runs >= 0)
            H5Gclose(h->runs);
        if (h->file >= 0)
            H5Fclose(h->file);
        free_h5(h);
        return NULL;
    }
    return h;
}

/* Makes r current and cuts it to its first keep rows. */
static int begin_and_keep(afs_h5 *h, const afs_h5_run *r, long long keep, char *err, size_t n)
{
    if (afs_h5_begin_run(h, r->name, err, n))
        return -1;
    if (h->trace.n)
        return afs_fail(err, n, "%s: run %s has a trace: it cannot be continued", h->path,
                        r->name);
    if (keep < 0 || (hsize_t)keep > h->episodes.rows)
        return afs_fail(err, n, "%s: run %s holds %llu finished rows, fewer than the %lld the "
                        "checkpoint counts: it is not this training's file", h->path, r->name,
                        (unsigned long long)h->episodes.rows, keep);
    h->episodes.rows = (hsize_t)keep;
    AFS_H5_CHECK(write_finished(h));
    AFS_H5_CHECK(H5Fflush(h->file, H5F_SCOPE_LOCAL));
    return 0;
}

/* Opens a dataset of the current run into table t. */
static int open_column(afs_h5 *h, table *t, const char *name, char *err, size_t n)
{
    hid_t ds;
    AFS_H5_CHECK(ds = H5Dopen2(h->run, name, H5P_DEFAULT));
    t->ds[t->n++] = ds;
    hid_t space = H5Dget_space(ds);
    hsize_t dims = 0;
    H5Sget_simple_extent_dims(space, &dims, NULL);
    H5Sclose(space);
    t->capacity = t->n == 1 || dims < t->capacity ? dims : t->capacity;
    return 0;
}

/* The `finished` rows of the current run's group. */
static int read_finished(afs_h5 *h, finished_rec *f, char *err, size_t n)
{
    if (afs_h5_attr_read(h->run, "finished", h->finished_type, 0, f) < 0 || f->episodes < 0 ||
        f->trace_records < 0)
        return afs_fail(err, n, "%s: run %s has no readable `finished` attribute", h->path,
                        h->current->name);
    return 0;
}

int afs_h5_begin_run(afs_h5 *h, const char *name, char *err, size_t n)
{
    char why[256];
    if (h->run >= 0 && h->current && !strcmp(h->current->name, name))
        return 0; /* already the current run */
    if (h->run >= 0 && (table_trim(&h->episodes) < 0 || table_trim(&h->trace) < 0)) {
        h->write_failed = 1;
        return afs_fail(err, n, "%s: cutting the last run's datasets to their finished rows "
                        "failed: %s", h->path, h5_reason(why, sizeof why));
    }
    close_run(h);
    h->trace_pending = 0;
    h->current = NULL;
    for (int r = 0; r < h->nruns && !h->current; r++)
        if (!strcmp(h->runs_desc[r].name, name))
            h->current = &h->runs_desc[r];
    if (!h->current || H5Lexists(h->runs, name, H5P_DEFAULT) <= 0)
        return afs_fail(err, n, "%s: no run /runs/%s was made in this file", h->path, name);
    const afs_h5_run *r = h->current;
    AFS_H5_CHECK(h->run = H5Gopen2(h->runs, name, H5P_DEFAULT));
    if (open_column(h, &h->episodes, "episode", err, n) ||
        open_column(h, &h->episodes, "functions", err, n))
        return -1;
    for (int c = 0; c < afs_metric_column_count; c++)
        if (open_column(h, &h->episodes, afs_metric_columns[c].name, err, n))
            return -1;
    for (int c = 0; c < r->nextra; c++)
        if (open_column(h, &h->episodes, r->extra[c].name, err, n))
            return -1;
    if (H5Lexists(h->run, "trace", H5P_DEFAULT) > 0 && open_column(h, &h->trace, "trace", err, n))
        return -1;
    finished_rec f;
    if (read_finished(h, &f, err, n))
        return -1;
    h->episodes.rows = (hsize_t)f.episodes;
    h->trace.rows = (hsize_t)f.trace_records;
    return 0;
}

int afs_h5_append_trace(afs_h5 *h, const afs_trace_rec *recs, size_t count,
                        char *err, size_t n)
{
    if (!h->trace.n)
        return afs_fail(err, n, "%s: trace records given to a run begun without a trace", h->path);
    if (!count)
        return 0;
    /* Written past the finished records; finished with the episode. */
    table *t = &h->trace;
    hsize_t at = t->rows + h->trace_pending;
    AFS_H5_CHECK(table_reserve(h->file, t, at + count, TRACE_CHUNK));
    AFS_H5_CHECK(write_rows(t->ds[0], h->trace_type, at, count, recs));
    h->trace_pending += count;
    return 0;
}

int afs_h5_append_episode(afs_h5 *h, const afs_episode_row *row, const double *extra, char *err,
                          size_t n)
{
    table *t = &h->episodes;
    if (!h->current)
        return afs_fail(err, n, "%s: an episode given before any run was begun", h->path);
    AFS_H5_CHECK(table_reserve(h->file, t, t->rows + 1, FIRST_CAPACITY));
    AFS_H5_CHECK(write_rows(t->ds[0], H5T_NATIVE_INT64, t->rows, 1, &row->episode));
    AFS_H5_CHECK(write_rows(t->ds[1], H5T_NATIVE_INT64, t->rows, 1, &row->functions));
    for (int c = 0; c < afs_metric_column_count; c++) {
        const double *v = (const double *)(const void *)((const char *)row + afs_metric_columns[c].offset);
        AFS_H5_CHECK(write_rows(t->ds[2 + c], H5T_NATIVE_DOUBLE, t->rows, 1, v));
    }
    for (int c = 0; c < h->current->nextra; c++)
        AFS_H5_CHECK(write_rows(t->ds[2 + afs_metric_column_count + c], H5T_NATIVE_DOUBLE,
                                t->rows, 1, &extra[c]));
    /* The rows first, then the count that makes them finished. */
    AFS_H5_CHECK(H5Fflush(h->file, H5F_SCOPE_LOCAL));
    t->rows++;
    h->trace.rows += h->trace_pending;
    h->trace_pending = 0;
    AFS_H5_CHECK(write_finished(h));
    AFS_H5_CHECK(H5Fflush(h->file, H5F_SCOPE_LOCAL));
    return 0;
}

/* The file at path is still the one this run created. */
static int still_ours(const afs_h5 *h, char *err, size_t n)
{
    struct stat st;
    if (stat(h->path, &st) != 0)
        return afs_fail(err, n, "%s was deleted while the run wrote it: its results are lost "
                        "(%s)", h->path, strerror(errno));
    if (st.st_dev != h->dev || st.st_ino != h->ino)
        return afs_fail(err, n, "%s was replaced by another file while the run wrote it: the "
                        "run's results are lost", h->path);
    return 0;
}

/* Every run cut to its finished rows (afs_h5_begin_run cuts the run it
 * leaves), runs never begun too (to none): the file a clean close leaves. */
static int trim_runs(afs_h5 *h, char *err, size_t n)
{
    char why[256];
    for (int r = 0; r < h->nruns; r++)
        if (afs_h5_begin_run(h, h->runs_desc[r].name, err, n))
            return -1;
    if (h->run >= 0 && (table_trim(&h->episodes) < 0 || table_trim(&h->trace) < 0))
        return afs_fail(err, n, "%s: cutting the datasets to their finished rows failed: %s",
                        h->path, h5_reason(why, sizeof why));
    return 0;
}

int afs_h5_close(afs_h5 *h, int disk_failed, char *err, size_t n)
{
    if (!h)
        return 0;
    char why[256];
    if (disk_failed || h->write_failed) {
        /* After a failed write, HDF5 must write nothing more: closing would
         * flush metadata that points past the end of a file the disk could
         * not grow (HDF5 1.10 then refuses the file: "truncated file"). The
         * file stays as its last flush left it, `finished` telling its rows;
         * the handle is left open, to be dropped when the process ends. */
        close_run(h);
        free_h5(h);
        return 0;
    }
    /* A run that ended with another error (a training's not-finite loss)
     * closes as a clean end does. */
    int result = trim_runs(h, err, n);
    close_run(h);
    if (h->runs >= 0)
        H5Gclose(h->runs);
    if (H5Fclose(h->file) < 0 && !result)
        result = afs_fail(err, n, "%s: closing the results file failed: %s", h->path,
                          h5_reason(why, sizeof why));
    if (!result && still_ours(h, err, n))
        result = -1;
    free_h5(h);
    return result;
}
