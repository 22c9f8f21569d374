#define _POSIX_C_SOURCE 200809L /* fmemopen */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fail.h"
#include "core/policy_names.h"
#include "kernels/common/env_math.h"
#include "models/mlp.h"

#define ENV(f) offsetof(afs_config, env.f)
#define RUN(f) offsetof(afs_config, run.f)
#define NN(f) offsetof(afs_config, nn.f)
#define TRAIN(f) offsetof(afs_config, train.f)
#define COMM(f) offsetof(afs_config, comm.f)
#define SIZE_OF(type, f) sizeof(((type *)0)->f)

/* The keys of one algorithm's section (afs_algo_params), with its defaults. */
#define ALGO_KEYS(sec, d_ahid, d_chid, d_alr, d_clr, d_gamma, d_tau, d_clip, d_batch, d_replay)     \
    {#sec, "actor_hidden", AFS_T_STRING, offsetof(afs_config, sec.actor_hidden),                    \
     SIZE_OF(afs_algo_params, actor_hidden), 0, 0, 0, d_ahid, "", "actor hidden layer sizes (none: one linear layer)"},      \
    {#sec, "critic_hidden", AFS_T_STRING, offsetof(afs_config, sec.critic_hidden),                  \
     SIZE_OF(afs_algo_params, critic_hidden), 0, 0, 0, d_chid, "", "critic hidden layer sizes (none: one linear layer)"},    \
    {#sec, "actor_lr", AFS_T_FLOAT, offsetof(afs_config, sec.actor_lr), 0, 0, 1, 1, d_alr, "",      \
     "Adam learning rate of the actor"},                                                            \
    {#sec, "critic_lr", AFS_T_FLOAT, offsetof(afs_config, sec.critic_lr), 0, 0, 1, 1, d_clr, "",    \
     "Adam learning rate of the critic"},                                                           \
    {#sec, "gamma", AFS_T_FLOAT, offsetof(afs_config, sec.gamma), 0, 0, 1, 0, d_gamma, "",          \
     "discount of future rewards"},                                                                 \
    {#sec, "tau", AFS_T_FLOAT, offsetof(afs_config, sec.tau), 0, 0, 1, 1, d_tau, "",                \
     "soft target update: target = tau online + (1 - tau) target"},                                 \
    {#sec, "grad_clip", AFS_T_FLOAT, offsetof(afs_config, sec.grad_clip), 0, 0, 1e6, 0, d_clip,     \
     "", "largest gradient L2 norm, 0 = no clipping"},                                              \
    {#sec, "batch", AFS_T_INT, offsetof(afs_config, sec.batch), 0, 1, 1 << 20, 0, d_batch, "",      \
     "transitions per gradient step"},                                                              \
    {#sec, "replay", AFS_T_STRING, offsetof(afs_config, sec.replay),                                \
     SIZE_OF(afs_algo_params, replay), 0, 0, 0, d_replay, "", "uniform or prioritized"},            \
    {#sec, "per_alpha", AFS_T_FLOAT, offsetof(afs_config, sec.per_alpha), 0, 0, 1, 0, "0.6",        \
     "", "prioritized replay: priority = (|TD| + eps)^alpha"},                                      \
    {#sec, "per_beta0", AFS_T_FLOAT, offsetof(afs_config, sec.per_beta0), 0, 0, 1, 0, "0.4",        \
     "", "prioritized replay: importance exponent at the start, annealed to 1"},                    \
    {#sec, "per_eps", AFS_T_FLOAT, offsetof(afs_config, sec.per_eps), 0, 0, 1, 1, "1e-6", "",       \
     "prioritized replay: eps of the priority"}
#define BIG 1e9

