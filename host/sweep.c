#include "sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fail.h"
#include "core/policy_names.h"
#include "episode.h"
#include "h5attr.h"
#include "h5out.h"
#include "outlock.h"
#include "models/algos/agents.h"
#include "run.h"
#include "stop.h"
#include "train.h"

/* ---- The sweep file ---- */

typedef struct loader {
    afs_sweep *s;
    afs_sweep *scratch;    /* where the entries of the profiles not applied are checked */
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

/* The whole number that text is, all of it, when in [lo, hi]; else -1
 * (lo >= 0). */
static long whole(const char *text, long lo, long hi)
{
    char *end;
    errno = 0;
    long x = strtol(text, &end, 10);
    return end != text && !*end && !errno && x >= lo && x <= hi ? x : -1;
}

/* A positive int, or -1. */
static int positive(const char *v) { return (int)whole(v, 1, 1000000); }

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

/* Whether name is a method a sweep can run: a heuristic or a learning
 * method. */
static int check_method(const char *name, const char *where, char *err, size_t n)
{
    char known[512];
    if (afs_policy_from_name(name) < 0 && !afs_learner_find(name))
        return afs_fail(err, n, "%s: sweep.methods: '%s' is not one of %s", where, name,
                        afs_agent_names(known, sizeof known));
    return 0;
}

/* Each of values[count] of [sweep] entry `entry` as a value of key
 * SECTION.NAME, checked alone as any setting is (the relations between
 * keys are checked per point): a list is checked whole as it is read,
 * even when a profile or --set replaces it later. */
static int check_values(const char *entry, const char *key, char (*values)[AFS_SWEEP_VALUE_LEN],
                        int count, const char *where, char *err, size_t n)
{
    afs_config *probe = calloc(1, sizeof *probe);
    char assignment[256], at[AFS_ORIGIN_LEN + 128];
    int bad = !probe ? afs_fail(err, n, "out of memory") : 0;
    snprintf(at, sizeof at, "%s: sweep.%s", where, entry);
    for (int i = 0; !bad && i < count; i++) {
        snprintf(assignment, sizeof assignment, "%s=%s", key, values[i]);
        bad = afs_config_set_arg(probe, assignment, at, err, n);
    }
    free(probe);
    return bad ? -1 : 0;
}

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
        for (int i = 0; i < s->nmethods; i++)
            if (check_method(s->method[i], where, err, n))
                return -1;
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
        return check_values(name, "deadline.alpha", s->alpha, s->nalphas, where, err, n);
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
    return check_values(name, name, a->value, a->n, where, err, n);
}

static int apply_set(afs_sweep *s, const char *assignment, const char *where, char *err, size_t n);

/* An entry of a profile not applied, checked all the same (a typo there
 * would show only on the day that profile runs): alone, on a scratch
 * sweep whose swept keys are forgotten each time. */
