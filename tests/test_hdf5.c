/* HDF5 results: round trip through the C library, no overwriting, and a run
 * killed mid-way leaving a readable file with every finished episode. */
#define _DEFAULT_SOURCE /* mkdtemp, setenv */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/h5out.h"

static char dir[] = "/tmp/afsim-hdf5-XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    /* Read files another process holds open for writing. */
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

TestSuite(hdf5, .init = setup);

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static hsize_t rows(hid_t file, const char *name)
{
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    cr_assert(ds >= 0, "no dataset %s", name);
    hid_t sp = H5Dget_space(ds);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    return n;
}

static void read_all(hid_t file, const char *name, hid_t type, void *buf)
{
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    cr_assert(ds >= 0 && H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, "%s", name);
    H5Dclose(ds);
}

Test(hdf5, round_trip)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    cfg.env.agents = 17;
    char path[512], err[1024];
    path_in(path, sizeof path, "rt.h5");
    afs_h5 *h = afs_h5_create(path, 0, &cfg, err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    cr_assert_eq(afs_h5_begin_run(h, "greedy", "cpu", &cfg, 1, err, sizeof err), 0, "%s", err);
    afs_trace_rec recs[2];
    memset(recs, 0, sizeof recs);
    recs[0].slot = 3; recs[0].z = 1.25f; recs[0].reason = AFS_QUEUE_FULL; recs[0].dropped = 1;
    recs[1].en = 16; recs[1].latency = 0.5f; recs[1].reason = AFS_DEADLINE_MISSED; recs[1].d_tr = 0.125f;
    cr_assert_eq(afs_h5_append_trace(h, recs, 2, err, sizeof err), 0, "%s", err);
    for (int e = 0; e < 3; e++) {
        afs_episode_row row;
        memset(&row, 0, sizeof row);
        row.episode = e;
        row.functions = 100 + e;
        row.success_rate = 0.25 * e;
        row.mean_latency_s = e == 1 ? NAN : 1.5;
        cr_assert_eq(afs_h5_append_episode(h, &row, err, sizeof err), 0, "%s", err);
    }
    cr_assert_eq(afs_h5_close(h, err, sizeof err), 0, "%s", err);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    int64_t schema = 0, agents = 0;
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, &schema);
    H5Aclose(a);
    a = H5Aopen(f, "env.agents", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, &agents);
    H5Aclose(a);
    cr_assert_eq(schema, AFS_SCHEMA_VERSION);
    cr_assert_eq(agents, 17);
    cr_assert_eq(rows(f, "runs/greedy/success_rate"), 3);
    double sr[3], lat[3];
    int64_t ep[3];
    read_all(f, "runs/greedy/success_rate", H5T_NATIVE_DOUBLE, sr);
    read_all(f, "runs/greedy/mean_latency_s", H5T_NATIVE_DOUBLE, lat);
    read_all(f, "runs/greedy/episode", H5T_NATIVE_INT64, ep);
    for (int e = 0; e < 3; e++) {
        cr_assert_eq(sr[e], 0.25 * e);
        cr_assert_eq(ep[e], e);
    }
    cr_assert(isnan(lat[1]) && lat[0] == 1.5);
    /* The trace, read back field by field with a compound of three fields. */
    struct { int32_t slot; float z; int8_t reason; } got[2];
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof got[0]);
    H5Tinsert(t, "slot", 0, H5T_NATIVE_INT32);
    H5Tinsert(t, "z", 4, H5T_NATIVE_FLOAT);
    H5Tinsert(t, "reason", 8, H5T_NATIVE_INT8);
    cr_assert_eq(rows(f, "runs/greedy/trace"), 2);
    read_all(f, "runs/greedy/trace", t, got);
    H5Tclose(t);
    cr_assert_eq(got[0].slot, 3);
    cr_assert_eq(got[0].z, 1.25f);
    cr_assert_eq(got[0].reason, AFS_QUEUE_FULL);
    cr_assert_eq(got[1].reason, AFS_DEADLINE_MISSED);
    H5Fclose(f);
}

Test(hdf5, an_existing_file_is_not_replaced_without_overwrite)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    char path[512], err[1024];
    path_in(path, sizeof path, "keep.h5");
    FILE *f = fopen(path, "w");
    fputs("precious", f);
    fclose(f);
    cr_assert_null(afs_h5_create(path, 0, &cfg, err, sizeof err));
    cr_assert(strstr(err, "already exists") && strstr(err, "--force"), "%s", err);
    char buf[16] = "";
    f = fopen(path, "r");
    cr_assert_not_null(fgets(buf, sizeof buf, f));
    fclose(f);
    cr_assert_str_eq(buf, "precious");
    afs_h5 *h = afs_h5_create(path, 1, &cfg, err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    cr_assert_eq(afs_h5_close(h, err, sizeof err), 0);
}

