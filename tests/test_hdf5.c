/* HDF5 results, read back through the HDF5 C library: a round trip of every
 * attribute, dataset and trace field; no overwriting without --force; clear
 * errors; a run killed with SIGKILL mid-way leaving a readable file with every
 * finished episode, and SIGTERM stopping cleanly with exit status 130. */
#define _DEFAULT_SOURCE /* mkdtemp, setenv */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "host/h5out.h"

static char dir[] = "/tmp/afsim-hdf5-XXXXXX";

static void setup(void)
{
    /* Before any HDF5 call: read files that another process holds open for
     * writing (the child runs inherit it too). */
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
    cr_assert_not_null(mkdtemp(dir));
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void teardown(void) { test_remove_dir(dir); }

TestSuite(hdf5, .init = setup, .fini = teardown);

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* Rows of a 1-D dataset; the dataset must exist. */
static hsize_t rows(hid_t file, const char *name)
{
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    cr_assert(ds >= 0, "no dataset %s", name);
    hid_t sp = H5Dget_space(ds);
    cr_assert_eq(H5Sget_simple_extent_ndims(sp), 1, "%s is not 1-D", name);
    hsize_t n = 0, max = 0;
    H5Sget_simple_extent_dims(sp, &n, &max);
    cr_assert_eq(max, H5S_UNLIMITED, "%s is not extendible", name);
    H5Sclose(sp);
    H5Dclose(ds);
    return n;
}

static void read_all(hid_t file, const char *name, hid_t type, void *buf)
{
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    cr_assert(ds >= 0, "no dataset %s", name);
    cr_assert(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "cannot read %s", name);
    H5Dclose(ds);
}

static void attr_read(hid_t obj, const char *name, hid_t type, void *value)
{
    cr_assert(H5Aexists(obj, name) > 0, "no attribute %s", name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    cr_assert(a >= 0 && H5Aread(a, type, value) >= 0, "cannot read attribute %s", name);
    H5Aclose(a);
}

static int64_t attr_i64(hid_t obj, const char *name)
{
    int64_t v = 0;
    attr_read(obj, name, H5T_NATIVE_INT64, &v);
    return v;
}

static float attr_f32(hid_t obj, const char *name)
{
    float v = 0;
    attr_read(obj, name, H5T_NATIVE_FLOAT, &v);
    return v;
}

/* A fixed-length, NUL-terminated UTF-8 string attribute, copied into buf. */
static const char *attr_str(hid_t obj, const char *name, char *buf, size_t n)
{
    cr_assert(H5Aexists(obj, name) > 0, "no attribute %s", name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    cr_assert(H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) == 0,
              "%s is not a fixed-length string", name);
    size_t len = H5Tget_size(ft);
    H5T_cset_t cset = H5Tget_cset(ft);
    H5T_str_t pad = H5Tget_strpad(ft);
    H5Tclose(ft);
    H5Aclose(a);
    cr_assert_eq(cset, H5T_CSET_UTF8, "%s is not UTF-8", name);
    cr_assert_eq(pad, H5T_STR_NULLTERM, "%s is not NUL-terminated", name);
    cr_assert(len >= 1 && len <= n, "%s: %zu bytes", name, len);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len);
    H5Tset_cset(t, H5T_CSET_UTF8);
    attr_read(obj, name, t, buf);
    H5Tclose(t);
    cr_assert_eq(buf[len - 1], 0, "%s is not NUL-terminated", name);
    return buf;
}

/* ---- The trace record, field by field, as trace.h declares it ---- */

#define TRACE_FIELDS(I32, F32, I8, E8)                                                  \
    I32(episode) I32(env) I32(slot) I32(en) F32(z) F32(k) F32(deadline) F32(c)         \
    I32(type) F32(memory_mb) F32(f_m) F32(f_c) F32(w_before) I32(ap) I32(n_g) F32(h)   \
    F32(i_g) F32(r_tr) F32(r_re) I8(warm) I8(action) I8(success) I8(dropped)           \
    E8(reason) F32(d_up) F32(d_start) F32(d_wait) F32(d_exec) F32(d_tr) F32(d_re)      \
    F32(d_idle) F32(latency) F32(cost) F32(reward) F32(x) F32(y) I32(group)

#define COUNT_FIELD(f) +1
enum { TRACE_FIELD_COUNT = 0 TRACE_FIELDS(COUNT_FIELD, COUNT_FIELD, COUNT_FIELD, COUNT_FIELD) };
#undef COUNT_FIELD

static hid_t reason_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t v;
    v = AFS_OK; H5Tenum_insert(t, "ok", &v);
    v = AFS_DEADLINE_MISSED; H5Tenum_insert(t, "deadline_missed", &v);
    v = AFS_QUEUE_FULL; H5Tenum_insert(t, "queue_full", &v);
    return t;
}

