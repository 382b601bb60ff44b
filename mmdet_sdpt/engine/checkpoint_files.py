"""Checkpoint files that are never half-written: an atomic local storage backend for
mmengine's ``CheckpointHook``, and which checkpoint of a folder is complete."""
import os
import os.path as osp
import re
import zipfile
from typing import Optional

from mmengine.fileio import LocalBackend, register_backend

from ..utils.atomic_io import atomic_write

CKPT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')
TMP_NAME = re.compile(r'^\..+\.tmp\.pth$')  # atomic_write's temporary files


# ---- atomic checkpoint files --------------------------------------------------------------
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose writes are atomic and whose removals of
    checkpoints are deferred until the next complete write into the same folder, so that a
    failed save (a full disk, a crash) never leaves a half-written file nor takes away the
    checkpoint it was to replace."""

    _pending: dict = {}  # folder -> paths to remove (get_file_backend builds new instances)

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), obj)
        self._remove_pending(osp.dirname(osp.abspath(filepath)), keep=str(filepath))

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(str(filepath), obj.encode(encoding))

    def remove(self, filepath) -> None:
        filepath = str(filepath)
        if filepath.endswith('.pth') and osp.isfile(filepath):
            self._pending.setdefault(osp.dirname(osp.abspath(filepath)), []).append(filepath)
        else:
            super().remove(filepath)

    @classmethod
    def _remove_pending(cls, folder: str, keep: str) -> None:
        for path in cls._pending.pop(folder, []):
            if osp.abspath(path) != osp.abspath(keep) and osp.isfile(path):
                os.remove(path)


register_backend('atomic_local', AtomicLocalBackend, force=True)
ATOMIC = dict(backend='atomic_local')


def is_complete_checkpoint(path: str) -> bool:
    """A cheap check that ``path`` is a whole ``torch.save`` file: it exists, is not
    empty, and its zip directory (written last) is there."""
    return osp.isfile(path) and osp.getsize(path) > 0 and zipfile.is_zipfile(path)


def latest_complete_checkpoint(folder: str) -> Optional[str]:
    """The ``iter_N.pth`` / ``epoch_N.pth`` in ``folder`` with the largest N that is
    complete, or None."""
    found = []
    for name in os.listdir(folder) if osp.isdir(folder) else []:
        m = CKPT_NAME.match(name)
        if m:
            found.append((int(m.group(1)), osp.join(folder, name)))
    for _, path in sorted(found, reverse=True):
        if is_complete_checkpoint(path):
            return path
    return None
