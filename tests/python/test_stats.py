"""experiments/stats.py against numbers worked out by hand: the IQM's
trimming, the pooled IQM over tasks, the probability of improvement as a
count of pairs, and the stratified bootstrap's behaviour (it resamples
within tasks, brackets the point estimate, has no width without spread or
with one run, and repeats with its seed)."""
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "experiments"))
import stats  # noqa: E402


def test_iqm_trims_a_quarter_on_each_side():
    # 5 values: int(1.25) = 1 cut each side, the mean of 2, 3, 4
    assert stats.iqm([5, 1, 4, 2, 3]) == 3.0
    # 8 values: 2 cut each side, the mean of 2, 3, 4, 5, whatever the outliers
    assert stats.iqm([1, 2, 3, 4, 5, 6, 100, -100]) == pytest.approx(3.5)
    assert stats.iqm([1, 2, 3, 4, 5, 6, 7, 8]) == 4.5
    # fewer than 4 values: nothing trimmed
    assert stats.iqm([1, 2, 6]) == 3.0


def test_aggregate_iqm_pools_the_runs_of_every_task():
    # 8 runs pooled: 0, 1, 2, 3 | 10, 11, 12, 13 -> trim 2 each side: 2, 3, 10, 11
    assert stats.aggregate_iqm([[0, 1, 2, 3], [10, 11, 12, 13]]) == pytest.approx(6.5)


def test_probability_of_improvement_counts_pairs_and_halves_ties():
    # task 1: x = {1, 3} against y = {2, 2}: pairs (1>2 no, 1>2 no, 3>2, 3>2) = 2 / 4
    # task 2: x = {5} against y = {5, 4}: a tie (1/2) and a win (1) = 1.5 / 2
    assert stats.probability_of_improvement([[1, 3], [5]], [[2, 2], [5, 4]]) == \
        pytest.approx((0.5 + 0.75) / 2)
    assert stats.probability_of_improvement([[1, 2]], [[3, 4]]) == 0.0
    assert stats.probability_of_improvement([[7, 7]], [[7]]) == 0.5
    with pytest.raises(ValueError):
        stats.probability_of_improvement([[1]], [[1], [2]])


def test_bootstrap_brackets_the_estimate_resamples_within_tasks_and_repeats():
    x = [0.70, 0.74, 0.75, 0.80, 0.95]
    m, lo, hi = stats.interval(x)
    assert lo <= m <= hi and min(x) <= lo and hi <= max(x) and lo < hi
    assert (m, lo, hi) == stats.interval(x)  # a fixed generator seed
    assert stats.interval([0.9] * 5)[1:] == (0.9, 0.9)
    m1, lo1, hi1 = stats.interval([0.5])
    assert m1 == 0.5 and math.isnan(lo1) and math.isnan(hi1)
    # Within tasks: task A's runs are all 0 and task B's all 1, so every
    # resample keeps 4 zeros and 4 ones and the pooled IQM is always 1/2;
    # resampling the pooled runs instead would spread it.
    lo, hi = stats.stratified_bootstrap(stats.aggregate_iqm, [[0] * 4, [1] * 4], reps=300)
    assert lo == hi == 0.5
    # P(X > Y) of two methods resampled independently stays within [0, 1]
    # and brackets the estimate
    x, y = [0.6, 0.7, 0.8], [0.5, 0.65, 0.75]
    poi = stats.probability_of_improvement([x], [y])
    lo, hi = stats.stratified_bootstrap(stats.probability_of_improvement, [x], [y])
    assert 0 <= lo <= poi <= hi <= 1


def test_cells_say_n_1_instead_of_a_zero_width():
    assert stats.cell([0.5]) == "0.500 (n = 1)"
    assert stats.cell([0.5, 0.5, 0.5]) == "0.500 [0.500, 0.500]"
    assert stats.cell([float("nan")]) == ""
    assert np.isnan(stats.interval([])[0])
