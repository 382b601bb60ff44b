"""mmdet_sdpt/engine/lr_sweep.py: the sweep's runs (rates, layout, trained only), the choice
(the best mean valid AP over the sweep's datasets, ties to the recipe, never a test result)
and its application to the grid."""
import glob
import json
import os
import os.path as osp

import pytest

from mmdet_sdpt.engine import lr_sweep, protocol
from tests.helpers import ROOT

SDPT = osp.join(ROOT, 'configs', 'sdpt', 'tiny-glip_shapeworld.py')
LORA = osp.join(ROOT, 'configs', 'baselines', 'lora', 'tiny-glip_shapeworld.py')


def finish(run, valid, test=None):
    """A trained sweep run: its cost.json's best valid AP (and, to check that it is never
    read, a test result)."""
    os.makedirs(run.work_dir, exist_ok=True)
    open(osp.join(run.work_dir, protocol.TRAINED), 'w').write('trained\n')
    with open(osp.join(run.work_dir, 'cost.json'), 'w') as f:
        json.dump(dict(best=dict(key='coco/bbox_mAP', epoch=3,
                                 metrics={'coco/bbox_mAP': valid})), f)
    if test is not None:
        stamp = osp.join(run.work_dir, '20260101_000000')
        os.makedirs(stamp)
        json.dump({'coco/bbox_mAP': test}, open(osp.join(stamp, '20260101_000000.json'), 'w'))


def test_sweep_runs_scale_each_configs_rate_and_are_trained_only(tmp_path):
    runs = lr_sweep.plan_sweep([SDPT, LORA], 'shapeworld', str(tmp_path), ['Synonyms', 'Aerial'],
                               shot=3, seed=3)
    assert len(runs) == 2 * 3 * 2 and not any(r.zero_shot for r in runs)
    lrs = {(r.method, r.dataset): [] for r in runs}
    for r in runs:
        lrs[(r.method, r.dataset)].append(r.cfg_options[lr_sweep.LR_KEY])
        assert r.retention is None and not r.evaluate and (r.shot, r.seed) == (3, 3)
        assert r.work_dir.startswith(osp.join(str(tmp_path), 'lr_sweep', 'x'))
    assert lrs[('sdpt', 'Synonyms')] == pytest.approx([0.05 / 3, 0.05, 0.15])
    assert lrs[('lora', 'Aerial')] == pytest.approx([1e-3 / 3, 1e-3, 3e-3])
    assert len({r.work_dir for r in runs}) == len(runs) and len({r.name for r in runs}) == len(runs)
    run = runs[0]
    assert not protocol.done(run)
    os.makedirs(run.work_dir)
    open(osp.join(run.work_dir, protocol.TRAINED), 'w').close()
    assert protocol.done(run)  # no test, no retention: trained is done


def test_choice_is_the_best_mean_on_valid_never_test(tmp_path):
    runs = lr_sweep.plan_sweep([SDPT, LORA], 'shapeworld', str(tmp_path), ['Synonyms', 'Aerial'],
                               shot=3, seed=3)
    valid = {  # (method, factor index) -> valid AP on (Synonyms, Aerial)
        ('sdpt', 0): (0.50, 0.10), ('sdpt', 1): (0.40, 0.30), ('sdpt', 2): (0.70, 0.05),
        ('lora', 0): (0.30, 0.30), ('lora', 1): (0.30, 0.30), ('lora', 2): (0.20, 0.10)}
    for r in runs:
        i = [0.05 / 3, 0.05, 0.15, 1e-3 / 3, 1e-3, 3e-3].index(
            pytest.approx(r.cfg_options[lr_sweep.LR_KEY])) % 3
        v = valid[(r.method, i)][r.dataset == 'Aerial']
        finish(r, v, test=1.0 - v)  # a test AP that would choose the other way
    choice = lr_sweep.choose(runs)
    sdpt, lora = choice['tiny-glip sdpt'], choice['tiny-glip lora']
    # sdpt: means 0.30, 0.35, 0.375 -> x3; its valid means are reported per factor
    assert sdpt['factor'] == pytest.approx(3.0) and sdpt['lr'] == pytest.approx(0.15)
    assert sdpt['valid'] == {'x0.333': 0.3, 'x1': 0.35, 'x3': 0.375}
    assert sdpt['recipe_lr'] == pytest.approx(0.05)
    # lora: x1/3 and x1 tie at 0.30: the recipe's own rate
    assert lora['factor'] == pytest.approx(1.0) and lora['lr'] == pytest.approx(1e-3)
    assert sorted(sdpt['datasets']) == ['Aerial', 'Synonyms']

    path = lr_sweep.save_choice(str(tmp_path), choice, dict(datasets=['Synonyms']))
    assert lr_sweep.load_choice(str(tmp_path))['choice'] == json.load(open(path))['choice']
    grid = protocol.plan([SDPT, LORA], 'shapeworld', str(tmp_path / 'grid'),
                         datasets=['Thermal'], shots=[10], seeds=[30])
    lr_sweep.apply(grid, choice)
    assert [r.cfg_options.get(lr_sweep.LR_KEY) for r in grid] == [
        None, pytest.approx(0.15), pytest.approx(1e-3)]  # zero-shot: untouched


