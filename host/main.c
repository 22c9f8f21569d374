/* afsim's command line: `afsim run`, `train`, `sweep`, `merge` and `config`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kernels/backend.h"
#include "checkpoint.h"
#include "config.h"
#include "core/policy_names.h"
#include "h5out.h"
#include "run.h"
#include "models/algos/agents.h"
#include "stop.h"
#include "sweep.h"
#include "train.h"

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
    "  train    train a learning method, with evaluations and checkpoints\n"
    "  sweep    a grid of configurations x methods x seeds, trained and evaluated point by point\n"
    "  merge    join the shard files of a sweep\n"
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
    "  --set SEC.KEY=VALUE  override one key, after the file; repeatable\n";
/* then --policy (print_run_help: its list from the table of policy names) */
static const char usage_run_rest[] =
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

static const char usage_train[] =
    "usage: afsim train --algo NAME [--config FILE] [options]\n"
    "       afsim train --resume CHECKPOINT [options]\n"
    "\n"
    "Trains a learning method on run.envs parallel environments for train.episodes\n"
    "episodes: each slot every agent decides (exploring), the environments step, the\n"
    "slot's experience goes to the replay, and after train.warmup records the method\n"
    "takes train.updates_per_slot gradient steps. Every train.eval_every episodes the\n"
    "deterministic policy plays train.eval_episodes held-out episodes (those of\n"
    "`afsim run`, which training never sees). Learning curves and evaluations stream\n"
    "to an HDF5 file (/runs/train, /runs/eval); checkpoints every\n"
    "train.checkpoint_every episodes and at the end. Hyper-parameters: the [train]\n"
    "section and the method's own, named after it ([NAME]); `afsim config --dump`\n"
    "lists them.\n"
    "\n"
    "options:\n";
/* then --algo (print_train_help: the learning methods from their table) */
static const char usage_train_rest[] =
    "  --config FILE        INI file of [run], [env], [train] and method keys\n"
    "  --set SEC.KEY=VALUE  override one key, after the file; repeatable\n"
    "  --backend NAME       cpu, cuda or auto: CUDA when a device is present (run.backend)\n"
    "  --episodes N         training episodes (train.episodes)\n"
    "  --envs N             environments stepped together (run.envs)\n"
    "  --seed N             key of every random stream, 0..4294967295 (run.seed)\n"
    "  --out FILE.h5        results file (run.out; default train-ALGO.h5); the checkpoint\n"
    "                       is FILE.ckpt.h5 unless train.checkpoint names one\n"
    "  --resume CKPT        continue the training of a checkpoint: its configuration and\n"
    "                       method; only train.episodes, the evaluation and checkpoint\n"
    "                       keys, the output and the backend may change. The results file\n"
    "                       of that training is continued (rows after the checkpoint are\n"
    "                       dropped), or a new one made. Bit for bit the same as an\n"
    "                       uninterrupted run on the same backend when the checkpoint\n"
    "                       holds the replay (train.checkpoint_replay)\n"
    "  --force              replace an existing results file (run.overwrite)\n"
    "  --quiet              no progress line or summary\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 done, 1 error (a non-finite loss or gradient stops training, the\n"
    "networks before that step kept beside the checkpoint), 2 bad usage or\n"
    "configuration, 130 stopped by SIGINT, SIGTERM or SIGHUP after the current episode\n"
    "(with a checkpoint), or at once by a second one (the last checkpoint stands).\n";

