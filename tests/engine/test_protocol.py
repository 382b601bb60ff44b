"""tools/fewshot_protocol.py: the plan, what is done, the launcher commands, and the real
pipeline end to end (2 ShapeWorld datasets x 1 shot x 1 seed on the committed tiny GLIP
base: train, best-on-valid, test, retention, collect), killed half-way and resumed."""
import csv
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import pytest

from mmdet_sdpt import protocol
from mmdet_sdpt.leaderboard import newest_result
from tests.helpers import ROOT, load_script

SW_GLIP = osp.join(ROOT, 'configs', 'sdpt', 'tiny-glip_shapeworld.py')
SW_FULL = osp.join(ROOT, 'configs', 'baselines', 'full', 'tiny-glip_shapeworld.py')
TOOL = osp.join(ROOT, 'tools', 'fewshot_protocol.py')


def write_result(folder, metrics, stamp='20260101_120000'):
    os.makedirs(osp.join(folder, stamp), exist_ok=True)
    with open(osp.join(folder, stamp, stamp + '.json'), 'w') as f:
        json.dump(metrics, f)


def test_plan_names_every_run_and_its_work_dir(tmp_path):
    runs = protocol.plan([SW_GLIP, SW_FULL], 'shapeworld', str(tmp_path),
                         datasets=['Synonyms', 'Thermal'], shots=[3, 0], seeds=[3, 30])
    zero = [r for r in runs if r.zero_shot]
    assert [(r.detector, r.dataset) for r in zero] == [('tiny-glip', 'Synonyms'),
                                                       ('tiny-glip', 'Thermal')]
    trained = [r for r in runs if not r.zero_shot]
    assert len(trained) == 2 * 2 * 2 * 2  # methods x datasets x shots x seeds
    assert {r.method for r in trained} == {'sdpt', 'full'}
    by_name = {osp.relpath(r.work_dir, tmp_path) for r in runs}
    assert 'tiny-glip/sdpt/Synonyms/shot3_seed30' in by_name
    assert 'tiny-glip/full/Thermal/full_seed3' in by_name
    assert 'tiny-glip/zero-shot/Thermal' in by_name
    assert all(r.retention == 'BaseShapes' for r in runs)  # the suite names it
    env = trained[0].env()
    assert env['ODINW_SUITE'] == 'shapeworld' and env['ODINW_DATASET'] == 'Synonyms'


def test_plan_refuses_unknown_datasets_and_twin_methods(tmp_path):
    with pytest.raises(KeyError, match="not datasets of suite shapeworld: \\['Raccoon'\\]"):
        protocol.plan([SW_GLIP], 'shapeworld', str(tmp_path), datasets=['Raccoon'])
    with pytest.raises(ValueError, match='distinct `method`'):
        protocol.plan([SW_GLIP, SW_GLIP], 'shapeworld', str(tmp_path))
    # a suite without retention datasets (mmdet's ODinW) plans no retention tests
    odinw = osp.join(ROOT, 'configs', 'sdpt', 'glip_t_odinw_fewshot.py')
    runs = protocol.plan([odinw], 'odinw13', str(tmp_path), datasets=['Raccoon'], shots=[1],
                         seeds=[3], zero_shot=False)
    assert len(runs) == 1 and runs[0].retention is None


