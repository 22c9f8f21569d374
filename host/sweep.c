#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "episode.h"
#include "fail.h"
#include "h5attr.h"
#include "outlock.h"
#include "models/algos/agent.h"
#include "policy_names.h"
#include "run.h"
#include "stop.h"
#include "train.h"

/* ---- The sweep file ---- */

typedef struct loader {
    afs_sweep *s;
    const char *profile;   /* wanted, or NULL */
    int nsets;
    char sets[AFS_SWEEP_MAX_SETS][AFS_SWEEP_VALUE_LEN * AFS_SWEEP_MAX_VALUES + 128];
    char where[AFS_SWEEP_MAX_SETS][AFS_ORIGIN_LEN];
} loader;

/* Splits a list into at most max items of len chars (blanks around items
 * dropped): separated by '|' when the text has one (values that hold
 * commas, such as layer sizes "64,64 | 128,128"), else by commas. The
 * count, or -1 when an item is empty, too long, or there are too many. */
static int split_list(const char *text, char *items, int max, size_t len)
{
    int k = 0;
    const char *p = text;
    char sep = strchr(text, '|') ? '|' : ',';
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = strchr(p, sep);
        size_t l = end ? (size_t)(end - p) : strlen(p);
        while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        if (!l || l >= len || k >= max)
            return -1;
        memcpy(items + (size_t)k * len, p, l);
        items[(size_t)k * len + l] = 0;
        k++;
        if (!end)
            return k;
        p = end + 1;
    }
}

/* A positive int, or -1. */
static int positive(const char *v)
{
    char *end;
    long x = strtol(v, &end, 10);
    return end != v && !*end && x >= 1 && x <= 1000000 ? (int)x : -1;
}

/* Whether "SECTION.KEY" names a configuration key. */
static int is_key(const char *name)
{
    const char *dot = strchr(name, '.');
    char section[64];
    if (!dot || (size_t)(dot - name) >= sizeof section)
        return 0;
    snprintf(section, sizeof section, "%.*s", (int)(dot - name), name);
    return afs_config_key_index(section, dot + 1) >= 0;
}

/* Keys a sweep sets itself, or that one backend for the whole sweep
 * fixes: not sweepable. */
static const char *const unsweepable[][2] = {
    {"run.seed", "seeds come from sweep.seeds (run.seed, run.seed + 1, ...)"},
    {"run.episodes", "the evaluation's episodes are sweep.eval_episodes"},
    {"run.policies", "the methods are sweep.methods"},
    {"run.out", "the sweep names its files"},
    {"run.overwrite", "the sweep names its files"},
    {"run.trace", "a sweep writes no trace"},
    {"train.checkpoint", "the sweep names its files"},
    {"run.backend", "one backend runs the whole sweep (--backend)"},
    {"run.threads", "one backend runs the whole sweep"},
    {"nn.tf32", "one backend runs the whole sweep"},
    {"deadline.alpha", "the sweep chooses it per setting among sweep.deadline_alphas (one value "
                       "there fixes it)"},
};

/* One [sweep] entry: name is methods, seeds, eval_episodes or a SECTION.KEY.
 * From the file (replace 0) a second entry of a name is an error (inih
 * reads an indented line as the previous key's continuation: a list on
 * two lines would lose its first part unseen); a profile or --set
 * (replace 1) replaces. */
