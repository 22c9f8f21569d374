#!/usr/bin/env python3
"""Draws the per-episode metrics of an afsim HDF5 results file to PNG.

usage: /usr/bin/python3 experiments/plot.py FILE.h5 [-o OUT.png] [--metrics m1,m2,...]

One subplot per metric (default: every float metric the file holds),
x = episode, one line per policy run (/runs/<policy>). A training file
(afsim train) gives its learning curve (/runs/train, x = training episode)
and its evaluations (/runs/eval: x = training episodes before the
evaluation, y = the mean over its held-out episodes). Reads files of runs
still going or killed: a run's rows are the first `finished` rows of each
dataset (docs/output.md, "Crash safety"); a run with no finished episode is
skipped with a note on stderr.
"""
import argparse
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import outputs  # noqa: E402

# Known float metrics of schema version 1, in display order: name -> title.
# Rates and fractions are shares of functions, 0..1.
METRICS = {
    "mean_latency_s": "mean latency (s)",
    "success_rate": "success rate (fraction)",
    "mean_cost": "mean cost R per function",
    "mean_reward": "mean reward per function",
    "offload_fraction": "offload fraction (to cloud)",
    "drop_rate": "drop rate (fraction)",
    "miss_rate": "deadline-miss rate (fraction)",
    "cold_start_fraction": "cold-start fraction",
    "comm_floats_per_decision": "communication (floats / decision)",
    "decision_time_s": "decision time (s / decision)",
    "agent_steps_per_s": "speed (agent-steps / s)",
    "return": "return per agent",
    "critic_loss": "critic loss (squared TD error)",
    "actor_loss": "actor loss (-Q)",
    "td_abs": "mean |TD error|",
    "updates": "gradient steps per episode",
    "replay_fill": "replay fill (fraction)",
    "init_rate": "initiators per EN (AM-DRL)",
    "label_mean": "mean attention label (AM-DRL)",
    "dq_positive": "share of delta-Q > 0 (AM-DRL)",
    "attention_auc": "AUC of p vs sign of delta-Q (AM-DRL)",
}
NOT_METRICS = {"episode", "functions", "trace", "trained_episodes"}


def note(msg):
    print(f"plot.py: {msg}", file=sys.stderr)


def fail(msg):
    note(msg)
    sys.exit(1)


def text(v):
    """An attribute value as str (h5py gives bytes for fixed-length strings)."""
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.size == 1:
        return text(v.reshape(-1)[0])
    if isinstance(v, np.generic):
        return str(v.item())
    return str(v)


def open_results(path):
    if not os.path.exists(path):
        fail(f"{path}: no such file")
    if not os.path.isfile(path):
        fail(f"{path}: not a regular file")
    try:
        return h5py.File(path, "r")
    except OSError as first:
        try:  # a file still open for writing in SWMR mode
            return h5py.File(path, "r", swmr=True)
        except OSError:
            pass
        if "lock" not in str(first):
            fail(f"{path}: cannot open as HDF5: {first}")
        # afsim holds a write lock while a run goes on; it flushes after
        # every episode, so the finished episodes can be read without locking.
        try:
            f = h5py.File(path, "r", locking=False)
        except (OSError, TypeError, ValueError):
            fail(f"{path}: cannot open as HDF5: {first}")
        note(f"{path}: locked by a writer (run in progress?), read without locking")
        return f


def is_float_series(obj):
    return (isinstance(obj, h5py.Dataset) and obj.ndim == 1
            and obj.dtype.kind == "f")


def title_of(name, ds_unit):
    if name in METRICS:
        return METRICS[name]
    # A metric of another schema version: use its `unit` attribute if any.
    return f"{name} ({ds_unit})" if ds_unit else name


def finished_rows(g):
    """Finished episodes of a run: its `finished` attribute (schema 2; the
    rows past it are unfinished after a kill), else len(episode)."""
    if "finished" in g.attrs:
        return int(min(g.attrs["finished"]["episodes"], len(g["episode"])))
    return len(g["episode"])


def read_runs(f, path):
    """[(name, episodes, {metric: values}, attrs, {metric: unit})] of the runs
    with at least one finished episode, in file order."""
    runs = []
    for name, g in f["runs"].items():
        if not isinstance(g, h5py.Group):
            continue
        if "episode" not in g or not isinstance(g["episode"], h5py.Dataset):
            note(f"{path}: run {name!r} has no episode dataset, skipped")
            continue
        n = finished_rows(g)
        if n == 0:
            note(f"{path}: run {name!r} has no finished episode, skipped")
            continue
        # Training's evaluations: by training episodes, averaged over the
        # held-out episodes of each evaluation.
        evaluations = "trained_episodes" in g and is_float_series(g["trained_episodes"])
        ep = g["trained_episodes"][:n] if evaluations else g["episode"][:n]
        data, units = {}, {}
        for key, ds in g.items():
            if key in NOT_METRICS or not is_float_series(ds):
                continue
            m = min(n, len(ds))
            x, y = ep[:m], ds[:m].astype(float)
            if evaluations:
                xs = np.unique(x)
                y = np.array([np.nanmean(y[x == v]) if np.any(~np.isnan(y[x == v])) else np.nan
                              for v in xs])
                x = xs
            data[key] = (x, y)
            units[key] = text(ds.attrs["unit"]) if "unit" in ds.attrs else ""
        attrs = {k: text(v) for k, v in g.attrs.items()}
        if evaluations:
            name = f"{name} (held-out, mean per evaluation)"
        runs.append((name, data, attrs, units))
    return runs


