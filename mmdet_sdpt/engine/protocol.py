"""GLIP's few-shot protocol over a suite: every (method, dataset, shot, seed) trained,
selected on valid, tested, and its base-domain split evaluated for retention.

A *run* trains one config on one dataset of the suite (``ODINW_DATASET``), K shots of seed
S (``ODINW_SHOT``, ``ODINW_SEED``; shot 0 is the full train split), in its own work dir::

    <work_root>/<detector>/<method>/<dataset>/shot{K}_seed{S}      (few-shot)
    <work_root>/<detector>/<method>/<dataset>/full_seed{S}         (full data)
    <work_root>/<detector>/zero-shot/<dataset>                     (the base, no training)

then tests the best-on-valid checkpoint on the dataset's test split (the result of
``tools/test.py``: ``<work dir>/<timestamp>/<timestamp>.json``), then, where the suite names
a retention dataset, tests the same checkpoint on that dataset's test split in
``<work dir>/retention/`` (so the target result is never replaced). ``detector`` and
``method`` are the config's top-level keys of those names (else: the config file's stem).

Each step is skipped when its result is there: a finished run is skipped whole, a run
killed while training resumes from its newest complete checkpoint (``TunedRunner``), a run
killed after training goes on with its tests. Three executors run the same steps:

- ``inprocess``: in this process (workers of ``tools/fewshot_protocol.py --workers N``
  each import once and take runs from a queue: the cheap way on a CPU machine);
- ``pytorch``: ``tools/dist_train.sh`` / ``dist_test.sh`` per run (GPUS processes, a free
  rendezvous port per run, so parallel runs do not collide);
- ``slurm``: ``tools/slurm_train.sh`` / ``slurm_test.sh`` per run (one srun job each).

One protocol per work root at a time (``session``: ``<work_root>/.protocol.lock``). Its
workers, and the commands they launch, die with it (a parent-death signal), and whatever
a killed protocol still left running under its work root (marked by ``PROTOCOL_ENV`` in
its environment) is stopped before a rerun starts, so a rerun never races a leftover.
"""
import contextlib
import ctypes
import fcntl
import glob
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from ..constants import RETENTION_DIR, ZERO_SHOT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools')
TRAINED = '.trained'  # written in a run's work dir when its training finished
# a zero-shot run evaluates the base on purpose, and says so in the config it dumps
ZERO_SHOT_OPTIONS = {'model.zero_shot': True, 'method': ZERO_SHOT}
PROTOCOL_LOCK = '.protocol.lock'
PROTOCOL_ENV = 'MMDET_SDPT_PROTOCOL_ROOT'  # set for every process a protocol starts


@dataclass
class ProtocolRun:
    config: str
    detector: str
    method: str
    dataset: str
    shot: Optional[int]  # None: zero-shot (no training)
    seed: Optional[int]
    suite: str
    work_dir: str
    retention: Optional[str] = None  # the dataset whose test split measures retention
    data_root: Optional[str] = None
    cfg_options: Dict[str, object] = field(default_factory=dict)
    evaluate: bool = True  # False: trained only (a learning-rate sweep's run: valid AP only)
    tag: str = ''  # added to the name (the sweep's learning rate)

    @property
    def zero_shot(self) -> bool:
        return self.shot is None

    @property
    def name(self) -> str:
        what = ZERO_SHOT if self.zero_shot else (
            f'full data, seed {self.seed}' if self.shot == 0 else
            f'{self.shot}-shot, seed {self.seed}')
        return f'{self.detector} {self.method} / {self.dataset} / {what}' + (
            f' / {self.tag}' if self.tag else '')

    def env(self) -> Dict[str, str]:
        env = dict(ODINW_DATASET=self.dataset, ODINW_SUITE=self.suite,
                   ODINW_SHOT=str(self.shot or 0), ODINW_SEED=str(self.seed or 0))
        if self.data_root:
            env['ODINW_ROOT'] = self.data_root
        return env


def _assigned_here(config: str, key: str) -> Optional[str]:
    """``key``'s value when the config file itself assigns it (not a base it inherits)."""
    import ast
    for node in ast.parse(open(config).read()).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == key for t in node.targets):
            try:
                return str(ast.literal_eval(node.value))
            except ValueError:
                return None
    return None


