"""afsim.VecEnv, the Python package's vectorized environment (docs/python.md):
shapes and properties, the zero-copy views and their lifetime, actions of
every accepted kind and the refusal of every bad one (never a crash),
configuration errors with the command line's messages, close(), a bounded
memory over 10^5 steps, determinism, and parity with `afsim run`: the same
per-episode metrics, bit for bit, as its HDF5 file.

Run with the package installed (bash python/install.sh):
    .venv/bin/python -m pytest tests/python
Under a Python without the package every test here is skipped."""
import gc
import glob
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

afsim = pytest.importorskip(
    "afsim", reason="the afsim package is not installed in this Python "
    "(bash python/install.sh, then .venv/bin/python -m pytest tests/python)")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SMALL = {"env.agents": 6, "env.slots": 5}
ACC = {name: i for i, name in enumerate(afsim.ACC_FIELDS)}


def small(envs=2, seed=1, **kw):
    return afsim.VecEnv(set=dict(SMALL, **kw.pop("set", {})), envs=envs, seed=seed,
                        backend="cpu", **kw)


def afsim_binary():
    """The afsim program: $AFSIM_BIN, the one pip's build made beside the
    extension (build-py/), or build/afsim."""
    cands = [os.environ.get("AFSIM_BIN", "")]
    cands += sorted(glob.glob(os.path.join(ROOT, "build-py", "*", "afsim")))
    cands += [os.path.join(ROOT, "build", "afsim")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


# ---- shapes, properties ------------------------------------------------------

def test_shapes_dtypes_and_properties():
    with small(envs=3) as env:
        assert (env.num_envs, env.num_agents, env.slots, env.obs_dim) == (3, 6, 5, afsim.OBS_DIM)
        assert env.backend == "cpu" and env.seed == 1 and env.episode == 0 and env.slot == 0
        assert len(afsim.OBS_FIELDS) == env.obs_dim == len(env.obs_scales)
        assert env.obs_scales[afsim.OBS_FIELDS.index("queue")] == float(
            env.config_value("env.queue_cap"))
        obs = env.reset()
        assert obs.shape == (3, 6, env.obs_dim) and obs.dtype == np.float32
        assert obs.flags.c_contiguous
        obs, reward, done, info = env.step(np.ones((3, 6), np.uint8))
        assert reward.shape == (3, 6) and reward.dtype == np.float32
        assert done.shape == (3, 6) and done.dtype == np.bool_
        assert info == {} and env.slot == 1
        assert np.all(obs >= 0) and np.all(np.isfinite(obs))
        has = obs[..., afsim.OBS_FIELDS.index("has")]
        assert set(np.unique(has)) <= {0.0, 1.0}
        assert env.config_value("env.agents") == "6"
        assert "agents = 6" in env.config_dump()
        assert "E=3" in repr(env)
    assert "closed" in repr(env)


def test_config_file_and_set_forms(tmp_path):
    ini = tmp_path / "c.ini"
    ini.write_text("[run]\nenvs = 5\nseed = 7\n\n[env]\nagents = 4\nslots = 3\n")
    with afsim.VecEnv(str(ini), backend="cpu") as env:
        assert (env.num_envs, env.num_agents, env.slots, env.seed) == (5, 4, 3, 7)
    # a list of assignments, a path object, keyword overrides
    with afsim.VecEnv(ini, set=["env.agents=9", "env.slots=2"], envs=2, seed=3,
                      backend="cpu", threads=1) as env:
        assert (env.num_envs, env.num_agents, env.slots, env.seed) == (2, 9, 2, 3)
    # booleans and floats as a file writes them
    with afsim.VecEnv(set={"env.agents": 3, "env.t_mean": 1.25, "train.keep_best": False},
                      envs=1, backend="cpu") as env:
        assert env.config_value("env.t_mean") == "1.25"
        assert env.config_value("train.keep_best") == "false"


# ---- zero copy and lifetimes -------------------------------------------------

def test_views_are_the_environment_buffers():
    with small() as env:
        addr = env._buffer_addresses()
        obs = env.reset()
        assert obs.__array_interface__["data"][0] == addr["obs"]
        rows = []
        for t in range(2 * env.slots + 1):
            obs2, reward, done, _ = env.step(env.heuristic_actions("greedy"))
            assert obs2 is obs  # the same array, overwritten in place
            assert obs2.__array_interface__["data"][0] == addr["obs"]
            assert reward.__array_interface__["data"][0] == addr["reward"]
            assert done.__array_interface__["data"][0] == addr["done"]
            rows.append(obs2.copy())
        assert env._buffer_addresses() == addr
        assert not np.array_equal(rows[0], rows[1])  # overwritten: copy what you keep
        assert env.reset() is obs and env._buffer_addresses() == addr  # same seed: same buffers
        # NumPy's DLPack takes the same memory
        if hasattr(np, "from_dlpack"):
            assert np.from_dlpack(obs).__array_interface__["data"][0] == addr["obs"]


def test_views_keep_the_memory_alive_after_close_and_del():
    env = small()
    obs, reward, done, _ = env.step(np.zeros((2, 6), np.uint8))
    before = (obs.copy(), reward.copy(), done.copy())
    env.close()
    del env
    gc.collect()
    for a, b in zip((obs, reward, done), before):
        assert np.array_equal(a, b)  # still readable: the view holds the buffers
    obs[...] = 1.0                  # and writable without a crash
    del obs, reward, done
    gc.collect()


def test_a_new_seed_keeps_the_buffers_and_plays_that_seeds_environments():
    env = small(seed=1)
    old = env.reset()
    addresses = env._buffer_addresses()
    new = env.reset(seed=2)
    assert new is old and env._buffer_addresses() == addresses  # the views stay valid
    assert env.seed == 2
    got = [new.copy()] + [env.step(np.ones(new.shape[:2], np.uint8))[0].copy() for _ in range(3)]
    env.close()
    with small(seed=2) as fresh:  # the same draws as an environment made with that seed
        want = [fresh.reset().copy()] + \
            [fresh.step(np.ones(new.shape[:2], np.uint8))[0].copy() for _ in range(3)]
    for g, w in zip(got, want):
        assert np.array_equal(g, w)
    assert not np.array_equal(got[0], small(seed=1).reset())


# ---- actions -----------------------------------------------------------------

def play(actions_list, **kw):
    with small(**kw) as env:
        out = []
        for a in actions_list:
            obs, reward, done, _ = env.step(a)
            out.append((obs.copy(), reward.copy(), done.copy()))
        return out


def test_every_accepted_action_form_plays_the_same():
    rng = np.random.default_rng(5)
    base = [rng.integers(0, 2, (2, 6)).astype(np.uint8) for _ in range(7)]
    ref = play(base)
    forms = [
        lambda a: a.reshape(-1),                        # [E*M]
        lambda a: a.astype(bool),
        lambda a: a.astype(np.int64),
        lambda a: a.astype(np.int8),
        lambda a: a.astype(np.uint16),
        lambda a: a.astype(">i4"),                      # not this machine's byte order
        lambda a: a.tolist(),                           # nested lists
        lambda a: np.asfortranarray(a.astype(np.int32)),
        lambda a: np.repeat(a, 2, axis=1)[:, ::2],      # a strided view
    ]
    for f in forms:
        got = play([f(a) for a in base])
        for (o1, r1, d1), (o2, r2, d2) in zip(ref, got):
            assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and np.array_equal(d1, d2)


def test_bad_actions_raise_and_leave_the_environment_unchanged():
    with small() as env:
        obs0 = env.reset().copy()
        cases = [
            (np.zeros((2, 7), np.uint8), ValueError, "shape (2, 7)"),
            (np.zeros(11, np.uint8), ValueError, "(E, M) = (2, 6)"),
            (np.zeros((2, 6, 1), np.uint8), ValueError, "(E*M,) = (12,)"),
            (np.uint8(1), ValueError, "shape ()"),
            (np.zeros((2, 6)), TypeError, "float64"),
            (np.zeros((2, 6), np.float32), TypeError, "float32"),
            ([["a"] * 6] * 2, TypeError, "<U1"),
            (None, TypeError, "object"),
            (np.zeros((2, 6), complex), TypeError, "complex"),
        ]
        for bad, err, words in cases:
            with pytest.raises(err) as e:
                env.step(bad)
            assert words in str(e.value), (words, str(e.value))
        for dtype, value, shown in [(np.uint8, 2, "2"), (np.uint8, 255, "255"),
                                    (np.int8, -1, "-1"), (np.int64, -3, "-3"),
                                    (np.uint64, 2 ** 63, str(2 ** 63)), (np.int16, 256, "256")]:
            a = np.zeros((2, 6), dtype)
            a[1, 1] = value
            with pytest.raises(ValueError) as e:
                env.step(a)
            msg = str(e.value)
            assert f"action[7] = {shown} (environment 1, agent 1)" in msg, msg
            assert "0 (send the function to the cloud) or 1 (run it at the EN)" in msg
        assert env.slot == 0 and np.array_equal(env.obs, obs0)
        env.step(np.zeros((2, 6), np.uint8))  # still works
        assert env.slot == 1


def test_uint8_message_is_the_librarys():
    """A uint8 array goes straight in; afs_vecenv_check_actions words the refusal."""
    with small() as env:
        a = np.zeros(12, np.uint8)
        a[11] = 9
        with pytest.raises(ValueError, match=r"^action\[11\] = 9 \(environment 1, agent 5\): "
                                             r"an action is 0 \(send the function to the cloud\)"
                                             r" or 1 \(run it at the EN\)$"):
            env.step(a)


# ---- configuration errors ----------------------------------------------------

def cli_error(*args):
    """What `afsim config --check ARGS` prints, without "afsim: "."""
    binary = afsim_binary()
    if not binary:
        return None
    r = subprocess.run([binary, "config", "--check", *args], capture_output=True, text=True)
    assert r.returncode != 0
    line = r.stderr.strip().splitlines()[0]
    assert line.startswith("afsim: ")
    return line[len("afsim: "):]


@pytest.mark.parametrize("assignment", ["env.nokey=1", "env.agents=0", "env.agents=x",
                                        "run.backend=gpu", "noequals", "env.f_min=5"])
def test_config_errors_are_value_errors_with_the_command_lines_message(assignment):
    with pytest.raises(ValueError) as e:
        afsim.VecEnv(set=[assignment], backend="cpu")
    msg = str(e.value)
    assert msg
    cli = cli_error("--set", assignment)
    if cli is not None:
        assert msg == cli


def test_other_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="run.envs"):
        afsim.VecEnv(envs=0, backend="cpu")
    with pytest.raises(ValueError, match="run.envs"):
        afsim.VecEnv(envs=-5, backend="cpu")
    with pytest.raises(ValueError, match="run.backend"):
        afsim.VecEnv(backend="tpu")
    with pytest.raises(ValueError, match="run.seed"):
        afsim.VecEnv(seed=-1, backend="cpu")
    with pytest.raises(ValueError):
        afsim.VecEnv(seed=2 ** 32, backend="cpu")
    with pytest.raises(TypeError):
        afsim.VecEnv(envs=1.5, backend="cpu")
    with pytest.raises(MemoryError, match="lower envs"):  # refused before allocating
        afsim.VecEnv(envs=10_000_000, set={"env.agents": 1_000_000}, backend="cpu")
    with pytest.raises(ValueError, match="missing.ini"):
        afsim.VecEnv(str(tmp_path / "missing.ini"))
    bad = tmp_path / "bad.ini"
    bad.write_text("[env]\nagents = many\n")
    with pytest.raises(ValueError, match="bad.ini:2"):
        afsim.VecEnv(str(bad))
    with pytest.raises(TypeError):
        afsim.VecEnv(set=[1, 2])
    with pytest.raises(TypeError):
        afsim.VecEnv(set={1: 2})
    with small() as env:
        with pytest.raises(ValueError, match="seed"):
            env.reset(seed=-1)
        with pytest.raises(ValueError, match="episode"):
            env.reset(episode=2 ** 32)
        with pytest.raises(ValueError, match="episode"):
            env.reset(episode=-1)
        with pytest.raises(KeyError):
            env.config_value("env.nokey")
        with pytest.raises(ValueError):
            env.config_value("nodot")


