/* Configuration: parsing, checking, errors that name file:line, key, value
 * and what is allowed; the dump round trip; the command line's answers. */
#define _DEFAULT_SOURCE /* mkdtemp, popen */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/config.h"

static char dir[] = "/tmp/afsim-config-XXXXXX";

static void make_dir(void) { cr_assert_not_null(mkdtemp(dir)); }

TestSuite(config, .init = make_dir);

/* Writes text to DIR/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads text into defaults; returns the result and leaves the message in err. */
static int load_text(const char *text, afs_config *cfg, char *err, size_t n)
{
    afs_config_defaults(cfg);
    return afs_config_load(cfg, write_file("c.ini", text), err, n);
}

static void expect_error(const char *text, const char *const *parts)
{
    afs_config cfg;
    char err[1024] = "";
    cr_assert_eq(load_text(text, &cfg, err, sizeof err), -1, "accepted:\n%s", text);
    for (; *parts; parts++)
        cr_assert(strstr(err, *parts), "message '%s' lacks '%s'", err, *parts);
}

Test(config, defaults_are_the_documented_ones)
{
    afs_config c;
    afs_config_defaults(&c);
    cr_assert_eq(c.env.agents, 60);
    cr_assert_eq(c.env.ap_grid, 3);
    cr_assert_eq(c.env.slots, 100);
    cr_assert_eq(c.env.keep_alive, 10);
    cr_assert_eq(c.env.t_mean, 1.6f);
    cr_assert_eq(c.env.queue_cap, 10.0f);
    cr_assert_eq(c.env.noise_dbm, -100.0f);
    cr_assert_eq(c.run.seed, 1u);
    cr_assert_str_eq(c.run.policies, "random,greedy,all_local,all_cloud");
    cr_assert_str_eq(c.run.backend, "auto");
    cr_assert_eq(afs_config_check(&c, (char[256]){0}, 256), 0);
}

