"""One training run per work dir: an exclusive ``flock`` on ``<work_dir>/.train.lock``,
held from the runner's build to the end of training, released by the kernel when its
holder dies."""
import fcntl
import os
import os.path as osp
import socket
import threading
import time

LOCK_FILE = '.train.lock'


class WorkDirInUseError(RuntimeError):
    """Another live training run holds the work dir."""


_held: dict = {}  # work dir -> [lock descriptor, runners of this process that hold it]
_held_guard = threading.Lock()


def lock_work_dir(work_dir: str) -> bool:
    """Take ``<work_dir>/.train.lock`` (``flock``, exclusive, not waiting) and record the
    holder in it; True when this call took it, False when this process already held it.
    Raises ``WorkDirInUseError`` naming the holder, having written nothing,
    when another live process holds it. The lock excludes other processes: runners of one
    process share it (a notebook's new runner while an old one lingers), each taking one
    hold, released by :func:`unlock_work_dir`; the last release (or the process's end,
    ``kill -9`` included) frees it."""
    work_dir = osp.abspath(work_dir)
    with _held_guard:
        if work_dir in _held:
            _held[work_dir][1] += 1
            return False
        os.makedirs(work_dir, exist_ok=True)
        fd = os.open(osp.join(work_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors='replace').strip()
            os.close(fd)
            raise WorkDirInUseError(
                f'work dir {work_dir} is in use by another training run '
                f'({holder or "holder unknown"}): two runs in one work dir interleave '
                'their checkpoints. Wait for it or stop it, or pass another '
                '--work-dir.') from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, (f'pid {os.getpid()} on {socket.gethostname()}, since '
                       f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n').encode(), 0)
        _held[work_dir] = [fd, 1]
        return True


def unlock_work_dir(work_dir: str) -> None:
    """Give back one hold of :func:`lock_work_dir`; the last one releases the lock."""
    work_dir = osp.abspath(work_dir)
    with _held_guard:
        held = _held.get(work_dir)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _held[work_dir]
            os.close(held[0])  # closing the descriptor releases the lock


def work_dir_in_use(work_dir: str) -> bool:
    """A live training run holds ``work_dir``'s lock (probed, not taken)."""
    path = osp.join(work_dir, LOCK_FILE)
    if not osp.isfile(path):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the probe's shared lock too


def is_first_rank(launcher: str) -> bool:
    """Rank 0, known before mmengine initialises the process group (in ``__init__``)."""
    rank = os.environ.get('RANK')
    if rank is None and launcher == 'slurm':
        rank = os.environ.get('SLURM_PROCID')
    return int(rank or 0) == 0