static int sweep_entry(afs_sweep *s, const char *name, const char *value, const char *where,
                       int replace, char *err, size_t n)
{
    if (!replace && !strcmp(name, "methods") && s->nmethods)
        return afs_fail(err, n, "%s: sweep.methods given twice: write the list on one line", where);
    if (!strcmp(name, "methods")) {
        s->nmethods = split_list(value, &s->method[0][0], AFS_SWEEP_MAX_METHODS,
                                 sizeof s->method[0]);
        if (s->nmethods < 0)
            return afs_fail(err, n, "%s: sweep.methods '%s': a comma-separated list of at most "
                            "%d names", where, value, AFS_SWEEP_MAX_METHODS);
        return 0;
    }
    if (!strcmp(name, "seeds") || !strcmp(name, "eval_episodes") || !strcmp(name, "tune_episodes")) {
        int v = positive(value);
        if (v < 0)
            return afs_fail(err, n, "%s: sweep.%s '%s': a whole number from 1", where, name, value);
        *(!strcmp(name, "seeds") ? &s->seeds : !strcmp(name, "eval_episodes") ? &s->eval_episodes
                                                                              : &s->tune_episodes) = v;
        return 0;
    }
    if (!strcmp(name, "deadline_alphas")) {
        s->nalphas = split_list(value, &s->alpha[0][0], AFS_SWEEP_MAX_VALUES, AFS_SWEEP_VALUE_LEN);
        if (s->nalphas < 0)
            return afs_fail(err, n, "%s: sweep.deadline_alphas '%s': a comma-separated list of at "
                            "most %d values", where, value, AFS_SWEEP_MAX_VALUES);
        afs_config *probe = calloc(1, sizeof *probe);
        int bad = !probe ? afs_fail(err, n, "out of memory") : 0;
        for (int i = 0; !bad && i < s->nalphas; i++)
            bad = afs_config_set(probe, "deadline", "alpha", s->alpha[i], where, err, n);
        free(probe);
        return bad ? -1 : 0;
    }
    if (!is_key(name))
        return afs_fail(err, n, "%s: sweep.%s: not methods, seeds, eval_episodes, "
                        "deadline_alphas, tune_episodes or a configuration key to sweep "
                        "(SECTION.KEY = v1, v2, ...; `afsim config --dump` lists the keys)",
                        where, name);
    for (size_t i = 0; i < sizeof unsweepable / sizeof *unsweepable; i++)
        if (!strcmp(name, unsweepable[i][0]))
            return afs_fail(err, n, "%s: sweep.%s cannot be swept: %s", where, name,
                            unsweepable[i][1]);
    afs_sweep_axis *a = NULL;
    for (int i = 0; i < s->naxes; i++)
        if (!strcmp(s->axis[i].key, name))
            a = &s->axis[i];
    if (a && !replace)
        return afs_fail(err, n, "%s: sweep.%s given twice (or continued on an indented line): "
                        "write the list on one line", where, name);
    if (!a) {
        if (s->naxes >= AFS_SWEEP_MAX_AXES)
            return afs_fail(err, n, "%s: more than %d swept keys", where, AFS_SWEEP_MAX_AXES);
        a = &s->axis[s->naxes++];
        snprintf(a->key, sizeof a->key, "%s", name);
    }
    snprintf(a->where, sizeof a->where, "%s", where);
    a->n = split_list(value, &a->value[0][0], AFS_SWEEP_MAX_VALUES, AFS_SWEEP_VALUE_LEN);
    if (a->n < 0)
        return afs_fail(err, n, "%s: sweep.%s '%s': a comma-separated list of at most %d values",
                        where, name, value, AFS_SWEEP_MAX_VALUES);
    return 0;
}

static int extra_entry(void *user, const char *section, const char *name, const char *value,
                       const char *where, char *err, size_t n)
{
    loader *l = user;
    if (!strcmp(section, "sweep"))
        return sweep_entry(l->s, name, value, where, 0, err, n) ? -1 : 1;
    if (strncmp(section, "profile.", 8))
        return 0;
    if (!l->profile || strcmp(section + 8, l->profile))
        return 1;
    if (l->nsets >= AFS_SWEEP_MAX_SETS)
        return afs_fail(err, n, "%s: more than %d keys in [%s]", where, AFS_SWEEP_MAX_SETS,
                        section);
    if ((size_t)snprintf(l->sets[l->nsets], sizeof l->sets[0], "%s=%s", name, value) >=
        sizeof l->sets[0])
        return afs_fail(err, n, "%s: %s: a value longer than %zu characters", where, name,
                        sizeof l->sets[0] - strlen(name) - 2);
    snprintf(l->where[l->nsets], sizeof l->where[0], "%s", where);
    l->nsets++;
    return 1;
}

/* SECTION.KEY=VALUE onto the sweep (sweep.*) or its base configuration. */
static int apply_set(afs_sweep *s, const char *assignment, const char *where, char *err, size_t n)
{
    if (!strncmp(assignment, "sweep.", 6)) {
        const char *eq = strchr(assignment, '=');
        char name[128];
        if (!eq || (size_t)(eq - assignment - 6) >= sizeof name)
            return afs_fail(err, n, "%s '%s': expected sweep.NAME=VALUE", where, assignment);
        snprintf(name, sizeof name, "%.*s", (int)(eq - assignment - 6), assignment + 6);
        return sweep_entry(s, name, eq + 1, where, 1, err, n);
    }
    return afs_config_set_arg(&s->base, assignment, where, err, n);
}

static int check_methods(const afs_sweep *s, char *err, size_t n)
{
    if (!s->nmethods)
        return afs_fail(err, n, "the sweep names no methods: add `methods = greedy, esdrl, ...` "
                        "to [sweep]");
    for (int i = 0; i < s->nmethods; i++)
        if (afs_policy_from_name(s->method[i]) < 0 && !afs_agent_algo_params(&s->base, s->method[i]))
            return afs_fail(err, n, "sweep.methods: '%s' is not one of %s", s->method[i],
                            AFS_AGENT_NAMES);
    return 0;
}

static int uses_deadline(const afs_sweep *s)
{
    for (int m = 0; m < s->nmethods; m++)
        if (!strcmp(s->method[m], "deadline"))
            return 1;
    return 0;
}

