"""Runner-side hooks of a tuned detector: one concern each, all state from the runner."""
import math
from collections import OrderedDict

import torch

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log
from terminaltables import AsciiTable

from ..adapter import adapter_meta, get_tuner, to_adapter_checkpoint, unwrap
from ..checkpoint import from_plain, label_state_dict, to_plain
from ..models.tuned_detector import training_modules


def trainable_table(model) -> list:
    """Rows (part, trainable, total, %) per top-level part of the model, plus the tuner."""
    model = unwrap(model)
    tuner = get_tuner(model)
    total_all = sum(p.numel() for p in model.parameters())
    parts = OrderedDict()
    for name, p in model.named_parameters():
        part = 'tuner' if tuner.owns(name) else name.split('.')[0]
        t, n = parts.get(part, (0, 0))
        parts[part] = (t + (p.numel() if p.requires_grad else 0), n + p.numel())
    rows = [['part', 'trainable', 'total', '% of model']]
    for part, (t, n) in parts.items():
        rows.append([part, f'{t:,}', f'{n:,}', f'{100 * t / total_all:.4f}'])
    t_all = sum(p.numel() for p in model.parameters() if p.requires_grad)
    rows.append(['all', f'{t_all:,}', f'{total_all:,}', f'{100 * t_all / total_all:.4f}'])
    return rows


@HOOKS.register_module()
class FrozenSetHook(Hook):
    """Before training: check that exactly the tuner's tensors train (in the model and in
    the optimizer) and that frozen modules are in eval mode; log the trainable table."""

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        tuner = get_tuner(model)
        wrong = [n for n, p in model.named_parameters() if p.requires_grad != tuner.trainable(n)]
        if wrong:
            raise RuntimeError(f'{len(wrong)} parameters do not follow the freeze of '
                               f'{type(tuner).__name__}, e.g. {wrong[:5]}: something changed '
                               'requires_grad after the model was built.')
        frozen_ids = {id(p) for p in model.parameters() if not p.requires_grad}
        optim = getattr(runner.optim_wrapper, 'optimizer', None)
        in_optim = [p for g in (optim.param_groups if optim else []) for p in g['params']
                    if id(p) in frozen_ids]
        if in_optim:
            raise RuntimeError(
                f'the optimizer holds {len(in_optim)} frozen tensors: set '
                "optim_wrapper.constructor='TrainableOptimWrapperConstructor'.")
        print_log('Trainable parameters of ' + repr(tuner) + ':\n' +
                  AsciiTable(trainable_table(model)).table, logger='current')

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        # after the loop's model.train(): frozen modules must still be in eval mode
        if batch_idx == 0:
            model = unwrap(runner.model)
            keep = training_modules(model)
            wrong = [n for n, m in model.named_modules() if m.training and n not in keep]
            if wrong:
                raise RuntimeError(f'{len(wrong)} frozen modules are in training mode, e.g. '
                                   f'{wrong[:5]}: build the model with TunedDetector.')


