"""benchmarks/prefix_cache.py end to end on the tiny GLIP (subprocesses, CPU)."""
import pytest
import json
import os
import subprocess
import sys

from tests.helpers import ROOT

SCRIPT = os.path.join(ROOT, 'benchmarks', 'prefix_cache.py')


@pytest.mark.slow
def test_cached_rows_are_measured_beside_uncached_ones(tiny_env, tmp_path):
    out = str(tmp_path / 'prefix_cache.json')
    res = subprocess.run(
        [sys.executable, SCRIPT, '--methods', 'sdpt-last1', '--batch', '2', '--size', '96',
         '--steps', '1', '--warmup', '0', '--infer-runs', '1', '--out', out],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert res.returncode == 0, res.stderr[-3000:]
    rows = {r['name']: r for r in json.load(open(out))['rows']}
    assert set(rows) == {'plain', 'full', 'sdpt-last1', 'sdpt-last1-cached'}
    assert all('step_s' in r for r in rows.values()), rows  # none skipped
    cache = rows['sdpt-last1-cached']['cache']
    # the filling step stored both images (loss); the timed step hit them; predict: 1 miss
    # run and 1 hit run of 2 images each
    assert (cache['hits'], cache['misses'], cache['entries']) == (4, 4, 4)
    assert 'dyhead_tower' in cache['cut'] and cache['bytes'] > 0
    assert rows['sdpt-last1']['cache'] is None
    assert '| sdpt-last1-cached |' in res.stdout and 'x plain forward' in res.stdout
