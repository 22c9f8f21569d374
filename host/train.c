#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/env.h"
#include "checkpoint.h"
#include "core/fail.h"
#include "episode.h"
#include "h5out.h"
#include "memory.h"
#include "models/algos/agents.h"
#include "outlock.h"
#include "run.h"
#include "stop.h"

const char *const afs_train_resumable_keys[] = {
    "train.episodes", "train.checkpoint", "train.checkpoint_every", "train.checkpoint_replay",
    "train.checkpoint_keep", "train.keep_best",
    "train.eval_every", "train.eval_episodes", "run.out", "run.overwrite", "run.backend",
    "run.threads", "run.policies", "run.episodes", "run.trace", NULL};

/* The columns training adds to the metrics of afsim run. */
static const afs_h5_column train_columns[] = {
    {"return", "reward", "mean return per agent: the episode's rewards summed over its slots, "
                         "averaged over every agent of every environment"},
    {"critic_loss", "reward^2", "mean weighted squared TD error of the episode's gradient steps"},
    {"actor_loss", "reward", "mean -Q of the policy's actions over the episode's batches"},
    {"td_abs", "reward", "mean |TD error| of the episode's gradient steps"},
    {"updates", "1", "gradient steps taken in the episode"},
    {"replay_fill", "1", "replay records stored / capacity, at the episode's end"},
    {"init_rate", "1", "AM-DRL: initiators per EN at a formation (0 for methods that do not talk)"},
    {"label_mean", "1", "AM-DRL: mean attention label of the batches' initiators"},
    {"dq_positive", "1", "AM-DRL: share of the batches' initiators whose delta-Q is above 0"},
    {"attention_auc", "1", "AM-DRL: AUC of the attention unit's output against the sign of "
                           "delta-Q over each batch's initiators, averaged over the batches"},
};
enum { TC_RETURN, TC_CRITIC, TC_ACTOR, TC_TD, TC_UPDATES, TC_FILL, TC_INIT, TC_LABEL, TC_DQPOS,
       TC_AUC, TC_N };

static const afs_h5_column eval_columns[] = {
    {"return", "reward", "mean return per agent (as in /runs/train)"},
    {"trained_episodes", "1", "training episodes finished before this evaluation"},
    {"init_rate", "1", "AM-DRL: initiators per EN at a formation (as in /runs/train)"},
};
enum { EC_RETURN, EC_TRAINED, EC_INIT, EC_N };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void afs_train_checkpoint_path(const afs_config *cfg, char *buf, size_t n)
{
    if (cfg->train.checkpoint[0]) {
        snprintf(buf, n, "%s", cfg->train.checkpoint);
        return;
    }
    afs_h5_beside(cfg->run.out, "ckpt", buf, n);
}

/* Everything one training owns; freed by train_free whatever happened. */
typedef struct train_state {
    const afs_config *cfg;
    afs_backend *b;
    const afs_train_options *opt;
    afs_env env;
    int env_made;
    afs_agent *agent;
    afs_h5 *h5;
    afs_outlock out_lock, ckpt_lock;
    char ckpt[AFS_PATH_MAX + 16];
    char run_id[64];
    afs_counters k;          /* episodes finished, gradient steps, evaluation rows */
    afs_h5_number numbers[8];
    afs_h5_run runs[2];      /* train, eval */
    double t_start;
    int first_episode;       /* of this process (after a resume: the checkpoint's) */
    afs_episode_row last_eval; /* the mean of the last evaluation */
    double last_eval_return;
    int evaluated;
    int ckpt_failed;         /* a checkpoint write failed: the disk may be full */
    double last_print;       /* of a progress line (AFS_PROGRESS_LINES) */
    afs_eta eta;             /* of the progress line */
    long long ckpt_episode;  /* episodes the last checkpoint holds */
} train_state;

static void train_free(train_state *s)
{
    afs_agent_destroy(s->agent);
    if (s->env_made)
        afs_env_free(&s->env, s->b);
    afs_outlock_drop(&s->ckpt_lock);
    afs_outlock_drop(&s->out_lock);
}

/* ---- Setting up: plan, memory, agent, output ---- */

static void new_run_id(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    char when[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, n, "%s-%ld-%09ld", when, (long)getpid(), (long)ts.tv_nsec);
}

