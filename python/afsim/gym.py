"""Gymnasium environments over afsim.VecEnv (docs/python.md, "Gymnasium").

AfsimVectorEnv: every edge node (EN) of every environment is one
sub-environment of a gymnasium.vector.VectorEnv (num_envs = E x M), with a
Box(obs_dim) observation and a Discrete(2) action (1 = run at the EN, 0 =
send to the cloud). All episodes end together after `slots` steps and
restart in the same step (AutoresetMode.SAME_STEP).

AfsimEnv: one environment as a gymnasium.Env, its M ENs' observations
stacked (Box [M, obs_dim]), MultiBinary(M) actions, the mean of the M
rewards as the reward; gymnasium.utils.env_checker.check_env passes on it.

The last slot of an episode is terminal (terminated=True), as afsim's own
learners store it: afsim's model has no state after an episode's last slot
(the horizon is a time limit the observation does not show), so
final_obs is the last observation of the episode, the one its last actions
answered. episode_end="truncated" reports truncation instead.
"""
from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from . import VecEnv
from ._reset import episode_word, seed_of

__all__ = ["AfsimVectorEnv", "AfsimEnv"]


def _end_flags(episode_end):
    if episode_end not in ("terminated", "truncated"):
        raise ValueError(f"episode_end = {episode_end!r}: 'terminated' or 'truncated'")
    return episode_end == "truncated"


