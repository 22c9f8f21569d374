"""experiments/learn_seeds.py: its checkpoint edit against what afsim reads (a fixed-length,
terminated UTF-8 string attribute; a number keeps its type), and a whole
run of two tiny ES-DRL trainings through the afsim binary of build/."""
import importlib.util
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "experiments", "learn_seeds.py")
spec = importlib.util.spec_from_file_location("learn_seeds", SCRIPT)
ls = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ls)


def test_checkpoint_copy_changes_one_key_as_afsim_stores_it(tmp_path):
    src = tmp_path / "a.ckpt.h5"
    with h5py.File(src, "w") as f:
        f.attrs.create("amdrl.comm", b"attention\0", dtype=h5py.string_dtype("utf-8", 10))
        f.attrs["amdrl.threshold"] = np.float32(0.5)
    out = ls.checkpoint_with(str(src), "amdrl.comm=never", str(tmp_path / "b.ckpt.h5"))
    ls.checkpoint_with(out, "amdrl.threshold=0.25", out)
    with h5py.File(out, "r") as f:
        comm = f.attrs.get_id("amdrl.comm")
        assert f.attrs["amdrl.comm"] == b"never"
        assert comm.get_type().get_cset() == h5py.h5t.CSET_UTF8
        assert comm.get_type().get_size() == len("never") + 1
        assert f.attrs["amdrl.threshold"].dtype == np.float32
        assert f.attrs["amdrl.threshold"] == np.float32(0.25)
    with h5py.File(src, "r") as f:  # the original untouched
        assert f.attrs["amdrl.comm"] == b"attention"
    with pytest.raises(SystemExit, match="no key 'amdrl.nothing'"):
        ls.checkpoint_with(str(src), "amdrl.nothing=1", str(tmp_path / "c.ckpt.h5"))


@pytest.mark.skipif(not os.access(ls.AFSIM, os.X_OK), reason="build/afsim is not built")
def test_two_tiny_trainings_and_a_baseline_make_the_tables(tmp_path):
    cmd = [sys.executable, SCRIPT, "--algo", "esdrl", "--seeds", "2", "--out", str(tmp_path),
           "--config", os.path.join(ROOT, "experiments", "smoke.ini"),
           "--set", "env.agents=6", "--set", "env.slots=6", "--set", "run.envs=2",
           "--set", "train.episodes=2", "--set", "train.warmup=20", "--set", "esdrl.batch=16",
           "--set", "train.eval_every=1", "--set", "train.eval_episodes=1",
           "--set", "train.replay_mib=1", "--baseline", "greedy", "--test",
           "--tune-deadline", "0.7,1.5"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("| as trained | ") for line in lines) == 3  # 2 seeds, 1 IQM
    assert sum(line.startswith("| greedy | ") for line in lines) == 3
    assert any("(n = 2)" in line for line in lines)
    per_seed = [line for line in lines if line.count("|") == 10]  # the 9-column table
    for row in ("last (test)", "best (test)", "deadline (tuned) (alpha "):
        assert sum(line.startswith(f"| {row}") for line in per_seed) == 2, row
    # the summary's probability of improvement against the tuned rule: the
    # rule against itself is one half
    summary = [line for line in lines if line.startswith("| deadline (tuned) |")]
    assert summary and summary[0].split("|")[7].strip().startswith("0.50")
    for seed in (1, 2):
        with h5py.File(tmp_path / f"esdrl-s{seed}.h5", "r") as f:
            assert f["runs/eval"].attrs["finished"]["episodes"] >= 1
