"""A real federation through Flower's deployment engine on localhost: a SuperLink and one
SuperNode per site as separate processes, the app submitted with ``flwr run`` as an operator
does (federated_app/). Two sites on two tiny ShapeWorld domains train 2 rounds; a third
site that answers NaN is rejected by the server and named; the aggregated adapter is a
normal adapter checkpoint that tools/test.py evaluates."""
import json
import os
import os.path as osp
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

from tests.helpers import ROOT, run_tool

pytestmark = pytest.mark.slow
BIN = osp.dirname(sys.executable)
CONFIG = osp.join(ROOT, 'configs', 'federated', 'tiny-glip_shapeworld_fedavg.py')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, log: str, seconds: float = 60) -> None:
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError(f'exited with {proc.returncode}: {open(log).read()[-2000:]}')
        with socket.socket() as s:
            if s.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.3)
    raise AssertionError(f'port {port} not up in {seconds} s: {open(log).read()[-2000:]}')


@pytest.fixture
def federation_stack(tmp_path):
    """start(node_configs) -> (env, connection): a SuperLink and a SuperNode per node
    config, each its own process on free localhost ports, stopped (SIGTERM) afterwards."""
    home = tmp_path / 'flwr_home'
    home.mkdir()
    env = dict(os.environ, FLWR_HOME=str(home), FLWR_TELEMETRY_ENABLED='0',
               FLWR_DISABLE_UPDATE_CHECK='1', PYTHONPATH=ROOT, OMP_NUM_THREADS='1',
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''), PYTHONWARNINGS='ignore')
    procs = []

    def spawn(args, name):
        log = str(tmp_path / f'{name}.log')
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=open(log, 'w'),
                                stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc, log

    def start(node_configs):
        link_port = _free_port()
        # no `uv sync` of the app's dependencies: the project's environment runs it
        proc, log = spawn([osp.join(BIN, 'flower-superlink'), '--insecure', '--port',
                           str(link_port), '--disable-runtime-dependency-installation'],
                          'superlink')
        _wait_port(link_port, proc, log)
        for i, node_config in enumerate(node_configs):
            port = _free_port()
            proc, log = spawn([osp.join(BIN, 'flower-supernode'), '--insecure', '--superlink',
                               f'127.0.0.1:{link_port}', '--port', str(port),
                               '--node-config', node_config], f'supernode_{i}')
            _wait_port(port, proc, log)
        (home / 'config.toml').write_text(
            f'[superlink]\ndefault = "local"\n\n[superlink.local]\n'
            f'address = "127.0.0.1:{link_port}"\ninsecure = true\n')
        return env, 'local'

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_two_sites_federate_on_flowers_deployment_engine(federation_stack, tmp_path):
    data_root, work_dir = tmp_path / 'shapeworld', tmp_path / 'federation'
    # the shipped app, its ClientApp swapped for one that also plays the NaN site
    app = tmp_path / 'app'
    app.mkdir()
    text = open(osp.join(ROOT, 'federated_app', 'pyproject.toml')).read()
    (app / 'pyproject.toml').write_text(text.replace(
        'clientapp = "mmdet_sdpt.federated.client:app"',
        'clientapp = "tests.federated.faulty_sites:app"'))
    env, connection = federation_stack(["domain='Thermal'", "domain='Aerial'",
                                        "domain='Crowded' nan-site=true"])
    run_config = (f"rounds=2 local-iters=2 min-nodes=3 fraction-evaluate=0.0 "
                  f"domains='Thermal,Aerial' config='{CONFIG}' work-dir='{work_dir}' "
                  f"data-root='{data_root}'")
    out = subprocess.run([osp.join(BIN, 'flwr'), 'run', str(app), connection, '--stream',
                          '--run-config', run_config], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=900)
    run_id = re.search(r'started run (\d+)', out.stdout + out.stderr)
    assert out.returncode == 0 and run_id, out.stdout[-3000:] + out.stderr[-3000:]
    listed = subprocess.run([osp.join(BIN, 'flwr'), 'ls', connection, '--run-id',
                             run_id.group(1), '--format', 'json'], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    status = json.loads(listed.stdout)['runs'][0]
    # `flwr run --stream` exits 0 even when the ServerApp raised: the run's status says
    assert status['status'] == 'finished:completed', status

    record = json.load(open(work_dir / 'federation.json'))
    assert [r['round'] for r in record['rounds']] == [1, 2]
    for r in record['rounds']:
        assert sorted(r['sites']) == ['Aerial', 'Thermal']
        assert len(r['rejected']) == 1
        assert re.search(r'site Crowded \(node \d+\) sent NaN/inf', r['rejected'][0])
        assert r['bytes_up'] == 2 * r['bytes_down'] // 3  # 2 accepted of 3 sent
    log = open(work_dir / 'federation.log').read()  # mmengine's logger, per round
    # the sites reply in any order; the log names them sorted
    assert 'round 2: 2 sites averaged (Aerial, Thermal), 1 rejected' in log

    adapter = str(work_dir / 'round_2.pth')
    checkpoint = torch.load(adapter, weights_only=True)
    assert checkpoint['meta']['adapter']['tuner']['method'] == 'SDPT'
    assert all(torch.isfinite(v).all() for v in checkpoint['state_dict'].values())
    first = torch.load(str(work_dir / 'round_1.pth'), weights_only=True)['state_dict']
    assert any(not torch.equal(first[k], v) for k, v in checkpoint['state_dict'].items())

    test = run_tool('test.py', CONFIG, adapter, '--work-dir', str(tmp_path / 'test'),
                    env=dict(os.environ, ODINW_DATASET='Thermal', ODINW_ROOT=str(data_root)))
    assert test.returncode == 0, test.stderr[-3000:]
    assert re.search(r'coco/bbox_mAP: \d\.\d+', test.stdout + test.stderr)
    shutil.rmtree(work_dir / 'sites', ignore_errors=True)
