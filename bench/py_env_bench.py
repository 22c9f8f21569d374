#!/usr/bin/env python3
"""Speed of afsim's Python package against the C API it wraps and against a
NumPy environment (docs/python.md, "Performance").

  (a) afsim.VecEnv.step, fixed NumPy uint8 actions (E x M agents a step)
  (b) the C API's own loop: vecenv_bench (afs_vecenv_step, same E, M, actions)
  (c) bench/env_numpy.py, the NumPy peer, at the same E and M
  (d) a PettingZoo loop over one environment (E = 1: dicts of M agents in
      and out each step) against the NumPy peer at E = 1 (arrays, no dicts)

The actions of (a) and (b) are the same: greedy's on the first slot of
episode 0, written once (vecenv_bench's default). (a) includes what a
Python caller pays per step: the copy of the actions into the
environment, their check, the call. The PettingZoo loop cycles through 16
prepared action dicts (random 0/1), so that it times the environment and
its dicts, not the making of a policy's dict. Every rate is agent-steps/s
(agents x steps / wall time) after one untimed episode; each is the best of
--repeat runs of --seconds (noise on a shared machine only slows a run).

    .venv/bin/python bench/py_env_bench.py            # E=1024, M=150, all cores
    .venv/bin/python bench/py_env_bench.py --threads 1 --seconds 2 --json
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def episodes(step, slots, seconds):
    """Whole episodes of `step()` for at least `seconds` after one untimed:
    (the best episode's time, the mean episode's time), as vecenv_bench
    and env_numpy.py time theirs."""
    for _ in range(slots):
        step()
    times, t_start = [], time.perf_counter()
    while True:
        t0 = time.perf_counter()
        for _ in range(slots):
            step()
        t1 = time.perf_counter()
        times.append(t1 - t0)
        if t1 - t_start >= seconds:
            return min(times), sum(times) / len(times)


def vecenv_rate(E, M, seconds, threads):
    import afsim
    with afsim.VecEnv(envs=E, set={"env.agents": M}, seed=1, backend="cpu",
                      threads=threads) as env:
        env.reset(episode=0)
        actions = env.heuristic_actions("greedy")  # uint8 [E, M], C-contiguous
        step = env.step
        best, mean = episodes(lambda: step(actions), env.slots, seconds)
        return E * M * env.slots / best, E * M * env.slots / mean


def gym_rate(E, M, seconds, threads, copy):
    import afsim.gym
    env = afsim.gym.AfsimVectorEnv(envs=E, set={"env.agents": M}, seed=1, threads=threads,
                                   copy=copy)
    env.reset(seed=1)
    actions = env.heuristic_actions("greedy")
    step, L = env.step, env.env.slots
    best, mean = episodes(lambda: step(actions), L, seconds)
    env.close()
    return E * M * L / best, E * M * L / mean


def c_benches():
    """Every vecenv_bench found: the one built beside the extension
    (build-py/<wheel tag>/, pip's flags) first, then build/'s."""
    found = sorted(glob.glob(os.path.join(ROOT, "build-py", "cp*", "vecenv_bench")))
    found += [os.path.join(ROOT, "build", "vecenv_bench")]
    return [b for b in found if os.access(b, os.X_OK)]


def c_rate(binary, E, M, seconds, threads, fused=False):
    """(best episode's, mean) agent-steps/s of vecenv_bench, or None; with
    fused, also afsim run's fused slot's rate ((rate, rate), or None)."""
    cmd = [binary, "--envs", str(E), "--agents", str(M), "--seconds", str(seconds)]
    if threads:
        cmd += ["--threads", str(threads)]
    if fused:
        cmd += ["--fused"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    lines = r.stdout.splitlines()
    step = next((x for x in lines if x.startswith("vecenv")), "")
    best = re.search(r"(?<![a-z_])agent_steps_per_s=([0-9.e+]+)", step)
    mean = re.search(r"mean_agent_steps_per_s=([0-9.e+]+)", step)
    if r.returncode or not best:
        print(f"py_env_bench: {binary} failed: {r.stderr.strip() or r.stdout.strip()}",
              file=sys.stderr)
        return (None, None) if fused else None
    b = float(best.group(1))
    rates = (b, float(mean.group(1)) if mean else b)
    if not fused:
        return rates
    fl = next((x for x in lines if x.startswith("fused")), "")
    f = re.search(r"(?<![a-z_])agent_steps_per_s=([0-9.e+]+)", fl) or \
        re.search(r"mean_agent_steps_per_s=([0-9.e+]+)", fl)
    return rates, (float(f.group(1)),) * 2 if f else None


def numpy_rate(E, M, episodes, slots, policy):
    cmd = [sys.executable, os.path.join(HERE, "env_numpy.py"), "--envs", str(E), "--agents",
           str(M), "--episodes", str(episodes), "--slots", str(slots), "--policy", policy,
           "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = json.loads(r.stdout)
    return out["agent_steps_per_s"], out["mean_agent_steps_per_s"]


def pettingzoo_rate(M, seconds, copy_obs):
    import afsim.pettingzoo
    env = afsim.pettingzoo.parallel_env(set={"env.agents": M}, seed=1, threads=1,
                                        copy_obs=copy_obs)
    rng = np.random.default_rng(0)
    names = env.possible_agents
    dicts = [dict(zip(names, rng.integers(0, 2, M).tolist())) for _ in range(16)]
    step, reset, L = env.step, env.reset, env.env.slots
    env.reset(seed=1)

    def episode():  # L steps, then the reset PettingZoo asks for
        for i in range(L):
            step(dicts[i & 15])
        reset()

    best, mean = episodes(episode, 1, seconds)
    env.close()
    return M * L / best, M * L / mean


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", type=int, default=1024)
    ap.add_argument("--agents", type=int, default=150)
    ap.add_argument("--seconds", type=float, default=3.0, help="per timed run")
    ap.add_argument("--repeat", type=int, default=2,
                    help="rounds; in each, (a) and (b) run one after the other")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: every core)")
    ap.add_argument("--numpy-slots", type=int, default=20,
                    help="slots per episode of the NumPy peer at E (its rate is per agent-step; "
                         "fewer slots keep it short)")
    ap.add_argument("--skip-numpy", action="store_true", help="leave out (c)")
    ap.add_argument("--json", action="store_true", help="also print one JSON object")
    a = ap.parse_args()
    E, M, S = a.envs, a.agents, a.seconds
    res = {"E": E, "M": M, "threads": a.threads or os.cpu_count(), "seconds": S,
           "repeat": a.repeat, "c_vecenv": {}}

    def keep(key, rates, into=res):
        if rates:
            old = into.get(key, (0.0, 0.0))
            into[key] = (max(old[0], rates[0]), max(old[1], rates[1]))

    benches = c_benches()
    for _ in range(a.repeat):  # (a) and (b) side by side, under the same load
        keep("python_vecenv", vecenv_rate(E, M, S, a.threads))
        for i, b in enumerate(benches):
            if i == 0:  # and afsim run's own fused slot, for scale
                rates, fused = c_rate(b, E, M, S, a.threads, fused=True)
                keep("c_fused", fused)
            else:
                rates = c_rate(b, E, M, S, a.threads)
            keep(os.path.relpath(b, ROOT), rates, res["c_vecenv"])
        keep("gym_vector_copy", gym_rate(E, M, S, a.threads, True))
        keep("gym_vector_views", gym_rate(E, M, S, a.threads, False))
        keep("pettingzoo_copy", pettingzoo_rate(M, S, True))
        keep("pettingzoo_views", pettingzoo_rate(M, S, False))
    if not a.skip_numpy:
        res["numpy"] = numpy_rate(E, M, a.repeat, a.numpy_slots, "greedy")
    res["numpy_e1"] = numpy_rate(1, M, 50 * a.repeat, 100, "random")

    def row(label, rate, ref=None, ref_label=""):
        best, mean = rate if isinstance(rate, tuple) else (rate, float("nan"))
        refb = ref[0] if isinstance(ref, tuple) else ref
        ratio = f"{best / refb:6.2f} x {ref_label}" if refb else ""
        print(f"| {label:<60} | {best:10.3g} | {mean:10.3g} | {ratio:<26} |")

    print(f"afsim Python package: E = {E}, M = {M}, threads = {res['threads']}; agent-steps/s, "
          f"the best episode and the mean over {a.repeat} x {S:g} s")
    print(f"| {'':<60} | {'best':>10} | {'mean':>10} | {'best against':<26} |")
    print(f"|{'-' * 62}|{'-' * 12}|{'-' * 12}|{'-' * 28}|")
    c = next(iter(res["c_vecenv"].values()), None)
    row("(a) Python VecEnv.step, uint8 actions", res["python_vecenv"], c, "(b)")
    for name, rate in res["c_vecenv"].items():
        row(f"(b) C API, {name}", rate)
    if "c_fused" in res:
        row("    afsim run's fused greedy slot (vecenv_bench --fused)", res["c_fused"], c, "(b)")
    row("    Gymnasium AfsimVectorEnv, copy=True", res["gym_vector_copy"], c, "(b)")
    row("    Gymnasium AfsimVectorEnv, copy=False", res["gym_vector_views"], c, "(b)")
    if "numpy" in res:
        row(f"(c) NumPy peer env_numpy.py ({a.numpy_slots} slots)", res["numpy"])
        row("    (a) against (c)", res["python_vecenv"], res["numpy"], "(c)")
    row("(d) PettingZoo loop, E = 1, copy_obs=True", res["pettingzoo_copy"], res["numpy_e1"],
        "NumPy peer, E = 1")
    row("    PettingZoo loop, E = 1, copy_obs=False", res["pettingzoo_views"], res["numpy_e1"],
        "NumPy peer, E = 1")
    row("    NumPy peer env_numpy.py, E = 1", res["numpy_e1"])
    if a.json:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
