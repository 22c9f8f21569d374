#!/usr/bin/python3
"""Trains one learning method over several seeds with `afsim train` and
tabulates what its evaluations say (issue 22's diagnostics): per seed the
last training episode's success and offload, the last evaluation's success,
offload and floats sent per EN and slot, and the gap between the two
successes (an evaluation collapse shows as a large gap); then the
interquartile mean over seeds with a 95% bootstrap interval (rliable's
method: the mean of the middle half, trimming a quarter on each side;
percentile intervals from resampling the seeds, which with one setting is
the stratified bootstrap). Each training's file stays in --out.

    experiments/learn_seeds.py --algo amdrl --seeds 5 --out /tmp/att \\
        --config experiments/learn.ini --set env.slots=50 ...

Runs the seeds one after another (two cores: one training at a time).
With --baseline POLICY (repeatable) a heuristic plays the same held-out
episodes for each seed (its "train" columns are the learner's, for
reference). With --eval-set KEY=VALUE (repeatable), the final checkpoint of each seed is
also played by `afsim run` on the same held-out episodes with that key of
its stored configuration changed in a copy (e.g. amdrl.comm=always), a row
per seed each.
"""
import argparse
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AFSIM = os.path.join(ROOT, "build", "afsim")


def iqm(x):
    """Mean of the middle half: scipy's trim_mean(x, 0.25), as rliable's IQM."""
    x = np.sort(np.asarray(x, dtype=float))
    cut = int(0.25 * len(x))
    return float(np.mean(x[cut:len(x) - cut]))


def bootstrap_ci(x, reps=2000, seed=0):
    """95% percentile interval of the IQM over seeds resampled with
    replacement (one task: the stratified bootstrap is this one)."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats = [iqm(rng.choice(x, size=len(x), replace=True)) for _ in range(reps)]
    return float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5))


def last_row(path, run):
    """The last finished row of /runs/<run> as a dict of floats."""
    with h5py.File(path, "r") as f:
        g = f["runs"][run]
        n = int(g.attrs["finished"]["episodes"])
        if n == 0:
            sys.exit(f"learn_seeds: {path}: /runs/{run} has no finished row")
        return {k: float(g[k][n - 1]) for k in g if g[k].ndim == 1 and len(g[k]) >= n}


def last_eval(path):
    """The mean over the last evaluation's held-out episodes."""
    with h5py.File(path, "r") as f:
        g = f["runs"]["eval"]
        n = int(g.attrs["finished"]["episodes"])
        trained = g["trained_episodes"][:n]
        rows = trained == trained[-1]
        out = {k: float(np.mean(g[k][:n][rows])) for k in g if g[k].ndim == 1 and len(g[k]) >= n}
        out["episodes"] = int(np.sum(rows))
        return out


def played(path):
    """The mean over the episodes `afsim run` played with its one policy."""
    with h5py.File(path, "r") as f:
        g = f["runs"][list(f["runs"])[0]]
        n = int(g.attrs["finished"]["episodes"])
        return {k: float(np.mean(g[k][:n])) for k in g if g[k].ndim == 1 and len(g[k]) >= n}


