"""One protocol per work root, its workers, and what a killed protocol left running."""
import contextlib
import fcntl
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from .executors import die_with_parent, execute
from .plan import PROTOCOL_ENV, ProtocolRun
from .steps import done

PROTOCOL_LOCK = '.protocol.lock'

# ---- a protocol's processes die with it ------------------------------------------------------
class ProtocolInUseError(RuntimeError):
    """Another live protocol runs on the same work root."""


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
