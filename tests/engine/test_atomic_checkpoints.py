"""Nothing half-written: the TunedRunner's checkpoint writes are atomic, removals of old
checkpoints wait for the next complete write, ``--resume`` skips a broken
``last_checkpoint``, and a run on a full disk leaves only files that load."""
import errno
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmdet_sdpt.checkpoint import load_checkpoint_file
from mmdet_sdpt.engine.checkpoint_files import (AtomicLocalBackend, is_complete_checkpoint,
                                                latest_complete_checkpoint)
from mmdet_sdpt.utils import atomic_io
from tests.helpers import ROOT, TINY_CONFIG, tiny_runner


@pytest.fixture
def full_disk(monkeypatch):
    """From the n-th write on, files get half their bytes, then ENOSPC (as a full disk)."""

    class Disk:
        writes_left = 10 ** 9

    real_fdopen = os.fdopen

    class HalfFile:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            if Disk.writes_left <= 0:
                self.f.write(data[:len(data) // 2])
                self.f.flush()
                raise OSError(errno.ENOSPC, 'No space left on device')
            Disk.writes_left -= 1
            return self.f.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    class OsWithAFullDisk:  # atomic_io's own view of os: nothing else is touched
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def fdopen(fd, mode):
            return HalfFile(real_fdopen(fd, mode))

    monkeypatch.setattr(atomic_io, 'os', OsWithAFullDisk())
    return Disk


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, full_disk):
    target = tmp_path / 'iter_2.pth'
    target.write_bytes(b'old')
    full_disk.writes_left = 0
    with pytest.raises(OSError, match='No space'):
        AtomicLocalBackend().put(b'new' * 1000, str(target))
    assert target.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['iter_2.pth']


def test_removals_wait_for_the_next_complete_write(tmp_path, full_disk):
    backend = AtomicLocalBackend()
    old = tmp_path / 'iter_1.pth'
    old.write_bytes(b'old')
    backend.remove(str(old))  # CheckpointHook removes the oldest before it saves
    full_disk.writes_left = 0
    with pytest.raises(OSError):
        backend.put(b'x' * 100, str(tmp_path / 'iter_3.pth'))
    assert old.exists() and not (tmp_path / 'iter_3.pth').exists()
    full_disk.writes_left = 10
    backend.put(b'x' * 100, str(tmp_path / 'iter_4.pth'))
    assert not old.exists() and (tmp_path / 'iter_4.pth').read_bytes() == b'x' * 100


def test_a_run_that_fills_the_disk_leaves_only_checkpoints_that_load(
        tiny_env, base_checkpoint, tmp_path, full_disk):
    runner = tiny_runner(tmp_path, base_checkpoint, max_iters=4)
    # let the first two checkpoint writes through, then the disk is full
    calls = []
    real_put = AtomicLocalBackend.put

    def put(self, obj, filepath):
        calls.append(filepath)
        full_disk.writes_left = 10 ** 9 if len(calls) <= 2 else 0
        return real_put(self, obj, filepath)

    AtomicLocalBackend.put = put
    try:
        with pytest.raises(OSError, match='saving checkpoint iter_3.pth .* failed'):
            runner.train()
    finally:
        AtomicLocalBackend.put = real_put
    left = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth'))
    assert left == ['iter_1.pth', 'iter_2.pth']
    for name in left:
        assert 'state_dict' in load_checkpoint_file(str(tmp_path / name))
    named = (tmp_path / 'last_checkpoint').read_text().strip()
    assert named.endswith('iter_2.pth') and is_complete_checkpoint(named)


def test_resume_skips_a_last_checkpoint_that_is_missing_or_broken(
        tiny_env, base_checkpoint, tmp_path):
    tiny_runner(tmp_path, base_checkpoint, max_iters=2).train()  # iter_1, iter_2
    good = tmp_path / 'iter_2.pth'
    broken = tmp_path / 'iter_3.pth'
    broken.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])  # killed mid-write
    (tmp_path / 'last_checkpoint').write_text(str(broken))
    assert latest_complete_checkpoint(str(tmp_path)) == str(good)
    runner = tiny_runner(tmp_path, base_checkpoint, max_iters=3, resume=True)
    runner.load_or_resume()
    assert runner.iter == 2
    (tmp_path / 'last_checkpoint').write_text('')  # a full disk emptied it
    runner = tiny_runner(tmp_path, base_checkpoint, max_iters=3, resume=True)
    runner.load_or_resume()
    assert runner.iter == 2


def can_mount_tmpfs(path):
    if os.geteuid() != 0:
        return False
    done = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=160k', 'tmpfs', str(path)],
                          capture_output=True)
    return done.returncode == 0


def test_train_on_a_really_full_disk(tiny_env, base_checkpoint, tmp_path):
    """The issue's probe: tools/train.py with its work dir on a small tmpfs."""
    disk = tmp_path / 'disk'
    disk.mkdir()
    if not can_mount_tmpfs(disk):
        pytest.skip('mounting a tmpfs needs root; the fake full disk above covers the logic')
    try:
        env = dict(os.environ, PYTHONWARNINGS='ignore')
        work = disk / 'work'
        out = subprocess.run(
            [sys.executable, osp.join(ROOT, 'tools', 'train.py'), TINY_CONFIG,
             '--work-dir', str(work), '--cfg-options',
             f'model.base_checkpoint={base_checkpoint}', 'train_cfg.max_iters=8',
             'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=8',
             'default_hooks.logger.interval=100'],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
        assert out.returncode != 0 and 'No space left on device' in out.stderr
        left = [f for f in os.listdir(work) if f.endswith('.pth')]
        assert left and not [f for f in os.listdir(work) if '.tmp' in f]
        for name in left:
            torch.load(str(work / name), weights_only=True)  # every file left loads
        named = (work / 'last_checkpoint').read_text().strip()
        assert not named or is_complete_checkpoint(named)
    finally:
        subprocess.run(['umount', str(disk)], check=False)
