"""No silent wrong results from a run: divergence stops it (no NaN checkpoint), a runaway
learning rate is named, and bad data (boxes of categories the prompt lacks, an empty
annotation file, a corrupt image) is named; one training run per work dir."""
import gc
import glob
import json
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

from mmdet_sdpt.engine import (DataSampleError, DivergenceGuardHook, EmptyDatasetError,
                               TrainingDivergedError, TunedRunner)
from mmdet_sdpt.engine.checkpoint_files import latest_complete_checkpoint
from tests.helpers import ROOT, TINY_CONFIG
from tests.helpers import tiny_runner


def logged(monkeypatch, module):
    lines = []
    monkeypatch.setattr(module, 'print_log', lambda msg, *a, **k: lines.append(msg))
    return lines


# ---- divergence -----------------------------------------------------------------------------
def test_an_infinite_learning_rate_stops_the_run_before_any_checkpoint(
        tiny_env, base_checkpoint, tmp_path):
    runner = tiny_runner(tmp_path, base_checkpoint, max_iters=3,
                         **{'optim_wrapper.optimizer.lr': float('inf')})
    with pytest.raises(TrainingDivergedError) as err:
        runner.train()
    assert 'iteration 1' in str(err.value) and 'learning rate inf' in str(err.value)
    assert '.sdpt.' in str(err.value)  # names the tensor
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.pth')]


def test_a_runaway_learning_rate_is_named_in_a_warning(tiny_env, base_checkpoint, tmp_path,
                                                         monkeypatch):
    from mmdet_sdpt.engine import hooks
    lines = logged(monkeypatch, hooks)
    tiny_runner(tmp_path, base_checkpoint, max_iters=2,
                **{'optim_wrapper.optimizer.lr': 1e6}).train()
    warned = [m for m in lines if 'probably diverging' in m]
    assert len(warned) == 1 and 'learning rate 1e+06' in warned[0]
    assert 'iteration 1' in warned[0]


def test_a_sane_run_gets_no_warning(tiny_env, base_checkpoint, tmp_path, monkeypatch):
    from mmdet_sdpt.engine import hooks
    lines = logged(monkeypatch, hooks)
    tiny_runner(tmp_path, base_checkpoint, max_iters=2).train()
    assert not [m for m in lines if 'diverging' in m]


def fake_runner(optim='OptimWrapper', it=4):
    model = torch.nn.Linear(2, 2)
    wrapper = type(optim, (), {'get_lr': lambda self: {'lr': [0.1]}})()
    hub = SimpleNamespace(get_info=lambda key: '/w/iter_2.pth')
    return SimpleNamespace(model=model, optim_wrapper=wrapper, iter=it, max_iters=100,
                           message_hub=hub)


def test_a_non_finite_loss_stops_at_once_without_amp():
    hook, runner = DivergenceGuardHook(), fake_runner()
    hook.before_train(runner)
    hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(1.0)})
    with pytest.raises(TrainingDivergedError, match=r'iteration 5: the loss is nan .*'
                       r'learning rate 0\.1.*iter_2\.pth'):
        hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(float('nan'))})


def test_under_amp_a_run_of_overflowing_losses_is_needed_to_stop():
    hook, runner = DivergenceGuardHook(amp_patience=3), fake_runner('AmpOptimWrapper')
    hook.before_train(runner)
    for _ in range(2):
        hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(float('inf'))})
    hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(1.0)})  # resets
    for _ in range(2):
        hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(float('inf'))})
    with pytest.raises(TrainingDivergedError, match='3 times in a row'):
        hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(float('inf'))})


def test_no_checkpoint_is_saved_from_non_finite_tensors():
    hook, runner = DivergenceGuardHook(interval=1000), fake_runner()
    hook.before_train(runner)
    with torch.no_grad():
        runner.model.weight[0, 0] = float('nan')
    hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(1.0)})  # not checked now
    with pytest.raises(TrainingDivergedError, match='weight holds NaN'):
        hook.before_save_checkpoint(runner, {})


# ---- data -------------------------------------------------------------------------------------
def loader_cfg(root, ann='annotations/train.json', classes=('circle', 'square', 'triangle')):
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()  # mmdet's scope, whichever test runs first
    cfg = Config.fromfile(TINY_CONFIG).train_dataloader
    cfg.dataset.update(data_root=str(root) + '/', ann_file=ann, metainfo=dict(classes=classes))
    return cfg


