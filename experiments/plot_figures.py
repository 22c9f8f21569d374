#!/usr/bin/env python3
"""Draws a paper figure from the results of `afsim sweep` (docs/sweeps.md).

usage: /usr/bin/python3 experiments/plot_figures.py SWEEP.h5 [SWEEP.h5 ...]
           [-o OUT_PREFIX] [--title TEXT] [--table]

SWEEP.h5: a merged file (`afsim merge`) or shard files of one sweep. The
first swept key is the x axis (--x KEY another); with more than one, each
line is a method at one value of the others ("greedy, run.envs=2"). Draws OUT_PREFIX.png and OUT_PREFIX.pdf (default: the first
file's name without .h5): panel (a) mean latency and panel (b) success rate
of each method against the swept value, the interquartile mean over seeds
with its 95% stratified-bootstrap interval (experiments/stats.py, rliable's
method; none with one seed). A seed's value is its evaluation's mean over its held-out episodes,
weighted by their functions. With learning methods, also
OUT_PREFIX-learning.png: each learning method's evaluations during
training (success rate against training episodes), one line per swept
value, the mean over seeds. --table prints the figure's numbers as a
Markdown table (what results/REPORT.md quotes): per method and value the
success rate's IQM [interval] (or "(n = 1)") and the latency's IQM; and
for each learning method its probability of improvement over the tuned
deadline rule across the swept values (rliable's P(X > Y), averaged over
the values), with its interval.
"""
import argparse
import math
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import outputs  # noqa: E402
import stats  # noqa: E402

LEARNERS = {"esdrl", "maddpg", "amdrl"}
ORDER = ["random", "greedy", "deadline", "all_local", "all_cloud", "esdrl",
         "maddpg", "amdrl", "best_response"]


def fail(msg):
    print(f"plot_figures.py: {msg}", file=sys.stderr)
    sys.exit(1)


def text(v):
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return str(v.item())
    return str(v)


def swept_keys(grid):
    """The swept keys of a sweep_grid text ("env.agents = 30, 60; methods = ...")."""
    keys = [part.split("=")[0].strip() for part in grid.split(";")
            if "=" in part and "." in part.split("=")[0]]
    if not keys:
        fail(f"this sweep sweeps no key (grid '{grid}'): nothing to draw against")
    return keys


def finished(g):
    n = len(g["episode"])
    if "finished" in g.attrs:
        n = min(n, int(g.attrs["finished"]["episodes"]))
    return n


def point_values(p):
    """(latency, success) of a point's evaluation: means over its held-out
    episodes weighted by their functions."""
    runs = list(p["runs"].values())
    if len(runs) != 1:
        fail(f"{p.name}: {len(runs)} runs, expected the point's one evaluation")
    g = runs[0]
    n = finished(g)
    w = g["functions"][:n].astype(float)
    out = []
    for metric in ("mean_latency_s", "success_rate"):
        v = g[metric][:n]
        ok = np.isfinite(v) & (w > 0)
        out.append(float(np.sum(v[ok] * w[ok]) / np.sum(w[ok])) if ok.any() else math.nan)
    return out


def value_of(v):
    """A swept value: a number, or its text for keys such as amdrl.comm
    (drawn at evenly spaced positions, in sorted order)."""
    try:
        return float(text(v))
    except ValueError:
        return text(v)


def positions(xs):
    """x positions and tick labels of sorted values (numbers as they are)."""
    if all(isinstance(x, float) for x in xs):
        return list(xs), None
    return list(range(len(xs))), [str(x) for x in xs]


def sort_key(x):
    return (0, x, "") if isinstance(x, float) else (1, 0.0, x)


def eval_curve(e):
    """(training episodes, success rate) of a training's evaluations: each
    evaluation's held-out episodes (rows with the same trained_episodes)
    pooled, weighted by their functions."""
    n = finished(e)
    t = e["trained_episodes"][:n].astype(float)
    s = e["success_rate"][:n].astype(float)
    w = e["functions"][:n].astype(float)
    xs = np.unique(t)
    ys = [float(np.average(s[t == v], weights=w[t == v])) if w[t == v].sum() > 0 else math.nan
          for v in xs]
    return xs, np.array(ys)


