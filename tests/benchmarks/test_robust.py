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
    args = argparse.Namespace(datasets=['Thermal', 'demo'], shot=3, seed=3, eps=[2.0, 8.0],
                              test_steps=5, advpt_test=[16.0, 40.0],
                              rows=['zero-shot', 'SDPT', 'AdvPT-SDPT'])
    cache = {'Thermal/zero-shot/adaptive': {'0': 0.4, '2': 0.2, '8': 0.05},
             'Thermal/zero-shot/feature': {'2': 0.35},
             'Thermal/SDPT/adaptive': {'0': 0.6}, 'Thermal/SDPT/transfer': {'8': 0.3},
             'Thermal/SDPT/advpt_test': {'16': 0.1},
             'Thermal/train/SDPT': dict(train_seconds=12.4, lr=0.15),
             'Thermal/train/AdvPT-SDPT': dict(attack_seconds=3.0),
             'demo/SDPT/adaptive': {'0': 0.7, '2': 0.5}}
    s = bench.summarize(cache, args)
    assert list(s['datasets']) == ['Thermal', 'demo']
    thermal = s['datasets']['Thermal']['rows']
    assert list(thermal) == ['zero-shot', 'SDPT']  # AdvPT-SDPT: nothing in yet
    assert thermal['zero-shot']['transfer'] == {'2': 0.2, '8': 0.05}
    # a dataset's pieces stay its own
    assert list(s['datasets']['demo']['rows']) == ['SDPT']
    assert s['datasets']['demo']['rows']['SDPT']['clean'] == 0.7
    text = bench.to_markdown(s)
    assert '**ShapeWorld Thermal** (training images attacked in 3.0 s)' in text
    assert '**the demo**' in text
    assert '| zero-shot | 0.400 | 0.350 | — | 0.200 | 0.050 | 0.200 | 0.050 | — | — |' in text
    assert '| SDPT | 0.600 | — | — | — | — | — | 0.300 | 0.100 | 12 |' in text
    assert '| SDPT | 0.700 | — | — | 0.500 | — | — | — | — | — |' in text


def test_the_demo_reads_its_own_configs_and_data(bench, tmp_path):
    args = bench.parse_args(['--work-root', str(tmp_path), '--datasets', 'Thermal', 'demo'])
    b = bench.Bench(args)
    assert b.config('demo', 'SDPT').endswith('configs/sdpt/demo_tiny-glip_synthetic.py')
    assert b.config('Thermal', 'AdvPT-SDPT').endswith(
        'configs/robust/tiny-glip_shapeworld_advpt.py')
    demo = b.env('demo')
    assert demo['DEMO_DATA'] == b.clean_root and 'ODINW_DATASET' not in demo
    thermal = b.env('Thermal')
    assert thermal['ODINW_DATASET'] == 'Thermal' and thermal['ODINW_ROOT'] == b.clean_root
    # every adversarial row's config attacks its own training images
    from mmengine.config import Config
    for row in ('AdvPT-SDPT', 'AdvPT text prompts (language_prompt_v2)',
                'full adversarial fine-tuning'):
        for dataset in ('Thermal', 'demo'):
            hooks = Config.fromfile(b.config(dataset, row)).custom_hooks
            assert 'AdversarialTrainingSetHook' in [h['type'] for h in hooks]


def test_the_rate_is_the_leaderboards_choice(bench):
    import json
    rates = json.load(open(osp.join(ROOT, 'benchmarks', 'results', 'leaderboard.json')))[
        'learning_rates']
    assert bench.chosen_rate('tiny-glip sdpt') == rates['tiny-glip sdpt']['lr']
    assert bench.chosen_rate(None) is None and bench.chosen_rate('no such method') is None