static const char usage_sweep[] =
    "usage: afsim sweep SWEEP.ini [--shard I/N] [--out DIR] [--profile NAME] [options]\n"
    "\n"
    "Runs every point of a sweep (docs/sweeps.md): the grid of the [sweep] section's\n"
    "swept keys (SECTION.KEY = v1, v2, ...) times its methods times its seeds. A\n"
    "learning method trains (afsim train) and its trained policy is evaluated; a\n"
    "heuristic is evaluated; each evaluation plays sweep.eval_episodes held-out\n"
    "episodes. Results: DIR/shard-I-of-N.h5, one group /points/pNNNNNN per finished\n"
    "point (its whole configuration as attributes), rewritten whole after each point;\n"
    "the points' own files in DIR/points/. Run again, it skips finished points: a\n"
    "killed or cancelled job resumes where it stopped, and a point cut short is run\n"
    "again from its start. One progress line a point, with an ETA.\n"
    "\n"
    "options:\n"
    "  --shard I/N          run the points p with p mod N = I (0 <= I < N); default: from\n"
    "                       SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN and\n"
    "                       SLURM_ARRAY_TASK_COUNT when set, else 0/1 (every point)\n"
    "  --out DIR            results folder (default: sweep-<name of SWEEP.ini>[-<profile>]);\n"
    "                       it holds one sweep's results: another grid, profile or\n"
    "                       configuration there is refused\n"
    "  --profile NAME       apply [profile.NAME] of the file after its other sections\n"
    "                       (e.g. fast, full)\n"
    "  --set SEC.KEY=VALUE  override a key (sweep.seeds, sweep.methods too) after the\n"
    "                       file and the profile; repeatable\n"
    "  --backend NAME       cpu, cuda or auto (run.backend)\n"
    "  --check              only read and check the sweep (every point's configuration,\n"
    "                       every list and profile of the file); list the shard's points,\n"
    "                       exit 0 when it is valid\n"
    "  --quiet              no progress lines\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 done, 1 error, 2 bad usage or configuration, 130 stopped by a\n"
    "signal (the finished points are kept; run the same command to go on).\n";

static const char usage_merge[] =
    "usage: afsim merge OUT.h5 SHARD.h5... [--force]\n"
    "\n"
    "Joins the shard files of one sweep into OUT.h5 (refused when it exists, unless\n"
    "--force, which replaces only a regular file): every point once, a point in two\n"
    "inputs or a shard of another sweep is an error. Prints how many of the grid's\n"
    "points it holds.\n"
    "\n"
    "exit status: 0 every point there, 1 points missing (OUT.h5 written) or an error\n"
    "(no OUT.h5), 2 bad usage.\n";

static const char usage_config[] =
    "usage: afsim config [--config FILE] [--set SEC.KEY=VALUE ...] (--dump | --check)\n"
    "\n"
    "  --dump    print the effective configuration, defaults filled in, as an INI\n"
    "            file with each key's unit and meaning (it loads back with --config)\n"
    "  --check   only check the configuration; exit 0 when it is valid\n";

/* An option's description, wrapped to 80 columns under its column. */
static void print_option(FILE *f, const char *option, const char *text)
{
    enum { COLUMN = 23, WIDTH = 80 };
    int at = fprintf(f, "  %-*s", COLUMN - 3, option);
    for (const char *w = text; *w;) {
        size_t len = strcspn(w, " ");
        if (at > COLUMN && at + 1 + (int)len > WIDTH)
            at = fprintf(f, "\n%*s", COLUMN - 1, "") - 1;
        at += fprintf(f, " %.*s", (int)len, w);
        w += len + strspn(w + len, " ");
    }
    fputc('\n', f);
}

static void print_run_help(FILE *f)
{
    char names[256], text[1024];
    snprintf(text, sizeof text, "comma-separated policies: %s (each described under "
             "run.policies in `afsim config --dump`) and ckpt:PATH, the trained policy of an "
             "`afsim train` checkpoint (run.policies; blanks around names are allowed)",
             afs_policy_names(names, sizeof names));
    fputs(usage_run, f);
    print_option(f, "--policy LIST", text);
    fputs(usage_run_rest, f);
}

static void print_train_help(FILE *f)
{
    fputs(usage_train, f);
    print_option(f, "--algo NAME", "the learning method:");
    for (int i = 0; afs_learner_at(i); i++) {
        char name[32];
        snprintf(name, sizeof name, "  %s", afs_learner_at(i)->name);
        print_option(f, name, afs_learner_at(i)->help);
    }
    fputs(usage_train_rest, f);
}

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

enum { CMD_RUN, CMD_TRAIN, CMD_CONFIG };

typedef struct cli {
    afs_config cfg;
    int quiet, dump, check, help;
    const char *algo, *resume;
    char resumed_algo[32];
    afs_config resumed; /* the checkpoint's configuration, with --resume */
} cli;

