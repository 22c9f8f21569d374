/* The agents afsim knows, by name: the heuristic policies
 * (core/policy_names.h) and the learning methods of the table in agents.c.
 * host/ makes every agent through here, and lists them from here. */
#ifndef AFS_AGENTS_H
#define AFS_AGENTS_H

#include <stddef.h>
#include "agent.h"

/* The learning methods, in the order afsim lists them: learner i for
 * i = 0, 1, ... until NULL. */
const afs_learner *afs_learner_at(int i);
/* The learning method called `name`, or NULL (a heuristic, or unknown). */
const afs_learner *afs_learner_find(const char *name);
/* The learners' names joined by sep, the last by last: ", " and " or "
 * give "esdrl, maddpg or amdrl" (cut to fit n). Returns buf. */
const char *afs_learner_names(char *buf, size_t n, const char *sep, const char *last);
/* Every name afs_agent_create knows, heuristics first, joined by ", ". */
const char *afs_agent_names(char *buf, size_t n);

/* The hyper-parameters of learning method `name` (its configuration
 * section), or NULL when name learns nothing. */
const afs_algo_params *afs_agent_algo_params(const afs_config *cfg, const char *name);

/* An agent of the given name for `envs` environments of cfg->env: a
 * heuristic, or a learning method with cfg's hyper-parameters (its replay
 * only when train is set). NULL with err when the name is unknown or
 * memory is short. */
afs_agent *afs_agent_create(const char *name, afs_backend *b, const afs_config *cfg, int envs,
                            int train, char *err, size_t n);
/* What training agent `name` for `envs` environments will hold in its
 * replay (zeros for an agent that learns nothing), to print and check
 * before anything is allocated. 0, or -1 with err (an unknown name, a
 * budget too small for two slots). */
int afs_agent_plan(const char *name, const afs_config *cfg, int envs, afs_replay_info *info,
                   char *err, size_t n);
/* The bytes training agent `name`'s networks take on backend b for `envs`
 * environments (0 for an agent that learns nothing): weights, gradients,
 * Adam moments and scratch, to print and check before anything is
 * allocated. 0, or -1 with err. */
int afs_agent_net_bytes(const char *name, afs_backend *b, const afs_config *cfg, int envs,
                        double *bytes, char *err, size_t n);

#endif
