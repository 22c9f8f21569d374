/* afsim's command line: `afsim run` and `afsim config`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kernels/backend.h"
#include "config.h"
#include "h5out.h"
#include "run.h"
#include "stop.h"

#ifndef AFS_VERSION
#define AFS_VERSION "unknown"
#endif

static const char usage_main[] =
    "afsim " AFS_VERSION ": GPU-batched simulator of serverless function offloading\n"
    "across an edge-cloud continuum (AttentionFunc / AM-DRL).\n"
    "\n"
    "usage: afsim <command> [options]\n"
    "\n"
    "commands:\n"
    "  run      run episodes of one configuration for each named policy\n"
    "  config   print or check the effective configuration\n"
    "  version  print the version (also --version)\n"
    "\n"
    "`afsim <command> --help` describes each command. Every configuration key,\n"
    "with its default, unit and meaning: `afsim config --dump`.\n";

static const char usage_run[] =
    "usage: afsim run [--config FILE] [options]\n"
    "\n"
    "Runs run.episodes episodes of run.envs parallel environments for each policy,\n"
    "streams per-episode metrics to an HDF5 file (flushed after every episode),\n"
    "shows a progress line on a terminal and prints a summary table.\n"
    "Every policy sees the same episodes (same layouts and arrivals).\n"
    "\n"
    "options:\n"
    "  --config FILE        INI file of [run] and [env] keys (default: built-in defaults)\n"
    "  --set SEC.KEY=VALUE  override one key, after the file; repeatable\n"
    "  --policy LIST        comma-separated policies: random, greedy, all_local, all_cloud\n"
    "                       (run.policies; blanks around names are allowed)\n"
    "  --backend NAME       cpu, cuda or auto: CUDA when a device is present (run.backend)\n"
    "  --episodes N         episodes per policy (run.episodes)\n"
    "  --envs N             environments stepped together (run.envs)\n"
    "  --seed N             key of every random stream, 0..4294967295 (run.seed)\n"
    "  --out FILE.h5        results file (run.out); an existing file is kept unless --force\n"
    "  --force              replace an existing results file (run.overwrite)\n"
    "  --trace              also write one record per function (run.trace)\n"
    "  --quiet              no progress line or summary\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 done, 1 error, 2 bad usage or configuration, 130 stopped by\n"
    "SIGINT, SIGTERM or SIGHUP after the current episode, or at once by a second one\n"
    "(the file keeps every finished episode).\n"
    "\n"
    "While it runs, the output belongs to it: a second run on the same --out is\n"
    "refused (--force too) until the first ends (lock file FILE.h5.lock).\n";

static const char usage_config[] =
    "usage: afsim config [--config FILE] [--set SEC.KEY=VALUE ...] (--dump | --check)\n"
    "\n"
    "  --dump    print the effective configuration, defaults filled in, as an INI\n"
    "            file with each key's unit and meaning (it loads back with --config)\n"
    "  --check   only check the configuration; exit 0 when it is valid\n";

/* SIGINT, SIGTERM, SIGHUP: stop after the episode; a second one, at once. */
static void on_signal(int sig)
{
    (void)sig;
    afs_stop_request();
}

/* The command line as one string (for the output's lock file). */
static void command_line(int argc, char **argv, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < argc && o + 1 < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? " " : "", argv[i]);
}

/* A shorthand option is the same as --set of its key. */
static int set_key(afs_config *cfg, const char *key, const char *value, const char *opt)
{
    char assignment[AFS_PATH_MAX + 64], err[AFS_PATH_MAX + 256];
    snprintf(assignment, sizeof assignment, "%s=%s", key, value);
    if (afs_config_set_arg(cfg, assignment, opt, err, sizeof err)) {
        fprintf(stderr, "afsim: %s\n", err);
        return -1;
    }
    return 0;
}

static const char *need_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "afsim: %s needs a value (see --help)\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

typedef struct cli {
    afs_config cfg;
    int quiet, dump, check, help;
} cli;

static const struct { const char *opt, *key; } shorthands[] = {
    {"--policy", "run.policies"}, {"--backend", "run.backend"},
    {"--episodes", "run.episodes"}, {"--envs", "run.envs"},
    {"--seed", "run.seed"}, {"--out", "run.out"},
};