/* Options that are one key (`afsim run`'s and `afsim train`'s). */
static const struct { int cmd; const char *opt, *key; } shorthands[] = {
    {CMD_RUN, "--policy", "run.policies"}, {CMD_RUN, "--episodes", "run.episodes"},
    {CMD_TRAIN, "--episodes", "train.episodes"},
    {-1, "--backend", "run.backend"}, {-1, "--envs", "run.envs"},
    {-1, "--seed", "run.seed"}, {-1, "--out", "run.out"},
};

static const char *shorthand_key(int cmd, const char *opt)
{
    if (cmd == CMD_CONFIG)
        return NULL;
    for (size_t s = 0; s < sizeof shorthands / sizeof *shorthands; s++)
        if ((shorthands[s].cmd < 0 || shorthands[s].cmd == cmd) && !strcmp(opt, shorthands[s].opt))
            return shorthands[s].key;
    return NULL;
}

/* The base configuration: the checkpoint's with --resume, else --config's
 * (or the defaults). */
static int base_config(cli *c, int argc, char **argv)
{
    char err[AFS_PATH_MAX + 256];
    const char *config = NULL;
    for (int i = 2; i < argc; i++) {
        const char **slot = !strcmp(argv[i], "--config") ? &config
                            : !strcmp(argv[i], "--resume") ? &c->resume : NULL;
        if (slot && !(*slot = need_value(argc, argv, &i)))
            return -1;
    }
    if (c->resume && config) {
        fprintf(stderr, "afsim: --resume takes the checkpoint's configuration: leave out "
                "--config (change keys with --set where allowed)\n");
        return -1;
    }
    if (c->resume) {
        char *algo = c->resumed_algo;
        afs_config_defaults(&c->cfg);
        if (afs_checkpoint_config(c->resume, algo, sizeof c->resumed_algo, &c->cfg, err,
                                  sizeof err)) {
            fprintf(stderr, "afsim: --resume: %s\n", err);
            return -1;
        }
        c->resumed = c->cfg;
        if (c->algo && strcmp(c->algo, algo)) {
            fprintf(stderr, "afsim: --algo %s, but %s is a checkpoint of %s\n", c->algo,
                    c->resume, algo);
            return -1;
        }
        c->algo = algo;
        return 0;
    }
    if (config && afs_config_load(&c->cfg, config, err, sizeof err)) {
        fprintf(stderr, "afsim: %s\n", err);
        return -1;
    }
    return 0;
}

/* With --resume, every key outside afs_train_resumable_keys must be the
 * checkpoint's. */
static int resume_unchanged(const cli *c)
{
    int k = afs_config_first_difference(&c->cfg, &c->resumed, afs_train_resumable_keys);
    if (k < 0)
        return 0;
    const afs_config_key *key = afs_config_key_at(k);
    char now[AFS_PATH_MAX + 8], then[AFS_PATH_MAX + 8];
    afs_config_format(&c->cfg, key, now, sizeof now);
    afs_config_format(&c->resumed, key, then, sizeof then);
    fprintf(stderr, "afsim: --resume: %s.%s = %s, but the checkpoint was trained with %s: a "
            "resumed training keeps its configuration (start a new training to change it)\n",
            key->section, key->name, now, then);
    return -1;
}

/* Reads --config (or --resume's checkpoint) first, wherever it stands,
 * then applies the rest in order. */