/* The replay's size, printed, and the memory check, before allocating. */
static int plan(train_state *s, afs_replay_info *info, char *err, size_t n)
{
    const afs_config *cfg = s->cfg;
    if (afs_agent_plan(s->opt->algo, cfg, cfg->run.envs, info, err, n))
        return -1;
    afs_run_memory m = afs_run_memory_of(cfg);
    double replay = info->capacity * info->record_bytes, nets;
    if (afs_agent_net_bytes(s->opt->algo, s->b, cfg, cfg->run.envs, &nets, err, n))
        return -1;
    int verbose = s->opt->progress != AFS_PROGRESS_NONE;
    if (verbose)
        fprintf(stderr, "afsim: replay: %.0f bytes per record (one agent, one slot), capacity "
                "%.4g records = %.0f slots of %d x %d, replay ratio %.3g samples drawn per "
                "record stored\n", info->record_bytes, info->capacity, info->slots,
                cfg->run.envs, cfg->env.agents, info->ratio);
    char detail[256];
    snprintf(detail, sizeof detail, "state %.1f MiB, observations %.1f MiB, replay %.1f MiB, "
             "networks %.1f MiB", afs_mib(m.state), afs_mib(m.io), afs_mib(replay),
             afs_mib(nets));
    return afs_memory_check(s->b, m.state + m.io + replay + nets, 0.0, detail,
                            "lower train.replay_mib or run.envs (networks: the method's batch "
                            "and hidden sizes)", verbose, err, n);
}

/* The runs of the results file: /runs/train and /runs/eval. */
static void describe_runs(train_state *s, const afs_replay_info *info)
{
    const afs_config *cfg = s->cfg;
    const afs_algo_params *p = afs_agent_algo_params(cfg, s->opt->algo);
    afs_h5_number *x = s->numbers;
    x[0] = (afs_h5_number){"replay_record_bytes", info->record_bytes};
    x[1] = (afs_h5_number){"replay_capacity", info->capacity};
    x[2] = (afs_h5_number){"replay_slots", info->slots};
    x[3] = (afs_h5_number){"replay_ratio", info->ratio};
    x[4] = (afs_h5_number){"batch", p->batch};
    x[5] = (afs_h5_number){"updates_per_slot", cfg->train.updates_per_slot};
    x[6] = (afs_h5_number){"warmup", cfg->train.warmup};
    long long evals = cfg->train.eval_every > 0
                          ? (long long)(cfg->train.episodes / cfg->train.eval_every + 1) *
                                cfg->train.eval_episodes : 0;
    s->runs[0] = (afs_h5_run){.name = "train", .backend = s->b->name, .policy = s->opt->algo,
                              .rows = cfg->train.episodes, .extra = train_columns,
                              .nextra = TC_N, .numbers = x, .nnumbers = 7};
    s->runs[1] = (afs_h5_run){.name = "eval", .backend = s->b->name, .policy = s->opt->algo,
                              .rows = evals > 0 ? evals : 1, .extra = eval_columns, .nextra = EC_N};
}

/* The agent, restored from the checkpoint when resuming. */
static int make_agent(train_state *s, char *err, size_t n)
{
    const afs_config *cfg = s->cfg;
    s->agent = afs_agent_create(s->opt->algo, s->b, cfg, cfg->run.envs, 1, err, n);
    if (!s->agent)
        return -1;
    char learners[256];
    if (!s->agent->learns)
        return afs_fail(err, n, "--algo %s learns nothing: give %s", s->opt->algo,
                        afs_learner_names(learners, sizeof learners, ", ", " or "));
    if (!s->opt->resume)
        return 0;
    afs_ckpt_set sets[AFS_CKPT_MAX_SETS];
    afs_ckpt_blob blobs[AFS_CKPT_MAX_BLOBS];
    afs_checkpoint c = {.sets = sets, .blobs = blobs};
    s->agent->ops->checkpoint(s->agent, &c, 1);
    int with_replay = 0;
    if (afs_checkpoint_load(s->opt->resume, s->b, &c, 1, &with_replay, err, n))
        return -1;
    if (strcmp(c.algo, s->opt->algo))
        return afs_fail(err, n, "%s is a checkpoint of %s, not %s", s->opt->resume, c.algo,
                        s->opt->algo);
    if (c.counters.seed != cfg->run.seed || !c.run_id[0])
        return afs_fail(err, n, "%s is not a training checkpoint of this run (seed %u, run id "
                        "'%s')", s->opt->resume, c.counters.seed, c.run_id);
    char why[512];
    if (s->agent->ops->set_updates(s->agent, c.counters.updates, with_replay, why, sizeof why))
        return afs_fail(err, n, "%s: %s: not a checkpoint this afsim wrote (damaged?)",
                        s->opt->resume, why);
    s->k = c.counters;
    snprintf(s->run_id, sizeof s->run_id, "%s", c.run_id);
    if (!with_replay && s->opt->progress != AFS_PROGRESS_NONE)
        fprintf(stderr, "afsim: %s holds no replay (train.checkpoint_replay was off): training "
                "resumes with an empty one, not as the uninterrupted run would have\n",
                s->opt->resume);
    return 0;
}