@pytest.fixture
def data_copy(tiny_env, tmp_path):
    root = tmp_path / 'shapes'
    shutil.copytree(tiny_env['SHAPES_ROOT'], root)
    return root


def edit_json(path, fn):
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))
    return data


def test_boxes_of_categories_missing_from_the_prompt_are_counted(data_copy, monkeypatch):
    from mmdet_sdpt.engine import data_checks
    lines = logged(monkeypatch, data_checks)
    ann = data_copy / 'annotations' / 'train.json'
    data = json.loads(ann.read_text())
    square = next(c['id'] for c in data['categories'] if c['name'] == 'square')
    n = sum(a['category_id'] == square for a in data['annotations'])
    assert n > 0
    TunedRunner.build_dataloader(loader_cfg(data_copy, classes=('circle', 'triangle')))
    [msg] = [m for m in lines if 'dropped' in m]
    total = len(data['annotations'])
    assert f"{n} of {total} boxes" in msg and f"'square': {n}" in msg and str(ann) in msg
    lines.clear()
    TunedRunner.build_dataloader(loader_cfg(data_copy))  # all classes: no word
    assert not [m for m in lines if 'dropped' in m]


def test_a_dataset_key_kept_from_another_base_names_the_fix(data_copy):
    cfg = loader_cfg(data_copy)
    cfg.dataset.update(type='CocoDataset', part='transfer')  # the demo's key, merged in
    with pytest.raises(TypeError, match="unexpected keyword argument 'part': the CocoDataset "
                       r'config holds a key.*_delete_=True.*configs/own_data'):
        TunedRunner.build_dataloader(cfg)


def test_an_annotation_file_without_images_is_named(data_copy):
    ann = data_copy / 'annotations' / 'train.json'
    edit_json(ann, lambda d: d.update(images=[], annotations=[]))
    with pytest.raises(EmptyDatasetError, match=f'{ann} holds no images'):
        TunedRunner.build_dataloader(loader_cfg(data_copy))


def test_a_file_whose_images_are_all_filtered_out_says_so(data_copy):
    # a category no box has (a class the file lacks altogether is a ClassOrderError)
    edit_json(data_copy / 'annotations' / 'train.json',
              lambda d: d['categories'].append(dict(id=99, name='hexagon')))
    with pytest.raises(EmptyDatasetError, match='filter_cfg'):
        TunedRunner.build_dataloader(loader_cfg(data_copy, classes=('hexagon', )))


def test_a_corrupt_image_is_named(data_copy):
    images = sorted((data_copy / 'train').iterdir())
    for image in images:
        image.write_bytes(os.urandom(64))
    loader = TunedRunner.build_dataloader(loader_cfg(data_copy))
    with pytest.raises(DataSampleError) as err:
        next(iter(loader))
    assert str(data_copy / 'train') in str(err.value)
    assert 'UnidentifiedImageError' in str(err.value)


# ---- one run per work dir --------------------------------------------------------------------
def _log_dirs(work_dir):
    return sorted(p.name for p in work_dir.iterdir() if p.is_dir())


def _listing(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns if p.is_file() else 0)
                  for p in folder.rglob('*'))


