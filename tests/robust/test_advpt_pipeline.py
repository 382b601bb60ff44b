"""AdvPT for a grounding detector, end to end on a tiny budget: attack (the training images
of a ShapeWorld dataset, once, against the frozen base, by the run itself or by
tools/make_adversarial.py for any config: the same images) -> cache (the prefix cache keeps
their features) -> tune (SDPT with the normal detection loss) -> robust evaluation (the
adaptive attack with the tuned prompts in the loop, and the transfer attack from the base).
Behaviour, not figures."""
import glob
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
from PIL import Image

from tests.helpers import ROOT, run_tool

pytestmark = pytest.mark.slow
CONFIG = osp.join(ROOT, 'configs', 'robust', 'tiny-glip_shapeworld_advpt.py')
SDPT = osp.join(ROOT, 'configs', 'sdpt', 'tiny-glip_shapeworld.py')


def _pixels(path):
    return np.asarray(Image.open(path).convert('RGB')).astype(int)


def _first_loss(work_dir):
    scalars = glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))[0]
    return [json.loads(line) for line in open(scalars) if '"loss"' in line][0]['loss']


def test_attack_cache_tune_and_robust_evaluation(tmp_path):
    clean_root, adv_root = tmp_path / 'clean', tmp_path / 'adv'
    env = dict(os.environ, ODINW_DATASET='Thermal', ODINW_ROOT=str(clean_root),
               SW_SCHEDULE='short', OMP_NUM_THREADS='1')
    # the attacked copy of the data, for any config (tools/make_adversarial.py)
    made = run_tool('make_adversarial.py', SDPT, '--out', str(adv_root), '--eps', '8',
                    '--steps', '10', env=env)
    assert made.returncode == 0, made.stderr[-3000:]

    # the K-shot training images moved, within eps; every other file as it was
    moved, others = [], []
    for path in glob.glob(str(clean_root / 'Thermal' / '**' / '*.png'), recursive=True):
        diff = np.abs(_pixels(path) - _pixels(path.replace(str(clean_root), str(adv_root))))
        (moved if diff.max() > 0 else others).append((path, diff.max()))
    shots = json.load(open(glob.glob(str(adv_root / 'Thermal' / 'train' / 'fewshot*'))[0]))
    assert len(moved) == len(shots['images']) > 0
    assert all(d <= 8 for _, d in moved) and all('/train/' in p for p, _ in moved)
    assert len(others) > len(moved)  # the rest of the training split, as it was

    # AdvPT as one config on the clean data: the run attacks its own training images first
    options = ['train_cfg.max_iters=6', 'train_cfg.val_interval=6',
               'default_hooks.checkpoint.interval=6', 'default_hooks.logger.interval=1',
               'model.prefix_cache.log_interval=6']
    work_dir = tmp_path / 'advpt'
    trained = run_tool('train.py', CONFIG, '--work-dir', str(work_dir), '--cfg-options',
                       *options, env=env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    log = open(glob.glob(str(work_dir / '*' / '*.log'))[0]).read()
    assert f'AdvPT: {len(moved)} training images attacked' in log
    manifest = json.load(open(work_dir / 'adversarial' / 'manifest.json'))
    assert manifest['setting'] == dict(eps=8.0, steps=10, seed=0, attack='feature_kl')
    # the same images as the tool's copy, byte for byte (one attack, one seed)
    for clean, adv in manifest['paths'].items():
        copy = clean.replace(str(clean_root), str(adv_root))
        assert open(adv, 'rb').read() == open(copy, 'rb').read()
    # 12 draws of 9 adversarial images: their frozen-prefix features kept, not recomputed
    assert re.search(r'prefix cache \(.*\): [1-9]\d* hits', log), log[-2000:]
    # training read the attacked images: the first step's loss is the one SDPT gets on the
    # attacked copy, not on the clean images
    for name, config, root in (('sdpt_adv', SDPT, adv_root), ('sdpt_clean', SDPT, clean_root)):
        run = run_tool('train.py', config, '--work-dir', str(tmp_path / name), '--cfg-options',
                       'train_cfg.max_iters=1', 'default_hooks.logger.interval=1',
                       env=dict(env, ODINW_ROOT=str(root)))
        assert run.returncode == 0, run.stderr[-3000:]
    assert _first_loss(work_dir) == pytest.approx(_first_loss(tmp_path / 'sdpt_adv'), rel=1e-4)
    assert _first_loss(work_dir) != pytest.approx(_first_loss(tmp_path / 'sdpt_clean'),
                                                  rel=1e-4)
    # a resumed run reuses the attacked images
    resumed = run_tool('train.py', CONFIG, '--work-dir', str(work_dir), '--resume',
                       '--cfg-options', *options[1:], 'train_cfg.max_iters=8', env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'adversarial training images reused' in resumed.stdout + resumed.stderr
    checkpoint = str(work_dir / 'iter_8.pth')

    for attack in ('adaptive', 'transfer'):
        out = run_tool('robust_test.py', CONFIG, checkpoint, '--attack', attack, '--eps', '0',
                       '16', '--steps', '3', '--work-dir', str(tmp_path / 'robust'), env=env)
        assert out.returncode == 0, out.stderr[-3000:]
        ap = json.load(open(tmp_path / 'robust' / f'robust_{attack}.json'))['ap']
        assert set(ap) == {'0', '16'} and ap['16'] < ap['0']
    # a normal adapter checkpoint: tools/test.py takes it
    test = run_tool('test.py', CONFIG, checkpoint, '--work-dir', str(tmp_path / 'test'),
                    env=env)
    assert test.returncode == 0, test.stderr[-3000:]