def checkpoint_with(ckpt, kv, out):
    """A copy of checkpoint ckpt whose stored configuration has KEY=VALUE:
    a checkpoint plays with the method's keys it was trained with, so an
    evaluation rule (amdrl.comm, amdrl.threshold) is changed in a copy. The
    value keeps the stored attribute's type."""
    key, value = kv.split("=", 1)
    if os.path.abspath(ckpt) != os.path.abspath(out):
        shutil.copyfile(ckpt, out)
    with h5py.File(out, "r+") as f:
        if key not in f.attrs:
            sys.exit(f"learn_seeds: --eval-set {kv}: the checkpoint has no key '{key}'")
        old = f.attrs[key]
        if isinstance(old, (bytes, np.bytes_)):  # afsim's: fixed-length UTF-8, terminated
            f.attrs.create(key, value.encode() + b"\0",
                           dtype=h5py.string_dtype("utf-8", len(value.encode()) + 1))
        else:
            f.attrs[key] = np.array(value, dtype=np.asarray(old).dtype)
    return out


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"learn_seeds: {' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--algo", required=True, choices=["esdrl", "maddpg", "amdrl"])
    p.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    p.add_argument("--out", required=True, help="folder for the trainings' files")
    p.add_argument("--config", default=os.path.join(ROOT, "experiments", "learn.ini"))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to afsim train (repeatable)")
    p.add_argument("--eval-set", action="append", default=[], metavar="KEY=VALUE",
                   help="also play each final checkpoint with this changed (repeatable: one row each)")
    p.add_argument("--baseline", action="append", default=[], metavar="POLICY",
                   help="also play this heuristic (afsim run --policy) on each seed's held-out "
                        "episodes (repeatable: one row each), e.g. deadline, best_response")
    p.add_argument("--label", default="", help="a name for this table")
    p.add_argument("--afsim", default=AFSIM, help="the afsim binary (default: build/afsim)")
    a = p.parse_args()
    afsim = a.afsim
    if a.seeds < 1:
        sys.exit(f"learn_seeds: --seeds {a.seeds}: at least 1")
    os.makedirs(a.out, exist_ok=True)
    sets = [x for kv in a.set for x in ("--set", kv)]
    rows = {"as trained": []}
    for kv in a.eval_set:
        rows[kv] = []
    for policy in a.baseline:
        rows[policy] = []
    for seed in range(1, a.seeds + 1):
        out = os.path.join(a.out, f"{a.algo}-s{seed}.h5")
        run([afsim, "train", "--algo", a.algo, "--config", a.config, "--seed", str(seed),
             "--out", out, "--force", "--quiet"] + sets)
        t, e = last_row(out, "train"), last_eval(out)
        rows["as trained"].append((seed, t, e))
        ckpt = out[:-3] + ".ckpt.h5"
        for kv in a.eval_set:
            played_out = os.path.join(a.out, f"{a.algo}-s{seed}-{kv.replace('=', '_')}.h5")
            episodes = str(e["episodes"])  # the held-out episodes the evaluation played
            changed = checkpoint_with(ckpt, kv, played_out[:-3] + ".ckpt.h5")
            run([afsim, "run", "--config", a.config, "--seed", str(seed), "--policy",
                 f"ckpt:{changed}", "--episodes", episodes, "--out", played_out, "--force",
                 "--quiet"] + sets)
            rows[kv].append((seed, t, played(played_out)))
        for policy in a.baseline:
            played_out = os.path.join(a.out, f"{policy}-s{seed}.h5")
            run([afsim, "run", "--config", a.config, "--seed", str(seed), "--policy", policy,
                 "--episodes", str(e["episodes"]), "--out", played_out, "--force", "--quiet"]
                + sets)
            rows[policy].append((seed, t, played(played_out)))
        print(f"seed {seed} done", file=sys.stderr)
    print(f"\n{a.label or a.algo}: {' '.join(a.set)}\n")
    print("| evaluation | seed | train success | train offload | eval success | eval offload "
          "| floats/EN/slot | gap |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in rows.items():
        for seed, t, e in rs:
            gap = t["success_rate"] - e["success_rate"]
            print(f"| {name} | {seed} | {t['success_rate']:.3f} | {t['offload_fraction']:.2f} | "
                  f"{e['success_rate']:.3f} | {e['offload_fraction']:.2f} | "
                  f"{e['comm_floats_per_decision']:.0f} | {gap:+.3f} |")
    print(f"\nIQM over {a.seeds} seeds [95% bootstrap interval] (n = {a.seeds}):\n")
    print("| evaluation | eval success | eval offload | floats/EN/slot | worst gap |")
    print("|---|---|---|---|---|")
    for name, rs in rows.items():
        succ = [e["success_rate"] for _, _, e in rs]
        lo, hi = bootstrap_ci(succ)
        off = [e["offload_fraction"] for _, _, e in rs]
        fl = [e["comm_floats_per_decision"] for _, _, e in rs]
        gap = max(t["success_rate"] - e["success_rate"] for _, t, e in rs)
        print(f"| {name} | {iqm(succ):.3f} [{lo:.3f}, {hi:.3f}] | {iqm(off):.2f} | "
              f"{iqm(fl):.0f} | {gap:+.3f} |")


if __name__ == "__main__":
    main()
