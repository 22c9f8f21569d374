/* afsim train: one ES-DRL update worked out by hand on one-layer networks,
 * resuming bit for bit, the trained policy in afsim run, the results file's
 * layout, a non-finite loss, and the command line's rules for --resume. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "host/episode.h"
#include "host/h5attr.h"
#include "host/run.h"
#include "host/train.h"
#include "models/algos/agents.h"
#include "models/params.h"

static char dir[] = "/tmp/afsim-train-XXXXXX";

static void make_dir(void) { cr_assert_not_null(mkdtemp(dir)); }
static void remove_dir(void) { test_remove_dir(dir); }
TestSuite(train, .init = make_dir, .fini = remove_dir, .timeout = 120);

static void set(afs_config *cfg, const char *key, const char *value)
{
    char sec[32], name[64], err[512];
    const char *dot = strchr(key, '.');
    snprintf(sec, sizeof sec, "%.*s", (int)(dot - key), key);
    snprintf(name, sizeof name, "%s", dot + 1);
    cr_assert_eq(afs_config_set(cfg, sec, name, value, "test", err, sizeof err), 0, "%s", err);
}

/* The parameter set `name` of agent a (CPU backend: host memory). */
static afs_params *set_of(afs_agent *a, const char *name)
{
    static afs_ckpt_set sets[AFS_CKPT_MAX_SETS];
    afs_checkpoint c = {.sets = sets};
    a->ops->checkpoint(a, &c, 0);
    for (int i = 0; i < c.nsets; i++)
        if (!strcmp(sets[i].params->name, name))
            return sets[i].params;
    cr_assert_fail("no parameter set %s", name);
    return NULL;
}

static float *copy_of(const afs_params *p)
{
    float *x = malloc(p->n * sizeof(float));
    cr_assert_not_null(x);
    memcpy(x, p->value, p->n * sizeof(float));
    return x;
}

static void close_to(double got, double want, double rel, const char *what, int i)
{
    cr_assert(fabs(got - want) <= rel * fabs(want) + 1e-12, "%s[%d]: %.9g, by hand %.9g", what, i,
              got, want);
}

/* One EN, one slot, a function for sure; actor [2, OBS] + [2] and critic
 * [1, OBS + 2] + [1], each one linear layer; batches of 4 copies of the one
 * terminal transition. After the episode's single gradient step, Adam's
 * first moment holds (1 - beta1) times each gradient, which the test works
 * out from the equations: critic g = 2 (q - r) x over x = [o, one-hot a]
 * (the target is the reward: terminal); actor, through the straight-through
 * Gumbel-softmax, dL/dhard_j = -w_j / B summed over the batch with w the
 * updated critic's action weights, so its part of dL/dlogit_0 is minus
 * its part of dL/dlogit_1, with the sign of w_1 - w_0 and a size at most
 * |w_1 - w_0| / (4 tau); the logits' penalty reg mean(l^2) adds reg l_j
 * (every row has the same logits l). */
