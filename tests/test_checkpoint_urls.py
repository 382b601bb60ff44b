"""A checkpoint given as a URL never runs code: every scheme of mmengine's
``CheckpointLoader`` is ours, and a remote checkpoint is fetched to a local file and read by
the same weights-only loader as a local one.

Files are served by a ``http.server`` on 127.0.0.1 in a thread of this process (loopback
only, stopped at teardown); torch hub's cache is a temporary folder (``TORCH_HOME``).
"""
import copy
import functools
import http.server
import os
import sys
import threading
import types

import pytest
import torch
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmdet_sdpt.checkpoint import (CheckpointLoadError, UnsafeCheckpointError,
                                   load_checkpoint_file)
from tests.helpers import TINY_CONFIG
from tests.payloads import PAYLOADS, gadget_payload
from tests.helpers import TORCH_ADVICE, run_tool


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path, monkeypatch):
    """(folder served, its base URL); torch hub's cache in a temporary folder."""
    folder = tmp_path / 'served'
    folder.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=sorted(PAYLOADS))
def payload_url(request, served, tmp_path):
    """(URL of a crafted file, marker its code would create)"""
    folder, url = served
    marker = tmp_path / f'{request.param}-ran'
    PAYLOADS[request.param](folder / f'{request.param}.pth', marker)
    return f'{url}/{request.param}.pth', marker


@pytest.fixture
def gadget_url(served, tmp_path):
    folder, url = served
    marker = tmp_path / 'gadget-ran'
    gadget_payload(folder / 'gadget.pth', marker)
    return f'{url}/gadget.pth', marker


def _refused(err, url, marker):
    text = str(err)
    assert 'was refused' in text and url in text and TORCH_ADVICE not in text
    assert not marker.exists()


def _tool_refused(out, url, marker) -> str:
    """The tool's last line, once checked to be the one-line refusal naming ``url``."""
    assert out.returncode != 0
    last = [line for line in out.stderr.splitlines() if line.strip()][-1]
    assert 'was refused' in last and url in last, out.stderr[-2000:]
    assert TORCH_ADVICE not in out.stdout + out.stderr and not marker.exists()
    return last


def test_every_mmengine_scheme_is_ours():
    """A scheme mmengine adds later (and whose loader would unpickle freely) fails here."""
    foreign = {prefix: f'{loader.__module__}.{loader.__name__}'
               for prefix, loader in CheckpointLoader._schemes.items()
               if loader.__module__ != 'mmdet_sdpt.checkpoint'}
    assert not foreign
    for path in ('http://h/x.pth', 'https://h/x.pth', 'torchvision://resnet50',
                 'modelzoo://resnet50', 'open-mmlab://x', 'openmmlab://x', 'mmcls://x',
                 'pavi://x', 's3://b/x.pth', 'cluster:s3://b/x.pth', 'petrel://b/x.pth',
                 '/local/x.pth'):
        assert CheckpointLoader._get_checkpoint_loader(path).__module__ == \
            'mmdet_sdpt.checkpoint'


def test_a_url_is_refused_by_mmengine_loader_and_ours(payload_url):
    url, marker = payload_url
    for load in (_load_checkpoint, load_checkpoint_file):
        with pytest.raises(UnsafeCheckpointError) as err:
            load(url, map_location='cpu')
        _refused(err.value, url, marker)


def test_a_plain_url_loads_like_the_local_file_and_is_cached(served, tmp_path):
    folder, url = served
    saved = {'state_dict': {'w': torch.arange(4.)}, 'meta': {'epoch': 1}}
    torch.save(saved, folder / 'plain.pth')
    loaded = load_checkpoint_file(f'{url}/plain.pth')
    assert torch.equal(loaded['state_dict']['w'], saved['state_dict']['w'])
    cached = tmp_path / 'torch_home' / 'hub' / 'checkpoints' / 'plain.pth'
    assert cached.is_file()
    (folder / 'plain.pth').unlink()  # a second load reads the cache, as torch.hub does
    assert torch.equal(load_checkpoint_file(f'{url}/plain.pth')['state_dict']['w'],
                       saved['state_dict']['w'])


def test_a_missing_url_is_one_line_naming_it(served):
    _, url = served
    with pytest.raises(CheckpointLoadError) as err:
        load_checkpoint_file(f'{url}/nothing.pth')
    text = str(err.value)
    assert f'{url}/nothing.pth' in text and 'cannot be downloaded' in text
    assert '404' in text and '\n' not in text


