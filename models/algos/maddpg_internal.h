/* What the tests reach inside MADDPG (models/algos/maddpg.c): the actor
 * update's first-layer substitution, on a batch the caller gives. Internal
 * to models/algos and tests/. Letters as in maddpg.c: M agents, B batch
 * rows, OBS observation floats. */
#ifndef AFS_MADDPG_INTERNAL_H
#define AFS_MADDPG_INTERNAL_H

#include <stdint.h>
#include "agent.h"
#include "models/replay.h"

/* The actors' loss adds AFS_MADDPG_LOGIT_REG times the mean square of
 * each actor's logits over its batch rows (the MADDPG authors' code,
 * openai/maddpg: p_reg * 1e-3), so that the logits stay bounded and the
 * Gumbel-softmax keeps exploring. */
#define AFS_MADDPG_LOGIT_REG 1e-3f

/* q [M, B]: every online critic Q_m on the joint rows obs [B, M, OBS] and
 * actions act [B, M], with agent m's own action (its one-hot) replaced by
 * sub [M, B, 2] (any values: the first layer is linear in them), for every
 * m. Backend memory in and out; q is the agent's workspace, valid until its
 * next forward. NULL unless the agent was made for training and
 * 1 <= B <= maddpg.batch. */
const float *afs_maddpg_q_substituted(afs_agent *a, int B, const float *obs, const uint8_t *act,
                                      const float *sub);
/* After afs_maddpg_q_substituted: dL/dsub [M, B, 2] from dL/dq [M, B]
 * (backend). The critic bodies' gradients are added to (the next critic
 * step clears them); no parameter value changes. */
void afs_maddpg_q_substituted_backward(afs_agent *a, int B, const float *dq, float *dsub);

/* The agent's replay (NULL unless made for training): after an update,
 * replay.batch holds the joint rows of its last gradient step. */
afs_replay *afs_maddpg_replay(afs_agent *a);

#endif
