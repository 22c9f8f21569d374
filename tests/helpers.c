#include "helpers.h"
#include "host/metrics.h"

#define _DEFAULT_SOURCE /* rmdir, unlink */
#include <criterion/criterion.h>
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

afs_env_params test_params(int agents)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    cfg.env.agents = agents;
    cfg.env.idle_prob = 0.0f;
    return cfg.env;
}

void test_env_open(afs_env *env, afs_backend **b, const afs_env_params *p, int envs,
                   uint32_t seed)
{
    *b = afs_backend_cpu_create(1);
    cr_assert_not_null(*b);
    cr_assert_eq(afs_env_init(env, *b, p, envs, seed), 0);
    afs_env_begin_episode(env, *b, 0);
}

void test_env_close(afs_env *env, afs_backend *b)
{
    afs_env_free(env, b);
    b->destroy(b);
}

void test_exact_open(afs_env *env, afs_backend **b, int local, float dl)
{
    afs_env_params p = test_params(1);
    p.r_up = 64.0f;
    p.cold_base = 0.25f;
    p.cold_per_mb = 1.0f / 1024.0f;
    p.mem_base_mb = 128.0f;
    p.w1 = 0.25f;
    p.w2 = 0.75f;
    p.rho = 2.0f;
    test_env_open(env, b, &p, 1, 5);
    env->f[0] = 2.0f;
    env->w[0] = 3.0f;
    env->f_c[0] = 32.0f;
    env->r_re[0] = 64.0f;
    test_give(env, 0, local ? 2.0f : 0.0f, 1.0f, dl, 0.5f, 0);
    env->d_idle[0] = 0.25f;
}

void test_give(afs_env *env, size_t i, float z, float k, float deadline, float c, int type)
{
    env->flags[i] = AFS_F_HAS;
    env->z[i] = z;
    env->k[i] = k;
    env->dl[i] = deadline;
    env->c[i] = c;
    env->type[i] = type;
    env->d_idle[i] = 0.0f;
}

void test_take(afs_env *env, size_t i)
{
    env->flags[i] = 0;
    env->z[i] = env->k[i] = env->dl[i] = env->c[i] = env->d_idle[i] = 0.0f;
    env->type[i] = 0;
}

void test_step(afs_env *env, afs_backend *b, const uint8_t *actions)
{
    b->env_step(b, env, actions);
}

uint64_t test_state_hash(const afs_env *env)
{
    const unsigned char *s = env->blob;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < env->blob_bytes; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void test_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        char path[1024];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path))
            rmdir(path);
    }
    closedir(d);
    rmdir(dir);
}

afs_backend *test_cuda_or_skip(const char *what)
{
    char why[512] = "this build has no CUDA backend";
    afs_backend *b = afs_cuda_built() ? afs_backend_cuda_create(why, sizeof why) : NULL;
    if (b)
        return b;
    const char *require = getenv("AFSIM_REQUIRE_GPU");
    if (require && *require && strcmp(require, "0"))
        cr_assert_fail("%s: AFSIM_REQUIRE_GPU is set and the CUDA backend cannot start: %s",
                       what, why);
    /* Printed directly: Criterion hides skip reasons unless --verbose, and a
     * cr_log_warn would turn the run's exit status to failure. */
    fprintf(stderr, "[SKIP] %s skipped: %s\n", what, why);
    cr_skip_test("no usable CUDA device: %s", why);
    return NULL;
}

#define EMPTY_GUARD 64        /* floats of the guarded buffer */
#define EMPTY_MARK -4242.0f

/* Checks that the guarded buffer still holds only marks. */
static void expect_marks(afs_backend *b, const float *dev, const char *op)
{
    float host[EMPTY_GUARD];
    b->to_host(b, host, dev, sizeof host);
    for (int i = 0; i < EMPTY_GUARD; i++)
        cr_assert_eq(host[i], EMPTY_MARK, "%s backend: %s with empty work wrote element %d",
                     b->name, op, i);
}

/* A guarded buffer on the backend, every float a mark; the caller releases
 * it. */
static float *marked_buffer(afs_backend *b)
{
    float host[EMPTY_GUARD];
    for (int i = 0; i < EMPTY_GUARD; i++)
        host[i] = EMPTY_MARK;
    float *m = b->alloc(b, sizeof host);
    cr_assert_not_null(m);
    b->to_backend(b, m, host, sizeof host);
    return m;
}

