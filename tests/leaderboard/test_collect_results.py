"""tools/collect_results.py on fabricated work dirs (the files tools/test.py writes)."""
import csv
import importlib.util
import json
import os
import os.path as osp
import shutil
import statistics

import pytest

from mmdet_sdpt.datasets import odinw_suite
from tests.helpers import ROOT
from tests.helpers import write_protocol_run, write_test_result

TOOL = osp.join(ROOT, 'tools', 'collect_results.py')
SEEDS = (3, 30, 300)
# 3-shot AP of three ODinW13 datasets per seed, and full-data AP of two
FEWSHOT = {'AerialMaritimeDrone': (0.101, 0.153, 0.122), 'Aquarium': (0.25, 0.2, 0.3),
           'pistols': (0.5, 0.52, 0.47)}
FULL = {'Raccoon': 0.61, 'pothole': 0.33}


def load_tool():
    spec = importlib.util.spec_from_file_location('collect_results', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_train_only(work_dir, stamp='20231231_100000'):
    """What training leaves: validation scalars under vis_data, no <ts>/<ts>.json."""
    os.makedirs(osp.join(work_dir, stamp, 'vis_data'), exist_ok=True)
    with open(osp.join(work_dir, stamp, 'vis_data', stamp + '.json'), 'w') as f:
        f.write(json.dumps({'coco/bbox_mAP': 0.99, 'step': 10}) + '\n')


@pytest.fixture
def suite_dirs(tmp_path):
    root = tmp_path / 'work_dirs' / 'glip_t_odinw_fewshot'
    for dataset, values in FEWSHOT.items():
        for seed, value in zip(SEEDS, values):
            work_dir = str(root / dataset / f'shot3_seed{seed}')
            write_train_only(work_dir)
            write_test_result(work_dir, {'coco/bbox_mAP': 0.0}, stamp='20240101_110000')
            write_test_result(work_dir, {'coco/bbox_mAP': value, 'coco/bbox_mAP_50': 0.9})
    full = tmp_path / 'work_dirs' / 'glip_t_odinw'
    for dataset, value in FULL.items():
        write_test_result(str(full / dataset), {'coco/bbox_mAP': value})
    write_train_only(str(full / 'EgoHands'))  # trained, never tested: no result
    return tmp_path / 'work_dirs'


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_per_dataset_mean_std_and_suite_average(suite_dirs, tmp_path, capsys):
    out = str(tmp_path / 'out' / 'results')
    assert load_tool().main([str(suite_dirs), '--suite', 'odinw13', '--out', out]) == 0
    rows = {(r['shot'], r['dataset']): r for r in read_csv(out + '.csv')}
    for dataset, values in FEWSHOT.items():
        row = rows['3', dataset]
        assert float(row['mean']) == pytest.approx(statistics.fmean(values), abs=1e-12)
        assert float(row['std']) == pytest.approx(statistics.stdev(values), abs=1e-12)
        assert [float(row[f'seed_{s}']) for s in SEEDS] == list(values)  # newest test won
    average = rows['3', 'average']
    means = [statistics.fmean(v) for v in FEWSHOT.values()]
    per_seed = [statistics.fmean(v[i] for v in FEWSHOT.values()) for i in range(3)]
    assert float(average['mean']) == pytest.approx(statistics.fmean(means), abs=1e-12)
    assert float(average['std']) == pytest.approx(statistics.stdev(per_seed), abs=1e-12)
    assert average['num_seeds'] == '3'  # datasets averaged
    # full data: single runs, no std; EgoHands trained but untested is missing
    assert float(rows['0', 'Raccoon']['mean']) == 0.61 and rows['0', 'Raccoon']['std'] == ''
    assert float(rows['0', 'average']['mean']) == pytest.approx((0.61 + 0.33) / 2)
    assert ('0', 'EgoHands') not in rows

    printed = capsys.readouterr()
    suite = list(odinw_suite('odinw13'))
    missing = [d for d in suite if d not in FEWSHOT]
    avg = f'{100 * statistics.fmean(means):.1f} ± {100 * statistics.stdev(per_seed):.1f}'
    assert f'**{avg}**' in printed.out
    assert f'3/13 datasets of odinw13; MISSING 10: {", ".join(missing)}' in printed.out
    assert 'WARNING: 3-shot: the average is over 3 of 13 odinw13 datasets' in printed.err
    assert open(out + '.md').read().strip() in printed.out
    assert open(out + '.png', 'rb').read(8) == b'\x89PNG\r\n\x1a\n'


def test_rows_follow_the_suite_order_from_mmdet(suite_dirs, tmp_path):
    out = str(tmp_path / 'r')
    load_tool().main([str(suite_dirs / 'glip_t_odinw_fewshot'), '--suite', 'odinw13',
                      '--out', out])
    order = [r['dataset'] for r in read_csv(out + '.csv') if r['dataset'] != 'average']
    suite = list(odinw_suite('odinw13'))
    assert order == sorted(FEWSHOT, key=suite.index)


def test_outputs_are_written_atomically(suite_dirs, tmp_path, monkeypatch):
    out = str(tmp_path / 'res')
    replaced, real_replace = [], os.replace

    def spy(src, dst):
        assert osp.dirname(src) == osp.dirname(dst) and osp.getsize(src) > 0
        replaced.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', spy)
    tool = load_tool()
    assert tool.main([str(suite_dirs), '--suite', 'odinw13', '--out', out]) == 0
    assert sorted(replaced) == [out + '.csv', out + '.md', out + '.png']
    before = {ext: open(out + ext, 'rb').read() for ext in ('.csv', '.md', '.png')}

    # a writer dying half-way leaves the previous file whole and no temporary behind
    import matplotlib.figure

    def broken_savefig(self, fname, **kwargs):
        open(fname, 'wb').write(b'\x89PN')
        raise OSError('disk full')

    monkeypatch.setattr(matplotlib.figure.Figure, 'savefig', broken_savefig)
    with pytest.raises(OSError, match='disk full'):
        tool.main([str(suite_dirs), '--suite', 'odinw13', '--out', out])
    assert open(out + '.png', 'rb').read() == before['.png']
    assert sorted(os.listdir(tmp_path)) == ['res.csv', 'res.md', 'res.png', 'work_dirs']


def test_dataset_shot_seed_from_the_dumped_config(tmp_path):
    # any work dir name: the config mmengine dumped there names the run
    work_dir = str(tmp_path / 'my_run')
    write_test_result(work_dir, {'coco/bbox_mAP': 0.42})
    with open(osp.join(work_dir, 'glip_t_odinw_fewshot.py'), 'w') as f:
        f.write("odinw_dataset = 'Raccoons'\nodinw_suite = 'odinw35'\nodinw_shot = 5\n"
                "odinw_seed = 30\nmodel = dict(type='TunedDetector')\n")
    from mmdet_sdpt.leaderboard import read_run
    run = read_run(work_dir)
    assert (run.dataset, run.shot, run.seed, run.suite) == ('Raccoons', 5, 30, 'odinw35')
    out = str(tmp_path / 'r')
    assert load_tool().main([work_dir, '--out', out]) == 0  # suite from the config
    average = [r for r in read_csv(out + '.csv') if r['dataset'] == 'average'][0]
    assert average['note'].startswith('1/35 datasets of odinw35; MISSING 34')


def test_without_a_suite_the_average_says_what_it_is_over(suite_dirs, tmp_path, capsys):
    out = str(tmp_path / 'r')
    assert load_tool().main([str(suite_dirs / 'glip_t_odinw'), '--out', out]) == 0
    assert '2 datasets (no suite given)' in capsys.readouterr().out


def test_a_dataset_outside_the_suite_is_shown_but_not_averaged(tmp_path, capsys):
    write_test_result(str(tmp_path / 'w' / 'Raccoon'), {'coco/bbox_mAP': 0.6})
    write_test_result(str(tmp_path / 'w' / 'helmets'), {'coco/bbox_mAP': 0.2})
    out = str(tmp_path / 'r')
    assert load_tool().main([str(tmp_path / 'w'), '--suite', 'odinw13', '--out', out]) == 0
    rows = {r['dataset']: r for r in read_csv(out + '.csv')}
    assert rows['helmets']['in_average'] == '0' and float(rows['average']['mean']) == 0.6
    assert 'helmets (not in odinw13)' in capsys.readouterr().out


def test_two_results_for_one_run_are_refused(tmp_path):
    for parent in ('a', 'b'):
        write_test_result(str(tmp_path / parent / 'Raccoon' / 'shot1_seed3'),
                          {'coco/bbox_mAP': 0.1})
    with pytest.raises(ValueError, match='two results for dataset Raccoon'):
        load_tool().main([str(tmp_path), '--out', str(tmp_path / 'r')])


def test_reads_the_config_the_fewshot_config_dumps(tmp_path, monkeypatch):
    """What mmengine dumps of configs/sdpt/glip_t_odinw_fewshot.py names the run."""
    from mmengine.config import Config

    from mmdet_sdpt.leaderboard import read_run
    monkeypatch.setenv('ODINW_DATASET', 'Raccoons')
    monkeypatch.setenv('ODINW_SUITE', 'odinw35')
    monkeypatch.setenv('ODINW_SHOT', '10')
    monkeypatch.setenv('ODINW_SEED', '300')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sdpt', 'glip_t_odinw_fewshot.py'))
    work_dir = str(tmp_path / 'anywhere')
    write_test_result(work_dir, {'coco/bbox_mAP': 0.3})
    cfg.dump(osp.join(work_dir, 'glip_t_odinw_fewshot.py'))
    run = read_run(work_dir)
    assert (run.dataset, run.shot, run.seed, run.suite) == ('Raccoons', 10, 300, 'odinw35')


def test_leaderboard_keys_methods_and_reports_retention(tmp_path, capsys):
    root = str(tmp_path / 'protocol')
    datasets = ('Synonyms', 'Thermal')
    zero = {'Synonyms': 0.05, 'Thermal': 0.30}
    for d in datasets:  # the base evaluated untuned: base-domain AP 0.60
        write_protocol_run(root, 'tiny-glip', 'zero-shot', d, 0, 0, zero[d], 0.60)
    tuned = {  # (method, dataset, seed) -> (target AP, base-domain AP)
        ('sdpt', 'Synonyms', 3): (0.50, 0.57), ('sdpt', 'Synonyms', 30): (0.40, 0.54),
        ('sdpt', 'Thermal', 3): (0.60, 0.60), ('sdpt', 'Thermal', 30): (0.50, 0.51),
        ('full', 'Synonyms', 3): (0.70, 0.30), ('full', 'Synonyms', 30): (0.60, 0.24),
        ('full', 'Thermal', 3): (0.80, 0.36), ('full', 'Thermal', 30): (0.70, 0.30)}
    for (method, d, seed), (ap, base) in tuned.items():
        write_protocol_run(root, 'tiny-glip', method, d, 3, seed, ap, base)
    out = str(tmp_path / 'lb')
    assert load_tool().main([root, '--suite', 'shapeworld', '--out', out]) == 0
    rows = read_csv(out + '.csv')
    get = {(r['method'], r['quantity'], r['shot'], r['dataset']): r for r in rows}
    # the target test is never replaced by the retention test
    sdpt = get['tiny-glip sdpt', 'ap', '3', 'Synonyms']
    assert float(sdpt['seed_3']) == 0.50 and float(sdpt['seed_30']) == 0.40
    # retained = tuned / zero-shot base-domain AP, mean over seeds, per dataset
    kept = get['tiny-glip full', 'retained', '3', 'Thermal']
    assert float(kept['mean']) == pytest.approx((0.36 / 0.6 + 0.30 / 0.6) / 2)
    assert float(get['tiny-glip zero-shot', 'retained', 'zero-shot', 'Thermal']['mean']) == 1
    # harmonic mean of the average AP and the average retained, mean ± std over seeds
    ap_avg = statistics.fmean([0.45, 0.55])
    kept_avg = statistics.fmean([(0.57 / .6 + 0.54 / .6) / 2, (0.60 / .6 + 0.51 / .6) / 2])
    hm = get['tiny-glip sdpt', 'hm', '3', 'average']
    assert float(hm['mean']) == pytest.approx(2 * ap_avg * kept_avg / (ap_avg + kept_avg))
    per_seed = [(statistics.fmean([.5, .6]), statistics.fmean([.57 / .6, .60 / .6])),
                (statistics.fmean([.4, .5]), statistics.fmean([.54 / .6, .51 / .6]))]
    assert float(hm['std']) == pytest.approx(statistics.stdev(
        [2 * a * k / (a + k) for a, k in per_seed]))
    printed = capsys.readouterr().out
    board = printed[printed.index('### Leaderboard, 3-shot'):]
    order = [line.split('|')[1].strip() for line in board.splitlines()
             if line.startswith('| tiny-glip')]
    assert order == ['tiny-glip full', 'tiny-glip sdpt', 'tiny-glip zero-shot']  # by AP
    assert open(out + '.png', 'rb').read(8) == b'\x89PNG\r\n\x1a\n'


def test_paired_differences_over_datasets_and_seeds(tmp_path):
    from scipy import stats

    from mmdet_sdpt.leaderboard import find_runs
    from mmdet_sdpt.leaderboard import paired_difference
    root = str(tmp_path / 'p')
    a = {('D1', 3): .50, ('D1', 30): .42, ('D2', 3): .61, ('D2', 30): .55, ('D3', 3): .30,
         ('D3', 30): .33}
    b = {('D1', 3): .45, ('D1', 30): .44, ('D2', 3): .50, ('D2', 30): .52, ('D3', 3): .31,
         ('D3', 30): .25}
    for method, values in (('sdpt', a), ('lora', b)):
        for (d, seed), ap in values.items():
            write_protocol_run(root, 'tiny-glip', method, d, 3, seed, ap, 0.5)
    for d in ('D1', 'D2', 'D3'):
        write_protocol_run(root, 'tiny-glip', 'zero-shot', d, 0, 0, 0.1, 0.5)
    runs = find_runs([root])
    diff = paired_difference(runs, 'tiny-glip sdpt', 'tiny-glip lora', 3)
    x, y = zip(*[(a[k], b[k]) for k in sorted(a)])
    test = stats.ttest_rel(x, y)
    assert diff.n == 6 and diff.mean == pytest.approx(statistics.fmean(
        [p - q for p, q in zip(x, y)]))
    assert diff.p == pytest.approx(test.pvalue) and diff.wins == 4
    ci = test.confidence_interval(0.95)
    assert (diff.low, diff.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert diff.verdict == 'no real difference'  # the interval holds 0
    # zero-shot (run once) pairs with every seed of the other method
    zs = paired_difference(runs, 'tiny-glip sdpt', 'tiny-glip zero-shot', 3)
    assert zs.n == 6 and zs.low > 0 and zs.verdict == 'tiny-glip sdpt > tiny-glip zero-shot'


def test_a_leaderboard_without_retention_says_why_and_draws_one_panel(tmp_path, monkeypatch):
    from mmdet_sdpt.leaderboard import find_runs, leaderboard, plots, report
    root = str(tmp_path / 'protocol')
    for d in ('Synonyms', 'Thermal'):
        for method, ap in (('zero-shot', 0.1), ('sdpt', 0.5), ('full', 0.6)):
            work_dir = write_protocol_run(root, 'tiny-glip', method, d, 3, 3, ap, 0.5)
            shutil.rmtree(osp.join(work_dir, 'retention'))  # run with --no-retention
    boards = leaderboard(find_runs([root]), 'coco/bbox_mAP', 'shapeworld')
    md = report.board_markdown(boards, 'coco/bbox_mAP')
    assert 'base AP kept (%)' not in md and 'harmonic mean' not in md
    assert 'no run has a retention test' in md  # shapeworld has a retention split
    figures = []
    monkeypatch.setattr(plots, 'save_figure', lambda fig, path, **k: figures.append(fig))
    plots.plot_boards(boards, 'coco/bbox_mAP', str(tmp_path / 'x.png'))
    assert len(figures[0].axes) == 1  # no empty retention panel
    kept = str(tmp_path / 'kept')
    for method, ap in (('zero-shot', 0.1), ('sdpt', 0.5)):
        write_protocol_run(kept, 'tiny-glip', method, 'Synonyms', 3, 3, ap, 0.5)
    plots.plot_boards(leaderboard(find_runs([kept]), 'coco/bbox_mAP', 'shapeworld'),
                        'coco/bbox_mAP', str(tmp_path / 'y.png'))
    assert len(figures[1].axes) == 2
