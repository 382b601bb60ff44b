"""tools/train.py and tools/test.py end to end on the tiny config (subprocesses, CPU)."""
import json
import os
import subprocess
import sys

import pytest
import torch

from tests.helpers import ROOT, TINY_CONFIG, run_tool


@pytest.fixture(scope='module')
def trained(tiny_env, base_checkpoint, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('work'))
    out = run_tool('train.py', TINY_CONFIG, '--work-dir', work_dir, '--cfg-options',
                   f'model.base_checkpoint={base_checkpoint}', 'train_cfg.max_iters=4',
                   'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=2')
    assert out.returncode == 0, out.stderr[-3000:]
    return work_dir, out.stdout + out.stderr


@pytest.mark.slow
def test_train_logs_the_trainable_table_and_saves_adapter_only(trained):
    work_dir, log = trained
    assert 'Trainable parameters of SDPT' in log and '| tuner' in log
    ckpt = torch.load(os.path.join(work_dir, 'iter_4.pth'), weights_only=False)
    assert all('.sdpt.' in k for k in ckpt['state_dict'])
    assert ckpt['meta']['adapter']['tuner']['num_tokens'] == 4
    assert 'optimizer' in ckpt  # resumable


def test_test_tool_evaluates_the_adapter_with_coco_metric(trained, base_checkpoint, tmp_path):
    work_dir, _ = trained
    out = run_tool('test.py', TINY_CONFIG, os.path.join(work_dir, 'iter_4.pth'),
                   '--work-dir', str(tmp_path), '--cfg-options',
                   f'model.base_checkpoint={base_checkpoint}')
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'coco/bbox_mAP' in out.stdout + out.stderr
    results = [json.load(open(os.path.join(root, f))) for root, _, files in os.walk(tmp_path)
               for f in files if f.endswith('.json') and f[:8].isdigit()]
    assert results and 0.0 <= results[0]['coco/bbox_mAP'] <= 1.0


@pytest.mark.slow
def test_resume_continues_from_the_adapter_checkpoint(trained, base_checkpoint):
    work_dir, _ = trained
    out = run_tool('train.py', TINY_CONFIG, '--work-dir', work_dir, '--resume',
                   '--cfg-options', f'model.base_checkpoint={base_checkpoint}',
                   'train_cfg.max_iters=6', 'train_cfg.val_interval=6',
                   'default_hooks.checkpoint.interval=2')
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert 'resumed epoch: 0, iter: 4' in log
    assert 'missing keys' not in log  # the base tensors are not "missing" from an adapter
    assert os.path.exists(os.path.join(work_dir, 'iter_6.pth'))


def test_test_tool_refuses_an_adapter_made_for_another_k(trained, base_checkpoint, tmp_path):
    work_dir, _ = trained
    out = run_tool('test.py', TINY_CONFIG, os.path.join(work_dir, 'iter_4.pth'),
                   '--work-dir', str(tmp_path), '--cfg-options',
                   f'model.base_checkpoint={base_checkpoint}', 'model.tuner.num_tokens=6')
    assert out.returncode != 0
    assert 'AdapterMismatchError' in out.stderr and 'num_tokens=4' in out.stderr


def test_test_tool_refuses_an_adapter_tuned_on_another_base(trained, tmp_path):
    work_dir, _ = trained
    out = run_tool('test.py', TINY_CONFIG, os.path.join(work_dir, 'iter_4.pth'),
                   '--work-dir', str(tmp_path))  # no base checkpoint: random weights
    assert out.returncode != 0 and 'tuned on base' in out.stderr


