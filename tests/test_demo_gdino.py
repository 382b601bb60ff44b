"""The demo's Grounding DINO row: the committed tiny Grounding DINO base, its demo config,
zero-shot predictions on the transfer set."""
import hashlib
import os
import os.path as osp

import pytest
import torch

from tests.helpers import ROOT

DEMO_CONFIG = osp.join(ROOT, 'configs', 'sdpt', 'demo_tiny-gdino_synthetic.py')
PRETRAIN_CONFIG = osp.join(ROOT, 'configs', 'demo', 'pretrain_tiny-gdino_shapes.py')
ASSETS = osp.join(ROOT, 'assets', 'demo')
BASE = 'tiny-gdino_shapes_base.pth'


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('demo_data'))
    old = os.environ.get('DEMO_DATA')
    os.environ['DEMO_DATA'] = path
    yield path
    if old is None:
        os.environ.pop('DEMO_DATA')
    else:
        os.environ['DEMO_DATA'] = old


@pytest.fixture(scope='module')
def demo_cfg(demo_data):
    import mmdet_sdpt  # noqa: F401
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()  # mmdet as the default scope, as the runner sets it
    return Config.fromfile(DEMO_CONFIG)


@pytest.fixture(scope='module')
def demo_model(demo_cfg):
    from mmdet.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(demo_cfg.model).eval()


def test_committed_base_matches_its_sha256_line():
    sums = dict(reversed(line.split()) for line in
                open(osp.join(ASSETS, 'SHA256SUMS')).read().splitlines() if line.strip())
    assert {BASE, 'tiny-glip_shapes_base.pth'} <= set(sums)  # one line per base
    path = osp.join(ASSETS, BASE)
    assert hashlib.sha256(open(path, 'rb').read()).hexdigest() == sums[BASE]
    assert os.path.getsize(path) < 20 * 2**20
    checkpoint = torch.load(path, weights_only=False)
    assert checkpoint['meta']['seed'] == 0
    assert 'pretrain_tiny-gdino_shapes.py' in checkpoint['meta']['command']
    assert all(v.dtype != torch.float32 for v in checkpoint['state_dict'].values())


def test_pretraining_and_demo_configs_share_the_model_and_data(demo_cfg):
    from mmengine.config import Config
    pretrain = Config.fromfile(PRETRAIN_CONFIG)
    assert pretrain.model.tuner.type == 'FullFineTuning' and not pretrain.model.base_checkpoint
    assert pretrain.train_dataloader.dataset.part == 'base'
    assert demo_cfg.model.detector_type == 'GroundingDINO'
    assert demo_cfg.model.base_checkpoint.endswith(BASE)
    assert demo_cfg.train_dataloader.dataset.part == 'transfer'
    assert demo_cfg.train_dataloader.batch_size == 4 and demo_cfg.train_cfg.max_iters == 300
    def model(cfg):  # the architecture; with_cp (activation checkpointing) is training only
        return {k: {n: v for n, v in cfg.model[k].items() if n != 'with_cp'} for k in (
            'backbone', 'neck', 'encoder', 'decoder', 'bbox_head', 'language_model')}

    assert model(pretrain) == model(demo_cfg)
    assert {h['type'] for h in demo_cfg.custom_hooks} >= {
        'FrozenSetHook', 'AdapterCheckpointHook', 'ZeroShotComparisonHook'}


def test_demo_builds_on_the_committed_base(demo_model):
    from mmdet_sdpt.adapter import get_tuner
    state = torch.load(osp.join(ASSETS, BASE), weights_only=False)['state_dict']
    own = demo_model.state_dict()
    for name, value in state.items():  # every base tensor loaded (fp16 -> fp32)
        assert torch.equal(own[name], value.to(own[name].dtype)), name
    trainable = {n: p.numel() for n, p in demo_model.named_parameters() if p.requires_grad}
    assert sum(trainable.values()) == 8 * 2 * 256  # K=8 x 2 fusion layers x D 256
    assert get_tuner(demo_model).method == 'SDPT'


def test_zero_shot_predictions_on_two_transfer_test_images(demo_cfg, demo_model):
    """The base, prompts disabled, on the transfer words: it localises the shapes (boxes
    overlap the ground truth), whatever names it gives them."""
    from mmdet.registry import DATASETS
    from mmdet.structures.bbox import bbox_overlaps
    from mmengine.dataset import pseudo_collate

    from mmdet_sdpt.adapter import get_tuner
    dataset = DATASETS.build(demo_cfg.test_dataloader.dataset)
    batch = pseudo_collate([dataset[0], dataset[1]])
    with torch.no_grad(), get_tuner(demo_model).disabled(demo_model):
        results = demo_model.test_step(batch)
    assert len(results) == 2
    for result, sample in zip(results, batch['data_samples']):
        assert result.text == ('ball', 'box', 'cone', 'plus')
        pred = result.pred_instances
        assert len(pred) == demo_cfg.model.test_cfg.max_per_img
        assert ((pred.labels >= 0) & (pred.labels < 4)).all()
        assert ((pred.scores >= 0) & (pred.scores <= 1)).all()
        top = pred.bboxes[pred.scores.argsort(descending=True)[:10]]
        # the test pipeline loads the boxes after resizing: both in the original image
        gt = sample.gt_instances.bboxes.tensor.to(top.dtype)
        assert bbox_overlaps(gt, top).max(dim=1).values.min() > 0.5


def _load(relpath):
    import importlib.util
    spec = importlib.util.spec_from_file_location(osp.basename(relpath)[:-3],
                                                  osp.join(ROOT, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pretrain_tool_names_the_base_after_its_config_and_keeps_other_sums(tmp_path):
    tool = _load('tools/pretrain_demo_base.py')
    assert tool.output_name(tool.CONFIG) == 'tiny-glip_shapes_base.pth'  # the default
    assert tool.output_name(PRETRAIN_CONFIG) == BASE
    assert tool.default_work_dir(tool.CONFIG).endswith(osp.join('work_dirs', 'demo_pretrain'))
    shapeworld = osp.join(ROOT, 'configs', 'shapeworld', 'pretrain_tiny-gdino.py')
    assert tool.output_name(shapeworld) == 'tiny-gdino_shapeworld_base.pth'
    assert tool.default_out(shapeworld) == osp.join(ROOT, 'assets', 'shapeworld',
                                                    'tiny-gdino_shapeworld_base.pth')
    assert tool.default_work_dir(shapeworld).endswith('shapeworld/pretrain_tiny-gdino')
    sums = tmp_path / 'SHA256SUMS'
    sums.write_text('a' * 64 + '  tiny-glip_shapes_base.pth\n')
    tool.update_sha256sums(str(sums), BASE, 'b' * 64)
    tool.update_sha256sums(str(sums), BASE, 'c' * 64)  # replaces its own line only
    assert sums.read_text() == ('a' * 64 + '  tiny-glip_shapes_base.pth\n'
                                + 'c' * 64 + f'  {BASE}\n')


def test_demo_learning_benchmark_has_gdino_rows():
    bench = _load('benchmarks/demo_learning.py')
    assert bench.method_config('sdpt') == bench.SDPT  # the GLIP default, unchanged
    assert bench.method_config('sdpt', 'gdino') == DEMO_CONFIG
    assert bench.available_methods('gdino')[0] == 'sdpt'
    assert all(osp.isfile(bench.method_config(m, 'gdino'))
               for m in bench.available_methods('gdino'))
    assert bench.row_name('sdpt') == 'sdpt'
    assert bench.row_name('zero-shot', 'gdino') == 'gdino: zero-shot'
