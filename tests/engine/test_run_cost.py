"""What a run cost (``RunCostHook``, ``<work_dir>/cost.json``): wall time summed over a
resumed run's sittings, iterations against the schedule, each validation's metrics against
training seconds, and the best one (the time to the best checkpoint)."""
import json

from mmengine.config import Config

from tests.helpers import TINY_CONFIG


def _runner(work_dir, base_checkpoint, max_iters, resume=False):
    from mmdet_sdpt.engine import build_runner
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.base_checkpoint = base_checkpoint
    cfg.train_cfg.update(max_iters=max_iters, val_interval=2)
    cfg.default_hooks.checkpoint.update(interval=2, save_best='coco/bbox_mAP', rule='greater')
    cfg.work_dir, cfg.resume = str(work_dir), resume
    return build_runner(cfg)


def _cost(work_dir):
    with open(work_dir / 'cost.json') as f:
        return json.load(f)


def test_a_run_records_its_cost_and_a_resumed_run_adds_to_it(tiny_env, base_checkpoint,
                                                             tmp_path):
    _runner(tmp_path, base_checkpoint, max_iters=2).train()
    first = _cost(tmp_path)
    assert first['finished'] and first['iterations'] == 2 and first['max_iters'] == 2
    assert not first['stopped_early'] and first['train_seconds'] > 0
    assert [v['iter'] for v in first['validations']] == [2]
    assert 'coco/bbox_mAP' in first['validations'][0]['metrics']

    _runner(tmp_path, base_checkpoint, max_iters=4, resume=True).train()  # a second sitting
    cost = _cost(tmp_path)
    assert cost['iterations'] == 4 and cost['max_iters'] == 4
    assert [v['iter'] for v in cost['validations']] == [2, 4]  # the first sitting's kept
    assert cost['validations'][0] == first['validations'][0]
    assert cost['train_seconds'] > first['train_seconds']
    seconds = [v['seconds'] for v in cost['validations']]
    assert seconds == sorted(seconds) and seconds[-1] <= cost['train_seconds']
    best = cost['best']
    aps = [v['metrics']['coco/bbox_mAP'] for v in cost['validations']]
    assert best['key'] == 'coco/bbox_mAP' and best['metrics']['coco/bbox_mAP'] == max(aps)
    assert best['iter'] == cost['validations'][aps.index(max(aps))]['iter']


def test_a_run_stopped_by_early_stopping_says_so(tiny_env, base_checkpoint, tmp_path):
    runner = _runner(tmp_path, base_checkpoint, max_iters=8)
    runner.register_hook(dict(type='EarlyStoppingHook', monitor='coco/bbox_mAP',
                              patience=1, min_delta=10.0))  # no validation improves by 10
    runner.train()
    cost = _cost(tmp_path)
    assert cost['stopped_early'] and cost['iterations'] < 8 and cost['max_iters'] == 8
