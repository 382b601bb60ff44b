"""benchmarks/tuning_cost.py end to end on the tiny GLIP (a subprocess, CPU, ~1 min)."""
import json
import os
import subprocess
import sys

import pytest
from mmengine.config import Config

from tests.helpers import ROOT, TINY_CONFIG

SCRIPT = os.path.join(ROOT, 'benchmarks', 'tuning_cost.py')


@pytest.fixture(scope='module')
def result(tiny_env, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('cost') / 'cost.json')
    res = subprocess.run(
        [sys.executable, SCRIPT, '--tiny', '--steps', '1', '--warmup', '0', '--methods',
         'sdpt', 'full', '--infer-runs', '1', '--batch', '1', '--size', '128', '--out', out],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert res.returncode == 0, res.stderr[-3000:]
    with open(out) as f:
        return json.load(f), res.stdout


@pytest.mark.slow
def test_rows_are_measured(result):
    data, stdout = result
    rows = {r['name']: r for r in data['rows']}
    assert list(rows) == ['plain', 'sdpt', 'full']  # plain: always, the inference reference
    for name, r in rows.items():
        assert 'skipped' not in r, r
        assert r['step_s'] > 0 and r['infer_s'] > 0 and len(r['step_times']) == 1, name
        assert r['adapter_bytes'] > 0 and r['memory_method']
        assert f'| {name} |' in stdout
    assert data['machine']['cpu'] and stdout.startswith('machine: ')
    # the full adapter checkpoint holds every tensor (fp32), SDPT's only its prompts
    assert rows['full']['adapter_bytes'] > 4 * rows['full']['total']
    assert rows['sdpt']['adapter_bytes'] < rows['full']['adapter_bytes'] / 100
    assert rows['full']['peak_mb'] > 0  # gradients and AdamW state of 8.7M parameters


@pytest.mark.slow
def test_trainable_counts_match_the_tiny_model(result):
    rows = {r['name']: r for r in result[0]['rows']}
    cfg = Config.fromfile(TINY_CONFIG)
    k = cfg.model.tuner.num_tokens
    embed = next(e['embed_dim'] for e in cfg.model.post_build if e['type'] == 'RebuildVLFusion')
    assert rows['sdpt']['fusion_layers'] == 2 and (k, embed) == (4, 256)
    assert rows['sdpt']['trainable'] == 2 * k * embed == 2048
    assert rows['sdpt']['total'] == rows['plain']['total'] + 2048
    assert rows['full']['trainable'] == rows['full']['total'] == rows['plain']['total']
    assert rows['plain']['trainable'] == 0


def test_ratios_are_computed_as_documented(result):
    rows = {r['name']: r for r in result[0]['rows']}
    full, plain = rows['full'], rows['plain']
    for r in rows.values():
        assert r['step_vs_full'] == pytest.approx(r['step_s'] / full['step_s'])
        assert r['mem_vs_full'] == pytest.approx(r['peak_mb'] / full['peak_mb'])
        assert r['infer_vs_plain'] == pytest.approx(r['infer_s'] / plain['infer_s'])
        assert r['step_vs_plain_infer'] == pytest.approx(r['step_s'] / plain['infer_s'])
    assert full['step_vs_full'] == full['mem_vs_full'] == plain['infer_vs_plain'] == 1.0
