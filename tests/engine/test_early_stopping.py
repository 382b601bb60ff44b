"""ResumableEarlyStoppingHook: mmengine's early stop, GLIP's rule (a tie resets the count),
with its count carried through a checkpoint's message hub into a resumed run."""
from types import SimpleNamespace

from mmengine.hooks import EarlyStoppingHook
from mmengine.logging import MessageHub, MMLogger

from mmdet_sdpt.engine import ResumableEarlyStoppingHook


def runner(name, state=None):
    hub = MessageHub.get_instance(name)
    if state is not None:
        hub.load_state_dict(state)
    return SimpleNamespace(message_hub=hub, train_loop=SimpleNamespace(stop_training=False),
                           logger=MMLogger.get_instance('test_early_stopping'))


def validate(hook, r, values):
    for v in values:
        hook.after_val_epoch(r, {'coco/bbox_mAP': v})


def make(cls=ResumableEarlyStoppingHook):
    return cls(monitor='coco/bbox_mAP', rule='greater', min_delta=0.0, patience=3)


def test_a_resumed_run_goes_on_with_its_count():
    first = runner('es_first')
    hook = make()
    hook.before_train(first)  # a fresh run: nothing to restore
    validate(hook, first, [0.5, 0.4, 0.5, 0.3, 0.2])  # the tie at 0.5 reset the count
    assert hook.wait_count == 2 and not first.train_loop.stop_training
    saved = first.message_hub.state_dict()  # what a checkpoint carries

    resumed, again = runner('es_resumed', saved), make()
    again.before_train(resumed)
    assert (again.best_score, again.wait_count) == (0.5, 2)
    validate(again, resumed, [0.1])
    assert resumed.train_loop.stop_training  # the third bad validation, as uninterrupted

    plain_runner, plain = runner('es_plain', saved), make(EarlyStoppingHook)
    plain.before_run(plain_runner)
    validate(plain, plain_runner, [0.1])
    assert not plain_runner.train_loop.stop_training  # mmengine's own hook forgot the count


def test_a_run_that_had_stopped_stays_stopped():
    first, hook = runner('es_stop'), make()
    validate(hook, first, [0.5, 0.4, 0.4, 0.4])
    assert first.train_loop.stop_training
    resumed, again = runner('es_stop_resumed', first.message_hub.state_dict()), make()
    again.before_train(resumed)
    assert resumed.train_loop.stop_training