def test_launcher_commands_cover_only_the_steps_left(tmp_path):
    run, = [r for r in protocol.plan([SW_GLIP], 'shapeworld', str(tmp_path),
                                      datasets=['Synonyms'], shots=[3], seeds=[30],
                                      zero_shot=False,
                                      cfg_options={'train_cfg.max_iters': 5})]
    steps = protocol.commands(run, 'pytorch', gpus=8)
    assert [s for s, _ in steps] == ['train', 'test', 'retention']
    train = steps[0][1]
    assert train[1].endswith('dist_train.sh') and train[2:4] == [SW_GLIP, '8']
    assert '--resume' in train and 'train_cfg.max_iters=5' in train
    retention = steps[2][1]
    assert '@BEST@' in retention and retention[-2:] == [
        'test_dataloader.dataset.name=BaseShapes', 'test_evaluator.name=BaseShapes']
    assert retention[retention.index('--work-dir') + 1] == osp.join(run.work_dir, 'retention')

    # trained and tested: only the retention test is left
    os.makedirs(run.work_dir)
    open(osp.join(run.work_dir, protocol.TRAINED), 'w').close()
    write_result(run.work_dir, {'coco/bbox_mAP': 0.3})
    assert [s for s, _ in protocol.commands(run, 'pytorch')] == ['retention']
    assert not protocol.done(run)
    write_result(osp.join(run.work_dir, 'retention'), {'coco/bbox_mAP': 0.5})
    assert protocol.done(run) and protocol.commands(run, 'pytorch') == []

    slurm = protocol.commands(protocol.plan([SW_GLIP], 'shapeworld', str(tmp_path / 'b'),
                                            datasets=['Synonyms'], shots=[3], seeds=[3])[0],
                              'slurm', partition='gpu')
    zs_test = slurm[0][1]  # the zero-shot run: no training, the base on purpose
    assert [s for s, _ in slurm] == ['test', 'retention']
    assert zs_test[1].endswith('slurm_test.sh') and zs_test[2] == 'gpu'
    assert '@BASE@' in zs_test and 'model.zero_shot=True' in zs_test
    assert 'method=zero-shot' in zs_test


def test_best_checkpoint_prefers_the_best_on_valid(tmp_path):
    for name in ('iter_10.pth', 'best_coco_bbox_mAP_iter_5.pth', 'iter_5.pth'):
        open(tmp_path / name, 'w').close()
        time.sleep(0.01)
    assert protocol.best_checkpoint(str(tmp_path)).endswith('best_coco_bbox_mAP_iter_5.pth')
    os.remove(tmp_path / 'best_coco_bbox_mAP_iter_5.pth')
    assert protocol.best_checkpoint(str(tmp_path)).endswith('iter_5.pth')  # the newest
    with pytest.raises(FileNotFoundError, match='holds no checkpoint'):
        protocol.best_checkpoint(str(tmp_path / 'empty'))


def _sleeper(env):
    return subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], env=env)


def test_one_protocol_per_work_root_and_a_rerun_stops_leftovers(tmp_path):
    root = str(tmp_path / 'root')
    leftover = _sleeper(dict(os.environ, **{protocol.PROTOCOL_ENV: root}))
    other = _sleeper(dict(os.environ, **{protocol.PROTOCOL_ENV: str(tmp_path / 'other')}))
    try:
        deadline = time.time() + 20
        while leftover.pid not in protocol.pool._processes_marked(root):
            assert time.time() < deadline
            time.sleep(0.1)
        lines = []
        with protocol.session(root, log=lines.append):
            assert leftover.wait(timeout=20) == -signal.SIGKILL  # a killed run's leftover
            assert other.poll() is None  # another work root's process is left alone
            assert os.environ[protocol.PROTOCOL_ENV] == root  # what it starts is marked
            with pytest.raises(protocol.ProtocolInUseError, match=f'pid {os.getpid()}'):
                with protocol.session(root):
                    pass
        assert str(leftover.pid) in lines[0]
        assert protocol.PROTOCOL_ENV not in os.environ
    finally:
        for proc in (leftover, other):
            proc.kill()
            proc.wait()


def test_a_process_that_dies_with_its_parent(tmp_path):
    child = ('import os, sys, time\n'
             'from mmdet_sdpt.protocol import die_with_parent\n'
             'die_with_parent(int(sys.argv[1]))\n'
             'print(os.getpid(), flush=True)\n'
             'time.sleep(120)\n')
    parent = ('import subprocess, sys, os, time\n'
              f'c = subprocess.Popen([sys.executable, "-c", {child!r}, str(os.getpid())])\n'
              'time.sleep(120)\n')
    out = open(tmp_path / 'out', 'w')
    proc = subprocess.Popen([sys.executable, '-c', parent], cwd=ROOT, stdout=out,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while not open(tmp_path / 'out').read().strip():
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.2)
        pid = int(open(tmp_path / 'out').read().split()[0])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(pid)
    finally:
        _kill_group(proc.pid)


