"""experiments/ippo.py's parts that need no torch: its episode row (against
the totals the step's info reported, which test_vecenv.py holds against
afsim run), its baselines' evaluation and its argument checks."""
import os
import sys

import numpy as np
import pytest

afsim = pytest.importorskip("afsim")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "experiments"))
import ippo  # noqa: E402


def small(**kw):
    return afsim.VecEnv(set={"env.agents": 12, "env.slots": 7}, envs=3, seed=4, **kw)


def test_row_of_is_the_steps_episode_total_bit_for_bit():
    with small() as env:
        env.reset()
        for _ in range(env.slots):
            _, _, _, info = env.step(env.heuristic_actions("greedy"))
        row = ippo.row_of(env)
        total = info["episode_total"]
        assert row["success"] == total["success_rate"]
        assert row["reward"] == total["mean_reward"]
        assert row["offload"] == total["offload_fraction"]
        assert row["latency"] == total["mean_latency_s"]


def test_evaluate_plays_held_out_episodes_from_zero():
    with small() as env:
        got = ippo.evaluate(env, 2, lambda _o: env.heuristic_actions("deadline"))
        env.reset(episode=0)
        rows = []
        while len(rows) < 2:
            _, _, done, info = env.step(env.heuristic_actions("deadline"))
            if done.any():
                rows.append(info["episode_total"]["success_rate"])
        assert got["success"] == np.mean(rows)


@pytest.mark.parametrize("argv", [["--out", "x", "--episodes", "0"], ["--envs", "-1", "--out", "x"],
                                  []])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        ippo.parse_args(argv)
    assert e.value.code == 2
