#!/usr/bin/env python3
"""Draws the per-episode metrics of an afsim HDF5 results file to PNG.

usage: /usr/bin/python3 experiments/plot.py FILE.h5 [-o OUT.png] [--metrics m1,m2,...]

One subplot per metric, x = episode, one line per policy run (/runs/<policy>).
Reads files of runs still going or killed (see docs/output.md).
"""
import argparse
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

METRICS = {  # name: axis label
    "mean_latency_s": "mean latency (s)",
    "success_rate": "success rate",
    "mean_cost": "mean cost R",
    "mean_reward": "mean reward",
    "offload_fraction": "offload fraction",
    "drop_rate": "drop rate",
    "miss_rate": "late rate",
    "cold_start_fraction": "cold-start fraction",
    "comm_floats_per_decision": "floats sent per decision",
    "decision_time_s": "decision time (s)",
    "agent_steps_per_s": "agent-steps/s",
}
DEFAULT = ["success_rate", "mean_latency_s", "mean_cost", "offload_fraction",
           "drop_rate", "cold_start_fraction"]


def fail(msg):
    print(f"plot.py: {msg}", file=sys.stderr)
    sys.exit(1)


def open_results(path):
    if not os.path.exists(path):
        fail(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as first:
        try:
            return h5py.File(path, "r", swmr=True)
        except OSError:
            fail(f"{path}: cannot open as HDF5: {first}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("-o", "--out", help="PNG to write (default: FILE with .png)")
    ap.add_argument("--metrics", default=",".join(DEFAULT),
                    help="comma-separated, from: " + ", ".join(METRICS))
    a = ap.parse_args()
    metrics = [m for m in a.metrics.split(",") if m]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        fail(f"unknown metric(s) {', '.join(unknown) or '(none given)'}; valid: {', '.join(METRICS)}")
    out = a.out or os.path.splitext(a.file)[0] + ".png"

    with open_results(a.file) as f:
        if "runs" not in f or not len(f["runs"]):
            fail(f"{a.file}: no /runs group with policy runs (is it an afsim results file?)")
        runs = []
        for name, g in f["runs"].items():
            if "episode" not in g or len(g["episode"]) == 0:
                print(f"plot.py: {name}: no finished episode, skipped", file=sys.stderr)
                continue
            runs.append((name, g["episode"][:], {m: g[m][:] for m in metrics if m in g}, dict(g.attrs)))
        if not runs:
            fail(f"{a.file}: no run has a finished episode")
        cols = 3 if len(metrics) > 4 else 2 if len(metrics) > 1 else 1
        rows = math.ceil(len(metrics) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
        for ax, m in zip(axes.flat, metrics):
            for name, ep, data, _ in runs:
                if m in data:
                    ax.plot(ep, data[m], label=name, marker="." if len(ep) < 30 else None)
            ax.set_title(METRICS[m])
            ax.set_xlabel("episode")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(metrics):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize="small")
        attrs = runs[0][3]
        fig.suptitle(f"{os.path.basename(a.file)}: {attrs.get('agents', '?')} ENs x "
                     f"{attrs.get('envs', '?')} environments, backend {attrs.get('backend', '?')}")
        fig.tight_layout()
        fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