/* The results file: a new one, or (resuming) the training's own file cut
 * to the checkpoint's rows. */
static int open_output(train_state *s, char *err, size_t n)
{
    const afs_config *cfg = s->cfg;
    const char *out = cfg->run.out;
    const char *who = s->opt->command ? s->opt->command : "afsim train";
    struct stat st;
    if (afs_outlock_take(&s->out_lock, out, who, err, n) ||
        afs_outlock_take(&s->ckpt_lock, s->ckpt, who, err, n))
        return -1;
    if (s->opt->resume && stat(out, &st) == 0) {
        long long keep[2] = {s->k.episode, s->k.eval_rows};
        s->h5 = afs_h5_continue(out, s->run_id, s->runs, keep, 2, err, n);
        return s->h5 ? 0 : -1;
    }
    if (!s->opt->resume)
        new_run_id(s->run_id, sizeof s->run_id);
    s->h5 = afs_h5_create(out, cfg->run.overwrite, cfg, s->runs, 2, err, n);
    if (!s->h5)
        return -1;
    return afs_h5_set_run_id(s->h5, s->run_id, err, n);
}

/* The checkpoint and the files beside it that a training may replace
 * (NAME.epN.h5 are checked as they come): regular files or none, in a
 * folder that can be written, before anything is trained. */
static int check_checkpoints(const train_state *s, char *err, size_t n)
{
    static const char *const tags[] = {"best", "last-good"};
    char path[AFS_PATH_MAX + 48];
    if (afs_check_output(s->ckpt, "train.checkpoint", 1, err, n))
        return -1;
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++) {
        afs_h5_beside(s->ckpt, tags[i], path, sizeof path);
        if (afs_check_output(path, "train.checkpoint", 1, err, n))
            return -1;
    }
    return 0;
}

static int set_up(train_state *s, char *err, size_t n)
{
    const afs_config *cfg = s->cfg;
    afs_replay_info info;
    afs_train_checkpoint_path(cfg, s->ckpt, sizeof s->ckpt);
    if (!strcmp(s->ckpt, cfg->run.out))
        return afs_fail(err, n, "train.checkpoint = %s is the results file: give another name",
                        s->ckpt);
    if (check_checkpoints(s, err, n) || plan(s, &info, err, n) ||
        afs_h5_check_destination(cfg->run.out, cfg->run.overwrite || s->opt->resume, err, n))
        return -1;
    if (afs_env_init(&s->env, s->b, &cfg->env, cfg->run.envs, cfg->run.seed))
        return afs_fail(err, n, "out of %s memory for %d environments", s->b->name,
                        cfg->run.envs);
    s->env_made = 1;
    if (make_agent(s, err, n))
        return -1;
    if (s->k.episode > cfg->train.episodes)
        return afs_fail(err, n, "%s has trained %lld episodes already, more than train.episodes "
                        "= %d: pass --episodes N above %lld to train more", s->opt->resume,
                        (long long)s->k.episode, cfg->train.episodes, (long long)s->k.episode);
    describe_runs(s, &s->agent->replay);
    return open_output(s, err, n);
}

/* ---- Checkpoints ---- */

