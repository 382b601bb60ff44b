"""``ValidateResumedEpochHook``: a resumed epoch-based run validates the epoch its checkpoint
ends with, as the same run uninterrupted did.

mmengine's ``EpochBasedTrainLoop`` saves the epoch checkpoint in ``after_train_epoch``, before
that epoch's validation, and a resumed loop starts with the next epoch's training: the
checkpoint epoch is never validated. Under a protocol driven by validation that changes the
run: ``ReduceOnPlateauLR``, the early stop's count and ``save_best`` each miss one
validation, so a run killed and resumed trains longer (or picks another best checkpoint) than
the same run uninterrupted. This hook records the last validated epoch in the message hub
(saved by every checkpoint) and, when a resumed run's epoch was due a validation it has not
had, runs it in ``before_train`` (lowest priority: after the other hooks have restored their
state), so every hook sees the validations of the uninterrupted run, in the same order.
"""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

_LAST = 'resume/last_validated_epoch'  # message-hub key, saved with every checkpoint (not
# 'val...': mmengine's LogProcessor logs runtime info whose key starts with the mode)


@HOOKS.register_module()
class ValidateResumedEpochHook(Hook):
    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        epoch = runner.epoch
        if not isinstance(loop, EpochBasedTrainLoop) or epoch == 0 or runner.val_loop is None:
            return  # a fresh run, an iteration-based one, or one without validation
        last = runner.message_hub.get_info(_LAST, None)
        due = epoch >= loop.val_begin and (epoch % loop.val_interval == 0
                                           or epoch == loop.max_epochs)
        if not due or (last is not None and last >= epoch):
            return
        runner.logger.info(f'resumed after epoch {epoch}, whose validation its checkpoint '
                           'predates: validating it first, as the uninterrupted run did')
        runner.val_loop.run()

    def after_val_epoch(self, runner, metrics=None) -> None:
        runner.message_hub.update_info(_LAST, runner.epoch)
