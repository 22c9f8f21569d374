#!/usr/bin/python3
"""Trains one learning method over several seeds with `afsim train` and
tabulates what its evaluations say (issue 22's diagnostics): per seed the
last training episode's success and offload, the last evaluation's success,
reward per function, offload and floats sent per EN and slot, and the gap between the
training and evaluation successes (an evaluation collapse shows as a large
gap); then, over seeds, the interquartile mean with 95% stratified-bootstrap
intervals and the probability of improvement over a reference row
(experiments/stats.py: rliable's method). Each training's file stays in
--out.

    experiments/learn_seeds.py --algo amdrl --seeds 5 --out /tmp/att \\
        --config experiments/learn.ini --set env.slots=50 ...

Runs the seeds one after another (two cores: one training at a time).
Rows besides "as trained" (each played by `afsim run` on the same held-out
episodes as the evaluation unless said otherwise):
  --baseline POLICY      a heuristic (repeatable), e.g. best_response;
  --tune-deadline LIST   the deadline rule with the alpha of LIST that earns
                         the most reward per function on episodes of another
                         seed (seed + 100000: episodes neither the learner
                         nor the evaluation sees), per seed;
  --eval-set KEY=VALUE   the final checkpoint with that key of its stored
                         configuration changed in a copy (repeatable; e.g.
                         amdrl.comm=always);
  --random-control       AM-DRL: the final checkpoint with amdrl.comm = random
                         at the rate its attention unit initiated at in the
                         evaluation (the control the paper lacks);
  --test                 the final and the best checkpoint (train.keep_best)
                         on test episodes (seed + 100000), as "last (test)"
                         and "best (test)": the best one was chosen on the
                         evaluation's episodes, so only other episodes say
                         what the choice is worth.
"""
import argparse
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AFSIM = os.path.join(ROOT, "build", "afsim")
TEST_SEED = 100000  # seed + this: episodes for tuning and testing


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


class Seeds:
    """Plays policies with `afsim run` under the trainings' settings."""

    def __init__(self, a):
        self.a = a
        self.sets = [x for kv in a.set for x in ("--set", kv)]

    def play(self, policy, seed, episodes, out, extra=()):
        run([self.a.afsim, "run", "--config", self.a.config, "--seed", str(seed), "--policy",
             policy, "--episodes", str(episodes), "--out", out, "--force", "--quiet"]
            + self.sets + list(extra))
        return played(out)

    def tuned_deadline(self, seed, episodes, base):
        """(alpha, metrics on seed's held-out episodes) of the best alpha of
        --tune-deadline on seed + TEST_SEED's episodes, by reward per function."""
        best = None
        for alpha in self.a.tune_deadline.split(","):
            got = self.play("deadline", seed + TEST_SEED, episodes, f"{base}-tune{alpha}.h5",
                            ["--set", f"deadline.alpha={alpha}"])
            if best is None or got["mean_reward"] > best[1]:
                best = (alpha, got["mean_reward"])
        e = self.play("deadline", seed, episodes, f"{base}.h5",
                      ["--set", f"deadline.alpha={best[0]}"])
        e["alpha"] = float(best[0])
        return e


def one_seed(a, player, seed, rows):
    out = os.path.join(a.out, f"{a.algo}-s{seed}.h5")
    sets = player.sets
    run([a.afsim, "train", "--algo", a.algo, "--config", a.config, "--seed", str(seed),
         "--out", out, "--force", "--quiet"] + sets)
    t, e = last_row(out, "train"), last_eval(out)
    k = e["episodes"]  # the held-out episodes the evaluation played
    rows["as trained"].append((seed, t, e))
    ckpt = out[:-3] + ".ckpt.h5"
    changes = [(kv, [kv]) for kv in a.eval_set]
    if a.random_control:
        rate = e.get("init_rate", float("nan"))
        changes.append(("random at the unit's rate",
                        ["amdrl.comm=random", f"amdrl.random_rate={min(max(rate, 0.0), 1.0):.6f}"]))
    for name, kvs in changes:
        base = os.path.join(a.out, f"{a.algo}-s{seed}-{name.replace('=', '_').replace(' ', '_')}")
        changed = base + ".ckpt.h5"
        shutil.copyfile(ckpt, changed)
        for kv in kvs:
            checkpoint_with(changed, kv, changed)
        rows[name].append((seed, t, player.play(f"ckpt:{changed}", seed, k, base + ".h5")))
    if a.test:
        for name, path in (("last (test)", ckpt), ("best (test)", out[:-3] + ".ckpt.best.h5")):
            base = os.path.join(a.out, f"{a.algo}-s{seed}-{name.split()[0]}-test")
            rows[name].append((seed, t, player.play(f"ckpt:{path}", seed + TEST_SEED, k,
                                               base + ".h5")))
    for policy in a.baseline:
        base = os.path.join(a.out, f"{policy}-s{seed}.h5")
        rows[policy].append((seed, t, player.play(policy, seed, k, base)))
    if a.tune_deadline:
        rows["deadline (tuned)"].append(
            (seed, t, player.tuned_deadline(seed, k, os.path.join(a.out, f"deadline-s{seed}"))))