def test_cuda_backend_on_a_build_without_it_says_so():
    if afsim.cuda_built():
        pytest.skip("this build has the CUDA backend (test_cuda_dlpack covers it)")
    with pytest.raises(RuntimeError, match="no CUDA backend"):
        afsim.VecEnv(envs=1, backend="cuda")
    with afsim.VecEnv(envs=1, backend="auto", set=SMALL) as env:
        assert env.backend == "cpu"


# ---- close ---------------------------------------------------------------------

def test_close_is_idempotent_and_later_calls_raise():
    env = small()
    env.close()
    env.close()
    assert env.closed
    for call in (lambda: env.step(np.zeros(12, np.uint8)), env.reset, env.episode_metrics,
                 env.episode_acc, lambda: env.heuristic_actions("greedy"),
                 env._buffer_addresses, lambda: env.obs, lambda: env.num_envs, env.config_dump):
        with pytest.raises(RuntimeError, match="closed"):
            call()
    with pytest.raises(RuntimeError, match="closed"):
        with env:
            pass
    with small() as env2:
        pass
    assert env2.closed
    bare = afsim.VecEnv.__new__(afsim.VecEnv)  # __init__ never ran
    with pytest.raises(RuntimeError, match="closed"):
        bare.reset()


# ---- heuristics, episodes, metrics --------------------------------------------