/* section, name, type, offset, size, lo, hi, lo_open, default, unit, doc */
static const afs_config_key keys[] = {
    {"run", "envs", AFS_T_INT, RUN(envs), 0, 1, 1e7, 0, "64", "", "environments stepped together (E)"},
    {"run", "episodes", AFS_T_INT, RUN(episodes), 0, 1, BIG, 0, "10", "", "episodes per policy"},
    {"run", "seed", AFS_T_U32, RUN(seed), 0, 0, 4294967295.0, 0, "1", "", "key of every random stream"},
    {"run", "threads", AFS_T_INT, RUN(threads), 0, 0, 1024, 0, "0", "", "CPU backend threads, 0 = every core"},
    {"run", "policies", AFS_T_STRING, RUN(policies), sizeof(((afs_run_params *)0)->policies), 0, 0, 0,
     "random,greedy,all_local,all_cloud", "", "comma-separated: random, greedy, all_local, all_cloud, best_response (greedy improved by a "
     "coordinated descent on each environment's slot reward, [best_response]), deadline (local when the EN's own estimate meets "
     "alpha x the deadline, [deadline]), ckpt:PATH (a trained policy)"},
    {"run", "backend", AFS_T_STRING, RUN(backend), sizeof(((afs_run_params *)0)->backend), 0, 0, 0,
     "auto", "", "auto (CUDA when a device is present), cpu or cuda"},
    {"run", "out", AFS_T_STRING, RUN(out), AFS_PATH_MAX, 0, 0, 0, "afsim.h5", "", "HDF5 results file"},
    {"run", "overwrite", AFS_T_BOOL, RUN(overwrite), 0, 0, 1, 0, "false", "", "replace an existing results file"},
    {"run", "trace", AFS_T_BOOL, RUN(trace), 0, 0, 1, 0, "false", "", "write the per-function trace"},

    {"env", "agents", AFS_T_INT, ENV(agents), 0, 1, 1e6, 0, "60", "", "edge nodes per environment (M)"},
    {"env", "ap_grid", AFS_T_INT, ENV(ap_grid), 0, 1, AFS_MAX_AP_GRID, 0, "3", "", "APs on an ap_grid x ap_grid grid"},
    {"env", "slots", AFS_T_INT, ENV(slots), 0, 1, 1e7, 0, "100", "", "slots per episode (L)"},
    {"env", "types", AFS_T_INT, ENV(types), 0, 1, AFS_MAX_TYPES, 0, "8", "", "function types"},
    {"env", "keep_alive", AFS_T_INT, ENV(keep_alive), 0, 0, 1e7, 0, "10", "slots", "warm window after a container's last use"},
    {"env", "area_m", AFS_T_FLOAT, ENV(area_m), 0, 1, 1e5, 0, "350", "m", "side of the square area"},
    {"env", "slot_s", AFS_T_FLOAT, ENV(slot_s), 0, 0, 3600, 1, "1", "s", "slot length"},
    {"env", "f_min", AFS_T_FLOAT, ENV(f_min), 0, 0, 1e4, 1, "0.5", "GHz", "EN CPU f_m, lower bound"},
    {"env", "f_max", AFS_T_FLOAT, ENV(f_max), 0, 0, 1e4, 1, "3.5", "GHz", "EN CPU f_m, upper bound"},
    {"env", "mu_min", AFS_T_FLOAT, ENV(mu_min), 0, 0, 1, 0, "0.5", "1/slot", "arrival probability mu_m, lower bound"},
    {"env", "mu_max", AFS_T_FLOAT, ENV(mu_max), 0, 0, 1, 0, "1.0", "1/slot", "arrival probability mu_m, upper bound"},
    {"env", "queue_cap", AFS_T_FLOAT, ENV(queue_cap), 0, 0, 1e9, 1, "10", "Gcycles", "EN queue capacity"},
    {"env", "fc_min", AFS_T_FLOAT, ENV(fc_min), 0, 0, 1e6, 1, "31.5", "GHz", "cloud CPU f_c, lower bound"},
    {"env", "fc_max", AFS_T_FLOAT, ENV(fc_max), 0, 0, 1e6, 1, "51.5", "GHz", "cloud CPU f_c, upper bound"},
    {"env", "z_min", AFS_T_FLOAT, ENV(z_min), 0, 0, 1e6, 0, "1", "Mbit", "input size z, lower bound"},
    {"env", "z_max", AFS_T_FLOAT, ENV(z_max), 0, 0, 1e6, 0, "3", "Mbit", "input size z, upper bound"},
    {"env", "k_min", AFS_T_FLOAT, ENV(k_min), 0, 0, 1e6, 1, "1", "Gcycles", "CPU requirement k, lower bound"},
    {"env", "k_max", AFS_T_FLOAT, ENV(k_max), 0, 0, 1e6, 1, "2", "Gcycles", "CPU requirement k, upper bound"},
    {"env", "k_scale", AFS_T_FLOAT, ENV(k_scale), 0, 0, 1e3, 1, "1", "", "multiplies k (figure 5)"},
    {"env", "t_mean", AFS_T_FLOAT, ENV(t_mean), 0, 0, 1e6, 1, "1.6", "s", "mean deadline T"},
    {"env", "t_jitter", AFS_T_FLOAT, ENV(t_jitter), 0, 0, 1e6, 0, "0.2", "s", "T = t_mean + U[-t_jitter, t_jitter]"},
    {"env", "c_min", AFS_T_FLOAT, ENV(c_min), 0, 0, 1e6, 0, "0.05", "Mbit", "result size c, lower bound"},
    {"env", "c_max", AFS_T_FLOAT, ENV(c_max), 0, 0, 1e6, 0, "0.2", "Mbit", "result size c, upper bound"},
    {"env", "mem_base_mb", AFS_T_FLOAT, ENV(mem_base_mb), 0, 0, 1e6, 1, "128", "MB", "memory of type t is mem_base_mb * 2^(t mod 4)"},
    {"env", "r_up", AFS_T_FLOAT, ENV(r_up), 0, 0, 1e9, 1, "50", "Mbit/s", "device to EN upload rate"},
    {"env", "d_warm", AFS_T_FLOAT, ENV(d_warm), 0, 0, 1e3, 0, "0.01", "s", "warm start"},
    {"env", "cold_base", AFS_T_FLOAT, ENV(cold_base), 0, 0, 1e3, 0, "0.25", "s", "cold start, fixed part"},
    {"env", "cold_per_mb", AFS_T_FLOAT, ENV(cold_per_mb), 0, 0, 1, 0, "0.0005", "s/MB", "cold start, per MB of memory"},
    {"env", "b_tr", AFS_T_FLOAT, ENV(b_tr), 0, 0, 1e6, 1, "5", "MHz", "band of one AP"},
    {"env", "p_tx", AFS_T_FLOAT, ENV(p_tx), 0, 0, 1e3, 1, "0.5", "W", "EN transmit power"},
    {"env", "noise_dbm", AFS_T_FLOAT, ENV(noise_dbm), 0, -250, 100, 0, "-100", "dBm", "noise power sigma^2"},
    {"env", "reuse", AFS_T_FLOAT, ENV(reuse), 0, 0, 1, 0, "0.1", "", "share of other APs' received power that interferes"},
    {"env", "idle_prob", AFS_T_FLOAT, ENV(idle_prob), 0, 0, 1, 0, "0.1", "", "probability of a network idle period per cloud run"},
    {"env", "idle_mean", AFS_T_FLOAT, ENV(idle_mean), 0, 0, 1e3, 0, "0.1", "s", "mean of the exponential idle period"},
    {"env", "w1", AFS_T_FLOAT, ENV(w1), 0, 0, 1, 0, "0.5", "", "weight of compute cost in P"},
    {"env", "w2", AFS_T_FLOAT, ENV(w2), 0, 0, 1, 0, "0.5", "1/s", "weight of latency in P"},
    {"env", "rho", AFS_T_FLOAT, ENV(rho), 0, 0, 1e6, 0, "1", "1/Gcycle", "price of compute"},
    {"env", "miss_penalty", AFS_T_FLOAT, ENV(miss_penalty), 0, 0, 1e6, 0, "2", "", "reward penalty of a failed function"},

    {"nn", "tf32", AFS_T_BOOL, NN(tf32), 0, 0, 1, 0, "false", "", "TF32 tensor-core matrix products on CUDA (faster, ~1e-3 relative error)"},

    {"train", "episodes", AFS_T_INT, TRAIN(episodes), 0, 1, BIG, 0, "200", "", "training episodes"},
    {"train", "warmup", AFS_T_INT, TRAIN(warmup), 0, 0, BIG, 0, "10000", "records",
     "replay records (one per agent and slot) stored before the first gradient step"},
    {"train", "updates_per_slot", AFS_T_INT, TRAIN(updates_per_slot), 0, 0, 1000, 0, "1", "",
     "gradient steps after each slot"},
    {"train", "gumbel_tau", AFS_T_FLOAT, TRAIN(gumbel_tau), 0, 0, 100, 1, "1", "",
     "temperature of the Gumbel-softmax that explores and trains the actor"},
    {"train", "logit_reg", AFS_T_FLOAT, TRAIN(logit_reg), 0, 0, 10, 0, "1e-3", "",
     "weight of the mean squared actor logits in the actor's loss: bounded logits, so that "
     "the Gumbel-softmax keeps exploring (the MADDPG authors' code: 1e-3)"},
    {"train", "eval_every", AFS_T_INT, TRAIN(eval_every), 0, 0, BIG, 0, "20", "episodes",
     "episodes between evaluations of the deterministic policy, 0 = none"},
    {"train", "eval_episodes", AFS_T_INT, TRAIN(eval_episodes), 0, 1, BIG, 0, "5", "",
     "episodes of each evaluation, on held-out environments"},
    {"train", "checkpoint", AFS_T_STRING, TRAIN(checkpoint), AFS_PATH_MAX, 0, 0, 0, "", "",
     "checkpoint file; empty: the results file's name with .ckpt.h5"},
    {"train", "checkpoint_every", AFS_T_INT, TRAIN(checkpoint_every), 0, 0, BIG, 0, "50",
     "episodes", "episodes between checkpoints, 0 = only at the end"},
    {"train", "checkpoint_replay", AFS_T_BOOL, TRAIN(checkpoint_replay), 0, 0, 1, 0, "false", "",
     "keep the replay in checkpoints, so that --resume continues bit for bit"},
    {"train", "checkpoint_keep", AFS_T_BOOL, TRAIN(checkpoint_keep), 0, 0, 1, 0, "false", "",
     "also keep every checkpoint as NAME.epN.h5 (N episodes trained); NAME is the latest"},
    {"train", "replay_mib", AFS_T_FLOAT, TRAIN(replay_mib), 0, 1, 1e7, 0, "512", "MiB",
     "memory budget of the replay (its capacity follows)"},

    ALGO_KEYS(esdrl, "64,64", "64,64", "1e-3", "1e-3", "0.96", "1e-3", "0", "1024", "uniform"),
    ALGO_KEYS(maddpg, "64,64", "64,64", "1e-2", "1e-2", "0.95", "1e-2", "0.5", "1024", "uniform"),
    /* AM-DRL: actor_hidden is part 1's (obs -> 128 -> thought), batch counts
     * agent rows (rounded up to whole joint rows of M) */
    ALGO_KEYS(amdrl, "128", "512,256", "1e-3", "1e-3", "0.96", "1e-3", "0", "2560", "prioritized"),
    {"amdrl", "thought", AFS_T_INT, COMM(thought), 0, 1, 4096, 0, "128", "",
     "size of the thought h, actor part 1's output"},
    {"amdrl", "part2_hidden", AFS_T_STRING, COMM(part2_hidden), SIZE_OF(afs_comm_params, part2_hidden), 0, 0, 0,
     "128", "", "actor part 2's hidden sizes: (h, integrated h) -> ... -> 2 logits"},
    {"amdrl", "channel_hidden", AFS_T_INT, COMM(channel_hidden), 0, 1, 2048, 0, "64", "",
     "hidden size of each direction of the bidirectional LSTM channel (twice it = thought)"},
    {"amdrl", "attention_hidden", AFS_T_INT, COMM(attention_hidden), 0, 1, 4096, 0, "64", "",
     "size of the attention unit's LSTM cell (one step on h, then a sigmoid)"},
    {"amdrl", "attention_lr", AFS_T_FLOAT, COMM(attention_lr), 0, 0, 1, 1, "1e-3", "",
     "Adam learning rate of the attention unit"},
    {"amdrl", "group_m", AFS_T_INT, COMM(group_m), 0, 0, 15, 0, "4", "ENs",
     "collaborators an initiator picks at most (a group holds group_m + 1 ENs)"},
    {"amdrl", "t_comm", AFS_T_INT, COMM(t_comm), 0, 1, 100000, 0, "15", "slots",
     "slots between group formations: groups hold for t_comm slots"},
    {"amdrl", "comm_range_m", AFS_T_FLOAT, COMM(comm_range_m), 0, 0, 1e6, 0, "100", "m",
     "an initiator picks collaborators within this distance"},
    {"amdrl", "comm", AFS_T_STRING, COMM(comm), SIZE_OF(afs_comm_params, comm), 0, 0, 0, "attention", "",
     "who initiates groups: attention (the attention unit), always (every EN), never (no "
     "communication), random (each EN with probability random_rate)"},
    {"amdrl", "dq_queue", AFS_T_INT, COMM(dq_queue), 0, 1, 1 << 24, 0, "10000", "values",
     "length of the queue of delta-Q values over which they are scaled into labels"},
    {"amdrl", "threshold", AFS_T_FLOAT, COMM(threshold), 0, 0, 1, 0, "0.5", "",
     "an EN initiates a group when the attention unit's output exceeds this"},
    {"amdrl", "critic", AFS_T_STRING, COMM(critic), SIZE_OF(afs_comm_params, critic), 0, 0, 0, "group", "",
     "the critic's view besides the EN's observation, integrated thought and action: group (also the "
     "share of its first group's other members that offloaded: training only) or local (nothing more)"},

    /* Last in the table: keys added later, so that the earlier keep their indices (the
     * fuzz recipes name keys by index; removing nn.actor_hidden and nn.critic_hidden
     * moved every key after [env] down by 2). */
    {"best_response", "rounds", AFS_T_INT, ENV(br_rounds), 0, 1, 1000, 0, "8", "rounds",
     "most rounds of the best_response policy's descent, each visiting every EN with a function "
     "once; it stops sooner after a round without a switch"},
    {"deadline", "alpha", AFS_T_FLOAT, ENV(deadline_alpha), 0, 0, 100, 1, "1", "",
     "the deadline policy runs a function at its EN when the queue ahead plus the function, at "
     "the EN's rate, takes at most alpha x its deadline (afsim sweep chooses it per setting on "
     "training episodes)"},
    {"amdrl", "labels", AFS_T_STRING, COMM(labels), SIZE_OF(afs_comm_params, labels), 0, 0, 0,
     "sign", "", "the attention unit's labels from delta-Q: sign (1 where communicating helped, "
     "dQ > 0, 0 where it hurt: p learns the chance that it helps), anchored (0.5 + 0.5 dQ / max "
     "|dQ| over the queue) or minmax (min-max normalized over the queue)"},
    {"amdrl", "explore_init", AFS_T_FLOAT, COMM(explore_init), 0, 0, 0.5, 0, "0.1", "",
     "init_rule = threshold: while training, each EN's initiation decision (output > threshold) "
     "is flipped with this probability, so that both choices keep being tried"},
    {"amdrl", "random_rate", AFS_T_FLOAT, COMM(random_rate), 0, 0, 1, 0, "0.3", "",
     "comm = random: each EN initiates with this probability at each formation (the control "
     "for the attention unit, at its measured rate)"},
    {"amdrl", "init_rule", AFS_T_STRING, COMM(init_rule), SIZE_OF(afs_comm_params, init_rule), 0, 0,
     0, "sample", "", "who initiates while training: sample (each EN with the attention unit's "
     "probability p) or threshold (p > threshold, as evaluation, flipped with probability "
     "explore_init); evaluation's rule is eval_init"},
    {"amdrl", "eval_init", AFS_T_STRING, COMM(eval_init), SIZE_OF(afs_comm_params, eval_init), 0, 0,
     0, "sample", "", "who initiates in evaluation: sample (each EN with probability p, drawn "
     "from the run's seed: training's rule, the same draws, repeatable) or threshold (p > "
     "threshold, the paper's, which training with sample hardly visits)"},
    {"train", "epsilon", AFS_T_FLOAT, TRAIN(epsilon), 0, 0, 1, 0, "0", "",
     "epsilon-greedy on top of the Gumbel-softmax while training: each decision is a uniformly "
     "drawn action with this probability at the first episode, falling linearly to epsilon_end "
     "at the last (0: none)"},
    {"train", "epsilon_end", AFS_T_FLOAT, TRAIN(epsilon_end), 0, 0, 1, 0, "0", "",
     "epsilon at the last training episode"},
    {"train", "keep_best", AFS_T_BOOL, TRAIN(keep_best), 0, 0, 1, 0, "true", "",
     "also keep the networks of the evaluation with the highest mean return so far as "
     "CHECKPOINT.best.h5 (no replay; chosen on the held-out evaluation episodes)"},
};

