"""configs/baselines/: every config loads; each tuner's tiny config builds and trains."""
import copy
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from tests.helpers import ROOT

BASELINES = osp.join(ROOT, 'configs', 'baselines')
CONFIGS = sorted(glob.glob(osp.join(BASELINES, '*', '*.py')))
TUNER_OF = {'linear_prob': 'LinearProbe', 'language_prompt_v2': 'LanguagePromptV2',
            'bitfit': 'BitFit', 'lora': 'LoRA'}
# prompts at SDPT's insertion point made another way: their configs state SDPT's shared knobs
COUPLED = {'maple': 'MaPLe', 'upt': 'UPT', 'mudpt': 'MuDPT'}
TUNER_OF.update(COUPLED)
# seed-paper methods on SDPT's tokens / insertion point (SDPT subclasses): SDPT's knobs too
SEED_PAPERS = {'sep': 'SEP', 'pre': 'PRE'}
TUNER_OF.update(SEED_PAPERS)
ABLATIONS = ('sdpt_image_only', 'sdpt_text_only', 'sdpt_no_inverse', 'sdpt_reference_recipe',
             'sdpt_last1')
ALL_TUNERS = dict(TUNER_OF, full='FullFineTuning', **{a: 'SDPT' for a in ABLATIONS})
# VPT in the Swin backbone (its own num_tokens / init knobs); VPT-shallow without a tiny row
TUNER_OF['vpt'] = ALL_TUNERS['vpt'] = ALL_TUNERS['vpt_shallow'] = 'VPT'
# SPT-style prototype initialisation: init='prototype' plus PrototypeInitHook
SPT_INIT = {'sdpt_spt_init': 'SDPT', 'vpt_spt_init': 'VPT'}
ALL_TUNERS.update(SPT_INIT)
ROWS = ('glip_t_coco.py', 'glip_t_odinw.py', 'demo_tiny-glip_synthetic.py')
# GLIP's own modes also have SDPT's LVIS and GLIP-L rows
GLIP_MODES = ('full', 'linear_prob', 'language_prompt_v2')
MODE_ROWS = ('glip_t_lvis.py', 'glip_l_coco.py', 'glip_l_lvis.py', 'glip_l_odinw.py')
# the leaderboard's methods on the generated ShapeWorld suite (benchmarks/leaderboard.py)
LEADERBOARD = ('full', 'linear_prob', 'language_prompt_v2', 'lora', 'bitfit', 'maple', 'mudpt',
               'sdpt_last1')


def _name(path):
    return osp.relpath(path, BASELINES)


# the methods with a recipe of GLIP's own few-shot protocol (tests/benchmarks/test_configs.py)
GLIP_RECIPES = ('full', 'language_prompt_v2', 'linear_prob')


def test_every_tuner_has_every_row():
    found = {_name(p) for p in CONFIGS}
    assert found == ({f'{m}/{row}' for m in ALL_TUNERS for row in ROWS}
                     | {f'{m}/tiny-glip_shapes.py' for m in TUNER_OF}
                     | {f'{m}/{row}' for m in GLIP_MODES for row in MODE_ROWS}
                     | {f'{m}/tiny-glip_shapeworld.py' for m in LEADERBOARD}
                     | {'full/tiny-gdino_shapeworld.py'}
                     | {f'{m}/glip_t_odinw_fewshot.py' for m in GLIP_RECIPES})


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_loads_with_its_tuner_replacing_sdpt(path, tiny_env):
    cfg = Config.fromfile(path)
    method = osp.basename(osp.dirname(path))
    assert cfg.model.tuner.type == ALL_TUNERS[method]
    if method in COUPLED or method in SEED_PAPERS:  # no SDPT-only knob leaks past _delete_
        assert not {'projection', 'streams', 'extra_trainable'} & set(cfg.model.tuner)
    elif ALL_TUNERS[method] == 'VPT':  # VPT's own num_tokens / init; no SDPT knob leaks
        assert not {'mask', 'layers', 'streams', 'projection'} & set(cfg.model.tuner)
    elif method not in ABLATIONS and method not in SPT_INIT:  # no knob leaks past _delete_
        assert not {'num_tokens', 'mask', 'layers', 'init'} & set(cfg.model.tuner)
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert {'FrozenSetHook', 'AdapterCheckpointHook'} <= set(hooks)
    if method in SPT_INIT:  # prototypes set by the hook, the inherited hooks kept
        assert cfg.model.tuner.init == 'prototype' and 'PrototypeInitHook' in hooks
    assert cfg.model.type == 'TunedDetector'
    if 'gdino' not in osp.basename(path):  # GLIP's head: no activation checkpointing
        assert cfg.model.bbox_head.use_checkpoint is False
    assert cfg.load_from is None
    assert cfg.optim_wrapper.constructor == 'TrainableOptimWrapperConstructor'
    if method == 'language_prompt_v2':  # GLIP's prompt-tuning solver
        assert cfg.optim_wrapper.optimizer.lr == 0.05
        assert cfg.optim_wrapper.optimizer.weight_decay == 0.25


def _optimizer(cfg, model):
    from mmdet_sdpt.engine import TrainableOptimWrapperConstructor
    wrapper = copy.deepcopy(cfg.optim_wrapper)
    wrapper.pop('constructor')
    paramwise = wrapper.pop('paramwise_cfg', None) or None
    return TrainableOptimWrapperConstructor(wrapper, paramwise)(model).optimizer


@pytest.mark.parametrize('method', sorted(TUNER_OF))
def test_tiny_config_builds_with_a_trainable_set(method, tiny_cfg):
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(BASELINES, method, 'tiny-glip_shapes.py'))
    model = MODELS.build(cfg.model)
    assert type(model.tuner).__name__ == TUNER_OF[method]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and trainable == {n for n, _ in model.named_parameters()
                                       if model.tuner.trainable(n)}
    params = {id(p): n for n, p in model.named_parameters()}
    groups = _optimizer(cfg, model).param_groups
    assert {params[id(p)] for g in groups for p in g['params']} == trainable
    if method == 'linear_prob':  # GLIP's solver: tensors named '*bias*' get 2x LR, no decay
        for g in groups:
            for p in g['params']:
                is_bias = 'bias' in params[id(p)]
                assert g['lr'] == pytest.approx(2e-4 if is_bias else 1e-4), params[id(p)]
                assert g['weight_decay'] == (0.0 if is_bias else 0.05), params[id(p)]


@pytest.mark.parametrize('row', MODE_ROWS)
@pytest.mark.parametrize('method', GLIP_MODES)
def test_glip_modes_lvis_and_glip_l_rows_match_sdpts_row(method, row, tiny_env, monkeypatch):
    """Same model (but the tuner), data, schedule and evaluation as configs/sdpt/<row>."""
    monkeypatch.setenv('ODINW_DATASET', 'Raccoon')
    ours = Config.fromfile(osp.join(BASELINES, method, row))
    sdpt = Config.fromfile(osp.join(ROOT, 'configs', 'sdpt', row))
    assert ours.model.tuner.type == ALL_TUNERS[method]
    for key in ('train_dataloader', 'test_dataloader', 'test_evaluator', 'train_cfg'):
        assert ours[key] == sdpt[key], key
    strip = lambda m: {k: v for k, v in m.items() if k != 'tuner'}  # noqa: E731
    assert strip(ours.model) == strip(sdpt.model)
    assert ours.model.backbone.embed_dims == (192 if row.startswith('glip_l') else 96)