def test_heuristic_actions():
    with small() as env:
        for p in afsim.POLICIES:
            a = env.heuristic_actions(p)
            assert a.shape == (2, 6) and a.dtype == np.uint8 and set(np.unique(a)) <= {0, 1}
        assert env.heuristic_actions("all_local").all()
        assert not env.heuristic_actions("all_cloud").any()
        with pytest.raises(ValueError, match="greedy"):
            env.heuristic_actions("nope")
        with pytest.raises(ValueError):
            env.heuristic_actions(3)
        assert env.slot == 0  # deciding plays nothing


def python_row(acc):
    """afs_row_from_sums over the environments' sums, summed in environment
    order in float64 with a Python loop (the order of afs_sum_over_envs)."""
    s = [0.0] * acc.shape[1]
    for e in range(acc.shape[0]):
        for a in range(acc.shape[1]):
            s[a] = s[a] + float(acc[e, a])
    ratio = (lambda n, d: n / d if d > 0 else float("nan"))
    gen, done = s[ACC["generated"]], s[ACC["completed"]]
    return {"functions": int(gen),
            "mean_latency_s": ratio(s[ACC["latency"]], done),
            "success_rate": ratio(s[ACC["success"]], gen),
            "mean_cost": ratio(s[ACC["cost"]], gen),
            "mean_reward": ratio(s[ACC["reward"]], gen),
            "offload_fraction": ratio(s[ACC["offloaded"]], gen),
            "drop_rate": ratio(s[ACC["dropped"]], gen),
            "miss_rate": ratio(s[ACC["late"]], gen),
            "cold_start_fraction": ratio(s[ACC["cold"]], done)}


