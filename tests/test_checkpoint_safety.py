"""Loading a checkpoint never runs code (``mmdet_sdpt.checkpoint``).

Every entry point that reads a ``.pth`` is fed crafted files (tests/payloads.py: a plain
``__reduce__`` payload and a payload made only of globals a careless allowlist admits) and
must refuse them with one clear error and no side effect; unreadable files get one line
naming the file; importing mmdet_sdpt leaves torch's own guard as it was.
"""
import copy
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmdet_sdpt.checkpoint import (CheckpointLoadError, UnsafeCheckpointError,
                                   load_checkpoint_file)
from tests.helpers import ROOT, TINY_CONFIG, TORCH_ADVICE, run_tool
from tests.payloads import PAYLOADS, gadget_payload


@pytest.fixture(params=sorted(PAYLOADS))
def payload(request, tmp_path):
    """(crafted file, marker its code would create)"""
    marker = tmp_path / f'{request.param}-ran'
    return PAYLOADS[request.param](tmp_path / f'{request.param}.pth', marker), marker


@pytest.fixture
def gadget(tmp_path):
    marker = tmp_path / 'gadget-ran'
    return gadget_payload(tmp_path / 'gadget.pth', marker), marker


def _refused(err, path, marker):
    text = str(err)
    assert 'was refused' in text and path in text and TORCH_ADVICE not in text
    assert not marker.exists()


def test_importing_mmdet_sdpt_leaves_torch_load_guarded(tmp_path):
    """A process that imports mmdet_sdpt: plain torch.load still refuses the gadget."""
    marker = tmp_path / 'ran'
    path = gadget_payload(tmp_path / 'g.pth', marker)
    code = ('import torch, mmdet_sdpt, mmdet_sdpt.checkpoint\n'
            'names = {f"{getattr(g, \'__module__\', \'\')}.{getattr(g, \'__name__\', g)}" '
            'for g in torch.serialization.get_safe_globals()}\n'
            'assert not [n for n in names if "builtins" in n or "numpy" in n '
            'or "HistoryBuffer" in n], names\n'
            f'try:\n    torch.load({path!r})\nexcept Exception as e:\n    print("refused")\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'refused' in out.stdout and not marker.exists()


def test_our_loader_refuses_crafted_files(payload):
    path, marker = payload
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint_file(path)
    _refused(err.value, path, marker)


def test_mmengine_checkpoint_loader_is_ours(payload):
    """The runner (load_from, --resume, tools/test.py), init_detector and DetInferencer read
    through mmengine's CheckpointLoader: its local scheme is our loader."""
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
    path, marker = payload
    assert CheckpointLoader._get_checkpoint_loader(path).__module__ == 'mmdet_sdpt.checkpoint'
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(path, map_location='cpu')
    _refused(err.value, path, marker)


def test_base_checkpoint_refuses_crafted_files(build_tiny, payload):
    path, marker = payload
    with pytest.raises(UnsafeCheckpointError) as err:
        build_tiny(base_checkpoint=path)
    _refused(err.value, path, marker)


def test_load_adapter_refuses_crafted_files(build_tiny, payload):
    from mmdet_sdpt import load_adapter
    path, marker = payload
    with pytest.raises(UnsafeCheckpointError) as err:
        load_adapter(build_tiny(), path)
    _refused(err.value, path, marker)


def test_init_detector_and_det_inferencer_refuse_crafted_files(tiny_cfg, base_checkpoint,
                                                               payload):
    from mmdet.apis import DetInferencer, init_detector
    path, marker = payload
    cfg = copy.deepcopy(tiny_cfg)
    cfg.model.base_checkpoint = base_checkpoint
    with pytest.raises(UnsafeCheckpointError) as err:
        init_detector(cfg, path, device='cpu')
    _refused(err.value, path, marker)
    with pytest.raises(UnsafeCheckpointError) as err:
        DetInferencer(model=cfg, weights=path, device='cpu', show_progress=False)
    _refused(err.value, path, marker)


def assert_refused_by_tool(out, path, marker):
    assert out.returncode != 0
    last = [line for line in out.stderr.splitlines() if line.strip()][-1]
    assert 'was refused' in last and path in last, out.stderr[-2000:]
    assert TORCH_ADVICE not in out.stdout + out.stderr and not marker.exists()


@pytest.mark.parametrize('tool', ['test.py', 'merge_adapter.py', 'fold_pre.py', 'demo.py',
                                  'model_converters/glip_to_mmdet.py',
                                  'pretrain_demo_base.py'])
def test_tools_refuse_crafted_files(tool, gadget, tiny_env, base_checkpoint, tmp_path):
    path, marker = gadget
    base = f'model.base_checkpoint={base_checkpoint}'
    out_file = str(tmp_path / 'out.pth')
    args = {
        'test.py': [TINY_CONFIG, path, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                    base],
        'merge_adapter.py': [TINY_CONFIG, path, out_file, '--cfg-options', base],
        'fold_pre.py': [path, out_file],
        'demo.py': [osp.join(tiny_env['SHAPES_ROOT'], 'val', '00000.png'), 'circle . square',
                    '--config', TINY_CONFIG, '--checkpoint', path, '--out',
                    str(tmp_path / 'o.png'), '--cfg-options', base],
        'model_converters/glip_to_mmdet.py': [path, out_file],
        'pretrain_demo_base.py': ['--config', TINY_CONFIG, '--export-only', path, '--out',
                                  out_file],
    }[tool]
    out = run_tool(tool, *args)
    assert_refused_by_tool(out, path, marker)
    assert not osp.exists(out_file)


def test_resume_refuses_a_crafted_last_checkpoint(gadget, tiny_env, base_checkpoint,
                                                  tmp_path):
    path, marker = gadget
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(path)
    out = run_tool('train.py', TINY_CONFIG, '--work-dir', str(work_dir), '--resume',
                   '--cfg-options', f'model.base_checkpoint={base_checkpoint}',
                   'train_cfg.max_iters=2')
    assert_refused_by_tool(out, path, marker)


def test_the_legacy_converter_refuses_crafted_files(payload, tmp_path):
    from mmengine.logging import HistoryBuffer
    from mmdet_sdpt.checkpoint import load_legacy_checkpoint
    path, marker = payload
    statistics = dict(HistoryBuffer._statistics_methods)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_legacy_checkpoint(path)
    assert 'was refused' in str(err.value) and not marker.exists()
    assert HistoryBuffer._statistics_methods == statistics


def _bytes_of_a_checkpoint(tmp_path):
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'w': torch.ones(64, 64)}}, good)
    return good.read_bytes()


