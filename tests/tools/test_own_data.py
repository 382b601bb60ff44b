"""A user's own data through the protocol tools with no code of theirs: a folder in GLIP's
ODinW layout is the suite (`--suite path`), the preflight stops bad data before anything
trains, a suite registered in a module is found through `--import`, and the real protocol
(2 methods, 1 shot, a tiny budget) plus tools/collect_results.py run on it."""
import csv
import os
import os.path as osp
import subprocess
import sys

import pytest

from tests.helpers import ROOT, write_folder_suite

TOOL = osp.join(ROOT, 'tools', 'fewshot_protocol.py')
COLLECT = osp.join(ROOT, 'tools', 'collect_results.py')
SDPT = osp.join(ROOT, 'configs', 'sdpt', 'tiny-glip_shapeworld.py')
FULL = osp.join(ROOT, 'configs', 'baselines', 'full', 'tiny-glip_shapeworld.py')
MINE = {'Kitchen': (('mug', 'plate', 'spoon'), (2, 1, 1)),
        'Garage': (('wrench', 'tyre'), (2, 1, 1))}


def env(**extra):
    e = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1', **extra)
    for name in ('ODINW_SUITE', 'ODINW_ROOT', 'SW_SCHEDULE', 'ODINW_SUITE_IMPORTS'):
        e.pop(name, None)
    return e


def run(args, timeout=300, **extra):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env(**extra), text=True,
                          capture_output=True, timeout=timeout)


@pytest.mark.slow
def test_an_unknown_suite_and_bad_data_are_named_before_anything_runs(tmp_path):
    out = run([TOOL, SDPT, '--suite', 'kitchen', '--dry-run'])
    assert out.returncode == 2
    assert "unknown suite 'kitchen'" in out.stderr and 'pass its path' in out.stderr

    root = write_folder_suite(tmp_path / 'mine', MINE)
    os.remove(osp.join(root, 'Garage', 'valid', 'annotations_without_background.json'))
    work = str(tmp_path / 'work')
    out = run([TOOL, SDPT, '--suite', root, '--shots', '1', '3', '--seeds', '3',
               '--work-root', work, '--no-lr-sweep'])
    assert out.returncode == 1, out.stdout + out.stderr
    assert 'preflight: 3 problems in the data' in out.stdout, out.stdout
    assert osp.join(root, 'Garage', 'valid', 'annotations_without_background.json') + \
        ': missing; fix: put the split there' in out.stdout
    assert '3-shot needs 3 train images of each class' in out.stdout
    assert 'nothing was run' in out.stderr and not osp.exists(work)
    dry = run([TOOL, SDPT, '--suite', root, '--shots', '1', '--seeds', '3', '--work-root',
               work, '--no-lr-sweep', '--dry-run'])
    assert dry.returncode == 0 and 'preflight: 1 problems in the data' in dry.stdout
    assert 'todo  tiny-glip sdpt / Kitchen / 1-shot, seed 3' in dry.stdout


