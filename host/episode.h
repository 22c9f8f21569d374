/* The loop: a slot of every environment played by an agent, an episode of
 * them, and its row of metrics (what afsim run records per episode and
 * afsim train records for its training and evaluation episodes). The
 * agent decides (models/algos/agent.h: act) and learns (store, update);
 * the environment is stepped here, so that every agent is played the same
 * way. */
#ifndef AFS_EPISODE_H
#define AFS_EPISODE_H

#include <stddef.h>
#include "kernels/env.h"
#include "metrics.h"
#include "models/algos/agent.h"
#include "trace.h"

#define AFS_EPISODE_STOPPED 2 /* a second signal came: the episode was dropped */

/* One slot of env played by agent a in mode (enum afs_play_mode): arrivals,
 * observation into a->obs, the agent's decision into a->act, the step and,
 * in AFS_PLAY_TRAIN, the transition stored (no gradient step: the episode
 * takes those after each slot). */
void afs_episode_slot(afs_agent *a, afs_env *env, int mode);

/* The observation and the agent's decision alone (AFS_PLAY_DECIDE), from
 * the state as it stands, changing none: what decision_time_s times. */
void afs_episode_decide(afs_agent *a, const afs_env *env);

/* Slots an agent without per-slot work (play_slots) plays at once when no
 * trace is collected: the CPU then plays each environment's 25 slots back
 * to back while its state is in the caches, and reads it from the L3 or
 * memory once per 25 slots (docs/performance.md: 10 a call had left
 * E = 1024 5% behind E = 64; 100 would gain 1% more). A second SIGINT is
 * seen within 25 slots (0.2 s at E = 8192 on two cores). */
#define AFS_SLOTS_AT_ONCE 25

/* Episode words (the episode counter of every random draw, so an episode's
 * layouts and arrivals): afsim run's episodes and training's evaluations
 * use 0, 1, 2, ... (the test set); training's own episode e uses
 * AFS_TRAIN_EPISODES + e, environments that evaluation never sees. */
#define AFS_TRAIN_EPISODES 0x80000000u

/* Plays episode `episode` (the episode word of every random counter) of env
 * with agent a in mode (enum afs_play_mode); in AFS_PLAY_TRAIN the agent
 * also takes its gradient steps after each slot. tracer: when not NULL,
 * every slot's functions are collected there. Fills row (metrics, the
 * decision time measured with the backend synchronized around one
 * decision, agent-steps/s including any learning), sums (the backend's
 * totals) and st (the agent's statistics over the episode: its losses when
 * it learned) and returns 0; -1 with err; AFS_EPISODE_STOPPED. */
int afs_episode_play(afs_agent *a, afs_env *env, uint32_t episode, int mode, afs_tracer *tracer,
                     afs_episode_row *row, afs_episode_sums *sums, afs_agent_stats *st, char *err,
                     size_t n);

#endif