def print_tables(a, rows):
    print(f"\n{a.label or a.algo}: {' '.join(a.set)}\n")
    print("| evaluation | seed | train success | train offload | eval success | eval reward "
          "| eval offload | floats/EN/slot | gap |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, rs in rows.items():
        for seed, t, e in rs:
            gap = t["success_rate"] - e["success_rate"]
            extra = f" (alpha {e['alpha']:g})" if "alpha" in e else ""
            print(f"| {name}{extra} | {seed} | {t['success_rate']:.3f} | "
                  f"{t['offload_fraction']:.2f} | {e['success_rate']:.3f} | "
                  f"{e['mean_reward']:.3f} | {e['offload_fraction']:.2f} | "
                  f"{e['comm_floats_per_decision']:.0f} | {gap:+.3f} |")
    n = a.seeds
    ref = a.compare if a.compare in rows else None
    print(f"\nIQM over seeds [95% stratified-bootstrap interval] (n = {n})"
          + (f"; P(> {ref}): the probability that a seed's success beats a seed of {ref}"
             if ref else "") + ":\n")
    print("| evaluation | eval success | eval reward | eval offload | floats/EN/slot | worst gap "
          + (f"| P(> {ref}) " if ref else "") + "|")
    print("|---|---|---|---|---|---|" + ("---|" if ref else ""))
    for name, rs in rows.items():
        succ = [e["success_rate"] for _, _, e in rs]
        ret = [e["mean_reward"] for _, _, e in rs]
        off = [e["offload_fraction"] for _, _, e in rs]
        fl = [e["comm_floats_per_decision"] for _, _, e in rs]
        gap = max(t["success_rate"] - e["success_rate"] for _, t, e in rs)
        line = (f"| {name} | {stats.cell(succ)} | {stats.cell(ret)} | {stats.iqm(off):.2f} | "
                f"{stats.iqm(fl):.0f} | {gap:+.3f} |")
        if ref:
            base = [e["success_rate"] for _, _, e in rows[ref]]
            poi = stats.probability_of_improvement([succ], [base])
            lo, hi = stats.stratified_bootstrap(stats.probability_of_improvement, [succ], [base])
            line += f" {poi:.2f} [{lo:.2f}, {hi:.2f}] |" if lo == lo else f" {poi:.2f} |"
        print(line)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--algo", required=True, choices=["esdrl", "maddpg", "amdrl"])
    p.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    p.add_argument("--out", required=True, help="folder for the trainings' files")
    p.add_argument("--config", default=os.path.join(ROOT, "experiments", "learn.ini"))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to afsim train and run (repeatable)")
    p.add_argument("--eval-set", action="append", default=[], metavar="KEY=VALUE",
                   help="also play each final checkpoint with this changed (repeatable: one row each)")
    p.add_argument("--random-control", action="store_true",
                   help="AM-DRL: also play each final checkpoint initiating at random at the rate "
                        "its attention unit initiated at in the evaluation")
    p.add_argument("--test", action="store_true",
                   help="also play the final and the best checkpoint on test episodes")
    p.add_argument("--baseline", action="append", default=[], metavar="POLICY",
                   help="also play this heuristic (afsim run --policy) on each seed's held-out "
                        "episodes (repeatable: one row each), e.g. best_response")
    p.add_argument("--tune-deadline", metavar="ALPHAS",
                   help="also play the deadline rule at its best alpha of this comma-separated "
                        "list, chosen per seed on other episodes, e.g. 0.5,0.7,0.85,1,1.2,1.5,2")
    p.add_argument("--compare", default="deadline (tuned)", metavar="ROW",
                   help="the row each row's probability of improvement is against (default: "
                        "'deadline (tuned)' when --tune-deadline is given)")
    p.add_argument("--label", default="", help="a name for this table")
    p.add_argument("--afsim", default=AFSIM, help="the afsim binary (default: build/afsim)")
    a = p.parse_args()
    if a.seeds < 1:
        sys.exit(f"learn_seeds: --seeds {a.seeds}: at least 1")
    if a.random_control and a.algo != "amdrl":
        sys.exit(f"learn_seeds: --random-control is AM-DRL's (amdrl.comm), not {a.algo}'s")
    os.makedirs(a.out, exist_ok=True)
    names = (["as trained"] + a.eval_set + (["random at the unit's rate"] if a.random_control
                                           else [])
             + (["last (test)", "best (test)"] if a.test else []) + a.baseline
             + (["deadline (tuned)"] if a.tune_deadline else []))
    rows = {name: [] for name in names}
    player = Seeds(a)
    for seed in range(1, a.seeds + 1):
        one_seed(a, player, seed, rows)
        print(f"seed {seed} done", file=sys.stderr)
    print_tables(a, rows)


if __name__ == "__main__":
    main()
