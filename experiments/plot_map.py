#!/usr/bin/env python3
"""Draws one slot of one environment from a trace (`afsim run --trace`).

usage: /usr/bin/python3 experiments/plot_map.py RUN.h5 [--run NAME] [--episode N]
           [--env E] [--slot T] [-o OUT.png]

The area with its APs (the centres of the env.ap_grid x env.ap_grid cells,
docs/model.md) and their cells; every EN with a function in that slot at
its position, filled by its decision (edge or cloud), ringed in red when the
function failed (late or dropped); and for AM-DRL the communication groups
of the slot: a line from each EN to the initiator of its first group (the
trace's `group`), where both have a function in the slot (the trace holds
only those), and a purple ring on each EN that is some EN's first group's
initiator (one that an earlier initiator picked is in that one's group
instead). --run: the run's name under /runs (default: the first with a
trace). Writes OUT.png (default: RUN-map.png).
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import outputs  # noqa: E402


def fail(msg):
    print(f"plot_map.py: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--run")
    ap.add_argument("--episode", type=int, default=0)
    ap.add_argument("--env", type=int, default=0)
    ap.add_argument("--slot", type=int, default=0)
    ap.add_argument("-o", "--out")
    a = ap.parse_args()
    if not os.path.isfile(a.file):
        fail(f"{a.file}: no such file")
    out = a.out or os.path.splitext(a.file)[0] + "-map.png"
    if outputs.problem(out):
        fail(outputs.problem(out))
    try:
        f = h5py.File(a.file, "r")
    except OSError as e:
        fail(f"{a.file}: cannot open as HDF5 ({e}): not a file of afsim run --trace, or damaged")
    runs = [n for n, g in f["runs"].items() if "trace" in g] if "runs" in f else []
    if not runs:
        fail(f"{a.file}: no run with a trace (afsim run --trace)")
    run = a.run or runs[0]
    if run not in runs:
        fail(f"--run {run}: runs with a trace: {', '.join(runs)}")
    g = f["runs"][run]
    n = int(g.attrs["finished"]["trace_records"]) if "finished" in g.attrs else len(g["trace"])
    t = g["trace"][:n]
    for field in ("x", "y", "group"):
        if field not in t.dtype.names:
            fail(f"{a.file}: its trace has no '{field}' (written before afsim recorded positions)")
    sel = t[(t["episode"] == a.episode) & (t["env"] == a.env) & (t["slot"] == a.slot)]
    if len(sel) == 0:
        fail(f"no function in episode {a.episode}, environment {a.env}, slot {a.slot}")
    area = float(f.attrs["env.area_m"])
    grid = int(f.attrs["env.ap_grid"])
    cell = area / grid

    fig, ax = plt.subplots(figsize=(6.4, 6.4))
    for k in range(grid + 1):
        ax.axhline(k * cell, color="0.85", lw=0.8, zorder=0)
        ax.axvline(k * cell, color="0.85", lw=0.8, zorder=0)
    centres = (np.arange(grid) + 0.5) * cell
    cx, cy = np.meshgrid(centres, centres)
    ax.scatter(cx.ravel(), cy.ravel(), marker="^", s=140, c="black", label="AP", zorder=3)
    pos = {int(r["en"]): (float(r["x"]), float(r["y"])) for r in sel}
    edges = 0
    for r in sel:
        j = int(r["group"])
        if j >= 0 and j != int(r["en"]) and j in pos:
            (x0, y0), (x1, y1) = pos[int(r["en"])], pos[j]
            ax.plot([x0, x1], [y0, y1], color="tab:purple", lw=0.8, alpha=0.6, zorder=1)
            edges += 1
    initiators = {int(r["group"]) for r in sel if int(r["group"]) >= 0}
    for local, colour, label in ((1, "tab:green", "edge"), (0, "tab:blue", "cloud")):
        s = sel[sel["action"] == local]
        failed = s["success"] == 0
        ax.scatter(s["x"], s["y"], s=28, c=colour, label=f"{label} ({len(s)})",
                   edgecolors=np.where(failed, "red", "none"), linewidths=1.2, zorder=2)
    ini = [pos[j] for j in initiators if j in pos]
    if ini:
        ax.scatter(*zip(*ini), s=90, facecolors="none", edgecolors="tab:purple",
                   label=f"initiator ({len(ini)})", zorder=2)
    ax.set_xlim(0, area)
    ax.set_ylim(0, area)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ok = int(np.sum(sel["success"]))
    ax.set_title(f"{run}: episode {a.episode}, environment {a.env}, slot {a.slot}\n"
                 f"{len(sel)} functions, {ok} in time (red ring: failed), {edges} group links")
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    fig.tight_layout()
    outputs.save(fig, out, fail, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