class AfsimVectorEnv(VectorEnv):
    """E environments x M ENs as one batch of num_envs = E*M agents.

    AfsimVectorEnv(config=None, *, set=None, envs=None, backend="cpu", seed=None,
                   threads=None, copy=True, episode_end="terminated")

    The first arguments are afsim.VecEnv's. copy=True (Gymnasium's default
    for its own vector environments) returns new arrays from reset and step;
    copy=False returns views of the environment's buffers (no copy: the next
    step overwrites them). The CPU backend only (NumPy arrays); for CUDA use
    afsim.VecEnv, whose arrays are DLPack tensors.

    reset(seed=s) seeds every environment with s and starts episode word 0
    (afsim run's first test episode); reset() starts the episode after the
    current one. Infos: {} but in the step that ends the episodes, when
    they hold final_obs (an [N, obs_dim] array: row i is sub-environment
    i's last observation), final_info ({"episode": word, "success_rate":
    [N] ...: each EN's environment's episode metrics}, plus
    "episode_total": the metrics over all environments as afsim run
    computes them) and the masks _final_obs and _final_info (all True).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, config=None, *, backend="cpu", copy=True, episode_end="terminated",
                 **kwargs):
        if backend not in ("cpu", None):
            raise ValueError(f"backend = {backend!r}: AfsimVectorEnv returns NumPy arrays and "
                             "runs on the CPU; afsim.VecEnv(backend='cuda') gives DLPack tensors")
        self.env = VecEnv(config, backend="cpu", **kwargs)
        E, M, D = self.env.num_envs, self.env.num_agents, self.env.obs_dim
        self.E, self.M, self.obs_dim = E, M, D
        self.num_envs = E * M
        self.copy = bool(copy)
        self._truncate = _end_flags(episode_end)
        self.single_observation_space = spaces.Box(0.0, np.inf, (D,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(0.0, np.inf, (self.num_envs, D), np.float32)
        self.action_space = spaces.MultiDiscrete(np.full(self.num_envs, 2, np.int64))
        self._obs = self.env.obs.reshape(self.num_envs, D)       # views, no copy
        self._reward = self.env.reward.reshape(self.num_envs)
        self._done = self.env.done.reshape(self.num_envs)
        self._false = np.zeros(self.num_envs, bool)
        self._false.flags.writeable = False
        self._seeded = False

    def _views(self):
        D = self.obs_dim
        self._obs = self.env.obs.reshape(self.num_envs, D)
        self._reward = self.env.reward.reshape(self.num_envs)
        self._done = self.env.done.reshape(self.num_envs)

    def reset(self, *, seed=None, options=None):
        """(obs [N, obs_dim], {}). options: {"episode": word} starts that episode."""
        seed = seed_of(seed)
        super().reset(seed=seed)  # np_random for the action spaces' sampling
        episode = episode_word(seed, options, self._seeded, self.env.episode)
        self._seeded = True
        self.env.reset(seed, episode=episode)
        return (self._obs.copy() if self.copy else self._obs), {}

    def step(self, actions):
        """(obs, rewards, terminations, truncations, infos), each over N = E*M agents."""
        env = self.env
        last = env.slot == env.slots - 1
        if last:
            final_obs = self._obs.copy()
        _, _, _, info = env.step(actions)
        if self.copy:
            obs, rew = self._obs.copy(), self._reward.copy()
        else:
            obs, rew = self._obs, self._reward
        if not info:
            return obs, rew, self._false.copy() if self.copy else self._false, \
                self._false.copy() if self.copy else self._false, {}
        ended = self._done.copy()
        no = np.zeros(self.num_envs, bool)
        term, trunc = (no, ended) if self._truncate else (ended, no)
        per_agent = {k: np.repeat(v, self.M) for k, v in info["episode_metrics"].items()}
        per_agent["episode"] = np.full(self.num_envs, info["episode"], np.int64)
        infos = {"final_obs": final_obs, "_final_obs": ended.copy(),
                 "final_info": per_agent, "_final_info": ended.copy(),
                 "episode_total": info["episode_total"]}
        return obs, rew, term, trunc, infos

    def heuristic_actions(self, policy):
        """[N] uint8: what heuristic `policy` does now (afsim.VecEnv.heuristic_actions)."""
        return self.env.heuristic_actions(policy).reshape(self.num_envs)

    def episode_metrics(self, total=False):
        return self.env.episode_metrics(total=total)

    def close_extras(self, **kwargs):
        self.env.close()


class AfsimEnv(gymnasium.Env):
    """One environment of M ENs as a gymnasium.Env.

    AfsimEnv(config=None, *, set=None, seed=None, threads=None, reward="mean",
             episode_end="terminated")

    observation Box(0, inf, [M, obs_dim]) float32 (new array every call),
    action MultiBinary(M) (1 = run at the EN, 0 = cloud), reward the mean
    of the M ENs' rewards (reward="sum": their sum). info at an episode's
    end: {"episode": word, **its metrics}. reset(seed=s) seeds and starts
    episode word 0; reset() starts the next episode.
    """

    metadata = {"render_modes": []}

    def __init__(self, config=None, *, reward="mean", episode_end="terminated", **kwargs):
        if "envs" in kwargs and kwargs["envs"] not in (None, 1):
            raise ValueError("AfsimEnv is one environment (envs=1); AfsimVectorEnv or "
                             "afsim.VecEnv step several")
        if reward not in ("mean", "sum"):
            raise ValueError(f"reward = {reward!r}: 'mean' or 'sum' of the ENs' rewards")
        kwargs["envs"] = 1
        kwargs.setdefault("backend", "cpu")
        self.env = VecEnv(config, **kwargs)
        self.M, self.obs_dim = self.env.num_agents, self.env.obs_dim
        self._sum = reward == "sum"
        self._truncate = _end_flags(episode_end)
        self.observation_space = spaces.Box(0.0, np.inf, (self.M, self.obs_dim), np.float32)
        self.action_space = spaces.MultiBinary(self.M)
        self._seeded = False
        self._episode = 0

    def reset(self, *, seed=None, options=None):
        seed = seed_of(seed)
        super().reset(seed=seed)
        episode = episode_word(seed, options, self._seeded, self._episode)
        self._seeded = True
        self._episode = episode
        obs = self.env.reset(seed, episode=episode)
        return obs[0].copy(), {}

    def step(self, action):
        env = self.env
        last = env.slot == env.slots - 1
        if last:
            final = env.obs[0].copy()
        obs, rew, _, info = env.step(np.asarray(action).reshape(1, self.M))
        r = rew.sum(dtype=np.float64) if self._sum else rew.mean(dtype=np.float64)
        if not info:
            return obs[0].copy(), float(r), False, False, {}
        metrics = {k: v[0].item() for k, v in info["episode_metrics"].items()}
        metrics["episode"] = info["episode"]
        return final, float(r), not self._truncate, self._truncate, metrics

    def heuristic_actions(self, policy):
        """[M] uint8: what heuristic `policy` does now."""
        return self.env.heuristic_actions(policy)[0]

    def close(self):
        self.env.close()
