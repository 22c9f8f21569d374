/* Runs disturbed from outside, as an unlucky operator's would be: killed
 * with SIGKILL at random moments (hundreds of times, with sub-millisecond
 * episodes so that kills land inside an episode's writes), stopped by one
 * or two signals, given an output that another run holds, a disk that
 * fills up, a results file deleted or replaced under them. In every case
 * the results file must hold exactly its finished episodes, as
 * docs/output.md promises (test_check_results), and the exit status and
 * message must say what happened.
 *
 * The crash test is a table of scenarios (command lines of afsim): the
 * training and sweep commands of later issues add theirs. */
#define _GNU_SOURCE /* mkdtemp, prctl, setenv */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

static char dir[] = "/tmp/afsim-crash-XXXXXX";

static void make_dir(void) { cr_assert_not_null(mkdtemp(dir)); }
static void remove_dir(void) { test_remove_dir(dir); }
TestSuite(crash, .init = make_dir, .fini = remove_dir);

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* How a run is started. */
typedef struct launch {
    const char *args;       /* afsim's arguments, shell words without quotes */
    const char *out;        /* --out */
    const char *env;        /* "NAME=VALUE" put in the run's environment, or NULL */
    long file_limit;        /* RLIMIT_FSIZE in bytes (a disk that fills), or 0 */
    const char *err;        /* file for its stderr; NULL: OUT.err */
} launch;

/* Starts afsim. Dies with the test. */
static pid_t start(const launch *l)
{
    char err_path[600], line[2048], *argv[64];
    if (l->err)
        snprintf(err_path, sizeof err_path, "%s", l->err);
    else
        snprintf(err_path, sizeof err_path, "%s.err", l->out);
    snprintf(line, sizeof line, "%s --out %s", l->args, l->out);
    int argc = 0;
    argv[argc++] = (char *)AFSIM_BIN;
    for (char *save = NULL, *w = strtok_r(line, " ", &save); w && argc < 62;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
            _exit(125);
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_WRONLY);
        if (fd < 0 || null < 0 || dup2(fd, 2) < 0 || dup2(null, 1) < 0)
            _exit(126);
        if (l->env)
            putenv((char *)l->env);
        if (l->file_limit) {
            struct rlimit r = {(rlim_t)l->file_limit, (rlim_t)l->file_limit};
            signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG */
            setrlimit(RLIMIT_FSIZE, &r);
        }
        execv(AFSIM_BIN, argv);
        _exit(127);
    }
    return pid;
}

/* What the run writing out (or, given a path ending in .err, that file)
 * wrote on stderr. */
static const char *stderr_of(const char *out)
{
    static char text[8192];
    char err_path[600];
    size_t len = strlen(out);
    snprintf(err_path, sizeof err_path, len > 4 && !strcmp(out + len - 4, ".err") ? "%s" : "%s.err", out);
    text[0] = 0;
    FILE *f = fopen(err_path, "r");
    if (f) {
        size_t got = fread(text, 1, sizeof text - 1, f);
        text[got] = 0;
        fclose(f);
    }
    return text;
}

/* test_check_results in a child process (a damaged file must not take the
 * test down with HDF5): finished episodes, -1 for no run, -2 bad (why),
 * -3 when the file does not exist. */
static int check_in_child(const char *path, int exact, char *why, size_t n)
{
    if (access(path, F_OK) != 0)
        return -3;
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char text[512] = "";
        /* A file still being written is locked by HDF5 against readers. */
        setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
        int r = test_check_results(path, exact, text, sizeof text);
        if (write(fds[1], &r, sizeof r) != sizeof r || write(fds[1], text, sizeof text) < 0)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    int r = -2, status;
    snprintf(why, n, "the check crashed on %s", path);
    if (read(fds[0], &r, sizeof r) == sizeof r) {
        char text[512];
        if (read(fds[0], text, sizeof text) == sizeof text)
            snprintf(why, n, "%s", text);
    } else {
        r = -2;
    }
    close(fds[0]);
    waitpid(pid, &status, 0);
    return r;
}

/* Finished episodes of the file a run is writing (0 until it exists). */
static int finished_now(const char *path)
{
    char why[512];
    int r = check_in_child(path, 0, why, sizeof why);
    return r < 0 ? 0 : r;
}

/* A run killed by a signal leaves LLVM's OpenMP runtime registered in
 * /dev/shm (the sanitizer build's: it removes the file at exit), and a
 * later process given the same pid would stop with "OMP: Error #15 ...
 * already initialized": the killer removes it. No such file elsewhere. */
static void forget_killed(pid_t pid)
{
    char path[96];
    snprintf(path, sizeof path, "/dev/shm/__KMP_REGISTERED_LIB_%d_%d", (int)pid, (int)getuid());
    unlink(path);
}

