"""The runner-side pieces: the optimizer constructor, the frozen-set hook, the table."""
import types

import pytest
import torch

from mmdet_sdpt.engine import FrozenSetHook, TrainableOptimWrapperConstructor, trainable_table


def _optim(model, **paramwise):
    return TrainableOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.01)),
        paramwise or None)(model)


def test_optimizer_sees_only_trainable_tensors(build_tiny):
    model = build_tiny()
    for paramwise in ({}, dict(custom_keys={'norm': dict(decay_mult=0.0)})):
        wrapper = _optim(model, **paramwise)
        params = [p for g in wrapper.optimizer.param_groups for p in g['params']]
        assert {id(p) for p in params} == {id(p) for p in model.parameters() if p.requires_grad}


def test_nothing_to_train_is_refused(build_tiny):
    with pytest.raises(ValueError, match='nothing to optimise'):
        _optim(build_tiny(tuner=dict(num_tokens=0)))


def _runner(model, optim_wrapper):
    return types.SimpleNamespace(model=model, optim_wrapper=optim_wrapper, iter=0)


def test_frozen_set_hook_accepts_a_built_model_and_logs_the_table(build_tiny, capsys):
    model = build_tiny()
    FrozenSetHook().before_train(_runner(model, _optim(model)))
    rows = trainable_table(model)
    assert rows[-1][0] == 'all' and rows[-1][1] == f'{2 * 4 * 256:,}'
    assert [r[0] for r in rows if r[0] == 'tuner'] == ['tuner']


def test_frozen_set_hook_catches_a_thawed_tensor(build_tiny):
    model = build_tiny()
    model.backbone.patch_embed.projection.weight.requires_grad_(True)
    with pytest.raises(RuntimeError, match='do not follow the freeze'):
        FrozenSetHook().before_train(_runner(model, None))


def test_frozen_set_hook_catches_frozen_tensors_in_the_optimizer(build_tiny):
    from mmengine.optim import DefaultOptimWrapperConstructor
    model = build_tiny()
    wrapper = DefaultOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-2)))(model)
    with pytest.raises(RuntimeError, match="constructor='TrainableOptimWrapperConstructor'"):
        FrozenSetHook().before_train(_runner(model, wrapper))


def test_frozen_set_hook_catches_frozen_modules_in_training_mode(build_tiny):
    model = build_tiny()
    torch.nn.Module.train(model)  # what a plain train() without our override would do
    with pytest.raises(RuntimeError, match='frozen modules are in training mode'):
        FrozenSetHook().before_train_iter(_runner(model, None), 0)
    model.train()
    FrozenSetHook().before_train_iter(_runner(model, None), 0)


def test_zero_shot_comparison_never_becomes_the_best_checkpoint(tiny_cfg, base_checkpoint,
                                                                tmp_path):
    """The base's evaluation before training calls no hooks: no best_*_iter_0.pth, no
    logged validation at iteration 0; the run's own validation still saves its best."""
    import copy
    import os

    from mmdet_sdpt.engine import ZeroShotComparisonHook, build_runner
    cfg = copy.deepcopy(tiny_cfg)
    cfg.work_dir = str(tmp_path)
    cfg.model.base_checkpoint = base_checkpoint
    cfg.custom_hooks = cfg.custom_hooks + [dict(type='ZeroShotComparisonHook')]
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 2
    cfg.default_hooks.checkpoint.update(interval=2, save_best='coco/bbox_mAP', rule='greater')
    runner = build_runner(cfg)
    runner.train()
    hook, = [h for h in runner.hooks if isinstance(h, ZeroShotComparisonHook)]
    assert hook.zero_shot and 'coco/bbox_mAP' in hook.zero_shot  # it did evaluate the base
    best = [f for f in os.listdir(tmp_path) if f.startswith('best_')]
    assert best == ['best_coco_bbox_mAP_iter_2.pth']
    assert runner.message_hub.get_info('best_score') is not None
    # in the vis backends (TensorBoard's tags): the base under its own tag at step 0, the
    # tuned validation at its iteration (log_metric_by_epoch=False), never at step 0
    import json
    backend = runner.visualizer.get_backend('LocalVisBackend')  # the process's visualizer
    scalars = [json.loads(line) for line in open(backend._scalar_save_file)]
    last = max(i for i, s in enumerate(scalars) if 'zero-shot/coco/bbox_mAP' in s)
    zero, tuned = scalars[last], [s for s in scalars[last:] if 'coco/bbox_mAP' in s]
    assert zero['step'] == 0  # this run's, the newest in the file
    assert zero['zero-shot/coco/bbox_mAP'] == hook.zero_shot['coco/bbox_mAP']
    assert [s['step'] for s in tuned] == [2]
