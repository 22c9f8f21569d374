/* Two sweeps on one results folder (host/sweep.c, docs/sweeps.md): the
 * folder's sweep.id names the sweep whose points it holds, so a sweep with
 * another configuration or grid is refused there and leaves every file as
 * it was, while the same sweep run again resumes: its finished points are
 * kept, not run again. A few heuristic points of two slots, in this
 * process. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "host/sweep.h"

#define POINTS 4

static char dir[] = "/tmp/afsim-sweep-folder-XXXXXX";

static void make_dir(void) { cr_assert_not_null(mkdtemp(dir)); }
static void remove_dir(void) { test_remove_dir(dir); }
TestSuite(sweep_folder, .init = make_dir, .fini = remove_dir);

/* 2 sizes x 2 heuristics x 1 seed = POINTS points. */
static const char *grid_text =
    "[sweep]\nenv.agents = %s\nmethods = greedy, random\nseeds = 1\neval_episodes = 1\n"
    "[run]\nenvs = 1\n[env]\nslots = 2\n";

/* Runs the sweep of the grid with these swept sizes (and one --set, or
 * NULL) into DIR/out; its exit code, the message in err. */
static int sweep(const char *sizes, const char *set, char *err, size_t n)
{
    char ini[600], out[600];
    snprintf(ini, sizeof ini, "%s/grid-%s.ini", dir, sizes);
    for (char *c = ini + strlen(dir); *c; c++)
        if (*c == ' ' || *c == ',')
            *c = '_';
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fprintf(f, grid_text, sizes);
    fclose(f);
    snprintf(out, sizeof out, "%s/out", dir);
    afs_sweep *s = malloc(sizeof *s);
    cr_assert_not_null(s);
    char *sets[1] = {(char *)set};
    cr_assert_eq(afs_sweep_load(s, ini, NULL, sets, set ? 1 : 0, err, n), 0, "%s", err);
    afs_backend *b = afs_backend_cpu_create(1);
    int rc = afs_sweep_run(s, out, 0, 1, b, 0, err, n);
    b->destroy(b);
    free(s);
    return rc;
}

/* The folder's files that a refused sweep must leave alone. */
static const char *const kept[] = {"sweep.id", "shard-0-of-1.h5", "points/p000000.h5",
                                   "points/p000001.h5", "points/p000002.h5", "points/p000003.h5"};
#define KEPT (sizeof kept / sizeof *kept)

/* The whole of DIR/out/name, read into a new buffer; its size in *len. */
static char *slurp(const char *name, long *len)
{
    char path[700];
    snprintf(path, sizeof path, "%s/out/%s", dir, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s is missing", path);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)*len + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return buf;
}

static struct stat stat_of(const char *name)
{
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/out/%s", dir, name);
    cr_assert_eq(stat(path, &st), 0, "%s is missing", path);
    return st;
}

/* A sweep of another configuration (--set env.slots=3) or another grid
 * (sizes 3, 5) on a folder that holds a first sweep's points: refused with
 * exit 1 and a message naming the folder, every file of the first sweep
 * unchanged and no point added. Taking the folder's finished points for its
 * own would relabel results made under another configuration. */
Test(sweep_folder, a_sweep_of_another_configuration_or_grid_is_refused_and_changes_nothing,
     .timeout = 120)
{
    char err[2048];
    cr_assert_eq(sweep("3, 4", NULL, err, sizeof err), 0, "%s", err);
    char *before[KEPT];
    long len[KEPT];
    for (size_t k = 0; k < KEPT; k++)
        before[k] = slurp(kept[k], &len[k]);
    static const char *const sizes[2] = {"3, 4", "3, 5"};
    static const char *const sets[2] = {"env.slots=3", NULL};
    for (int other = 0; other < 2; other++) {
        err[0] = 0;
        int rc = sweep(sizes[other], sets[other], err, sizeof err);
        cr_assert_eq(rc, 1, "%s: exit %d, not refused (%s)", other ? "another grid" : "another --set",
                     rc, err);
        cr_assert_not_null(strstr(err, dir), "the message names no folder: %s", err);
        for (size_t k = 0; k < KEPT; k++) {
            long now_len;
            char *now = slurp(kept[k], &now_len);
            cr_assert(now_len == len[k] && !memcmp(now, before[k], (size_t)len[k]),
                      "%s changed by the refused sweep", kept[k]);
            free(now);
        }
        char path[700];
        snprintf(path, sizeof path, "%s/out/points/p%06d.h5", dir, POINTS);
        struct stat st;
        cr_assert_neq(stat(path, &st), 0, "the refused sweep added %s", path);
    }
    for (size_t k = 0; k < KEPT; k++)
        free(before[k]);
}

/* The same sweep again resumes: a finished point is not run again (its
 * file stays the same inode, with the same modification time), a point
 * whose file is gone runs again, and the folder's sweep.id is unchanged. */
Test(sweep_folder, the_same_sweep_again_runs_only_its_unfinished_points, .timeout = 120)
{
    char err[2048], gone[700];
    cr_assert_eq(sweep("3, 4", NULL, err, sizeof err), 0, "%s", err);
    long id_len;
    char *id = slurp("sweep.id", &id_len);
    snprintf(gone, sizeof gone, "%s/out/points/p000002.h5", dir);
    cr_assert_eq(unlink(gone), 0);
    struct stat st[POINTS];
    for (int p = 0; p < POINTS; p++)
        if (p != 2)
            st[p] = stat_of(kept[2 + p]);
    cr_assert_eq(sweep("3, 4", NULL, err, sizeof err), 0, "%s", err);
    for (int p = 0; p < POINTS; p++) {
        struct stat now = stat_of(kept[2 + p]);
        if (p == 2)
            continue; /* ran again: stat_of found it */
        cr_assert(now.st_ino == st[p].st_ino && now.st_mtim.tv_sec == st[p].st_mtim.tv_sec &&
                      now.st_mtim.tv_nsec == st[p].st_mtim.tv_nsec,
                  "%s was run again", kept[2 + p]);
    }
    long again_len;
    char *again = slurp("sweep.id", &again_len);
    cr_assert(again_len == id_len && !memcmp(again, id, (size_t)id_len), "sweep.id changed");
    free(id);
    free(again);
}