#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

int afs_config_key_count(void) { return NKEYS; }

const afs_config_key *afs_config_key_at(int index)
{
    return index >= 0 && index < NKEYS ? &keys[index] : NULL;
}

/* Levenshtein distance, for "did you mean" on a mistyped key. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int sub = diag + (a[i - 1] != b[j - 1]);
            int best = row[j - 1] + 1 < up + 1 ? row[j - 1] + 1 : up + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[lb];
}

_Static_assert(NKEYS <= AFS_MAX_KEYS, "room for every key's origin");

/* Whether key i's section first appears at i (so the dump opens it there). */
static int opens_section(int i)
{
    for (int j = 0; j < i; j++)
        if (!strcmp(keys[j].section, keys[i].section))
            return 0;
    return 1;
}

/* Every section once, in the order of first appearance: "[run], [env], ...". */
static const char *section_list(char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < NKEYS && o < n; i++)
        if (opens_section(i))
            o += (size_t)snprintf(buf + o, n - o, "%s[%s]", i ? ", " : "", keys[i].section);
    return buf;
}

int afs_config_key_index(const char *section, const char *name)
{
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
            return i;
    return -1;
}

/* Text from a file or the command line, shown in a message: control bytes
 * (and other bytes outside printable ASCII) as \xNN, at most n - 1 bytes. */