static int parse(cli *c, int argc, char **argv, int cmd)
{
    char err[AFS_PATH_MAX + 256];
    const int is_run = cmd != CMD_CONFIG;
    memset(c, 0, sizeof *c);
    afs_config_defaults(&c->cfg);
    for (int i = 2; i < argc; i++)
        if (cmd == CMD_TRAIN && !strcmp(argv[i], "--algo") && !(c->algo = need_value(argc, argv, &i)))
            return -1;
    if (base_config(c, argc, argv))
        return -1;
    if (c->resume && cmd != CMD_TRAIN) {
        fprintf(stderr, "afsim: --resume is an option of `afsim train`\n");
        return -1;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            c->help = 1;
            continue;
        }
        if (!strcmp(a, "--config") || !strcmp(a, "--resume") ||
            (cmd == CMD_TRAIN && !strcmp(a, "--algo"))) {
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
        const char *key = shorthand_key(cmd, a);
        if (key) {
            if (!(v = need_value(argc, argv, &i)) || set_key(&c->cfg, key, v, a))
                return -1;
        } else if (is_run && !strcmp(a, "--force")) {
            c->cfg.run.overwrite = 1;
        } else if (cmd == CMD_RUN && !strcmp(a, "--trace")) {
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
    if (!c->help && c->resume && resume_unchanged(c))
        return -1;
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

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int progress_mode(int quiet)
{
    return quiet ? AFS_PROGRESS_NONE : isatty(STDERR_FILENO) ? AFS_PROGRESS_LIVE : AFS_PROGRESS_LINES;
}

static int cmd_run(int argc, char **argv)
{
    cli c;
    if (parse(&c, argc, argv, CMD_RUN))
        return 2;
    if (c.help) {
        print_run_help(stdout);
        return 0;
    }
    afs_backend *b = open_backend(&c.cfg);
    if (!b)
        return 1;
    catch_signals();
    char command[1024];
    command_line(argc, argv, command, sizeof command);
    afs_run_options opt = {progress_mode(c.quiet), c.quiet ? NULL : stdout, command, 0};
    char err[AFS_PATH_MAX + 512];
    int rc = afs_run(&c.cfg, b, &opt, err, sizeof err);
    if (rc == 1)
        fprintf(stderr, "afsim: %s\n", err);
    b->destroy(b);
    return rc;
}

static int cmd_train(int argc, char **argv)
{
    cli c;
    if (parse(&c, argc, argv, CMD_TRAIN))
        return 2;
    if (c.help) {
        print_train_help(stdout);
        return 0;
    }
    char learners[256];
    afs_learner_names(learners, sizeof learners, ", ", " or ");
    if (!c.algo) {
        fprintf(stderr, "afsim: train: give --algo %s (or --resume CKPT)\n", learners);
        return 2;
    }
    if (!afs_learner_find(c.algo)) {
        fprintf(stderr, "afsim: --algo %s: expected %s\n", c.algo, learners);
        return 2;
    }
    /* run.out's default names the method, unless it was given. */
    if (!c.resume && !strcmp(c.cfg.origin[afs_config_key_index("run", "out")], "default"))
        snprintf(c.cfg.run.out, sizeof c.cfg.run.out, "train-%s.h5", c.algo);
    afs_backend *b = open_backend(&c.cfg);
    if (!b)
        return 1;
    catch_signals();
    char command[1024];
    command_line(argc, argv, command, sizeof command);
    afs_train_options opt = {c.algo, c.resume, progress_mode(c.quiet), c.quiet ? NULL : stdout,
                             command, 0};
    char err[2 * AFS_PATH_MAX + 1024];
    int rc = afs_train(&c.cfg, b, &opt, err, sizeof err);
    if (rc == 1)
        fprintf(stderr, "afsim: %s\n", err);
    b->destroy(b);
    return rc;
}

/* --shard I/N, else Slurm's array variables, else 0/1. */
static int shard_of(const char *arg, int *shard, int *shards)
{
    char err[512];
    if (!afs_sweep_shard(arg, getenv("SLURM_ARRAY_TASK_ID"), getenv("SLURM_ARRAY_TASK_MIN"),
                         getenv("SLURM_ARRAY_TASK_COUNT"), shard, shards, err, sizeof err))
        return 0;
    fprintf(stderr, "afsim: %s\n", err);
    return -1;
}

/* sweep-<the file's name without its folder and .ini>[-<profile>]. */
static void default_sweep_dir(const char *config, const char *profile, char *buf, size_t n)
{
    const char *base = strrchr(config, '/');
    base = base ? base + 1 : config;
    size_t len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".ini"))
        len -= 4;
    snprintf(buf, n, "sweep-%.*s%s%s", (int)len, base, profile ? "-" : "", profile ? profile : "");
}

static int cmd_sweep(int argc, char **argv)
{
    const char *config = NULL, *shard_arg = NULL, *out = NULL, *profile = NULL;
    char *sets[AFS_SWEEP_MAX_SETS + 1], backend[64];
    int nsets = 0, quiet = 0, check = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_sweep, stdout);
            return 0;
        }
        if (!strcmp(a, "--quiet") || !strcmp(a, "--check")) {
            *(a[2] == 'q' ? &quiet : &check) = 1;
            continue;
        }
        if (a[0] != '-') {
            if (config) {
                fprintf(stderr, "afsim: sweep: one sweep file, not '%s' and '%s'\n", config, a);
                return 2;
            }
            config = a;
            continue;
        }
        const char **slot = !strcmp(a, "--shard") ? &shard_arg : !strcmp(a, "--out") ? &out
                            : !strcmp(a, "--profile") ? &profile : NULL;
        int is_set = !strcmp(a, "--set"), is_backend = !strcmp(a, "--backend");
        if (!slot && !is_set && !is_backend) {
            fprintf(stderr, "afsim: unknown option '%s' for `afsim sweep` (see afsim sweep --help)\n", a);
            return 2;
        }
        if (!(v = need_value(argc, argv, &i)))
            return 2;
        if (slot) {
            *slot = v;
        } else if (nsets >= AFS_SWEEP_MAX_SETS) {
            fprintf(stderr, "afsim: sweep: more than %d --set\n", AFS_SWEEP_MAX_SETS);
            return 2;
        } else if (is_set) {
            sets[nsets++] = (char *)v;
        } else {
            snprintf(backend, sizeof backend, "run.backend=%s", v);
            sets[nsets++] = backend;
        }
    }
    if (!config) {
        fputs(usage_sweep, stderr);
        return 2;
    }
    int shard, shards;
    if (shard_of(shard_arg, &shard, &shards))
        return 2;
    char dir[AFS_PATH_MAX], err[2 * AFS_PATH_MAX + 1024];
    if (out)
        snprintf(dir, sizeof dir, "%s", out);
    else
        default_sweep_dir(config, profile, dir, sizeof dir);
    afs_sweep *s = malloc(sizeof *s);
    if (!s) {
        fprintf(stderr, "afsim: out of memory\n");
        return 1;
    }
    if (afs_sweep_load(s, config, profile, sets, nsets, err, sizeof err)) {
        fprintf(stderr, "afsim: %s\n", err);
        free(s);
        return 2;
    }
    if (check) {
        printf("%s: %ld points; this shard (%d/%d) runs %ld of them into %s:\n", config,
               afs_sweep_points(s), shard, shards,
               (afs_sweep_points(s) - shard + shards - 1) / shards, dir);
        int bad = afs_sweep_list(s, shard, shards, stdout, err, sizeof err);
        if (bad)
            fprintf(stderr, "afsim: %s\n", err);
        free(s);
        return bad ? 1 : 0;
    }
    afs_backend *b = open_backend(&s->base);
    int rc = 1;
    if (b) {
        catch_signals();
        rc = afs_sweep_run(s, dir, shard, shards, b, !quiet, err, sizeof err);
        if (rc == 1)
            fprintf(stderr, "afsim: %s\n", err);
        b->destroy(b);
    }
    free(s);
    return rc;
}