def test_a_sweep_run_without_a_valid_score_stops_the_choice(tmp_path):
    runs = lr_sweep.plan_sweep([SDPT], 'shapeworld', str(tmp_path), ['Synonyms'], shot=3,
                               seed=3, factors=[1.0, 3.0])
    finish(runs[0], 0.5)
    os.makedirs(runs[1].work_dir)
    with pytest.raises(lr_sweep.SweepError, match='no valid score.*RunCostHook'):
        lr_sweep.choose(runs)


def test_a_grid_run_trained_at_another_rate_is_not_reused(tmp_path):
    grid = protocol.plan([SDPT], 'shapeworld', str(tmp_path), datasets=['Thermal'], shots=[3],
                         seeds=[3], zero_shot=False)
    run, = grid
    os.makedirs(run.work_dir)
    open(osp.join(run.work_dir, protocol.TRAINED), 'w').close()
    with open(osp.join(run.work_dir, 'tiny-glip_shapeworld.py'), 'w') as f:
        f.write('optim_wrapper = dict(optimizer=dict(lr=0.05))\n')  # as mmengine dumps it
    lr_sweep.apply(grid, {'tiny-glip sdpt': dict(lr=0.05)})  # the same rate: kept
    with pytest.raises(lr_sweep.SweepError, match=r'trained at lr 0.05, but the sweep chose '
                       r'0.15: delete .*shot3_seed3'):
        lr_sweep.apply(grid, {'tiny-glip sdpt': dict(lr=0.15)})


def test_the_grid_reuses_the_sweep_run_at_the_chosen_rate(tmp_path):
    sweep = lr_sweep.plan_sweep([SDPT], 'shapeworld', str(tmp_path), ['Synonyms'], shot=3,
                                seed=3, factors=[1.0, 3.0])
    for r, valid in zip(sweep, (0.2, 0.6)):
        finish(r, valid)
        open(osp.join(r.work_dir, 'best_coco_bbox_mAP_epoch_2.pth'), 'w').write(r.work_dir)
    grid = protocol.plan([SDPT], 'shapeworld', str(tmp_path), datasets=['Synonyms', 'Aerial'],
                         shots=[3, 10], seeds=[3], zero_shot=False)
    choice = lr_sweep.choose(sweep)
    lr_sweep.apply(grid, choice)
    assert lr_sweep.reuse(grid, sweep, choice, log=lambda *_: None) == 1
    same = [r for r in grid if (r.dataset, r.shot) == ('Synonyms', 3)][0]
    # the x3 run (chosen), not the x1 one; the others train
    assert open(protocol.best_checkpoint(same.work_dir)).read() == sweep[1].work_dir
    assert [protocol.trained(r) for r in grid] == [r is same for r in grid]
    assert not protocol.tested(same) and not glob.glob(same.work_dir + '.copying')
    assert lr_sweep.reuse(grid, sweep, choice) == 0  # once
    # a sweep run restored from an archive of results (no checkpoint): the grid trains
    other = [r for r in grid if (r.dataset, r.shot) == ('Synonyms', 10)][0]
    sweep[1].shot = other.shot
    os.remove(osp.join(sweep[1].work_dir, 'best_coco_bbox_mAP_epoch_2.pth'))
    assert lr_sweep.reuse(grid, sweep, choice) == 0 and not osp.exists(other.work_dir)