static const char *shown(const char *text, char *buf, size_t n)
{
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c && o + 5 < n; c++)
        o += (size_t)(*c >= 0x20 && *c < 0x7f ? snprintf(buf + o, n - o, "%c", *c)
                                               : snprintf(buf + o, n - o, "\\x%02x", *c));
    buf[o] = 0;
    return buf;
}

/* Keys afsim had and removed: [nn]'s network sizes, which every learning
 * method's section now has for itself. A file or command line that still
 * sets one is told which keys do (every section's key of that name) rather
 * than offered a look-alike. (Files afsim wrote with them, checkpoints
 * included, still load: only the table's keys are read back from a file.) */
static const char *const removed[] = {"nn.actor_hidden", "nn.critic_hidden"};

/* Every table key called `name`, as "a.name, b.name or c.name". */
static const char *keys_named(const char *name, char *buf, size_t n)
{
    int count = 0, seen = 0;
    for (int i = 0; i < NKEYS; i++)
        count += !strcmp(keys[i].name, name);
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < NKEYS && o < n; i++)
        if (!strcmp(keys[i].name, name))
            o += (size_t)snprintf(buf + o, n - o, "%s%s.%s",
                                  !seen++ ? "" : seen == count ? " or " : ", ", keys[i].section,
                                  name);
    return buf;
}

static int unknown_key(const char *section, const char *name,
                       const char *where, char *err, size_t n)
{
    char full[160], best[160] = "", safe[400];
    int best_d = 4; /* suggest only close matches */
    snprintf(full, sizeof full, "%s.%s", section, name);
    for (size_t r = 0; r < sizeof removed / sizeof removed[0]; r++)
        if (!strcmp(full, removed[r]))
            return afs_fail(err, n, "%s: %s was removed: it sized no network; set the "
                            "method's own instead: %s", where, full,
                            keys_named(name, safe, sizeof safe));
    for (int i = 0; i < NKEYS; i++) {
        char cand[160];
        snprintf(cand, sizeof cand, "%s.%s", keys[i].section, keys[i].name);
        int d = edit_distance(full, cand);
        if (d < best_d) {
            best_d = d;
            snprintf(best, sizeof best, "%s", cand);
        }
    }
    if (best[0])
        return afs_fail(err, n, "%s: unknown key '%s' (did you mean '%s'?)", where,
                        shown(full, safe, sizeof safe), best);
    return afs_fail(err, n, "%s: unknown key '%s' (afsim config --dump lists every key)", where,
                    shown(full, safe, sizeof safe));
}

