/* `afsim sweep` and `afsim merge` against hostile input (issue 23): shard
 * numbers that do not fit, lists of the sweep file that a profile
 * replaces, outputs that are not regular files, finished points of
 * another configuration, a run of another shard count on the same folder.
 * tests/scripts/test_sweep.sh checks the ordinary flows; tests/test_crash.c
 * kills sweeps and fills the disk under them. */
#define _GNU_SOURCE /* mkdtemp */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "host/outlock.h"
#include "host/sweep.h"

static char dir[] = "/tmp/afsim-sweep-XXXXXX";

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
    /* inside a Slurm array job, these would pick the shards */
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_MIN");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void remove_dir(void)
{
    char cmd[128]; /* FIFOs, links and folders the tests leave */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(sweeps, .init = make_dir, .fini = remove_dir);

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static void write_text(const char *name, const char *text)
{
    char path[512];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* 2 x 2 x 2 = 8 points of heuristics, a few milliseconds each. */
static const char grid[] = "[sweep]\n"
                           "env.agents = 3, 4\n"
                           "methods = greedy, random\n"
                           "seeds = 2\n"
                           "eval_episodes = 1\n"
                           "[env]\n"
                           "slots = 2\n"
                           "[run]\n"
                           "envs = 1\n";

/* Runs afsim with `args` (words split at blanks) in dir, stdout and stderr
 * into dir/NAME.out; the exit status (128 + signal when killed). */
static int afsim(const char *name, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && exec timeout -s KILL 60 '%s' %s > %s.out 2>&1", dir,
             AFSIM_BIN, args, name);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *output_of(const char *name)
{
    static char text[16384];
    char path[512], file[64];
    snprintf(file, sizeof file, "%s.out", name);
    path_in(path, sizeof path, file);
    text[0] = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        text[fread(text, 1, sizeof text - 1, f)] = 0;
        fclose(f);
    }
    return text;
}

/* ---- Item 7: shard numbers ---- */

Test(sweeps, shard_numbers_are_whole_and_fit)
{
    int i = -1, of = -1;
    char err[512];
    cr_assert_eq(afs_sweep_shard("2/4", NULL, NULL, NULL, &i, &of, err, sizeof err), 0, "%s", err);
    cr_assert(i == 2 && of == 4);
    cr_assert_eq(afs_sweep_shard("2147483646/2147483647", NULL, NULL, NULL, &i, &of, err,
                                 sizeof err), 0, "%s", err);
    cr_assert(i == 2147483646 && of == 2147483647);
    /* 99999999999 does not fit an int: it wrapped to 1215752191 and ran */
    static const char *const bad[] = {"1/99999999999", "99999999999/1", "4/4", "-1/4", "1/0",
                                      "1/4x", "1/", "/4", "a/4", "1.5/4", "14"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        err[0] = 0;
        cr_assert_eq(afs_sweep_shard(bad[k], NULL, NULL, NULL, &i, &of, err, sizeof err), -1,
                     "--shard %s was taken as %d/%d", bad[k], i, of);
        cr_assert(strstr(err, bad[k]) && strstr(err, "I/N"), "%s", err);
    }
    /* Slurm: task 3 of an array 1-4 is shard 2 of 4; --shard wins */
    cr_assert_eq(afs_sweep_shard(NULL, "3", "1", "4", &i, &of, err, sizeof err), 0, "%s", err);
    cr_assert(i == 2 && of == 4);
    cr_assert_eq(afs_sweep_shard("0/2", "3", "1", "4", &i, &of, err, sizeof err), 0);
    cr_assert(i == 0 && of == 2);
    cr_assert_eq(afs_sweep_shard(NULL, NULL, NULL, NULL, &i, &of, err, sizeof err), 0);
    cr_assert(i == 0 && of == 1);
    /* "abc" was read as task 0 by atoi */
    static const char *const slurm[][3] = {{"abc", NULL, "3"}, {"1", "x", "3"}, {"1", NULL, "3z"},
                                           {"1", NULL, "0"}, {"99999999999", NULL, "3"},
                                           {"3", NULL, "3"}, {"0", "1", "3"}};
    for (size_t k = 0; k < sizeof slurm / sizeof *slurm; k++) {
        err[0] = 0;
        cr_assert_eq(afs_sweep_shard(NULL, slurm[k][0], slurm[k][1], slurm[k][2], &i, &of, err,
                                     sizeof err), -1, "task %s min %s count %s was taken as %d/%d",
                     slurm[k][0], slurm[k][1] ? slurm[k][1] : "unset", slurm[k][2], i, of);
        cr_assert(strstr(err, "SLURM_ARRAY_TASK") && strstr(err, "--shard I/N"), "%s", err);
    }
    cr_assert_eq(afs_sweep_shard(NULL, "abc", NULL, "3", &i, &of, err, sizeof err), -1);
    cr_assert(strstr(err, "SLURM_ARRAY_TASK_ID='abc'"), "%s", err);
}

Test(sweeps, bad_shards_exit_2_before_anything_runs, .timeout = 60)
{
    write_text("grid.ini", grid);
    cr_assert_eq(afsim("big", "sweep grid.ini --shard 1/99999999999 --out big"), 2, "%s",
                 output_of("big"));
    cr_assert(strstr(output_of("big"), "--shard 1/99999999999"), "%s", output_of("big"));
    setenv("SLURM_ARRAY_TASK_ID", "abc", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
    cr_assert_eq(afsim("abc", "sweep grid.ini --out abc2"), 2, "%s", output_of("abc"));
    cr_assert(strstr(output_of("abc"), "SLURM_ARRAY_TASK_ID='abc'"), "%s", output_of("abc"));
    char path[512];
    path_in(path, sizeof path, "big");
    cr_assert_neq(access(path, F_OK), 0, "a refused sweep made its folder");
    path_in(path, sizeof path, "abc2");
    cr_assert_neq(access(path, F_OK), 0, "a refused sweep made its folder");
}

/* ---- Item 10: every list of the file ---- */

static int load(const char *text, const char *profile, char *err, size_t n)
{
    char path[512];
    write_text("s.ini", text);
    path_in(path, sizeof path, "s.ini");
    afs_sweep *s = malloc(sizeof *s);
    cr_assert_not_null(s);
    err[0] = 0;
    int rc = afs_sweep_load(s, path, profile, NULL, 0, err, n);
    free(s);
    return rc;
}

Test(sweeps, every_list_of_the_file_is_checked_used_or_not)
{
    char err[2048];
    /* the control: a valid file with a profile that replaces the list */
    cr_assert_eq(load("[sweep]\nenv.agents = 3, 4\nmethods = greedy, esdrl\n"
                      "[profile.fast]\nsweep.methods = greedy\n", "fast", err, sizeof err), 0,
                 "%s", err);
    /* the file's methods, replaced by the profile's */
    cr_assert_eq(load("[sweep]\nenv.agents = 3, 4\nmethods = greedy, esdlr\n"
                      "[profile.fast]\nsweep.methods = greedy\n", "fast", err, sizeof err), -1);
    cr_assert(strstr(err, "s.ini:3") && strstr(err, "'esdlr'"), "%s", err);
    /* a swept value that the profile's list replaces */
    cr_assert_eq(load("[sweep]\nenv.agents = 3, 0\nmethods = greedy\n"
                      "[profile.fast]\nsweep.env.agents = 3\n", "fast", err, sizeof err), -1);
    cr_assert(strstr(err, "s.ini:2") && strstr(err, "env.agents") && strstr(err, "'0'"), "%s", err);
    /* a profile not applied: its keys and its lists */
    cr_assert_eq(load("[sweep]\nenv.agents = 3\nmethods = greedy\n"
                      "[profile.full]\nenv.slotz = 30\n", NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "s.ini:5") && strstr(err, "env.slotz"), "%s", err);
    cr_assert_eq(load("[sweep]\nenv.agents = 3\nmethods = greedy\n"
                      "[profile.full]\nsweep.methods = greedy, gredy\n", NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "s.ini:5") && strstr(err, "'gredy'"), "%s", err);
    cr_assert_eq(load("[sweep]\nenv.agents = 3\nmethods = greedy\n[profile.a]\n"
                      "sweep.env.slots = 2\n[profile.full]\nsweep.env.agents = 3, -4\n", "a", err,
                      sizeof err), -1);
    cr_assert(strstr(err, "s.ini:7") && strstr(err, "'-4'"), "%s", err);
    /* a profile's own swept keys never add up with another profile's */
    cr_assert_eq(load("[sweep]\nenv.agents = 3\nmethods = greedy\n"
                      "[profile.a]\nsweep.env.slots = 2\nsweep.run.envs = 1\n"
                      "sweep.env.mu_max = 1\nsweep.train.episodes = 1\n"
                      "[profile.b]\nsweep.env.slots = 2\nsweep.run.envs = 1\n", NULL, err,
                      sizeof err), 0, "%s", err);
}

/* ---- Item 16: --check lists the points ---- */

Test(sweeps, check_lists_the_points_of_the_shard, .timeout = 60)
{
    write_text("grid.ini", grid);
    cr_assert_eq(afsim("check", "sweep grid.ini --check --shard 1/3"), 0, "%s", output_of("check"));
    /* p = (agents index x 2 methods + method) x 2 seeds + seed: shard 1 of 3
     * holds p = 1, 4, 7 (run.seed 1 by default) */
    const char *out = output_of("check");
    cr_assert(strstr(out, "p000001  env.agents=3 method=greedy seed=2\n"), "%s", out);
    cr_assert(strstr(out, "p000004  env.agents=4 method=greedy seed=1\n"), "%s", out);
    cr_assert(strstr(out, "p000007  env.agents=4 method=random seed=2\n"), "%s", out);
    cr_assert_null(strstr(out, "p000000"), "%s", out);
    cr_assert_null(strstr(out, "p000002"), "%s", out);
}

/* ---- Item 1: outputs that are not regular files ---- */

static int is_fifo(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISFIFO(st.st_mode);
}

Test(sweeps, merge_replaces_only_a_regular_file, .timeout = 60)
{
    write_text("grid.ini", grid);
    cr_assert_eq(afsim("run", "sweep grid.ini --backend cpu --quiet --out s"), 0, "%s",
                 output_of("run"));
    char shard[512], out[512], err[2048], link_to[512];
    path_in(shard, sizeof shard, "s/shard-0-of-1.h5");
    char *inputs[1] = {shard};
    /* a FIFO, a link to a device, a link to nothing, a folder: --force or not */
    path_in(out, sizeof out, "fifo.h5");
    cr_assert_eq(mkfifo(out, 0600), 0);
    for (int force = 0; force < 2; force++) {
        cr_assert_eq(afs_sweep_merge(out, force, inputs, 1, err, sizeof err), -1);
        cr_assert(strstr(err, out) && strstr(err, "not a regular file"), "%s", err);
        cr_assert(is_fifo(out), "merge --force replaced the FIFO");
    }
    path_in(out, sizeof out, "null.h5");
    cr_assert_eq(symlink("/dev/null", out), 0);
    cr_assert_eq(afs_sweep_merge(out, 1, inputs, 1, err, sizeof err), -1);
    cr_assert(strstr(err, "not a regular file"), "%s", err);
    cr_assert_gt(readlink(out, link_to, sizeof link_to), 0, "the link was replaced");
    path_in(out, sizeof out, "gone.h5");
    cr_assert_eq(symlink("/nonexistent/afsim", out), 0);
    cr_assert_eq(afs_sweep_merge(out, 1, inputs, 1, err, sizeof err), -1);
    cr_assert_gt(readlink(out, link_to, sizeof link_to), 0, "the link was replaced");
    path_in(out, sizeof out, "folder.h5");
    cr_assert_eq(mkdir(out, 0700), 0);
    cr_assert_eq(afs_sweep_merge(out, 1, inputs, 1, err, sizeof err), -1);
    cr_assert(strstr(err, "is a directory"), "%s", err);
    /* an input that is a FIFO: refused, not waited on */
    path_in(out, sizeof out, "merged.h5");
    path_in(link_to, sizeof link_to, "fifo.h5");
    char *fifo_in[1] = {link_to};
    cr_assert_eq(afs_sweep_merge(out, 0, fifo_in, 1, err, sizeof err), -1);
    cr_assert(strstr(err, "not a regular file"), "%s", err);
    /* the control: a regular file, replaced with --force only */
    write_text("merged.h5", "old");
    cr_assert_eq(afs_sweep_merge(out, 0, inputs, 1, err, sizeof err), -1);
    cr_assert(strstr(err, "already exists") && strstr(err, "--force"), "%s", err);
    cr_assert_eq(afs_sweep_merge(out, 1, inputs, 1, err, sizeof err), 0, "%s", err);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0, "the merged file is not HDF5");
    hsize_t count = 0;
    hid_t g = H5Gopen2(f, "points", H5P_DEFAULT);
    cr_assert_geq(g, 0);
    H5Gget_num_objs(g, &count);
    cr_assert_eq(count, 8, "%llu points of 8", (unsigned long long)count);
    H5Gclose(g);
    H5Fclose(f);
}

Test(sweeps, the_sweep_folder_and_its_files_must_be_regular, .timeout = 120)
{
    write_text("grid.ini", grid);
    write_text("plain", "a file, not a folder");
    cr_assert_eq(afsim("file", "sweep grid.ini --backend cpu --quiet --out plain"), 1);
    cr_assert(strstr(output_of("file"), "plain exists and is not a folder"), "%s",
              output_of("file"));
    /* a FIFO where a finished point's file goes: H5Fopen would wait on it
     * for ever; renaming over it would replace it */
    char path[512], victim[512];
    path_in(path, sizeof path, "s");
    cr_assert_eq(mkdir(path, 0700), 0);
    path_in(path, sizeof path, "s/points");
    cr_assert_eq(mkdir(path, 0700), 0);
    path_in(path, sizeof path, "s/points/p000003.h5");
    cr_assert_eq(mkfifo(path, 0600), 0);
    cr_assert_eq(afsim("fifo", "sweep grid.ini --backend cpu --quiet --out s"), 1, "%s",
                 output_of("fifo"));
    cr_assert(strstr(output_of("fifo"), "p000003.h5 is not a regular file"), "%s",
              output_of("fifo"));
    cr_assert(is_fifo(path));
    cr_assert_eq(unlink(path), 0);
    /* the shard file's path, a FIFO: never replaced */
    path_in(path, sizeof path, "s/shard-0-of-1.h5");
    cr_assert_eq(mkfifo(path, 0600), 0);
    cr_assert_eq(afsim("shard", "sweep grid.ini --backend cpu --quiet --out s"), 1, "%s",
                 output_of("shard"));
    cr_assert(strstr(output_of("shard"), "not a regular file"), "%s", output_of("shard"));
    cr_assert(is_fifo(path));
    cr_assert_eq(unlink(path), 0);
    /* a lock file linked to another file: never truncated nor written */
    write_text("victim", "precious");
    path_in(victim, sizeof victim, "victim");
    path_in(path, sizeof path, "s/shard-0-of-1.h5.lock");
    cr_assert_eq(symlink(victim, path), 0);
    cr_assert_eq(afsim("lock", "sweep grid.ini --backend cpu --quiet --out s"), 1);
    cr_assert(strstr(output_of("lock"), "lock file"), "%s", output_of("lock"));
    FILE *f = fopen(victim, "r");
    char text[32] = "";
    cr_assert(f && fgets(text, sizeof text, f));
    fclose(f);
    cr_assert_str_eq(text, "precious");
    cr_assert_eq(unlink(path), 0);
    /* a FIFO for sweep.id: refused, not waited on */
    path_in(path, sizeof path, "s/sweep.id");
    unlink(path);
    cr_assert_eq(mkfifo(path, 0600), 0);
    cr_assert_eq(afsim("id", "sweep grid.ini --backend cpu --quiet --out s"), 1);
    cr_assert(strstr(output_of("id"), "sweep.id is not a regular file"), "%s", output_of("id"));
    cr_assert_eq(unlink(path), 0);
    /* the control: with the folder clean, the sweep runs */
    cr_assert_eq(afsim("clean", "sweep grid.ini --backend cpu --quiet --out s"), 0, "%s",
                 output_of("clean"));
}

/* ---- Item 6: a finished point is the point it claims to be ---- */

/* An integer attribute of /points/NAME of a shard file, or the run group
 * that NAME holds (run: "runs/greedy"): 1 when there. */
static long long point_attr(const char *shard, const char *name, const char *attr)
{
    hid_t f = H5Fopen(shard, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0, "%s", shard);
    char path[128];
    snprintf(path, sizeof path, "points/%s", name);
    hid_t g = H5Gopen2(f, path, H5P_DEFAULT);
    cr_assert_geq(g, 0, "%s: no %s", shard, path);
    long long v = -1;
    if (!strncmp(attr, "runs/", 5)) {
        v = H5Lexists(g, "runs", H5P_DEFAULT) > 0 && H5Lexists(g, attr, H5P_DEFAULT) > 0;
    } else {
        hid_t a = H5Aopen(g, attr, H5P_DEFAULT);
        cr_assert_geq(a, 0, "%s: no attribute %s", path, attr);
        H5Aread(a, H5T_NATIVE_LLONG, &v);
        H5Aclose(a);
    }
    H5Gclose(g);
    H5Fclose(f);
    return v;
}

static void copy_file(const char *from, const char *to)
{
    char a[512], b[512], cmd[1200];
    path_in(a, sizeof a, from);
    path_in(b, sizeof b, to);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", a, b);
    cr_assert_eq(system(cmd), 0);
}

Test(sweeps, a_finished_point_that_is_not_this_sweeps_runs_again, .timeout = 120)
{
    char shard[512], id[512];
    write_text("grid.ini", grid);
    path_in(shard, sizeof shard, "s/shard-0-of-1.h5");
    path_in(id, sizeof id, "s/sweep.id");
    cr_assert_eq(afsim("a", "sweep grid.ini --backend cpu --quiet --out s"), 0, "%s",
                 output_of("a"));
    cr_assert_eq(point_attr(shard, "p000005", "env.slots"), 2);
    /* sweep.id removed, the sweep changed: every point runs again */
    cr_assert_eq(unlink(id), 0);
    cr_assert_eq(afsim("b", "sweep grid.ini --backend cpu --quiet --out s --set env.slots=3"), 0,
                 "%s", output_of("b"));
    const char *out = output_of("b");
    cr_assert(strstr(out, "p000005.h5 was made with env.slots = 2") &&
              strstr(out, "has 3: moved to"), "%s", out);
    for (int p = 0; p < 8; p++) {
        char name[16];
        snprintf(name, sizeof name, "p%06d", p);
        cr_assert_eq(point_attr(shard, name, "env.slots"), 3, "%s kept the old configuration",
                     name);
    }
    /* a point copied over another: p000002 (random, seed 1) over p000000
     * (greedy, seed 1), the same configuration but the method; p000001
     * (greedy, seed 2) over p000004 (agents 4, greedy, seed 1) */
    copy_file("s/points/p000002.h5", "s/points/p000000.h5");
    copy_file("s/points/p000001.h5", "s/points/p000004.h5");
    cr_assert_eq(afsim("c", "sweep grid.ini --backend cpu --quiet --out s --set env.slots=3"), 0,
                 "%s", output_of("c"));
    out = output_of("c");
    cr_assert(strstr(out, "p000000.h5 holds no run greedy"), "%s", out);
    /* run.seed comes before env.agents in the table: the first difference */
    cr_assert(strstr(out, "p000004.h5 was made with run.seed = 2"), "%s", out);
    cr_assert_null(strstr(out, "p000001.h5"), "a point of its own was run again: %s", out);
    cr_assert_eq(point_attr(shard, "p000000", "runs/greedy"), 1);
    cr_assert_eq(point_attr(shard, "p000000", "runs/random"), 0);
    cr_assert_eq(point_attr(shard, "p000004", "env.agents"), 4);
    cr_assert_eq(point_attr(shard, "p000004", "run.seed"), 1);
    /* a point of another sweep's folder, at the same index */
    cr_assert_eq(afsim("d", "sweep grid.ini --backend cpu --quiet --out t --set env.slots=4"), 0,
                 "%s", output_of("d"));
    copy_file("t/points/p000006.h5", "s/points/p000006.h5");
    cr_assert_eq(afsim("e", "sweep grid.ini --backend cpu --quiet --out s --set env.slots=3"), 0,
                 "%s", output_of("e"));
    cr_assert(strstr(output_of("e"), "p000006.h5 was made with env.slots = 4"), "%s",
              output_of("e"));
    cr_assert_eq(point_attr(shard, "p000006", "env.slots"), 3);
}

/* ---- Item 13: two sweeps on one folder ---- */

Test(sweeps, a_run_of_another_shard_count_on_the_folder_is_refused, .timeout = 120)
{
    char path[512], lock_path[512], err[1024];
    write_text("grid.ini", grid);
    path_in(path, sizeof path, "s");
    cr_assert_eq(mkdir(path, 0700), 0);
    /* This process plays a running `--shard 0/1`: the folder's lock on
     * byte N = 1 (shared by shards of one N), and its shard's lock. */
    path_in(lock_path, sizeof lock_path, "s/sweep.lock");
    int fd = open(lock_path, O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    struct flock mine = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 1, .l_len = 1};
    cr_assert_eq(fcntl(fd, F_SETLK, &mine), 0, "%s", strerror(errno));
    afs_outlock held;
    path_in(path, sizeof path, "s/shard-0-of-1.h5");
    cr_assert_eq(afs_outlock_take(&held, path, "the test's sweep --shard 0/1", err, sizeof err), 0,
                 "%s", err);
    /* another N: refused at once, naming the run */
    cr_assert_eq(afsim("two", "sweep grid.ini --backend cpu --quiet --out s --shard 1/2"), 1);
    const char *out = output_of("two");
    cr_assert(strstr(out, "being swept by another run") && strstr(out, "the test's sweep") &&
              strstr(out, "N = 2"), "%s", out);
    path_in(path, sizeof path, "s/points/p000001.h5");
    cr_assert_neq(access(path, F_OK), 0, "the refused run ran a point");
    /* the same shard: refused by its shard lock */
    cr_assert_eq(afsim("same", "sweep grid.ini --backend cpu --quiet --out s --shard 0/1"), 1);
    cr_assert(strstr(output_of("same"), "the test's sweep"), "%s", output_of("same"));
    /* without the shard lock's description, the pid names it */
    afs_outlock_drop(&held);
    cr_assert_eq(afsim("pid", "sweep grid.ini --backend cpu --quiet --out s --shard 0/3"), 1);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    cr_assert(strstr(output_of("pid"), pid), "%s", output_of("pid"));
    /* shards of the same N go on beside it */
    cr_assert_eq(afsim("share", "sweep grid.ini --backend cpu --quiet --out s --shard 0/1"), 0,
                 "%s", output_of("share"));
    close(fd);
    cr_assert_eq(afsim("free", "sweep grid.ini --backend cpu --quiet --out s --shard 1/2"), 0,
                 "%s", output_of("free"));
}