/* Waits until the run has finished `want` episodes (20 s at most); it must
 * still be going. */
static void wait_for(pid_t pid, const char *out, int want)
{
    double end = now_s() + 20.0;
    int have = 0, status;
    while ((have = finished_now(out)) < want && now_s() < end) {
        cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "the run ended early (status %d): %s",
                     status, stderr_of(out));
        usleep(5000);
    }
    if (have < want) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        forget_killed(pid);
    }
    cr_assert_geq(have, want, "%d of %d episodes in 20 s: %s", have, want, stderr_of(out));
}

static int exit_status(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        forget_killed(pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- The crash test ---- */

/* A scenario: a command to kill, how many times, and the longest delay of
 * a kill after the results file appears (a fifth of the kills come instead
 * at any moment of the first 200 ms: the creation itself). */
typedef struct scenario {
    const char *name, *args;
    int max_delay_ms, kills;
} scenario;

static const scenario scenarios[] = {
    /* Episodes of one slot of one small environment: well under a
     * millisecond of simulation, so most kills land in the writes. */
    {"sub-millisecond episodes", "run --set env.agents=2 --envs 1 --set env.slots=1 "
     "--episodes 1000000 --policy greedy,random --backend cpu --quiet", 40, 120},
    /* The trace: records written before their episode is finished. */
    {"episodes with a trace", "run --set env.agents=3 --envs 2 --set env.slots=2 "
     "--episodes 1000000 --policy random --trace --backend cpu --quiet", 40, 50},
};

static int have_h5py(void)
{
    return access("/usr/bin/python3", X_OK) == 0 &&
           system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") == 0;
}

/* Every kill leaves either no file (killed before it was created) or one
 * that holds exactly its finished episodes; after the last kill the output
 * is free again (the lock died with its run). */
static void kill_many(const scenario *sc, int h5py)
{
    char out[512], why[512];
    unsigned seed = 12345;
    int files = 0;
    /* AFSIM_CRASH_SCALE=N multiplies the kills (a longer run by hand). */
    const char *scale = getenv("AFSIM_CRASH_SCALE");
    int kills = sc->kills * (scale && atoi(scale) > 0 ? atoi(scale) : 1);
    for (int k = 0; k < kills; k++) {
        char name[64];
        snprintf(name, sizeof name, "kill-%d.h5", k);
        path_in(out, sizeof out, name);
        launch l = {sc->args, out, NULL, 0, NULL};
        pid_t pid = start(&l);
        int st = -1;
        if (k % 5) { /* after the file appears */
            double end = now_s() + 10.0;
            while (access(out, F_OK) != 0 && now_s() < end && waitpid(pid, &st, WNOHANG) == 0)
                usleep(500);
            cr_assert_eq(st, -1, "%s, kill %d: the run ended by itself (status %d): %s", sc->name, k,
                         st, stderr_of(out));
            usleep((useconds_t)(rand_r(&seed) % (sc->max_delay_ms * 1000 + 1)));
        } else {
            usleep((useconds_t)(rand_r(&seed) % 200001));
        }
        cr_assert_eq(kill(pid, SIGKILL), 0);
        st = exit_status(pid);
        cr_assert(st == 128 + SIGKILL || st == 0, "%s: status %d: %s", sc->name, st, stderr_of(out));
        int r = check_in_child(out, 0, why, sizeof why);
        cr_assert(r >= -1 || r == -3, "%s, kill %d: %s", sc->name, k, why);
        if (r >= -1)
            files++;
        if (h5py && r >= -1 && k % 15 == 0) {
            char cmd[1024];
            snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import h5py; f = h5py.File('%s', 'r'); "
                     "assert all(len(g['episode']) >= g.attrs['finished']['episodes'] for g in f['runs'].values())\"",
                     out);
            cr_assert_eq(system(cmd), 0, "%s: h5py cannot read %s", sc->name, out);
        }
        unlink(out);
    }
    cr_assert_gt(files, kills / 2, "%s: only %d of %d kills came after the file was created",
                 sc->name, files, kills);
    fprintf(stderr, "crash test: %s: %d kills, %d files checked\n", sc->name, kills, files);
    /* The last run's lock died with it: a new run takes the output. */
    launch again = {"run --set env.agents=2 --envs 1 --episodes 2 --backend cpu --quiet --force",
                    out, NULL, 0, NULL};
    cr_assert_eq(exit_status(start(&again)), 0, "%s: %s", sc->name, stderr_of(out));
    cr_assert_eq(check_in_child(out, 1, why, sizeof why), 2, "%s", why);
}

Test(crash, killed_at_random_moments_every_file_holds_its_finished_episodes, .timeout = 300)
{
    int h5py = have_h5py();
    if (!h5py)
        fprintf(stderr, "crash test: h5py not installed, files checked with the HDF5 C library only\n");
    for (size_t s = 0; s < sizeof scenarios / sizeof *scenarios; s++)
        kill_many(&scenarios[s], h5py);
}

/* ---- Stopped by signals ---- */

static const char *long_episodes =
    "run --set env.agents=50 --envs 4 --set env.slots=10000000 --episodes 3 --policy greedy "
    "--backend cpu --quiet";
static const char *short_episodes =
    "run --set env.agents=20 --envs 4 --episodes 100000 --policy greedy --backend cpu --quiet";

/* SIGINT, SIGTERM, SIGHUP: after the episode under way, the file closed
 * cleanly (every dataset exactly its finished rows), exit 130. */
Test(crash, one_signal_stops_after_the_episode, .timeout = 90)
{
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int k = 0; k < 3; k++) {
        char out[512], why[512], name[32];
        snprintf(name, sizeof name, "stopped-%d.h5", k);
        path_in(out, sizeof out, name);
        launch l = {short_episodes, out, NULL, 0, NULL};
        pid_t pid = start(&l);
        wait_for(pid, out, 3);
        cr_assert_eq(kill(pid, sigs[k]), 0);
        int st = exit_status(pid);
        const char *err = stderr_of(out);
        cr_assert_eq(st, 130, "%s: status %d: %s", strsignal(sigs[k]), st, err);
        cr_assert(strstr(err, "stopped by a signal") && strstr(err, out), "%s", err);
        int n = check_in_child(out, 1, why, sizeof why);
        cr_assert(n >= 3 && n < 100000, "%s: %d: %s", strsignal(sigs[k]), n, why);
        char lock[600];
        snprintf(lock, sizeof lock, "%s.lock", out);
        cr_assert_neq(access(lock, F_OK), 0, "the lock file is left behind");
    }
}

