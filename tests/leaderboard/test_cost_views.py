"""The results' cost and anytime views (mmdet_sdpt/leaderboard/cost_views.py) and the Pareto
view (tradeoff.py) on fabricated runs, and tools/collect_results.py writing them."""
import json
import os.path as osp

import pytest

from mmdet_sdpt.leaderboard import cost_views, find_runs, leaderboard, tradeoff
from tests.helpers import write_protocol_run


def write_cost(work_dir, curve, epochs, max_epochs=60, stopped=True):
    """cost.json as RunCostHook writes it; curve: [(seconds, valid AP)] one per epoch."""
    best = max(range(len(curve)), key=lambda i: (curve[i][1], -i))
    vals = [dict(iter=10 * (i + 1), epoch=i + 1, seconds=s, metrics={'coco/bbox_mAP': v})
            for i, (s, v) in enumerate(curve)]
    json.dump(dict(finished=True, train_seconds=curve[-1][0] + 1.0, iterations=10 * epochs,
                   epochs=epochs, max_iters=None, max_epochs=max_epochs,
                   stopped_early=stopped, validations=vals,
                   best=dict(vals[best], key='coco/bbox_mAP')),
              open(osp.join(work_dir, 'cost.json'), 'w'))


@pytest.fixture
def runs(tmp_path):
    root = str(tmp_path / 'p')
    for d in ('Synonyms', 'Thermal'):
        write_protocol_run(root, 'tiny-glip', 'zero-shot', d, 0, 0, 0.2, 0.6)
        # fast: good early, then flat; slow: poor early, best late
        fast = write_protocol_run(root, 'tiny-glip', 'fast', d, 3, 3, 0.5, 0.3)
        write_cost(fast, [(10, 0.40), (20, 0.50), (30, 0.45)], epochs=3)
        slow = write_protocol_run(root, 'tiny-glip', 'slow', d, 3, 3, 0.7, 0.57)
        write_cost(slow, [(40, 0.10), (80, 0.60), (120, 0.70), (160, 0.65)], epochs=4)
        keep = write_protocol_run(root, 'tiny-glip', 'keeper', d, 3, 3, 0.4, 0.6)
        write_cost(keep, [(10, 0.30), (20, 0.35)], epochs=60, stopped=False)
    return find_runs([root])


def test_cost_table_times_to_best_and_stops(runs):
    costs = cost_views.read_costs(runs)
    assert len(costs) == 6  # the zero-shot runs trained nothing
    text = cost_views.cost_markdown(costs)
    slow = [ln for ln in text.splitlines() if 'tiny-glip slow' in ln][0]
    # training 161 s, best at 120 s, epoch 3 of 4, stopped early both times
    assert '| 2 | 161 | 120 | 3.0, 3 | 4.0 | 2/2 |' in slow
    keeper = [ln for ln in text.splitlines() if 'tiny-glip keeper' in ln][0]
    assert keeper.endswith('| 60.0 | 0/2 |')  # ran to the schedule's end


def test_anytime_is_the_best_so_far_and_names_the_leader_per_budget(runs):
    costs = cost_views.read_costs(runs)
    slow = [c for c in costs if c.label == 'tiny-glip slow'][0]
    assert cost_views.value_at(slow, 39) is None  # not validated yet
    assert cost_views.value_at(slow, 130) == 0.70
    assert cost_views.value_at(slow, 1000) == 0.70  # the best kept, also after a worse one
    view = cost_views.anytime(costs, [15, 25, 90, 200])
    assert view[(3, 'tiny-glip fast')] == [0.40, 0.50, 0.50, 0.50]
    assert view[(3, 'tiny-glip slow')] == [None, None, 0.60, 0.70]
    table = cost_views.anytime_markdown(costs, [15, 25, 90, 200])
    assert '| 3-shot | 15 | tiny-glip fast | 40.0 |' in table
    assert '| 3-shot | 90 | tiny-glip slow | 60.0 | tiny-glip fast (50.0) |' in table
    assert '| 25 |' not in table  # the same leader as the row before


def test_pareto_front_and_best_under_a_floor(runs):
    board, = leaderboard(runs, 'coco/bbox_mAP', None)
    # kept: fast 0.5, slow 0.95, keeper 1.0; AP: 0.5, 0.7, 0.4
    assert tradeoff.pareto_front(board) == ['tiny-glip slow', 'tiny-glip keeper']
    assert tradeoff.best_under_floor(board, 0.9).label == 'tiny-glip slow'
    assert tradeoff.best_under_floor(board, 0.99).label == 'tiny-glip keeper'
    assert tradeoff.best_under_floor(board, 1.01) is None
    text = tradeoff.tradeoff_markdown([board], 0.9)
    assert '**tiny-glip slow** (70.0 AP, 95.0% kept)' in text


def test_collect_results_writes_the_views(runs, tmp_path):
    import importlib.util

    from tests.helpers import ROOT
    spec = importlib.util.spec_from_file_location(
        'collect_results', osp.join(ROOT, 'tools', 'collect_results.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'res')
    assert tool.main([str(tmp_path / 'p'), '--out', out, '--suite', 'none']) == 0
    md = open(out + '.md').read()
    assert '## Cost' in md and '## Anytime' in md and 'Pareto' not in md.split('## Cost')[0]
    assert '## Target AP vs base AP kept' in md
    assert osp.getsize(out + '_anytime.png') > 0 and osp.getsize(out + '_pareto.png') > 0


def test_a_method_still_missing_datasets_is_not_compared_until_complete(tmp_path):
    """A grid still running: 'lora' has one of the two datasets the others have. Its average
    is over another set, so the table says so and the front and the best leave it out."""
    from mmdet_sdpt.leaderboard import board_markdown
    from mmdet_sdpt.leaderboard.stats import comparable_labels
    root = str(tmp_path / 'lb')
    for d in ('Synonyms', 'Thermal'):
        write_protocol_run(root, 'tiny-glip', 'zero-shot', d, 0, 0, 0.1, 0.6)
        write_protocol_run(root, 'tiny-glip', 'sdpt', d, 3, 3, 0.4, 0.58)
        write_protocol_run(root, 'tiny-glip', 'full', d, 3, 3, 0.5, 0.3)
    write_protocol_run(root, 'tiny-glip', 'lora', 'Synonyms', 3, 3, 0.9, 0.6)  # best, alone
    [board] = leaderboard(find_runs([root]), 'coco/bbox_mAP', 'shapeworld')
    assert comparable_labels(board) == {'tiny-glip zero-shot', 'tiny-glip sdpt',
                                        'tiny-glip full'}
    row = [ln for ln in board_markdown([board], 'coco/bbox_mAP').splitlines()
           if ln.startswith('| tiny-glip lora')][0]
    assert '**90.0** (1/2 datasets)' in row  # of the board's 2
    assert 'tiny-glip lora' not in tradeoff.pareto_front(board)
    assert tradeoff.best_under_floor(board, 0.9).label == 'tiny-glip sdpt'
    assert 'left out until all their datasets are in: tiny-glip lora' in \
        tradeoff.tradeoff_markdown([board], 0.9)
