"""The shipped configs: they load, inherit mmdet's GLIP, and are set up for tuning."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from tests.helpers import ROOT, TINY_CONFIG, TINY_GDINO_CONFIG

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'sdpt', '*.py')))
GLIP_T_PARAMS = 231_759_662
GLIP_L_PARAMS = 430_401_824
GDINO_T_PARAMS = 172_932_637  # MM-GDINO-T: 172,977,693


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_is_set_up_for_tuning(path, tiny_env):
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'TunedDetector'
    if cfg.model.detector_type == 'GLIP':
        assert cfg.model.bbox_head.early_fuse  # the GLIP variant with fusion layers
        # reentrant checkpointing would starve the prompts of gradients
        assert cfg.model.bbox_head.use_checkpoint is False
    else:
        assert cfg.model.detector_type == 'GroundingDINO'
        assert cfg.model.encoder.num_cp == 0  # fairscale checkpointing: off
        init = cfg.model.backbone.get('init_cfg')
        assert not init or init.get('type') != 'Pretrained'  # no download at init
    assert cfg.load_from is None  # base weights come from model.base_checkpoint
    assert cfg.optim_wrapper.constructor == 'TrainableOptimWrapperConstructor'
    assert {h['type'] for h in cfg.custom_hooks} >= {'FrozenSetHook', 'AdapterCheckpointHook'}
    assert 'mmdet_sdpt' in cfg.custom_imports['imports']
    assert cfg.visualizer.type == 'PromptVisualizer'  # boxes named by the sample's prompt
    # the learning rate is set for the batch a one-process config trains with (mmdet's GLIP
    # bases say 16, for 8 GPUs x 2), and an iteration-based run logs its metrics by
    # iteration (else every validation lands at step 0 in TensorBoard)
    if osp.basename(path).startswith(('tiny', 'demo')):
        assert cfg.auto_scale_lr.base_batch_size == cfg.train_dataloader.batch_size
    if cfg.train_cfg.type == 'IterBasedTrainLoop':
        assert cfg.default_hooks.logger.log_metric_by_epoch is False
        assert cfg.log_processor.by_epoch is False


# total parameters at full size, random weights, BERT-base config (benchmarks/param_count.py),
# fusion width D, fusion layers; by detector and number of fusion layers
FULL_SIZE = {('GLIP', 6): (GLIP_T_PARAMS, 2048, 6), ('GLIP', 8): (GLIP_L_PARAMS, 2048, 8),
             ('GroundingDINO', 6): (GDINO_T_PARAMS, 1024, 6)}


def _fusion_layers(cfg):
    if cfg.model.detector_type == 'GLIP':
        return cfg.model.bbox_head.get('num_dyhead_blocks', 6)
    return cfg.model.encoder.num_layers


@pytest.mark.parametrize('path', [p for p in CONFIGS if 'tiny' not in p], ids=osp.basename)
def test_default_budget_is_about_0_04_percent(path):
    cfg = Config.fromfile(path)
    total, width, layers = FULL_SIZE[cfg.model.detector_type, _fusion_layers(cfg)]
    tuner = cfg.model.tuner
    layers = layers if tuner.layers == 'all' else len(tuner.layers)
    assert 0.00035 < layers * tuner.num_tokens * width / total < 0.00045


def test_grounding_dino_configs_build_without_fairscale(tiny_env):
    from mmdet.registry import MODELS
    with pytest.raises(ImportError):
        import fairscale  # noqa: F401
    model = MODELS.build(Config.fromfile(TINY_GDINO_CONFIG).model)
    assert model.tuner.prompted


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


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_evaluators_without_ann_file_get_ground_truth(path, tiny_env):
    """CocoMetric without ann_file builds the ground truth from each sample's
    'instances', which PackDetInputs only packs when its meta_keys name them."""
    cfg = Config.fromfile(path)
    for split in ('val', 'test'):
        evaluator = cfg[f'{split}_evaluator']
        if evaluator.get('type') == 'CocoMetric' and not evaluator.get('ann_file'):
            pack = cfg[f'{split}_dataloader'].dataset.pipeline[-1]
            assert pack['type'] == 'PackDetInputs' and 'instances' in pack['meta_keys']
