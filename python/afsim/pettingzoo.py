"""PettingZoo's Parallel API over one afsim environment (docs/python.md,
"PettingZoo").

    env = afsim.pettingzoo.parallel_env(set={"env.agents": 60}, seed=1)
    obs, infos = env.reset(seed=1)
    while env.agents:
        actions = {a: policy(obs[a]) for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(actions)

Agents "en_0" .. "en_{M-1}", the M edge nodes (ENs) of one environment; each
observes its Box(0, inf, [obs_dim]) float32 row and acts Discrete(2) (1 =
run at the EN, 0 = send to the cloud), with its own reward. Every agent
acts every slot; after `slots` steps the episode ends for all of them
together (terminated; episode_end="truncated" reports truncation), and
env.agents is then empty until reset. The dictionaries are built in C (one
pass over the agents per step).
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from . import VecEnv
from ._reset import episode_word, seed_of

__all__ = ["AfsimParallelEnv", "parallel_env"]


class AfsimParallelEnv(ParallelEnv):
    """AfsimParallelEnv(config=None, *, set=None, seed=None, threads=None,
    copy_obs=True, episode_end="terminated")

    copy_obs=True: each step's observations are rows of a new array (safe to
    keep) and each agent's info a new dict; copy_obs=False: nothing is made
    per agent: the observations are rows of the environment's own buffer,
    the same array objects every step (no copy; the next step overwrites
    them), and every agent's info is one shared read-only empty mapping
    (types.MappingProxyType). At an episode's end the observations
    are the last ones (those the last actions answered) and each agent's
    info holds {"episode": word, "episode_metrics": its environment's
    metrics}.
    """

    metadata = {"name": "afsim_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, config=None, *, copy_obs=True, episode_end="terminated", **kwargs):
        if kwargs.get("envs") not in (None, 1):
            raise ValueError("a PettingZoo environment is one afsim environment (envs=1)")
        if episode_end not in ("terminated", "truncated"):
            raise ValueError(f"episode_end = {episode_end!r}: 'terminated' or 'truncated'")
        kwargs["envs"] = 1
        kwargs.setdefault("backend", "cpu")
        self.env = VecEnv(config, **kwargs)
        self.render_mode = None
        self.possible_agents = [f"en_{m}" for m in range(self.env.num_agents)]
        self._names = tuple(self.possible_agents)
        self.agents = []
        self._copy = bool(copy_obs)
        self._truncate = episode_end == "truncated"
        self._episode = 0
        self._seeded = False
        obs_space = spaces.Box(0.0, np.inf, (self.env.obs_dim,), np.float32)
        self._obs_spaces = {a: obs_space for a in self.possible_agents}
        self._act_spaces = {a: spaces.Discrete(2) for a in self.possible_agents}
        self.observation_spaces = self._obs_spaces
        self.action_spaces = self._act_spaces

    def observation_space(self, agent):
        return self._obs_spaces[agent]

    def action_space(self, agent):
        return self._act_spaces[agent]

    def reset(self, seed=None, options=None):
        """({agent: obs}, {agent: {}}). reset(seed=s): seed s, episode word 0;
        reset(): the next episode; options={"episode": word}: that one."""
        seed = seed_of(seed)
        if seed is not None:
            for i, sp in enumerate(self._act_spaces.values()):
                sp.seed(seed + i)
        episode = episode_word(seed, options, self._seeded, self._episode)
        self._seeded = True
        self._episode = episode
        obs = self.env.reset(seed, episode=episode)[0]
        if self._copy:
            obs = obs.copy()
        self.agents = list(self._names)
        return dict(zip(self._names, obs)), {a: {} for a in self._names}

    def step(self, actions):
        if not self.agents:
            raise RuntimeError("the episode is over (env.agents is empty): call reset()")
        obs, rew, term, trunc, infos, ended = self.env._pz_step(actions, self._names, self._copy,
                                                                self._truncate)
        if ended:
            self.agents = []
            m = self.env.episode_metrics()
            metrics = {k: v[0].item() for k, v in m.items()}
            for a in self._names:  # new dicts (copy_obs=False shares a read-only {})
                infos[a] = {"episode": self._episode, "episode_metrics": metrics}
        return obs, rew, term, trunc, infos

    def heuristic_actions(self, policy):
        """{agent: 0 or 1}: what heuristic `policy` does now."""
        a = self.env.heuristic_actions(policy)[0].tolist()
        return dict(zip(self._names, a))

    def state(self):
        """The M observations stacked, [M, obs_dim] (a copy)."""
        return self.env.obs[0].copy()

    def render(self):
        return None

    def close(self):
        self.env.close()


def parallel_env(config=None, **kwargs):
    """A PettingZoo ParallelEnv of one afsim environment: AfsimParallelEnv's
    arguments (config, set, seed, threads, copy_obs, episode_end)."""
    return AfsimParallelEnv(config, **kwargs)