def _held_elsewhere(work_dir):
    """The work dir's lock, held as another process's run holds it (its own descriptor,
    unknown to this process's runners); close the returned descriptor to release it."""
    import fcntl
    fd = os.open(str(work_dir / '.train.lock'), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise
    os.pwrite(fd, b'pid 4242 on elsewhere\n', 0)
    return fd


def test_a_refused_run_writes_nothing_into_the_work_dir(tiny_env, base_checkpoint, tmp_path):
    from mmdet_sdpt.engine.work_dir_lock import WorkDirInUseError
    holder = _held_elsewhere(tmp_path)  # a live training run, as far as the lock goes
    try:
        (tmp_path / 'tiny-glip_shapes.py').write_text('# the running run\'s dump\n')
        before = _listing(tmp_path)
        with pytest.raises(WorkDirInUseError, match='pid 4242 on elsewhere'):
            tiny_runner(tmp_path, base_checkpoint)
        assert _listing(tmp_path) == before  # no log dir, no config dump, no lock rewrite
    finally:
        os.close(holder)
    runner = tiny_runner(tmp_path, base_checkpoint)  # released: the next run goes ahead
    lingering = tiny_runner(tmp_path, base_checkpoint)  # runners of one process share it
    runner.train()
    assert (tmp_path / 'iter_2.pth').is_file()
    with pytest.raises(BlockingIOError):  # the lingering runner still holds it
        _held_elsewhere(tmp_path)
    del lingering
    gc.collect()  # a runner sits in reference cycles: collected, its hold is given back
    os.close(_held_elsewhere(tmp_path))  # every runner has let go: free for others


def test_an_evaluation_in_a_held_work_dir_keeps_the_training_dump(tiny_env, base_checkpoint,
                                                                  tmp_path, monkeypatch):
    monkeypatch.setattr(TunedRunner, 'evaluates_only', True)  # as tools/test.py sets it
    holder = _held_elsewhere(tmp_path)
    try:
        dump = tmp_path / 'tiny-glip_shapes.py'
        dump.write_text('# the running run\'s dump\n')
        runner = tiny_runner(tmp_path, base_checkpoint)  # no WorkDirInUseError
        assert dump.read_text() == '# the running run\'s dump\n'
        assert osp.isfile(osp.join(runner.log_dir, 'tiny-glip_shapes.py'))
    finally:
        os.close(holder)


def run_train(work_dir, base_checkpoint, *extra, wait=True, flags=()):
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    args = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), TINY_CONFIG, '--work-dir',
            str(work_dir), *flags, '--cfg-options', f'model.base_checkpoint={base_checkpoint}',
            'default_hooks.checkpoint.interval=1', 'train_cfg.val_interval=1000', *extra]
    if not wait:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_a_second_run_on_a_busy_work_dir_stops_and_a_killed_one_frees_it(
        tiny_env, base_checkpoint, tmp_path):
    first = run_train(tmp_path, base_checkpoint, 'train_cfg.max_iters=100000', wait=False)
    try:
        lock = tmp_path / '.train.lock'
        deadline = time.time() + 300
        while not (lock.exists() and f'pid {first.pid}' in lock.read_text()):
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.5)
        while not (tmp_path / 'last_checkpoint').exists():  # it has saved a checkpoint
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.5)
        dump = tmp_path / osp.basename(TINY_CONFIG)
        first_dump, first_dirs = dump.read_text(), _log_dirs(tmp_path)
        second = run_train(tmp_path, base_checkpoint, 'train_cfg.max_iters=2')
        assert second.returncode != 0
        assert 'WorkDirInUseError' in second.stderr and f'pid {first.pid}' in second.stderr
        # the refused run wrote nothing: the running run's config dump and log dirs stand
        assert dump.read_text() == first_dump and 'max_iters=2,' not in first_dump
        assert _log_dirs(tmp_path) == first_dirs
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    saved = int(re.search(r'iter_(\d+)\.pth', latest_complete_checkpoint(str(tmp_path)))[1])
    third = run_train(tmp_path, base_checkpoint, f'train_cfg.max_iters={saved + 1}',
                      flags=['--resume'])
    assert third.returncode == 0, third.stderr[-2000:]
    assert re.search(r'resumed epoch: 0, iter: \d+', third.stdout + third.stderr)


# ---- each run's logs in its own work dir -----------------------------------------------------
def _scalar_steps(work_dir):
    found = glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json'))
    steps = []
    for path in found:
        with open(path) as f:
            steps += [json.loads(line)['step'] for line in f if line.strip()]
    return found, steps


def test_two_runs_in_one_process_log_into_their_own_work_dirs(tiny_env, base_checkpoint,
                                                              tmp_path):
    """As the protocol's in-process workers run one run after another: mmdet's config names
    its visualizer 'visualizer', and mmengine hands a later runner the instance (and the
    log dir) of the first."""
    first, second = tmp_path / 'first', tmp_path / 'second'
    tiny_runner(first, base_checkpoint, max_iters=2,
                **{'default_hooks.logger.interval': 1}).train()
    tiny_runner(second, base_checkpoint, max_iters=3,
                **{'default_hooks.logger.interval': 1}).train()
    files, steps = _scalar_steps(first)
    assert len(files) == 1 and steps == [1, 2]
    files, steps = _scalar_steps(second)
    assert len(files) == 1 and steps == [1, 2, 3]
