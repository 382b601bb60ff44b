"""A small crafted checkpoint of plain data cannot hang or exhaust a load, and our loads
leave torch's allowlist as the caller had it.

Every crafted file below is plain data that torch's weights-only unpickler accepts; each
must give one line naming the file, within seconds, from our loader, ``tools/test.py`` and
``--resume`` (before: a 73 KB file of shared references hung both and grew without bound).
"""
import os
import sys
import threading
import time
from collections import OrderedDict

import numpy as np
import pytest
import torch

from mmdet_sdpt.checkpoint import (PLAIN_NUMPY_GLOBALS, CheckpointLoadError, from_plain,
                                   load_checkpoint_file, to_plain)
from tests.helpers import TINY_CONFIG
from tests.helpers import run_tool

TAG = '__mmdet_sdpt_plain__'


def _shared_references(depth=64):
    """``depth`` lists, each holding the next twice: a few KB pickled (pickle's memo keeps
    one copy), 2^depth entries to a reader that walks it without one."""
    node = []
    for _ in range(depth):
        node = [node, node]
    return node


def _deep(depth=3000):
    node = []
    for _ in range(depth):
        node = [node]
    return node


def _checkpoint(**meta):
    return {'meta': meta, 'state_dict': OrderedDict(w=torch.zeros(2)),
            'message_hub': {'runtime_info': {}}}


def _metadata_not_a_dict():
    checkpoint = _checkpoint()
    checkpoint['state_dict']._metadata = ['not', 'a', 'dict']
    return checkpoint


def _shared_references_in_metadata():
    checkpoint = _checkpoint()
    checkpoint['state_dict']._metadata = {'': {'version': _shared_references(40)}}
    return checkpoint


CRAFTED = {
    'shared references in _metadata': (_shared_references_in_metadata,
                                       'more than 50,000,000 elements'),
    # 40 levels: within the depth bound, so the element bound is what refuses it
    'shared references': (lambda: _checkpoint(history=_shared_references(40)),
                          'more than 50,000,000 elements'),
    "the issue's 64 levels": (lambda: _checkpoint(history=_shared_references(64)),
                              'nests deeper than 64 levels'),
    'deep nesting': (lambda: _checkpoint(history=_deep()), 'nests deeper than'),
    'non-dict _metadata': (_metadata_not_a_dict, '_metadata is a list'),
    'huge array': (lambda: _checkpoint(hub={TAG: 'ndarray', 'dtype': '<f8',
                                            'shape': [10 ** 6, 10 ** 6], 'data': [0.0]}),
                   'tagged array of shape [1000000, 1000000] holds 1 values'),
    'object array': (lambda: _checkpoint(hub={TAG: 'ndarray', 'dtype': '|O',
                                              'shape': [1], 'data': [0]}),
                     "dtype '|O', not a plain number type"),
}


def _save(checkpoint, path):
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)  # pickling 3000 nested lists recurses 3000 deep
    try:
        torch.save(checkpoint, str(path))
    finally:
        sys.setrecursionlimit(limit)
    return str(path)


@pytest.fixture(params=sorted(CRAFTED))
def crafted(request, tmp_path):
    """(crafted file, the words its refusal must hold)"""
    build, words = CRAFTED[request.param]
    return _save(build(), tmp_path / 'crafted.pth'), words


def test_our_loader_refuses_crafted_plain_data_within_seconds(crafted):
    path, words = crafted
    assert os.path.getsize(path) < 80_000  # small files, every one (the was 73 KB)
    start = time.time()
    with pytest.raises(CheckpointLoadError) as err:
        load_checkpoint_file(path)
    assert time.time() - start < 5
    text = str(err.value)
    assert path in text and words in text and '\n' not in text, text


def test_from_plain_is_linear_in_shared_data_and_keeps_the_sharing():
    shared = _shared_references(60)
    start = time.time()
    out = from_plain({'h': shared})
    assert time.time() - start < 1
    assert out['h'][0] is out['h'][1]
    array = np.arange(6, dtype=np.int16).reshape(2, 3)
    assert np.array_equal(from_plain(to_plain({'a': array}))['a'], array)


def _tool_line(out, path, words):
    assert out.returncode != 0
    last = [line for line in out.stderr.splitlines() if line.strip()][-1]
    assert path in last and words in last, out.stderr[-2000:]


@pytest.mark.parametrize('name', ['shared references', 'deep nesting'])
def test_test_tool_and_resume_give_one_line(name, tiny_env, base_checkpoint, tmp_path):
    build, words = CRAFTED[name]
    path = _save(build(), tmp_path / 'crafted.pth')
    base = f'model.base_checkpoint={base_checkpoint}'
    start = time.time()
    out = run_tool('test.py', TINY_CONFIG, path, '--work-dir', str(tmp_path / 't'),
                   '--cfg-options', base)
    _tool_line(out, path, words)
    work_dir = tmp_path / 'w'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(path)
    out = run_tool('train.py', TINY_CONFIG, '--work-dir', str(work_dir), '--resume',
                   '--cfg-options', base, 'train_cfg.max_iters=2')
    _tool_line(out, path, words)
    assert time.time() - start < 300  # two tool starts; the loads themselves take ms


# ---- torch's allowlist ------------------------------------------------------------------------
class _CallersOwn:
    """A class a caller trusts and allowlisted itself."""


def test_our_loads_leave_the_callers_allowlist_as_it_was(tmp_path):
    path = str(tmp_path / 'numpy.pth')
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': {'a': np.arange(3)}}, path)
    before = set(torch.serialization.get_safe_globals())
    callers = [np.ndarray, np.dtype, PLAIN_NUMPY_GLOBALS[0], _CallersOwn]  # ours, overlapping
    torch.serialization.add_safe_globals(callers)
    try:
        expected = set(torch.serialization.get_safe_globals())
        assert np.array_equal(load_checkpoint_file(path)['meta']['a'], np.arange(3))
        assert set(torch.serialization.get_safe_globals()) == expected
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(list(before))
    load_checkpoint_file(path)
    assert set(torch.serialization.get_safe_globals()) == before  # nothing of ours left


def test_loads_from_threads_all_read_numpy_and_leave_nothing(tmp_path):
    path = str(tmp_path / 'numpy.pth')
    torch.save({'meta': {'a': np.arange(1000)}, 'state_dict': {}}, path)
    before = set(torch.serialization.get_safe_globals())
    errors = []

    def load():
        try:
            for _ in range(20):
                assert np.array_equal(load_checkpoint_file(path)['meta']['a'],
                                      np.arange(1000))
        except Exception as err:  # collected: the main thread asserts
            errors.append(err)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:1]
    assert set(torch.serialization.get_safe_globals()) == before
