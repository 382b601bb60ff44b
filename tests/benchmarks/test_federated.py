"""benchmarks/federated.py's tables: a row appears only when every site has its figure, the
rounds to 90% of the centralized AP are the first round whose mean reaches it, the bytes come
from the federation's record, and the README block is replaced in place."""
import argparse

import pytest

from tests.helpers import load_script


@pytest.fixture(scope='module')
def bench():
    return load_script('benchmarks', 'federated.py')


def _args(**kw):
    return argparse.Namespace(**dict(dict(domains=['A', 'B'], rounds=3, local_iters=5, shot=3,
                                          seed=3), **kw))


def _cache():
    cache = {'zero-shot/A': 0.1, 'zero-shot/B': 0.3, 'local/A': 0.4,  # local/B missing
             'centralized': {'A': 0.6, 'B': 0.8},
             'fedavg/record': [dict(round=1, bytes_up=200, bytes_down=200, sites=['A', 'B'],
                                    rejected=0, failed=0)]}
    for r, (a, b) in enumerate([(0.2, 0.4), (0.5, 0.7), (0.6, 0.8)], 1):
        cache[f'fedavg/round_{r}/A'], cache[f'fedavg/round_{r}/B'] = a, b
    for r, (a, b) in enumerate([(0.2, 0.2), (0.3, 0.3), (0.4, 0.4)], 1):
        cache[f'domain-aware/round_{r}/A'], cache[f'domain-aware/round_{r}/B'] = a, b
    return cache


def test_the_summary_follows_the_pieces(bench):
    s = bench.summarize(_cache(), _args())
    assert '(b) local only' not in s['rows']  # a site's figure missing: no row
    assert s['rows']['(a) zero-shot']['mean'] == pytest.approx(0.2)
    # centralized mean 0.7, 90%: 0.63; FedAvg's means 0.3, 0.6, 0.7 -> round 3
    assert s['reach']['fedavg'] == dict(curve=[0.3, 0.6, 0.7], rounds_to_90=3)
    assert s['reach']['domain-aware']['rounds_to_90'] is None
    assert s['bytes']['shared'] == dict(per_round=400, per_site_round=200)
    text = bench.to_markdown(s)
    assert '| (e) centralized (pooled data) | 0.600 | 0.800 | **0.700** |' in text
    assert 'domain-aware): not within 3 rounds' in text


def test_the_readme_block_is_replaced_in_place(bench, tmp_path):
    from benchmarks.pieces import update_block
    page = tmp_path / 'README.md'
    page.write_text(f'before\n{bench.BEGIN}\nold\n{bench.END}\nafter\n')
    update_block(str(page), bench.BEGIN, bench.END, 'new table\n')
    assert page.read_text() == f'before\n{bench.BEGIN}\nnew table\n{bench.END}\nafter\n'
    (tmp_path / 'other.md').write_text('no block')
    with pytest.raises(SystemExit, match='has no <!-- federated:begin -->'):
        update_block(str(tmp_path / 'other.md'), bench.BEGIN, bench.END, 'x')


def test_a_finished_piece_is_not_computed_again(tmp_path):
    """A stopped benchmark goes on where it stopped: its pieces live in the work root."""
    from benchmarks.pieces import Pieces
    calls = []
    first = Pieces(str(tmp_path))
    assert first.cached('a', lambda: calls.append(1) or 0.5) == 0.5
    again = Pieces(str(tmp_path))  # a new process on the same work root
    assert again.cached('a', lambda: calls.append(2) or 0.9) == 0.5
    assert calls == [1]
