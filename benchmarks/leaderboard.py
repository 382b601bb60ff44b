"""The leaderboard: every method on the generated ShapeWorld suite through the real
protocol (tools/fewshot_protocol.py's runs, tools/collect_results.py's tables), with paired
confidence intervals of the differences.

    python benchmarks/leaderboard.py                       # the README's grid, ~2 h on 2 cores
    python benchmarks/leaderboard.py --calibrate           # zero-shot and full only
    python benchmarks/leaderboard.py --readme README.md    # also refresh the README's table

Grid (defaults): on the tiny GLIP, zero-shot, SDPT (all layers; last layer), full
fine-tuning, linear probe, language_prompt_v2, LoRA, BitFit, MaPLe and MuDPT; on the tiny
Grounding DINO, zero-shot, SDPT and full fine-tuning; every dataset of the suite, 3- and
10-shot, seeds 3, 30, 300. Runs go to --work-root in the protocol's layout and are resumable
(run the command again after a kill). ``--workers`` in-process workers of ``--threads``
torch threads each share the cores.

Writes OUT.md / OUT.csv / OUT.png (the collected tables) and OUT_summary.md / OUT.json: the
leaderboard per shot, the paired differences (every method against SDPT of the same
detector, over datasets x seeds: mean, 95% t interval, p, wins), the difficulty check
(zero-shot at least 0.20 AP below full fine-tuning on the suite average, no method above
0.85) and the wall time. ``--readme`` replaces the README's block between
``<!-- leaderboard:begin -->`` and ``<!-- leaderboard:end -->`` with OUT_summary.md.

Every invocation also writes ``--archive`` (default benchmarks/results/leaderboard_runs.tar.gz):
the finished runs' results (each run's test and retention JSONs, its dumped config, its
``.trained`` marker) and the accumulated wall clock, without checkpoints or logs: enough to
collect the tables again (``--restore --collect-only``) or to go on with the grid on another
machine (``--restore``: unpacked into the work root before planning; files already there
are kept).
"""
import argparse
import json
import os
import os.path as osp
import re
import signal
import sys
import tarfile
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmengine.config import DictAction  # noqa: E402

GLIP_METHODS = ('sdpt', 'sdpt_last1', 'full', 'linear_prob', 'language_prompt_v2', 'lora',
                'bitfit', 'maple', 'mudpt')
GDINO_METHODS = ('sdpt', 'full')
SUITE = 'shapeworld'
ARCHIVE = osp.join(ROOT, 'benchmarks', 'results', 'leaderboard_runs.tar.gz')
CLOCK = 'wall_seconds.json'
BEGIN, END = '<!-- leaderboard:begin -->', '<!-- leaderboard:end -->'


def config_of(method: str, detector: str) -> str:
    name = f'tiny-{detector}_shapeworld.py'
    if method == 'sdpt':
        return osp.join(ROOT, 'configs', 'sdpt', name)
    return osp.join(ROOT, 'configs', 'baselines', method, name)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-root', default=osp.join(ROOT, 'work_dirs', 'leaderboard'))
    parser.add_argument('--out', default=osp.join(ROOT, 'benchmarks', 'results', 'leaderboard'))
    parser.add_argument('--methods', nargs='+', default=list(GLIP_METHODS))
    parser.add_argument('--gdino-methods', nargs='*', default=list(GDINO_METHODS))
    parser.add_argument('--datasets', nargs='+')
    parser.add_argument('--shots', type=int, nargs='+', default=[3, 10])
    parser.add_argument('--seeds', type=int, nargs='+', default=[3, 30, 300])
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--calibrate', action='store_true',
                        help='zero-shot and full fine-tuning on the tiny GLIP only')
    parser.add_argument('--collect-only', action='store_true')
    parser.add_argument('--readme', help='README to refresh between the leaderboard markers')
    parser.add_argument('--archive', default=ARCHIVE,
                        help="results of the finished runs, written at the end ('' : none)")
    parser.add_argument('--restore', action='store_true',
                        help='unpack --archive into --work-root first (resume elsewhere)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value applied to every run (e.g. train_cfg.max_iters=50)')
    return parser.parse_args(argv)