static int range_error(const afs_config_key *k, const char *show,
                       const char *what, const char *where, char *err, size_t n)
{
    return afs_fail(err, n, "%s: %s.%s = '%s': expected %s in %c%.10g, %.10g]%s%s", where,
                k->section, k->name, show, what, k->lo_open ? '(' : '[',
                k->lo, k->hi, k->unit[0] ? " " : "", k->unit);
}

static int in_range(const afs_config_key *k, double v)
{
    return (k->lo_open ? v > k->lo : v >= k->lo) && v <= k->hi;
}

/* The label of a checkpoint's run: ckpt:<file name> (its folders left out;
 * a long name cut to fit). */
static void checkpoint_label(const char *path, char *label, size_t n)
{
    const char *slash = strrchr(path, '/');
    snprintf(label, n, "ckpt:%.*s", (int)(n - 6), slash ? slash + 1 : path);
}

/* Policies, comma-separated, blanks around each allowed: heuristic names and
 * ckpt:PATH; each named once (each gets one group in the results file).
 * Parsed here, once, into what the run uses. */
static int parse_policies(afs_config *cfg, const char *list, const char *where, char *err,
                          size_t n)
{
    _Static_assert(AFS_POLICY_N <= AFS_MAX_POLICIES, "room for every policy once");
    char safe[400], known[256];
    int count = 0, rc = 0;
    afs_policy_names(known, sizeof known);
    if (!list[strspn(list, ", \t")])
        return afs_fail(err, n, "%s: run.policies is empty (known: %s, ckpt:PATH)", where, known);
    afs_run_params *parsed = malloc(sizeof *parsed); /* the run's copy is set on success */
    if (!parsed)
        return afs_fail(err, n, "%s: out of memory", where);
    for (const char *p = list;; p++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (!len) {
            rc = afs_fail(err, n, "%s: run.policies = '%s': an empty name between commas",
                          where, shown(list, safe, sizeof safe));
            break;
        }
        if (count == AFS_MAX_POLICIES) {
            rc = afs_fail(err, n, "%s: run.policies: more than %d policies", where,
                          AFS_MAX_POLICIES);
            break;
        }
        char name[AFS_PATH_MAX];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        int id = afs_policy_from_name(name);
        if (id >= 0) {
            snprintf(parsed->policy_label[count], sizeof parsed->policy_label[count], "%.60s", name);
            parsed->policy_path[count][0] = 0;
        } else if (!strncmp(name, "ckpt:", 5) && name[5]) {
            id = AFS_POLICY_CHECKPOINT;
            snprintf(parsed->policy_path[count], sizeof parsed->policy_path[count], "%s", name + 5);
            checkpoint_label(name + 5, parsed->policy_label[count], sizeof parsed->policy_label[count]);
        } else {
            rc = afs_fail(err, n, "%s: run.policies: unknown policy '%s' (known: %s, ckpt:PATH)",
                          where, shown(name, safe, sizeof safe), known);
            break;
        }
        for (int k = 0; k < count && !rc; k++)
            if (!strcmp(parsed->policy_label[k], parsed->policy_label[count]))
                rc = afs_fail(err, n, "%s: run.policies: '%s' is named twice", where,
                              shown(parsed->policy_label[count], safe, sizeof safe));
        if (rc)
            break;
        parsed->policy[count++] = id;
        if (!end)
            break;
        p = end;
    }
    if (!rc) {
        memcpy(cfg->run.policy, parsed->policy, sizeof parsed->policy);
        memcpy(cfg->run.policy_path, parsed->policy_path, sizeof parsed->policy_path);
        memcpy(cfg->run.policy_label, parsed->policy_label, sizeof parsed->policy_label);
        cfg->run.policy_count = count;
    }
    free(parsed);
    return rc;
}

static int set_string(afs_config *cfg, const afs_config_key *k, const char *value,
                      const char *show, const char *where, char *err, size_t n)
{
    int sizes[AFS_MLP_MAX_LAYERS];
    if (strlen(value) >= k->size)
        return afs_fail(err, n, "%s: %s.%s: value longer than %zu characters", where,
                    k->section, k->name, k->size - 1);
    if (!strcmp(k->name, "backend") && strcmp(value, "auto") &&
        strcmp(value, "cpu") && strcmp(value, "cuda"))
        return afs_fail(err, n, "%s: run.backend = '%s': expected auto, cpu or cuda", where, show);
    if (!strcmp(k->name, "policies") && parse_policies(cfg, value, where, err, n))
        return -1;
    if (!strcmp(k->name, "replay") && strcmp(value, "uniform") && strcmp(value, "prioritized"))
        return afs_fail(err, n, "%s: %s.replay = '%s': expected uniform or prioritized", where,
                        k->section, show);
    if (!strcmp(k->name, "critic") && strcmp(value, "group") && strcmp(value, "local"))
        return afs_fail(err, n, "%s: amdrl.critic = '%s': expected group or local", where, show);
    if (!strcmp(k->name, "comm") && strcmp(value, "attention") && strcmp(value, "always") &&
        strcmp(value, "never") && strcmp(value, "random"))
        return afs_fail(err, n, "%s: amdrl.comm = '%s': expected attention, always, never or random",
                        where, show);
    if ((!strcmp(k->name, "init_rule") || !strcmp(k->name, "eval_init")) &&
        strcmp(value, "sample") && strcmp(value, "threshold"))
        return afs_fail(err, n, "%s: amdrl.%s = '%s': expected sample or threshold", where,
                        k->name, show);
    if (!strcmp(k->name, "labels") && strcmp(value, "sign") && strcmp(value, "anchored") &&
        strcmp(value, "minmax"))
        return afs_fail(err, n, "%s: amdrl.labels = '%s': expected sign, anchored or minmax", where,
                        show);
    if (strstr(k->name, "_hidden") && afs_parse_sizes(value, sizes, AFS_MLP_MAX_LAYERS - 1) < 0)
        return afs_fail(err, n, "%s: %s.%s = '%s': expected none or 1 to %d layer "
                        "sizes in 1..65536, comma-separated, e.g. 128,128", where, k->section, k->name, show,
                        AFS_MLP_MAX_LAYERS - 1);
    if (!strcmp(k->name, "out") && !value[0])
        return afs_fail(err, n, "%s: run.out is empty: give a results file name", where);
    snprintf((char *)cfg + k->offset, k->size, "%s", value);
    return 0;
}