def same(a, b):
    """Equal bit for bit, NaN equal to NaN."""
    return np.array_equal(np.asarray(a, float), np.asarray(b, float), equal_nan=True)


def test_episode_end_info_and_metrics():
    with small(envs=3) as env:
        assert np.all(np.isnan(env.episode_metrics()["success_rate"]))  # nothing finished yet
        env.reset(episode=4)
        total_reward = np.zeros((3, 6))
        for t in range(env.slots):
            obs, reward, done, info = env.step(env.heuristic_actions("greedy"))
            total_reward += reward
            assert bool(done.any()) == (t == env.slots - 1)
            assert bool(info) == (t == env.slots - 1)
        assert done.all() and env.episode == 5 and env.slot == 0 and env.episodes_done == 1
        assert info["episode"] == 4
        acc = env.episode_acc()
        assert acc.shape == (3, len(afsim.ACC_FIELDS)) and acc.dtype == np.float64
        per_env = info["episode_metrics"]
        assert set(per_env) == {"functions", *afsim.METRICS}
        for k, v in per_env.items():
            assert v.shape == (3,)
            assert same(v, env.episode_metrics()[k])
        for e in range(3):
            row = python_row(acc[e:e + 1])
            for k in per_env:
                assert same(per_env[k][e], row[k]), k
        row = python_row(acc)
        for k, v in info["episode_total"].items():
            assert same(v, row[k]), k
        assert env.episode_metrics(total=True) == info["episode_total"] or all(
            same(v, info["episode_total"][k]) for k, v in env.episode_metrics(total=True).items())
        # the rewards summed over the episode are the accumulator's
        assert np.allclose(total_reward.sum(axis=1), acc[:, ACC["reward"]], rtol=1e-5)
        # the next step clears done
        _, _, done, info = env.step(env.heuristic_actions("greedy"))
        assert not done.any() and info == {}
        # reset clears the sums
        env.reset()
        assert not env.episode_acc().any() and env.episodes_done == 0


