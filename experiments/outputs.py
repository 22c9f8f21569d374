"""Where the plotting scripts write, as afsim does (host/h5out.c,
afs_h5_check_destination): a regular file or nothing, never through to a
device, a FIFO or a folder (as root, savefig("/dev/sda") would write the
disk); and a figure whole or not at all, written beside its path and
renamed over it, so that a full disk leaves the old figure and no part of
the new one."""
import os
import tempfile


def problem(path):
    """Why a file cannot be written at path, or None."""
    if os.path.lexists(path) and not os.path.isfile(path):
        what = "a folder" if os.path.isdir(path) else "not a regular file"
        return f"{path} exists and is {what}: choose another -o"
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        return f"{path}: the folder {folder} does not exist: create it first"
    return None


def save(fig, path, fail, **savefig_args):
    """fig.savefig to path (its format from the extension), or fail(why)."""
    why = problem(path)
    if why:
        fail(why)
    folder = os.path.dirname(path) or "."
    fmt = os.path.splitext(path)[1][1:].lower() or "png"
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    f = os.fdopen(fd, "wb")  # owns fd from here: closed by the with below
    error = None
    try:
        with f:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(f.fileno(), 0o666 & ~umask)  # mkstemp's 0600 would hide the figure
            fig.savefig(f, format=fmt, **savefig_args)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, ValueError) as e:
        error = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
    finally:  # whatever ended it (an error, matplotlib's own, Ctrl-C): no part file left
        if os.path.lexists(tmp):
            os.unlink(tmp)
    if error is not None:
        fail(f"cannot write {path}: {error}")