static int cmd_merge(int argc, char **argv)
{
    char *inputs[4096];
    const char *out = NULL;
    int n = 0, force = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_merge, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--force"))
            force = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "afsim: unknown option '%s' for `afsim merge`\n", argv[i]);
            return 2;
        } else if (!out)
            out = argv[i];
        else if (n < (int)(sizeof inputs / sizeof *inputs))
            inputs[n++] = argv[i];
        else {
            fprintf(stderr, "afsim: merge: more than %zu shard files\n", sizeof inputs / sizeof *inputs);
            return 2;
        }
    }
    if (!out || !n) {
        fputs(usage_merge, stderr);
        return 2;
    }
    char err[2 * AFS_PATH_MAX + 1024];
    int rc = afs_sweep_merge(out, force, inputs, n, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "afsim: merge: %s\n", err);
    return rc ? 1 : 0;
}

static int cmd_config(int argc, char **argv)
{
    cli c;
    if (parse(&c, argc, argv, CMD_CONFIG))
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
    if (!strcmp(cmd, "train"))
        return cmd_train(argc, argv);
    if (!strcmp(cmd, "config"))
        return cmd_config(argc, argv);
    if (!strcmp(cmd, "sweep"))
        return cmd_sweep(argc, argv);
    if (!strcmp(cmd, "merge"))
        return cmd_merge(argc, argv);
    fprintf(stderr, "afsim: unknown command '%s'\n\n%s", cmd, usage_main);
    return 2;
}