/* A second signal stops at once: an episode of 10 million slots would run
 * for minutes; the run must end within seconds, its file holding the
 * finished episodes (none here) and not the one under way. */
Test(crash, a_second_signal_stops_at_once, .timeout = 60)
{
    char out[512], why[512];
    path_in(out, sizeof out, "second.h5");
    launch l = {long_episodes, out, NULL, 0, NULL};
    pid_t pid = start(&l);
    double end = now_s() + 20.0;
    while (access(out, F_OK) != 0 && now_s() < end)
        usleep(5000);
    cr_assert_eq(access(out, F_OK), 0, "the run did not start: %s", stderr_of(out));
    usleep(300000); /* into the first episode (a signal before it stops the run at once) */
    cr_assert_eq(kill(pid, SIGINT), 0);
    usleep(200000);
    cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "one signal must let the episode finish");
    double t0 = now_s();
    cr_assert_eq(kill(pid, SIGINT), 0);
    int st = exit_status(pid);
    cr_assert_lt(now_s() - t0, 5.0, "the second signal took %.1f s to stop the run", now_s() - t0);
    const char *err = stderr_of(out);
    cr_assert(st == 130 && strstr(err, "second"), "status %d: %s", st, err);
    cr_assert_eq(check_in_child(out, 1, why, sizeof why), 0, "%s", why);
}

/* ---- The output belongs to its run ---- */

/* A second run on the output of one still going is refused, --force or not,
 * with HDF5's own file locking on or off, and names the first; the first
 * goes on untouched and ends well. */
Test(crash, a_second_run_cannot_take_a_running_runs_output, .timeout = 90)
{
    const char *locking[] = {NULL, "HDF5_USE_FILE_LOCKING=FALSE"};
    for (int k = 0; k < 2; k++) {
        char out[512], why[512], name[32], args[512];
        snprintf(name, sizeof name, "owned-%d.h5", k);
        path_in(out, sizeof out, name);
        launch first = {short_episodes, out, locking[k], 0, NULL};
        pid_t pid = start(&first);
        wait_for(pid, out, 2);
        for (int force = 0; force < 2; force++) {
            char err_path[600];
            snprintf(args, sizeof args, "run --episodes 5 --backend cpu --quiet%s",
                     force ? " --force" : "");
            snprintf(err_path, sizeof err_path, "%s.second.err", out);
            launch second = {args, out, locking[k], 0, err_path};
            int st = exit_status(start(&second));
            const char *err = stderr_of(err_path);
            char pid_text[32];
            snprintf(pid_text, sizeof pid_text, "pid %ld", (long)pid);
            cr_assert(st == 1 && strstr(err, "another run still going") && strstr(err, pid_text),
                      "force %d: status %d: %s", force, st, err);
            cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "the first run stopped");
        }
        cr_assert_eq(kill(pid, SIGTERM), 0);
        cr_assert_eq(exit_status(pid), 130);
        int n = check_in_child(out, 1, why, sizeof why);
        cr_assert_geq(n, 2, "the first run's file: %s", why);
    }
}

