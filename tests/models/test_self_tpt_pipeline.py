"""Self-TPT end to end on a tiny budget: stage 1 (detection loss + contrastive prompt task +
gradient matching) on a ShapeWorld dataset of known names -> stage 2 from new names alone
(tools/self_tpt_adapt.py, no images) -> evaluation on the dataset that uses those names.
Behaviour, not figures."""
import os
import os.path as osp

import pytest
import torch

from tests.helpers import ROOT, run_tool

pytestmark = pytest.mark.slow
CONFIG = osp.join(ROOT, 'configs', 'self_tpt', 'tiny-glip_shapeworld.py')
ENSEMBLE = osp.join(ROOT, 'configs', 'self_tpt', 'tiny-glip_shapeworld_ensemble.py')


def test_stage_one_then_names_only_stage_two_then_evaluation(tmp_path):
    env = dict(os.environ, ODINW_ROOT=str(tmp_path / 'shapeworld'), SW_SCHEDULE='short',
               OMP_NUM_THREADS='1')
    stage1 = run_tool('train.py', CONFIG, '--work-dir', str(tmp_path / 'stage1'),
                      '--cfg-options', 'train_cfg.max_iters=3', 'train_cfg.val_interval=3',
                      'default_hooks.checkpoint.interval=3', 'default_hooks.logger.interval=1',
                      env=dict(env, ODINW_DATASET='Thermal'))
    assert stage1.returncode == 0, stage1.stderr[-3000:]
    log = (stage1.stdout + stage1.stderr)
    assert 'loss_cpt' in log and 'loss_gm' in log and 'cos_cpt_task' in log
    first = str(tmp_path / 'stage1' / 'iter_3.pth')

    out = str(tmp_path / 'stage2.pth')
    stage2 = run_tool('self_tpt_adapt.py', CONFIG, first, '--names', 'ball', 'box', 'cone',
                      'plus', '--steps', '5', '--out', out, env=env)
    assert stage2.returncode == 0, stage2.stderr[-3000:]
    meta = torch.load(out, weights_only=True)['meta']
    assert meta['self_tpt_stage2']['names'] == ['ball', 'box', 'cone', 'plus']
    assert meta['self_tpt_stage2']['cpt_after'] < meta['self_tpt_stage2']['cpt_before']
    key = 'language_model.self_tpt.context'
    moved = torch.load(out, weights_only=True)['state_dict'][key]
    assert not torch.equal(moved, torch.load(first, weights_only=True)['state_dict'][key])

    test = run_tool('test.py', CONFIG, out, '--work-dir', str(tmp_path / 'test'),
                    env=dict(env, ODINW_DATASET='Synonyms'))
    assert test.returncode == 0, test.stderr[-3000:]
    # the K-template ensemble, training-free, on the same adapter and on the base
    for target in (out, '--zero-shot'):
        ensemble = run_tool('test.py', ENSEMBLE, target, '--work-dir',
                            str(tmp_path / 'ensemble'), env=dict(env, ODINW_DATASET='Synonyms'))
        assert ensemble.returncode == 0, ensemble.stderr[-3000:]
        assert 'TemplateEnsembleHook' in ensemble.stdout + ensemble.stderr
    refused = run_tool('self_tpt_adapt.py', osp.join(ROOT, 'configs', 'sdpt',
                                                     'tiny-glip_shapeworld.py'), first,
                       '--names', 'a', 'b', '--out', str(tmp_path / 'x.pth'), env=env)
    assert refused.returncode != 0 and 'not SelfTPT' in refused.stderr
