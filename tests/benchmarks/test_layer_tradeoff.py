"""benchmarks/layer_tradeoff.py: joins the cost rows with the demo rows they stand for."""
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

SCRIPT = os.path.join(ROOT, 'benchmarks', 'layer_tradeoff.py')


def _cost_row(name, step, mem, note):
    return dict(name=name, note=note, fusion_layers=6, trainable=98304, step_s=step,
                step_vs_full=step / 20.0, mem_vs_full=mem, peak_mb=mem * 1000)


def _inputs(tmp_path):
    cost = dict(rows=[_cost_row('plain', 4.0, 0.1, 'nothing'), _cost_row('sdpt', 8.0, 0.4, 'K=8 x 6'),
                      _cost_row('sdpt-last1', 5.0, 0.1, 'K=48 x last 1'),
                      _cost_row('sdpt-last2', 6.0, 0.2, 'K=24 x last 2'),
                      _cost_row('full', 20.0, 1.0, 'everything'),
                      dict(name='sdpt-last3', skipped='out of memory')])
    demo = [dict(method='zero-shot', ap=0.3)] + [
        dict(method='sdpt', ap=ap) for ap in (0.69, 0.71)] + [
        dict(method='sdpt_last1', ap=ap) for ap in (0.68, 0.66, 0.67)]
    paths = tmp_path / 'cost.json', tmp_path / 'demo.json'
    for path, data in zip(paths, (cost, demo)):
        path.write_text(json.dumps(data))
    return paths


def test_table_json_and_png(tmp_path):
    cost, demo = _inputs(tmp_path)
    out = tmp_path / 'out'
    res = subprocess.run([sys.executable, SCRIPT, '--cost', str(cost), '--demo', str(demo),
                          '--out', str(out)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = {r['setting']: r for r in json.loads((out / 'layer_tradeoff.json').read_text())}
    assert list(rows) == ['sdpt', 'sdpt-last2', 'sdpt-last1']  # skipped rows left out
    # the demo model has 2 fusion layers: its all-layer row stands for 'last 2' as well
    assert rows['sdpt-last2']['demo_method'] == rows['sdpt']['demo_method'] == 'sdpt'
    assert rows['sdpt-last1']['demo_method'] == 'sdpt_last1'
    assert rows['sdpt-last1']['demo_ap'] == pytest.approx(0.67)
    assert rows['sdpt-last1']['share_of_gain'] == pytest.approx((0.67 - 0.3) / (0.70 - 0.3))
    assert rows['sdpt']['share_of_gain'] == pytest.approx(1.0)
    assert rows['sdpt-last1']['step_vs_full'] == pytest.approx(0.25)
    assert '| last 1 | K=48 x last 1 | 5.00 | 0.25 |' in res.stdout
    assert (out / 'layer_tradeoff.png').stat().st_size > 1000


def test_missing_inputs_name_the_benchmark_to_run(tmp_path):
    res = subprocess.run([sys.executable, SCRIPT, '--cost', str(tmp_path / 'none.json')],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2 and 'benchmarks/tuning_cost.py' in res.stderr