/* A memory type for afs_trace_rec built from its own offsets. */
static hid_t trace_mem_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(afs_trace_rec));
    hid_t reason = reason_type();
#define I32(f) H5Tinsert(t, #f, HOFFSET(afs_trace_rec, f), H5T_NATIVE_INT32);
#define F32(f) H5Tinsert(t, #f, HOFFSET(afs_trace_rec, f), H5T_NATIVE_FLOAT);
#define I8(f) H5Tinsert(t, #f, HOFFSET(afs_trace_rec, f), H5T_NATIVE_INT8);
#define E8(f) H5Tinsert(t, #f, HOFFSET(afs_trace_rec, f), reason);
    TRACE_FIELDS(I32, F32, I8, E8)
#undef I32
#undef F32
#undef I8
#undef E8
    H5Tclose(reason);
    return t;
}

/* Distinct, exactly representable values in every field of record r. */
static void fill_rec(afs_trace_rec *rec, int r)
{
    int i = 0;
    memset(rec, 0, sizeof *rec);
#define I32(f) rec->f = 1000 * (r + 1) + i++;
#define F32(f) rec->f = (float)(r + 1) * 0.5f + 0.25f * (float)i++;
#define I8(f) rec->f = (int8_t)((r + i++) % 2);
#define E8(f) rec->f = r ? AFS_DEADLINE_MISSED : AFS_QUEUE_FULL; i++;
    TRACE_FIELDS(I32, F32, I8, E8)
#undef I32
#undef F32
#undef I8
#undef E8
}

static void expect_rec(const afs_trace_rec *got, const afs_trace_rec *want, int r)
{
#define SAME(f) cr_assert_eq(got->f, want->f, "trace row %d field " #f ": %g, wrote %g", r, \
                             (double)got->f, (double)want->f);
    TRACE_FIELDS(SAME, SAME, SAME, SAME)
#undef SAME
}

/* The value written in metric column c of episode e (NaN in one place). */
static double metric_value(int c, int e)
{
    if (!strcmp(afs_metric_columns[c].name, "mean_latency_s") && e == 1)
        return NAN;
    return 0.5 * e + 0.125 * c + 0.0625;
}

static double *metric_field(afs_episode_row *row, int c)
{
    return (double *)(void *)((char *)row + afs_metric_columns[c].offset);
}

