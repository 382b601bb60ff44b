"""benchmarks/leaderboard.py's reporting on fabricated protocol runs (the difficulty check,
the paired table and the block it replaces) and on the committed grid's runs (the block of
docs/leaderboard.md rebuilt from them); training is covered by tests/engine/test_protocol.py."""
import importlib.util
import os
import os.path as osp

import pytest

from tests.helpers import ROOT
from tests.helpers import write_protocol_run

SCRIPT = osp.join(ROOT, 'benchmarks', 'leaderboard.py')


def load():
    spec = importlib.util.spec_from_file_location('leaderboard', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def runs(tmp_path):
    from mmdet_sdpt.leaderboard import find_runs
    root = str(tmp_path / 'lb')
    for d, zs in (('Synonyms', 0.02), ('Thermal', 0.30)):
        write_protocol_run(root, 'tiny-glip', 'zero-shot', d, 0, 0, zs, 0.6)
        for seed, (sdpt, full) in zip((3, 30, 300), ((.40, .55), (.45, .60), (.42, .50))):
            write_protocol_run(root, 'tiny-glip', 'sdpt', d, 3, seed, sdpt, .58)
            write_protocol_run(root, 'tiny-glip', 'full', d, 3, seed, full, .30)
    return find_runs([root])


def test_summary_reports_difficulty_and_paired_differences(runs):
    from mmdet_sdpt.leaderboard import leaderboard
    lb = load()
    boards = leaderboard(runs, 'coco/bbox_mAP', 'shapeworld')
    text = lb.summary(runs, boards, 'coco/bbox_mAP', 3600 * 1.5, 'a grid')
    assert 'Wall time: 1.50 h' in text and '### Leaderboard, 3-shot' in text
    # full - zero-shot = 0.55 - 0.16 on the average: able to rank; best 0.55 <= 0.85
    assert '3-shot: zero-shot 0.160, full fine-tuning 0.550' in text
    assert 'able to rank' in text and 'NOT able' not in text
    row = [ln for ln in text.splitlines() if 'tiny-glip sdpt − tiny-glip full' in ln][0]
    assert '| 6 |' in row and 'tiny-glip sdpt < tiny-glip full' in row


def test_the_sections_give_the_schedule_the_rates_and_the_rankings(runs, tmp_path,
                                                                   monkeypatch):
    """The README block's protocol sections: the schedule read from the config, the sweep's
    valid AP per factor with the chosen one, the old ranking beside the new with Kendall's
    tau, and the progress of an unfinished grid."""
    import json

    from mmdet_sdpt.leaderboard import leaderboard
    lb = load()
    monkeypatch.delenv('SW_SCHEDULE', raising=False)
    schedule = lb.schedule_markdown(lb.config_of('sdpt', 'glip'), [3, 10])
    assert '| 3-shot | 4 | 60 | 2 | 4 | 8 |' in schedule  # copies, epochs, batch, patiences
    assert '| 10-shot | 1 | 60 | 2 | 4 | 8 |' in schedule

    choice = dict(subset=dict(datasets=['Synonyms'], shot=3, seed=3, factors=[1 / 3, 1, 3]),
                  choice={'tiny-glip sdpt': dict(lr=0.15, factor=3.0, recipe_lr=0.05,
                                                 valid={'x0.333': 0.3, 'x1': 0.35, 'x3': 0.4})})
    rates = lb.rates_markdown(choice)
    assert '| tiny-glip sdpt | 0.05 | 30.0 | 35.0 | **40.0** | 0.15 |' in rates
    assert 'past it' not in rates
    # swept past the x3 edge: its own column, in order; '-' where another method was not
    choice['subset']['extend'] = 2
    choice['choice']['tiny-glip sdpt']['valid'].update({'x9': 0.45, 'x27': 0.42})
    choice['choice']['tiny-glip sdpt'].update(lr=0.45, factor=9.0)
    choice['choice']['tiny-glip lora'] = dict(lr=1e-3, factor=1.0, recipe_lr=1e-3, valid={
        'x0.333': 0.2, 'x1': 0.3, 'x3': 0.25})
    extended = lb.rates_markdown(choice)
    assert "| method | config's rate | x0.333 | x1 | x3 | x9 | x27 | chosen rate |" in extended
    assert '| tiny-glip sdpt | 0.05 | 30.0 | 35.0 | 40.0 | **45.0** | 42.0 | 0.45 |' in extended
    assert '| tiny-glip lora | 0.001 | 20.0 | **30.0** | 25.0 | - | - | 0.001 |' in extended
    assert 'swept past it, a factor at a time, up to 2 times' in extended

    boards = leaderboard(runs, 'coco/bbox_mAP', 'shapeworld')
    now = {r.label: r.target.mean for r in boards[0].rows}
    old = {label: dict(ap=ap) for label, ap in (('tiny-glip sdpt', 0.9),
                                                 ('tiny-glip full', 0.1))}
    path = tmp_path / 'old.json'
    path.write_text(json.dumps(dict(boards={'3-shot': old})))
    assert lb.ranking_markdown(boards, str(path)) == ''  # fewer than 3 common methods: none
    old['tiny-glip zero-shot'] = dict(ap=0.5)  # the zero-shot row is never ranked
    assert lb.ranking_markdown(boards, str(path)) == ''
    assert now['tiny-glip full'] > now['tiny-glip sdpt']
    from types import SimpleNamespace as NS
    new = {'a': 0.1, 'b': 0.2, 'c': 0.3, 'd': 0.4, 'tiny-glip zero-shot': 0.05}
    board = NS(label='3-shot', rows=[NS(label=k, target=NS(mean=v)) for k, v in new.items()])
    path.write_text(json.dumps(dict(boards={'3-shot': {
        k: dict(ap=v) for k, v in (('a', 0.4), ('b', 0.3), ('c', 0.2), ('d', 0.1))}})))
    ranking = lb.ranking_markdown([board], str(path))
    assert "3-shot: Kendall's tau -1.00" in ranking and '(p ' in ranking
    assert '| 1 | a | 40.0 | d | 40.0 |' in ranking and 'zero-shot' not in ranking
    text = lb.summary(runs, boards, 'coco/bbox_mAP', 60, 'a grid',
                      [('Learning rates', rates)], progress='2 of 9 grid runs finished')
    assert '**Unfinished: 2 of 9 grid runs finished.**' in text
    assert '#### Learning rates' in text and text.index('Paired') < text.index('Learning')


def test_readme_block_is_replaced_and_nothing_else(tmp_path):
    lb = load()
    readme = tmp_path / 'README.md'
    readme.write_text(f'intro\n{lb.BEGIN}\nold table\n{lb.END}\noutro\n')
    lb.update_readme(str(readme), 'new table\n')
    assert readme.read_text() == f'intro\n{lb.BEGIN}\nnew table\n{lb.END}\noutro\n'
    (tmp_path / 'bare.md').write_text('no markers')
    with pytest.raises(SystemExit, match='no <!-- leaderboard:begin -->'):
        lb.update_readme(str(tmp_path / 'bare.md'), 'x')


def test_finished_runs_travel_in_an_archive_without_checkpoints(tmp_path):
    """--archive keeps what collecting and resuming need; --restore brings it back and
    keeps what is there; an archive cannot write outside the work root."""
    import io
    import json
    import tarfile

    from mmdet_sdpt import protocol
    from tests.helpers import write_test_result
    lb = load()
    configs = [lb.config_of('sdpt', 'glip'), lb.config_of('full', 'glip')]
    root, archive = str(tmp_path / 'a'), str(tmp_path / 'runs.tar.gz')
    runs = protocol.plan(configs, 'shapeworld', root, datasets=['Synonyms'], shots=[3],
                         seeds=[3])
    for i, run in enumerate(runs):  # every run finished, but the last one is untested
        write_test_result(run.work_dir, {'coco/bbox_mAP': 0.1 * i})
        write_test_result(osp.join(run.work_dir, 'retention'), {'coco/bbox_mAP': 0.5})
        open(osp.join(run.work_dir, 'dumped.py'), 'w').write(f"method = '{run.method}'\n")
        open(osp.join(run.work_dir, 'iter_30.pth'), 'wb').write(b'weights')
        if not run.zero_shot:
            open(osp.join(run.work_dir, protocol.TRAINED), 'w').write('trained\n')
    untested = runs[-1].work_dir  # its target test result is gone
    os.rename(osp.join(untested, '20240101_120000'), osp.join(untested, 'moved'))
    json.dump({'seconds': 42.0}, open(osp.join(root, lb.CLOCK), 'w'))
    assert lb.archive_runs(runs, root, archive) == len(runs) - 1
    names = tarfile.open(archive).getnames()
    assert lb.CLOCK in names and not any(n.endswith('.pth') for n in names)
    other = str(tmp_path / 'b')
    kept = osp.join(other, osp.relpath(runs[0].work_dir, root), 'dumped.py')
    os.makedirs(osp.dirname(kept))
    open(kept, 'w').write('# mine\n')
    assert lb.restore_runs(other, archive) == len(names) - 1
    assert open(kept).read() == '# mine\n'
    moved = protocol.plan(configs, 'shapeworld', other, datasets=['Synonyms'], shots=[3],
                          seeds=[3])
    assert [protocol.done(r) for r in moved] == [True] * (len(runs) - 1) + [False]
    assert json.load(open(osp.join(other, lb.CLOCK)))['seconds'] == 42.0
    # a crafted archive naming a path outside the work root writes nothing there
    evil = str(tmp_path / 'evil.tar.gz')
    with tarfile.open(evil, 'w:gz') as tar:
        info = tarfile.TarInfo('../outside.txt')
        info.size = 3
        tar.addfile(info, io.BytesIO(b'bad'))
    with pytest.raises(tarfile.TarError):
        lb.restore_runs(str(tmp_path / 'c'), evil)
    assert not (tmp_path / 'outside.txt').exists()


@pytest.mark.slow
@pytest.mark.parametrize('schedule,folder', [('glip', ''), ('short', 'short_schedule')])
def test_the_readme_leaderboard_is_what_the_committed_runs_give(tmp_path, schedule, folder):
    """docs/leaderboard.md's leaderboard comes from the benchmark's files, never typed by
    hand: the committed archive of the grid's runs, restored and collected again by the
    script, gives the committed result files and the page's block to the byte. The old
    short schedule's files (kept to compare the rankings) come from their own archive the
    same way."""
    import shutil
    import subprocess
    import sys
    results = osp.join(ROOT, 'benchmarks', 'results', folder)
    archive = str(tmp_path / 'runs.tar.gz')  # the script writes its archive again at the end
    shutil.copy(osp.join(results, 'leaderboard_runs.tar.gz'), archive)
    readme = tmp_path / 'leaderboard.md'
    shutil.copy(osp.join(ROOT, 'docs', 'leaderboard.md'), readme)
    out = str(tmp_path / 'out' / 'leaderboard')
    done = subprocess.run(
        [sys.executable, SCRIPT, '--schedule', schedule, '--restore', '--collect-only',
         '--work-root', str(tmp_path / 'runs'), '--out', out, '--archive', archive] +
        (['--readme', str(readme)] if schedule == 'glip' else []),
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ('leaderboard.md', 'leaderboard.csv', 'leaderboard.json',
                 'leaderboard_summary.md'):
        made = open(osp.join(osp.dirname(out), name)).read()
        assert made == open(osp.join(results, name)).read(), name
    if schedule == 'glip':
        lb, committed = load(), open(osp.join(ROOT, 'docs', 'leaderboard.md')).read()
        block = committed.split(lb.BEGIN)[1].split(lb.END)[0]
        assert 'tiny-glip sdpt' in block and 'Learning rates' in block
        assert readme.read_text() == committed