@pytest.mark.parametrize('damage,words', [
    ('truncated', 'is truncated'),
    ('empty', 'is empty (0 bytes)'),
    ('random', 'not a PyTorch checkpoint'),
    ('text', 'not a PyTorch checkpoint'),
])
def test_unreadable_files_get_one_line_naming_them(damage, words, tmp_path):
    data = _bytes_of_a_checkpoint(tmp_path)
    path = tmp_path / f'{damage}.pth'
    path.write_bytes({'truncated': data[:len(data) // 2], 'empty': b'',
                      'random': os.urandom(4096), 'text': b'not a checkpoint\n'}[damage])
    with pytest.raises(CheckpointLoadError) as err:
        load_checkpoint_file(str(path))
    text = str(err.value)
    assert str(path) in text and words in text and '\n' not in text
    assert TORCH_ADVICE not in text


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth not found'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_test_tool_names_a_truncated_checkpoint(tiny_env, base_checkpoint, tmp_path):
    data = _bytes_of_a_checkpoint(tmp_path)
    path = tmp_path / 'cut.pth'
    path.write_bytes(data[:len(data) // 3])
    out = run_tool('test.py', TINY_CONFIG, str(path), '--work-dir', str(tmp_path / 'w'),
                   '--cfg-options', f'model.base_checkpoint={base_checkpoint}')
    assert out.returncode != 0
    last = [line for line in out.stderr.splitlines() if line.strip()][-1]
    assert str(path) in last and 'is truncated' in last