/* ---- A disk that fills up; a file deleted or replaced ---- */

/* The file size limit makes a write fail as a full disk does (EFBIG for
 * ENOSPC): the run stops with exit 1 and the system's reason; the file
 * holds its finished episodes and not the failed one. */
Test(crash, a_full_disk_never_makes_a_failed_episode_look_finished, .timeout = 90)
{
    char out[512], why[512];
    path_in(out, sizeof out, "full.h5");
    launch l = {"run --set env.agents=5 --envs 2 --set env.slots=1 --episodes 200000 --trace "
                "--policy greedy --backend cpu --quiet", out, NULL, 3 << 20, NULL};
    int st = exit_status(start(&l));
    const char *err = stderr_of(out);
    cr_assert(st == 1 && strstr(err, "File too large") && strstr(err, out), "status %d: %s", st, err);
    int n = check_in_child(out, 0, why, sizeof why);
    cr_assert_gt(n, 0, "%s", why);
    /* Full from the start: the create fails, and nothing is left there. */
    path_in(out, sizeof out, "full-at-start.h5");
    /* 8 KiB: under what the file's creation writes, over the 1 KiB file
     * clang's OpenMP runtime makes at start. */
    launch tiny = {"run --episodes 2 --backend cpu --quiet", out, NULL, 8 << 10, NULL};
    st = exit_status(start(&tiny));
    err = stderr_of(out);
    cr_assert(st == 1 && strstr(err, "File too large"), "status %d: %s", st, err);
    cr_assert_neq(access(out, F_OK), 0, "a full disk at the start left a file behind");
    DIR *d = opendir(dir);
    for (struct dirent *e; (e = readdir(d));)
        cr_assert(!strstr(e->d_name, "afsim-new"), "left behind: %s", e->d_name);
    closedir(d);
}

/* A results file deleted, or replaced by another file, while the run writes
 * it: the run must not end with exit 0 and the path of a file that is not
 * its results. */
Test(crash, a_file_deleted_or_replaced_mid_run_is_an_error, .timeout = 90)
{
    for (int replace = 0; replace < 2; replace++) {
        char out[512], name[32];
        snprintf(name, sizeof name, "gone-%d.h5", replace);
        path_in(out, sizeof out, name);
        launch l = {short_episodes, out, NULL, 0, NULL};
        pid_t pid = start(&l);
        wait_for(pid, out, 2);
        if (replace) {
            char other[600];
            snprintf(other, sizeof other, "%s.other", out);
            FILE *f = fopen(other, "w");
            fputs("not afsim's", f);
            fclose(f);
            cr_assert_eq(rename(other, out), 0);
        } else {
            cr_assert_eq(unlink(out), 0);
        }
        cr_assert_eq(kill(pid, SIGTERM), 0);
        int st = exit_status(pid);
        const char *err = stderr_of(out);
        cr_assert(st == 1 && strstr(err, replace ? "was replaced" : "was deleted"),
                  "status %d: %s", st, err);
        cr_assert_null(strstr(err, "results:"), "%s", err);
    }
}

/* ---- Training killed and resumed ---- */

/* A training of tiny episodes (a checkpoint after each, with the replay),
 * killed at random moments and resumed from its checkpoint each time (or
 * started again when it died before the first), until it finishes. Every
 * file between the kills holds exactly its finished episodes; the end
 * result is the uninterrupted training's, bit for bit: no episode lost or
 * counted twice, no evaluation either. */
static const char *training =
    "train --algo esdrl --backend cpu --quiet --envs 2 --set env.agents=4 --set env.slots=6 "
    "--set train.warmup=16 --set esdrl.batch=16 --set esdrl.replay=prioritized "
    "--set train.replay_mib=1 --set train.eval_every=3 --set train.eval_episodes=2 "
    "--set train.checkpoint_every=1 --set train.checkpoint_replay=true --episodes 150";

/* Column `name` of /runs/<run> read in a child (the file may be damaged):
 * its first `rows` values into v; 0, or -1. */
