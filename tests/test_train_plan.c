/* What afsim train says and checks before it allocates (host/train.c's
 * plan, models/algos' size functions): the networks' bytes counted by
 * hand, a batch larger than the replay refused with both numbers, and the
 * ETA of the progress line measured on the episodes after the warm-up. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "host/config.h"
#include "host/train.h"
#include "models/algos/agents.h"

/* A small training setting: E = 1, M = 3, 2 slots, 1 MiB of replay. */
static afs_config small(void)
{
    afs_config c;
    char err[512];
    afs_config_defaults(&c);
    const char *sets[] = {"env.agents=3", "env.slots=2", "run.envs=1", "train.replay_mib=1"};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        cr_assert_eq(afs_config_set_arg(&c, sets[i], "test", err, sizeof err), 0, "%s", err);
    return c;
}

Test(plan, the_networks_bytes_are_counted_by_hand)
{
    /* ES-DRL, actor 10-8-2, critic 12-4-1, batch 16, E M = 3 playing rows
     * (the actor takes max(3, 16) = 16 rows). Per network 4 float arrays of
     * its parameters (values, gradients, Adam m and v) and, per row, each
     * layer's output plus two gradient buffers of the widest layer:
     *   actor: 8 * 11 + 2 * 9 = 106 parameters; 16 rows * (8 + 2 + 2 * 10)
     *          = 480 floats; (4 * 106 + 480) * 4 = 3616 bytes, online and target;
     *   critic: 4 * 13 + 1 * 5 = 57 parameters; 16 * (4 + 1 + 2 * 12) = 464;
     *          (4 * 57 + 464) * 4 = 2768 bytes, online and target.
     * 2 * 3616 + 2 * 2768 = 12768 bytes. */
    afs_config c = small();
    char err[512];
    cr_assert_eq(afs_config_set_arg(&c, "esdrl.actor_hidden=8", "test", err, sizeof err), 0);
    cr_assert_eq(afs_config_set_arg(&c, "esdrl.critic_hidden=4", "test", err, sizeof err), 0);
    cr_assert_eq(afs_config_set_arg(&c, "esdrl.batch=16", "test", err, sizeof err), 0);
    afs_backend *b = afs_backend_cpu_create(1);
    double bytes = -1;
    cr_assert_eq(afs_agent_net_bytes("esdrl", b, &c, 1, &bytes, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bytes, 12768.0);
    /* MADDPG, M = 3 actors 10-8-2 (rows max(E, B) = 16, and B = 16), the
     * critics' input D = 3 * 12 = 36, first hidden 4 stacked (W [3, 4, 36],
     * b [3, 4]: 444 parameters, 4 arrays, online and target: 14208 bytes),
     * bodies 4-1 (5 parameters each; 16 rows * (1 + 2 * 4) = 144 floats a
     * group: (4 * 5 + 144) * 3 groups * 4 bytes = 1968, twice).
     * Actors: (4 * 106 + 480) * 3 * 4 = 10848, twice. */
    cr_assert_eq(afs_config_set_arg(&c, "maddpg.actor_hidden=8", "test", err, sizeof err), 0);
    cr_assert_eq(afs_config_set_arg(&c, "maddpg.critic_hidden=4", "test", err, sizeof err), 0);
    cr_assert_eq(afs_config_set_arg(&c, "maddpg.batch=16", "test", err, sizeof err), 0);
    cr_assert_eq(afs_agent_net_bytes("maddpg", b, &c, 1, &bytes, err, sizeof err), 0, "%s", err);
    cr_assert_eq(bytes, 2 * 10848.0 + 14208.0 + 2 * 1968.0);
    /* A heuristic has none. */
    cr_assert_eq(afs_agent_net_bytes("greedy", b, &c, 1, &bytes, err, sizeof err), 0);
    cr_assert_eq(bytes, 0.0);
    b->destroy(b);
}

Test(plan, the_memory_line_counts_the_networks_and_grows_with_them, .timeout = 60)
{
    /* AM-DRL counts more than its MLPs (LSTMs, buffers): at least what its
     * critic alone takes, and a wider critic adds what the formula says. */
    afs_config c = small();
    char err[512];
    afs_backend *b = afs_backend_cpu_create(1);
    double narrow, wide;
    cr_assert_eq(afs_config_set_arg(&c, "amdrl.critic_hidden=16", "test", err, sizeof err), 0);
    cr_assert_eq(afs_agent_net_bytes("amdrl", b, &c, 1, &narrow, err, sizeof err), 0, "%s", err);
    cr_assert_eq(afs_config_set_arg(&c, "amdrl.critic_hidden=1016", "test", err, sizeof err), 0);
    cr_assert_eq(afs_agent_net_bytes("amdrl", b, &c, 1, &wide, err, sizeof err), 0, "%s", err);
    /* The critic (xd = 10 + 128 + 4 = 142 inputs) -> H -> 1, online and
     * target, rows max(E M, whole joint rows of the batch: 2560 / 3 -> 854
     * * 3 = 2562): parameters 142 H + H + H + 1 = 144 H + 1, outputs H + 1,
     * two gradient buffers of max(142, H). From H = 16 to H = 1016:
     * parameters +144000 (4 arrays), outputs +1000 a row, gradient buffers
     * from 142 to 1016 wide (+874 each, two) a row; all times 4 bytes, twice. */
    double grow = 2.0 * 4.0 * (4.0 * 144000 + 2562.0 * (1000 + 2 * 874));
    cr_assert_eq(wide - narrow, grow, "grew %.0f, expected %.0f", wide - narrow, grow);
    b->destroy(b);
}

Test(plan, a_batch_larger_than_the_replay_is_refused_with_both_numbers)
{
    afs_config c = small();
    char err[1024], want[64];
    afs_replay_info info;
    const char *algos[] = {"esdrl", "maddpg", "amdrl"};
    for (int a = 0; a < 3; a++) {
        afs_algo_params *p = (afs_algo_params *)afs_agent_algo_params(&c, algos[a]);
        p->batch = 1;
        cr_assert_eq(afs_agent_plan(algos[a], &c, 1, &info, err, sizeof err), 0, "%s", err);
        /* ES-DRL's and AM-DRL's batch count records, MADDPG's joint rows of M = 3 */
        long records = (long)info.capacity, most = a == 1 ? records / 3 : records;
        cr_assert_gt(records, 3);
        p->batch = (int)most;
        cr_assert_eq(afs_agent_plan(algos[a], &c, 1, &info, err, sizeof err), 0,
                     "%s.batch = the capacity %ld: %s", algos[a], most, err);
        p->batch = (int)most + 1;
        cr_assert_eq(afs_agent_plan(algos[a], &c, 1, &info, err, sizeof err), -1,
                     "%s.batch = %ld, the replay holds %ld", algos[a], most + 1, most);
        snprintf(want, sizeof want, "%s.batch = %ld", algos[a], most + 1);
        cr_assert(strstr(err, want), "%s", err);
        snprintf(want, sizeof want, "%ld records", records);
        cr_assert(strstr(err, want), "%s", err);
        cr_assert(strstr(err, "train.replay_mib"), "%s", err);
    }
}

Test(plan, the_eta_is_measured_on_the_episodes_after_the_warm_up)
{
    /* Episodes of 2 s in the warm-up, then of 5 s: the time left is 5 s an
     * episode once one has run, and a lower bound (">") before. */
    afs_eta e = {.last = 100.0};
    char buf[32];
    afs_eta_episode(&e, 102.0, 0, 9, buf, sizeof buf); /* 9 left at 2 s: at least 18 s */
    cr_assert_str_eq(buf, ">0m18s");
    afs_eta_episode(&e, 104.0, 0, 8, buf, sizeof buf);
    cr_assert_str_eq(buf, ">0m16s");
    afs_eta_episode(&e, 109.0, 1, 7, buf, sizeof buf); /* 7 left at 5 s */
    cr_assert_str_eq(buf, "0m35s");
    afs_eta_episode(&e, 115.0, 1, 6, buf, sizeof buf); /* (5 + 6) / 2 = 5.5 s: 33 s */
    cr_assert_str_eq(buf, "0m33s");
    afs_eta_episode(&e, 115.0 + 5.5 * 120, 1, 0, buf, sizeof buf);
    cr_assert_str_eq(buf, "0m00s");
    /* Without a warm-up every episode counts; hours are shown as such. */
    afs_eta s = {.last = 0.0};
    afs_eta_episode(&s, 600.0, 1, 9, buf, sizeof buf);
    cr_assert_str_eq(buf, "1h30m");
}