def test_a_best_rate_at_an_edge_is_swept_past_it_until_inside(tmp_path):
    """x1, x3 chose x3 (an edge): x9 is planned once both trained; x9 best again: x27; x27
    worse: the choice is x9, inside. A method inside from the start gets no more runs, and
    a best at the low edge goes down (x1/3); ``extend`` bounds the steps."""
    plan = dict(suite='shapeworld', work_root=str(tmp_path), datasets=['Synonyms'], shot=3,
                seed=3, factors=[1.0, 3.0])
    valid = {'sdpt': {1: 0.2, 3: 0.4, 9: 0.5, 27: 0.3}, 'lora': {1: 0.6, 3: 0.4, 1 / 3: 0.5}}

    def train(runs):
        for r in runs:
            if not protocol.done(r):
                lr, recipe = r.cfg_options[lr_sweep.LR_KEY], lr_sweep.recipe_lr(r.config)
                factor = next(f for f in valid[r.method] if abs(lr / recipe - f) < 1e-6)
                finish(r, valid[r.method][factor])

    runs = lr_sweep.plan_sweep([SDPT, LORA], extend=3, **plan)
    assert len(runs) == 4  # nothing past an edge before the first runs trained
    train(runs)
    tags = []
    for _ in range(4):
        runs = lr_sweep.plan_sweep([SDPT, LORA], extend=3, **plan)
        tags.append(sorted(r.tag for r in runs))
        train(runs)
    assert len(tags[0]) == 6 and 'lr 0.45 (x9)' in tags[0] and 'lr 0.000333 (x0.333)' in tags[0]
    assert len(tags[1]) == 7 and 'lr 1.35 (x27)' in tags[1]  # lora: x1 now inside
    assert tags[2] == tags[1] == tags[3]  # sdpt's x9 is inside x3, x27: no more
    choice = lr_sweep.choose(runs)
    assert choice['tiny-glip sdpt']['factor'] == pytest.approx(9.0)
    assert choice['tiny-glip sdpt']['valid'] == {'x1': 0.2, 'x3': 0.4, 'x9': 0.5, 'x27': 0.3}
    assert choice['tiny-glip lora']['factor'] == pytest.approx(1.0)
    assert len(lr_sweep.plan_sweep([SDPT, LORA], extend=1, **plan)) == 6  # one step past
    assert len(lr_sweep.plan_sweep([SDPT, LORA], **plan)) == 4  # extend 0: as declared


def test_a_grid_run_at_a_rate_no_longer_chosen_is_moved_aside_to_train_again(tmp_path):
    grid = protocol.plan([SDPT], 'shapeworld', str(tmp_path / 'root'), datasets=['Thermal'],
                         shots=[3], seeds=[3], zero_shot=False)
    run, = grid
    os.makedirs(run.work_dir)
    open(osp.join(run.work_dir, protocol.TRAINED), 'w').close()
    with open(osp.join(run.work_dir, 'tiny-glip_shapeworld.py'), 'w') as f:
        f.write('optim_wrapper = dict(optimizer=dict(lr=0.05))\n')
    aside = str(tmp_path / 'root' / 'superseded')
    lines = []
    lr_sweep.apply(grid, {'tiny-glip sdpt': dict(lr=0.15)}, superseded=aside, log=lines.append)
    moved = osp.join(aside, 'tiny-glip', 'sdpt', 'Thermal', 'shot3_seed3_lr0.05')
    assert osp.isfile(osp.join(moved, protocol.TRAINED)) and not osp.exists(run.work_dir)
    assert not protocol.trained(run) and run.cfg_options[lr_sweep.LR_KEY] == 0.15
    assert 'now chooses 0.15' in lines[0] and moved in lines[0]