def load(paths, x_key=None):
    """key, {line: {x: [(seed, latency, success)]}}, {line: {x: [(episodes, success)]}};
    a line is a method, with the values of the other swept keys."""
    key, grid = None, None
    points = defaultdict(lambda: defaultdict(list))
    curves = defaultdict(lambda: defaultdict(list))
    seen = set()
    for path in paths:
        if not os.path.isfile(path):
            fail(f"{path}: no such file")
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            fail(f"{path}: cannot open as HDF5 ({e}): not a file of afsim merge, or damaged")
        with f:
            if "sweep_grid" not in f.attrs or "points" not in f:
                fail(f"{path}: not a results file of afsim sweep or merge")
            g = text(f.attrs["sweep_grid"])
            if grid is not None and g != grid:
                fail(f"{path}: another sweep ('{g}', not '{grid}')")
            grid, keys = g, swept_keys(g)
            if x_key and x_key not in keys:
                fail(f"--x {x_key}: not a swept key of this sweep ({', '.join(keys)})")
            key = x_key or keys[0]
            others = [k for k in keys if k != key]
            for name, p in f["points"].items():
                if name in seen:
                    fail(f"{path}: point {name} twice")
                seen.add(name)
                method = ", ".join([text(p.attrs["sweep_method"])] +
                                   [f"{k}={text(p.attrs[k])}" for k in others])
                x = value_of(p.attrs[key])
                lat, suc = point_values(p)
                points[method][x].append((int(p.attrs["run.seed"]), lat, suc))
                if "train" in p and "eval" in p["train"]:
                    curves[method][x].append(eval_curve(p["train/eval"]))
    if not seen:
        fail("no finished point in " + ", ".join(paths))
    return key, points, curves


def iqm_ci(values):
    """(IQM, lower, upper) over the seeds' finite values; NaN bounds with one."""
    return stats.interval([x for x in values if math.isfinite(x)])


def methods_in_order(points):
    rank = {m: i for i, m in enumerate(ORDER)}
    return sorted(points, key=lambda line: (rank.get(line.split(",")[0], len(ORDER)), line))


def draw(key, points, out, title):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = [("(a) mean latency (s)", 1), ("(b) success rate", 2)]
    all_x = sorted({x for pm in points.values() for x in pm}, key=sort_key)
    where, labels = positions(all_x)
    at = dict(zip(all_x, where))
    for ax, (label, col) in zip(axes, panels):
        if labels:
            ax.set_xticks(where)
            ax.set_xticklabels(labels)
        for method in methods_in_order(points):
            xs = sorted(points[method], key=sort_key)
            cis = [iqm_ci([r[col] for r in points[method][x]]) for x in xs]
            m = np.array([c[0] for c in cis])
            lo = np.array([c[1] if math.isfinite(c[1]) else c[0] for c in cis])
            hi = np.array([c[2] if math.isfinite(c[2]) else c[0] for c in cis])
            style = "--" if method.split(",")[0] not in LEARNERS else "-"
            px = [at[x] for x in xs]
            line, = ax.plot(px, m, style, marker="o", ms=4, label=method)
            ax.fill_between(px, lo, hi, color=line.get_color(), alpha=0.15)
        ax.set_xlabel(key)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        # a CI of few seeds can reach past what the metric can be
        ax.set_ylim(0.0, 1.02) if col == 2 else ax.set_ylim(bottom=0.0)
    axes[1].legend(fontsize=8, loc="best")
    seeds = sorted({len(r) for pm in points.values() for r in pm.values()})
    fig.suptitle(f"{title} (IQM and 95% stratified-bootstrap interval over "
                 f"{'/'.join(map(str, seeds))} seeds)")
    fig.tight_layout()
    for ext in ("png", "pdf"):
        outputs.save(fig, f"{out}.{ext}", fail, dpi=120)
    plt.close(fig)
    print(f"{out}.png, {out}.pdf", file=sys.stderr)


