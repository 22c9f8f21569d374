"""experiments/plot.py on training files of build/afsim: AM-DRL's attention
diagnostics are drawn where they hold numbers and left out where a method
has none (NaN throughout), as requested metrics that are in no run."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AFSIM = os.path.join(ROOT, "build", "afsim")
PLOT = os.path.join(ROOT, "experiments", "plot.py")
TINY = ["--config", os.path.join(ROOT, "experiments", "smoke.ini"), "--quiet",
        "--set", "env.agents=6", "--set", "env.slots=6", "--set", "run.envs=2",
        "--set", "train.warmup=20", "--set", "train.eval_every=1",
        "--set", "train.eval_episodes=1", "--set", "train.replay_mib=1",
        "--set", "esdrl.batch=16", "--set", "amdrl.batch=12", "--set", "amdrl.thought=8",
        "--set", "amdrl.channel_hidden=4", "--set", "amdrl.critic_hidden=16",
        "--set", "amdrl.comm_range_m=1000", "--episodes", "3"]

pytestmark = pytest.mark.skipif(not os.access(AFSIM, os.X_OK), reason="build/afsim is not built")


def trained(tmp_path, algo):
    out = tmp_path / f"{algo}.h5"
    done = subprocess.run([AFSIM, "train", "--algo", algo, "--out", str(out)] + TINY,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


def plot(path, *args):
    return subprocess.run([sys.executable, PLOT, str(path), *args], capture_output=True,
                          text=True, timeout=300)


def test_amdrl_diagnostics_are_drawn(tmp_path):
    done = plot(trained(tmp_path, "amdrl"), "-o", str(tmp_path / "a.png"), "--metrics",
                "init_rate,label_mean,dq_positive")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.png").stat().st_size > 0


def test_a_method_without_them_leaves_them_out(tmp_path):
    path = trained(tmp_path, "esdrl")
    done = plot(path, "-o", str(tmp_path / "e.png"), "--metrics", "label_mean,attention_auc")
    assert done.returncode != 0
    assert "none of the requested metrics is in the file" in done.stderr
    done = plot(path, "-o", str(tmp_path / "e.png"), "--metrics", "success_rate,label_mean")
    assert done.returncode == 0, done.stderr
    assert "metric label_mean is in no run of this file, not drawn" in done.stderr