def config_identity(config: str) -> Dict[str, str]:
    """(detector, method, suite) of a config: ``method`` as the config file itself assigns it
    (an inherited one would name the parent's method), else the config's folder
    (configs/baselines/<method>/..., configs/sdpt/...); ``detector`` as the config (or a
    base) says, else the file name's first word."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    stem = osp.splitext(osp.basename(config))[0]
    method = _assigned_here(config, 'method') or osp.basename(
        osp.dirname(osp.abspath(config)))
    return dict(detector=str(cfg.get('detector', stem.split('_')[0])), method=method,
                suite=cfg.get('odinw_suite'))


def run_dir(work_root: str, detector: str, method: str, dataset: str,
            shot: Optional[int], seed: Optional[int]) -> str:
    if shot is None:
        return osp.join(work_root, detector, ZERO_SHOT, dataset)
    leaf = f'full_seed{seed}' if shot == 0 else f'shot{shot}_seed{seed}'
    return osp.join(work_root, detector, method, dataset, leaf)


def plan(configs: Sequence[str], suite: str, work_root: str,
         datasets: Optional[Sequence[str]] = None, shots: Sequence[int] = (1, 3, 5, 10, 0),
         seeds: Sequence[int] = (3, 30, 300), zero_shot: bool = True,
         retention: bool = True, data_root: Optional[str] = None,
         cfg_options: Optional[dict] = None) -> List[ProtocolRun]:
    """Every run of the protocol, zero-shot runs first (one per detector and dataset)."""
    from ..datasets import get_suite
    s = get_suite(suite)
    names = list(datasets or s.datasets)
    unknown = [d for d in names if d not in s.entries]
    if unknown:
        raise KeyError(f'not datasets of suite {suite}: {unknown}; it has '
                       f'{", ".join(s.datasets)}')
    runs, zero = [], {}
    seen = set()
    for config in configs:
        ident = config_identity(config)
        key = (ident['detector'], ident['method'])
        if key in seen:
            raise ValueError(f'two configs are {key}: give each a distinct `method`')
        seen.add(key)
        common = dict(config=config, detector=ident['detector'], suite=suite,
                      data_root=data_root)
        # the config each run dumps names it as planned (tools/collect_results.py reads it)
        named = dict(cfg_options or {}, detector=ident['detector'])
        for dataset in names:
            keep = s.retention.get(dataset) if retention else None
            if zero_shot and (ident['detector'], dataset) not in zero:
                zero[(ident['detector'], dataset)] = ProtocolRun(
                    method=ZERO_SHOT, dataset=dataset, shot=None, seed=None,
                    retention=keep, work_dir=run_dir(work_root, ident['detector'], '',
                                                     dataset, None, None),
                    cfg_options=dict(named, **ZERO_SHOT_OPTIONS), **common)
            for shot in shots:
                for seed in seeds:
                    runs.append(ProtocolRun(
                        method=ident['method'], dataset=dataset, shot=int(shot),
                        seed=int(seed), retention=keep,
                        work_dir=run_dir(work_root, ident['detector'], ident['method'],
                                         dataset, int(shot), int(seed)),
                        cfg_options=dict(named, method=ident['method']), **common))
    return list(zero.values()) + runs


# --- what is done ---------------------------------------------------------------------
def test_result(folder: str) -> Optional[str]:
    """The newest test result (``<timestamp>/<timestamp>.json``) in ``folder``, or None."""
    from ..leaderboard.runs import newest_result
    return newest_result(folder)


def trained(run: ProtocolRun) -> bool:
    return run.zero_shot or osp.isfile(osp.join(run.work_dir, TRAINED))


def tested(run: ProtocolRun) -> bool:
    return not run.evaluate or test_result(run.work_dir) is not None


def retention_tested(run: ProtocolRun) -> bool:
    return run.retention is None or test_result(osp.join(run.work_dir, RETENTION_DIR)) is not None


def done(run: ProtocolRun) -> bool:
    return trained(run) and tested(run) and retention_tested(run)


def best_checkpoint(work_dir: str) -> str:
    """The best-on-valid checkpoint of a trained run (``save_best``), else its newest."""
    found = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')), key=osp.getmtime)
    if not found:
        found = sorted(glob.glob(osp.join(work_dir, 'iter_*.pth')) +
                       glob.glob(osp.join(work_dir, 'epoch_*.pth')), key=osp.getmtime)
    if not found:
        raise FileNotFoundError(f'{work_dir} holds no checkpoint (best_*.pth, iter_*.pth) '
                                'although its training finished')
    return found[-1]


def base_checkpoint(run: ProtocolRun, cfg=None) -> str:
    """The config's ``model.base_checkpoint`` (what a zero-shot run evaluates); ``cfg``: the
    run's config when already loaded."""
    cfg = cfg or _load_cfg(run, run.work_dir)
    base = cfg.model.get('base_checkpoint')
    if not base:
        raise ValueError(f'{run.config} sets no model.base_checkpoint: nothing to evaluate '
                         'zero-shot (pass --no-zero-shot, or set it with --cfg-options)')
    return base


