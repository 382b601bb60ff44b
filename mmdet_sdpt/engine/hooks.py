"""Runner-side hooks of a tuned detector: one concern each, all state from the runner."""
from collections import OrderedDict

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
