/* The orchestrator (host/run.c) on tiny runs: the policy list parsed once
 * by the configuration drives the run, and decision times include device
 * work that finishes after the call returns. */
#define _DEFAULT_SOURCE /* wait4, fmemopen */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "host/run.h"

static char dir[] = "/tmp/afsim-run-XXXXXX";

static void make_dir(void) { cr_assert_not_null(mkdtemp(dir)); }
static void remove_dir(void) { test_remove_dir(dir); }
TestSuite(run, .init = make_dir, .fini = remove_dir);

/* A tiny configuration writing to DIR/name. */
static afs_config tiny(const char *name, const char *policies)
{
    afs_config cfg;
    char err[512];
    afs_config_defaults(&cfg);
    cr_assert_eq(afs_config_set(&cfg, "run", "policies", policies, "test", err, sizeof err), 0,
                 "%s", err);
    cfg.run.envs = 2;
    cfg.run.episodes = 2;
    cfg.env.agents = 5;
    cfg.env.slots = 3;
    snprintf(cfg.run.out, sizeof cfg.run.out, "%s/%s", dir, name);
    return cfg;
}

static void run_ok(const afs_config *cfg, afs_backend *b, FILE *summary)
{
    afs_run_options opt = {AFS_PROGRESS_NONE, summary, "test_run", 0};
    char err[1024];
    cr_assert_eq(afs_run(cfg, b, &opt, err, sizeof err), 0, "%s", err);
}

static double first_value(const char *path, const char *dataset)
{
    double v = -1.0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "%s", path);
    hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT);
    cr_assert(d >= 0, "%s: %s", path, dataset);
    hid_t space = H5Dget_space(d), one = H5Screate_simple(1, (hsize_t[]){1}, NULL);
    H5Sselect_hyperslab(space, H5S_SELECT_SET, (hsize_t[]){0}, NULL, (hsize_t[]){1}, NULL);
    cr_assert(H5Dread(d, H5T_NATIVE_DOUBLE, one, space, H5P_DEFAULT, &v) >= 0);
    H5Sclose(one);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

/* Dataset `dataset` of the results file at path: n doubles into v. */
static void read_doubles(const char *path, const char *dataset, double *v, int n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "%s", path);
    hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT);
    cr_assert(d >= 0, "%s: %s", path, dataset);
    hid_t space = H5Dget_space(d);
    cr_assert_eq(H5Sget_simple_extent_npoints(space), n, "%s: %s", path, dataset);
    cr_assert(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
}

/* Without a trace the heuristics play AFS_SLOTS_AT_ONCE slots a call
 * (each environment's slots back to back on the CPU, one launch after
 * another on CUDA), with one a slot at a time: the episodes' figures are
 * the same bit for bit. 55 slots: calls of 25, 25 and 5. On backend b, into
 * files named after it. */
static void same_episodes_with_and_without_the_trace(afs_backend *b)
{
    const char *policies = "random,greedy,all_local,all_cloud,best_response,deadline";
    const char *names[] = {"random", "greedy", "all_local", "all_cloud", "best_response",
                           "deadline"};
    const char *fields[] = {"mean_reward", "mean_latency_s", "mean_cost", "success_rate",
                            "offload_fraction", "cold_start_fraction", "functions"};
    char traced[64], untraced[64];
    snprintf(traced, sizeof traced, "traced-%s.h5", b->name);
    snprintf(untraced, sizeof untraced, "untraced-%s.h5", b->name);
    afs_config with = tiny(traced, policies), without = tiny(untraced, policies);
    with.run.trace = 1;
    for (afs_config *c = &with; c; c = c == &with ? &without : NULL) {
        c->run.envs = 3;
        c->env.agents = 20;
        c->env.slots = 55;
    }
    run_ok(&with, b, NULL);
    run_ok(&without, b, NULL);
    for (int k = 0; k < 6; k++)
        for (int j = 0; j < 7; j++) {
            char ds[128];
            double a[2], z[2];
            snprintf(ds, sizeof ds, "runs/%s/%s", names[k], fields[j]);
            read_doubles(with.run.out, ds, a, 2);
            read_doubles(without.run.out, ds, z, 2);
            cr_assert_eq(memcmp(a, z, sizeof a), 0, "%s: %.17g %.17g with the trace, %.17g %.17g "
                         "without", ds, a[0], a[1], z[0], z[1]);
        }
}