def _alive(pid):
    """The process runs (not gone, not a zombie waiting to be reaped)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(') ')[-1][:1] != 'Z'
    except OSError:
        return False


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:  # nothing of it is left
        pass


def _scaled_schedule():
    """--cfg-options scaling GLIP's schedule of the ShapeWorld config to a CI budget: 4
    epochs; the plateau at patience 0 and the stop at patience 2, for both of which any
    validation not 10 AP points above the best counts as worse: epoch 1 is the best, the learning rate is
    cut after epoch 2 and the run stops after epoch 3, one before its max_epochs."""
    from mmengine.config import Config
    cfg = Config.fromfile(SW_GLIP)
    stop, = [i for i, h in enumerate(cfg.custom_hooks)
             if h.type == 'ResumableEarlyStoppingHook']
    return ['train_cfg.max_epochs=4', 'param_scheduler.0.patience=0',
            'param_scheduler.0.threshold=10', 'param_scheduler.0.threshold_rule=abs',
            f'custom_hooks.{stop}.patience=2', f'custom_hooks.{stop}.min_delta=10']


def _tool(work_root, env, *extra):
    return [sys.executable, TOOL, SW_GLIP, '--datasets', 'Synonyms', 'OneClass',
            '--shots', '1', '--seeds', '3', '--work-root', work_root,
            '--lr-factors', '1', '3', '--sweep-datasets', 'Synonyms', *extra,
            '--cfg-options', *_scaled_schedule()]


@pytest.mark.slow
@pytest.mark.skipif(not osp.isfile(osp.join(ROOT, 'assets', 'shapeworld',
                                            'tiny-glip_shapeworld_base.pth')),
                    reason='the committed ShapeWorld base is missing')
def test_the_real_pipeline_killed_resumed_and_collected(tmp_path):
    """GLIP's protocol on a CI budget: the learning-rate sweep (x1, x3 on Synonyms), the
    grid at the chosen rate (the sweep's own run reused), the split repeated, a validation
    each epoch, the plateau, the early stop; best-on-valid tested, retention, collected;
    `kill -9` half-way through the first sweep run and resumed."""
    work_root = str(tmp_path / 'protocol')
    env = dict(os.environ, ODINW_ROOT=str(tmp_path / 'data'), SHAPEWORLD_SCALE='0.25',
               PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    for name in ('ODINW_SUITE', 'SW_SCHEDULE'):
        env.pop(name, None)
    first = osp.join(work_root, 'lr_sweep', 'x1', 'tiny-glip', 'sdpt', 'Synonyms',
                     'shot1_seed3')
    log_file = open(tmp_path / 'first.log', 'w')  # a file: a full pipe would block it
    proc = subprocess.Popen(_tool(work_root, env), cwd=ROOT, env=env, text=True,
                            stdout=log_file, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 400
    while not osp.isfile(osp.join(first, 'epoch_1.pth')):
        assert proc.poll() is None, open(tmp_path / 'first.log').read()[-3000:]
        assert time.time() < deadline, 'no checkpoint in time'
        time.sleep(0.2)
    trainer = int(re.search(r'pid (\d+)', open(osp.join(first, '.train.lock')).read())[1])
    assert trainer != proc.pid  # a worker process trains
    os.kill(proc.pid, signal.SIGKILL)  # `kill -9` of the protocol alone, while it trains
    proc.wait()
    try:  # its worker dies with it
        deadline = time.time() + 20
        while _alive(trainer) and time.time() < deadline:
            time.sleep(0.2)
        assert not _alive(trainer), 'the worker outlived the killed protocol'
    finally:
        _kill_group(proc.pid)  # whatever is left, before the rerun
    assert not osp.isfile(osp.join(first, protocol.TRAINED))

    out = subprocess.run(_tool(work_root, env), cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=1200)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    # resumed where it was killed, epoch 1's validation first (its checkpoint predates it)
    assert 'resumed' in log.lower() and 'whose validation its checkpoint predates' in log
    resumed = json.load(open(osp.join(first, 'cost.json')))
    assert [v['epoch'] for v in resumed['validations']][:2] == [1, 2]

    # the rate: chosen on valid over the sweep, applied to the grid, the sweep's run reused
    choice = json.load(open(osp.join(work_root, 'lr_choice.json')))
    picked = choice['choice']['tiny-glip sdpt']
    assert picked['factor'] in (1.0, 3.0) and set(picked['valid']) == {'x1', 'x3'}
    assert choice['subset'] == dict(datasets=['Synonyms'], shot=1, seed=3, factors=[1.0, 3.0],
                                 extend=0)
    assert 'trained by the sweep' in log and 'learning rate of tiny-glip sdpt: ' in log
    for dataset in ('Synonyms', 'OneClass'):
        run = osp.join(work_root, 'tiny-glip', 'sdpt', dataset, 'shot1_seed3')
        assert newest_result(run) and newest_result(osp.join(run, 'retention'))
        assert any(f.startswith('best_coco_bbox_mAP_epoch_') for f in os.listdir(run))
        cost = json.load(open(osp.join(run, 'cost.json')))
        # stopped early after epoch 3 of 4; trained at the chosen rate, cut by the plateau
        assert cost['stopped_early'] and cost['epochs'] == 3 < cost['max_epochs'] == 4
        rates = [v['lr'] for v in cost['validations']]
        assert rates[0] == pytest.approx(picked['lr']) and rates[2] < rates[1] == rates[0]
        # the retention test is the same model on the base-domain split, kept apart
        target = json.load(open(newest_result(run)))
        kept = json.load(open(newest_result(osp.join(run, 'retention'))))
        assert target['coco/bbox_mAP'] != kept['coco/bbox_mAP'] or target != kept
    # the repeated split: an epoch of the 1-shot run is its images x 8 copies / batch 2
    assert cost['iterations'] % cost['epochs'] == 0 and cost['iterations'] // 3 >= 8 // 2

    with open(osp.join(work_root, 'results.csv')) as f:
        rows = list(csv.DictReader(f))
    ap = {(r['method'], r['dataset']) for r in rows if r['quantity'] == 'ap'}
    assert {('tiny-glip sdpt', 'Synonyms'), ('tiny-glip sdpt', 'OneClass'),
            ('tiny-glip zero-shot', 'Synonyms'), ('tiny-glip zero-shot', 'OneClass')} <= ap
    zero = [r for r in rows if r['method'] == 'tiny-glip zero-shot' and
            r['quantity'] == 'retained' and r['dataset'] == 'Synonyms']
    assert zero and float(zero[0]['mean']) == pytest.approx(1.0)  # by definition
    tuned = [r for r in rows if r['method'] == 'tiny-glip sdpt' and r['quantity'] == 'retained'
             and r['dataset'] != 'average']
    assert len(tuned) == 2 and all(float(r['mean']) > 0 for r in tuned)
    md = open(osp.join(work_root, 'results.md')).read()
    assert '### Leaderboard, 1-shot' in md and '| tiny-glip sdpt |' in md

    # everything done: a third call trains and tests nothing
    grid_run = osp.join(work_root, 'tiny-glip', 'sdpt', 'OneClass', 'shot1_seed3')
    stamps = sorted(os.listdir(grid_run))
    again = subprocess.run(_tool(work_root, env, '--no-collect'), cwd=ROOT, env=env, text=True,
                           capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert '4 runs of suite shapeworld (4 done already)' in again.stdout
    assert sorted(os.listdir(grid_run)) == stamps


@pytest.mark.slow
@pytest.mark.skipif(not osp.isfile(osp.join(ROOT, 'assets', 'shapeworld',
                                            'tiny-glip_shapeworld_base.pth')),
                    reason='the committed ShapeWorld base is missing')
def test_the_seeds_methods_run_the_protocol_like_any_other(tmp_path):
    """AdvPT-SDPT (its run attacks its own training images) and Self-TPT (stage 1 on the
    target's own shots) through the protocol and the leaderboard's method names, with no step
    of their own: trained, best-on-valid tested, retention, collected."""
    lb = load_script('benchmarks', 'leaderboard.py')
    configs = [lb.config_of(m, 'glip') for m in ('advpt_sdpt', 'self_tpt')]
    with pytest.raises(SystemExit, match="no ShapeWorld config of method 'nope'"):
        lb.config_of('nope', 'glip')
    work_root = str(tmp_path / 'protocol')
    env = dict(os.environ, ODINW_ROOT=str(tmp_path / 'data'), SHAPEWORLD_SCALE='0.25',
               PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    for name in ('ODINW_SUITE', 'SW_SCHEDULE'):
        env.pop(name, None)
    out = subprocess.run(
        [sys.executable, TOOL, *configs, '--datasets', 'Synonyms', '--shots', '1', '--seeds',
         '3', '--work-root', work_root, '--no-lr-sweep', '--cfg-options',
         *_scaled_schedule()], cwd=ROOT, env=env, text=True, capture_output=True, timeout=1500)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    for method in ('advpt_sdpt', 'self_tpt'):
        run = osp.join(work_root, 'tiny-glip', method, 'Synonyms', 'shot1_seed3')
        assert newest_result(run) and newest_result(osp.join(run, 'retention'))
        assert any(f.startswith('best_coco_bbox_mAP_epoch_') for f in os.listdir(run))
    manifest = json.load(open(osp.join(work_root, 'tiny-glip', 'advpt_sdpt', 'Synonyms',
                                       'shot1_seed3', 'adversarial', 'manifest.json')))
    assert manifest['paths'] and manifest['setting']['eps'] == 8.0
    with open(osp.join(work_root, 'results.csv')) as f:
        ap = {(r['method'], r['dataset']) for r in csv.DictReader(f) if r['quantity'] == 'ap'}
    assert {('tiny-glip advpt_sdpt', 'Synonyms'), ('tiny-glip self_tpt', 'Synonyms')} <= ap


def test_a_config_inheriting_a_method_is_named_by_its_own_folder(tmp_path):
    """An inherited `method = 'sdpt'` would mislabel a user's variant: only the file's own
    assignment counts, else its folder names it."""
    folder = tmp_path / 'sdpt_k4'
    folder.mkdir()
    (folder / 'tiny.py').write_text(f"_base_ = '{SW_GLIP}'\nmodel = dict(tuner=dict("
                                    "num_tokens=4))\n")
    ident = protocol.config_identity(str(folder / 'tiny.py'))
    assert (ident['detector'], ident['method']) == ('tiny-glip', 'sdpt_k4')
    runs = protocol.plan([SW_GLIP, str(folder / 'tiny.py')], 'shapeworld', str(tmp_path),
                         datasets=['Synonyms'], shots=[3], seeds=[3], zero_shot=False)
    assert [r.cfg_options['method'] for r in runs] == ['sdpt', 'sdpt_k4']


def test_a_stopped_protocol_with_runs_still_queued_exits_at_once(tmp_path):
    """More queued runs than the pipe holds and no worker reading: exiting (as after SIGTERM)
    must not wait for the queue's feeder thread (a grid of hundreds of runs hung so)."""
    script = tmp_path / 'stop.py'
    script.write_text(
        'import multiprocessing as mp, sys\n'
        f'sys.path.insert(0, {ROOT!r})\n'
        'from mmdet_sdpt.protocol import task_queue\n'
        "queue = task_queue(mp.get_context('spawn'), [b'x' * 4096] * 200)\n"
        'sys.exit(143)\n')
    start = time.time()
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 143, out.stderr[-2000:]
    assert time.time() - start < 60