@pytest.mark.slow
def test_a_suite_registered_in_a_module_is_found_through_import(tmp_path):
    root = write_folder_suite(tmp_path / 'mine', MINE)
    (tmp_path / 'my_suites.py').write_text(
        'from mmdet_sdpt.datasets import register_suite\n'
        'from mmdet_sdpt.datasets.suites import folder_suite\n\n\n'
        "@register_suite('kitchen')\n"
        'def _kitchen():\n'
        f'    return folder_suite({root!r})\n')
    path = os.pathsep.join([str(tmp_path), ROOT])
    out = run([TOOL, SDPT, '--suite', 'kitchen', '--import', 'my_suites', '--shots', '1',
               '--seeds', '3', '--work-root', str(tmp_path / 'w'), '--no-lr-sweep',
               '--dry-run'], PYTHONPATH=path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert '4 runs of suite kitchen' in out.stdout and 'preflight: the data of every run' \
        in out.stdout
    collect = run([COLLECT, str(tmp_path / 'w'), '--suite', 'kitchen'], PYTHONPATH=path)
    assert 'unknown suite' in collect.stderr  # not imported: named, with the ways out


@pytest.mark.slow
@pytest.mark.skipif(not osp.isfile(osp.join(ROOT, 'assets', 'shapeworld',
                                            'tiny-glip_shapeworld_base.pth')),
                    reason='the committed ShapeWorld base is missing')
def test_the_protocol_runs_on_a_users_folder_with_no_code(tmp_path):
    root = write_folder_suite(tmp_path / 'mine', MINE)
    work = str(tmp_path / 'work')
    out = run([TOOL, SDPT, FULL, '--suite', root, '--shots', '1', '--seeds', '3',
               '--work-root', work, '--no-lr-sweep', '--cfg-options',
               'train_cfg.max_epochs=2'], timeout=1200)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert '6 runs of suite ' + root in out.stdout  # 2 zero-shot + 2 methods x 2 datasets
    with open(osp.join(work, 'results.csv')) as f:
        rows = list(csv.DictReader(f))
    ap = {(r['method'], r['dataset']) for r in rows if r['quantity'] == 'ap'}
    for method in ('tiny-glip sdpt', 'tiny-glip full', 'tiny-glip zero-shot'):
        assert {(method, 'Kitchen'), (method, 'Garage')} <= ap
    md = open(osp.join(work, 'results.md')).read()
    assert 'average over 2/2 datasets of ' + root in md
    assert 'there is no retention split in this suite' in md and 'base AP kept (%)' not in md

    collect = run([COLLECT, work, '--suite', osp.relpath(root, ROOT), '--out',
                   str(tmp_path / 'again')])
    assert collect.returncode == 0, collect.stderr[-2000:]
    assert open(str(tmp_path / 'again.md')).read().startswith(md.split('\n## Cost')[0][:200])


def coco_layout(root):
    """The folder dataset as a plain COCO one: <root>/{train,val,test}.json + image folders."""
    kitchen = osp.join(write_folder_suite(root, {'Kitchen': MINE['Kitchen']}), 'Kitchen')
    for split, name in (('train', 'train'), ('valid', 'val'), ('test', 'test')):
        os.rename(osp.join(kitchen, split), osp.join(kitchen, name))
        os.rename(osp.join(kitchen, name, 'annotations_without_background.json'),
                  osp.join(kitchen, name + '.json'))
    return kitchen + '/'


@pytest.mark.slow
@pytest.mark.parametrize('detector', ['glip', 'gdino'])
def test_the_readmes_own_dataset_config_trains_and_tests_as_written(tmp_path, detector):
    """docs/own_data.md's block, copied as a user would (paths filled in), on a dataset the
    test writes: trains on the committed tiny base and its best-on-valid adapter tests."""
    page = open(osp.join(ROOT, 'docs', 'own_data.md')).read()
    block = page.split('<!-- own-data:begin -->')[1].split('<!-- own-data:end -->')[0]
    config = block.split('```python\n')[1].split('```')[0]
    data = coco_layout(tmp_path / 'data')
    config = config.replace('path/to/mmdet-sdpt', ROOT).replace('data/kitchen/', data)
    if detector == 'gdino':
        config = config.replace('tiny-glip_coco.py', 'tiny-gdino_coco.py')
    (tmp_path / 'kitchen.py').write_text(config)
    work = str(tmp_path / 'work')
    train = run([osp.join(ROOT, 'tools', 'train.py'), str(tmp_path / 'kitchen.py'),
                 '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=2'], timeout=900)
    assert train.returncode == 0, (train.stdout + train.stderr)[-3000:]
    best = [f for f in os.listdir(work) if f.startswith('best_coco_bbox_mAP_epoch_')]
    assert len(best) == 1
    test = run([osp.join(ROOT, 'tools', 'test.py'), str(tmp_path / 'kitchen.py'),
                osp.join(work, best[0]), '--work-dir', work], timeout=600)
    assert test.returncode == 0, (test.stdout + test.stderr)[-3000:]
    assert 'coco/bbox_mAP' in test.stdout + test.stderr
