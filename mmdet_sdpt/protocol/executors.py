"""The executors: a run's steps in this process, or as the launchers' shell commands."""
import ctypes
import os
import os.path as osp
import signal
import socket
import subprocess
import threading
import time
from typing import Dict, List, Optional

from .plan import TOOLS, ProtocolRun, _load_cfg
from .steps import TRAINED, base_checkpoint, best_checkpoint, done, steps

# --- executors ------------------------------------------------------------------------
def _run_inprocess(run: ProtocolRun, log=print) -> None:
    from ..engine import build_runner
    from ..utils.atomic_io import atomic_write
    checkpoint = None
    for step in steps(run):
        log(f'[{step.kind}: {run.retention}] {run.name}' if step.kind == 'retention' else
            f'[{step.kind}] {run.name}')
        if step.kind == 'train':
            cfg = _load_cfg(run, run.work_dir)
            cfg.resume = True  # a killed run goes on from its newest complete checkpoint
            build_runner(cfg).train()
            atomic_write(osp.join(run.work_dir, TRAINED), 'trained\n')
            continue
        # a test: a zero-shot run's options are ZERO_SHOT_OPTIONS, in its cfg_options
        cfg = _load_cfg(run, step.work_dir, step.options, formatted=False)
        cfg.resume = False
        if run.zero_shot:
            cfg.load_from = base_checkpoint(run, cfg)
        else:
            checkpoint = checkpoint or best_checkpoint(run.work_dir)
            cfg.load_from = checkpoint
        build_runner(cfg).test()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _cfg_args(options: Dict[str, object]) -> List[str]:
    if not options:
        return []
    return ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


def commands(run: ProtocolRun, launcher: str, gpus: int = 1,
             partition: Optional[str] = None) -> List[List[str]]:
    """(step, shell command) of the steps ``run`` still needs, for ``launcher`` 'pytorch'
    (torchrun: tools/dist_*.sh) or 'slurm' (tools/slurm_*.sh)."""

    def train():
        if launcher == 'slurm':
            return ['bash', osp.join(TOOLS, 'slurm_train.sh'), partition, f'train_{run.dataset}',
                    run.config, run.work_dir, '--resume'] + _cfg_args(run.cfg_options)
        return ['bash', osp.join(TOOLS, 'dist_train.sh'), run.config, str(gpus),
                '--work-dir', run.work_dir, '--resume'] + _cfg_args(run.cfg_options)

    def test(work_dir, options):
        # a zero-shot run: the base on purpose, as tools/test.py --zero-shot does (the
        # launchers take a CHECKPOINT; ZERO_SHOT_OPTIONS are in the run's cfg_options)
        ckpt = ['@BASE@' if run.zero_shot else '@BEST@']
        opts = _cfg_args({**run.cfg_options, **options})
        if launcher == 'slurm':
            return (['bash', osp.join(TOOLS, 'slurm_test.sh'), partition, f'test_{run.dataset}',
                     run.config] + ckpt + ['--work-dir', work_dir] + opts)
        return (['bash', osp.join(TOOLS, 'dist_test.sh'), run.config] + ckpt +
                [str(gpus), '--work-dir', work_dir] + opts)

    return [(step.kind, train() if step.kind == 'train' else test(step.work_dir, step.options))
            for step in steps(run)]


def _run_launcher(run: ProtocolRun, launcher: str, gpus: int, partition: Optional[str],
                  log=print) -> None:
    from ..utils.atomic_io import atomic_write
    env = dict(os.environ, **run.env(), PORT=str(free_port()))
    if launcher == 'slurm':
        env['GPUS'] = str(gpus)
    for step, cmd in commands(run, launcher, gpus, partition):
        resolve = {'@BEST@': lambda: best_checkpoint(run.work_dir),
                   '@BASE@': lambda: base_checkpoint(run)}
        cmd = [resolve[a]() if a in resolve else a for a in cmd]
        log(f'[{step}] {run.name}: {" ".join(cmd)}')
        parent = os.getpid()
        subprocess.run(cmd, env=env, check=True, preexec_fn=lambda: die_with_parent(parent))
        if step == 'train':
            atomic_write(osp.join(run.work_dir, TRAINED), 'trained\n')


def execute(run: ProtocolRun, launcher: str = 'inprocess', gpus: int = 1,
            partition: Optional[str] = None, log=print) -> None:
    """Run the steps ``run`` still needs."""
    if done(run):
        log(f'[done] {run.name}')
        return
    if launcher == 'inprocess':
        _run_inprocess(run, log)
    elif launcher in ('pytorch', 'slurm'):
        if launcher == 'slurm' and not partition:
            raise ValueError('--launcher slurm needs --partition')
        _run_launcher(run, launcher, gpus, partition, log)
    else:
        raise ValueError(f'unknown launcher {launcher!r}: inprocess, pytorch or slurm')


def die_with_parent(parent: int) -> None:
    """End this process when ``parent`` dies, ``kill -9`` included: Linux's parent-death
    signal, else a thread that watches the parent's pid."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
            raise OSError(ctypes.get_errno(), 'prctl')
    except (OSError, AttributeError):
        def watch():
            while os.getppid() == parent:
                time.sleep(1)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(1)