def test_merge_gives_base_plus_adapter(trained, base_checkpoint, tmp_path, tiny_cfg):
    from mmdet.registry import MODELS
    from mmengine.runner import load_checkpoint
    work_dir, _ = trained
    adapter_path, out = os.path.join(work_dir, 'iter_4.pth'), str(tmp_path / 'merged.pth')
    res = run_tool('merge_adapter.py', TINY_CONFIG, adapter_path, out, '--cfg-options',
                   f'model.base_checkpoint={base_checkpoint}')
    assert res.returncode == 0, res.stderr[-3000:]
    merged = torch.load(out, weights_only=False)
    adapter = torch.load(adapter_path, weights_only=False)
    base = torch.load(base_checkpoint)['state_dict']
    state = merged['state_dict']
    prompt_keys = {k for k in state if '.sdpt.' in k}
    assert prompt_keys == set(adapter['state_dict']) and set(state) == set(base) | prompt_keys
    for key, value in state.items():
        expected = adapter['state_dict'][key] if key in prompt_keys else base[key]
        assert torch.equal(value, expected), key
    assert 'adapter' not in merged['meta']  # a full checkpoint is not taken for an adapter
    model = MODELS.build(tiny_cfg.model)  # no base checkpoint: random weights
    load_checkpoint(model, out, map_location='cpu', strict=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


def test_merge_refuses_an_adapter_of_another_tuner(trained, base_checkpoint, tmp_path):
    work_dir, _ = trained
    out = str(tmp_path / 'wrong.pth')
    res = run_tool('merge_adapter.py', TINY_CONFIG, os.path.join(work_dir, 'iter_4.pth'), out,
                   '--cfg-options', f'model.base_checkpoint={base_checkpoint}',
                   'model.tuner.num_tokens=8')
    assert res.returncode != 0 and 'AdapterMismatchError' in res.stderr
    assert 'num_tokens=4' in res.stderr and not os.path.exists(out)


@pytest.mark.slow
def test_grounding_dino_trains_and_tests_end_to_end(tiny_env, gdino_base_checkpoint,
                                                    tmp_path):
    from tests.helpers import TINY_GDINO_CONFIG
    base = f'model.base_checkpoint={gdino_base_checkpoint}'
    out = run_tool('train.py', TINY_GDINO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
                   base, 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                   'default_hooks.checkpoint.interval=2')
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'Trainable parameters of SDPT' in out.stdout + out.stderr
    ckpt = os.path.join(str(tmp_path), 'iter_2.pth')
    assert torch.load(ckpt, weights_only=False)['meta']['adapter']['base']['detector'] == (
        'GroundingDINO')
    out = run_tool('test.py', TINY_GDINO_CONFIG, ckpt, '--work-dir', str(tmp_path / 'test'),
                   '--cfg-options', base)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'coco/bbox_mAP' in out.stdout + out.stderr


def test_runner_checkpoints_load_in_stock_torch(trained):
    """No allowlist needed: a process without mmdet_sdpt (stock mmdet scripts, publish_model)
    reads them with torch's default weights-only load."""
    work_dir, _ = trained
    path = os.path.join(work_dir, 'iter_4.pth')
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    out = subprocess.run([sys.executable, '-c', f'import torch; c = torch.load({path!r}); '
                          'print(sorted(c))'], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'message_hub'" in out.stdout and "'optimizer'" in out.stdout


def _maps(log):
    return [line.split('coco/bbox_mAP:')[1].split()[0] for line in log.splitlines()
            if 'coco/bbox_mAP:' in line]


@pytest.mark.slow
def test_kill_9_then_resume_gives_bit_identical_prompts_and_ap(tiny_env, base_checkpoint,
                                                               tmp_path):
    import signal
    import time
    args = ['--cfg-options', f'model.base_checkpoint={base_checkpoint}',
            'train_cfg.max_iters=8', 'train_cfg.val_interval=8',
            'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=4',
            'randomness.seed=0']
    straight = str(tmp_path / 'straight')
    out = run_tool('train.py', TINY_CONFIG, '--work-dir', straight, *args)
    assert out.returncode == 0, out.stderr[-3000:]
    killed = str(tmp_path / 'killed')
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'tools', 'train.py'),
                             TINY_CONFIG, '--work-dir', killed, *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = os.path.join(killed, 'last_checkpoint')
    deadline = time.time() + 300
    while not os.path.exists(last) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not os.path.exists(os.path.join(killed, 'iter_8.pth'))  # killed mid-run
    resumed = run_tool('train.py', TINY_CONFIG, '--work-dir', killed, '--resume', *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 0, iter: ' in resumed.stdout + resumed.stderr
    a = torch.load(os.path.join(straight, 'iter_8.pth'))
    b = torch.load(os.path.join(killed, 'iter_8.pth'))
    assert set(a['state_dict']) == set(b['state_dict'])
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    assert _maps(out.stdout + out.stderr)[-1:] == _maps(resumed.stdout + resumed.stderr)[-1:]
    assert _maps(resumed.stdout + resumed.stderr)


def test_stock_publish_model_reads_and_our_test_tool_evaluates_its_output(
        trained, base_checkpoint, tmp_path):
    """mmdet's own publish_model.py (torch.load with no allowlist) takes our checkpoint, and
    what it writes (torch's legacy format, meta + state_dict) evaluates as the adapter."""
    import glob
    import time
    import mmdet
    work_dir, _ = trained
    script = os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'tools',
                          'model_converters', 'publish_model.py')
    out = subprocess.run([sys.executable, script, os.path.join(work_dir, 'iter_4.pth'),
                          str(tmp_path / 'published.pth')], capture_output=True, text=True,
                         cwd=str(tmp_path), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    deadline = time.time() + 30  # the script renames it with a background `mv`
    while not glob.glob(str(tmp_path / 'published-*.pth')) and time.time() < deadline:
        time.sleep(0.1)
    published = glob.glob(str(tmp_path / 'published-*.pth'))[0]
    res = run_tool('test.py', TINY_CONFIG, published, '--work-dir', str(tmp_path / 'w'),
                   '--cfg-options', f'model.base_checkpoint={base_checkpoint}')
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'coco/bbox_mAP' in res.stdout + res.stderr
