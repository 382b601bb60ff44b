"""AdvPT for a grounding detector, end to end on a tiny budget: attack (the training images
of a ShapeWorld dataset, once, against the frozen base) -> cache (the prefix cache keeps
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


def _pixels(path):
    return np.asarray(Image.open(path).convert('RGB')).astype(int)


def test_attack_cache_tune_and_robust_evaluation(tmp_path):
    clean_root, adv_root = tmp_path / 'clean', tmp_path / 'adv'
    env = dict(os.environ, ODINW_DATASET='Thermal', ODINW_ROOT=str(clean_root),
               SW_SCHEDULE='short', OMP_NUM_THREADS='1')
    made = run_tool('make_adversarial.py', CONFIG, '--out', str(adv_root), '--eps', '8',
                    '--steps', '2', env=env)
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

    adv_env = dict(env, ODINW_ROOT=str(adv_root))
    work_dir = tmp_path / 'advpt'
    trained = run_tool('train.py', CONFIG, '--work-dir', str(work_dir), '--cfg-options',
                       'train_cfg.max_iters=6', 'train_cfg.val_interval=6',
                       'default_hooks.checkpoint.interval=6',
                       'model.prefix_cache.log_interval=6', env=adv_env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    log = open(glob.glob(str(work_dir / '*' / '*.log'))[0]).read()
    # 12 draws of 9 adversarial images: their frozen-prefix features kept, not recomputed
    assert re.search(r'prefix cache \(.*\): [1-9]\d* hits', log), log[-2000:]
    checkpoint = str(work_dir / 'iter_6.pth')

    for attack in ('adaptive', 'transfer'):
        out = run_tool('robust_test.py', CONFIG, checkpoint, '--attack', attack, '--eps', '0',
                       '16', '--steps', '3', '--work-dir', str(tmp_path / 'robust'),
                       env=adv_env)
        assert out.returncode == 0, out.stderr[-3000:]
        ap = json.load(open(tmp_path / 'robust' / f'robust_{attack}.json'))['ap']
        assert set(ap) == {'0', '16'} and ap['16'] < ap['0']
    # a normal adapter checkpoint: tools/test.py takes it
    test = run_tool('test.py', CONFIG, checkpoint, '--work-dir', str(tmp_path / 'test'),
                    env=adv_env)
    assert test.returncode == 0, test.stderr[-3000:]