void test_groups_empty_work(afs_backend *b)
{
    float *m = marked_buffer(b);
    int16_t *sm = (int16_t *)(void *)m;
    uint8_t *bm = (uint8_t *)m;
    afs_env none;
    memset(&none, 0, sizeof none);
    none.M = 4;
    none.pos_x = none.pos_y = m;
    b->form_groups(b, &none, 3, 100.0f, bm, bm + 8, sm + 16, (int32_t *)(void *)(m + 32));
    b->group_gather(b, 0, 3, 3, 2, sm, m, m + 8);
    b->group_gather_backward(b, 0, 3, 3, 2, sm, m, m + 8);
    b->group_mean(b, 0, 3, 3, 2, sm, m, m, m + 8, m + 16);
    b->group_mean_backward(b, 0, 3, 3, 2, sm, m, m, m + 8, m + 16);
    b->group_average(b, 0, 3, 3, sm, m, m + 8);
    b->row_mean_abs_diff(b, 0, 3, m, m, m + 8);
    b->synchronize(b);
    expect_marks(b, m, "a group operation");
    b->release(b, m);
}

void test_empty_work(afs_backend *b)
{
    float *m = marked_buffer(b);
    afs_adam hp = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, 0.001f};
    for (int shape = 0; shape < 3; shape++) { /* G, B or out is 0 */
        int G = shape == 0 ? 0 : 1, B = shape == 1 ? 0 : 2, out = shape == 2 ? 0 : 3;
        b->linear_forward(b, G, B, 4, out, m, m, m, m);
        b->linear_backward(b, G, B, 4, out, m, m, m, NULL, m, m);
    }
    b->activation_forward(b, AFS_ACT_TANH, 0, m, m);
    b->activation_backward(b, AFS_ACT_TANH, 0, m, m, m);
    b->softmax_forward(b, 0, 2, m, m);
    b->softmax_forward(b, 3, 0, m, m);
    b->softmax_backward(b, 0, 2, m, m, m);
    b->gumbel_softmax_forward(b, 0, 2, 1.0f, 0.0f, 1, 2, 3, m, m, m);
    b->gumbel_softmax_backward(b, 0, 2, 1.0f, m, m, m);
    cr_assert_eq(b->mse_loss(b, 0, m, m, NULL, m), 0.0);
    cr_assert_eq(b->bce_loss(b, 0, m, m, m, m), 0.0);
    b->adam_step(b, 0, m, m, m, m, &hp);
    b->soft_update(b, 0, 0.5f, m, m);
    cr_assert_eq(b->clip_grad_norm(b, 0, m, 1.0f), 0.0);
    b->zero(b, m, 0);
    const float source[1] = {EMPTY_MARK}; /* the source of a copy of 0 bytes */
    b->to_backend(b, m, source, 0);
    const afs_lstm_desc none = {3, 0, 2, 4, 2}, no_steps = {0, 2, 2, 4, 1};
    const int lengths[2] = {0, 0};
    b->lstm_forward(b, &none, lengths, m, m, NULL, NULL, m, m, m, m);
    b->lstm_backward(b, &none, lengths, m, m, NULL, NULL, m, m, m, NULL, m, m);
    b->lstm_forward(b, &no_steps, lengths, m, m, NULL, NULL, m, NULL, NULL, m);
    b->synchronize(b);
    expect_marks(b, m, "an operation");

    /* An environment batch of no environments. */
    afs_env env;
    afs_env_params p = test_params(5);
    cr_assert_eq(afs_env_init(&env, b, &p, 1, 1), 0);
    afs_env_begin_episode(&env, b, 0);
    afs_env none_env = env;
    none_env.E = 0;
    b->env_arrive(b, &none_env);
    b->env_observe(b, &none_env, m);
    b->env_act(b, &none_env, AFS_POLICY_GREEDY, m, (uint8_t *)m);
    b->env_step(b, &none_env, (uint8_t *)m);
    b->env_step_next(b, &none_env, (uint8_t *)m, m);
    b->env_play_slots(b, &none_env, AFS_POLICY_GREEDY, 1, m, (uint8_t *)m);
    b->synchronize(b);
    expect_marks(b, m, "an environment operation");
    afs_env_free(&env, b);
    test_groups_empty_work(b);

    /* Not empty: a layer without inputs is its bias; with no outputs, the
     * input gradient is 0. */
    float bias[3] = {0.5f, -1.0f, 2.0f}, y[6], dx[6];
    b->to_backend(b, m, bias, sizeof bias);
    b->linear_forward(b, 1, 2, 0, 3, m, m, m, m + 8);
    b->to_host(b, y, m + 8, sizeof y);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(y[i], bias[i % 3], "%s backend: y[%d] of a layer without inputs", b->name, i);
    b->linear_backward(b, 1, 2, 3, 0, m, m, m, m + 16, m, m);
    b->to_host(b, dx, m + 16, sizeof dx);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(dx[i], 0.0f, "%s backend: dx[%d] of a layer without outputs", b->name, i);
    b->release(b, m);
}

