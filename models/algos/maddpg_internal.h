/* What the tests reach inside MADDPG (models/algos/maddpg.c): the actor
 * update's first-layer substitution and the critics' values of both actions
 * that it gives, on a batch the caller gives. Internal to models/algos and
 * tests/. Letters as in maddpg.c: M agents, B batch rows, OBS observation
 * floats. */
#ifndef AFS_MADDPG_INTERNAL_H
#define AFS_MADDPG_INTERNAL_H

#include <stdint.h>
#include "agent.h"
#include "models/replay.h"

/* q [M, B]: every online critic Q_m on the joint rows obs [B, M, OBS] and
 * actions act [B, M], with agent m's own action (its one-hot) replaced by
 * sub [M, B, 2] (any values: the first layer is linear in them), for every
 * m. Backend memory in and out; q is the agent's workspace, valid until its
 * next forward. NULL unless the agent was made for training and
 * 1 <= B <= maddpg.batch. */
const float *afs_maddpg_q_substituted(afs_agent *a, int B, const float *obs, const uint8_t *act,
                                      const float *sub);
/* qpair [M, B, 2]: critic m's values of agent m's two actions on the same
 * rows, the others' actions as in act, for every m: [m, b, a] is what
 * afs_maddpg_q_substituted gives at [m, b] for sub = the one-hot of a on
 * every row. As the actor update computes them (the first layers once for
 * both actions). Backend memory; the agent's workspace, valid until its
 * next update or call here. NULL as afs_maddpg_q_substituted. */
const float *afs_maddpg_q_of_both_actions(afs_agent *a, int B, const float *obs,
                                          const uint8_t *act);

/* The agent's replay (NULL unless made for training): after an update,
 * replay.batch holds the joint rows of its last gradient step. */
afs_replay *afs_maddpg_replay(afs_agent *a);

#endif