static int column_in_child(const char *path, const char *run, const char *name, long long rows,
                           double *v)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char where[256];
        snprintf(where, sizeof where, "/runs/%s/%s", run, name);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d = f < 0 ? -1 : H5Dopen2(f, where, H5P_DEFAULT);
        hsize_t at = 0, cnt = (hsize_t)rows;
        hid_t fs = d < 0 ? -1 : H5Dget_space(d), ms = H5Screate_simple(1, &cnt, NULL);
        int ok = fs >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &cnt, NULL) >= 0 &&
                 H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, v) >= 0;
        if (!ok || write(fds[1], v, (size_t)rows * sizeof *v) < 0)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    size_t want = (size_t)rows * sizeof *v, got = 0;
    ssize_t r;
    while (got < want && (r = read(fds[0], (char *)v + got, want - got)) > 0)
        got += (size_t)r;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return got == want && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void same_curve(const char *ref, const char *got, const char *run, long long rows)
{
    static const char *const columns[] = {"episode", "return", "success_rate", "mean_cost",
                                          "critic_loss", "actor_loss", "td_abs", "replay_fill"};
    double *a = malloc((size_t)rows * sizeof *a), *b = malloc((size_t)rows * sizeof *b);
    for (size_t c = 0; c < sizeof columns / sizeof *columns; c++) {
        if (!strcmp(run, "eval") && c > 3)
            break; /* evaluations have no losses */
        cr_assert_eq(column_in_child(ref, run, columns[c], rows, a), 0, "%s/%s", run, columns[c]);
        cr_assert_eq(column_in_child(got, run, columns[c], rows, b), 0, "%s/%s", run, columns[c]);
        for (long long i = 0; i < rows; i++)
            cr_assert(!memcmp(&a[i], &b[i], sizeof a[i]), "/runs/%s/%s[%lld]: %.17g "
                      "uninterrupted, %.17g killed and resumed", run, columns[c], i, a[i], b[i]);
    }
    free(a);
    free(b);
}

/* Kills of the training below: the k-th comes once the results file holds
 * KILL_STRIDE * k finished episodes (the first at the start, before any
 * file), then after a random part of one episode's time, so that kills land
 * at every moment of an episode (its writes, its checkpoint) and the run
 * has KILL_STRIDE episodes' progress between two kills. The kills wait for
 * progress, not for a time, so all of them land before the training's 150
 * episodes on a fast machine as on a loaded one (timed kills let a run
 * slowed by load finish after 14). */
#define KILLS 25
#define KILL_STRIDE 4

Test(crash, a_training_killed_and_resumed_ends_as_the_uninterrupted_one, .timeout = 300)
{
    char ref[512], out[512], ckpt[600], why[512], args[2048];
    path_in(ref, sizeof ref, "train-ref.h5");
    path_in(out, sizeof out, "train-killed.h5");
    snprintf(ckpt, sizeof ckpt, "%.*s.ckpt.h5", (int)strlen(out) - 3, out);
    launch whole = {training, ref, NULL, 0, NULL};
    double t0 = now_s();
    cr_assert_eq(exit_status(start(&whole)), 0, "%s", stderr_of(ref));
    long episode_us = (long)((now_s() - t0) / 150.0 * 1e6) + 1;
    unsigned seed = 777;
    int kills = 0, resumes = 0, done = 0;
    for (int round = 0; !done && round < 200; round++) {
        int resume = access(ckpt, F_OK) == 0;
        if (resume)
            snprintf(args, sizeof args, "train --resume %s --backend cpu --quiet", ckpt);
        else
            snprintf(args, sizeof args, "%s --force", training);
        resumes += resume;
        launch l = {args, out, NULL, 0, NULL};
        pid_t pid = start(&l);
        int st = -1, status, ended = 0;
        if (round < KILLS) { /* then let it finish */
            double end = now_s() + 60.0;
            while (finished_now(out) < KILL_STRIDE * round && now_s() < end) {
                if ((ended = waitpid(pid, &status, WNOHANG) == pid))
                    break;
                usleep(1000);
            }
            cr_assert(ended || now_s() < end, "round %d: %d episodes after 60 s, %d wanted", round,
                      finished_now(out), KILL_STRIDE * round);
            if (!ended) {
                usleep((useconds_t)(rand_r(&seed) % (episode_us + 1)));
                ended = waitpid(pid, &status, WNOHANG) == pid;
            }
            if (ended) {
                st = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                if (WIFSIGNALED(status))
                    forget_killed(pid);
            } else {
                kill(pid, SIGKILL);
                kills++;
            }
        }
        if (st < 0)
            st = exit_status(pid);
        cr_assert(st == 0 || st == 128 + SIGKILL, "round %d: status %d: %s", round, st,
                  stderr_of(out));
        done = st == 0;
        int r = check_in_child(out, done, why, sizeof why);
        cr_assert(r >= -1 || r == -3, "round %d: %s", round, why);
    }
    cr_assert(done, "the training never finished");
    cr_assert_eq(kills, KILLS, "only %d of %d kills landed: the run ended before", kills, KILLS);
    fprintf(stderr, "crash test: training: %d kills, %d resumes from a checkpoint\n", kills,
            resumes);
    cr_assert_eq(check_in_child(out, 1, why, sizeof why), 150, "%s", why);
    same_curve(ref, out, "train", 150);
    /* evaluations after episodes 3, 6, ..., 150: 50 of 2 episodes */
    same_curve(ref, out, "eval", 100);
}