def test_base_checkpoint_url_is_refused_and_a_good_one_loads(build_tiny, base_checkpoint,
                                                             payload_url, served):
    url, marker = payload_url
    with pytest.raises(UnsafeCheckpointError) as err:
        build_tiny(base_checkpoint=url)
    _refused(err.value, url, marker)
    folder, root = served
    (folder / 'base.pth').write_bytes(open(base_checkpoint, 'rb').read())
    remote = build_tiny(base_checkpoint=f'{root}/base.pth').state_dict()
    local = build_tiny(base_checkpoint=base_checkpoint).state_dict()
    assert remote.keys() == local.keys()
    assert all(torch.equal(remote[k], local[k]) for k in local)


def test_init_detector_and_both_inferencers_refuse_a_url(tiny_cfg, base_checkpoint,
                                                         payload_url):
    from mmdet.apis import DetInferencer, init_detector
    from mmdet_sdpt.inferencer import TunedInferencer
    url, marker = payload_url
    cfg = copy.deepcopy(tiny_cfg)
    cfg.model.base_checkpoint = base_checkpoint
    for build in (lambda: init_detector(cfg, url, device='cpu'),
                  lambda: DetInferencer(model=cfg, weights=url, device='cpu',
                                        show_progress=False),
                  lambda: TunedInferencer(cfg, weights=url, device='cpu'),
                  lambda: TunedInferencer(cfg, adapters={'a': url}, device='cpu')):
        with pytest.raises(UnsafeCheckpointError) as err:
            build()
        _refused(err.value, url, marker)


def test_named_model_schemes_resolve_to_the_safe_download(gadget_url, monkeypatch):
    """torchvision://, open-mmlab:// and mmcls:// name a URL in mmengine's tables."""
    url, marker = gadget_url
    tables = {'get_torchvision_models': 'torchvision://', 'get_external_models':
              'open-mmlab://', 'get_mmcls_models': 'mmcls://'}
    for table, scheme in tables.items():
        monkeypatch.setattr(mmengine_checkpoint, table, lambda: {'crafted': url})
        with pytest.raises(UnsafeCheckpointError) as err:
            _load_checkpoint(f'{scheme}crafted', map_location='cpu')
        _refused(err.value, url, marker)
    with pytest.raises(CheckpointLoadError, match="no model named 'other'"):
        _load_checkpoint('torchvision://other')


def test_pavi_and_s3_schemes_read_through_the_safe_loader(tmp_path, monkeypatch):
    marker = tmp_path / 'ran'
    crafted = gadget_payload(tmp_path / 'g.pth', marker)

    class Model:  # pavi's model cloud, as load_from_pavi uses it
        name = 'g.pth'

        def download(self, path):
            open(path, 'wb').write(open(crafted, 'rb').read())

    pavi = types.ModuleType('pavi')
    pavi.modelcloud = types.SimpleNamespace(get=lambda path: Model())
    monkeypatch.setitem(sys.modules, 'pavi', pavi)
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint('pavi://models/g', map_location='cpu')
    _refused(err.value, 'pavi://models/g', marker)

    class Backend:  # mmengine's petrel file backend, as load_from_ceph uses it
        def get(self, filepath):
            return open(crafted, 'rb').read()

    monkeypatch.setattr(mmengine_checkpoint, 'get_file_backend', lambda *a, **k: Backend())
    for uri in ('s3://bucket/g.pth', 'cluster:s3://bucket/g.pth'):
        with pytest.raises(UnsafeCheckpointError) as err:
            _load_checkpoint(uri, map_location='cpu')
        _refused(err.value, uri, marker)


def _env(tmp_path):
    return dict(os.environ, TORCH_HOME=str(tmp_path / 'torch_home'))


def test_test_tool_refuses_a_checkpoint_url(gadget_url, tiny_env, base_checkpoint,
                                            tmp_path):
    url, marker = gadget_url
    out = run_tool('test.py', TINY_CONFIG, url, '--work-dir', str(tmp_path / 'w'),
                   '--cfg-options', f'model.base_checkpoint={base_checkpoint}',
                   env=_env(tmp_path))
    assert 'UnsafeCheckpointError' in _tool_refused(out, url, marker)


def test_train_tool_refuses_load_from_and_a_last_checkpoint_url(gadget_url, tiny_env,
                                                                base_checkpoint, tmp_path):
    url, marker = gadget_url
    common = ['--cfg-options', f'model.base_checkpoint={base_checkpoint}',
              'train_cfg.max_iters=2']
    out = run_tool('train.py', TINY_CONFIG, '--work-dir', str(tmp_path / 'a'), *common,
                   f'load_from={url}', env=_env(tmp_path))
    assert 'UnsafeCheckpointError' in _tool_refused(out, url, marker)
    work_dir = tmp_path / 'b'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(url)
    out = run_tool('train.py', TINY_CONFIG, '--work-dir', str(work_dir), '--resume',
                   *common, env=_env(tmp_path))
    assert 'UnsafeCheckpointError' in _tool_refused(out, url, marker)