/* ---- Results files ---- */

typedef struct finished_counts { int64_t episodes, trace_records; } finished_counts;

static int check_fail(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int check_fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -2;
}

/* Length of a 1-D dataset, or -1. */
static long long ds_length(hid_t group, const char *name)
{
    hid_t ds = H5Dopen2(group, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    hid_t sp = H5Dget_space(ds);
    hsize_t dims = 0;
    long long len = H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, &dims, NULL) == 1
                        ? (long long)dims : -1;
    H5Sclose(sp);
    H5Dclose(ds);
    return len;
}

/* The first count elements of a 1-D dataset, as type. */
static int ds_read(hid_t group, const char *name, hid_t type, long long count, void *buf)
{
    if (count <= 0)
        return 0;
    hid_t ds = H5Dopen2(group, name, H5P_DEFAULT);
    hsize_t at = 0, cnt = (hsize_t)count;
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(1, &cnt, NULL);
    int rc = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &cnt, NULL) < 0 ||
             H5Dread(ds, type, ms, fs, H5P_DEFAULT, buf) < 0 ? -1 : 0;
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(ds);
    return rc;
}

/* The episode of row i of run `name`: i, or for training's evaluations
 * (/runs/eval) the held-out episode i mod K of K a evaluation. */
static long long expected_episode(const char *name, long long K, long long i)
{
    return strcmp(name, "eval") ? i : i % K;
}

