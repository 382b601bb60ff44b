"""``ResumableEarlyStoppingHook``: mmengine's ``EarlyStoppingHook`` whose count survives a
resume.

mmengine's hook keeps its best score and its count of bad validations in the hook object
only, so a run killed and resumed (``--resume``, or the protocol's rerun after ``kill -9``)
starts counting from scratch and trains up to ``patience`` validations longer than the same
run uninterrupted. This one keeps both in the message hub, which every checkpoint saves: a
resumed run goes on with the count it had when its checkpoint was written (the validation of
that checkpoint's own epoch, which mmengine's resumed loop skips, is run again by
``ValidateResumedEpochHook``).
A run that had already decided to stop stops at once when resumed.
"""
from mmdet.registry import HOOKS
from mmengine.hooks import EarlyStoppingHook

_STATE = 'early_stopping/state'  # message-hub key, saved with every checkpoint


@HOOKS.register_module()
class ResumableEarlyStoppingHook(EarlyStoppingHook):
    """As ``EarlyStoppingHook`` (same arguments); see the module's docstring."""

    def before_train(self, runner) -> None:
        state = runner.message_hub.get_info(_STATE, None)
        if state is None:
            return
        self.best_score = float(state['best_score'])
        self.wait_count = int(state['wait_count'])
        if state.get('stopped'):
            runner.train_loop.stop_training = True
            runner.logger.info(f'{type(self).__name__}: the run had stopped early before '
                               'it was resumed; training ends here')

    def after_val_epoch(self, runner, metrics) -> None:
        super().after_val_epoch(runner, metrics)
        runner.message_hub.update_info(_STATE, dict(
            best_score=float(self.best_score), wait_count=int(self.wait_count),
            stopped=bool(getattr(runner.train_loop, 'stop_training', False))))