def retention_options(run: ProtocolRun) -> Dict[str, object]:
    """--cfg-options that point a config's test split at the retention dataset."""
    return {'test_dataloader.dataset.name': run.retention, 'test_evaluator.name': run.retention}


# --- executors ------------------------------------------------------------------------
@contextlib.contextmanager
def _environ(values: Dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _load_cfg(run: ProtocolRun, work_dir: str, options: Optional[dict] = None,
              formatted: bool = True):
    """``formatted=False``: the runner logs its config unformatted (test steps: their
    config is only logged, and mmengine's yapf pass costs about 1.2 s per runner)."""
    from mmengine.config import Config
    with _environ(run.env()):
        cfg = Config.fromfile(run.config, format_python_code=formatted)
    if run.cfg_options:
        cfg.merge_from_dict(run.cfg_options)
    if options:
        cfg.merge_from_dict(options)
    cfg.work_dir = work_dir
    # one process runs many runners: give each its own logger and message hub
    tag = re.sub(r'[^A-Za-z0-9_.-]+', '_', f'{run.detector}_{run.method}_{run.dataset}_'
                 f'{run.shot}_{run.seed}')
    cfg.experiment_name = f'{tag}_{time.time_ns()}'
    return cfg


def _run_inprocess(run: ProtocolRun, log=print) -> None:
    from ..engine import build_runner
    from ..utils.atomic_io import atomic_write
    if not trained(run):
        log(f'[train] {run.name}')
        cfg = _load_cfg(run, run.work_dir)
        cfg.resume = True  # a killed run goes on from its newest complete checkpoint
        build_runner(cfg).train()
        atomic_write(osp.join(run.work_dir, TRAINED), 'trained\n')
    checkpoint = None if run.zero_shot else best_checkpoint(run.work_dir)

    def test(work_dir, options=None):
        # a zero-shot run's options: ZERO_SHOT_OPTIONS
        cfg = _load_cfg(run, work_dir, options, formatted=False)
        cfg.resume = False
        cfg.load_from = base_checkpoint(run, cfg) if run.zero_shot else checkpoint
        build_runner(cfg).test()

    if not tested(run):
        log(f'[test] {run.name}')
        test(run.work_dir)
    if not retention_tested(run):
        log(f'[retention: {run.retention}] {run.name}')
        test(osp.join(run.work_dir, RETENTION_DIR), retention_options(run))


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
    """The shell commands of the steps ``run`` still needs, for ``launcher`` 'pytorch'
    (torchrun: tools/dist_*.sh) or 'slurm' (tools/slurm_*.sh)."""
    steps = []

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

    if not trained(run):
        steps.append(('train', train()))
    if not tested(run):
        steps.append(('test', test(run.work_dir, {})))
    if not retention_tested(run):
        steps.append(('retention', test(osp.join(run.work_dir, RETENTION_DIR),
                                        retention_options(run))))
    return steps


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


# ---- a protocol's processes die with it ------------------------------------------------------
class ProtocolInUseError(RuntimeError):
    """Another live protocol runs on the same work root."""


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


def _processes_marked(work_root: str) -> List[int]:
    """Pids of live processes (but this one) whose environment marks them as started by a
    protocol on ``work_root`` (``/proc``; [] where there is none)."""
    mark = f'{PROTOCOL_ENV}={work_root}'.encode()
    found = []
    for entry in os.listdir('/proc') if osp.isdir('/proc') else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f'/proc/{entry}/environ', 'rb') as f:
                if mark in f.read().split(b'\0'):
                    found.append(int(entry))
        except OSError:  # gone, or not ours to read
            continue
    return found


