"""benchmarks/serving.py end to end on the tiny GLIP (subprocesses, CPU)."""
import pytest
import json
import os
import subprocess
import sys

from tests.helpers import ROOT

SCRIPT = os.path.join(ROOT, 'benchmarks', 'serving.py')


@pytest.mark.slow
def test_many_adapters_are_measured_against_merged_models(tiny_env, tmp_path):
    out = str(tmp_path / 'serving.json')
    res = subprocess.run(
        [sys.executable, SCRIPT, '--tiny', '--adapters', '1', '3', '--batch', '3', '--size',
         '96', '--runs', '1', '--out', out], capture_output=True, text=True, cwd=ROOT,
        timeout=600, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.load(open(out))['rows']
    assert [r['n'] for r in rows] == [1, 3]
    for r in rows:
        assert set(r['throughput']) == {'own tokens', 'single', 'mixed'}
        assert all(v > 0 for v in r['throughput'].values())
        assert 0 < r['switch_s'] < r['reload_s']
        assert r['bank_bytes'] > 0 and r['model_bytes'] > 100 * r['bank_bytes']
    assert rows[1]['bank_bytes'] == 3 * rows[0]['bank_bytes']  # one row per adapter
    assert '| 3 |' in res.stdout and 'mixed / single' in res.stdout