/* Reads --config first, wherever it stands, then applies the rest in order. */
static int parse(cli *c, int argc, char **argv, int is_run)
{
    char err[AFS_PATH_MAX + 256];
    memset(c, 0, sizeof *c);
    afs_config_defaults(&c->cfg);
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--config")) {
            const char *path = need_value(argc, argv, &i);
            if (!path)
                return -1;
            if (afs_config_load(&c->cfg, path, err, sizeof err)) {
                fprintf(stderr, "afsim: %s\n", err);
                return -1;
            }
        }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        size_t s;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            c->help = 1;
            continue;
        }
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strcmp(a, "--set")) {
            if (!(v = need_value(argc, argv, &i)))
                return -1;
            if (afs_config_set_arg(&c->cfg, v, "--set", err, sizeof err)) {
                fprintf(stderr, "afsim: %s\n", err);
                return -1;
            }
            continue;
        }
        for (s = 0; is_run && s < sizeof shorthands / sizeof *shorthands; s++)
            if (!strcmp(a, shorthands[s].opt))
                break;
        if (is_run && s < sizeof shorthands / sizeof *shorthands) {
            if (!(v = need_value(argc, argv, &i)) || set_key(&c->cfg, shorthands[s].key, v, a))
                return -1;
        } else if (is_run && !strcmp(a, "--force")) {
            c->cfg.run.overwrite = 1;
        } else if (is_run && !strcmp(a, "--trace")) {
            c->cfg.run.trace = 1;
        } else if (is_run && !strcmp(a, "--quiet")) {
            c->quiet = 1;
        } else if (!is_run && !strcmp(a, "--dump")) {
            c->dump = 1;
        } else if (!is_run && !strcmp(a, "--check")) {
            c->check = 1;
        } else {
            fprintf(stderr, "afsim: unknown option '%s' for `afsim %s` (see afsim %s --help)\n",
                    a, argv[1], argv[1]);
            return -1;
        }
    }
    if (!c->help && afs_config_check(&c->cfg, err, sizeof err)) {
        fprintf(stderr, "afsim: %s\n", err);
        return -1;
    }
    return 0;
}

static afs_backend *open_backend(const afs_config *cfg)
{
    const char *want = cfg->run.backend;
    if (strcmp(want, "cpu")) {
        char why[512] = "this build has no CUDA backend (configure with nvcc on PATH)";
        afs_backend *b = afs_cuda_built() ? afs_backend_cuda_create(why, sizeof why) : NULL;
        if (b) {
            b->set_tf32(b, cfg->nn.tf32);
            return b;
        }
        if (!strcmp(want, "cuda")) {
            fprintf(stderr, "afsim: --backend cuda: %s\n  hint: --backend cpu runs the same model on the CPU\n", why);
            return NULL;
        }
        fprintf(stderr, "afsim: CUDA not usable (%s): using the CPU backend\n", why);
    }
    afs_backend *b = afs_backend_cpu_create(cfg->run.threads);
    if (!b)
        fprintf(stderr, "afsim: out of memory creating the CPU backend\n");
    return b;
}

static int cmd_run(int argc, char **argv)
{
    cli c;
    if (parse(&c, argc, argv, 1))
        return 2;
    if (c.help) {
        fputs(usage_run, stdout);
        return 0;
    }
    afs_backend *b = open_backend(&c.cfg);
    if (!b)
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    char command[1024];
    command_line(argc, argv, command, sizeof command);
    afs_run_options opt = {c.quiet ? AFS_PROGRESS_NONE
                           : isatty(STDERR_FILENO) ? AFS_PROGRESS_LIVE : AFS_PROGRESS_LINES,
                           c.quiet ? NULL : stdout, command};
    char err[AFS_PATH_MAX + 512];
    int rc = afs_run(&c.cfg, b, &opt, err, sizeof err);
    if (rc == 1)
        fprintf(stderr, "afsim: %s\n", err);
    b->destroy(b);
    return rc;
}

static int cmd_config(int argc, char **argv)
{
    cli c;
    if (parse(&c, argc, argv, 0))
        return 2;
    if (c.help || (!c.dump && !c.check)) {
        fputs(usage_config, c.help ? stdout : stderr);
        return c.help ? 0 : 2;
    }
    if (c.dump)
        afs_config_dump(&c.cfg, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    afs_h5_setup();
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("afsim %s\n", AFS_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc, argv);
    if (!strcmp(cmd, "config"))
        return cmd_config(argc, argv);
    fprintf(stderr, "afsim: unknown command '%s'\n\n%s", cmd, usage_main);
    return 2;
}