def stop_leftovers(work_root: str, log=print, wait: float = 10.0) -> List[int]:
    """Kill what a dead protocol on ``work_root`` left running. Call it holding the
    protocol lock (so no live protocol owns them). Returns the pids it stopped."""
    pids = _processes_marked(work_root)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + wait
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    if pids:
        log(f'[leftovers] stopped {len(pids)} process(es) a killed protocol on {work_root} '
            f'left running: pids {pids}')
    return pids


def _alive(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(') ')[-1][:1] != 'Z'  # a zombie has ended
    except OSError:
        return False


@contextlib.contextmanager
def session(work_root: str, log=print):
    """Hold ``<work_root>/.protocol.lock`` (one protocol per work root; refused at once
    with ``ProtocolInUseError`` naming the holder), stop a killed protocol's leftovers, and
    mark every process started inside (``PROTOCOL_ENV``)."""
    work_root = osp.abspath(work_root)
    os.makedirs(work_root, exist_ok=True)
    fd = os.open(osp.join(work_root, PROTOCOL_LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors='replace').strip()
            raise ProtocolInUseError(
                f'work root {work_root} is in use by another fewshot_protocol run '
                f'({holder or "holder unknown"}). Wait for it or stop it, or pass another '
                '--work-root.') from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f'pid {os.getpid()} on {socket.gethostname()}\n'.encode(), 0)
        stop_leftovers(work_root, log)
        previous = os.environ.get(PROTOCOL_ENV)
        os.environ[PROTOCOL_ENV] = work_root
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(PROTOCOL_ENV, None)
            else:
                os.environ[PROTOCOL_ENV] = previous
    finally:
        os.close(fd)


def _worker(queue, results, launcher, gpus, partition, threads, parent=None) -> None:
    if parent is not None:
        die_with_parent(parent)
    import torch
    if threads:
        torch.set_num_threads(threads)
    import mmdet_sdpt  # noqa: F401  (registers our modules in the worker)
    while True:
        item = queue.get()
        if item is None:
            return
        index, run = item
        try:
            execute(run, launcher, gpus, partition,
                    log=lambda m: print(m, file=sys.stderr, flush=True))
            results.put((index, None))
        except BaseException as e:  # report, go on with the other runs
            results.put((index, f'{type(e).__name__}: {e}'))


def task_queue(ctx, items):
    """A queue holding ``items`` for the workers. Its feeder thread is never joined at
    exit: a protocol stopped (SIGTERM, Ctrl-C, an error) with runs still queued exits at
    once instead of waiting forever to write them into a pipe that no worker reads any more
    (the runs left are planned again by the next call)."""
    queue = ctx.Queue()
    queue.cancel_join_thread()
    for item in items:
        queue.put(item)
    return queue


def execute_all(runs: Sequence[ProtocolRun], launcher: str = 'inprocess', workers: int = 1,
                threads: int = 0, gpus: int = 1, partition: Optional[str] = None,
                log=print) -> Dict[str, str]:
    """Run every run (``workers`` at a time, each worker a process with ``threads`` torch
    threads). Returns {run name: error} of the runs that failed."""
    pending = [(i, r) for i, r in enumerate(runs) if not done(r)]
    for r in runs:
        if done(r):
            log(f'[done] {r.name}')
    failures = {}
    if not pending:
        return failures
    if workers <= 1 and launcher != 'inprocess':
        for i, r in pending:
            try:
                execute(r, launcher, gpus, partition, log)
            except (subprocess.CalledProcessError, FileNotFoundError) as e:
                failures[r.name] = str(e)
        return failures
    import multiprocessing as mp
    ctx = mp.get_context('spawn')
    queue, results = task_queue(ctx, pending), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(queue, results, launcher, gpus, partition,
                                               threads, os.getpid()), daemon=True)
             for _ in range(max(1, min(workers, len(pending))))]
    for _ in procs:
        queue.put(None)
    for p in procs:
        p.start()
    received = 0
    while received < len(pending):
        try:
            index, error = results.get(timeout=5)
        except Exception:  # queue.Empty: check that workers are still alive
            if not any(p.is_alive() for p in procs):
                break
            continue
        received += 1
        if error:
            failures[runs[index].name] = error
            log(f'[failed] {runs[index].name}: {error}')
    for p in procs:
        p.join()
    for i, r in pending:
        if not done(r) and r.name not in failures:
            failures[r.name] = 'the worker running it died'
    return failures