static int set_number(afs_config *cfg, const afs_config_key *k, const char *value,
                      const char *show, const char *where, char *err, size_t n)
{
    char *end = NULL;
    errno = 0;
    if (k->type == AFS_T_FLOAT) {
        double v = strtod(value, &end);
        float stored = (float)v; /* the range is checked on what is stored */
        if (end == value || *end || errno || !isfinite(stored) || !in_range(k, stored))
            return range_error(k, show, "a number", where, err, n);
        *(float *)(void *)((char *)cfg + k->offset) = stored;
        return 0;
    }
    long long v = strtoll(value, &end, 10);
    if (end == value || *end || errno || !in_range(k, (double)v))
        return range_error(k, show, "an integer", where, err, n);
    if (k->type == AFS_T_U32)
        *(uint32_t *)(void *)((char *)cfg + k->offset) = (uint32_t)v;
    else
        *(int *)(void *)((char *)cfg + k->offset) = (int)v;
    return 0;
}

static int set_bool(afs_config *cfg, const afs_config_key *k, const char *value,
                    const char *show, const char *where, char *err, size_t n)
{
    int v;
    if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes"))
        v = 1;
    else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no"))
        v = 0;
    else
        return afs_fail(err, n, "%s: %s.%s = '%s': expected true or false", where,
                    k->section, k->name, show);
    *(int *)(void *)((char *)cfg + k->offset) = v;
    return 0;
}

int afs_config_set(afs_config *cfg, const char *section, const char *name,
                   const char *value, const char *where, char *err, size_t n)
{
    int index = afs_config_key_index(section, name), rc;
    if (index < 0)
        return unknown_key(section, name, where, err, n);
    const afs_config_key *k = &keys[index];
    char show[400]; /* the value as a message shows it */
    shown(value, show, sizeof show);
    switch (k->type) {
    case AFS_T_STRING: rc = set_string(cfg, k, value, show, where, err, n); break;
    case AFS_T_BOOL: rc = set_bool(cfg, k, value, show, where, err, n); break;
    default: rc = set_number(cfg, k, value, show, where, err, n);
    }
    if (!rc)
        snprintf(cfg->origin[index], AFS_ORIGIN_LEN, "%s", where);
    return rc;
}

void afs_config_defaults(afs_config *cfg)
{
    char err[256];
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < NKEYS; i++)
        if (afs_config_set(cfg, keys[i].section, keys[i].name, keys[i].def,
                           "default", err, sizeof err)) {
            fprintf(stderr, "afsim: bad built-in default: %s\n", err);
            abort();
        }
}

/* inih reads through this reader so that the handler knows the line; a
 * long line may come in several pieces, counted as one line. */
typedef struct ini_ctx {
    FILE *file;
    const char *path;
    int line;           /* of the piece last read */
    int at_line_start;
    afs_config *cfg;
    char *err;
    size_t n;
    int failed_line;    /* line of the first error the handler found, or 0 */
    afs_config_extra extra; /* sections that are not the configuration's, or NULL */
    void *extra_user;
} ini_ctx;

static char *ini_read_line(char *str, int num, void *stream)
{
    ini_ctx *ctx = stream;
    char *s = fgets(str, num, ctx->file);
    if (s) {
        ctx->line += ctx->at_line_start;
        size_t len = strlen(s);
        ctx->at_line_start = len > 0 && s[len - 1] == '\n';
    }
    return s;
}

static int ini_entry(void *user, const char *section, const char *name,
                     const char *value)
{
    ini_ctx *ctx = user;
    char where[AFS_PATH_MAX + 32];
    if (ctx->failed_line)
        return 0;
    snprintf(where, sizeof where, "%s:%d", ctx->path, ctx->line);
    int taken = ctx->extra ? ctx->extra(ctx->extra_user, section, name, value, where, ctx->err,
                                        ctx->n)
                           : 0;
    if (taken) {
        if (taken < 0)
            ctx->failed_line = ctx->line;
        return taken > 0;
    }
    if (!section[0]) {
        char safe[400], sections[512];
        afs_fail(ctx->err, ctx->n, "%s: key '%s' before any [section] (sections: %s)", where,
                 shown(name, safe, sizeof safe), section_list(sections, sizeof sections));
        ctx->failed_line = ctx->line;
        return 0;
    }
    if (afs_config_set(ctx->cfg, section, name, value, where, ctx->err, ctx->n)) {
        ctx->failed_line = ctx->line;
        return 0;
    }
    return 1;
}

#define AFS_INI_MAX_LINE 8192 /* longer than any key = value afsim accepts */

/* The whole file, checked: a regular file (not a directory, a device or a
 * pipe that never ends), at most AFS_CONFIG_MAX_BYTES, no NUL byte (the
 * text after one would be dropped unseen), no line longer than the parser
 * takes. The caller frees *text. */
static int read_config(const char *path, char **text, size_t *len, char *err, size_t n)
{
    struct stat st;
    FILE *f = fopen(path, "r");
    if (!f)
        return afs_fail(err, n, "%s: cannot open configuration: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return afs_fail(err, n, "%s: not a configuration file (%s): give an INI file", path,
                        S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
    }
    if (st.st_size > AFS_CONFIG_MAX_BYTES) {
        fclose(f);
        return afs_fail(err, n, "%s: %lld bytes, more than a configuration file has (at most %d)",
                        path, (long long)st.st_size, AFS_CONFIG_MAX_BYTES);
    }
    *text = malloc((size_t)st.st_size + 1);
    *len = *text ? fread(*text, 1, (size_t)st.st_size + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!*text || bad || *len > (size_t)st.st_size) {
        free(*text);
        return afs_fail(err, n, "%s: cannot read configuration%s", path,
                        bad ? ": read error" : *len ? ": it grew while read" : ": out of memory");
    }
    (*text)[*len] = 0;
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i <= *len; i++) {
        if (i < *len && !(*text)[i]) {
            free(*text);
            return afs_fail(err, n, "%s:%d: a NUL byte: a configuration file is text", path, line);
        }
        if (i == *len || (*text)[i] == '\n') {
            if (i - line_start > AFS_INI_MAX_LINE - 3) {
                free(*text);
                return afs_fail(err, n, "%s:%d: a line longer than %d characters", path, line,
                                AFS_INI_MAX_LINE - 3);
            }
            line++;
            line_start = i + 1;
        }
    }
    return 0;
}

