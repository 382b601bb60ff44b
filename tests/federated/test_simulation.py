"""tools/federated.py: Flower's simulation of the project's apps on one machine. Domain-aware
prompts keep each domain's rows from its own site; a restarted server goes on from its last
saved round (and refuses to mix two federations in one work dir); a site that fails
mid-run leaves the round to the others, named in the record."""
import json
import os
import subprocess
import sys

import pytest
import torch

from tests.helpers import ROOT, run_tool

pytestmark = pytest.mark.slow
DOMAIN_CONFIG = 'configs/federated/tiny-glip_shapeworld_domain.py'
FEDAVG_CONFIG = 'configs/federated/tiny-glip_shapeworld_fedavg.py'


def _federate(work_dir, data_root, *args):
    return run_tool('federated.py', DOMAIN_CONFIG, '--clients', 'Thermal', 'Aerial',
                    '--local-iters', '2', '--fraction-evaluate', '0', '--work-dir',
                    str(work_dir), '--data-root', str(data_root), *args,
                    env=dict(os.environ, OMP_NUM_THREADS='1'))


def test_domain_aware_federation_resumes_after_a_server_restart(tmp_path):
    work_dir, data_root = tmp_path / 'federation', tmp_path / 'shapeworld'
    first = _federate(work_dir, data_root, '--rounds', '1')
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    state = torch.load(work_dir / 'round_1.pth', weights_only=True)['state_dict']
    counts = [v for k, v in state.items() if k.endswith('key_counts')]
    # each domain's key from its own site (2 iterations x 2 images), not averaged (2, 2)
    assert counts and all(c.tolist() == [4.0, 4.0] for c in counts)

    # the server "restarted" with more rounds: refused without --resume, naming the fix
    again = _federate(work_dir, data_root, '--rounds', '2')
    assert again.returncode != 0
    assert 'holds rounds 1-1 of a federation' in again.stdout + again.stderr
    assert 'resume=true' in again.stdout + again.stderr

    resumed = _federate(work_dir, data_root, '--rounds', '2', '--resume')
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    record = json.load(open(work_dir / 'federation.json'))
    assert [r['round'] for r in record['rounds']] == [1, 2]
    assert 'federation resumed from round 1' in open(work_dir / 'federation.log').read()
    second = torch.load(work_dir / 'round_2.pth', weights_only=True)['state_dict']
    for k, v in second.items():
        if k.endswith('key_counts'):
            assert v.tolist() == [8.0, 8.0]  # went on from round 1's keys

    # the adapter of a domain-aware federation tests like any other
    test = run_tool('test.py', DOMAIN_CONFIG, str(work_dir / 'round_2.pth'), '--work-dir',
                    str(tmp_path / 'test'),
                    env=dict(os.environ, ODINW_DATASET='Aerial', ODINW_ROOT=str(data_root),
                             FED_DOMAINS='Thermal,Aerial'))
    assert test.returncode == 0, test.stderr[-3000:]


def test_a_site_that_drops_out_leaves_the_round_to_the_others(tmp_path):
    """Under FedProx (the sites' proximal term on), a site that fails in round 2 is left
    out of that round's average and named."""
    work_dir = tmp_path / 'federation'
    defaults = dict(config=os.path.join(ROOT, FEDAVG_CONFIG), domains='Thermal,Aerial',
                    rounds=2, local_iters=2, fraction_evaluate=0.0, min_nodes=2,
                    strategy='fedprox', proximal_mu=0.1,
                    work_dir=str(work_dir), data_root=str(tmp_path / 'shapeworld'))
    code = ('from tests.federated.faulty_sites import simulate_dropout; '
            f'simulate_dropout({defaults!r})')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                         text=True, timeout=900,
                         env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1',
                                  PYTHONWARNINGS='ignore'))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    record = json.load(open(work_dir / 'federation.json'))
    assert record['identity']['strategy'] == 'fedprox'
    rounds = record['rounds']
    assert sorted(rounds[0]['sites']) == ['Aerial', 'Thermal'] and not rounds[0]['failed']
    assert rounds[1]['sites'] == ['Thermal']
    assert len(rounds[1]['failed']) == 1 and 'site lost its connection' in rounds[1]['failed'][0]
    assert 'round 2: 1 sites averaged (Thermal), 0 rejected, 1 failed' in open(
        work_dir / 'federation.log').read()