def draw_curves(key, curves, out):
    learners = [m for m in methods_in_order(curves) if curves[m]]
    if not learners:
        return
    fig, axes = plt.subplots(1, len(learners), figsize=(5 * len(learners), 3.8), squeeze=False)
    for ax, method in zip(axes[0], learners):
        for x in sorted(curves[method], key=sort_key):
            runs = curves[method][x]
            n = min(len(r[0]) for r in runs)
            if n == 0:
                continue
            y = np.nanmean(np.array([r[1][:n] for r in runs]), axis=0)
            ax.plot(runs[0][0][:n], y, marker=".", label=f"{key} = {x:g}" if isinstance(x, float)
                    else f"{key} = {x}")
        ax.set_title(f"{method}: evaluations during training")
        ax.set_xlabel("training episodes")
        ax.set_ylabel("success rate (held-out)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    outputs.save(fig, f"{out}-learning.png", fail, dpi=120)
    plt.close(fig)
    print(f"{out}-learning.png", file=sys.stderr)


def table(key, points):
    xs = sorted({x for pm in points.values() for x in pm}, key=sort_key)
    seeds = sorted({len(r) for pm in points.values() for r in pm.values()})
    print(f"Success rate: IQM [95% stratified-bootstrap interval] over n = "
          f"{'/'.join(map(str, seeds))} seeds; latency: IQM.\n")
    print(f"| method | " + " | ".join(f"{key} = {x:g}" if isinstance(x, float) else f"{key} = {x}"
                                      for x in xs) + " |")
    print("|---" * (len(xs) + 1) + "|")
    for method in methods_in_order(points):
        cells = []
        for x in xs:
            rows = points[method].get(x, [])
            lat = iqm_ci([r[1] for r in rows])[0]
            cells.append(f"{stats.cell([r[2] for r in rows])}, {lat:.3f} s" if rows else "")
        print(f"| {method} | " + " | ".join(cells) + " |")
    improvement_table(xs, points)


def improvement_table(xs, points):
    """Each learner's probability of improvement in success over the tuned
    deadline rule, the values of the swept key as rliable's tasks."""
    ref = [m for m in points if m.split(",")[0] == "deadline"]
    learners = [m for m in methods_in_order(points) if m.split(",")[0] in LEARNERS]
    if len(ref) != 1 or not learners:
        return
    print("\nP(success > deadline's): probability of improvement over the tuned deadline rule, "
          "averaged over the swept values [95% stratified-bootstrap interval].\n")
    print("| method | P(> deadline) |")
    print("|---|---|")
    for method in learners:
        both = [x for x in xs if points[method].get(x) and points[ref[0]].get(x)]
        mine = [[r[2] for r in points[method][x]] for x in both]
        theirs = [[r[2] for r in points[ref[0]][x]] for x in both]
        poi = stats.probability_of_improvement(mine, theirs)
        lo, hi = stats.stratified_bootstrap(stats.probability_of_improvement, mine, theirs)
        span = f" [{lo:.2f}, {hi:.2f}]" if math.isfinite(lo) else " (n = 1)"
        print(f"| {method} | {poi:.2f}{span} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("-o", "--out")
    ap.add_argument("--title", default=None)
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--x", help="the swept key of the x axis (default: the first)")
    a = ap.parse_args()
    out = a.out or os.path.splitext(a.files[0])[0]
    for path in (f"{out}.png", f"{out}.pdf", f"{out}-learning.png"):
        if outputs.problem(path):
            fail(outputs.problem(path))
    key, points, curves = load(a.files, a.x)
    draw(key, points, out, a.title or f"latency and success against {key}")
    draw_curves(key, curves, out)
    if a.table:
        table(key, points)


if __name__ == "__main__":
    main()