/* ---- Sweeps ---- */

/* A sweep of 8 points (2 sizes x greedy and ES-DRL x 2 seeds), about a
 * second in all, killed at random moments and run again until it
 * finishes: after every kill its shard file is whole (every point group
 * there has its runs), and the end holds every point once, each
 * evaluation the same, bit for bit, as the uninterrupted sweep's. */
static const char *sweep_text =
    "[sweep]\nenv.agents = 3, 5\nmethods = greedy, esdrl\nseeds = 2\neval_episodes = 2\n"
    "[run]\nenvs = 2\n[env]\nslots = 4\n"
    "[train]\nepisodes = 12\nwarmup = 8\neval_every = 0\nreplay_mib = 1\n[esdrl]\nbatch = 16\n";

/* The points of a shard file, each with its /runs, counted in a child (the
 * file may be damaged): the count, -1 when damaged, -3 when missing. */
static int points_in_child(const char *path)
{
    if (access(path, F_OK) != 0)
        return -3;
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t g = f < 0 ? -1 : H5Gopen2(f, "points", H5P_DEFAULT);
        H5G_info_t info;
        if (g < 0 || H5Gget_info(g, &info) < 0 || info.nlinks > 100)
            _exit(255);
        for (hsize_t i = 0; i < info.nlinks; i++) {
            char name[64], runs[80];
            if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                                   H5P_DEFAULT) < 0)
                _exit(255);
            snprintf(runs, sizeof runs, "%s/runs", name);
            if (H5Lexists(g, runs, H5P_DEFAULT) <= 0)
                _exit(255);
        }
        _exit((int)info.nlinks);
    }
    int status;
    waitpid(pid, &status, 0);
    int r = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
    return r == 255 ? -1 : r;
}

Test(crash, a_sweep_killed_and_run_again_ends_as_the_uninterrupted_one, .timeout = 300)
{
    char ini[512], ref[512], out[512], shard[600], args[1024];
    path_in(ini, sizeof ini, "sweep.ini");
    path_in(ref, sizeof ref, "sweep-ref");
    path_in(out, sizeof out, "sweep-killed");
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fputs(sweep_text, f);
    fclose(f);
    /* One thread a run: the kills are what is tested, and 25 runs of a
     * thread per core each, beside the suite's own jobs, load the machine
     * for nothing (once, under ASan, libomp failed in a test beside them). */
    snprintf(args, sizeof args, "sweep %s --backend cpu --quiet --shard 0/1 --set run.threads=1", ini);
    launch whole = {args, ref, NULL, 0, NULL};
    double t0 = now_s();
    cr_assert_eq(exit_status(start(&whole)), 0, "%s", stderr_of(ref));
    int whole_ms = (int)(1000.0 * (now_s() - t0)) + 1;
    snprintf(shard, sizeof shard, "%s/shard-0-of-1.h5", out);
    unsigned seed = 4242;
    int kills = 0, done = 0, before = -3; /* -3: no shard file yet */
    for (int round = 0; !done && round < 100; round++) {
        launch l = {args, out, NULL, 0, NULL};
        pid_t pid = start(&l);
        int st;
        if (round < 25) {
            /* a sixth of the whole sweep at most: kills in every point's stages */
            usleep((useconds_t)(rand_r(&seed) % ((unsigned)whole_ms * 1000u / 6u + 1u)));
            kill(pid, SIGKILL);
            kills++;
        }
        st = exit_status(pid);
        cr_assert(st == 0 || st == 128 + SIGKILL, "round %d: status %d: %s", round, st,
                  stderr_of(out));
        done = st == 0;
        int points = points_in_child(shard);
        cr_assert(points >= 0 || points == -3, "round %d: the shard file is damaged", round);
        cr_assert_leq(points, 8, "round %d: %d points of 8", round, points);
        /* once there, it stays; finished points are never lost */
        cr_assert_geq(points, before, "round %d: %d points after %d", round, points, before);
        before = points;
    }
    cr_assert(done, "the sweep never finished");
    cr_assert_geq(kills, 10, "only %d runs were killed before the sweep finished", kills);
    fprintf(stderr, "crash test: sweep: %d kills (the whole sweep takes %d ms)\n", kills, whole_ms);
    cr_assert_eq(points_in_child(shard), 8, "every point once in the shard file");
    double a[2], b[2];
    for (int p = 0; p < 8; p++) {
        char want[700], got[700], run[64];
        snprintf(want, sizeof want, "%s/points/p%06d.h5", ref, p);
        snprintf(got, sizeof got, "%s/points/p%06d.h5", out, p);
        if (p % 4 < 2)
            snprintf(run, sizeof run, "greedy");
        else
            snprintf(run, sizeof run, "ckpt:p%06d-train.ckpt.h5", p);
        static const char *const columns[] = {"success_rate", "mean_cost", "mean_reward"};
        for (int c = 0; c < 3; c++) {
            cr_assert_eq(column_in_child(want, run, columns[c], 2, a), 0, "p%d %s", p, columns[c]);
            cr_assert_eq(column_in_child(got, run, columns[c], 2, b), 0, "p%d %s", p, columns[c]);
            cr_assert(!memcmp(a, b, sizeof a), "point %d, %s: %.17g %.17g uninterrupted, "
                      "%.17g %.17g killed and run again", p, columns[c], a[0], a[1], b[0], b[1]);
        }
    }
}