def test_determinism():
    rng = np.random.default_rng(11)
    acts = [rng.integers(0, 2, (2, 6)).astype(np.uint8) for _ in range(12)]
    a, b = play(acts, seed=9), play(acts, seed=9)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            assert np.array_equal(u, v)
    c = play(acts, seed=10)
    assert not np.array_equal(a[0][0], c[0][0])
    # threads do not change the draws
    d = play(acts, seed=9, threads=1)
    for x, y in zip(a, d):
        for u, v in zip(x, y):
            assert np.array_equal(u, v)
    # reseeding in place gives what a fresh environment with that seed gives
    with small(seed=10) as env:
        env.reset(seed=9)
        for t, act in enumerate(acts):
            obs, reward, done, _ = env.step(act)
            assert np.array_equal(obs, a[t][0]) and np.array_equal(reward, a[t][1])


def test_step_without_the_gil_from_threads():
    """Large environments step without the GIL: two environments in two
    threads give what they give alone."""
    kw = dict(envs=64, set={"env.agents": 150, "env.slots": 4})
    ref = []
    for seed in (1, 2):
        with afsim.VecEnv(seed=seed, backend="cpu", **kw) as env:
            for _ in range(6):
                obs, *_ = env.step(env.heuristic_actions("greedy"))
            ref.append(obs.copy())
    out = [None, None]

    def run(i):
        with afsim.VecEnv(seed=i + 1, backend="cpu", threads=1, **kw) as env:
            for _ in range(6):
                obs, *_ = env.step(env.heuristic_actions("greedy"))
            out[i] = obs.copy()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert np.array_equal(out[0], ref[0]) and np.array_equal(out[1], ref[1])


# ---- memory ----------------------------------------------------------------------

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_no_leak_over_1e5_steps():
    """10^5 steps of a tiny environment (and its other calls, and refused
    steps) after a warm-up: the resident memory, Python's allocated blocks
    and the views' reference counts stay put. (tracemalloc is not the
    measure: under it NumPy and CPython report growth that the resident
    memory does not show, over 10^6 calls.)"""
    env = afsim.VecEnv(envs=1, set={"env.agents": 2, "env.slots": 10}, seed=1, backend="cpu")
    acts = [np.array([[0, 1]], np.uint8), [[1, 0]], np.array([1, 1], np.int64)]
    bad = np.array([[0, 2]], np.uint8)

    def burst(n):
        for i in range(n):
            obs, reward, done, info = env.step(acts[i % 3])
            if i % 1000 == 0:
                env.heuristic_actions("greedy")
                env.episode_metrics()
                env.episode_metrics(total=True)
                env.episode_acc()
                try:
                    env.step(bad)
                except ValueError:
                    pass

    burst(20_000)  # warm-up: caches, first allocations, the allocator's arenas
    gc.collect()
    refs = (sys.getrefcount(env.obs), sys.getrefcount(env.reward))
    rss0, blocks0 = rss_kib(), sys.getallocatedblocks()
    burst(100_000)
    gc.collect()
    assert (sys.getrefcount(env.obs), sys.getrefcount(env.reward)) == refs
    blocks = sys.getallocatedblocks() - blocks0
    assert blocks < 1000, f"{blocks} more Python blocks after 1e5 steps"
    rss_growth = rss_kib() - rss0
    assert rss_growth < 2 * 1024, f"RSS grew {rss_growth} KiB over 1e5 steps"
    env.close()


