"""Where the plotting scripts write (experiments/outputs.py): never
through to a FIFO, a device or a folder; a regular file is replaced whole;
a write that fails (a full disk) leaves the old figure and no temporary
file, and says why. Each script refuses such an output before it reads
anything."""
import errno
import os
import subprocess
import sys

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

EXPERIMENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "experiments")
sys.path.insert(0, EXPERIMENTS)
import outputs  # noqa: E402


class Failed(Exception):
    pass


def fail(msg):
    raise Failed(msg)


@pytest.fixture
def fig():
    f, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    yield f
    plt.close(f)


def test_a_fifo_a_device_link_and_a_folder_are_refused(tmp_path, fig):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    null = tmp_path / "null.png"
    null.symlink_to("/dev/null")
    dangling = tmp_path / "gone.png"
    dangling.symlink_to(tmp_path / "nowhere" / "x.png")
    folder = tmp_path / "folder.png"
    folder.mkdir()
    for path in (fifo, null, dangling, folder):
        with pytest.raises(Failed, match="exists and is"):
            outputs.save(fig, str(path), fail)
    assert fifo.is_fifo() and null.is_symlink() and dangling.is_symlink() and folder.is_dir()
    assert sorted(os.listdir(tmp_path)) == ["fifo.png", "folder.png", "gone.png", "null.png"]
    with pytest.raises(Failed, match="does not exist"):
        outputs.save(fig, str(tmp_path / "nowhere" / "x.png"), fail)


def test_a_regular_file_is_replaced_whole(tmp_path, fig):
    out = tmp_path / "f.png"
    out.write_bytes(b"old")
    outputs.save(fig, str(out), fail, dpi=50)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    outputs.save(fig, str(tmp_path / "f.pdf"), fail)
    assert (tmp_path / "f.pdf").read_bytes()[:5] == b"%PDF-"
    assert sorted(os.listdir(tmp_path)) == ["f.pdf", "f.png"]


def test_a_failed_write_keeps_the_old_figure_and_leaves_nothing(tmp_path, fig, monkeypatch):
    out = tmp_path / "f.png"
    out.write_bytes(b"old")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fig, "savefig", full)
    with pytest.raises(Failed, match="cannot write .*f.png: No space left on device"):
        outputs.save(fig, str(out), fail)
    assert out.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.png"]


@pytest.mark.parametrize("script,out_args,fifo", [
    ("plot.py", ["-o", "{d}/o.png"], "o.png"),
    ("plot_map.py", ["-o", "{d}/o.png"], "o.png"),
    ("plot_figures.py", ["-o", "{d}/o"], "o-learning.png"),
])
def test_each_script_refuses_a_fifo_before_reading(tmp_path, script, out_args, fifo):
    results = tmp_path / "r.h5"
    results.write_bytes(b"not read: the output is refused first")
    os.mkfifo(tmp_path / fifo)
    args = [a.format(d=tmp_path) for a in out_args]
    done = subprocess.run([sys.executable, os.path.join(EXPERIMENTS, script), str(results), *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"{fifo} exists and is not a regular file" in done.stderr, done.stderr
    assert (tmp_path / fifo).is_fifo()


@pytest.mark.parametrize("script", ["plot.py", "plot_map.py", "plot_figures.py"])
def test_each_script_refuses_a_file_that_is_not_hdf5_without_a_traceback(tmp_path, script):
    results = tmp_path / "r.h5"
    results.write_bytes(b"a damaged or foreign file")
    done = subprocess.run([sys.executable, os.path.join(EXPERIMENTS, script), str(results),
                           "-o", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "cannot open as HDF5" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