/* ---- A disk that fills up under a sweep or a merge ---- */

/* A 2 MiB tmpfs at dir/small, seen only by this test's process and the
 * runs it starts (a mount namespace of their own: the mount goes with the
 * test however it ends); the test is skipped, saying why, where mounting
 * is not allowed (not root, a container without CAP_SYS_ADMIN). A real
 * ENOSPC, not the file size limit's EFBIG: HDF5 crashed on it in H5Ocopy. */
static void small_disk(char *buf, size_t n)
{
    path_in(buf, n, "small");
    cr_assert_eq(mkdir(buf, 0700), 0);
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("afsim-test", buf, "tmpfs", 0, "size=2m") != 0)
        cr_skip_test("cannot mount a small tmpfs here (%s): the full-disk cases of sweep and "
                     "merge are skipped", strerror(errno));
}

static void drop_small_disk(const char *disk)
{
    umount2(disk, MNT_DETACH);
    rmdir(disk);
}

/* Fills disk with a file of zeros until about `room` bytes are left. */
static void fill_to(const char *disk, long room)
{
    char path[600];
    static char zeros[1 << 16];
    struct statvfs v;
    snprintf(path, sizeof path, "%s/fill", disk);
    unlink(path);
    cr_assert_eq(statvfs(disk, &v), 0);
    long left = (long)(v.f_bavail * v.f_frsize) - room;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    while (left > 0) {
        ssize_t w = write(fd, zeros, left < (long)sizeof zeros ? (size_t)left : sizeof zeros);
        if (w <= 0)
            break;
        left -= w;
    }
    close(fd);
}

/* afsim with args (blank-separated words), stderr into err_path; the exit
 * status, 128 + the signal when one ended it. */
static int afsim_status(const char *args, const char *err_path)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec '%s' %s > /dev/null 2> '%s'", AFSIM_BIN, args, err_path);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Files under folder (one level of subfolders) whose names contain what. */
static int files_named(const char *folder, const char *what)
{
    char sub[700];
    int count = 0;
    DIR *d = opendir(folder);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        count += strstr(e->d_name, what) != NULL;
        snprintf(sub, sizeof sub, "%s/%s", folder, e->d_name);
        DIR *s = opendir(sub);
        for (struct dirent *f; s && (f = readdir(s));)
            count += f->d_name[0] != '.' && strstr(f->d_name, what) != NULL;
        if (s)
            closedir(s);
    }
    if (d)
        closedir(d);
    return count;
}

static void remove_tree(const char *path)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    cr_assert_eq(system(cmd), 0);
}

/* 8 points of heuristics: about 50 KiB a point file, the shard file the
 * sum of them (written beside the old one, then renamed over it). */
static const char *small_sweep = "[sweep]\nenv.agents = 3, 4\nmethods = greedy, random\n"
                                 "seeds = 2\neval_episodes = 1\n[run]\nenvs = 1\n[env]\nslots = 2\n";

/* A sweep on a disk that fills up, from no room at all to almost enough:
 * each run ends with exit 1 and the system's reason, or 0; never a crash
 * (HDF5 1.10 crashed in H5Ocopy writing the shard file), never a
 * temporary or half-written file left behind; the shard file, when there,
 * opens and holds finished points only. With room again, the same command
 * finishes the sweep from the points finished before. */