Test(hdf5, round_trip)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    cfg.env.agents = 17;
    cfg.env.t_mean = 2.5f;
    cfg.env.reuse = 0.1f;
    cfg.run.seed = 4294967295u;
    cfg.run.trace = 1;
    snprintf(cfg.run.policies, sizeof cfg.run.policies, "greedy,all_cloud");
    char path[512], err[1024];
    path_in(path, sizeof path, "rt.h5");
    snprintf(cfg.run.out, sizeof cfg.run.out, "%s", path);

    const afs_h5_run runs[] = {{.name = "greedy", .backend = "cpu", .trace = 1}};
    afs_h5 *h = afs_h5_create(path, 0, &cfg, runs, 1, err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    cr_assert_eq(afs_h5_begin_run(h, "greedy", err, sizeof err), 0, "%s", err);
    afs_trace_rec recs[2];
    fill_rec(&recs[0], 0);
    fill_rec(&recs[1], 1);
    cr_assert_eq(afs_h5_append_trace(h, recs, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(afs_h5_append_trace(h, recs + 1, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(afs_h5_append_trace(h, recs, 0, err, sizeof err), 0, "nothing to append: %s", err);
    for (int e = 0; e < 3; e++) {
        afs_episode_row row;
        memset(&row, 0, sizeof row);
        row.episode = e;
        row.functions = 100 + e;
        for (int c = 0; c < afs_metric_column_count; c++)
            *metric_field(&row, c) = metric_value(c, e);
        cr_assert_eq(afs_h5_append_episode(h, &row, NULL, err, sizeof err), 0, "%s", err);
    }
    cr_assert_eq(afs_h5_close(h, 0, err, sizeof err), 0, "%s", err);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "%s does not open", path);
    char s[AFS_PATH_MAX + 8];

    /* Root attributes: the schema, provenance and every configuration key. */
    cr_assert_eq(attr_i64(f, "schema_version"), AFS_SCHEMA_VERSION);
    cr_assert_str_not_empty(attr_str(f, "afsim_version", s, sizeof s));
    cr_assert_str_not_empty(attr_str(f, "git_revision", s, sizeof s));
    attr_str(f, "created_utc", s, sizeof s);
    cr_assert(strlen(s) == 20 && s[4] == '-' && s[10] == 'T' && s[19] == 'Z', "created_utc '%s'", s);
    cr_assert_eq(attr_i64(f, "env.agents"), 17);
    cr_assert_eq(attr_i64(f, "run.seed"), 4294967295LL, "an unsigned seed stays unsigned");
    cr_assert_eq(attr_i64(f, "run.trace"), 1);
    cr_assert_eq(attr_f32(f, "env.t_mean"), 2.5f);
    cr_assert_eq(attr_f32(f, "env.reuse"), 0.1f);
    cr_assert_str_eq(attr_str(f, "run.policies", s, sizeof s), "greedy,all_cloud");
    cr_assert_str_eq(attr_str(f, "run.out", s, sizeof s), path);
    for (int i = 0; i < afs_config_key_count(); i++) {
        const afs_config_key *k = afs_config_key_at(i);
        const char *field = (const char *)&cfg + k->offset;
        char name[128];
        snprintf(name, sizeof name, "%s.%s", k->section, k->name);
        switch (k->type) {
        case AFS_T_FLOAT:
            cr_assert_eq(attr_f32(f, name), *(const float *)(const void *)field, "%s", name);
            break;
        case AFS_T_U32:
            cr_assert_eq(attr_i64(f, name), *(const uint32_t *)(const void *)field, "%s", name);
            break;
        case AFS_T_INT:
        case AFS_T_BOOL:
            cr_assert_eq(attr_i64(f, name), *(const int *)(const void *)field, "%s", name);
            break;
        case AFS_T_STRING:
            cr_assert_str_eq(attr_str(f, name, s, sizeof s), field, "%s", name);
            break;
        }
    }

    /* The run's group and its attributes. */
    hid_t g = H5Gopen2(f, "runs/greedy", H5P_DEFAULT);
    cr_assert(g >= 0, "no /runs/greedy");
    cr_assert_str_eq(attr_str(g, "policy", s, sizeof s), "greedy");
    cr_assert_str_eq(attr_str(g, "backend", s, sizeof s), "cpu");
    cr_assert_eq(attr_i64(g, "envs"), 64);
    cr_assert_eq(attr_i64(g, "agents"), 17);
    cr_assert_eq(attr_i64(g, "seed"), 4294967295LL);
    H5Gclose(g);

    /* Episode rows. */
    cr_assert_eq(rows(f, "runs/greedy/episode"), 3);
    cr_assert_eq(rows(f, "runs/greedy/functions"), 3);
    int64_t ep[3], fn[3];
    read_all(f, "runs/greedy/episode", H5T_NATIVE_INT64, ep);
    read_all(f, "runs/greedy/functions", H5T_NATIVE_INT64, fn);
    for (int e = 0; e < 3; e++) {
        cr_assert_eq(ep[e], e);
        cr_assert_eq(fn[e], 100 + e);
    }
    for (int c = 0; c < afs_metric_column_count; c++) {
        const afs_metric_column *col = &afs_metric_columns[c];
        char name[128];
        double v[3];
        snprintf(name, sizeof name, "runs/greedy/%s", col->name);
        cr_assert_eq(rows(f, name), 3, "%s", name);
        read_all(f, name, H5T_NATIVE_DOUBLE, v);
        for (int e = 0; e < 3; e++) {
            double want = metric_value(c, e);
            if (isnan(want))
                cr_assert(isnan(v[e]), "%s[%d] = %g, wrote NaN", name, e, v[e]);
            else
                cr_assert_eq(v[e], want, "%s[%d] = %g, wrote %g", name, e, v[e], want);
        }
        hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
        cr_assert_str_eq(attr_str(ds, "unit", s, sizeof s), col->unit, "%s", name);
        cr_assert_str_eq(attr_str(ds, "description", s, sizeof s), col->doc, "%s", name);
        H5Dclose(ds);
    }
    double sr[3];
    read_all(f, "runs/greedy/success_rate", H5T_NATIVE_DOUBLE, sr);
    cr_assert(sr[0] == 0.1875 && sr[1] == 0.6875 && sr[2] == 1.1875, "%g %g %g", sr[0], sr[1], sr[2]);

    /* The trace: every field of trace.h in the file's compound, the reason an
     * enum of named values, and both rows as written. */
    cr_assert_eq(rows(f, "runs/greedy/trace"), 2);
    hid_t ds = H5Dopen2(f, "runs/greedy/trace", H5P_DEFAULT);
    hid_t ft = H5Dget_type(ds);
    cr_assert_eq(H5Tget_class(ft), H5T_COMPOUND);
    cr_assert_eq(H5Tget_nmembers(ft), TRACE_FIELD_COUNT, "the file's trace has %d fields, trace.h %d",
                 H5Tget_nmembers(ft), TRACE_FIELD_COUNT);
#define HAS(f) cr_assert(H5Tget_member_index(ft, #f) >= 0, "the trace lacks " #f);
    TRACE_FIELDS(HAS, HAS, HAS, HAS)
#undef HAS
    hid_t rt = H5Tget_member_type(ft, (unsigned)H5Tget_member_index(ft, "reason"));
    cr_assert_eq(H5Tget_class(rt), H5T_ENUM);
    cr_assert_eq(H5Tget_nmembers(rt), 3);
    const struct { int8_t v; const char *name; } names[] = {
        {AFS_OK, "ok"}, {AFS_DEADLINE_MISSED, "deadline_missed"}, {AFS_QUEUE_FULL, "queue_full"}};
    for (int i = 0; i < 3; i++) {
        char got[32] = "";
        cr_assert(H5Tenum_nameof(rt, &names[i].v, got, sizeof got) >= 0, "no name for %d", names[i].v);
        cr_assert_str_eq(got, names[i].name);
    }
    H5Tclose(rt);
    H5Tclose(ft);
    H5Dclose(ds);
    afs_trace_rec got[2];
    memset(got, 0x77, sizeof got);
    hid_t mt = trace_mem_type();
    read_all(f, "runs/greedy/trace", mt, got);
    H5Tclose(mt);
    for (int r = 0; r < 2; r++)
        expect_rec(&got[r], &recs[r], r);
    cr_assert_eq(got[0].reason, AFS_QUEUE_FULL);
    cr_assert_eq(got[1].reason, AFS_DEADLINE_MISSED);
    H5Fclose(f);
}

Test(hdf5, runs_of_several_policies_share_a_file)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    char path[512], err[1024];
    path_in(path, sizeof path, "two.h5");
    const afs_h5_run runs[] = {{.name = "greedy", .backend = "cpu"},
                               {.name = "all_local", .backend = "cuda", .trace = 1},
                               {.name = "random", .backend = "cpu", .trace = 1}};
    afs_h5 *h = afs_h5_create(path, 0, &cfg, runs, 3, err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    cr_assert_eq(afs_h5_begin_run(h, "greedy", err, sizeof err), 0, "%s", err);
    afs_trace_rec rec;
    fill_rec(&rec, 0);
    cr_assert_eq(afs_h5_append_trace(h, &rec, 1, err, sizeof err), -1);
    cr_assert(strstr(err, "without a trace"), "%s", err);
    afs_episode_row row;
    memset(&row, 0, sizeof row);
    for (int e = 0; e < 2; e++) {
        row.episode = e;
        cr_assert_eq(afs_h5_append_episode(h, &row, NULL, err, sizeof err), 0, "%s", err);
    }
    /* The next run starts at row 0 of its own datasets. */
    cr_assert_eq(afs_h5_begin_run(h, "all_local", err, sizeof err), 0, "%s", err);
    row.episode = 0;
    cr_assert_eq(afs_h5_append_episode(h, &row, NULL, err, sizeof err), 0, "%s", err);
    /* A run with no episodes at all. */
    cr_assert_eq(afs_h5_begin_run(h, "random", err, sizeof err), 0, "%s", err);
    /* A run the file was not made for is refused with the reason. */
    cr_assert_eq(afs_h5_begin_run(h, "all_cloud", err, sizeof err), -1);
    cr_assert(strstr(err, "/runs/all_cloud") && strstr(err, "no run"), "%s", err);
    cr_assert_eq(afs_h5_close(h, 0, err, sizeof err), 0, "%s", err);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    char s[64];
    cr_assert_eq(rows(f, "runs/greedy/episode"), 2);
    cr_assert_eq(H5Lexists(f, "runs/greedy/trace", H5P_DEFAULT), 0, "a run without --trace has no trace");
    cr_assert_eq(rows(f, "runs/all_local/episode"), 1);
    cr_assert_eq(rows(f, "runs/all_local/success_rate"), 1);
    cr_assert_eq(rows(f, "runs/all_local/trace"), 0);
    hid_t g = H5Gopen2(f, "runs/all_local", H5P_DEFAULT);
    cr_assert_str_eq(attr_str(g, "backend", s, sizeof s), "cuda");
    H5Gclose(g);
    cr_assert_eq(rows(f, "runs/random/episode"), 0);
    cr_assert_eq(rows(f, "runs/random/mean_cost"), 0);
    H5Fclose(f);
}

/* The whole content of a file. */
static char *file_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    char *buf = malloc(*len + 1);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

Test(hdf5, an_existing_file_is_not_replaced_without_overwrite)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    char path[512], err[1024];
    path_in(path, sizeof path, "keep.h5");
    const afs_h5_run greedy[] = {{.name = "greedy", .backend = "cpu"}};
    afs_h5 *h = afs_h5_create(path, 0, &cfg, greedy, 1, err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    cr_assert_eq(afs_h5_begin_run(h, "greedy", err, sizeof err), 0, "%s", err);
    cr_assert_eq(afs_h5_close(h, 0, err, sizeof err), 0, "%s", err);
    size_t before_len, after_len;
    char *before = file_bytes(path, &before_len);

    sleep(1); /* a rewrite would show in created_utc too */
    err[0] = 0;
    cr_assert_null(afs_h5_create(path, 0, &cfg, NULL, 0, err, sizeof err));
    cr_assert(strstr(err, path) && strstr(err, "already exists") && strstr(err, "--force"), "%s", err);
    char *after = file_bytes(path, &after_len);
    cr_assert(before_len == after_len && !memcmp(before, after, before_len),
              "the refused create changed the file");
    free(after);

    /* Any existing path counts, even an empty file that is not HDF5. */
    char empty[512];
    path_in(empty, sizeof empty, "empty.h5");
    fclose(fopen(empty, "w"));
    cr_assert_null(afs_h5_create(empty, 0, &cfg, NULL, 0, err, sizeof err));
    cr_assert(strstr(err, "already exists"), "%s", err);

    /* With overwrite the file is replaced by a fresh one. */
    h = afs_h5_create(path, 1, &cfg, NULL, 0, err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    cr_assert_eq(afs_h5_close(h, 0, err, sizeof err), 0, "%s", err);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    cr_assert_eq(H5Lexists(f, "runs", H5P_DEFAULT), 1);
    cr_assert_eq(H5Lexists(f, "runs/greedy", H5P_DEFAULT), 0, "the old run survived the overwrite");
    H5Fclose(f);
    free(before);
}

/* Every reason a results file cannot be created is named, and nothing is
 * left behind. */
Test(hdf5, an_unwritable_place_is_a_clear_error)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    char err[1024], path[512], inside[1024];
    err[0] = 0;
    cr_assert_null(afs_h5_create("/nonexistent-dir/x.h5", 0, &cfg, NULL, 0, err, sizeof err));
    cr_assert(strstr(err, "/nonexistent-dir/x.h5") && strstr(err, "/nonexistent-dir does not exist"),
              "%s", err);
    cr_assert_neq(access("/nonexistent-dir/x.h5", F_OK), 0);
    /* Also with overwrite, and below the test's own directory. */
    path_in(path, sizeof path, "missing/sub/x.h5");
    err[0] = 0;
    cr_assert_null(afs_h5_create(path, 1, &cfg, NULL, 0, err, sizeof err));
    cr_assert(strstr(err, path) && strstr(err, "does not exist"), "%s", err);
    /* A directory in the way, replaced with --force, is still not a file:
     * the message says so and offers a file name inside it. */
    path_in(path, sizeof path, "adir.h5");
    cr_assert_eq(mkdir(path, 0700), 0);
    for (int force = 0; force < 2; force++) {
        err[0] = 0;
        cr_assert_null(afs_h5_create(path, force, &cfg, NULL, 0, err, sizeof err));
        cr_assert(strstr(err, "is a directory") && strstr(err, "adir.h5/afsim.h5"), "%s", err);
    }
    /* Not a regular file (a device that is always full), a dangling link. */
    cr_assert_null(afs_h5_create("/dev/full", 1, &cfg, NULL, 0, err, sizeof err));
    cr_assert(strstr(err, "/dev/full") && strstr(err, "not a regular file"), "%s", err);
    path_in(path, sizeof path, "dangling.h5");
    path_in(inside, sizeof inside, "gone/target.h5");
    cr_assert_eq(symlink(inside, path), 0);
    cr_assert_null(afs_h5_create(path, 1, &cfg, NULL, 0, err, sizeof err));
    cr_assert(strstr(err, "symbolic link to a missing file"), "%s", err);
    /* A directory that cannot be written in (as a user other than root). */
    path_in(path, sizeof path, "locked");
    cr_assert_eq(mkdir(path, 0500), 0);
    snprintf(inside, sizeof inside, "%s/x.h5", path);
    if (geteuid() != 0) {
        cr_assert_null(afs_h5_create(inside, 0, &cfg, NULL, 0, err, sizeof err));
        cr_assert(strstr(err, "cannot write in") && strstr(err, "Permission denied"), "%s", err);
    }
    chmod(path, 0700);
    /* A name too long for the file system: the system's reason. */
    char longname[400];
    memset(longname, 'n', 300);
    longname[300] = 0;
    snprintf(inside, sizeof inside, "%s/%s.h5", dir, longname);
    cr_assert_null(afs_h5_create(inside, 0, &cfg, NULL, 0, err, sizeof err));
    cr_assert(strstr(err, "name too long"), "%s", err);
    /* No file was left anywhere by the refusals (only what the test made). */
    DIR *d = opendir(dir);
    for (struct dirent *e; (e = readdir(d));)
        cr_assert(!strstr(e->d_name, "afsim-new"), "left behind: %s", e->d_name);
    closedir(d);
}

/* ---- The command line: no overwrite, --force, and a complete run ---- */

/* Runs a shell command line with stderr into DIR/cmd.err; its exit status. */
static int shell(const char *args, char *err_text, size_t n)
{
    char cmd[2048], err_path[600];
    path_in(err_path, sizeof err_path, "cmd.err");
    snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>'%s'", AFSIM_BIN, args, err_path);
    int status = system(cmd);
    err_text[0] = 0;
    FILE *f = fopen(err_path, "r");
    if (f) {
        size_t len = fread(err_text, 1, n - 1, f);
        err_text[len] = 0;
        fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(hdf5, cli_refuses_to_overwrite_and_force_replaces, .timeout = 60)
{
    char path[512], args[1024], err[4096];
    path_in(path, sizeof path, "cli.h5");
    const char *small = "--set env.agents=4 --envs 2 --episodes 3 --backend cpu --quiet";
    snprintf(args, sizeof args, "run %s --policy greedy,all_cloud --seed 7 --out '%s'", small, path);
    cr_assert_eq(shell(args, err, sizeof err), 0, "%s", err);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    cr_assert_eq(rows(f, "runs/greedy/episode"), 3);
    cr_assert_eq(rows(f, "runs/all_cloud/episode"), 3);
    cr_assert_eq(H5Lexists(f, "runs/random", H5P_DEFAULT), 0);
    cr_assert_eq(attr_i64(f, "run.seed"), 7);
    cr_assert_eq(attr_i64(f, "env.agents"), 4);
    cr_assert_eq(attr_i64(f, "run.episodes"), 3);
    char s[64];
    cr_assert_str_eq(attr_str(f, "run.policies", s, sizeof s), "greedy,all_cloud");
    double oc[3];
    read_all(f, "runs/all_cloud/offload_fraction", H5T_NATIVE_DOUBLE, oc);
    for (int e = 0; e < 3; e++)
        cr_assert_eq(oc[e], 1.0, "all_cloud offloads everything");
    H5Fclose(f);

    size_t before_len, after_len;
    char *before = file_bytes(path, &before_len);
    snprintf(args, sizeof args, "run %s --policy random --out '%s'", small, path);
    cr_assert_eq(shell(args, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, path) && strstr(err, "already exists") && strstr(err, "--force"), "%s", err);
    char *after = file_bytes(path, &after_len);
    cr_assert(before_len == after_len && !memcmp(before, after, before_len), "the file changed");
    free(before);
    free(after);

    snprintf(args, sizeof args, "run %s --policy random --out '%s' --force", small, path);
    cr_assert_eq(shell(args, err, sizeof err), 0, "%s", err);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    cr_assert_eq(rows(f, "runs/random/episode"), 3);
    cr_assert_eq(H5Lexists(f, "runs/greedy", H5P_DEFAULT), 0);
    cr_assert_eq(attr_i64(f, "run.overwrite"), 1);
    H5Fclose(f);

    snprintf(args, sizeof args, "run %s --out '%s/no/such/dir/x.h5'", small, dir);
    cr_assert_eq(shell(args, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "no/such/dir/x.h5") && strstr(err, "does not exist"), "%s", err);
}

/* Runs killed or stopped from outside: tests/test_crash.c. */

/* The trace's promise: every latency can be recomputed by hand from the
 * record's own fields and the equations of docs/model.md (default
 * parameters: r_up 50, warm 0.01 s, cold 0.25 + 0.0005 s/MB, b 5 MHz,
 * p 0.5 W, sigma2 1e-13 W). */
Test(hdf5, trace_latencies_recompute_from_the_equations, .timeout = 60)
{
    char path[512], cmd[1024];
    path_in(path, sizeof path, "trace.h5");
    snprintf(cmd, sizeof cmd, "%s run --set env.agents=40 --envs 3 --episodes 2 --policy random "
             "--backend cpu --trace --quiet --out %s", AFSIM_BIN, path);
    cr_assert_eq(system(cmd), 0);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hsize_t n = rows(f, "runs/random/trace");
    cr_assert(n > 1000, "only %llu records", (unsigned long long)n);
    typedef struct { float z, k, deadline, c, memory_mb, f_m, f_c, w_before, h, i_g, d_idle, latency;
                     int32_t n_g; int8_t warm, action, success, dropped; } rec;
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(rec));
#define F(name) H5Tinsert(t, #name, HOFFSET(rec, name), H5T_NATIVE_FLOAT);
#define I8(name) H5Tinsert(t, #name, HOFFSET(rec, name), H5T_NATIVE_INT8);
    F(z) F(k) F(deadline) F(c) F(memory_mb) F(f_m) F(f_c) F(w_before) F(h) F(i_g) F(d_idle) F(latency)
    I8(warm) I8(action) I8(success) I8(dropped)
    H5Tinsert(t, "n_g", HOFFSET(rec, n_g), H5T_NATIVE_INT32);
#undef F
#undef I8
    rec *r = malloc(n * sizeof *r);
    read_all(f, "runs/random/trace", t, r);
    H5Tclose(t);
    H5Fclose(f);
    long edge = 0, cloud = 0, dropped = 0;
    for (hsize_t i = 0; i < n; i++) {
        if (r[i].dropped) {
            cr_assert(r[i].action == 1 && r[i].w_before + r[i].k > 10.0f && !r[i].success);
            dropped++;
            continue;
        }
        double start = r[i].warm ? 0.01 : 0.25 + 0.0005 * r[i].memory_mb;
        double want;
        if (r[i].action) {
            want = r[i].z / 50.0 + start + r[i].w_before / r[i].f_m + r[i].k / r[i].f_m;
            edge++;
        } else {
            double r_tr = 5.0 / r[i].n_g * log2(1 + 0.5 * r[i].h / (1e-13 + r[i].i_g));
            double r_re = 5.0 * log2(1 + 0.5 * r[i].h / 1e-13);
            want = r[i].z / 50.0 + start + r[i].z / r_tr + r[i].k / r[i].f_c + r[i].c / r_re + r[i].d_idle;
            cloud++;
        }
        cr_assert(fabs(r[i].latency - want) <= 1e-4 * want, "record %llu: latency %g, recomputed %g",
                  (unsigned long long)i, r[i].latency, want);
        cr_assert_eq(r[i].success, r[i].latency <= r[i].deadline);
    }
    cr_assert(edge > 100 && cloud > 100, "edge %ld cloud %ld", edge, cloud);
    free(r);
}