Test(hdf5, an_unwritable_place_is_a_clear_error)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    char err[1024];
    cr_assert_null(afs_h5_create("/nonexistent-dir/x.h5", 0, &cfg, err, sizeof err));
    cr_assert(strstr(err, "/nonexistent-dir/x.h5") && strstr(err, "cannot create"), "%s", err);
}

/* Starts a run of many episodes writing to path; returns its pid. */
static pid_t start_long_run(const char *path)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(126);
        execl(AFSIM_BIN, AFSIM_BIN, "run", "--set", "env.agents=20", "--envs", "4",
              "--episodes", "1000000", "--policy", "greedy", "--backend", "cpu", "--out", path,
              "--quiet", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Episodes in the file (0 when it cannot be opened yet). */
static hsize_t episodes_in(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return 0;
    hsize_t n = H5Lexists(f, "runs/greedy/episode", H5P_DEFAULT) > 0 ? rows(f, "runs/greedy/episode") : 0;
    H5Fclose(f);
    return n;
}

static void wait_for_episodes(const char *path, hsize_t want)
{
    for (int i = 0; i < 400 && episodes_in(path) < want; i++)
        usleep(50000);
    cr_assert(episodes_in(path) >= want, "the run wrote fewer than %llu episodes in 20 s",
              (unsigned long long)want);
}

/* Every dataset of the run has the same rows, episodes count 0..n-1. */
static hsize_t check_consistent(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "the file does not open");
    hsize_t n = rows(f, "runs/greedy/episode");
    cr_assert(n >= 3);
    int64_t *ep = malloc(n * sizeof *ep);
    double *sr = malloc(n * sizeof *sr);
    read_all(f, "runs/greedy/episode", H5T_NATIVE_INT64, ep);
    read_all(f, "runs/greedy/success_rate", H5T_NATIVE_DOUBLE, sr);
    for (hsize_t i = 0; i < n; i++) {
        cr_assert_eq(ep[i], (int64_t)i);
        cr_assert(sr[i] >= 0.0 && sr[i] <= 1.0, "success rate %g", sr[i]);
    }
    for (int c = 0; c < afs_metric_column_count; c++) {
        char name[128];
        snprintf(name, sizeof name, "runs/greedy/%s", afs_metric_columns[c].name);
        hsize_t m = rows(f, name);
        cr_assert(m == n || m == n + 1, "%s has %llu rows, episode %llu", name,
                  (unsigned long long)m, (unsigned long long)n);
    }
    free(ep);
    free(sr);
    H5Fclose(f);
    return n;
}

Test(hdf5, a_run_killed_with_sigkill_leaves_a_readable_file, .timeout = 60)
{
    char path[512];
    path_in(path, sizeof path, "killed.h5");
    pid_t pid = start_long_run(path);
    wait_for_episodes(path, 3);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    unsetenv("HDF5_USE_FILE_LOCKING"); /* the writer is gone: a plain open */
    check_consistent(path);
    if (access("/usr/bin/python3", X_OK) == 0 &&
        system("/usr/bin/python3 -c 'import h5py' 2>/dev/null") == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import h5py; f = h5py.File('%s', 'r'); "
                 "assert len(f['runs/greedy/episode']) >= 3\"", path);
        cr_assert_eq(system(cmd), 0, "h5py cannot read the killed run's file");
    } else {
        cr_log_info("h5py not installed: checked with the HDF5 C library only");
    }
}

Test(hdf5, sigterm_stops_after_the_episode_and_closes_the_file, .timeout = 60)
{
    char path[512];
    path_in(path, sizeof path, "term.h5");
    pid_t pid = start_long_run(path);
    wait_for_episodes(path, 3);
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 130, "status %d", status);
    unsetenv("HDF5_USE_FILE_LOCKING");
    hsize_t n = check_consistent(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    for (int c = 0; c < afs_metric_column_count; c++) {
        char name[128];
        snprintf(name, sizeof name, "runs/greedy/%s", afs_metric_columns[c].name);
        cr_assert_eq(rows(f, name), n, "a clean stop leaves no half-written row");
    }
    H5Fclose(f);
}

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
