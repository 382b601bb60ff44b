"""benchmarks/self_tpt.py's tables: mean and std over the seeds that have a figure, the
harmonic mean per seed, the control and the premise's cosine read from the pieces."""
import argparse

import pytest

from tests.helpers import load_script


@pytest.fixture(scope='module')
def bench():
    return load_script('benchmarks', 'self_tpt.py')


def test_the_summary_follows_the_pieces(bench):
    args = argparse.Namespace(targets=['Synonyms'], seeds=[3, 30], shot=3, stage2_steps=5)
    cache = {'self-tpt/Synonyms/3': 0.4, 'self-tpt/Synonyms/30': 0.6,
             'self-tpt-base/Synonyms/3': 0.8, 'self-tpt-base/Synonyms/30': 0.6,
             'zero-shot/Synonyms/3': 0.2,  # one seed only
             'stage1/BaseShapes/3': 0.7, 'control/BaseShapes/3': 0.71,
             'stage1/cpt/3': dict(checkpoint='w/best_coco_bbox_mAP_epoch_4.pth',
                                  cosine=dict(mean=0.25, n=9)),
             'stage1/cpt/30': dict(checkpoint='y', cosine=dict(mean=0.35, n=9)),
             'stage2/Synonyms/3': dict(seconds=1.5)}
    s = bench.summarize(cache, args, 'BaseShapes')
    assert s['best_epochs'] == [4, None]
    row = s['rows']['Synonyms']['Self-TPT']
    assert row['novel'] == dict(mean=0.5, std=pytest.approx(0.1414, abs=1e-4), n=2)
    # per seed: 2*0.4*0.8/1.2 = 0.5333, 2*0.6*0.6/1.2 = 0.6
    assert row['hm']['mean'] == pytest.approx((0.5333 + 0.6) / 2, abs=1e-3)
    assert s['rows']['Synonyms']['zero-shot']['novel']['n'] == 1
    assert s['rows']['Synonyms']['zero-shot']['hm'] is None  # no base AP for it
    assert s['cosine']['mean'] == pytest.approx(0.3)
    text = bench.to_markdown(dict(sources=dict(BaseShapes=s)))
    assert "**Stage 1 on BaseShapes** (stage 1's best-on-valid epoch per seed: 4, —)" in text
    assert '| Synonyms | new-name AP | BaseShapes AP | HM |' in text
    assert '| Self-TPT | 0.500 ± 0.141 | 0.700 ± 0.141 |' in text
    assert '| zero-shot | 0.200 (1 seed) | — | — |' in text
    assert 'BaseShapes AP 0.700 (1 seed) after stage 1, 0.710 (1 seed) after stage 2' in text