Test(crash, a_full_disk_under_a_sweep_keeps_every_finished_point, .timeout = 240)
{
    char ini[512], disk[512], out[600], err[512], shard[700], args[2048];
    path_in(ini, sizeof ini, "small-sweep.ini");
    path_in(err, sizeof err, "small-sweep.err");
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fputs(small_sweep, f);
    fclose(f);
    small_disk(disk, sizeof disk);
    snprintf(out, sizeof out, "%s/s", disk);
    snprintf(shard, sizeof shard, "%s/shard-0-of-1.h5", out);
    snprintf(args, sizeof args, "sweep %s --backend cpu --set run.threads=1 --out %s", ini, out);
    int full = 0, shard_full = 0;
    /* room from 0 to 1.1 MiB, about what the whole sweep takes at its peak
     * (8 point files and two shard files), in steps of 44 KiB: each moment
     * of each point's and the shard file's writes is hit by some level */
    for (long room = 0; room <= 1100 << 10; room += 44 << 10) {
        fill_to(disk, room);
        int st = afsim_status(args, err);
        const char *text = stderr_of(err);
        cr_assert(st == 0 || st == 1, "room %ld: status %d: %s", room, st, text);
        cr_assert_eq(files_named(out, ".tmp") + files_named(out, ".part."), 0,
                     "room %ld: a temporary file left: %s", room, text);
        if (st == 1) {
            cr_assert(strstr(text, "No space left on device"), "room %ld: %s", room, text);
            full++;
            shard_full += strstr(text, "the shard file") != NULL;
        }
        int finished = files_named(out, ".h5") - files_named(out, "shard-");
        int in_shard = points_in_child(shard);
        cr_assert(in_shard == -3 || (in_shard >= 0 && in_shard <= finished),
                  "room %ld: the shard file holds %d points, %d finished", room, in_shard, finished);
        /* room again: the finished points stand, the rest run */
        char unfilled[700], before[64];
        snprintf(unfilled, sizeof unfilled, "%s/fill", disk);
        unlink(unfilled);
        st = afsim_status(args, err);
        text = stderr_of(err);
        snprintf(before, sizeof before, "%d finished before", finished);
        cr_assert(st == 0 && strstr(text, before), "room %ld: status %d, %d point files before: %s",
                  room, st, finished, text);
        cr_assert_eq(points_in_child(shard), 8, "room %ld", room);
        remove_tree(out);
    }
    fprintf(stderr, "crash test: a full disk under a sweep: %d of 26 levels failed a run, %d "
            "in the shard file's write\n", full, shard_full);
    cr_assert_geq(full, 10, "only %d of the disk levels failed a run", full);
    cr_assert_geq(shard_full, 1, "no level failed in the shard file's write");
    drop_small_disk(disk);
}

/* A merge onto a full disk: exit 1 with the system's reason, no output and
 * no temporary file (HDF5 crashed there at every level, leaving
 * OUT.PID.tmp); with room enough, the merged file with every point. */
Test(crash, a_full_disk_under_a_merge_leaves_nothing, .timeout = 120)
{
    char ini[512], disk[512], ref[512], err[512], shard[700], out[600], args[2048];
    path_in(ini, sizeof ini, "merge-sweep.ini");
    path_in(ref, sizeof ref, "merge-sweep");
    path_in(err, sizeof err, "merge.err");
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fputs(small_sweep, f);
    fclose(f);
    snprintf(args, sizeof args, "sweep %s --backend cpu --quiet --out %s", ini, ref);
    cr_assert_eq(afsim_status(args, err), 0, "%s", stderr_of(err));
    snprintf(shard, sizeof shard, "%s/shard-0-of-1.h5", ref);
    struct stat st;
    cr_assert_eq(stat(shard, &st), 0);
    small_disk(disk, sizeof disk);
    snprintf(out, sizeof out, "%s/merged.h5", disk);
    snprintf(args, sizeof args, "merge %s %s", out, shard);
    int full = 0, merged = 0;
    for (long room = 0; room <= st.st_size + (64 << 10); room += st.st_size / 12) {
        fill_to(disk, room);
        int status = afsim_status(args, err);
        const char *text = stderr_of(err);
        cr_assert_eq(files_named(disk, ".tmp"), 0, "room %ld: a temporary file left: %s", room, text);
        if (status == 1) {
            cr_assert(strstr(text, "No space left on device") && strstr(text, "merged.h5"),
                      "room %ld: %s", room, text);
            cr_assert_neq(access(out, F_OK), 0, "room %ld: a failed merge left its output", room);
            full++;
        } else {
            cr_assert_eq(status, 0, "room %ld: status %d: %s", room, status, text);
            cr_assert_eq(points_in_child(out), 8, "room %ld", room);
            cr_assert_eq(unlink(out), 0);
            merged++;
        }
    }
    cr_assert(full >= 8 && merged >= 1, "%d levels full, %d merged", full, merged);
    drop_small_disk(disk);
    remove_tree(ref);
}
