"""afsim: decentralized offloading of serverless functions over an
edge-cloud continuum, as a vectorized environment (docs/python.md).

    import afsim
    with afsim.VecEnv(envs=64, set={"env.agents": 60}, seed=1) as env:
        obs = env.reset()                       # [E, M, obs_dim] float32
        for _ in range(env.slots):
            obs, reward, done, info = env.step(env.heuristic_actions("greedy"))
        print(info["episode_total"]["success_rate"])

VecEnv's obs, reward and done are views of the environment's own buffers
(no copy): the next step or reset overwrites them; copy what you keep.
afsim.gym has Gymnasium environments, afsim.pettingzoo a PettingZoo one.
"""
from ._afsim import (ACC_FIELDS, GIT_REVISION, LIB_VERSION, METRICS, OBS_DIM, OBS_FIELDS,
                     OBS_SCALES, POLICIES, DeviceArray, VecEnv, cuda_built)

__version__ = LIB_VERSION

#: The heuristics heuristic_actions plays (best_response costs O(M^2) per environment).
HEURISTICS = POLICIES

__all__ = ["VecEnv", "DeviceArray", "cuda_built", "ACC_FIELDS", "METRICS", "OBS_DIM",
           "OBS_FIELDS", "OBS_SCALES", "POLICIES", "HEURISTICS", "GIT_REVISION", "__version__"]