def test_no_leak_creating_and_closing():
    for _ in range(50):  # warm-up
        small().close()
    gc.collect()
    rss0 = rss_kib()
    for _ in range(2000):
        env = small()
        env.step(np.zeros(12, np.uint8))
        obs = env.obs
        env.close()
        del env, obs
        small()  # dropped without close
    gc.collect()
    assert rss_kib() - rss0 < 4 * 1024


# ---- parity with afsim run ------------------------------------------------------

@pytest.mark.parametrize("policy", ["greedy", "deadline"])
def test_parity_with_afsim_run(tmp_path, policy):
    import h5py
    binary = afsim_binary()
    if not binary:
        pytest.skip("no afsim program (bash python/install.sh builds build-py/*/afsim; "
                    "or cmake --build build; or set AFSIM_BIN)")
    config = os.path.join(ROOT, "experiments", "smoke.ini")
    envs, episodes, seed = 5, 3, 17
    out = tmp_path / "run.h5"
    subprocess.run([binary, "run", "--config", config, "--policy", policy, "--backend", "cpu",
                    "--envs", str(envs), "--episodes", str(episodes), "--set", f"run.seed={seed}",
                    "--out", str(out), "--quiet"], check=True, capture_output=True)
    rows = []
    with afsim.VecEnv(config, envs=envs, seed=seed, backend="cpu") as env:
        env.reset(episode=0)
        while len(rows) < episodes:
            _, _, _, info = env.step(env.heuristic_actions(policy))
            if info:
                rows.append((info["episode"], python_row(env.episode_acc()),
                             info["episode_total"]))
    with h5py.File(out, "r") as f:
        run = f["runs"][policy]
        assert list(run["episode"][:]) == [r[0] for r in rows]
        for key in ["functions", *afsim.METRICS]:
            theirs = run[key][:]
            ours = [r[1][key] for r in rows]
            c_total = [r[2][key] for r in rows]
            assert same(theirs, ours), (key, theirs, ours)  # bit for bit, NaN = NaN
            assert same(theirs, c_total), key


# ---- CUDA ------------------------------------------------------------------------

def test_cuda_dlpack():
    if not afsim.cuda_built():
        pytest.skip("this build has no CUDA backend (bash python/install.sh --cuda)")
    try:
        env = afsim.VecEnv(envs=4, set=SMALL, seed=1, backend="cuda")
    except RuntimeError as e:
        pytest.skip(f"no usable CUDA device: {e}")
    with env, small(envs=4) as ref:
        obs = env.reset()
        assert isinstance(obs, afsim.DeviceArray)
        assert obs.__dlpack_device__() == (2, 0)
        assert obs.shape == (4, 6, afsim.OBS_DIM) and obs.dtype == np.float32
        assert obs.ptr == env._buffer_addresses()["obs"]
        assert obs.__cuda_array_interface__["data"][0] == obs.ptr
        cap = obs.__dlpack__()
        assert type(cap).__name__ == "PyCapsule"
        del cap  # never consumed: its destructor frees it
        np.testing.assert_allclose(np.asarray(obs), ref.reset(), rtol=1e-5, atol=1e-6)
        for _ in range(env.slots):
            a = ref.heuristic_actions("all_local")
            o, r, d, info = env.step(a)
            ro, rr, rd, rinfo = ref.step(a)
            assert o is obs and o.ptr == env._buffer_addresses()["obs"]
        np.testing.assert_allclose(r.to_numpy(), rr, rtol=1e-4, atol=1e-5)
        assert np.array_equal(d.to_numpy(), rd) and info["episode"] == rinfo["episode"]
        with pytest.raises(ValueError, match="action"):
            env.step(np.full((4, 6), 3, np.uint8))
        try:
            import torch
        except ImportError:
            return
        t = torch.from_dlpack(obs)
        assert t.is_cuda and t.data_ptr() == obs.ptr
        act = torch.ones((4, 6), dtype=torch.uint8, device="cuda")
        env.step(act)  # device actions, copied on the device
        with pytest.raises(TypeError):
            env.step(torch.ones((4, 6), dtype=torch.float32, device="cuda"))