Test(config, a_valid_file_loads_with_comments_and_blanks)
{
    afs_config c;
    char err[512];
    cr_assert_eq(load_text("; a comment\n# another\n\n[env]\nagents = 90\nk_scale = 1.5 ; inline\n"
                           "[run]\nseed = 4294967295\npolicies = greedy\ntrace = true\n",
                           &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.env.agents, 90);
    cr_assert_eq(c.env.k_scale, 1.5f);
    cr_assert_eq(c.run.seed, 4294967295u);
    cr_assert_str_eq(c.run.policies, "greedy");
    cr_assert_eq(c.run.trace, 1);
    cr_assert_eq(c.env.slots, 100, "untouched keys keep their defaults");
}

Test(config, unknown_key_names_file_line_and_a_suggestion)
{
    expect_error("[env]\nagents = 3\n\nagnets = 4\n",
                 (const char *[]){"c.ini:4", "env.agnets", "did you mean 'env.agents'", NULL});
    expect_error("[envv]\nagents = 3\n", (const char *[]){"c.ini:2", "envv.agents", NULL});
    expect_error("agents = 3\n", (const char *[]){"c.ini:1", "before any [section]", NULL});
    expect_error("[env]\nagents 3\n", (const char *[]){"c.ini:2", "not a 'key = value' line", NULL});
}

Test(config, wrong_types_and_ranges_say_what_is_allowed)
{
    expect_error("[env]\nagents = abc\n", (const char *[]){"c.ini:2", "env.agents", "'abc'", "an integer", NULL});
    expect_error("[env]\nagents = 1.5\n", (const char *[]){"env.agents", "'1.5'", NULL});
    expect_error("[env]\nagents = 0\n", (const char *[]){"env.agents", "[1, ", NULL});
    expect_error("[env]\nap_grid = 9\n", (const char *[]){"env.ap_grid", "'9'", "[1, 8]", NULL});
    expect_error("[env]\nmu_max = 1.5\n", (const char *[]){"env.mu_max", "'1.5'", "[0, 1]", NULL});
    expect_error("[env]\narea_m = 0\n", (const char *[]){"env.area_m", "(0, ", " m", NULL});
    expect_error("[env]\nt_mean = nan\n", (const char *[]){"env.t_mean", "a number", NULL});
    expect_error("[env]\nt_mean = inf\n", (const char *[]){"env.t_mean", NULL});
    expect_error("[run]\nseed = -1\n", (const char *[]){"run.seed", "4.29497e+09", NULL});
    expect_error("[run]\ntrace = maybe\n", (const char *[]){"run.trace", "true or false", NULL});
    expect_error("[run]\nbackend = gpu\n", (const char *[]){"run.backend", "auto, cpu or cuda", NULL});
    expect_error("[run]\npolicies = greedy,smart\n", (const char *[]){"'smart'", "all_cloud", NULL});
}

Test(config, set_arguments)
{
    afs_config c;
    char err[512];
    afs_config_defaults(&c);
    cr_assert_eq(afs_config_set_arg(&c, "env.agents=90", "--set", err, sizeof err), 0);
    cr_assert_eq(c.env.agents, 90);
    cr_assert_eq(afs_config_set_arg(&c, "agents=90", "--set", err, sizeof err), -1);
    cr_assert(strstr(err, "section.key=value"), "%s", err);
    cr_assert_eq(afs_config_set_arg(&c, "env.agents", "--set", err, sizeof err), -1);
    cr_assert_eq(afs_config_set_arg(&c, "env.agents=-3", "--set", err, sizeof err), -1);
    cr_assert(strstr(err, "--set") && strstr(err, "env.agents"), "%s", err);
}

Test(config, relations_between_keys)
{
    afs_config c;
    char err[512];
    afs_config_defaults(&c);
    c.env.f_min = 4.0f; /* above f_max = 3.5 */
    cr_assert_eq(afs_config_check(&c, err, sizeof err), -1);
    cr_assert(strstr(err, "env.f_min") && strstr(err, "env.f_max"), "%s", err);
    afs_config_defaults(&c);
    c.env.t_jitter = 1.6f;
    cr_assert_eq(afs_config_check(&c, err, sizeof err), -1);
    cr_assert(strstr(err, "env.t_jitter"), "%s", err);
}

Test(config, dump_loads_back_to_the_same_values)
{
    afs_config a, b;
    char err[512];
    afs_config_defaults(&a);
    a.env.agents = 123;
    a.env.reuse = 0.37f;
    a.env.noise_dbm = -95.5f;
    a.run.seed = 77;
    snprintf(a.run.policies, sizeof a.run.policies, "greedy,random");
    char path[512];
    snprintf(path, sizeof path, "%s/dump.ini", dir);
    FILE *f = fopen(path, "w");
    afs_config_dump(&a, f);
    fclose(f);
    afs_config_defaults(&b);
    cr_assert_eq(afs_config_load(&b, path, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < afs_config_key_count(); i++) {
        const afs_config_key *k = afs_config_key_at(i);
        char va[1100], vb[1100];
        afs_config_format(&a, k, va, sizeof va);
        afs_config_format(&b, k, vb, sizeof vb);
        cr_assert_str_eq(va, vb, "%s.%s", k->section, k->name);
    }
    cr_assert_eq(b.env.reuse, 0.37f);
}

/* Runs afsim with arguments; returns its exit status and its output. */
static int afsim(const char *args, char *out, size_t n)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s 2>&1", dir, AFSIM_BIN, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t len = fread(out, 1, n - 1, p);
    out[len] = 0;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(config, command_line_answers)
{
    static char out[65536];
    cr_assert_eq(afsim("config --dump", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "[env]") && strstr(out, "agents = 60"), "%s", out);
    cr_assert_eq(afsim("run --set env.agnets=3", out, sizeof out), 2);
    cr_assert(strstr(out, "env.agents"), "%s", out);
    cr_assert_eq(afsim("run --config /nonexistent.ini", out, sizeof out), 2);
    cr_assert(strstr(out, "/nonexistent.ini"), "%s", out);
    cr_assert_eq(afsim("run --episodes 0", out, sizeof out), 2);
    cr_assert(strstr(out, "--episodes") && strstr(out, "run.episodes"), "%s", out);
    cr_assert_eq(afsim("run --bogus", out, sizeof out), 2);
    cr_assert_eq(afsim("frobnicate", out, sizeof out), 2);
    cr_assert_eq(afsim("--help", out, sizeof out), 0);
    cr_assert(strstr(out, "run") && strstr(out, "config"));
    cr_assert_eq(afsim("config --check --set env.f_min=9", out, sizeof out), 2);
    cr_assert(strstr(out, "env.f_min"), "%s", out);
    cr_assert_eq(afsim("run --help", out, sizeof out), 0);
    const char *opts[] = {"--config", "--set", "--policy", "--backend", "--episodes", "--envs",
                          "--seed", "--out", "--force", "--trace", "--quiet", NULL};
    for (const char **o = opts; *o; o++)
        cr_assert(strstr(out, *o), "run --help lacks %s", *o);
    /* Asking for cuda without a usable device is an error with the reason;
     * with one, the run goes ahead. */
    int rc = afsim("run --backend cuda --set env.agents=3 --envs 1 --episodes 1 --out x.h5 --quiet",
                   out, sizeof out);
    if (rc != 0)
        cr_assert(rc == 1 && strstr(out, "--backend cuda:") && strstr(out, "hint"), "%d: %s", rc, out);
}