def difficulty(boards, detector='tiny-glip') -> list:
    """The suite's difficulty check per shot: zero-shot vs full fine-tuning, and the best."""
    lines = []
    for board in boards:
        means = {r.label: r.target.mean for r in board.rows if r.target.mean is not None}
        zs, full = means.get(f'{detector} zero-shot'), means.get(f'{detector} full')
        best = max(means.values()) if means else None
        if zs is None or full is None:
            continue
        ok = full - zs >= 0.20 and best <= 0.85
        lines.append(f'- {board.label}: zero-shot {zs:.3f}, full fine-tuning {full:.3f} '
                     f'(gap {full - zs:+.3f}, needs >= 0.20); best method {best:.3f} '
                     f'(needs <= 0.85): {"able to rank" if ok else "NOT able to rank"}')
    return lines


def paired_table(runs, boards) -> list:
    from mmdet_sdpt.evaluation.results import paired_difference
    lines = ['| shot | comparison | pairs | mean difference (AP x 100) | 95% CI | p | '
             'wins | verdict |', '|---|---|---:|---:|---|---:|---:|---|']
    for board in boards:
        labels = [r.label for r in board.rows]
        for ref in [lab for lab in labels if lab.endswith(' sdpt')]:
            detector = ref.split(' ')[0]
            for other in labels:
                if other == ref or not other.startswith(detector + ' '):
                    continue
                d = paired_difference(runs, ref, other, board.shot)
                if d is None:
                    continue
                lines.append(f'| {board.label} | {ref} − {other} | {d.n} | '
                             f'{100 * d.mean:+.1f} | [{100 * d.low:+.1f}, {100 * d.high:+.1f}] | '
                             f'{d.p:.3g} | {d.wins}/{d.n} | {d.verdict} |')
    return lines


def summary(runs, boards, metric, seconds, grid) -> str:
    from mmdet_sdpt.evaluation.results import board_markdown
    lines = [f'Grid: {grid}. Wall time: {seconds / 3600:.2f} h on this machine '
             f'({os.cpu_count()} cores). Generated by `python benchmarks/leaderboard.py`.', '',
             board_markdown(boards, metric),
             '#### Paired differences (SDPT minus each method, over datasets x seeds)', '']
    lines += paired_table(runs, boards)
    lines += ['', 'A difference is real when its 95% interval excludes 0 (no correction for '
              'the number of comparisons).', '', '#### Difficulty check', '']
    lines += difficulty(boards) or ['- (needs zero-shot and full fine-tuning rows)']
    return '\n'.join(lines) + '\n'


def _result_files(folder: str):
    """A finished run's files worth keeping: test results (``<ts>/<ts>.json``), dumped
    configs, the ``.trained`` marker; not checkpoints, logs or visualizer data."""
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if osp.isfile(path) and (name.endswith('.py') or name == '.trained'):
            yield path
        elif osp.isdir(path) and osp.isfile(osp.join(path, name + '.json')):
            yield osp.join(path, name + '.json')
        elif osp.isdir(path) and name == 'retention':
            yield from _result_files(path)


def archive_runs(runs, work_root: str, path: str) -> int:
    """Write the finished ``runs``' results and the wall clock to ``path`` (tar.gz,
    atomically). Returns the number of runs archived."""
    from mmdet_sdpt.engine import protocol
    from mmdet_sdpt.utils.atomic_io import atomic_write
    finished = [r for r in runs if protocol.done(r)]

    def write(tmp):
        with tarfile.open(tmp, 'w:gz') as tar:
            clock = osp.join(work_root, CLOCK)
            if osp.isfile(clock):
                tar.add(clock, CLOCK)
            for run in finished:
                for f in _result_files(run.work_dir):
                    tar.add(f, osp.relpath(f, work_root))

    atomic_write(path, write)
    return len(finished)


def restore_runs(work_root: str, path: str) -> int:
    """Unpack an archive of ``archive_runs`` into ``work_root``, keeping files already
    there. Returns the number of files written."""
    if not osp.isfile(path):
        raise SystemExit(f'error: no archive {path} to restore (--archive)')
    written = 0
    with tarfile.open(path, 'r:gz') as tar:
        for member in tar.getmembers():
            if member.isfile() and not osp.exists(osp.join(work_root, member.name)):
                tar.extract(member, work_root, filter='data')  # no absolute paths, no '..'
                written += 1
    return written


