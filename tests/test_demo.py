"""The embedded demo: the committed tiny GLIP base, and SDPT learning on the transfer set."""
import hashlib
import os
import os.path as osp

import numpy as np
import pytest
import torch

from tests.helpers import DEMO_CONFIG, ROOT, run_tool

ASSETS = osp.join(ROOT, 'assets', 'demo')


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('demo_data'))
    os.environ['DEMO_DATA'] = path
    yield path
    os.environ.pop('DEMO_DATA')


def test_committed_base_checkpoint_matches_its_sha256():
    line = open(osp.join(ASSETS, 'SHA256SUMS')).read().split()
    digest, name = line[0], line[1]
    assert hashlib.sha256(open(osp.join(ASSETS, name), 'rb').read()).hexdigest() == digest
    meta = torch.load(osp.join(ASSETS, name), weights_only=False)['meta']
    assert meta['command'] and meta['seed'] == 0


def test_sdpt_loss_falls_on_one_fixed_batch(demo_data):
    """A seeded run on one fixed batch of the transfer set, paper mask: the mean loss of
    the last steps is below that of the first steps."""
    from mmdet.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmdet.utils import register_all_modules
    from mmengine.dataset import pseudo_collate
    register_all_modules()  # mmdet as the default scope, as the runner sets it
    cfg = Config.fromfile(DEMO_CONFIG)
    assert cfg.model.tuner.mask == 'paper'
    torch.manual_seed(0)
    np.random.seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(4)]), True)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=cfg.optim_wrapper.optimizer.lr, weight_decay=0)
    losses = []
    for _ in range(12):
        parsed, _ = model.parse_losses(model(**batch, mode='loss'))
        optim.zero_grad()
        parsed.backward()
        optim.step()
        losses.append(parsed.item())
    assert np.mean(losses[-4:]) < np.mean(losses[:4]), losses


@pytest.mark.slow
def test_demo_runs_end_to_end_and_prints_the_comparison(demo_data, tmp_path):
    out = run_tool('train.py', DEMO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
                   'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                   'default_hooks.checkpoint.interval=2')
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert 'zero-shot vs tuned' in log and '| zero-shot |' in log and '| SDPT |' in log
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))