@HOOKS.register_module()
class AdapterCheckpointHook(Hook):
    """Saved checkpoints hold only the tuned tensors plus ``meta['adapter']``; loaded ones
    (``--resume``, ``load_from``, ``tools/test.py CONFIG CKPT``) are checked to fit by the
    tuned detector's own load check (``mmdet_sdpt.adapter.check_loaded_state_dict``), which
    this hook hands the checkpoint's adapter meta and file name.

    Args:
        allow_base_mismatch (bool): load a checkpoint tuned on another base (a warning).
    """

    priority = 'LOW'

    def __init__(self, allow_base_mismatch: bool = False):
        self.allow_base_mismatch = allow_base_mismatch

    def before_run(self, runner) -> None:
        if self.allow_base_mismatch:
            unwrap(runner.model).allow_base_mismatch = True

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        to_adapter_checkpoint(runner.model, checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # runs before the runner copies the tensors into the model
        source = getattr(runner, '_load_from', None) or 'the checkpoint being loaded'
        label_state_dict(checkpoint, f'checkpoint {source}')

    def after_train(self, runner) -> None:
        meta = adapter_meta(runner.model)
        print_log(f'adapter checkpoints in {runner.work_dir}: {meta["tuner"]["method"]} '
                  f'on base {meta["base"]}', logger='current')


@HOOKS.register_module()
class PlainCheckpointHook(Hook):
    """Checkpoints hold tensors and plain data only, so that weights-only ``torch.load``
    (ours, and stock mmdet scripts') reads them with nothing allowlisted: the message hub's
    ``HistoryBuffer`` objects and any numpy value become tagged plain data when a checkpoint
    is saved, and are rebuilt when one is loaded (before ``resume()`` hands them to the
    message hub), so ``--resume`` restores exactly what it restored before."""

    priority = 'VERY_LOW'  # saving: after every other hook has added its part

    TENSORS = ('state_dict', 'optimizer')  # tensors and numbers: nothing to convert

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in checkpoint:
            if key not in self.TENSORS:
                checkpoint[key] = to_plain(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in checkpoint:
            if key not in self.TENSORS:
                checkpoint[key] = from_plain(checkpoint[key])


class TrainingDivergedError(FloatingPointError):
    """The loss or a tuned tensor became non-finite."""


@HOOKS.register_module()
class DivergenceGuardHook(Hook):
    """Stop a run that diverged instead of training on and saving NaN.

    After every iteration: a non-finite loss, or a non-finite trainable tensor, stops the
    run with ``TrainingDivergedError`` naming the iteration and the learning rate; no
    checkpoint is written from that state (this hook runs before ``CheckpointHook``, and
    every save is checked again). Under AMP the loss scaler skips steps whose gradients
    overflow, so there ``amp_patience`` non-finite losses in a row are needed to stop.
    A trainable tensor that grows past ``max(growth x its start, floor)`` in max |value|
    (e.g. ``lr=1e6`` drove SDPT's tokens to ~8e6 and the AP to zero) gets one warning.

    Args:
        interval (int): check the tensors every ``interval`` iterations (and at every save).
        amp_patience (int): non-finite losses in a row tolerated under AMP.
        growth (float), floor (float): the warning's threshold.
    """

    priority = 'ABOVE_NORMAL'  # before CheckpointHook (VERY_LOW) saves this iteration

    def __init__(self, interval: int = 1, amp_patience: int = 10, growth: float = 100.,
                 floor: float = 100.):
        self.interval, self.amp_patience = interval, amp_patience
        self.growth, self.floor = growth, floor
        self._bad_losses = 0
        self._start = None
        self._warned = False

    @staticmethod
    def _trainable(runner) -> list:
        return [(n, p) for n, p in unwrap(runner.model).named_parameters() if p.requires_grad]

    @staticmethod
    def _max_abs(params) -> list:
        if not params:
            return []
        with torch.no_grad():
            return torch.stack([p.detach().abs().amax().float() for _, p in params]).tolist()

    @staticmethod
    def _lr(runner) -> str:
        try:
            lrs = runner.optim_wrapper.get_lr()
        except Exception:  # pragma: no cover  (an optimizer without get_lr)
            return '?'
        values = sorted({f'{v:g}' for group in lrs.values() for v in group})
        return ', '.join(values)

    def _diverged(self, runner, what: str, step: int) -> TrainingDivergedError:
        last = runner.message_hub.get_info('last_ckpt')
        return TrainingDivergedError(
            f'iteration {step}: {what} (learning rate {self._lr(runner)}): training '
            'diverged. Lower optim_wrapper.optimizer.lr or set optim_wrapper.clip_grad; '
            'no checkpoint was saved from this state'
            + (f' (the last one, {last}, was saved before it).' if last else '.'))

    def before_train(self, runner) -> None:
        self._start = dict(zip([n for n, _ in self._trainable(runner)],
                               self._max_abs(self._trainable(runner))))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        step = runner.iter + 1
        loss = (outputs or {}).get('loss')
        loss = float(loss.detach()) if torch.is_tensor(loss) else loss
        if loss is not None and not math.isfinite(loss):
            self._bad_losses += 1
            amp = 'Amp' in type(runner.optim_wrapper).__name__
            if not amp or self._bad_losses >= self.amp_patience:
                times = f' ({self._bad_losses} times in a row)' if amp else ''
                raise self._diverged(runner, f'the loss is {loss}{times}', step)
        else:
            self._bad_losses = 0
        if step % self.interval == 0 or step == runner.max_iters:
            self._check_tensors(runner, step)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._check_tensors(runner, runner.iter)

    def _check_tensors(self, runner, step: int) -> None:
        params = self._trainable(runner)
        for (name, _), value in zip(params, self._max_abs(params)):
            if not math.isfinite(value):
                raise self._diverged(runner, f'the trainable tensor {name} holds '
                                     f'{"NaN" if value != value else "inf"}', step)
            start = (self._start or {}).get(name, 0.)
            if not self._warned and value > max(self.growth * start, self.floor):
                self._warned = True
                print_log(f'iteration {step}: the trainable tensor {name} reached max '
                          f'|value| {value:.3g} (it started at {start:.3g}) with learning '
                          f'rate {self._lr(runner)}: the run is probably diverging and its '
                          'results are likely wrong. Lower optim_wrapper.optimizer.lr.',
                          logger='current', level=30)
