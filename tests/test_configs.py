"""The shipped configs: they load, inherit mmdet's GLIP, and are set up for tuning."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from tests.conftest import ROOT, TINY_CONFIG

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'sdpt', '*.py')))
GLIP_T_PARAMS = 231_759_662  # mmdet GLIP-T, BERT-base config (benchmarks/param_count.py)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_is_set_up_for_tuning(path, tiny_env):
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'TunedDetector' and cfg.model.detector_type == 'GLIP'
    assert cfg.model.bbox_head.early_fuse  # the GLIP variant with fusion layers
    # reentrant checkpointing would starve the prompts of gradients
    assert cfg.model.bbox_head.use_checkpoint is False
    assert cfg.load_from is None  # base weights come from model.base_checkpoint
    assert cfg.optim_wrapper.constructor == 'TrainableOptimWrapperConstructor'
    assert {h['type'] for h in cfg.custom_hooks} >= {'FrozenSetHook', 'AdapterCheckpointHook'}
    assert 'mmdet_sdpt' in cfg.custom_imports['imports']


@pytest.mark.parametrize('name', ['glip_t_coco.py', 'glip_t_odinw.py'])
def test_glip_t_default_budget_is_about_0_04_percent(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sdpt', name))
    tuner = cfg.model.tuner
    layers = cfg.model.bbox_head.get('num_dyhead_blocks', 6) if tuner.layers == 'all' else len(
        tuner.layers)
    fraction = layers * tuner.num_tokens * 2048 / GLIP_T_PARAMS
    assert 0.0003 < fraction < 0.0005


def test_paths_are_variables_a_user_overrides(monkeypatch):
    monkeypatch.setenv('BERT_DIR', '/models/bert')
    monkeypatch.setenv('GLIP_CKPT', '/models/glip.pth')
    monkeypatch.setenv('ODINW_DATASET', 'Raccoon')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sdpt', 'glip_t_odinw.py'))
    assert cfg.model.language_model.name == cfg.model.bbox_head.lang_model_name == '/models/bert'
    assert cfg.model.base_checkpoint == '/models/glip.pth'
    assert cfg.train_dataloader.dataset.name == 'Raccoon'
    assert cfg.work_dir.endswith('Raccoon')


def test_configs_register_through_custom_imports_alone(tiny_env):
    """A fresh interpreter that never imports mmdet_sdpt builds the tuned model."""
    code = ('from mmengine.config import Config; from mmengine.registry import '
            'init_default_scope; import sys; cfg = Config.fromfile(sys.argv[1]); '
            "init_default_scope('mmdet'); from mmdet.registry import MODELS; "
            'm = MODELS.build(cfg.model); print(type(m).__name__, type(m.tuner).__name__)')
    out = subprocess.run([sys.executable, '-c', code, TINY_CONFIG], capture_output=True,
                         text=True, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith('GLIP SDPT')
