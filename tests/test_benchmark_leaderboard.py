"""benchmarks/leaderboard.py's reporting on fabricated protocol runs (the difficulty check,
the paired table and the README block it replaces) and on the committed grid's runs (the
README's block rebuilt from them); training is covered by tests/tools/test_fewshot_protocol.py."""
import importlib.util
import os
import os.path as osp

import pytest

from tests.conftest import ROOT
from tests.tools.test_collect_results import write_protocol_run

SCRIPT = osp.join(ROOT, 'benchmarks', 'leaderboard.py')


def load():
    spec = importlib.util.spec_from_file_location('leaderboard', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def runs(tmp_path):
    from mmdet_sdpt.evaluation import find_runs
    root = str(tmp_path / 'lb')
    for d, zs in (('Synonyms', 0.02), ('Thermal', 0.30)):
        write_protocol_run(root, 'tiny-glip', 'zero-shot', d, 0, 0, zs, 0.6)
        for seed, (sdpt, full) in zip((3, 30, 300), ((.40, .55), (.45, .60), (.42, .50))):
            write_protocol_run(root, 'tiny-glip', 'sdpt', d, 3, seed, sdpt, .58)
            write_protocol_run(root, 'tiny-glip', 'full', d, 3, seed, full, .30)
    return find_runs([root])


def test_summary_reports_difficulty_and_paired_differences(runs):
    from mmdet_sdpt.evaluation import leaderboard
    lb = load()
    boards = leaderboard(runs, 'coco/bbox_mAP', 'shapeworld')
    text = lb.summary(runs, boards, 'coco/bbox_mAP', 3600 * 1.5, 'a grid')
    assert 'Wall time: 1.50 h' in text and '### Leaderboard, 3-shot' in text
    # full - zero-shot = 0.55 - 0.16 on the average: able to rank; best 0.55 <= 0.85
    assert '3-shot: zero-shot 0.160, full fine-tuning 0.550' in text
    assert 'able to rank' in text and 'NOT able' not in text
    row = [ln for ln in text.splitlines() if 'tiny-glip sdpt − tiny-glip full' in ln][0]
    assert '| 6 |' in row and 'tiny-glip sdpt < tiny-glip full' in row


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

    from mmdet_sdpt.engine import protocol
    from tests.tools.test_collect_results import write_test_result
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


def test_the_readme_leaderboard_is_what_the_committed_runs_give(tmp_path):
    """The README's leaderboard comes from the benchmark's files, never typed by hand: the
    committed archive of the grid's runs, restored and collected again by the script, gives
    the committed result files and the README's block to the byte."""
    import shutil
    import subprocess
    import sys
    results = osp.join(ROOT, 'benchmarks', 'results')
    archive = str(tmp_path / 'runs.tar.gz')  # the script writes its archive again at the end
    shutil.copy(osp.join(results, 'leaderboard_runs.tar.gz'), archive)
    readme = tmp_path / 'README.md'
    shutil.copy(osp.join(ROOT, 'README.md'), readme)
    out = str(tmp_path / 'out' / 'leaderboard')
    done = subprocess.run(
        [sys.executable, SCRIPT, '--restore', '--collect-only', '--work-root',
         str(tmp_path / 'runs'), '--out', out, '--archive', archive, '--readme', str(readme)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    lb, committed = load(), open(osp.join(ROOT, 'README.md')).read()
    block = committed.split(lb.BEGIN)[1].split(lb.END)[0]
    assert 'tiny-glip sdpt' in block and 'Paired differences' in block
    assert readme.read_text() == committed
    for name in ('leaderboard.md', 'leaderboard.csv', 'leaderboard.json',
                 'leaderboard_summary.md'):
        made = open(osp.join(osp.dirname(out), name)).read()
        assert made == open(osp.join(results, name)).read(), name