int afs_config_load(afs_config *cfg, const char *path, char *err, size_t n)
{
    return afs_config_load_with(cfg, path, NULL, NULL, err, n);
}

int afs_config_load_with(afs_config *cfg, const char *path, afs_config_extra extra, void *user,
                         char *err, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    if (read_config(path, &text, &len, err, n))
        return -1;
    ini_ctx ctx = {len ? fmemopen(text, len, "r") : fopen("/dev/null", "r"), path, 0, 1, cfg,
                   err, n, 0, extra, user};
    if (!ctx.file) {
        free(text);
        return afs_fail(err, n, "%s: cannot read configuration: %s", path, strerror(errno));
    }
    /* Debian's inih reads lines into a 200-byte stack buffer unless told
     * otherwise: a long path or comment would be split into two lines. */
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = AFS_INI_MAX_LINE;
    int rc = ini_parse_stream(ini_read_line, &ctx, ini_entry, &ctx);
    fclose(ctx.file);
    free(text);
    /* inih returns the first error's line: a syntax error before the
     * handler's own error is the one to report. */
    if (rc > 0 && (!ctx.failed_line || rc < ctx.failed_line))
        return afs_fail(err, n, "%s:%d: not a 'key = value' line or a [section]", path, rc);
    if (ctx.failed_line)
        return -1;
    if (rc < 0)
        return afs_fail(err, n, "%s: cannot read configuration (out of memory?)", path);
    return 0;
}

int afs_config_set_arg(afs_config *cfg, const char *assignment,
                       const char *where, char *err, size_t n)
{
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    char safe[400];
    if (!eq || !dot || dot > eq)
        return afs_fail(err, n, "%s '%s': expected section.key=value, e.g. env.agents=90",
                    where, shown(assignment, safe, sizeof safe));
    char section[64], name[64];
    if ((size_t)(dot - assignment) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof name)
        return afs_fail(err, n, "%s '%s': key too long", where, shown(assignment, safe, sizeof safe));
    snprintf(section, sizeof section, "%.*s", (int)(dot - assignment), assignment);
    snprintf(name, sizeof name, "%.*s", (int)(eq - dot - 1), dot + 1);
    return afs_config_set(cfg, section, name, eq + 1, where, err, n);
}

/* Where key env.name got its value: "file:line", "--set", "default". */
static const char *origin_in(const afs_config *cfg, const char *section, const char *name)
{
    int i = afs_config_key_index(section, name);
    return i >= 0 && cfg->origin[i][0] ? cfg->origin[i] : "default";
}

static const char *origin(const afs_config *cfg, const char *name)
{
    return origin_in(cfg, "env", name);
}

static int ordered(const afs_config *cfg, float lo, float hi, const char *lo_name,
                   const char *hi_name, char *err, size_t n)
{
    if (lo <= hi)
        return 0;
    return afs_fail(err, n, "%s: env.%s = %g is above env.%s = %g (%s): a lower bound must not "
                    "exceed its upper bound", origin(cfg, lo_name), lo_name, lo, hi_name, hi,
                    origin(cfg, hi_name));
}

/* A derived quantity must be finite (and positive, where the model divides
 * by it): a float that overflows or underflows there gives infinite
 * latencies and costs (docs/model.md, "Ranges"). */
static int derived(const afs_config *cfg, float value, int positive, const char *what,
                   const char *names, const char *hint, char *err, size_t n)
{
    if (isfinite(value) && (!positive || value > 0.0f))
        return 0;
    char where[4 * AFS_ORIGIN_LEN + 64] = "", key[32];
    /* The places where the keys named were set, in the order named. */
    for (const char *k = names; *k;) {
        size_t len = strcspn(k, ", ");
        snprintf(key, sizeof key, "%.*s", (int)len, k);
        if (!strncmp(key, "env.", 4))
            snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s (%s)",
                     where[0] ? ", " : "", key, origin(cfg, key + 4));
        k += len + strspn(k + len, ", ");
    }
    return afs_fail(err, n, "%s is %g, not a finite%s number, from %s: %s", what, (double)value,
                    positive ? " positive" : "", where, hint);
}

/* The extremes the model reaches: the longest distance from an EN to its
 * AP (a cell's corner), the largest start and run times, computed in float
 * as the model computes them. */
static int check_derived(const afs_config *cfg, char *err, size_t n)
{
    const afs_env_params *p = &cfg->env;
    float noise = afs_noise_w(p->noise_dbm);
    float far = p->area_m / (float)p->ap_grid * 0.70710678f; /* half a cell's diagonal */
    float gain = afs_path_gain(far);
    float r_far = afs_rate(p->b_tr, 1, p->p_tx * gain, noise);
    float k_max = p->k_max * p->k_scale;
    float cold = afs_container_start(0, p->types > 3 ? 3 : p->types - 1, p);
    if (derived(cfg, noise, 1, "the noise power sigma^2 (W)", "env.noise_dbm",
                "choose env.noise_dbm within the float range", err, n) ||
        derived(cfg, gain, 1, "the power gain at the farthest point of a cell",
                "env.area_m, env.ap_grid", "a smaller area or more APs", err, n) ||
        derived(cfg, r_far, 1, "the downlink rate at the farthest point of a cell (Mbit/s)",
                "env.b_tr, env.p_tx, env.noise_dbm, env.area_m, env.ap_grid",
                "the received power vanishes against the noise: lower env.noise_dbm or "
                "env.area_m, or raise env.p_tx or env.ap_grid", err, n) ||
        derived(cfg, p->z_max / p->r_up, 0, "the upload time z_max / r_up (s)",
                "env.z_max, env.r_up", "raise env.r_up", err, n) ||
        derived(cfg, (p->queue_cap + k_max) / p->f_min, 0,
                "the longest run at an EN (queue_cap + k_max k_scale) / f_min (s)",
                "env.queue_cap, env.k_max, env.k_scale, env.f_min", "raise env.f_min", err, n) ||
        derived(cfg, k_max / p->fc_min, 0, "the longest run in the cloud k_max k_scale / fc_min (s)",
                "env.k_max, env.k_scale, env.fc_min", "raise env.fc_min", err, n) ||
        derived(cfg, (p->z_max + p->c_max) / r_far, 0,
                "the transfer time of a lone offloader at the farthest point, (z_max + c_max) / rate (s)",
                "env.z_max, env.c_max, env.b_tr, env.p_tx, env.noise_dbm, env.area_m",
                "raise env.b_tr or env.p_tx, or lower env.noise_dbm", err, n) ||
        derived(cfg, cold, 0, "the longest cold start (s)",
                "env.cold_base, env.cold_per_mb, env.mem_base_mb", "lower them", err, n) ||
        derived(cfg, p->f_min * p->slot_s, 1, "the work an EN drains per slot f_min slot_s (Gcycles)",
                "env.f_min, env.slot_s", "raise env.f_min or env.slot_s", err, n))
        return -1;
    /* The sums the model forms from these: the longest latencies and cost. */
    float up = p->z_max / p->r_up;
    float edge = up + cold + (p->queue_cap + k_max) / p->f_min;
    float cloud = up + cold + (p->z_max + p->c_max) / r_far + k_max / p->fc_min +
                  20.0f * p->idle_mean; /* an idle period 20 means long: e^-20 */
    if (derived(cfg, edge, 0, "the longest latency at an EN (s)",
                "env.z_max, env.r_up, env.cold_base, env.queue_cap, env.k_max, env.f_min",
                "raise env.r_up or env.f_min", err, n) ||
        derived(cfg, cloud, 0, "the longest latency in the cloud (s)",
                "env.z_max, env.r_up, env.c_max, env.b_tr, env.noise_dbm, env.fc_min, env.idle_mean",
                "raise the rates or env.fc_min", err, n) ||
        derived(cfg, p->w1 * p->rho * k_max + p->w2 * cloud, 0, "the largest cloud cost P",
                "env.w1, env.rho, env.w2, env.k_max", "lower env.rho", err, n))
        return -1;
    return 0;
}