def update_readme(path: str, text: str) -> None:
    from mmdet_sdpt.utils.atomic_io import atomic_write
    content = open(path).read()
    if BEGIN not in content or END not in content:
        raise SystemExit(f'error: {path} has no {BEGIN} ... {END} block')
    new = re.sub(re.escape(BEGIN) + '.*?' + re.escape(END),
                 lambda _: f'{BEGIN}\n{text}{END}', content, flags=re.S)
    atomic_write(path, new)


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmdet_sdpt  # noqa: F401
    from mmdet_sdpt.engine import protocol
    from mmdet_sdpt.evaluation import find_runs, leaderboard, summarize, write_outputs
    from mmdet_sdpt.utils.atomic_io import atomic_write, atomic_write_json

    methods = ['full'] if args.calibrate else args.methods
    gdino = [] if args.calibrate else args.gdino_methods
    configs = [config_of(m, 'glip') for m in methods] + [config_of(m, 'gdino') for m in gdino]
    missing = [c for c in configs if not osp.isfile(c)]
    if missing:
        raise SystemExit(f'error: no config {missing}')
    runs = protocol.plan(configs, SUITE, args.work_root, datasets=args.datasets,
                         shots=args.shots, seeds=args.seeds,
                         cfg_options=args.cfg_options)
    # zero-shot first, then seed by seed: a grid stopped early holds whole seeds
    runs.sort(key=lambda r: -1 if r.seed is None else args.seeds.index(r.seed))
    if args.restore:
        print(f'restored {restore_runs(args.work_root, args.archive)} files from '
              f'{args.archive}', flush=True)
    clock = osp.join(args.work_root, CLOCK)
    spent = json.load(open(clock))['seconds'] if osp.isfile(clock) else 0.0
    failures = {}
    if not args.collect_only:
        todo = [r for r in runs if not protocol.done(r)]
        print(f'{len(runs)} runs, {len(todo)} to do, {args.workers} workers x '
              f'{args.threads} threads', flush=True)
        start = time.perf_counter()
        # stopped (SIGTERM, Ctrl-C) or not, the time spent is added to the grid's clock
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            failures = protocol.execute_all(runs, 'inprocess', workers=args.workers,
                                            threads=args.threads)
        finally:
            spent += time.perf_counter() - start
            atomic_write_json(clock, dict(seconds=spent))
    found = find_runs([args.work_root])
    wanted = {osp.realpath(r.work_dir) for r in runs}
    found = [r for r in found if osp.realpath(r.work_dir) in wanted]
    metric = 'coco/bbox_mAP'
    tables = summarize(found, metric, SUITE)
    boards = leaderboard(found, metric, SUITE)
    paths = write_outputs(tables, metric, args.out, boards)
    grid = (f'{len(runs)} runs: {", ".join(methods)} on the tiny GLIP'
            + (f'; {", ".join(gdino)} on the tiny Grounding DINO' if gdino else '')
            + f'; shots {args.shots}, seeds {args.seeds}, '
            + f'{len(args.datasets) if args.datasets else "all"} ShapeWorld datasets')
    text = summary(found, boards, metric, spent, grid)
    atomic_write(args.out + '_summary.md', text)
    atomic_write_json(args.out + '.json', dict(
        wall_seconds=spent, runs=len(runs), failed=failures, grid=grid,
        boards={b.label: {r.label: dict(ap=r.target.mean, ap_std=r.target.std,
                                        retained=r.retained.mean if r.retained else None,
                                        hm=r.hm) for r in b.rows} for b in boards}))
    print(text)
    print(f'wrote {paths["md"]}, {paths["csv"]}, {paths["png"]}, {args.out}_summary.md')
    if args.archive:
        print(f'archived {archive_runs(runs, args.work_root, args.archive)} finished runs in '
              f'{args.archive}')
    if args.readme:
        update_readme(args.readme, text)
        print(f'updated {args.readme}')
    if failures:
        print(f'{len(failures)} runs failed:', file=sys.stderr)
        for name, error in failures.items():
            print(f'  {name}: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