Test(train, one_esdrl_update_by_hand_on_one_layer_networks)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    const char *kv[][2] = {
        {"env.agents", "1"}, {"env.slots", "1"}, {"env.mu_min", "1"}, {"env.mu_max", "1"},
        {"env.idle_prob", "0"}, {"run.envs", "1"}, {"run.seed", "11"},
        {"esdrl.actor_hidden", "none"}, {"esdrl.critic_hidden", "none"}, {"esdrl.batch", "4"},
        {"train.warmup", "1"}, {"train.replay_mib", "1"}, {"train.gumbel_tau", "0.5"},
        {"train.logit_reg", "0.25"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        set(&cfg, kv[i][0], kv[i][1]);
    const int D = AFS_OBS_DIM;
    const double beta1 = 0.9, lr = cfg.esdrl.critic_lr, tau = cfg.esdrl.tau;
    afs_backend *b = afs_backend_cpu_create(1);
    char err[1024];
    afs_agent *a = afs_agent_create("esdrl", b, &cfg, 1, 1, err, sizeof err);
    cr_assert_not_null(a, "%s", err);
    afs_params *actor = set_of(a, "actor"), *critic = set_of(a, "critic");
    afs_params *actor_t = set_of(a, "actor_target"), *critic_t = set_of(a, "critic_target");
    cr_assert_eq(actor->n, (size_t)(2 * D + 2));
    cr_assert_eq(critic->n, (size_t)(D + 2 + 1));
    float *wa = copy_of(actor), *wc = copy_of(critic);

    /* The observation of the slot, from an environment of its own. */
    afs_env env;
    float o[AFS_OBS_DIM];
    cr_assert_eq(afs_env_init(&env, b, &cfg.env, 1, cfg.run.seed), 0);
    afs_env_begin_episode(&env, b, AFS_TRAIN_EPISODES);
    b->env_arrive(b, &env);
    b->env_observe(b, &env, o);
    cr_assert(o[AFS_OBS_HAS] != 0.0f, "the EN has a function");

    /* The episode, its action and reward from the trace. */
    afs_tracer tracer;
    cr_assert_eq(afs_tracer_init(&tracer, &env), 0);
    afs_episode_row row;
    afs_episode_sums sums;
    afs_agent_stats st;
    cr_assert_eq(afs_episode_play(a, &env, AFS_TRAIN_EPISODES, AFS_PLAY_TRAIN, &tracer, &row,
                                  &sums, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(tracer.count, 1u);
    cr_assert_eq(st.updates, 1.0, "one gradient step");
    int act = tracer.recs[0].action;
    double r = tracer.recs[0].reward;

    /* Critic: q = wc . [o, onehot] + bias; loss mean (q - r)^2 over 4 equal rows. */
    double x[AFS_OBS_DIM + 2], q = wc[D + 2];
    for (int j = 0; j < D; j++)
        x[j] = o[j];
    x[D] = act == 0;
    x[D + 1] = act == 1;
    for (int j = 0; j < D + 2; j++)
        q += wc[j] * x[j];
    close_to(st.critic_loss, (q - r) * (q - r), 1e-5, "critic loss", 0);
    close_to(st.td_abs, fabs(q - r), 1e-5, "mean |TD|", 0);
    for (int j = 0; j <= D + 2; j++) {
        double g = 2.0 * (q - r) * (j < D + 2 ? x[j] : 1.0);
        close_to(critic->m[j], (1.0 - beta1) * g, 1e-4, "critic Adam m", j);
        /* Adam's first step moves by lr g / (|g| + eps) */
        double step = g == 0.0 ? 0.0 : lr * g / (fabs(g) + 1e-8);
        close_to(critic->value[j], wc[j] - step, 1e-5, "critic after the step", j);
        close_to(critic_t->value[j], tau * critic->value[j] + (1.0 - tau) * wc[j], 1e-5,
                 "critic target", j);
    }

    /* Actor: logits l = Wa o + ba, W rows 0 and 1 (as initialized: the
     * actor steps after its gradient). */
    double l[2], reg = cfg.train.logit_reg;
    for (int k = 0; k < 2; k++) {
        l[k] = wa[2 * D + k];
        for (int j = 0; j < D; j++)
            l[k] += wa[k * D + j] * o[j];
    }
    double w0 = critic->value[D], w1 = critic->value[D + 1];
    double gb0 = actor->m[2 * D] / (1.0 - beta1), gb1 = actor->m[2 * D + 1] / (1.0 - beta1);
    close_to(gb0 + gb1, reg * (l[0] + l[1]), 1e-4, "the penalty's part of dL/dlogits", 0);
    double st0 = 0.5 * (gb0 - gb1 - reg * (l[0] - l[1])); /* the straight-through part */
    cr_assert(fabs(st0) > 1e-9, "the actor got a gradient through the critic");
    cr_assert((st0 > 0) == (w1 - w0 > 0), "dL/dlogit_0 %g has the sign of w1 - w0 = %g", st0,
              w1 - w0);
    cr_assert(fabs(st0) <= fabs(w1 - w0) / (4.0 * cfg.train.gumbel_tau) * (1 + 1e-5),
              "|dL/dlogit_0| %g is at most |w1 - w0| / (4 tau) = %g", fabs(st0),
              fabs(w1 - w0) / (4.0 * cfg.train.gumbel_tau));
    for (int j = 0; j < D; j++) {
        close_to(actor->m[j] / (1.0 - beta1), gb0 * o[j], 1e-4, "actor dL/dW0", j);
        close_to(actor->m[D + j] / (1.0 - beta1), gb1 * o[j], 1e-4, "actor dL/dW1", j);
    }
    for (size_t j = 0; j < actor->n; j++)
        close_to(actor_t->value[j], tau * actor->value[j] + (1.0 - tau) * wa[j], 1e-5,
                 "actor target", (int)j);
    free(wa);
    free(wc);
    afs_tracer_free(&tracer);
    afs_env_free(&env, b);
    afs_agent_destroy(a);
    b->destroy(b);
}

/* ---- Whole trainings ---- */

/* A small training writing DIR/name. */
static afs_config small(const char *name, const char *episodes)
{
    afs_config cfg;
    afs_config_defaults(&cfg);
    const char *kv[][2] = {
        {"env.agents", "6"}, {"env.slots", "8"}, {"run.envs", "3"}, {"run.seed", "5"},
        {"esdrl.batch", "32"}, {"esdrl.replay", "prioritized"},
        {"train.warmup", "40"}, {"train.replay_mib", "1"}, {"train.eval_every", "2"},
        {"train.eval_episodes", "2"}, {"train.checkpoint_every", "2"},
        {"train.checkpoint_replay", "true"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        set(&cfg, kv[i][0], kv[i][1]);
    set(&cfg, "train.episodes", episodes);
    snprintf(cfg.run.out, sizeof cfg.run.out, "%s/%s", dir, name);
    return cfg;
}

static int train(const afs_config *cfg, const char *algo, const char *resume, char *err, size_t n)
{
    afs_backend *b = afs_backend_cpu_create(1);
    afs_train_options opt = {algo, resume, AFS_PROGRESS_NONE, NULL, "test_train", 0};
    int rc = afs_train(cfg, b, &opt, err, n);
    b->destroy(b);
    return rc;
}

/* Column `name` of /runs/<run> as doubles (malloc'd), its length in *len. */
static double *column(const char *path, const char *run, const char *name, size_t *len)
{
    char where[256];
    snprintf(where, sizeof where, "/runs/%s/%s", run, name);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "%s", path);
    hid_t d = H5Dopen2(f, where, H5P_DEFAULT);
    cr_assert(d >= 0, "%s: no %s", path, where);
    hid_t space = H5Dget_space(d);
    hsize_t dims = 0;
    H5Sget_simple_extent_dims(space, &dims, NULL);
    double *x = calloc(dims + 1, sizeof(double));
    cr_assert(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
    *len = dims;
    return x;
}

/* The learning curve's columns that depend on the seed alone (not on time). */
static const char *const curve[] = {"episode", "functions", "return", "success_rate",
                                    "mean_cost", "critic_loss", "actor_loss", "td_abs",
                                    "updates", "replay_fill", NULL};
static const char *const eval_curve[] = {"episode", "return", "success_rate", "mean_cost",
                                         "trained_episodes", NULL};

static void same_columns(const char *a, const char *b, const char *run, const char *const *names)
{
    for (int c = 0; names[c]; c++) {
        size_t na, nb;
        double *x = column(a, run, names[c], &na), *y = column(b, run, names[c], &nb);
        cr_assert_eq(na, nb, "/runs/%s/%s: %zu rows, %zu after resuming", run, names[c], na, nb);
        for (size_t i = 0; i < na; i++)
            cr_assert(memcmp(&x[i], &y[i], sizeof x[i]) == 0,
                      "/runs/%s/%s[%zu]: %.17g uninterrupted, %.17g resumed", run, names[c], i,
                      x[i], y[i]);
        free(x);
        free(y);
    }
}

/* A float dataset of an HDF5 file (malloc'd). */
static float *floats(const char *path, const char *name, size_t *len)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "%s", path);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    cr_assert(d >= 0, "%s: no %s", path, name);
    hid_t space = H5Dget_space(d);
    hsize_t dims = 0;
    H5Sget_simple_extent_dims(space, &dims, NULL);
    float *x = calloc(dims + 1, sizeof(float));
    cr_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
    *len = dims;
    return x;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out, "copying %s to %s", from, to);
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        cr_assert_eq(fwrite(buf, 1, got, out), got);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
}

/* AM-DRL small enough for a test: groups of up to 3 in 6 ENs, a formation
 * every 2 slots, networks of a few units, 2 joint rows a batch. */
static void small_amdrl(afs_config *cfg)
{
    const char *kv[][2] = {
        {"amdrl.batch", "12"}, {"amdrl.thought", "8"}, {"amdrl.channel_hidden", "4"},
        {"amdrl.attention_hidden", "4"}, {"amdrl.part2_hidden", "8"},
        {"amdrl.actor_hidden", "8"}, {"amdrl.critic_hidden", "16,16"}, {"amdrl.group_m", "2"},
        {"amdrl.t_comm", "2"}, {"amdrl.comm_range_m", "1000"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        set(cfg, kv[i][0], kv[i][1]);
}

/* A training of `algo` killed after its checkpoint of episode 4 and after
 * writing the rows of episode 5 (a copy of the finished file, whose rows
 * past the checkpoint the resume must drop and redo), resumed from that
 * checkpoint: every learning-curve and evaluation value is the
 * uninterrupted run's, bit for bit (prioritized replay: the sum tree and
 * the largest priority come back too), and so are the final parameter
 * arrays named. */
static void check_resume(const char *algo, void (*tune)(afs_config *), const char *const *arrays,
                         size_t n_arrays)
{
    char err[2048], ckpt[1100], at4[1200], whole_name[64], part_name[64];
    snprintf(whole_name, sizeof whole_name, "whole-%s.h5", algo);
    snprintf(part_name, sizeof part_name, "part-%s.h5", algo);
    afs_config whole = small(whole_name, "6");
    set(&whole, "train.checkpoint_keep", "true");
    if (tune)
        tune(&whole);
    cr_assert_eq(train(&whole, algo, NULL, err, sizeof err), 0, "%s", err);
    afs_train_checkpoint_path(&whole, ckpt, sizeof ckpt);
    snprintf(at4, sizeof at4, "%.*s.ep4.h5", (int)(strlen(ckpt) - 3), ckpt);
    afs_config part = small(part_name, "6");
    if (tune)
        tune(&part);
    copy_file(whole.run.out, part.run.out);
    cr_assert_eq(train(&part, algo, at4, err, sizeof err), 0, "%s", err);
    same_columns(whole.run.out, part.run.out, "train", curve);
    same_columns(whole.run.out, part.run.out, "eval", eval_curve);
    size_t n;
    double *trained = column(part.run.out, "eval", "trained_episodes", &n);
    const double want[] = {2, 2, 4, 4, 6, 6};
    cr_assert_eq(n, sizeof want / sizeof *want, "%zu evaluation rows", n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(trained[i], want[i], "evaluation row %zu after %g episodes", i, trained[i]);
    free(trained);
    char ckpt2[1100];
    afs_train_checkpoint_path(&part, ckpt2, sizeof ckpt2);
    for (size_t i = 0; i < n_arrays; i++) {
        size_t na, nb;
        float *x = floats(ckpt, arrays[i], &na), *y = floats(ckpt2, arrays[i], &nb);
        cr_assert(na == nb && na > 0 && !memcmp(x, y, na * sizeof *x), "%s: %s differs", algo,
                  arrays[i]);
        free(x);
        free(y);
    }
}

Test(train, resumed_training_is_bit_for_bit_the_uninterrupted_one)
{
    const char *const arrays[] = {"/params/actor/value", "/params/critic/value",
                                  "/params/critic_target/value", "/params/actor/adam_v"};
    check_resume("esdrl", NULL, arrays, sizeof arrays / sizeof *arrays);
}

/* The same for AM-DRL, whose update runs the LSTMs (the channel, the
 * attention cell) and the groups of replayed slots. */
Test(train, resumed_amdrl_is_bit_for_bit_the_uninterrupted_one)
{
    const char *const arrays[] = {"/params/actor_part1/value", "/params/channel/value",
                                  "/params/attention_cell/value", "/params/critic/adam_v",
                                  "/params/channel_target/value"};
    check_resume("amdrl", small_amdrl, arrays, sizeof arrays / sizeof *arrays);
}

/* A checkpoint without its replay resumes too, from an empty replay (its
 * warm-up again), and says so; not bit for bit. */
Test(train, a_checkpoint_without_the_replay_resumes_from_an_empty_one)
{
    char err[2048], ckpt[1100];
    afs_config cfg = small("noreplay.h5", "2");
    set(&cfg, "train.checkpoint_replay", "false");
    cr_assert_eq(train(&cfg, "esdrl", NULL, err, sizeof err), 0, "%s", err);
    afs_train_checkpoint_path(&cfg, ckpt, sizeof ckpt);
    afs_config more = small("noreplay.h5", "3");
    set(&more, "train.checkpoint_replay", "false");
    cr_assert_eq(train(&more, "esdrl", ckpt, err, sizeof err), 0, "%s", err);
    size_t n;
    double *fill = column(cfg.run.out, "train", "replay_fill", &n);
    cr_assert_eq(n, 3u);
    cr_assert(fill[2] < fill[1], "the replay started empty again: %g after %g", fill[2], fill[1]);
    free(fill);
}

Test(train, the_trained_policy_plays_in_afsim_run_as_in_its_last_evaluation)
{
    char err[2048], ckpt[1100];
    afs_config cfg = small("policy.h5", "4");
    cr_assert_eq(train(&cfg, "esdrl", NULL, err, sizeof err), 0, "%s", err);
    afs_train_checkpoint_path(&cfg, ckpt, sizeof ckpt);
    afs_config run;
    afs_config_defaults(&run);
    run.env = cfg.env;
    run.run.envs = cfg.run.envs;
    run.run.seed = cfg.run.seed;
    run.run.episodes = cfg.train.eval_episodes;
    char policies[1200];
    snprintf(policies, sizeof policies, "greedy, ckpt:%s", ckpt);
    set(&run, "run.policies", policies);
    snprintf(run.run.out, sizeof run.run.out, "%s/played.h5", dir);
    afs_backend *b = afs_backend_cpu_create(1);
    afs_run_options opt = {AFS_PROGRESS_NONE, NULL, "test_train", 0};
    cr_assert_eq(afs_run(&run, b, &opt, err, sizeof err), 0, "%s", err);
    b->destroy(b);
    /* The last evaluation's rows (after 4 episodes) are the run's. */
    const char *const names[] = {"functions", "success_rate", "mean_cost", "mean_latency_s",
                                 "offload_fraction"};
    char label[64];
    snprintf(label, sizeof label, "ckpt:policy.ckpt.h5");
    for (size_t c = 0; c < sizeof names / sizeof *names; c++) {
        size_t ne, nr;
        double *e = column(cfg.run.out, "eval", names[c], &ne);
        double *r = column(run.run.out, label, names[c], &nr);
        cr_assert_eq(nr, 2u);
        cr_assert(ne >= 2);
        for (size_t i = 0; i < 2; i++)
            cr_assert(memcmp(&e[ne - 2 + i], &r[i], sizeof r[i]) == 0, "%s[%zu]: eval %.17g, run "
                      "%.17g", names[c], i, e[ne - 2 + i], r[i]);
        free(e);
        free(r);
    }
    /* The run records which checkpoint it played. */
    hid_t f = H5Fopen(run.run.out, H5F_ACC_RDONLY, H5P_DEFAULT);
    char where[128], text[1200];
    snprintf(where, sizeof where, "/runs/%s", label);
    hid_t g = H5Gopen2(f, where, H5P_DEFAULT);
    cr_assert(g >= 0, "no %s", where);
    cr_assert_eq(afs_h5_attr_read_string(g, "checkpoint", text, sizeof text), 0);
    cr_assert_str_eq(text, ckpt);
    cr_assert_eq(afs_h5_attr_read_string(g, "trained_with", text, sizeof text), 0);
    cr_assert_str_eq(text, "", "played in its training's environment");
    H5Gclose(g);
    H5Fclose(f);
}

/* The trained_with attribute of /runs/ckpt:NAME of a results file. */
static void trained_with(const char *path, const char *label, char *text, size_t n)
{
    char where[1300];
    snprintf(where, sizeof where, "/runs/%s", label);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "%s", path);
    hid_t g = H5Gopen2(f, where, H5P_DEFAULT);
    cr_assert(g >= 0, "no %s", where);
    cr_assert_eq(afs_h5_attr_read_string(g, "trained_with", text, n), 0);
    H5Gclose(g);
    H5Fclose(f);
}

/* ckpt:PATH in an environment other than its training's: a policy whose
 * networks hold it (ES-DRL's, one agent's observation) plays, and the run
 * records the training's values of every environment key that differs
 * (trained_with); one whose networks cannot (MADDPG's, an actor per agent
 * and a critic of the M agents of an environment) is refused with the key and the training's
 * value (before: played or refused without a word of why). */
Test(train, a_trained_policy_in_another_environment_is_recorded_or_refused)
{
    char err[2048], ckpt[1100], policies[1200], text[1024];
    afs_backend *b = afs_backend_cpu_create(1);
    afs_run_options opt = {AFS_PROGRESS_NONE, NULL, "test_train", 0};
    const char *algos[2] = {"esdrl", "maddpg"};
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "shape-%s.h5", algos[i]);
        afs_config cfg = small(name, "1");
        cr_assert_eq(train(&cfg, algos[i], NULL, err, sizeof err), 0, "%s", err);
        afs_train_checkpoint_path(&cfg, ckpt, sizeof ckpt);
        afs_config run = cfg;
        snprintf(policies, sizeof policies, "ckpt:%s", ckpt);
        set(&run, "run.policies", policies);
        set(&run, "run.episodes", "1");
        set(&run, "env.agents", "9");
        set(&run, "env.k_scale", "3");
        /* the heuristics' keys share the environment's struct but are no
         * environment: not named */
        set(&run, "deadline.alpha", "2");
        set(&run, "best_response.rounds", "3");
        snprintf(run.run.out, sizeof run.run.out, "%s/played-%s.h5", dir, algos[i]);
        int rc = afs_run(&run, b, &opt, err, sizeof err);
        if (i == 0) {
            cr_assert_eq(rc, 0, "%s", err);
            trained_with(run.run.out, run.run.policy_label[0], text, sizeof text);
            char want[256], k_scale[64];
            afs_config_format(&cfg, afs_config_key_at(afs_config_key_index("env", "k_scale")),
                              k_scale, sizeof k_scale);
            snprintf(want, sizeof want, "env.agents = 6, env.k_scale = %s", k_scale);
            cr_assert_str_eq(text, want);
        } else {
            cr_assert_eq(rc, 1, "MADDPG played 9 agents with networks of 6");
            cr_assert(strstr(err, "x6") && strstr(err, "x9") && strstr(err, "env.agents = 6"),
                      "%s", err);
        }
    }
    b->destroy(b);
}

Test(train, the_results_file_records_the_replay_and_counts_every_row)
{
    char err[2048];
    afs_config cfg = small("layout.h5", "3");
    cr_assert_eq(train(&cfg, "esdrl", NULL, err, sizeof err), 0, "%s", err);
    hid_t f = H5Fopen(cfg.run.out, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "/runs/train", H5P_DEFAULT);
    double capacity = 0, slots = 0, bytes = 0, ratio = 0;
    cr_assert(afs_h5_attr_read(g, "replay_capacity", H5T_NATIVE_DOUBLE, 0, &capacity) >= 0);
    cr_assert(afs_h5_attr_read(g, "replay_slots", H5T_NATIVE_DOUBLE, 0, &slots) >= 0);
    cr_assert(afs_h5_attr_read(g, "replay_record_bytes", H5T_NATIVE_DOUBLE, 0, &bytes) >= 0);
    cr_assert(afs_h5_attr_read(g, "replay_ratio", H5T_NATIVE_DOUBLE, 0, &ratio) >= 0);
    /* 3 envs x 6 agents = 18 records a slot; 1 MiB at `bytes` each. */
    cr_assert_eq(capacity, slots * 18);
    cr_assert(capacity * bytes <= 1024.0 * 1024.0 && (slots + 1) * 18 * bytes > 0.5 * 1024 * 1024,
              "capacity %g x %g bytes fills about the 1 MiB budget", capacity, bytes);
    /* one step of 32 records a slot of 18 */
    close_to(ratio, 32.0 / 18.0, 1e-12, "replay ratio", 0);
    char algo[32];
    cr_assert_eq(afs_h5_attr_read_string(g, "policy", algo, sizeof algo), 0);
    cr_assert_str_eq(algo, "esdrl");
    H5Gclose(g);
    char run_id[64];
    cr_assert_eq(afs_h5_attr_read_string(f, "run_id", run_id, sizeof run_id), 0);
    H5Fclose(f);
    size_t n;
    double *ep = column(cfg.run.out, "train", "episode", &n);
    cr_assert_eq(n, 3u);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ep[i], (double)i);
    free(ep);
    double *fill = column(cfg.run.out, "train", "replay_fill", &n);
    for (size_t i = 0; i < n; i++) /* 8 slots of 18 records per episode */
        close_to(fill[i], (i + 1) * 8.0 * 18 / capacity, 1e-12, "replay_fill", (int)i);
    free(fill);
}

/* A checkpoint whose critic weights are finite but huge: the first
 * forward overflows, so the first critic loss is not finite. */
static void poison(const char *ckpt)
{
    hid_t f = H5Fopen(ckpt, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t d = H5Dopen2(f, "/params/critic/value", H5P_DEFAULT);
    cr_assert(d >= 0);
    hid_t space = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space, &n, NULL);
    float *x = malloc(n * sizeof(float));
    for (hsize_t i = 0; i < n; i++)
        x[i] = 1e30f;
    cr_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    free(x);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
}

Test(train, a_non_finite_loss_stops_training_and_keeps_the_networks)
{
    char err[2048], ckpt[1100], good[1200];
    afs_config cfg = small("nan.h5", "2");
    cr_assert_eq(train(&cfg, "esdrl", NULL, err, sizeof err), 0, "%s", err);
    afs_train_checkpoint_path(&cfg, ckpt, sizeof ckpt);
    poison(ckpt);
    afs_config more = small("nan.h5", "4");
    cr_assert_eq(train(&more, "esdrl", ckpt, err, sizeof err), 1, "training went on");
    cr_assert(strstr(err, "esdrl") && strstr(err, "critic loss") && strstr(err, "gradient step"),
              "the message names the method, the quantity and the step: %s", err);
    snprintf(good, sizeof good, "%.*s.last-good.h5", (int)(strlen(ckpt) - 3), ckpt);
    cr_assert(strstr(err, good), "the message names the kept networks: %s", err);
    struct stat st;
    cr_assert_eq(stat(good, &st), 0, "%s was not written", good);
    /* The results file holds the episodes before, readable, every dataset
     * cut to its finished rows as after any end but a failed write
     * (docs/output.md, "Crash safety"); and a training that stops so
     * before finishing any episode leaves datasets of none (before: 4
     * rows of fill values with `finished` 0). */
    char why[512];
    cr_assert_eq(test_check_results(cfg.run.out, 1, why, sizeof why), 2, "%s", why);
    afs_config fresh = small("nan-fresh.h5", "4");
    cr_assert_eq(train(&fresh, "esdrl", ckpt, err, sizeof err), 1, "training went on");
    cr_assert_eq(test_check_results(fresh.run.out, 1, why, sizeof why), 0, "%s", why);
    size_t n;
    double *ep = column(fresh.run.out, "train", "episode", &n);
    cr_assert_eq(n, 0u, "/runs/train holds %zu rows", n);
    free(ep);
    ep = column(fresh.run.out, "eval", "episode", &n);
    cr_assert_eq(n, 0u, "/runs/eval holds %zu rows", n);
    free(ep);
}

/* The bytes of a checkpoint's /state/<name> (uint8), changed by `change`
 * and written back as a crafted file would have them (HDF5 recomputes
 * their checksum: only the checks of the values can refuse them). */
static void rewrite_state(const char *ckpt, const char *name,
                          void (*change)(uint8_t *bytes, size_t n, long long arg), long long arg)
{
    char where[128];
    snprintf(where, sizeof where, "/state/%s", name);
    hid_t f = H5Fopen(ckpt, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert(f >= 0, "%s", ckpt);
    hid_t d = H5Dopen2(f, where, H5P_DEFAULT);
    cr_assert(d >= 0, "%s: no %s", ckpt, where);
    hid_t space = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space, &n, NULL);
    uint8_t *x = malloc(n);
    cr_assert(H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    change(x, n, arg);
    cr_assert(H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    free(x);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
}

/* replay_meta is int64 [4]: head, blocks, pending, 0. */
static void set_head(uint8_t *b, size_t n, long long v)
{
    cr_assert_eq(n, 4 * sizeof(int64_t));
    int64_t x = v;
    memcpy(b, &x, sizeof x);
}
static void set_blocks(uint8_t *b, size_t n, long long v)
{
    cr_assert_eq(n, 4 * sizeof(int64_t));
    int64_t x = v;
    memcpy(b + sizeof x, &x, sizeof x);
}
/* The last quarter of the ring's bytes 0x7f (issue 23's AM-DRL case: it
 * holds the groups, after the observations, actions, rewards and flags). */
static void last_quarter_7f(uint8_t *b, size_t n, long long unused)
{
    (void)unused;
    memset(b + n - n / 4, 0x7f, n / 4);
}

/* A checkpoint whose replay bookkeeping or replayed groups are out of
 * range is refused on resume, naming the file and what is wrong (before:
 * SIGSEGV in afs_replay_store, or head 672 trained on with exit 0; an
 * AM-DRL ring with damaged groups overran afs_group_first_rows); nothing is
 * trained. The undamaged checkpoint resumes (the control). */
Test(train, a_checkpoint_with_its_replay_state_out_of_range_is_refused)
{
    char err[2048], ckpt[1100], bad[1200];
    afs_config cfg = small("dmg.h5", "2");
    cr_assert_eq(train(&cfg, "esdrl", NULL, err, sizeof err), 0, "%s", err);
    afs_train_checkpoint_path(&cfg, ckpt, sizeof ckpt);
    snprintf(bad, sizeof bad, "%s/bad.ckpt.h5", dir);
    const long long heads[4] = {1000000, -5, 672, 2147483647};
    for (int i = 0; i < 5; i++) {
        copy_file(ckpt, bad);
        if (i < 4)
            rewrite_state(bad, "replay_meta", set_head, heads[i]);
        else
            rewrite_state(bad, "replay_meta", set_blocks, -1);
        afs_config more = small("dmg.h5", "3");
        cr_assert_eq(train(&more, "esdrl", bad, err, sizeof err), 1, "damage %d resumed", i);
        cr_assert(strstr(err, bad) && strstr(err, "bookkeeping"), "%s", err);
    }
    afs_config amdrl = small("dmg-amdrl.h5", "2");
    small_amdrl(&amdrl);
    cr_assert_eq(train(&amdrl, "amdrl", NULL, err, sizeof err), 0, "%s", err);
    afs_train_checkpoint_path(&amdrl, ckpt, sizeof ckpt);
    copy_file(ckpt, bad);
    rewrite_state(bad, "replay_ring", last_quarter_7f, 0);
    afs_config more = small("dmg-amdrl.h5", "3");
    small_amdrl(&more);
    cr_assert_eq(train(&more, "amdrl", bad, err, sizeof err), 1, "damaged groups resumed");
    cr_assert(strstr(err, bad) && strstr(err, "groups"), "%s", err);
    cr_assert_eq(train(&more, "amdrl", ckpt, err, sizeof err), 0, "the control: %s", err);
}

/* Whether path is still a FIFO (what a device stands for in these tests:
 * they must not risk /dev/null when the check is broken and they run as
 * root). */
static int is_fifo(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* train.checkpoint, and the files written beside it (NAME.best.h5,
 * NAME.last-good.h5, NAME.epN.h5), replace only regular files: a device
 * or a FIFO there is refused with a message naming it, the checkpoint's
 * and the files beside it before anything is trained (no results file),
 * NAME.epN.h5 when it is due; the FIFO stays (before: the checkpoint was
 * renamed over it, exit 0). */
Test(train, a_checkpoint_replaces_only_a_regular_file)
{
    char err[2048], fifo[1100];
    const char *tags[3] = {"ckpt", "ckpt.best", "ckpt.last-good"};
    for (int i = 0; i < 3; i++) {
        afs_config cfg = small("dev.h5", "2");
        snprintf(fifo, sizeof fifo, "%s/dev.%s.h5", dir, tags[i]);
        cr_assert_eq(mkfifo(fifo, 0600), 0);
        cr_assert_eq(train(&cfg, "esdrl", NULL, err, sizeof err), 1, "%s: trained", fifo);
        cr_assert(strstr(err, fifo) && strstr(err, "not a regular file") &&
                  strstr(err, "train.checkpoint"), "%s", err);
        cr_assert(is_fifo(fifo), "%s was replaced", fifo);
        cr_assert_neq(access(cfg.run.out, F_OK), 0, "trained before refusing");
        unlink(fifo);
    }
    afs_config cfg = small("devkeep.h5", "4");
    set(&cfg, "train.checkpoint_keep", "true");
    snprintf(fifo, sizeof fifo, "%s/devkeep.ckpt.ep4.h5", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(train(&cfg, "esdrl", NULL, err, sizeof err), 1, "kept over a FIFO");
    cr_assert(strstr(err, fifo) && strstr(err, "not a regular file"), "%s", err);
    cr_assert(is_fifo(fifo), "%s was replaced", fifo);
}

/* ---- The command line ---- */

static int afsim(const char *args, char *out, size_t n)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s 2>&1", dir, AFSIM_BIN, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = 0;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(train, the_command_line_checks_what_a_resume_may_change)
{
    char out[8192];
    const char *base = "train --algo esdrl --backend cpu --quiet --envs 2 --set env.agents=3 "
                       "--set env.slots=4 --set train.warmup=8 --set esdrl.batch=8 "
                       "--set train.replay_mib=1 --set train.eval_every=0";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --episodes 2", base);
    cr_assert_eq(afsim(cmd, out, sizeof out), 0, "%s", out);
    struct stat st;
    char path[600];
    snprintf(path, sizeof path, "%s/train-esdrl.h5", dir);
    cr_assert_eq(stat(path, &st), 0, "the default output names the method");
    cr_assert_eq(afsim("train --backend cpu --quiet", out, sizeof out), 2);
    cr_assert(strstr(out, "--algo"), "%s", out);
    cr_assert_eq(afsim("train --algo greedy --quiet", out, sizeof out), 2);
    char learners[256]; /* "esdrl, maddpg or amdrl": every learning method of the table */
    afs_learner_names(learners, sizeof learners, ", ", " or ");
    cr_assert(strstr(learners, "esdrl, maddpg") && strstr(learners, "amdrl"), "%s", learners);
    cr_assert(strstr(out, "--algo greedy") && strstr(out, learners), "%s", out);
    cr_assert_eq(afsim("train --resume train-esdrl.ckpt.h5 --config x.ini", out, sizeof out), 2);
    cr_assert(strstr(out, "leave out --config"), "%s", out);
    cr_assert_eq(afsim("train --resume train-esdrl.ckpt.h5 --set env.agents=4", out, sizeof out), 2);
    cr_assert(strstr(out, "env.agents = 4") && strstr(out, "trained with 3"), "%s", out);
    cr_assert_eq(afsim("train --resume train-esdrl.ckpt.h5 --algo maddpg", out, sizeof out), 2);
    cr_assert(strstr(out, "checkpoint of esdrl"), "%s", out);
    cr_assert_eq(afsim("train --resume missing.ckpt.h5", out, sizeof out), 2);
    cr_assert(strstr(out, "missing.ckpt.h5"), "%s", out);
    /* What may change: the episodes (to go on), the backend. */
    cr_assert_eq(afsim("train --resume train-esdrl.ckpt.h5 --episodes 3 --backend cpu --quiet", out,
                       sizeof out), 0, "%s", out);
    size_t n;
    double *ep = column(path, "train", "episode", &n);
    cr_assert_eq(n, 3u, "the resumed training continued the file");
    free(ep);
    /* A results file given to --resume points to its checkpoint; fewer
     * episodes than the checkpoint has trained are refused with both
     * numbers; as many say that nothing is left to train (before: "0
     * episodes trained", exit 0, in both cases). */
    cr_assert_eq(afsim("train --resume train-esdrl.h5", out, sizeof out), 2);
    cr_assert(strstr(out, "not a checkpoint") && strstr(out, "train-esdrl.ckpt.h5"), "%s", out);
    cr_assert_eq(afsim("train --resume train-esdrl.ckpt.h5 --episodes 2 --backend cpu", out,
                       sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "trained 3 episodes already") && strstr(out, "train.episodes = 2") &&
              strstr(out, "--episodes N above 3"), "%s", out);
    cr_assert_eq(afsim("train --resume train-esdrl.ckpt.h5 --episodes 3 --backend cpu", out,
                       sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "nothing to train") && strstr(out, "trained 3 episodes already"),
              "%s", out);
    cr_assert_eq(afsim("train --help", out, sizeof out), 0);
    cr_assert(strstr(out, "--resume") && strstr(out, "train.checkpoint_replay"), "%s", out);
}

/* A numeric attribute of the file's root, as a double. */
static double root_attr(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "%s", path);
    double v = NAN;
    cr_assert(afs_h5_attr_read(f, name, H5T_NATIVE_DOUBLE, 0, &v) >= 0, "%s: no %s", path, name);
    H5Fclose(f);
    return v;
}

/* train.keep_best: CHECKPOINT.best.h5 holds the networks of the evaluation
 * whose mean return (over its held-out episodes, read back from the
 * results file) is the highest, not of the last one; the best value goes
 * on after a resume; keep_best = false writes no such file. */
Test(train, the_best_evaluation_is_kept_beside_the_last_checkpoint)
{
    char err[2048], ckpt[1100], best[1200];
    afs_config cfg = small("best.h5", "3");
    set(&cfg, "train.eval_every", "1");
    cr_assert_eq(train(&cfg, "esdrl", NULL, err, sizeof err), 0, "%s", err);
    afs_train_checkpoint_path(&cfg, ckpt, sizeof ckpt);
    afs_config more = small("best.h5", "8");
    set(&more, "train.eval_every", "1");
    cr_assert_eq(train(&more, "esdrl", ckpt, err, sizeof err), 0, "%s", err);
    size_t n, m;
    double *ret = column(cfg.run.out, "eval", "return", &n);
    double *trained = column(cfg.run.out, "eval", "trained_episodes", &m);
    cr_assert_eq(n, 16u, "8 evaluations of 2 episodes: %zu rows", n);
    int arg = 0;
    double top = -INFINITY;
    for (int e = 0; e < 8; e++) {
        double mean = (ret[2 * e] + ret[2 * e + 1]) / 2;
        if (mean > top) {
            top = mean;
            arg = e;
        }
    }
    snprintf(best, sizeof best, "%.*s.best.h5", (int)strlen(ckpt) - 3, ckpt);
    cr_assert_float_eq(root_attr(best, "best_eval_return"), top, 1e-9 * fabs(top));
    cr_assert_eq(root_attr(best, "episode"), trained[2 * arg], "the best evaluation followed "
                 "episode %g, the file holds episode %g", trained[2 * arg],
                 root_attr(best, "episode"));
    cr_assert_float_eq(root_attr(ckpt, "best_eval_return"), top, 1e-9 * fabs(top));
    cr_log_info("best evaluation %d of 8 (return %.4f)", arg + 1, top);
    free(ret);
    free(trained);

    afs_config off = small("nobest.h5", "2");
    set(&off, "train.keep_best", "false");
    cr_assert_eq(train(&off, "esdrl", NULL, err, sizeof err), 0, "%s", err);
    afs_train_checkpoint_path(&off, ckpt, sizeof ckpt);
    snprintf(best, sizeof best, "%.*s.best.h5", (int)strlen(ckpt) - 3, ckpt);
    cr_assert_neq(access(best, F_OK), 0, "keep_best = false wrote %s", best);
}
