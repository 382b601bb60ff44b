"""Hooks the demo uses to show what tuning bought: zero-shot vs tuned, and progress."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..adapter import get_tuner, unwrap


def evaluate_without_hooks(runner) -> dict:
    """The validation loop's metrics of the model as it is, *without* calling hooks: an
    evaluation that is not a validation of the run (the base detector's, before training)
    must never reach ``CheckpointHook(save_best=...)`` (it would become the "best"
    checkpoint), the logger's scalars or early stopping."""
    import torch
    from mmengine.runner.amp import autocast
    loop = runner.val_loop
    runner.model.eval()
    with torch.no_grad():
        for data_batch in loop.dataloader:
            with autocast(enabled=bool(getattr(loop, 'fp16', False))):
                outputs = runner.model.val_step(data_batch)
            loop.evaluator.process(data_samples=outputs, data_batch=data_batch)
    metrics = loop.evaluator.evaluate(len(loop.dataloader.dataset))
    runner.model.train()
    return dict(metrics)


@HOOKS.register_module()
class ZeroShotComparisonHook(Hook):
    """Evaluate the base detector (tuner disabled) before training, and print it beside
    the tuned detector's last evaluation when training ends. The zero-shot evaluation
    calls no hooks: it never becomes a ``save_best`` checkpoint or a logged validation; its
    metrics go to the visualizer's backends as ``zero-shot/<metric>`` at step 0.

    Args:
        metrics (tuple[str]): metric keys to compare.
    """

    priority = 'LOW'

    def __init__(self, metrics=('coco/bbox_mAP', 'coco/bbox_mAP_50')):
        self.metrics = tuple(metrics)
        self.zero_shot = None
        self.tuned = None

    def before_train(self, runner) -> None:
        if runner.val_loop is None or runner.iter > 0:
            return
        model = unwrap(runner.model)
        with get_tuner(model).disabled(model):
            self.zero_shot = evaluate_without_hooks(runner)
        # to the vis backends (TensorBoard, ...) under a tag of its own, at step 0
        runner.visualizer.add_scalars(
            {f'zero-shot/{k}': v for k, v in self.zero_shot.items()
             if isinstance(v, (int, float))}, step=0)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self.zero_shot is not None:
            self.tuned = dict(metrics or {})

    def after_train(self, runner) -> None:
        if not (self.zero_shot and self.tuned):
            return
        method = get_tuner(runner.model).method
        lines = [f'| model | {" | ".join(self.metrics)} |',
                 '|---' * (len(self.metrics) + 1) + '|',
                 '| zero-shot | ' + ' | '.join(f'{self.zero_shot.get(k, float("nan")):.3f}'
                                             for k in self.metrics) + ' |',
                 f'| {method} | ' + ' | '.join(f'{self.tuned.get(k, float("nan")):.3f}'
                                              for k in self.metrics) + ' |']
        print_log('zero-shot vs tuned:\n' + '\n'.join(lines), logger='current')


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """A tqdm progress bar over the training iterations."""

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        from tqdm import tqdm
        self.bar = tqdm(total=runner.max_iters, initial=runner.iter, desc='tuning',
                        unit='it', dynamic_ncols=True)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.bar.update(1)
        loss = (outputs or {}).get('loss')
        if loss is not None:
            self.bar.set_postfix(loss=f'{float(loss):.3f}')

    def after_train(self, runner) -> None:
        self.bar.close()
