"""The committed ShapeWorld bases: their sha256, what their meta says, and that each loads
into its ShapeWorld config's model (every base tensor, nothing missing)."""
import hashlib
import os.path as osp

import pytest
import torch

from tests.helpers import ROOT

ASSETS = osp.join(ROOT, 'assets', 'shapeworld')
CONFIGS = {'tiny-glip_shapeworld_base.pth': 'tiny-glip_shapeworld.py',
           'tiny-gdino_shapeworld_base.pth': 'tiny-gdino_shapeworld.py'}


def sums():
    path = osp.join(ASSETS, 'SHA256SUMS')
    if not osp.isfile(path):
        return {}
    return {name: digest for digest, name in (ln.split() for ln in open(path) if ln.strip())}


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_base_matches_its_sha256_and_says_how_it_was_made(name):
    if name not in sums():
        pytest.skip(f'{name} is not committed')
    path = osp.join(ASSETS, name)
    assert hashlib.sha256(open(path, 'rb').read()).hexdigest() == sums()[name]
    assert osp.getsize(path) <= 40 * 2**20  # fp16, at most 40 MiB
    from mmdet_sdpt.checkpoint import load_checkpoint_file
    ckpt = load_checkpoint_file(path)
    meta = ckpt['meta']
    assert meta['seed'] == 0 and meta['config'].startswith('configs/shapeworld/pretrain_')
    assert meta['command'].startswith('python tools/pretrain_demo_base.py --config')
    assert all(v.dtype == torch.float16 for v in ckpt['state_dict'].values()
               if v.is_floating_point())


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_base_loads_into_its_config_model(name):
    if name not in sums():
        pytest.skip(f'{name} is not committed')
    import mmdet_sdpt  # noqa: F401
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sdpt', CONFIGS[name]))
    assert osp.samefile(cfg.model.base_checkpoint, osp.join(ASSETS, name))
    model = MODELS.build(cfg.model)  # loads the base; a missing tensor is an error
    from mmdet_sdpt.checkpoint import load_checkpoint_file
    state = load_checkpoint_file(osp.join(ASSETS, name))['state_dict']
    own = model.state_dict()
    some = sorted(state)[len(state) // 2]
    assert torch.equal(own[some].half(), state[some])
