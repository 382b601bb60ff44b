"""benchmarks/robust.py's table: a row appears once its adaptive test (with the clean AP) is in,
the zero-shot base's transfer column is its own adaptive attack, missing figures show as a
dash, and the training rate comes from the leaderboard's choice."""
import argparse
import os.path as osp

import pytest

from tests.helpers import ROOT, load_script


@pytest.fixture(scope='module')
def bench():
    return load_script('benchmarks', 'robust.py')


def test_the_table_follows_the_pieces(bench):
    args = argparse.Namespace(dataset='Thermal', shot=3, seed=3, eps=[2.0, 8.0], test_steps=5,
                              train_eps=8.0, train_steps=10,
                              rows=['zero-shot', 'SDPT', 'AdvPT-SDPT'])
    cache = {'zero-shot/adaptive': {'0': 0.4, '2': 0.2, '8': 0.05},
             'zero-shot/feature': {'2': 0.35},
             'SDPT/adaptive': {'0': 0.6}, 'SDPT/transfer': {'8': 0.3},
             'train/SDPT': dict(train_seconds=12.4, lr=0.15),
             'adversarial_images': dict(seconds=3.0)}
    s = bench.summarize(cache, args)
    assert list(s['rows']) == ['zero-shot', 'SDPT']  # AdvPT-SDPT: nothing in yet
    assert s['rows']['zero-shot']['transfer'] == {'2': 0.2, '8': 0.05}
    text = bench.to_markdown(s)
    assert '| zero-shot | 0.400 | 0.350 | — | 0.200 | 0.050 | 0.200 | 0.050 | — |' in text
    assert '| SDPT | 0.600 | — | — | — | — | — | 0.300 | 12 |' in text


def test_the_rate_is_the_leaderboards_choice(bench):
    import json
    rates = json.load(open(osp.join(ROOT, 'benchmarks', 'results', 'leaderboard.json')))[
        'learning_rates']
    assert bench.chosen_rate('tiny-glip sdpt') == rates['tiny-glip sdpt']['lr']
    assert bench.chosen_rate(None) is None and bench.chosen_rate('no such method') is None
