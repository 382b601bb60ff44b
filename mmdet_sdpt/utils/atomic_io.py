"""Write a file so that readers never see it half-written: a temporary file beside the
target (same filesystem), flushed to disk (``fsync``), then ``os.replace``, which is atomic
on POSIX and Windows. A failed write (a full disk, an interrupt) leaves the target as it
was and removes the temporary file."""
import json
import os
import os.path as osp
import tempfile
from typing import Callable, Union


def atomic_write(path: str, data: Union[str, bytes, Callable[[str], None]]) -> str:
    """Write ``data`` (text, bytes, or a function that writes to the path it is given)
    to ``path`` atomically. Returns ``path``."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = osp.splitext(path)[1]  # writers such as matplotlib infer the format from it
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix=f'.tmp{suffix}',
                               dir=folder)
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
        else:
            with os.fdopen(fd, 'wb') as f:
                f.write(data.encode() if isinstance(data, str) else data)
        _fsync_file(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private (0600)
        os.replace(tmp, path)
        _fsync_dir(folder)  # the rename itself survives a power cut
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover  (platforms without directory fds)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover  (some filesystems refuse fsync on a folder)
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_json(path: str, obj, **kwargs) -> str:
    return atomic_write(path, json.dumps(obj, **kwargs))