static int check_unused(afs_sweep *scratch, const char *name, const char *value, const char *where,
                        char *err, size_t n)
{
    char assignment[AFS_SWEEP_VALUE_LEN * AFS_SWEEP_MAX_VALUES + 128];
    if ((size_t)snprintf(assignment, sizeof assignment, "%s=%s", name, value) >= sizeof assignment)
        return afs_fail(err, n, "%s: %s: a value longer than %zu characters", where, name,
                        sizeof assignment - strlen(name) - 2);
    scratch->naxes = 0;
    return apply_set(scratch, assignment, where, err, n);
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
        return check_unused(l->scratch, name, value, where, err, n) ? -1 : 1;
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

/* The names were checked as read (sweep_entry). */
static int check_methods(const afs_sweep *s, char *err, size_t n)
{
    char known[512];
    if (!s->nmethods)
        return afs_fail(err, n, "the sweep names no methods: add `methods = NAME, ...` to "
                        "[sweep] (NAME: %s)", afs_agent_names(known, sizeof known));
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
        if (!rc && afs_learner_find(method) &&
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
    l->scratch = l ? calloc(1, sizeof *l->scratch) : NULL;
    if (!l || !l->scratch) {
        free(l);
        return afs_fail(err, n, "out of memory");
    }
    afs_config_defaults(&l->scratch->base);
    l->s = s;
    l->profile = profile;
    int rc = afs_config_load_with(&s->base, path, extra_entry, l, err, n);
    for (int i = 0; !rc && i < l->nsets; i++)
        rc = apply_set(s, l->sets[i], l->where[i], err, n);
    free(l->scratch);
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

int afs_sweep_list(const afs_sweep *s, int shard, int shards, FILE *out, char *err, size_t n)
{
    afs_config *cfg = malloc(sizeof *cfg);
    const char *method;
    char desc[512];
    int rc = cfg ? 0 : afs_fail(err, n, "out of memory");
    for (long p = shard; !rc && p < afs_sweep_points(s); p += shards) {
        rc = afs_sweep_point(s, p, cfg, &method, desc, sizeof desc, err, n);
        if (!rc)
            fprintf(out, "p%06ld  %s\n", p, desc);
    }
    free(cfg);
    return rc;
}

int afs_sweep_shard(const char *arg, const char *task_id, const char *task_min,
                    const char *task_count, int *shard, int *shards, char *err, size_t n)
{
    *shard = 0;
    *shards = 1;
    if (arg) {
        const char *slash = strchr(arg, '/');
        char first[32];
        long i = -1, of = -1;
        if (slash && (size_t)(slash - arg) < sizeof first) {
            snprintf(first, sizeof first, "%.*s", (int)(slash - arg), arg);
            i = whole(first, 0, INT_MAX);
            of = whole(slash + 1, 1, INT_MAX);
        }
        if (i < 0 || of < 0 || i >= of)
            return afs_fail(err, n, "--shard %s: expected I/N with 0 <= I < N, whole numbers up "
                            "to %d, e.g. 0/4", arg, INT_MAX);
        *shard = (int)i;
        *shards = (int)of;
        return 0;
    }
    if (!task_id)
        return 0;
    if (!task_count)
        return afs_fail(err, n, "SLURM_ARRAY_TASK_ID is %s but SLURM_ARRAY_TASK_COUNT is not set: "
                        "give --shard I/N", task_id);
    /* Every variable a whole number: atoi would read "abc" as task 0 and
     * run another task's shard. */
    const char *names[3] = {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT"};
    const char *text[3] = {task_id, task_min ? task_min : "0", task_count};
    long v[3];
    for (int k = 0; k < 3; k++)
        if ((v[k] = whole(text[k], k == 2, INT_MAX)) < 0)
            return afs_fail(err, n, "%s='%s': not a whole number%s: give --shard I/N", names[k],
                            text[k], k == 2 ? " from 1" : "");
    if (v[0] - v[1] < 0 || v[0] - v[1] >= v[2])
        return afs_fail(err, n, "SLURM_ARRAY_TASK_ID %s (MIN %s), COUNT %s: not a shard I/N; "
                        "give --shard I/N", task_id, task_min ? task_min : "unset", task_count);
    *shard = (int)(v[0] - v[1]);
    *shards = (int)v[2];
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

/* What is at path: 0 nothing, 1 a regular file (through links), -1
 * anything else (a folder, a device, a FIFO, a link to nothing), which
 * afsim neither reads as its own file nor replaces. */
static int file_at(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISREG(st.st_mode) ? 1 : -1;
    return lstat(path, &st) == 0 ? -1 : 0;
}

static int make_dir(const char *path, char *err, size_t n)
{
    struct stat st;
    if (mkdir(path, 0777) && errno != EEXIST)
        return afs_fail(err, n, "%s: cannot make the folder: %s", path, strerror(errno));
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return afs_fail(err, n, "%s exists and is not a folder: give another --out", path);
    return 0;
}

/* Puts the file at from in the place of to once from's bytes are on the
 * disk (a finished point or shard file survives a crash of the machine,
 * not only of afsim), and only where to is a regular file or nothing
 * (afs_check_output, the check of every output: never over a
 * device, a FIFO or a folder). from is removed when it fails. */
static int durable_rename(const char *from, const char *to, char *err, size_t n)
{
    int fd = open(from, O_RDONLY | O_CLOEXEC);
    int synced = fd >= 0 && fsync(fd) == 0, e = errno;
    if (fd >= 0)
        close(fd);
    int rc = !synced ? afs_fail(err, n, "%s: cannot write to disk: %s", from, strerror(e))
             : afs_check_output(to, "--out folder", 1, err, n) ? -1
             : rename(from, to) ? afs_fail(err, n, "%s: cannot rename to %s: %s", from, to,
                                           strerror(errno))
             : 0;
    if (rc)
        unlink(from);
    return rc;
}

/* A new HDF5 file in memory (the core driver, no backing store): HDF5
 * never writes the disk itself, so a full disk fails in write_image, in
 * write(2) with the system's reason, never inside H5Ocopy (HDF5 1.10
 * crashes there when a write fails, and leaves its file behind). */
static hid_t memory_file(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
    /* HDF5 still tries to open the name (O_RDWR) before it makes the
     * file: one in a folder that is not there. */
    if (fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) >= 0)
        f = H5Fcreate("/afsim-in-memory: no such folder/file.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    return f;
}

/* Closes memory file f and puts its bytes at path (what: "the shard
 * file", for messages): written to PATH.PID.tmp, then durable_rename. 0,
 * or -1 with err naming the file and the system's reason (a full disk),
 * nothing left beside path. */
static int write_image(hid_t f, const char *path, const char *what, char *err, size_t n)
{
    char tmp[AFS_PATH_MAX + 48];
    ssize_t size = H5Fflush(f, H5F_SCOPE_LOCAL) < 0 ? -1 : H5Fget_file_image(f, NULL, 0);
    char *image = size > 0 ? malloc((size_t)size) : NULL;
    int made = image && H5Fget_file_image(f, image, (size_t)size) == size;
    H5Fclose(f);
    if (!made) {
        free(image);
        return afs_fail(err, n, "%s: cannot make %s in memory (%s)", path, what,
                        size > 0 ? "out of memory" : "HDF5 failed");
    }
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    unlink(tmp); /* left by a killed run of the same pid: never a finished file */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644), e = errno;
    size_t put = 0;
    while (fd >= 0 && put < (size_t)size) {
        ssize_t w = write(fd, image + put, (size_t)size - put);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = w < 0 ? errno : ENOSPC; /* nothing written and no reason: no room */
            break;
        }
        put += (size_t)w;
    }
    free(image);
    if (fd >= 0 && close(fd) != 0 && put == (size_t)size) {
        e = errno;
        put = 0;
    }
    if (fd < 0 || put < (size_t)size) {
        if (fd >= 0)
            unlink(tmp);
        return afs_fail(err, n, "%s: cannot write %s: %s", tmp, what, strerror(e));
    }
    return durable_rename(tmp, path, err, n);
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

/* What the sweep sets in point p's configuration before a learning
 * method trains: its training file DIR/points/pP-train.h5, with the
 * checkpoint beside it. */
static int train_settings(const char *dir, long p, afs_config *cfg, char *err, size_t n)
{
    char train[AFS_PATH_MAX];
    point_path(train, sizeof train, dir, p, "-train.h5");
    cfg->run.overwrite = 1;
    return set(cfg, "run", "out", train, err, n) || set(cfg, "train", "checkpoint", "", err, n);
}

/* What it sets before the evaluation: the policy (the method, or the
 * checkpoint train_settings named), DIR/points/pP.part.h5 and the held-out
 * episodes. The configuration a finished point's file holds (point_is). */
static int eval_settings(const afs_sweep *s, const char *dir, long p, const char *method,
                         afs_config *cfg, char *err, size_t n)
{
    char part[AFS_PATH_MAX], ckpt[AFS_PATH_MAX], policy[AFS_PATH_MAX + 8], episodes[16];
    point_path(part, sizeof part, dir, p, ".part.h5");
    snprintf(policy, sizeof policy, "%s", method);
    if (afs_learner_find(method)) {
        afs_train_checkpoint_path(cfg, ckpt, sizeof ckpt);
        snprintf(policy, sizeof policy, "ckpt:%s", ckpt);
    }
    snprintf(episodes, sizeof episodes, "%d", s->eval_episodes);
    cfg->run.overwrite = 1;
    cfg->run.trace = 0;
    return set(cfg, "run", "policies", policy, err, n) || set(cfg, "run", "out", part, err, n) ||
           set(cfg, "run", "episodes", episodes, err, n);
}

/* Point p, trained (a learning method) and evaluated on held-out episodes.
 * Its evaluation goes to DIR/points/pP.part.h5, renamed to pP.h5 once
 * whole: that file, holding this point's configuration (point_is), marks
 * the point finished, so a point cut short by a kill is run again from
 * its start. */
static int run_point(const afs_sweep *s, const char *dir, long p, afs_backend *b,
                     const char *method, afs_config *cfg, char *err, size_t n)
{
    char part[AFS_PATH_MAX], done[AFS_PATH_MAX];
    point_path(part, sizeof part, dir, p, ".part.h5");
    point_path(done, sizeof done, dir, p, ".h5");
    int rc = 0;
    if (!strcmp(method, "deadline") && s->nalphas > 0)
        rc = tune_deadline(s, cfg, b, err, n);
    if (!rc && afs_learner_find(method)) {
        afs_train_options t = {method, NULL, AFS_PROGRESS_NONE, NULL, "afsim sweep", 1};
        rc = train_settings(dir, p, cfg, err, n) ? 1 : afs_train(cfg, b, &t, err, n);
    }
    if (!rc && eval_settings(s, dir, p, method, cfg, err, n))
        rc = 1;
    if (!rc) {
        afs_run_options o = {AFS_PROGRESS_NONE, NULL, "afsim sweep", 1};
        rc = afs_run(cfg, b, &o, err, n);
    }
    if (!rc && durable_rename(part, done, err, n))
        rc = 1;
    if (rc)
        unlink(part); /* never a finished point: left, it would only take room */
    return rc;
}

/* Copies finished point p into group `points` of a shard file, with a
 * learning method's training curves (as train/) and what the point is as
 * attributes. */
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
    int learns = afs_learner_find(method) != NULL;
    free(cfg);
    point_path(done, sizeof done, dir, p, ".h5");
    point_path(train, sizeof train, dir, p, "-train.h5");
    snprintf(name, sizeof name, "p%06ld", p);
    int bad = 0;
    hid_t src = H5Fopen(done, H5F_ACC_RDONLY, H5P_DEFAULT);
    bad = src < 0 || H5Ocopy(src, ".", points, name, H5P_DEFAULT, H5P_DEFAULT) < 0;
    if (src >= 0)
        H5Fclose(src);
    if (!bad && learns && file_at(train) == 1) {
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
    return bad ? afs_fail(err, n, "%s: cannot copy point %ld into the shard file (out of "
                          "memory? a point file damaged since the start?)", done, p) : 0;
}

/* DIR/shard-<i>-of-<N>.h5 made anew from the shard's finished points, in
 * memory, then written beside and renamed over the old one, so it is
 * always whole. */
static int write_shard(const afs_sweep *s, const char *dir, int shard, int shards, long *count,
                       char *err, size_t n)
{
    char path[AFS_PATH_MAX], done[AFS_PATH_MAX], grid[4096], id[20];
    snprintf(path, sizeof path, "%s/shard-%d-of-%d.h5", dir, shard, shards);
    *count = 0;
    hid_t f = memory_file();
    if (f < 0)
        return afs_fail(err, n, "%s: cannot make the shard file in memory", path);
    hid_t points = H5Gcreate2(f, "points", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int64_t total = afs_sweep_points(s), at[2] = {shard, shards};
    describe_grid(s, grid, sizeof grid);
    fingerprint_text(s, id, sizeof id);
    int bad = points < 0 || afs_h5_attr_write(f, "sweep_points", H5T_NATIVE_INT64, 0, &total) < 0 ||
              afs_h5_attr_write(f, "sweep_shard", H5T_NATIVE_INT64, 2, at) < 0 ||
              afs_h5_attr_write_string(f, "sweep_grid", grid) < 0 ||
              afs_h5_attr_write_string(f, "sweep_profile", s->profile) < 0 ||
              afs_h5_attr_write_string(f, "sweep_fingerprint", id) < 0
              ? afs_fail(err, n, "%s: cannot make the shard file's attributes in memory", path) : 0;
    for (long p = shard; !bad && p < total; p += shards) {
        point_path(done, sizeof done, dir, p, ".h5");
        if (!exists(done))
            continue;
        bad = copy_point(s, dir, p, points, err, n);
        *count += !bad;
    }
    if (points >= 0)
        H5Gclose(points);
    if (bad) {
        H5Fclose(f);
        return -1;
    }
    return write_image(f, path, "the shard file", err, n);
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
 * configuration are never taken for this sweep's finished points. Called
 * under lock_dir's gate: two first runs never both write it. */
static int claim_dir(const afs_sweep *s, const char *dir, char *err, size_t n)
{
    char path[AFS_PATH_MAX + 16], tmp[AFS_PATH_MAX + 48], id[20], grid[4096], line[128];
    snprintf(path, sizeof path, "%s/sweep.id", dir);
    fingerprint_text(s, id, sizeof id);
    int at = file_at(path);
    if (at < 0)
        return afs_fail(err, n, "%s is not a regular file: remove it, or give another --out", path);
    FILE *f = at ? fopen(path, "r") : NULL;
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
    unlink(tmp); /* a killed run's of the same pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int bad = !f || fprintf(f, "%s\ngrid: %s\nprofile: %s\n", id, grid, s->profile) < 0, e = errno;
    if (f && fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    } else if (!f && fd >= 0) {
        close(fd);
    }
    if (bad) {
        unlink(tmp);
        return afs_fail(err, n, "%s: cannot write: %s", tmp, strerror(e));
    }
    return durable_rename(tmp, path, err, n);
}

/* The refusal of a run of `shards` shards on dir while a run of `other`
 * shards (process pid) goes on there: named by that run's shard lock. */
static int other_run(const char *dir, long other, long pid, int shards, char *err, size_t n)
{
    char holder[512] = "", out[AFS_PATH_MAX + 300];
    DIR *d = opendir(dir);
    for (struct dirent *e; d && !holder[0] && (e = readdir(d));) {
        int i, of, end = 0;
        if (sscanf(e->d_name, "shard-%d-of-%d.h5.lock%n", &i, &of, &end) != 2 || e->d_name[end] ||
            of != other)
            continue;
        snprintf(out, sizeof out, "%s/shard-%d-of-%d.h5", dir, i, of);
        afs_outlock_holder(out, holder, sizeof holder);
    }
    if (d)
        closedir(d);
    if (!holder[0])
        snprintf(holder, sizeof holder, "pid %ld", pid);
    return afs_fail(err, n, "%s is being swept by another run with --shard I/%ld (%s): runs on "
                    "one folder at once must be shards I/N of one N (here N = %d), or they would "
                    "run the same points; wait for it to end, or give another --out", dir, other,
                    holder, shards);
}

/* Runs on one folder at once: shards of one count N may go on together
 * (their points are disjoint, and each shard file has its own lock), a
 * run of another count may not (it would run the same points at the same
 * moment). Each run holds a read lock (fcntl: shared, and it can tell its
 * holder's pid) on byte N of DIR/sweep.lock for its whole life, taken
 * under a short write lock on byte 0, the gate, under which it also checks
 * that no other byte is held and claims the folder (sweep.id). The
 * kernel drops the locks of a process that dies, SIGKILL included. The
 * lock's file descriptor (closing it lets go), or -1 with err. */
static int lock_dir(const afs_sweep *s, const char *dir, int shards, char *err, size_t n)
{
    char path[AFS_PATH_MAX + 16], why[1200];
    snprintf(path, sizeof path, "%s/sweep.lock", dir);
    int fd = afs_outlock_open(path, why, sizeof why);
    if (fd < 0)
        return afs_fail(err, n, "%s: %s", dir, why);
    struct flock gate = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    struct flock mine = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = shards, .l_len = 1};
    int rc = fcntl(fd, F_SETLKW, &gate) ? afs_fail(err, n, "%s: cannot lock: %s", path,
                                                   strerror(errno)) : 0;
    /* bytes 1 .. N-1, then N+1 onwards (a length of 0 runs to the end) */
    for (int side = shards > 1 ? 0 : 1; !rc && side < 2; side++) {
        struct flock other = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                              .l_start = side ? (off_t)shards + 1 : 1,
                              .l_len = side ? 0 : (off_t)shards - 1};
        if (fcntl(fd, F_GETLK, &other))
            rc = afs_fail(err, n, "%s: cannot test the lock: %s", path, strerror(errno));
        else if (other.l_type != F_UNLCK)
            rc = other_run(dir, (long)other.l_start, (long)other.l_pid, shards, err, n);
    }
    if (!rc && fcntl(fd, F_SETLK, &mine))
        rc = afs_fail(err, n, "%s: cannot lock: %s", path, strerror(errno));
    if (!rc)
        rc = claim_dir(s, dir, err, n);
    gate.l_type = F_UNLCK;
    fcntl(fd, F_SETLK, &gate);
    if (rc) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Keys a finished point's file may hold with other values than the point's
 * configuration made now: paths into the folder (moved since, perhaps),
 * and what the sweep sets for each run. */
static const char *const free_keys[] = {"run.out", "run.policies", "run.overwrite", "run.trace",
                                        "run.threads", "train.checkpoint", NULL};
enum { NFREE = sizeof free_keys / sizeof *free_keys };

/* Says in why how a file is not the point it claims to be; 0. */
static int not_the_point(char *why, size_t wn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int not_the_point(char *why, size_t wn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, wn, fmt, ap);
    va_end(ap);
    return 0;
}

/* Whether the file at path is point p of this sweep: its configuration
 * (root attributes, every key) is the one the sweep makes for p now,
 * free_keys aside, and it holds the run of p's method. 1 when it is; 0
 * when not, with why and the suffix it is set aside with; -1 on an error
 * (err). */
static int point_is(const afs_sweep *s, const char *dir, long p, const char *path,
                    const char **aside, char *why, size_t wn, char *err, size_t n)
{
    afs_config *want = malloc(sizeof *want), *got = malloc(sizeof *got);
    const char *method, *keys[NFREE + 1];
    char desc[512], a[AFS_PATH_MAX + 64], b[AFS_PATH_MAX + 64], e[1024];
    int rc = !want || !got ? afs_fail(err, n, "out of memory") : 1;
    if (rc > 0 && (afs_sweep_point(s, p, want, &method, desc, sizeof desc, err, n) ||
                   (afs_learner_find(method) && train_settings(dir, p, want, err, n)) ||
                   eval_settings(s, dir, p, method, want, err, n)))
        rc = -1;
    hid_t f = rc > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    *aside = ".other.h5";
    if (rc > 0 && f < 0) {
        *aside = ".damaged.h5";
        rc = not_the_point(why, wn, "cannot be read");
    } else if (rc > 0 && afs_h5_config_read(f, path, got, e, sizeof e)) {
        rc = not_the_point(why, wn, "holds no configuration of this afsim (%s)", e);
    } else if (rc > 0) {
        memcpy(keys, free_keys, sizeof free_keys); /* with its NULL at NFREE - 1 */
        keys[NFREE - 1] = !strcmp(method, "deadline") ? "deadline.alpha" : NULL; /* tuned */
        keys[NFREE] = NULL;
        int k = afs_config_first_difference(want, got, keys);
        char run[AFS_PATH_MAX + 8];
        snprintf(run, sizeof run, "runs/%s", want->run.policy_label[0]);
        if (k >= 0) {
            const afs_config_key *key = afs_config_key_at(k);
            afs_config_format(got, key, a, sizeof a);
            afs_config_format(want, key, b, sizeof b);
            rc = not_the_point(why, wn, "was made with %s.%s = %s, this sweep's point %ld (%s) "
                               "has %s", key->section, key->name, a, p, desc, b);
        } else if (H5Lexists(f, "runs", H5P_DEFAULT) <= 0 || H5Lexists(f, run, H5P_DEFAULT) <= 0) {
            rc = not_the_point(why, wn, "holds no run %s: it is another point's, not point %ld "
                               "(%s)", want->run.policy_label[0], p, desc);
        }
    }
    if (f >= 0)
        H5Fclose(f);
    free(want);
    free(got);
    return rc;
}

/* Whether point p is finished: 1, or 0 to run it. A point file that HDF5
 * cannot open (the machine went down before its bytes reached the disk),
 * or that is not this sweep's point p (copied from another sweep or over
 * another point, or made before sweep.id was removed and the sweep
 * changed), is set aside with a message, and the point runs again. -1
 * with err when the path holds what is not a regular file. */
static int finished_point(const afs_sweep *s, const char *dir, long p, char *err, size_t n)
{
    char done[AFS_PATH_MAX], aside[AFS_PATH_MAX + 16], why[2 * AFS_PATH_MAX + 1024];
    const char *suffix;
    point_path(done, sizeof done, dir, p, ".h5");
    int at = file_at(done);
    if (at <= 0)
        return at ? afs_fail(err, n, "%s is not a regular file: remove it (point %ld's results "
                             "go there)", done, p) : 0;
    int is = point_is(s, dir, p, done, &suffix, why, sizeof why, err, n);
    if (is)
        return is;
    point_path(aside, sizeof aside, dir, p, suffix);
    fprintf(stderr, "afsim: sweep: %s %s: moved to %s, the point runs again\n", done, why, aside);
    if (rename(done, aside))
        return afs_fail(err, n, "%s: cannot move it aside to %s: %s", done, aside, strerror(errno));
    return 0;
}

/* The shard's points run in order, the finished ones skipped; the shard
 * file rewritten after each. 0, 1 (err) or 130 (stopped). */
static int run_shard(const afs_sweep *s, const char *dir, int shard, int shards, afs_backend *b,
                     int progress, char *err, size_t n)
{
    char done[AFS_PATH_MAX], desc[512], left[32];
    long total = afs_sweep_points(s), mine = 0, finished = 0, ran = 0;
    for (long p = shard; p < total; p += shards) {
        int f = finished_point(s, dir, p, err, n);
        if (f < 0)
            return 1;
        mine++;
        finished += f;
    }
    if (write_shard(s, dir, shard, shards, &finished, err, n))
        return 1;
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
    if (rc == 130)
        fprintf(stderr, "afsim: sweep stopped by a signal: %ld of the shard's %ld points are "
                "finished; run the same command to go on\n", finished + ran, mine);
    return rc;
}

int afs_sweep_run(const afs_sweep *s, const char *dir, int shard, int shards, afs_backend *b,
                  int progress, char *err, size_t n)
{
    char points_dir[AFS_PATH_MAX], shard_path[AFS_PATH_MAX + 64], what[64];
    /* room for the longest name made in it (a shard's temporary file:
     * "/shard-N-of-N.h5.PID.tmp", 2 x 10 digits and a pid) within
     * afs_check_output's limit */
    if (strlen(dir) >= AFS_PATH_MAX - 64 - 64 || strchr(dir, ',')) {
        afs_fail(err, n, "--out %s: %s", dir, strchr(dir, ',') ? "a folder without commas, "
                 "please (trained policies are named in comma-separated lists)" : "too long a path");
        return 1;
    }
    snprintf(points_dir, sizeof points_dir, "%s/points", dir);
    snprintf(shard_path, sizeof shard_path, "%s/shard-%d-of-%d.h5", dir, shard, shards);
    snprintf(what, sizeof what, "afsim sweep --shard %d/%d", shard, shards);
    if (make_dir(dir, err, n))
        return 1;
    int dir_lock = lock_dir(s, dir, shards, err, n);
    if (dir_lock < 0)
        return 1;
    afs_outlock lock = {-1, ""};
    int rc = make_dir(points_dir, err, n) || afs_outlock_take(&lock, shard_path, what, err, n)
             ? 1 : run_shard(s, dir, shard, shards, b, progress, err, n);
    afs_outlock_drop(&lock);
    close(dir_lock);
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
        afs_fail(m->err, m->n, "%s: cannot copy point %s (out of memory? a damaged shard?)",
                 m->input, name);
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

/* afs_sweep_merge with the first input's identity in first. */
static int merge(const char *out, int force, char *const *inputs, int ninputs, sweep_id *first,
                 char *err, size_t n)
{
    if (ninputs < 1)
        return afs_fail(err, n, "give the shard files to merge");
    /* A regular file or nothing, --force or not: never a device (as root,
     * `merge /dev/full` would have replaced the device node). */
    if (afs_check_output(out, "output file", force, err, n))
        return -1;
    hid_t f = memory_file();
    if (f < 0)
        return afs_fail(err, n, "%s: cannot make the merged file in memory", out);
    hid_t points = H5Gcreate2(f, "points", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    merge_ctx m = {points, NULL, err, n, 0};
    int bad = points < 0 ? afs_fail(err, n, "%s: cannot make /points in memory", out) : 0;
    for (int i = 0; !bad && i < ninputs; i++) {
        if (file_at(inputs[i]) != 1) { /* a FIFO would hang H5Fopen */
            bad = afs_fail(err, n, "%s: %s", inputs[i], file_at(inputs[i]) ? "not a regular file"
                           : "no such file");
            break;
        }
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
    if (bad) {
        H5Fclose(f);
        return -1;
    }
    if (write_image(f, out, "the merged file", err, n))
        return -1;
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
    sweep_id *first = malloc(sizeof *first);
    err[0] = 0;
    if (!first)
        return afs_fail(err, n, "out of memory");
    int rc = merge(out, force, inputs, ninputs, first, err, n);
    free(first);
    return rc;
}