/* The grid in words (shard files, sweep.id, the fingerprint). */
static void describe_grid(const afs_sweep *s, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < s->naxes; i++) {
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s = ", s->axis[i].key);
        for (int v = 0; v < s->axis[i].n; v++)
            o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%s", v ? ", " : "",
                                  s->axis[i].value[v]);
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "; ");
    }
    o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "methods = ");
    for (int m = 0; m < s->nmethods; m++)
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%s", m ? ", " : "", s->method[m]);
    o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "; seeds = %d from %u; eval_episodes = %d",
                          s->seeds, s->base.run.seed, s->eval_episodes);
    if (uses_deadline(s)) {
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "; deadline_alphas = ");
        for (int i = 0; i < s->nalphas; i++)
            o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%s", i ? ", " : "", s->alpha[i]);
        snprintf(buf + (o < n ? o : n - 1), o < n ? n - o : 1, "; tune_episodes = %d",
                 s->tune_episodes);
    }
}

/* The [profile.NAME] headers of the file, ", "-separated into names;
 * whether `want` is among them. Read from the text, since inih reports
 * only key lines: an empty profile (the file as it is) is a profile too. */
static int profile_names(const char *path, const char *want, char *names, size_t n)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int found = 0;
    names[0] = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "[profile.", 9) || !(end = strchr(p, ']')))
            continue;
        *end = 0;
        found |= want && !strcmp(p + 9, want);
        size_t o = strlen(names);
        snprintf(names + o, n - o, "%s%s", o ? ", " : "", p + 9);
    }
    if (f)
        fclose(f);
    return found;
}

/* What a sweep's results depend on, as one number (FNV-1a, 64 bits): the
 * grid, the profile and every key of the base configuration but
 * run.threads (results are the same for any thread count). A folder or
 * shard file of another sweep is refused by it. */