static int save_checkpoint(train_state *s, const char *path, int with_replay, char *err,
                           size_t n)
{
    afs_ckpt_set sets[AFS_CKPT_MAX_SETS];
    afs_ckpt_blob blobs[AFS_CKPT_MAX_BLOBS];
    afs_checkpoint c = {.sets = sets, .blobs = blobs};
    snprintf(c.algo, sizeof c.algo, "%s", s->opt->algo);
    snprintf(c.run_id, sizeof c.run_id, "%s", s->run_id);
    s->agent->ops->checkpoint(s->agent, &c, with_replay);
    c.counters = s->k;
    c.counters.seed = s->cfg->run.seed;
    c.counters.updates = s->agent->ops->updates(s->agent);
    if (afs_checkpoint_save(path, s->b, &c, s->cfg, err, n)) {
        s->ckpt_failed = 1;
        return -1;
    }
    return 0;
}

/* The checkpoint just written, kept also as NAME.epN.h5: a second name
 * of the same file (a hard link: the next checkpoint replaces NAME by a
 * new file, this one stays), or a copy where links are not supported. */
static int keep_copy(train_state *s, char *err, size_t n)
{
    char path[AFS_PATH_MAX + 64], tag[32];
    snprintf(tag, sizeof tag, "ep%lld", (long long)s->k.episode);
    afs_h5_beside(s->ckpt, tag, path, sizeof path);
    if (afs_check_output(path, "train.checkpoint", 1, err, n))
        return -1;
    unlink(path); /* an older one of the same episode (a resumed training redoing it) */
    if (link(s->ckpt, path) == 0)
        return 0;
    return save_checkpoint(s, path, s->cfg->train.checkpoint_replay, err, n);
}

/* CHECKPOINT.best.h5 (train.keep_best): the networks of the evaluation
 * with the highest mean return so far, without the replay. The best value
 * travels in the checkpoint's counters; a resumed training redoes the
 * episodes after its checkpoint and so the same evaluations (bit for bit
 * with the replay kept), and rewrites this file as they decide. */
static int keep_if_best(train_state *s, char *err, size_t n)
{
    double r = s->last_eval_return;
    if (!s->cfg->train.keep_best || !isfinite(r) ||
        (!isnan(s->k.best_return) && r <= s->k.best_return))
        return 0;
    s->k.best_return = r;
    char path[AFS_PATH_MAX + 48];
    afs_h5_beside(s->ckpt, "best", path, sizeof path);
    return save_checkpoint(s, path, 0, err, n);
}

/* After a non-finite loss or gradient: the networks as they were before
 * that step (every value finite), for inspection, beside the checkpoint. */
static void keep_last_good(train_state *s, int episode, char *err, size_t n)
{
    char path[AFS_PATH_MAX + 48], why[512];
    afs_h5_beside(s->ckpt, "last-good", path, sizeof path);
    size_t used = strlen(err);
    if (save_checkpoint(s, path, 0, why, sizeof why))
        snprintf(err + used, n - used, "; keeping the last good networks failed too: %s", why);
    else
        snprintf(err + used, n - used, ". The networks before that step (in episode %d) are in "
                 "%s; the checkpoint %s holds episode %lld: resume from it with a lower "
                 "learning rate or a gradient clip", episode, path, s->ckpt,
                 (long long)s->k.episode);
}

/* ---- The loop ---- */

static double return_of(const afs_episode_row *row, const afs_env *env)
{
    return row->functions > 0 ? row->mean_reward * (double)row->functions / ((double)env->E * env->M)
                              : 0.0;
}

static void format_eta(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, n, "?");
    else if (s >= 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(fmod(s, 3600) / 60));
    else
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

void afs_eta_episode(afs_eta *e, double now, int steady, int left, char *buf, size_t n)
{
    double took = now - e->last;
    e->last = now;
    e->all_s += took;
    e->all_n++;
    if (steady) {
        e->steady_s += took;
        e->steady_n++;
    }
    int bound = !e->steady_n; /* warm-up episodes only: the time left is longer */
    char text[32];
    format_eta((bound ? e->all_s / e->all_n : e->steady_s / e->steady_n) * left, text,
               sizeof text);
    snprintf(buf, n, "%s%s", bound && left > 0 && strcmp(text, "?") ? ">" : "", text);
}