static int check_run(hid_t runs, const char *name, int exact, long long K, long long *episodes,
                     char *why, size_t n)
{
    hid_t g = H5Gopen2(runs, name, H5P_DEFAULT);
    if (g < 0)
        return check_fail(why, n, "run group %s does not open", name);
    finished_counts fin = {-1, -1};
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof fin);
    H5Tinsert(t, "episodes", HOFFSET(finished_counts, episodes), H5T_NATIVE_INT64);
    H5Tinsert(t, "trace_records", HOFFSET(finished_counts, trace_records), H5T_NATIVE_INT64);
    hid_t a = H5Aopen(g, "finished", H5P_DEFAULT);
    int bad = a < 0 || H5Aread(a, t, &fin) < 0 || fin.episodes < 0 || fin.trace_records < 0;
    if (a >= 0)
        H5Aclose(a);
    H5Tclose(t);
    int rc = 0;
    if (bad)
        rc = check_fail(why, n, "run %s: no readable `finished` attribute (%lld, %lld)", name,
                        (long long)fin.episodes, (long long)fin.trace_records);
    long long E = fin.episodes;
    const char *columns[2 + 32];
    int ncol = 0;
    columns[ncol++] = "episode";
    columns[ncol++] = "functions";
    for (int c = 0; c < afs_metric_column_count; c++)
        columns[ncol++] = afs_metric_columns[c].name;
    for (int c = 0; !rc && c < ncol; c++) {
        long long len = ds_length(g, columns[c]);
        if (len < E || (exact && len != E))
            rc = check_fail(why, n, "run %s: a dataset has %lld rows, finished episodes %lld",
                            name, len, E);
    }
    int64_t *ints = malloc((size_t)(E > 0 ? E : 1) * sizeof *ints);
    double *v = malloc((size_t)(E > 0 ? E : 1) * sizeof *v);
    if (!rc && ds_read(g, "episode", H5T_NATIVE_INT64, E, ints))
        rc = check_fail(why, n, "run %s: `episode` does not read", name);
    for (long long i = 0; !rc && i < E; i++)
        if (ints[i] != expected_episode(name, K, i))
            rc = check_fail(why, n, "run %s: episode[%lld] = %lld", name, i, (long long)ints[i]);
    if (!rc && ds_read(g, "functions", H5T_NATIVE_INT64, E, ints))
        rc = check_fail(why, n, "run %s: `functions` does not read", name);
    for (long long i = 0; !rc && i < E; i++)
        if (ints[i] < 0)
            rc = check_fail(why, n, "run %s: functions[%lld] = %lld", name, i, (long long)ints[i]);
    /* A ratio over no functions is NaN (docs/output.md); the cold-start
     * fraction is over completed functions, which may be none. */
    static const char *const ratios[] = {"success_rate", "offload_fraction", "drop_rate",
                                         "miss_rate", "cold_start_fraction"};
    for (size_t r = 0; !rc && r < sizeof ratios / sizeof *ratios; r++) {
        if (ds_read(g, ratios[r], H5T_NATIVE_DOUBLE, E, v))
            rc = check_fail(why, n, "run %s: a ratio does not read", name);
        for (long long i = 0; !rc && i < E; i++) {
            int may_be_nan = ints[i] == 0 || r == 4;
            if (!(v[i] >= 0.0 && v[i] <= 1.0) && !(isnan(v[i]) && may_be_nan))
                rc = check_fail(why, n, "run %s: %s[%lld] = %g with %lld functions", name,
                                ratios[r], i, v[i], (long long)ints[i]);
        }
    }
    if (!rc && H5Lexists(g, "trace", H5P_DEFAULT) > 0) {
        long long R = fin.trace_records, len = ds_length(g, "trace");
        if (len < R || (exact && len != R))
            rc = check_fail(why, n, "run %s: the trace has %lld records, finished %lld", name, len, R);
        int32_t *ep = malloc((size_t)(R > 0 ? R : 1) * sizeof *ep);
        hid_t only = H5Tcreate(H5T_COMPOUND, sizeof(int32_t));
        H5Tinsert(only, "episode", 0, H5T_NATIVE_INT32);
        if (!rc && ds_read(g, "trace", only, R, ep))
            rc = check_fail(why, n, "run %s: the trace does not read", name);
        for (long long i = 0; !rc && i < R; i++)
            if (ep[i] < 0 || ep[i] >= E)
                rc = check_fail(why, n, "run %s: trace record %lld is of episode %d", name, i, (int)ep[i]);
        H5Tclose(only);
        free(ep);
    }
    free(ints);
    free(v);
    H5Gclose(g);
    *episodes = E;
    return rc;
}

int test_check_results(const char *path, int exact, char *why, size_t n)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return check_fail(why, n, "%s does not open", path);
    hid_t runs = H5Gopen2(f, "runs", H5P_DEFAULT);
    long long least = -1;
    int64_t K = 1; /* episodes of an evaluation (training's files) */
    if (H5Aexists(f, "train.eval_episodes") > 0) {
        hid_t a = H5Aopen(f, "train.eval_episodes", H5P_DEFAULT);
        if (a < 0 || H5Aread(a, H5T_NATIVE_INT64, &K) < 0 || K < 1)
            K = 1;
        if (a >= 0)
            H5Aclose(a);
    }
    int rc = runs < 0 ? check_fail(why, n, "%s: no /runs group", path) : 0;
    hsize_t count = 0;
    if (!rc && H5Gget_num_objs(runs, &count) < 0)
        rc = check_fail(why, n, "%s: /runs does not list", path);
    for (hsize_t i = 0; !rc && i < count; i++) {
        char name[256];
        long long E = 0;
        if (H5Gget_objname_by_idx(runs, i, name, sizeof name) < 0)
            rc = check_fail(why, n, "%s: a run name does not read", path);
        else
            rc = check_run(runs, name, exact, K, &E, why, n);
        if (strcmp(name, "eval")) /* evaluations are counted in their own rows */
            least = least < 0 || E < least ? E : least;
    }
    if (runs >= 0)
        H5Gclose(runs);
    H5Fclose(f);
    return rc ? rc : (int)least;
}
