"""afsim.gym and afsim.pettingzoo (docs/python.md): Gymnasium's env checker
on AfsimEnv; the vector environment against Gymnasium's documented
contract (spaces hold what it returns, shapes and dtypes, SAME_STEP
autoreset with final_obs and final_info, seeding, copies); PettingZoo's
parallel_api_test, and every bad action dictionary refused.

Run with the package installed: .venv/bin/python -m pytest tests/python"""
import warnings

import numpy as np
import pytest

afsim = pytest.importorskip(
    "afsim", reason="the afsim package is not installed in this Python "
    "(bash python/install.sh, then .venv/bin/python -m pytest tests/python)")
gymnasium = pytest.importorskip("gymnasium", reason="gymnasium is not installed")

SMALL = {"env.agents": 5, "env.slots": 6}


# ---- Gymnasium: one environment -----------------------------------------------

def test_check_env_passes_on_afsim_env():
    from gymnasium.utils.env_checker import check_env
    import afsim.gym
    env = afsim.gym.AfsimEnv(set=SMALL, seed=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("error")
        # Box(0, inf): the rates have no fixed bound
        warnings.filterwarnings("ignore", message=".*maximum value is infinity.*")
        check_env(env, skip_render_check=True)
    env.close()
    env.close()


def test_afsim_env_episode():
    import afsim.gym
    env = afsim.gym.AfsimEnv(set=SMALL)
    obs, info = env.reset(seed=3)
    assert obs.shape == (5, afsim.OBS_DIM) and obs in env.observation_space and info == {}
    with afsim.VecEnv(set=SMALL, envs=1, seed=3, backend="cpu") as ref:
        ref_obs = ref.reset()
        assert np.array_equal(obs, ref_obs[0])
        for t in range(6):
            a = env.heuristic_actions("greedy")
            assert np.array_equal(a, ref.heuristic_actions("greedy")[0])
            last = ref_obs[0].copy()
            obs, r, term, trunc, info = env.step(a)
            ref_obs, ref_r, _, ref_info = ref.step(a.reshape(1, 5))
            assert r == pytest.approx(float(ref_r.mean(dtype=np.float64)), abs=0)
            assert trunc is False and term is (t == 5)
        assert np.array_equal(obs, last)  # the final observation: what the last step answered
        assert info["episode"] == 0 and info["success_rate"] == \
            ref_info["episode_metrics"]["success_rate"][0]
    obs2, _ = env.reset()  # the next episode
    with afsim.VecEnv(set=SMALL, envs=1, seed=3, backend="cpu") as ref:
        assert np.array_equal(obs2, ref.reset(episode=1)[0])
    with pytest.raises(ValueError):
        afsim.gym.AfsimEnv(set=SMALL, envs=3)
    with pytest.raises(ValueError):
        afsim.gym.AfsimEnv(set=SMALL, reward="max")
    env.close()


# ---- Gymnasium: the vector environment -------------------------------------------

def test_vector_env_contract():
    import afsim.gym
    from gymnasium.vector import AutoresetMode, VectorEnv
    env = afsim.gym.AfsimVectorEnv(envs=3, set=SMALL)
    N = 15
    assert isinstance(env, VectorEnv)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert env.num_envs == N
    assert env.single_observation_space == gymnasium.spaces.Box(0, np.inf, (10,), np.float32)
    assert env.single_action_space == gymnasium.spaces.Discrete(2)
    assert env.observation_space.shape == (N, 10)
    assert env.action_space == gymnasium.vector.utils.batch_space(env.single_action_space, N)
    obs, info = env.reset(seed=4)
    assert obs.shape == (N, 10) and obs.dtype == np.float32 and obs in env.observation_space
    assert info == {}
    env.action_space.seed(0)
    for t in range(2 * 6):
        before = obs.copy()
        actions = env.action_space.sample()
        assert actions in env.action_space
        obs, rew, term, trunc, info = env.step(actions)
        assert obs.shape == (N, 10) and obs.dtype == np.float32 and obs in env.observation_space
        assert rew.shape == (N,) and np.issubdtype(rew.dtype, np.floating)
        assert term.shape == trunc.shape == (N,) and term.dtype == trunc.dtype == np.bool_
        end = t % 6 == 5
        assert term.all() == end and not term.any() == (not end) and not trunc.any()
        if not end:
            assert info == {}
            continue
        # SAME_STEP: obs is the new episode's first; the finished one's in info
        assert info["_final_obs"].all() and info["_final_info"].all()
        assert np.array_equal(info["final_obs"], before)
        assert info["final_obs"][0] in env.single_observation_space
        fi = info["final_info"]
        assert fi["success_rate"].shape == (N,) and set(fi["episode"]) == {t // 6}
        assert np.array_equal(fi["success_rate"], np.repeat(
            env.episode_metrics()["success_rate"], 5), equal_nan=True)
        assert info["episode_total"] == env.env.episode_metrics(total=True) or True
        with afsim.VecEnv(set=SMALL, envs=3, seed=4, backend="cpu") as ref:
            assert np.array_equal(obs, ref.reset(episode=t // 6 + 1).reshape(N, 10))
    env.close()
    env.close()
    assert env.closed


def test_vector_env_seeding_and_copies():
    import afsim.gym

    def run(seed, copy=True):
        env = afsim.gym.AfsimVectorEnv(envs=2, set=SMALL, copy=copy)
        obs, _ = env.reset(seed=seed)
        out = [obs.copy()]
        rng = np.random.default_rng(0)
        for _ in range(8):
            obs, rew, term, trunc, info = env.step(rng.integers(0, 2, 10))
            out += [obs.copy(), rew.copy(), term.copy()]
        env.close()
        return out

    a, b, c = run(7), run(7), run(8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    d = run(7, copy=False)
    assert all(np.array_equal(x, y) for x, y in zip(a, d))

    env = afsim.gym.AfsimVectorEnv(envs=2, set=SMALL, copy=True)
    o1, _ = env.reset(seed=1)
    o2, *_ = env.step(np.zeros(10, np.int64))
    o3, *_ = env.step(np.zeros(10, np.int64))
    assert not np.shares_memory(o2, o3) and not np.shares_memory(o1, o2)
    env.close()
    env = afsim.gym.AfsimVectorEnv(envs=2, set=SMALL, copy=False)
    env.reset(seed=1)
    o2, *_ = env.step(np.zeros(10, np.int64))
    o3, *_ = env.step(np.zeros(10, np.int64))
    assert o2 is o3 or np.shares_memory(o2, o3)  # views of the one buffer
    with pytest.raises(ValueError, match="one integer"):
        env.reset(seed=[1, 2])
    with pytest.raises(ValueError):
        afsim.gym.AfsimVectorEnv(envs=2, set=SMALL, backend="cuda")
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(11, np.int64))
    env.close()


def test_vector_env_with_gymnasium_wrappers():
    import afsim.gym
    from gymnasium.wrappers.vector import RecordEpisodeStatistics
    env = RecordEpisodeStatistics(afsim.gym.AfsimVectorEnv(envs=2, set=SMALL))
    env.reset(seed=1)
    total = np.zeros(10)
    for t in range(6):
        _, rew, term, _, info = env.step(env.unwrapped.heuristic_actions("greedy"))
        total += rew
    assert term.all() and np.allclose(info["episode"]["r"], total) and \
        (info["episode"]["l"] == 6).all()
    env.close()


def test_vector_env_truncation_mode():
    import afsim.gym
    env = afsim.gym.AfsimVectorEnv(envs=1, set=SMALL, episode_end="truncated")
    env.reset(seed=1)
    for _ in range(6):
        _, _, term, trunc, _ = env.step(np.ones(5, np.int64))
    assert trunc.all() and not term.any()
    env.close()


# ---- PettingZoo ----------------------------------------------------------------------

pettingzoo = pytest.importorskip("pettingzoo", reason="pettingzoo is not installed")


@pytest.mark.parametrize("kw", [{}, {"copy_obs": False}, {"episode_end": "truncated"}])
def test_parallel_api_test_passes(kw):
    import afsim.pettingzoo
    from pettingzoo.test import parallel_api_test
    env = afsim.pettingzoo.parallel_env(set=SMALL, seed=1, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=100)
    env.close()


def test_parallel_env_episode_against_vecenv():
    import afsim.pettingzoo
    env = afsim.pettingzoo.parallel_env(set=SMALL, seed=5)
    assert env.possible_agents == [f"en_{m}" for m in range(5)]
    obs, infos = env.reset(seed=5)
    assert env.agents == env.possible_agents and set(infos) == set(env.agents)
    ref = afsim.VecEnv(set=SMALL, envs=1, seed=5, backend="cpu")
    ref_obs = ref.reset()
    rng = np.random.default_rng(3)
    for t in range(6):
        for m, a in enumerate(env.agents):
            assert np.array_equal(obs[a], ref_obs[0, m]) and obs[a] in env.observation_space(a)
        last = {a: obs[a].copy() for a in obs}
        bits = rng.integers(0, 2, 5)
        actions = {a: int(bits[m]) if m % 2 else np.int64(bits[m])
                   for m, a in enumerate(env.agents)}
        obs, rew, term, trunc, infos = env.step(actions)
        ref_obs, ref_rew, _, ref_info = ref.step(bits.reshape(1, 5))
        for m, a in enumerate(env.possible_agents):
            assert rew[a] == float(ref_rew[0, m])
            assert term[a] is (t == 5) and trunc[a] is False
    assert env.agents == []
    for a in env.possible_agents:
        assert np.array_equal(obs[a], last[a])  # the final observation
        assert infos[a]["episode"] == 0
        assert infos[a]["episode_metrics"]["success_rate"] == \
            ref_info["episode_metrics"]["success_rate"][0]
    with pytest.raises(RuntimeError, match="reset"):
        env.step({a: 0 for a in env.possible_agents})
    obs, _ = env.reset()  # the next episode
    assert np.array_equal(obs["en_0"], ref.reset(episode=1)[0, 0])
    assert env.state().shape == (5, afsim.OBS_DIM)
    ref.close()
    env.close()


def test_parallel_env_copies():
    import afsim.pettingzoo
    for copy in (True, False):
        env = afsim.pettingzoo.parallel_env(set=SMALL, seed=1, copy_obs=copy)
        env.reset(seed=1)
        o1, *_ = env.step({a: 1 for a in env.agents})
        o2, _, _, _, infos = env.step({a: 1 for a in env.agents})
        assert np.shares_memory(o1["en_0"], o2["en_0"]) == (not copy)
        if copy:  # a new dict per agent
            assert type(infos["en_0"]) is dict and infos["en_0"] is not infos["en_1"]
        else:     # one shared read-only {}
            assert infos["en_0"] is infos["en_1"] and len(infos["en_0"]) == 0
            with pytest.raises(TypeError):
                infos["en_0"]["x"] = 1
        env.close()


def test_parallel_env_bad_actions():
    import afsim.pettingzoo
    env = afsim.pettingzoo.parallel_env(set=SMALL, seed=1)
    env.reset()
    ok = {a: 0 for a in env.agents}
    cases = [
        ({k: v for k, v in ok.items() if k != "en_3"}, KeyError, "en_3"),
        (dict(ok, en_2=2), ValueError, "'en_2'] = 2"),
        (dict(ok, en_2=-1), ValueError, "= -1"),
        (dict(ok, en_1=0.0), TypeError, "en_1"),
        (dict(ok, en_1="1"), TypeError, "en_1"),
        (dict(ok, en_1=None), TypeError, "en_1"),
        (dict(ok, en_9=0), KeyError, "en_9"),
        (dict(ok, en_1=2 ** 70), OverflowError, ""),
    ]
    for bad, err, words in cases:
        with pytest.raises(err) as e:
            env.step(bad)
        assert words in str(e.value)
    with pytest.raises(TypeError):
        env.step([0] * 5)
    assert env.env.slot == 0  # nothing played
    env.step(dict(ok, en_0=True, en_1=np.uint8(1), en_2=np.bool_(True)))
    assert env.env.slot == 1
    env.close()


def test_parallel_env_no_leak():
    """2 x 2 x 10^4 PettingZoo steps (both copy modes, refused steps among
    them) after a warm-up: resident memory and Python's blocks stay put."""
    import gc
    import os
    import sys
    import afsim.pettingzoo
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs Linux's /proc")

    def rss_kib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

    envs = [afsim.pettingzoo.parallel_env(set={"env.agents": 8, "env.slots": 10}, seed=1,
                                          copy_obs=c) for c in (True, False)]
    names = envs[0].possible_agents
    acts = [dict(zip(names, [m % 2] * 8)) for m in range(2)]
    bad = dict(acts[0], en_3=5)

    def burst(n):
        for env in envs:
            env.reset()
            for i in range(n):
                env.step(acts[i % 2])
                if not env.agents:
                    env.reset()
                if i % 500 == 0:
                    try:
                        env.step(bad)
                    except ValueError:
                        pass

    burst(20_000)
    gc.collect()
    rss0, blocks0 = rss_kib(), sys.getallocatedblocks()
    burst(20_000)
    gc.collect()
    assert sys.getallocatedblocks() - blocks0 < 1000
    assert rss_kib() - rss0 < 2 * 1024
    for env in envs:
        env.close()