static void progress(train_state *s, int ep, const afs_episode_row *row, double ret,
                     const afs_agent_stats *st, int final)
{
    int episodes = s->cfg->train.episodes;
    char eta[32];
    if (!s->eta.all_n)
        s->eta.last = s->t_start;
    int steady = st->updates >= (double)s->cfg->train.updates_per_slot * s->cfg->env.slots;
    afs_eta_episode(&s->eta, now_s(), steady, episodes - ep - 1, eta, sizeof eta);
    char line[256];
    snprintf(line, sizeof line, "%s episode %d/%d  %.3g agent-steps/s  return %.3f  success %.3f"
             "  critic %.3g  actor %.3g  ETA %s", s->opt->algo, ep + 1, episodes,
             row->agent_steps_per_s, ret, row->success_rate, st->critic_loss, st->actor_loss, eta);
    if (s->opt->progress == AFS_PROGRESS_LIVE) {
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
    } else if (s->opt->progress == AFS_PROGRESS_LINES && (now_s() - s->last_print > 10.0 || final)) {
        fprintf(stderr, "%s\n", line);
        s->last_print = now_s();
    }
}

/* The deterministic policy on the held-out episodes 0 .. eval_episodes - 1. */
static int evaluate(train_state *s, int trained, char *err, size_t n)
{
    afs_episode_sums total = {{0}};
    double ret_sum = 0.0;
    int k;
    for (k = 0; k < s->cfg->train.eval_episodes; k++) {
        afs_episode_row row;
        afs_episode_sums sums;
        afs_agent_stats st;
        int rc = afs_episode_play(s->agent, &s->env, (uint32_t)k, AFS_PLAY_EVAL, NULL, &row,
                                  &sums, &st, err, n);
        if (rc)
            return rc;
        double extra[EC_N] = {return_of(&row, &s->env), trained, st.init_rate};
        if (afs_h5_append_episode(s->h5, &row, extra, err, n))
            return -1;
        s->k.eval_rows++;
        ret_sum += extra[EC_RETURN];
        for (int a = 0; a < AFS_ACC_N; a++)
            total.v[a] += sums.v[a];
    }
    afs_row_from_sums(&s->last_eval, &total);
    s->last_eval_return = ret_sum / k;
    s->evaluated = 1;
    if (s->opt->progress != AFS_PROGRESS_NONE)
        fprintf(stderr, "%seval after %d episodes: success %.4f  latency %.4f s  cost %.4f  "
                "return %.4f  offload %.3f\n", s->opt->progress == AFS_PROGRESS_LIVE ? "\r\033[K" : "",
                trained, s->last_eval.success_rate, s->last_eval.mean_latency_s,
                s->last_eval.mean_cost, s->last_eval_return, s->last_eval.offload_fraction);
    return 0;
}

static int due(int every, int done, int last)
{
    return last || (every > 0 && done % every == 0);
}

/* One training episode, its row, and what is due after it. 0, -1 (err),
 * or AFS_EPISODE_STOPPED. */
static int train_episode(train_state *s, int ep, char *err, size_t n)
{
    const afs_config *cfg = s->cfg;
    afs_episode_row row;
    afs_episode_sums sums;
    afs_agent_stats st;
    s->agent->progress = (double)ep / cfg->train.episodes;
    int rc = afs_episode_play(s->agent, &s->env, AFS_TRAIN_EPISODES + (uint32_t)ep, AFS_PLAY_TRAIN,
                              NULL, &row, &sums, &st, err, n);
    if (rc == -1)
        keep_last_good(s, ep, err, n);
    if (rc)
        return rc;
    double ret = return_of(&row, &s->env);
    if (row.functions > 0 && !(isfinite(ret) && isfinite(row.mean_latency_s)))
        return afs_fail(err, n, "the environment's state is not finite in training episode %d "
                        "(return %g, latency %g): a configuration whose rates or speeds "
                        "overflow?", ep, ret, row.mean_latency_s);
    row.episode = ep;
    double extra[TC_N] = {ret, st.critic_loss, st.actor_loss, st.td_abs, st.updates,
                          st.replay_fill, st.init_rate, st.label_mean, st.dq_positive,
                          st.attention_auc};
    if (afs_h5_begin_run(s->h5, "train", err, n) || afs_h5_append_episode(s->h5, &row, extra, err, n))
        return -1;
    s->k.episode = ep + 1;
    s->k.updates = s->agent->ops->updates(s->agent);
    int last = ep + 1 == cfg->train.episodes || afs_stop_level() >= 1;
    progress(s, ep, &row, ret, &st, last);
    if (cfg->train.eval_every > 0 && due(cfg->train.eval_every, ep + 1, ep + 1 == cfg->train.episodes)) {
        if (afs_h5_begin_run(s->h5, "eval", err, n))
            return -1;
        rc = evaluate(s, ep + 1, err, n);
        if (rc)
            return rc;
        if (keep_if_best(s, err, n))
            return -1;
    }
    if (due(cfg->train.checkpoint_every, ep + 1, last)) {
        if (save_checkpoint(s, s->ckpt, cfg->train.checkpoint_replay, err, n) ||
            (cfg->train.checkpoint_keep && keep_copy(s, err, n)))
            return -1;
        s->ckpt_episode = s->k.episode;
    }
    return 0;
}