Test(run, heuristics_play_the_same_episodes_with_and_without_the_trace)
{
    afs_backend *b = afs_backend_cpu_create(2);
    same_episodes_with_and_without_the_trace(b);
    b->destroy(b);
}

/* The same on CUDA (skipped without a usable device; required by the GPU
 * check, bench/gpu_check.sh). */
Test(run, cuda_heuristics_play_the_same_episodes_with_and_without_the_trace)
{
    afs_backend *b = test_cuda_or_skip("run on CUDA with and without the trace");
    same_episodes_with_and_without_the_trace(b);
    b->destroy(b);
}

/* "greedy, all_local" with a space: run.c used to split on ',' only and
 * ran " all_local" as an unknown policy under the name "?". */
Test(run, a_policy_list_with_spaces_runs_each_named_policy)
{
    afs_config cfg = tiny("spaces.h5", " greedy ,\tall_local ");
    cr_assert_eq(cfg.run.policy_count, 2);
    afs_backend *b = afs_backend_cpu_create(1);
    char summary[4096] = "";
    FILE *f = fmemopen(summary, sizeof summary - 1, "w");
    run_ok(&cfg, b, f);
    fclose(f);
    b->destroy(b);
    hid_t h = H5Fopen(cfg.run.out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(h >= 0);
    cr_assert_gt(H5Lexists(h, "runs/greedy", H5P_DEFAULT), 0);
    cr_assert_gt(H5Lexists(h, "runs/all_local", H5P_DEFAULT), 0);
    cr_assert_eq(H5Lexists(h, "runs/?", H5P_DEFAULT), 0);
    H5Fclose(h);
    cr_assert(strstr(summary, "\ngreedy ") && strstr(summary, "\nall_local "), "%s", summary);
    cr_assert_null(strstr(summary, "?"), "%s", summary);
    /* all_local offloads nothing; had it run as all_cloud it would offload all. */
    cr_assert_eq(first_value(cfg.run.out, "runs/all_local/offload_fraction"), 0.0);
}

/* A backend whose decisions finish later than the call returns, as CUDA's
 * do: env_act queues DELAY_S of "device work" that synchronize waits for. */
#define DELAY_S 0.004
static void (*real_act)(afs_backend *, const afs_env *, int, const float *, uint8_t *);
static int queued;

static void late_act(afs_backend *b, const afs_env *env, int policy, const float *obs,
                     uint8_t *action)
{
    real_act(b, env, policy, obs, action);
    queued = 1;
}

static void late_synchronize(afs_backend *b)
{
    (void)b;
    if (queued) {
        struct timespec t = {0, (long)(DELAY_S * 1e9)};
        nanosleep(&t, NULL);
        queued = 0;
    }
}

Test(run, decision_time_waits_for_asynchronous_device_work)
{
    afs_config cfg = tiny("async.h5", "greedy");
    afs_backend *b = afs_backend_cpu_create(1);
    real_act = b->env_act;
    b->env_act = late_act;
    b->synchronize = late_synchronize;
    run_ok(&cfg, b, NULL);
    b->destroy(b);
    /* decision_time_s is per agent decision: times E * M, one slot's
     * decisions, which took at least DELAY_S once the device was waited for. */
    double per_slot = first_value(cfg.run.out, "runs/greedy/decision_time_s") * cfg.run.envs *
                      cfg.env.agents;
    cr_assert_geq(per_slot, DELAY_S, "a slot's decisions timed at %.3g s: the clock was read "
                  "before the queued work finished", per_slot);
    cr_assert_lt(per_slot, 50 * DELAY_S);
}

/* On CUDA the run synchronizes the device around the timed decision: the
 * time is positive and finite (the check above is the one that tells a
 * synchronized clock from launch latency). */
Test(run, cuda_decision_time_is_measured_with_the_device_waited_for, .timeout = 120)
{
    afs_backend *g = test_cuda_or_skip("CUDA run timing");
    afs_config cfg = tiny("cuda.h5", "greedy");
    cfg.run.envs = 512;
    cfg.env.agents = 150;
    cfg.env.slots = 20;
    run_ok(&cfg, g, NULL);
    g->destroy(g);
    double decide = first_value(cfg.run.out, "runs/greedy/decision_time_s");
    cr_assert(decide > 0.0 && decide < 1e-3, "decision time per agent %g s", decide);
}

/* The memory a run needs counts the trace's host buffers too: a budget
 * that holds the state but not the trace refuses --trace, saying so. */
static double small_budget(afs_backend *b)
{
    (void)b;
    return 64.0 * 1024 * 1024;
}

Test(run, the_memory_check_counts_the_trace)
{
    afs_config cfg = tiny("mem.h5", "greedy");
    cfg.run.envs = 2000;
    cfg.env.agents = 60;
    afs_backend *b = afs_backend_cpu_create(1);
    b->memory_budget = small_budget;
    afs_run_options opt = {AFS_PROGRESS_NONE, NULL, "test_run", 0};
    char err[1024];
    cfg.run.trace = 1;
    cr_assert_eq(afs_run(&cfg, b, &opt, err, sizeof err), 1, "a trace of 2000 environments fit in 64 MiB");
    cr_assert(strstr(err, "trace") && strstr(err, "MiB") && strstr(err, "64 MiB"), "%s", err);
    cfg.run.trace = 0;
    cr_assert_eq(afs_run(&cfg, b, &opt, err, sizeof err), 0, "%s", err);
    b->destroy(b);
}

/* The estimate bounds what a run with --trace really takes: the growth of
 * the peak resident memory (VmHWM, reset through /proc/self/clear_refs)
 * during the run, above the same run without the trace, measured in a
 * child process. */
static long vm_hwm_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

static long run_growth_kib(int trace)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        afs_config cfg = tiny(trace ? "with.h5" : "without.h5", "random");
        cfg.run.envs = 100;
        cfg.env.agents = 60;
        cfg.env.slots = 100;
        cfg.run.episodes = 1;
        cfg.run.trace = trace;
        afs_backend *b = afs_backend_cpu_create(1);
        afs_run_options opt = {AFS_PROGRESS_NONE, NULL, "test_run", 0};
        char err[1024];
        FILE *reset = fopen("/proc/self/clear_refs", "w");
        long growth = -1;
        if (reset && fputs("5", reset) >= 0 && fclose(reset) == 0) {
            long before = vm_hwm_kib();
            if (afs_run(&cfg, b, &opt, err, sizeof err) == 0)
                growth = vm_hwm_kib() - before;
        }
        if (write(fds[1], &growth, sizeof growth) != sizeof growth)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    long growth = -1;
    cr_assert_eq(read(fds[0], &growth, sizeof growth), (ssize_t)sizeof growth);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return growth;
}

Test(run, the_trace_estimate_bounds_the_trace_memory, .timeout = 120)
{
    long without = run_growth_kib(0), with = run_growth_kib(1);
    if (without < 0 || with < 0)
        cr_skip_test("the peak resident memory cannot be reset here (/proc/self/clear_refs)");
    afs_config cfg = tiny("x.h5", "random");
    cfg.run.envs = 100;
    cfg.env.agents = 60;
    cfg.env.slots = 100;
    cfg.run.trace = 1;
    double estimate_kib = afs_run_memory_of(&cfg).trace / 1024.0;
    double used_kib = (double)(with - without);
    fprintf(stderr, "trace memory: used %.0f KiB, estimated %.0f KiB\n", used_kib, estimate_kib);
    cr_assert_gt(used_kib, 0.2 * estimate_kib, "the trace took %.0f KiB: is it measured?", used_kib);
    cr_assert_leq(used_kib, estimate_kib, "the trace took %.0f KiB, more than the %.0f KiB estimated",
                  used_kib, estimate_kib);
}
