"""The statistics afsim reports for learning over seeds, after Agarwal et
al., "Deep RL at the edge of the statistical precipice" (NeurIPS 2021) and
their rliable package (re-implemented here in NumPy; rliable itself pulls
in arch, scipy and seaborn):

- iqm: the interquartile mean, the mean of the middle half of the runs
  (scipy's trim_mean(x, 0.25): int(n / 4) cut on each side);
- a score matrix is a list of tasks (settings), each an array of runs
  (seeds); aggregate_iqm pools every run of every task, as rliable does;
- stratified_bootstrap: percentile intervals of a statistic over matrices
  resampled with replacement within each task (the runs of one task are
  exchangeable, the tasks are fixed);
- probability_of_improvement: P(X > Y) for a run of X and a run of Y of
  the same task, ties counting a half (the Mann-Whitney U statistic over
  n m), averaged over the tasks.

A single run has no interval: `interval` returns NaNs, and tables then say
n = 1 rather than print a zero width.
"""
import math

import numpy as np


def iqm(x):
    """Mean of the middle half (trim a quarter on each side)."""
    x = np.sort(np.asarray(x, dtype=float).ravel())
    cut = int(0.25 * len(x))
    return float(np.mean(x[cut:len(x) - cut]))


def aggregate_iqm(tasks):
    """IQM over every run of every task together."""
    return iqm(np.concatenate([np.asarray(t, dtype=float).ravel() for t in tasks]))


def probability_of_improvement(x_tasks, y_tasks):
    """Mean over tasks of P(X > Y) + P(X = Y) / 2 between runs of one task."""
    if len(x_tasks) != len(y_tasks):
        raise ValueError(f"{len(x_tasks)} tasks of X, {len(y_tasks)} of Y")
    per_task = []
    for x, y in zip(x_tasks, y_tasks):
        x = np.asarray(x, dtype=float)[:, None]
        y = np.asarray(y, dtype=float)[None, :]
        per_task.append(float(np.mean((x > y) + 0.5 * (x == y))))
    return float(np.mean(per_task))


def _resample(tasks, rng):
    out = []
    for t in tasks:
        t = np.asarray(t, dtype=float)
        out.append(t[rng.integers(0, len(t), size=len(t))])
    return out


def stratified_bootstrap(statistic, *matrices, reps=2000, seed=0, level=0.95):
    """Percentile interval of statistic(*matrices) over `reps` resamplings,
    each matrix resampled within each of its tasks (independently: X and Y
    are different methods' runs). (NaN, NaN) when every task has one run."""
    if all(len(t) < 2 for m in matrices for t in m):
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = [statistic(*[_resample(m, rng) for m in matrices]) for _ in range(reps)]
    tail = 100 * (1 - level) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def interval(runs, reps=2000, seed=0):
    """The IQM of one task's runs and its 95% stratified-bootstrap interval."""
    runs = [float(v) for v in runs if math.isfinite(v)]
    if not runs:
        return math.nan, math.nan, math.nan
    lo, hi = stratified_bootstrap(aggregate_iqm, [runs], reps=reps, seed=seed)
    return iqm(runs), lo, hi


def cell(runs, digits=3):
    """'IQM [lo, hi]' over runs, or 'value (n = 1)' for a single run."""
    m, lo, hi = interval(runs)
    if math.isnan(m):
        return ""
    if math.isnan(lo):
        return f"{m:.{digits}f} (n = 1)"
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