static void summary(train_state *s, FILE *f)
{
    double elapsed = now_s() - s->t_start;
    int done = (int)s->k.episode - s->first_episode;
    double steps = (double)done * s->env.E * s->env.M * s->env.p.slots;
    if (s->opt->resume && !done)
        fprintf(f, "%s: nothing to train: %s has trained %d episodes already, train.episodes is "
                "%d (pass --episodes N above %d to train more)\n", s->opt->algo, s->opt->resume,
                s->first_episode, s->cfg->train.episodes, s->first_episode);
    else
        fprintf(f, "%s: %d episodes trained in %.1f s (%.3g agent-steps/s with learning), %lld "
                "gradient steps\n", s->opt->algo, done, elapsed,
                elapsed > 0 ? steps / elapsed : 0.0, (long long)s->k.updates);
    if (s->evaluated)
        fprintf(f, "last evaluation (%d held-out episodes): success %.4f  latency %.4f s  cost "
                "%.4f  return %.4f  offload %.3f\n", s->cfg->train.eval_episodes,
                s->last_eval.success_rate, s->last_eval.mean_latency_s, s->last_eval.mean_cost,
                s->last_eval_return, s->last_eval.offload_fraction);
    fprintf(f, "checkpoint: %s\n", s->ckpt);
    if (s->cfg->train.keep_best && !isnan(s->k.best_return)) {
        char path[AFS_PATH_MAX + 48];
        afs_h5_beside(s->ckpt, "best", path, sizeof path);
        fprintf(f, "best evaluation (return %.4f): %s\n", s->k.best_return, path);
    }
    fprintf(f, "results: %s\n", s->cfg->run.out);
}

int afs_train(const afs_config *cfg, afs_backend *b, const afs_train_options *opt, char *err,
              size_t n)
{
    train_state s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.b = b;
    s.opt = opt;
    s.out_lock = s.ckpt_lock = (afs_outlock){-1, ""};
    s.k.best_return = NAN;
    int rc = set_up(&s, err, n);
    s.first_episode = (int)s.k.episode;
    s.ckpt_episode = s.k.episode;
    s.t_start = now_s();
    int stopped_at_once = 0;
    for (int ep = (int)s.k.episode; !rc && ep < cfg->train.episodes && !afs_stop_level(); ep++) {
        rc = train_episode(&s, ep, err, n);
        if (rc == AFS_EPISODE_STOPPED) {
            stopped_at_once = 1;
            rc = 0;
        }
    }
    if (opt->progress == AFS_PROGRESS_LIVE)
        fputs("\r\033[K", stderr);
    char close_err[AFS_PATH_MAX + 512];
    /* after a failed checkpoint write the results file is left as its last
     * flush left it (writing more on a full disk could damage it); any
     * other error end cuts it to its finished rows */
    if (s.h5 && afs_h5_close(s.h5, s.ckpt_failed, close_err, sizeof close_err) && !rc)
        rc = afs_fail(err, n, "%s", close_err);
    if (!rc && opt->summary)
        summary(&s, opt->summary);
    train_free(&s);
    if (rc)
        return 1;
    if (afs_stop_level()) {
        if (!opt->nested)
            fprintf(stderr, "afsim: stopped by a signal%s; resume with --resume %s (episode %lld)\n",
                    stopped_at_once ? " (a second one: the episode under way is dropped)" : "",
                    s.ckpt, s.ckpt_episode);
        return 130;
    }
    return 0;
}
