"""Checkpoints of ours hold tensors and plain data only (PlainCheckpointHook), so stock
torch.load reads them with nothing allowlisted, and --resume restores the message hub
exactly; checkpoints written before convert once (tools/convert_checkpoint.py)."""
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from mmdet_sdpt.checkpoint import UnsafeCheckpointError, load_checkpoint_file
from mmdet_sdpt.engine import PlainCheckpointHook


def _hub(name):
    hub = MessageHub.get_instance(name)
    for loss in (1.25, 0.5, np.float64(0.75)):
        hub.update_scalar('train/loss', loss)
    hub.update_scalar('train/lr', np.float32(0.05), count=4)
    hub.update_scalar('coco/bbox_mAP', 0.3)
    hub.update_info('best_score', np.float64(0.7))
    hub.update_info('keep_ckpt_ids', [2, 4])
    hub.update_info('anchors', np.arange(6, dtype=np.int32).reshape(2, 3))
    hub.update_info('last_ckpt', 'work/iter_4.pth')
    return hub


def _checkpoint(hub):
    return {'meta': {'seed': 0, 'iter': 4, 'np_seed': np.int64(7)},
            'message_hub': hub.state_dict(),
            'state_dict': {'w': torch.arange(4.0)},
            'optimizer': {'state': {}, 'param_groups': [{'lr': 0.1, 'params': [0]}]}}


def _same_hub(a, b):
    assert set(a.log_scalars) == set(b.log_scalars)
    for key, buf in a.log_scalars.items():
        for x, y in zip(buf.data, b.log_scalars[key].data):
            assert x.dtype == y.dtype and np.array_equal(x, y), key
    info_a, info_b = a.runtime_info, b.runtime_info
    assert set(info_a) == set(info_b)
    for key, value in info_a.items():
        other = info_b[key]
        assert type(value) is type(other), key
        assert np.array_equal(value, other) if isinstance(value, np.ndarray) else value == other


def test_saved_checkpoint_needs_no_allowlist_and_resumes_the_hub(tmp_path):
    hub = _hub('plain-save')
    checkpoint = _checkpoint(hub)
    PlainCheckpointHook().before_save_checkpoint(None, checkpoint)
    path = str(tmp_path / 'c.pth')
    torch.save(checkpoint, path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    torch.load(path, weights_only=True)  # stock torch, nothing allowlisted
    loaded = load_checkpoint_file(path)
    PlainCheckpointHook().after_load_checkpoint(None, loaded)
    resumed = MessageHub.get_instance('plain-resumed')
    resumed.load_state_dict(loaded['message_hub'])
    _same_hub(hub, resumed)
    assert type(loaded['meta']['np_seed']) is np.int64 and loaded['meta']['np_seed'] == 7
    assert torch.equal(loaded['state_dict']['w'], torch.arange(4.0))


def test_a_checkpoint_written_before_is_refused_then_converted(tmp_path):
    from tools.convert_checkpoint import main as convert
    hub = _hub('plain-legacy')
    old = str(tmp_path / 'old.pth')
    torch.save(_checkpoint(hub), old)  # as mmengine's runner wrote it: pickled buffers
    with pytest.raises(UnsafeCheckpointError, match='convert_checkpoint.py'):
        load_checkpoint_file(old)
    statistics = dict(HistoryBuffer._statistics_methods)
    new = str(tmp_path / 'new.pth')
    assert convert([old, new]) == 0
    assert HistoryBuffer._statistics_methods == statistics  # no class state touched
    assert torch.serialization.get_unsafe_globals_in_checkpoint(new) == []
    loaded = load_checkpoint_file(new)
    PlainCheckpointHook().after_load_checkpoint(None, loaded)
    resumed = MessageHub.get_instance('plain-converted')
    resumed.load_state_dict(loaded['message_hub'])
    _same_hub(hub, resumed)