int afs_config_check(const afs_config *cfg, char *err, size_t n)
{
    const afs_env_params *p = &cfg->env;
    if (ordered(cfg, p->f_min, p->f_max, "f_min", "f_max", err, n) ||
        ordered(cfg, p->mu_min, p->mu_max, "mu_min", "mu_max", err, n) ||
        ordered(cfg, p->fc_min, p->fc_max, "fc_min", "fc_max", err, n) ||
        ordered(cfg, p->z_min, p->z_max, "z_min", "z_max", err, n) ||
        ordered(cfg, p->k_min, p->k_max, "k_min", "k_max", err, n) ||
        ordered(cfg, p->c_min, p->c_max, "c_min", "c_max", err, n))
        return -1;
    if (p->t_jitter >= p->t_mean)
        return afs_fail(err, n, "%s: env.t_jitter = %g must be below env.t_mean = %g (%s) so that "
                        "every deadline is positive", origin(cfg, "t_jitter"), p->t_jitter,
                        p->t_mean, origin(cfg, "t_mean"));
    if (2 * cfg->comm.channel_hidden != cfg->comm.thought)
        return afs_fail(err, n, "%s: amdrl.channel_hidden = %d: the channel's two directions give "
                        "the integrated thought, which must be as wide as amdrl.thought = %d (%s): "
                        "set channel_hidden to thought / 2", origin_in(cfg, "amdrl", "channel_hidden"),
                        cfg->comm.channel_hidden, cfg->comm.thought,
                        origin_in(cfg, "amdrl", "thought"));
    if (p->w1 + p->w2 <= 0.0f)
        return afs_fail(err, n, "%s: env.w1 and env.w2 (%s) are both 0: the cloud cost P would be 0",
                        origin(cfg, "w1"), origin(cfg, "w2"));
    return check_derived(cfg, err, n);
}

/* The shortest decimal that reads back as the same float: 0.1, not 0.100000001. */
static void format_float(float v, char *buf, size_t n)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, n, "%.*g", digits, v);
        if (strtof(buf, NULL) == v)
            return;
    }
}

void afs_config_format(const afs_config *cfg, const afs_config_key *k, char *buf, size_t n)
{
    const char *field = (const char *)cfg + k->offset;
    switch (k->type) {
    case AFS_T_INT: snprintf(buf, n, "%d", *(const int *)(const void *)field); break;
    case AFS_T_U32: snprintf(buf, n, "%u", *(const uint32_t *)(const void *)field); break;
    case AFS_T_FLOAT: format_float(*(const float *)(const void *)field, buf, n); break;
    case AFS_T_BOOL: snprintf(buf, n, "%s", *(const int *)(const void *)field ? "true" : "false"); break;
    case AFS_T_STRING: snprintf(buf, n, "%s", field); break;
    }
}

int afs_config_first_difference(const afs_config *a, const afs_config *b,
                                const char *const *allowed)
{
    for (int i = 0; i < NKEYS; i++) {
        char name[96], va[AFS_PATH_MAX + 8], vb[AFS_PATH_MAX + 8];
        int skip = 0;
        snprintf(name, sizeof name, "%s.%s", keys[i].section, keys[i].name);
        for (const char *const *p = allowed; p && *p && !skip; p++)
            skip = !strcmp(*p, name);
        afs_config_format(a, &keys[i], va, sizeof va);
        afs_config_format(b, &keys[i], vb, sizeof vb);
        if (!skip && strcmp(va, vb))
            return i;
    }
    return -1;
}

/* Every section once, in the order of first appearance, with all its keys:
 * keys added later are appended to the table (the fuzz recipes name keys
 * by index), wherever their section is. */
void afs_config_dump(const afs_config *cfg, FILE *out)
{
    for (int i = 0; i < NKEYS; i++) {
        if (!opens_section(i))
            continue;
        fprintf(out, "%s[%s]\n", i ? "\n" : "", keys[i].section);
        for (int j = i; j < NKEYS; j++) {
            const afs_config_key *k = &keys[j];
            char value[AFS_PATH_MAX + 8];
            if (strcmp(k->section, keys[i].section))
                continue;
            afs_config_format(cfg, k, value, sizeof value);
            fprintf(out, "%s = %s", k->name, value);
            fprintf(out, "%*s; %s%s%s%s\n", (int)(28 - strlen(k->name) - strlen(value)) > 1
                    ? (int)(28 - strlen(k->name) - strlen(value)) : 1, "",
                    k->doc, k->unit[0] ? " (" : "", k->unit, k->unit[0] ? ")" : "");
        }
    }
}