def main():
    ap = argparse.ArgumentParser(
        description="Draws the per-episode metrics of an afsim HDF5 results file to PNG.")
    ap.add_argument("file", help="afsim results file (.h5)")
    ap.add_argument("-o", "--out", help="PNG to write (default: FILE with .h5 replaced by .png)")
    ap.add_argument("--metrics",
                    help="comma-separated metrics to draw (default: all present); known: "
                         + ", ".join(METRICS))
    a = ap.parse_args()

    wanted = None
    if a.metrics is not None:
        wanted = [m.strip() for m in a.metrics.split(",") if m.strip()]
        if not wanted:
            fail(f"--metrics is empty; valid metrics: {', '.join(METRICS)}")

    if a.out:
        out = a.out
    elif a.file.endswith(".h5"):
        out = a.file[:-3] + ".png"
    else:
        out = os.path.splitext(a.file)[0] + ".png"
    if os.path.abspath(out) == os.path.abspath(a.file):
        fail(f"output {out} would overwrite the input file; give -o OUT.png")
    if outputs.problem(out):
        fail(outputs.problem(out))

    with open_results(a.file) as f:
        if "runs" not in f or not isinstance(f["runs"], h5py.Group):
            fail(f"{a.file}: no /runs group (is it an afsim results file?)")
        if not len(f["runs"]):
            fail(f"{a.file}: /runs holds no policy run")
        try:
            runs = read_runs(f, a.file)
        except (OSError, KeyError) as e:
            fail(f"{a.file}: reading the runs failed: {e}")
        root = {k: text(v) for k, v in f.attrs.items()}
    if not runs:
        fail(f"{a.file}: no run has a finished episode; nothing to plot")

    present = set()
    units = {}
    for _, data, _, u in runs:
        # a metric that is NaN throughout (AM-DRL's attention diagnostics in
        # another method's training file) has nothing to draw
        present.update(m for m, (_, y) in data.items() if np.isfinite(y).any())
        for k, v in u.items():
            units.setdefault(k, v)
    # Known metrics first in their order, then any others the file holds.
    valid = list(METRICS) + sorted(present - set(METRICS))

    if wanted is None:
        metrics = [m for m in valid if m in present]
        if not metrics:
            fail(f"{a.file}: the runs hold no float metric dataset")
    else:
        unknown = [m for m in wanted if m not in valid]
        if unknown:
            fail(f"unknown metric(s): {', '.join(unknown)}; valid metrics: {', '.join(valid)}")
        metrics = []
        for m in dict.fromkeys(wanted):  # keeps order, drops repeats
            if m in present:
                metrics.append(m)
            else:
                note(f"{a.file}: metric {m} is in no run of this file, not drawn")
        if not metrics:
            fail(f"{a.file}: none of the requested metrics is in the file")

    cols = 1 if len(metrics) == 1 else 2 if len(metrics) <= 4 else 3
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols + (0.8 if cols == 1 else 0), 3.4 * rows + 0.6),
                             squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, m in zip(axes.flat, metrics):
        for i, (name, data, _, _) in enumerate(runs):
            if m not in data:
                continue
            ep, y = data[m]
            ax.plot(ep, y, label=name, color=colors[i % len(colors)],
                    marker="." if len(ep) <= 50 else None, linewidth=1.3)
        ax.set_title(title_of(m, units.get(m, "")), fontsize="medium")
        ax.set_xlabel("episode")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")

    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    first = runs[0][2]
    # The first run's attributes; the configuration keys as a fallback.
    agents = first.get("agents", root.get("env.agents", "?"))
    envs = first.get("envs", root.get("run.envs", "?"))
    title = f"{os.path.basename(a.file)}: {agents} agents x {envs} envs"
    if "backend" in first:
        title += f", backend {first['backend']}"
    if "seed" in first:
        title += f", seed {first['seed']}"
    height = fig.get_figheight()
    fig.suptitle(title, y=1 - 0.12 / height, va="top")
    ncol = min(len(labels), 6)
    header = 0.3 + 0.25 * math.ceil(len(labels) / ncol)  # inches: title + legend
    fig.legend(handles, labels, loc="upper center", ncol=ncol, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.4 / height))
    fig.tight_layout(rect=(0, 0, 1, 1 - header / height))
    outputs.save(fig, out, fail, dpi=110)
    plt.close(fig)
    print(out)


if __name__ == "__main__":
    main()