static uint64_t fingerprint_of(const afs_sweep *s)
{
    char grid[4096], value[AFS_PATH_MAX + 64];
    uint64_t h = 1469598103934665603ull;
    describe_grid(s, grid, sizeof grid);
    const char *parts[2] = {grid, s->profile};
    for (int i = 0; i < 2; i++)
        for (const char *c = parts[i]; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
    for (int k = 0; k < afs_config_key_count(); k++) {
        const afs_config_key *key = afs_config_key_at(k);
        if (!strcmp(key->section, "run") && !strcmp(key->name, "threads"))
            continue;
        afs_config_format(&s->base, key, value, sizeof value);
        char line[AFS_PATH_MAX + 256];
        snprintf(line, sizeof line, "%s.%s=%s\n", key->section, key->name, value);
        for (const char *c = line; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
    }
    return h;
}

/* Every point's configuration checked now rather than hours in: the
 * relations between keys, and what each learning method will allocate. */
static int check_points(const afs_sweep *s, char *err, size_t n)
{
    afs_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return afs_fail(err, n, "out of memory");
    const char *method;
    char desc[512], why[1024];
    int rc = 0;
    for (long p = 0, np = afs_sweep_points(s); !rc && p < np; p++) {
        if (p % s->seeds)
            continue; /* seeds change no check */
        rc = afs_sweep_point(s, p, cfg, &method, desc, sizeof desc, err, n);
        afs_replay_info info;
        if (!rc && afs_agent_algo_params(cfg, method) &&
            afs_agent_plan(method, cfg, cfg->run.envs, &info, why, sizeof why))
            rc = afs_fail(err, n, "sweep point %ld (%s): %s", p, desc, why);
    }
    free(cfg);
    return rc;
}

int afs_sweep_load(afs_sweep *s, const char *path, const char *profile, char *const *sets,
                   int nsets, char *err, size_t n)
{
    memset(s, 0, sizeof *s);
    afs_config_defaults(&s->base);
    s->seeds = 1;
    s->eval_episodes = 4;
    s->tune_episodes = 4;
    char why[512];
    if (sweep_entry(s, "deadline_alphas", "0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5", "default", 1,
                    why, sizeof why))
        return afs_fail(err, n, "%s", why);
    char names[512];
    if (profile && !profile_names(path, profile, names, sizeof names) && access(path, R_OK) == 0)
        return afs_fail(err, n, "%s: no [profile.%s] (profiles there: %s)", path, profile,
                        names[0] ? names : "none");
    loader *l = calloc(1, sizeof *l);
    if (!l)
        return afs_fail(err, n, "out of memory");
    l->s = s;
    l->profile = profile;
    int rc = afs_config_load_with(&s->base, path, extra_entry, l, err, n);
    for (int i = 0; !rc && i < l->nsets; i++)
        rc = apply_set(s, l->sets[i], l->where[i], err, n);
    free(l);
    for (int i = 0; !rc && i < nsets; i++)
        rc = apply_set(s, sets[i], "--set", err, n);
    if (rc)
        return -1;
    snprintf(s->profile, sizeof s->profile, "%s", profile ? profile : "");
    if (check_methods(s, err, n) || check_points(s, err, n))
        return -1;
    const char *alpha_from = s->base.origin[afs_config_key_index("deadline", "alpha")];
    if (uses_deadline(s) && strcmp(alpha_from, "default"))
        return afs_fail(err, n, "%s: deadline.alpha is set, but the sweep chooses it per setting "
                        "among sweep.deadline_alphas: give sweep.deadline_alphas = %g to fix it",
                        alpha_from, (double)s->base.env.deadline_alpha);
    s->fingerprint = fingerprint_of(s);
    return 0;
}

long afs_sweep_points(const afs_sweep *s)
{
    long np = (long)s->nmethods * s->seeds;
    for (int i = 0; i < s->naxes; i++)
        np *= s->axis[i].n;
    return np;
}

/* Point p: axis values (the first axis slowest), then the method, then the seed. */
int afs_sweep_point(const afs_sweep *s, long p, afs_config *cfg, const char **method,
                    char *desc, size_t dn, char *err, size_t n)
{
    *cfg = s->base;
    long rest = p;
    int seed = (int)(rest % s->seeds);
    rest /= s->seeds;
    *method = s->method[rest % s->nmethods];
    rest /= s->nmethods;
    int at[AFS_SWEEP_MAX_AXES];
    for (int i = s->naxes - 1; i >= 0; i--) {
        at[i] = (int)(rest % s->axis[i].n);
        rest /= s->axis[i].n;
    }
    size_t o = 0;
    desc[0] = 0;
    for (int i = 0; i < s->naxes; i++) {
        char assignment[256], where[AFS_ORIGIN_LEN + 128];
        snprintf(assignment, sizeof assignment, "%s=%s", s->axis[i].key, s->axis[i].value[at[i]]);
        snprintf(where, sizeof where, "%s: sweep.%s", s->axis[i].where, s->axis[i].key);
        if (afs_config_set_arg(cfg, assignment, where, err, n))
            return -1;
        o += (size_t)snprintf(desc + o, o < dn ? dn - o : 0, "%s ", assignment);
    }
    cfg->run.seed = s->base.run.seed + (uint32_t)seed;
    snprintf(desc + (o < dn ? o : dn - 1), o < dn ? dn - o : 1, "method=%s seed=%u", *method,
             cfg->run.seed);
    char why[1024];
    if (afs_config_check(cfg, why, sizeof why))
        return afs_fail(err, n, "sweep point %ld (%s): %s", p, desc, why);
    return 0;
}

/* ---- Running a shard ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* DIR/points/p<p><suffix>: the point's own files. */
static void point_path(char *buf, size_t n, const char *dir, long p, const char *suffix)
{
    snprintf(buf, n, "%s/points/p%06ld%s", dir, p, suffix);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int make_dir(const char *path, char *err, size_t n)
{
    if (mkdir(path, 0777) && errno != EEXIST)
        return afs_fail(err, n, "%s: cannot make the folder: %s", path, strerror(errno));
    return 0;
}

/* Renames from over to once from's bytes are on the disk: a finished
 * point or shard file survives a crash of the machine, not only of afsim. */
static int durable_rename(const char *from, const char *to, char *err, size_t n)
{
    int fd = open(from, O_RDONLY);
    int synced = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!synced || rename(from, to))
        return afs_fail(err, n, "%s: cannot %s: %s", from, synced ? "rename" : "write to disk",
                        strerror(errno));
    return 0;
}

static void fingerprint_text(const afs_sweep *s, char *buf, size_t n)
{
    snprintf(buf, n, "%016llx", (unsigned long long)s->fingerprint);
}

static int set(afs_config *cfg, const char *section, const char *name, const char *value,
               char *err, size_t n)
{
    return afs_config_set(cfg, section, name, value, "afsim sweep", err, n);
}

/* Mean reward per function of the deadline policy with cfg's alpha over
 * the first `episodes` training episodes (AFS_TRAIN_EPISODES + k: never
 * the held-out ones the evaluation plays); 0, or -1 with err. */
static int deadline_reward(const afs_config *cfg, afs_backend *b, int episodes, double *reward,
                           char *err, size_t n)
{
    afs_env env;
    if (afs_env_init(&env, b, &cfg->env, cfg->run.envs, cfg->run.seed))
        return afs_fail(err, n, "out of %s memory for %d environments", b->name, cfg->run.envs);
    afs_agent *a = afs_agent_create("deadline", b, cfg, cfg->run.envs, 0, err, n);
    double sum = 0.0, functions = 0.0;
    int rc = a ? 0 : -1;
    for (int k = 0; !rc && k < episodes; k++) {
        afs_episode_row row;
        afs_episode_sums sums;
        afs_agent_stats st;
        rc = afs_episode_play(a, &env, AFS_TRAIN_EPISODES + (uint32_t)k, AFS_PLAY_EVAL, NULL, &row,
                              &sums, &st, err, n);
        if (rc) {
            rc = rc == AFS_EPISODE_STOPPED ? 130 : rc;
            break;
        }
        if (row.functions > 0) { /* an episode without functions has no mean (NaN) */
            sum += row.mean_reward * (double)row.functions;
            functions += (double)row.functions;
        }
    }
    if (a)
        afs_agent_destroy(a);
    afs_env_free(&env, b);
    *reward = functions > 0.0 ? sum / functions : -INFINITY;
    return rc;
}

/* deadline.alpha of cfg's setting: the one of sweep.deadline_alphas whose
 * policy earns the most reward per function on sweep.tune_episodes
 * training episodes (ties: the first). It goes into cfg, and with it into
 * the point's configuration attributes. 0, 130 (stopped), or 1 with err. */
static int tune_deadline(const afs_sweep *s, afs_config *cfg, afs_backend *b, char *err, size_t n)
{
    double best = -INFINITY;
    int at = 0;
    for (int i = 0; i < s->nalphas; i++) {
        double reward = -INFINITY;
        if (set(cfg, "deadline", "alpha", s->alpha[i], err, n))
            return 1;
        int rc = deadline_reward(cfg, b, s->tune_episodes, &reward, err, n);
        if (rc)
            return rc == 130 || afs_stop_level() ? 130 : 1;
        if (reward > best) {
            best = reward;
            at = i;
        }
    }
    return set(cfg, "deadline", "alpha", s->alpha[at], err, n) ? 1 : 0;
}

/* Point p, trained (a learning method) and evaluated on held-out episodes.
 * Its evaluation goes to DIR/points/pP.part.h5, renamed to pP.h5 once
 * whole: that file's presence, and nothing else, marks the point finished,
 * so a point cut short by a kill is run again from its start. */
static int run_point(const afs_sweep *s, const char *dir, long p, afs_backend *b,
                     const char *method, afs_config *cfg, char *err, size_t n)
{
    char part[AFS_PATH_MAX], done[AFS_PATH_MAX], train[AFS_PATH_MAX], ckpt[AFS_PATH_MAX];
    char policy[AFS_PATH_MAX + 8], episodes[16];
    point_path(part, sizeof part, dir, p, ".part.h5");
    point_path(done, sizeof done, dir, p, ".h5");
    point_path(train, sizeof train, dir, p, "-train.h5");
    int rc = 0;
    snprintf(policy, sizeof policy, "%s", method);
    if (!strcmp(method, "deadline") && s->nalphas > 0)
        rc = tune_deadline(s, cfg, b, err, n);
    if (!rc && afs_agent_algo_params(cfg, method)) {
        afs_train_options t = {method, NULL, AFS_PROGRESS_NONE, NULL, "afsim sweep", 1};
        cfg->run.overwrite = 1;
        rc = set(cfg, "run", "out", train, err, n) || set(cfg, "train", "checkpoint", "", err, n);
        rc = rc ? 1 : afs_train(cfg, b, &t, err, n);
        afs_train_checkpoint_path(cfg, ckpt, sizeof ckpt);
        snprintf(policy, sizeof policy, "ckpt:%s", ckpt);
    }
    snprintf(episodes, sizeof episodes, "%d", s->eval_episodes);
    if (!rc && (set(cfg, "run", "policies", policy, err, n) || set(cfg, "run", "out", part, err, n) ||
                set(cfg, "run", "episodes", episodes, err, n)))
        rc = 1;
    if (!rc) {
        afs_run_options o = {AFS_PROGRESS_NONE, NULL, "afsim sweep", 1};
        cfg->run.overwrite = 1;
        cfg->run.trace = 0;
        rc = afs_run(cfg, b, &o, err, n);
    }
    if (!rc && durable_rename(part, done, err, n))
        rc = 1;
    return rc;
}

/* Copies finished point p into group `points` of a shard file, with its
 * training's curves (as train/) and what the point is as attributes. */
static int copy_point(const afs_sweep *s, const char *dir, long p, hid_t points, char *err,
                      size_t n)
{
    char done[AFS_PATH_MAX], train[AFS_PATH_MAX], name[32], desc[512], why[1024];
    const char *method;
    afs_config *cfg = malloc(sizeof *cfg);
    if (!cfg || afs_sweep_point(s, p, cfg, &method, desc, sizeof desc, why, sizeof why)) {
        free(cfg);
        return afs_fail(err, n, "point %ld: %s", p, cfg ? why : "out of memory");
    }
    free(cfg);
    point_path(done, sizeof done, dir, p, ".h5");
    point_path(train, sizeof train, dir, p, "-train.h5");
    snprintf(name, sizeof name, "p%06ld", p);
    int bad = 0;
    hid_t src = H5Fopen(done, H5F_ACC_RDONLY, H5P_DEFAULT);
    bad = src < 0 || H5Ocopy(src, ".", points, name, H5P_DEFAULT, H5P_DEFAULT) < 0;
    if (src >= 0)
        H5Fclose(src);
    if (!bad && exists(train)) {
        char to[64];
        snprintf(to, sizeof to, "%s/train", name);
        src = H5Fopen(train, H5F_ACC_RDONLY, H5P_DEFAULT);
        bad = src < 0 || H5Ocopy(src, "runs", points, to, H5P_DEFAULT, H5P_DEFAULT) < 0;
        if (src >= 0)
            H5Fclose(src);
    }
    hid_t g = bad ? -1 : H5Gopen2(points, name, H5P_DEFAULT);
    int64_t index = p;
    bad = g < 0 || afs_h5_attr_write(g, "sweep_point", H5T_NATIVE_INT64, 0, &index) < 0 ||
          afs_h5_attr_write_string(g, "sweep_method", method) < 0 ||
          afs_h5_attr_write_string(g, "sweep_description", desc) < 0;
    if (g >= 0)
        H5Gclose(g);
    return bad ? afs_fail(err, n, "%s: cannot copy point %ld into the shard file", done, p) : 0;
}

/* DIR/shard-<i>-of-<N>.h5 made anew from the shard's finished points:
 * written beside and renamed over the old one, so it is always whole. */
static int write_shard(const afs_sweep *s, const char *dir, int shard, int shards, long *count,
                       char *err, size_t n)
{
    char path[AFS_PATH_MAX], tmp[AFS_PATH_MAX + 8], done[AFS_PATH_MAX], grid[4096], id[20];
    snprintf(path, sizeof path, "%s/shard-%d-of-%d.h5", dir, shard, shards);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return afs_fail(err, n, "%s: cannot create the shard file (a full disk? no rights?)", tmp);
    hid_t points = H5Gcreate2(f, "points", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int64_t total = afs_sweep_points(s), at[2] = {shard, shards};
    describe_grid(s, grid, sizeof grid);
    fingerprint_text(s, id, sizeof id);
    int bad = points < 0 || afs_h5_attr_write(f, "sweep_points", H5T_NATIVE_INT64, 0, &total) < 0 ||
              afs_h5_attr_write(f, "sweep_shard", H5T_NATIVE_INT64, 2, at) < 0 ||
              afs_h5_attr_write_string(f, "sweep_grid", grid) < 0 ||
              afs_h5_attr_write_string(f, "sweep_profile", s->profile) < 0 ||
              afs_h5_attr_write_string(f, "sweep_fingerprint", id) < 0;
    *count = 0;
    for (long p = shard; !bad && p < total; p += shards) {
        point_path(done, sizeof done, dir, p, ".h5");
        if (!exists(done))
            continue;
        if (copy_point(s, dir, p, points, err, n)) {
            bad = 2;
            break;
        }
        ++*count;
    }
    if (points >= 0)
        H5Gclose(points);
    bad |= H5Fclose(f) < 0;
    if (!bad && durable_rename(tmp, path, err, n))
        return -1;
    if (bad) {
        unlink(tmp);
        return bad == 2 ? -1 : afs_fail(err, n, "%s: cannot write the shard file (a full disk?)", tmp);
    }
    return 0;
}

/* Seconds the shard's unfinished points after p should take: each at the
 * mean time of the points of its method run so far (a training takes far
 * longer than a heuristic's evaluation), or of all of them for a method
 * not run yet. */
static double time_left(const afs_sweep *s, const char *dir, int shards, long p,
                        const double *took, const int *runs)
{
    double all = 0.0, left = 0.0, per_all;
    int n = 0;
    for (int m = 0; m < s->nmethods; m++) {
        all += took[m];
        n += runs[m];
    }
    per_all = n ? all / n : 0.0;
    char done[AFS_PATH_MAX];
    for (long q = p + shards; q < afs_sweep_points(s); q += shards) {
        point_path(done, sizeof done, dir, q, ".h5");
        if (exists(done))
            continue;
        int m = (int)(q / s->seeds % s->nmethods); /* afs_sweep_point's order */
        left += runs[m] ? took[m] / runs[m] : per_all;
    }
    return left;
}

static void eta(double seconds, char *buf, size_t n)
{
    long t = (long)(seconds + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

/* DIR/sweep.id names the sweep whose results the folder holds (its
 * fingerprint, grid and profile): written by the first run, compared by
 * every later one, so that results of another grid, profile or base
 * configuration are never taken for this sweep's finished points. */
static int claim_dir(const afs_sweep *s, const char *dir, char *err, size_t n)
{
    char path[AFS_PATH_MAX + 16], tmp[AFS_PATH_MAX + 48], id[20], grid[4096], line[128];
    snprintf(path, sizeof path, "%s/sweep.id", dir);
    fingerprint_text(s, id, sizeof id);
    FILE *f = fopen(path, "r");
    if (f) {
        int same = fgets(line, sizeof line, f) && !strncmp(line, id, strlen(id)) &&
                   line[strlen(id)] == '\n';
        fclose(f);
        if (!same)
            return afs_fail(err, n, "%s holds the results of another sweep (%s: another grid, "
                            "profile or configuration): give another --out, or remove the folder "
                            "to start again", dir, path);
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    describe_grid(s, grid, sizeof grid);
    f = fopen(tmp, "w");
    int bad = !f || fprintf(f, "%s\ngrid: %s\nprofile: %s\n", id, grid, s->profile) < 0;
    bad |= f && fclose(f) != 0;
    if (bad || durable_rename(tmp, path, err, n)) {
        unlink(tmp);
        return bad ? afs_fail(err, n, "%s: cannot write (a full disk?)", tmp) : -1;
    }
    return 0;
}

/* Whether point p is finished. A point file that HDF5 cannot open (the
 * machine went down before its bytes reached the disk) is set aside and
 * the point runs again. */
static int finished_point(const char *dir, long p)
{
    char done[AFS_PATH_MAX], aside[AFS_PATH_MAX + 16];
    point_path(done, sizeof done, dir, p, ".h5");
    if (!exists(done))
        return 0;
    hid_t f = H5Fopen(done, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) {
        H5Fclose(f);
        return 1;
    }
    point_path(aside, sizeof aside, dir, p, ".damaged.h5");
    fprintf(stderr, "afsim: sweep: %s cannot be read: moved to %s, the point runs again\n", done,
            aside);
    return rename(done, aside) ? 1 : 0; /* not moved: write_shard will say why */
}

int afs_sweep_run(const afs_sweep *s, const char *dir, int shard, int shards, afs_backend *b,
                  int progress, char *err, size_t n)
{
    char points_dir[AFS_PATH_MAX], done[AFS_PATH_MAX], desc[512], left[32];
    char shard_path[AFS_PATH_MAX + 64];
    if (strlen(dir) > AFS_PATH_MAX - 64 || strchr(dir, ',')) {
        afs_fail(err, n, "--out %s: %s", dir, strchr(dir, ',') ? "a folder without commas, "
                 "please (trained policies are named in comma-separated lists)" : "too long a path");
        return 1;
    }
    snprintf(points_dir, sizeof points_dir, "%s/points", dir);
    snprintf(shard_path, sizeof shard_path, "%s/shard-%d-of-%d.h5", dir, shard, shards);
    if (make_dir(dir, err, n) || make_dir(points_dir, err, n) || claim_dir(s, dir, err, n))
        return 1;
    afs_outlock lock;
    if (afs_outlock_take(&lock, shard_path, "afsim sweep", err, n))
        return 1;
    long total = afs_sweep_points(s), mine = 0, finished = 0, ran = 0;
    for (long p = shard; p < total; p += shards) {
        mine++;
        finished += finished_point(dir, p);
    }
    if (write_shard(s, dir, shard, shards, &finished, err, n)) {
        afs_outlock_drop(&lock);
        return 1;
    }
    if (progress)
        fprintf(stderr, "sweep: shard %d of %d: %ld of the grid's %ld points, %ld finished before\n",
                shard, shards, mine, total, finished);
    afs_config *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        afs_fail(err, n, "out of memory");
        return 1;
    }
    double took[AFS_SWEEP_MAX_METHODS] = {0};
    int runs[AFS_SWEEP_MAX_METHODS] = {0};
    int rc = 0;
    for (long p = shard; p < total && !rc; p += shards) {
        point_path(done, sizeof done, dir, p, ".h5");
        if (exists(done))
            continue;
        if (afs_stop_level()) {
            rc = 130;
            break;
        }
        const char *method;
        double t0 = now_s();
        rc = afs_sweep_point(s, p, cfg, &method, desc, sizeof desc, err, n) ? 1
             : run_point(s, dir, p, b, method, cfg, err, n);
        if (rc)
            break;
        ran++;
        long count;
        if (write_shard(s, dir, shard, shards, &count, err, n)) {
            rc = 1;
            break;
        }
        int m = (int)(p / s->seeds % s->nmethods);
        took[m] += now_s() - t0;
        runs[m]++;
        eta(time_left(s, dir, shards, p, took, runs), left, sizeof left);
        if (progress)
            fprintf(stderr, "sweep: %ld/%ld points of shard %d/%d; p%06ld (%s) in %.1f s; ETA %s\n",
                    count, mine, shard, shards, p, desc, now_s() - t0, left);
    }
    free(cfg);
    afs_outlock_drop(&lock);
    if (rc == 130)
        fprintf(stderr, "afsim: sweep stopped by a signal: %ld of the shard's %ld points are "
                "finished; run the same command to go on\n", finished + ran, mine);
    return rc;
}

/* ---- Merging shards ---- */

typedef struct merge_ctx {
    hid_t to;          /* the output's /points */
    const char *input; /* for messages */
    char *err;
    size_t n;
    long copied;
} merge_ctx;

static herr_t merge_one(hid_t from, const char *name, const H5L_info_t *info, void *user)
{
    (void)info;
    merge_ctx *m = user;
    if (H5Lexists(m->to, name, H5P_DEFAULT) > 0) {
        afs_fail(m->err, m->n, "%s: point %s is also in an earlier input: shards of one sweep "
                 "are disjoint (the same shard given twice?)", m->input, name);
        return -1;
    }
    if (H5Ocopy(from, name, m->to, name, H5P_DEFAULT, H5P_DEFAULT) < 0) {
        afs_fail(m->err, m->n, "%s: cannot copy point %s (a full disk?)", m->input, name);
        return -1;
    }
    m->copied++;
    return 0;
}

/* What makes shard files one sweep's: the fingerprint (grid, profile,
 * base configuration), the grid in words and the point count. */
typedef struct sweep_id {
    char fingerprint[32], grid[4096], profile[64];
    int64_t total;
} sweep_id;

/* Checks that a shard file is of the same sweep as the first input, whose
 * attributes go to the output. */
static int same_sweep(hid_t f, const char *input, hid_t out, int first, sweep_id *first_id,
                      char *err, size_t n)
{
    sweep_id id;
    if (afs_h5_attr_read(f, "sweep_points", H5T_NATIVE_INT64, 0, &id.total) < 0 ||
        afs_h5_attr_read_string(f, "sweep_grid", id.grid, sizeof id.grid) < 0 ||
        afs_h5_attr_read_string(f, "sweep_profile", id.profile, sizeof id.profile) < 0 ||
        afs_h5_attr_read_string(f, "sweep_fingerprint", id.fingerprint, sizeof id.fingerprint) < 0)
        return afs_fail(err, n, "%s: not a shard file of `afsim sweep` (no sweep attributes)",
                        input);
    if (first) {
        *first_id = id;
        if (afs_h5_attr_write(out, "sweep_points", H5T_NATIVE_INT64, 0, &id.total) < 0 ||
            afs_h5_attr_write_string(out, "sweep_grid", id.grid) < 0 ||
            afs_h5_attr_write_string(out, "sweep_profile", id.profile) < 0 ||
            afs_h5_attr_write_string(out, "sweep_fingerprint", id.fingerprint) < 0)
            return afs_fail(err, n, "cannot write the merged file's attributes");
        return 0;
    }
    if (strcmp(id.fingerprint, first_id->fingerprint))
        return afs_fail(err, n, "%s: a shard of another sweep (fingerprint %s, profile '%s', grid "
                        "'%s'; the first input's: %s, '%s', '%s')", input, id.fingerprint,
                        id.profile, id.grid, first_id->fingerprint, first_id->profile,
                        first_id->grid);
    return 0;
}

/* afs_sweep_merge with the first input's identity in first and the
 * temporary file's name in tmp. */
static int merge(const char *out, int force, char *const *inputs, int ninputs, sweep_id *first,
                 char *tmp, size_t tn, char *err, size_t n)
{
    if (ninputs < 1)
        return afs_fail(err, n, "give the shard files to merge");
    if (!force && exists(out))
        return afs_fail(err, n, "%s exists: give another output, or --force to replace it", out);
    snprintf(tmp, tn, "%s.%ld.tmp", out, (long)getpid());
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return afs_fail(err, n, "%s: cannot create the merged file", tmp);
    hid_t points = H5Gcreate2(f, "points", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    merge_ctx m = {points, NULL, err, n, 0};
    int bad = points < 0 ? afs_fail(err, n, "%s: cannot create /points", tmp) : 0;
    for (int i = 0; !bad && i < ninputs; i++) {
        hid_t in = H5Fopen(inputs[i], H5F_ACC_RDONLY, H5P_DEFAULT);
        if (in < 0) {
            bad = afs_fail(err, n, "%s: cannot open as an HDF5 file", inputs[i]);
            break;
        }
        m.input = inputs[i];
        bad = same_sweep(in, inputs[i], f, i == 0, first, err, n);
        if (!bad && H5Literate_by_name(in, "points", H5_INDEX_NAME, H5_ITER_INC, NULL, merge_one,
                                       &m, H5P_DEFAULT) < 0) {
            if (!err[0]) /* the iteration itself failed, not a point */
                afs_fail(err, n, "%s: cannot read its /points", inputs[i]);
            bad = -1;
        }
        H5Fclose(in);
    }
    if (points >= 0)
        H5Gclose(points);
    if (H5Fclose(f) < 0 && !bad)
        bad = afs_fail(err, n, "%s: cannot write the merged file (a full disk?)", tmp);
    if (!bad && durable_rename(tmp, out, err, n))
        bad = -1;
    if (bad) {
        unlink(tmp);
        return -1;
    }
    printf("merged %ld of the sweep's %lld points into %s", m.copied, (long long)first->total, out);
    if (m.copied < first->total) {
        printf(": %lld missing (shards not run, or not finished)\n",
               (long long)first->total - m.copied);
        return 1;
    }
    printf("\n");
    return 0;
}

int afs_sweep_merge(const char *out, int force, char *const *inputs, int ninputs, char *err,
                    size_t n)
{
    char tmp[AFS_PATH_MAX + 48];
    sweep_id *first = malloc(sizeof *first);
    err[0] = 0;
    if (!first)
        return afs_fail(err, n, "out of memory");
    int rc = merge(out, force, inputs, ninputs, first, tmp, sizeof tmp, err, n);
    free(first);
    return rc;
}
