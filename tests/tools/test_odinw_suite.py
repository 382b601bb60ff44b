"""tools/odinw_suite.sh, without training: stand-ins for dist_train.sh / dist_test.sh (they log
their command line and leave what the real ones leave: a best_*.pth, a test result) and a
collect_results.py that logs, then runs the real one (TOOLS_DIR)."""
import os
import os.path as osp
import shutil
import subprocess

import pytest

from tests.helpers import ROOT

SCRIPT = osp.join(ROOT, 'tools', 'odinw_suite.sh')
CONFIG = osp.join(ROOT, 'configs', 'sdpt', 'glip_t_odinw.py')
ODINW13 = ['AerialMaritimeDrone', 'Aquarium', 'CottontailRabbits', 'EgoHands',
           'NorthAmericaMushrooms', 'Packages', 'PascalVOC', 'pistols', 'pothole', 'Raccoon',
           'ShellfishOpenImages', 'thermalDogsAndPeople', 'VehiclesOpenImages']
EXTRA = ['--amp', '--cfg-options', 'model.tuner.num_tokens=4', 'train_cfg.max_epochs=1']
BEST = 'best_coco_bbox_mAP_epoch_3.pth'
STAMP = '20240101_000000'

WORK_DIR_OF = r'''args=("$@"); for i in "${!args[@]}"; do
    [ "${args[$i]}" = --work-dir ] && wd=${args[$((i + 1))]}; done; mkdir -p "$wd"
'''
FAKES = {
    'dist_train.sh': 'echo "train $ODINW_DATASET $*" >> "$FAKE_LOG"\n' + WORK_DIR_OF +
                     f'[ "${{FAKE_NO_CKPT:-0}}" = 1 ] || touch "$wd/{BEST}"\n',
    'dist_test.sh': 'echo "test $ODINW_DATASET $*" >> "$FAKE_LOG"\n' + WORK_DIR_OF +
                    f'mkdir -p "$wd/{STAMP}"\n'
                    f'echo \'{{"coco/bbox_mAP": 0.5}}\' > "$wd/{STAMP}/{STAMP}.json"\n',
    'collect_results.py': (
        'import os, runpy, sys\n'
        "with open(os.environ['FAKE_LOG'], 'a') as log:\n"
        "    log.write('collect ' + ' '.join(sys.argv[1:]) + '\\n')\n"
        f'runpy.run_path({osp.join(ROOT, "tools", "collect_results.py")!r}, '
        "run_name='__main__')\n"),
}


def run_suite(cwd, fakes, *extra, **env):
    log = osp.join(cwd, 'calls.log')
    if osp.exists(log):
        os.remove(log)
    env = dict(os.environ, TOOLS_DIR=str(fakes), FAKE_LOG=log, PYTHONWARNINGS='ignore',
               ODINW_SUITE='odinw13', **env)
    env.pop('ODINW_DATASET', None)
    res = subprocess.run(['bash', SCRIPT, CONFIG, '2', *extra], cwd=cwd, env=env,
                         capture_output=True, text=True)
    calls = open(log).read().splitlines() if osp.exists(log) else []
    return res, calls


@pytest.fixture(scope='module')
def fakes(tmp_path_factory):
    folder = tmp_path_factory.mktemp('fake_tools')
    for name, body in FAKES.items():
        (folder / name).write_text(('#!/usr/bin/env bash\n' if name.endswith('.sh') else '')
                                   + body)
    return folder


@pytest.fixture(scope='module')
def full_run(fakes, tmp_path_factory):
    cwd = tmp_path_factory.mktemp('suite')
    res, calls = run_suite(cwd, fakes, *EXTRA)
    assert res.returncode == 0, res.stderr[-3000:]
    return cwd, res, calls


def expected_calls(names, extra=EXTRA):
    cfg_options = ' '.join(extra[extra.index('--cfg-options'):])
    calls = []
    for name in names:
        wd = f'./work_dirs/glip_t_odinw/{name}'
        calls.append(f'train {name} {CONFIG} 2 --work-dir {wd} {" ".join(extra)}')
        calls.append(f'test {name} {CONFIG} {wd}/{BEST} 2 --work-dir {wd} {cfg_options}')
    return calls


def test_trains_and_tests_each_odinw13_dataset_then_collects_one_table(full_run):
    cwd, res, calls = full_run
    assert [c.split()[1] for c in calls if c.startswith('train ')] == ODINW13
    root = './work_dirs/glip_t_odinw'
    assert calls == expected_calls(ODINW13) + [
        f'collect {root} --suite odinw13 --out {root}/odinw13']
    table = open(osp.join(cwd, 'work_dirs', 'glip_t_odinw', 'odinw13.md')).read()
    assert all(f'| {name} | 50.0 |' in table for name in ODINW13)
    assert '13/13 datasets of odinw13' in table and 'MISSING' not in table


def test_skip_done_runs_only_the_untested_datasets(full_run, fakes, tmp_path):
    cwd = tmp_path / 'suite'
    shutil.copytree(full_run[0], cwd)
    for name in ('EgoHands', 'pothole'):
        shutil.rmtree(cwd / 'work_dirs' / 'glip_t_odinw' / name / STAMP)
    res, calls = run_suite(cwd, fakes, '--cfg-options', 'a=1', SKIP_DONE='1',
                           RESULTS_OUT='out/table')
    assert res.returncode == 0, res.stderr[-3000:]
    assert calls == expected_calls(['EgoHands', 'pothole'], ['--cfg-options', 'a=1']) + [
        'collect ./work_dirs/glip_t_odinw --suite odinw13 --out out/table']
    assert res.stdout.count('tested: skipped') == 11
    assert osp.isfile(cwd / 'out' / 'table.md')


def test_stops_when_training_leaves_no_best_checkpoint(fakes, tmp_path):
    res, calls = run_suite(tmp_path, fakes, FAKE_NO_CKPT='1')
    assert res.returncode != 0
    assert 'no best_*.pth in ./work_dirs/glip_t_odinw/AerialMaritimeDrone' in res.stderr
    assert calls == [f'train AerialMaritimeDrone {CONFIG} 2 --work-dir '
                     './work_dirs/glip_t_odinw/AerialMaritimeDrone']
