"""What a training run cost: ``<work_dir>/cost.json``, written by ``RunCostHook``.

Every tuned config records, for its run:

- ``train_seconds``: wall time of training, the validations inside it included, summed over
  every sitting of a resumed run (the running total rides in the message hub, so each
  checkpoint carries it and ``--resume`` goes on from it);
- ``iterations`` / ``epochs`` done, against ``max_iters`` / ``max_epochs``, and
  ``stopped_early`` (an early-stopping hook ended it before the schedule did);
- ``validations``: each validation's iteration, epoch, seconds of training so far, the
  learning rate the epoch trained at (the first parameter group's: a plateau's cut shows)
  and metrics: valid AP against training seconds, the run's anytime curve;
- ``best``: the validation that was best on the checkpoint hook's ``save_best`` key (else the
  first metric), with its seconds: the time to the best checkpoint.

The file is rewritten atomically after each validation and at the end of training.
"""
import os.path as osp
import time
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.dist import master_only
from mmengine.hooks import CheckpointHook, Hook

from ..utils.atomic_io import atomic_write_json

COST_FILE = 'cost.json'
_SECONDS = 'cost/train_seconds'  # message-hub keys: saved with every checkpoint
_VALIDATIONS = 'cost/validations'


@HOOKS.register_module()
class RunCostHook(Hook):
    """Write ``<work_dir>/cost.json`` (see the module's docstring)."""

    priority = 'ABOVE_NORMAL'  # before CheckpointHook saves the iteration's message hub

    def __init__(self) -> None:
        self._training = False
        self._start = 0.0  # perf_counter at the start of this sitting
        self._before = 0.0  # seconds of earlier sittings (a resumed run)

    def before_train(self, runner) -> None:
        self._training = True
        self._before = float(runner.message_hub.get_info(_SECONDS, 0.0) or 0.0)
        self._start = time.perf_counter()

    def _seconds(self) -> float:
        return self._before + time.perf_counter() - self._start

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        runner.message_hub.update_info(_SECONDS, self._seconds())

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        if not self._training:  # a standalone val() is no part of a run's cost
            return
        validations = list(runner.message_hub.get_info(_VALIDATIONS, None) or [])
        validations.append(dict(iter=runner.iter, epoch=runner.epoch,
                                seconds=round(self._seconds(), 3), lr=_lr(runner),
                                metrics={k: _number(v) for k, v in (metrics or {}).items()}))
        runner.message_hub.update_info(_VALIDATIONS, validations)
        runner.message_hub.update_info(_SECONDS, self._seconds())
        self._write(runner, done=False)

    def after_train(self, runner) -> None:
        runner.message_hub.update_info(_SECONDS, self._seconds())
        self._write(runner, done=True)
        self._training = False

    @master_only
    def _write(self, runner, done: bool) -> None:
        loop = runner.train_loop
        max_iters, max_epochs = getattr(loop, 'max_iters', None), getattr(loop,
                                                                             'max_epochs', None)
        validations = runner.message_hub.get_info(_VALIDATIONS, None) or []
        record = dict(
            finished=done, train_seconds=round(self._seconds(), 3), iterations=runner.iter,
            epochs=runner.epoch, max_iters=max_iters, max_epochs=max_epochs,
            stopped_early=bool(done and max_iters is not None and runner.iter < max_iters),
            validations=validations, best=best_validation(runner, validations))
        atomic_write_json(osp.join(runner.work_dir, COST_FILE), record, indent=1)


def best_validation(runner, validations: list) -> Optional[dict]:
    """The validation best on the checkpoint hook's ``save_best`` key and rule (else the
    first metric, greater is better), with that key; None before any."""
    if not validations:
        return None
    key, rule = None, 'greater'
    for hook in runner.hooks:
        if isinstance(hook, CheckpointHook) and getattr(hook, 'key_indicators', None):
            found = [k for k in hook.key_indicators if k != 'auto']
            if found:
                key = found[0]
                rules = getattr(hook, 'rules', None) or [None]
                rule = rules[hook.key_indicators.index(key)] or rule
    metrics = validations[-1]['metrics']
    key = key if key in metrics else next(iter(metrics), None)
    if key is None:
        return None
    scored = [v for v in validations if isinstance(v['metrics'].get(key), (int, float))]
    if not scored:
        return None
    pick = max if rule == 'greater' else min
    best = pick(scored, key=lambda v: v['metrics'][key])
    return dict(best, key=key)


def _lr(runner) -> Optional[float]:
    try:
        return float(runner.optim_wrapper.get_lr()['lr'][0])
    except (AttributeError, KeyError, IndexError, TypeError):
        return None


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
