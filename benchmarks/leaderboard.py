"""The leaderboard: every method on the generated ShapeWorld suite through the real
protocol (tools/fewshot_protocol.py's runs, tools/collect_results.py's tables), with paired
confidence intervals of the differences.

    python benchmarks/leaderboard.py                       # the grid (hours: docs/leaderboard.md)
    python benchmarks/leaderboard.py --calibrate           # zero-shot and full only
    python benchmarks/leaderboard.py --readme docs/leaderboard.md  # also refresh the page's table
    python benchmarks/leaderboard.py --schedule short --restore --collect-only  # the old table

Schedule (``--schedule``, the configs' SW_SCHEDULE): ``glip`` (default), GLIP's few-shot
protocol with ShapeWorld's scaled budget (configs/_base_/shapeworld_data.py): each method's
learning rate first chosen on valid by a sweep (x1/3, x1, x3, x9 of its config's rate on
--sweep-datasets, 3-shot, seed 3, and past an edge where a method's best sits there, up to
--lr-extend times; mmdet_sdpt/engine/lr_sweep.py), then the grid at the
chosen rates, each run stopped early on valid. ``short``: the first leaderboard's 30/40
iterations at each config's own rate, kept (benchmarks/results/short_schedule/) as the
ranking the converged one is compared with (Kendall's tau).

Grid (defaults): on the tiny GLIP, zero-shot, SDPT (all layers; last layer), full
fine-tuning, linear probe, language_prompt_v2, LoRA, BitFit, MaPLe and MuDPT; on the tiny
Grounding DINO, zero-shot, SDPT and full fine-tuning; every dataset of the suite, 3- and
10-shot. Seeds (``SEEDS``): under ``glip``, seeds 3 and 30 at 3-shot and seed 3 at 10-shot,
the grid cut to fit the 2-core machine (converged runs take about 5x the short schedule's;
docs/leaderboard.md); under ``short``, seeds 3, 30, 300 at both shots, as that grid ran.
Runs go to --work-root in the protocol's layout and are resumable (run the command again
after a kill). ``--workers`` in-process workers of ``--threads``
torch threads each share the cores.

Writes OUT.md / OUT.csv / OUT.png (the collected tables) and OUT_summary.md / OUT.json: the
leaderboard per shot, the paired differences (every method against SDPT of the same
detector, over datasets x seeds: mean, 95% t interval, p, wins), the difficulty check
(zero-shot at least 0.20 AP below full fine-tuning on the suite average, no method above
0.85) and the wall time. ``--readme`` replaces the block between
``<!-- leaderboard:begin -->`` and ``<!-- leaderboard:end -->`` of the page it names (the
block lives in docs/leaderboard.md) with OUT_summary.md.

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

from mmdet_sdpt.constants import RETENTION_DIR, ZERO_SHOT  # noqa: E402

GLIP_METHODS = ('sdpt', 'sdpt_last1', 'full', 'linear_prob', 'language_prompt_v2', 'lora',
                'bitfit', 'maple', 'mudpt')
GDINO_METHODS = ('sdpt', 'full')
SUITE = 'shapeworld'
RESULTS = osp.join(ROOT, 'benchmarks', 'results')
SHORT = 'short_schedule'  # the first grid's results: benchmarks/results/short_schedule/
# x9 joined after the first sweep (x1/3, x1, x3): six of its 11 choices sat at the x3 edge,
# so the best rate of those methods lay at x3 or beyond; the grid trains at the new choice.
# x9 still left four choices at an edge: the sweep now goes past edges (extend)
SWEEP = dict(datasets=['Synonyms', 'NovelShapes'], shot=3, seed=3, factors=(1 / 3, 1.0, 3.0, 9.0),
             extend=2)
# each schedule's default seeds: --seeds, and --shot-seeds where a shot has others
SEEDS = dict(glip=dict(seeds=[3, 30], shot_seeds=['10=3']),
             short=dict(seeds=[3, 30, 300], shot_seeds=[]))
CLOCK = 'wall_seconds.json'
COST = 'cost.json'
CHOICE = 'lr_choice.json'  # mmdet_sdpt.engine.lr_sweep.CHOICE_FILE
SUPERSEDED = 'superseded'  # grid runs trained at a rate the sweep no longer chooses
BEGIN, END = '<!-- leaderboard:begin -->', '<!-- leaderboard:end -->'


# methods whose ShapeWorld config is not configs/baselines/<method>/tiny-<detector>_shapeworld.py
ELSEWHERE = {'sdpt': 'sdpt/{name}.py', 'self_tpt': 'self_tpt/{name}.py',
             'advpt_sdpt': 'robust/{name}_advpt.py', 'advpt_text': 'robust/{name}_advpt_text.py',
             'adv_full': 'robust/{name}_adv_full.py'}


def config_of(method: str, detector: str) -> str:
    name = f'tiny-{detector}_shapeworld'
    where = ELSEWHERE.get(method, f'baselines/{method}/{{name}}.py').format(name=name)
    path = osp.join(ROOT, 'configs', where)
    if not osp.isfile(path):
        raise SystemExit(f'error: no ShapeWorld config of method {method!r} for the tiny '
                         f'{detector}: {path} is missing')
    return path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--schedule', choices=['glip', 'short'], default='glip')
    parser.add_argument('--work-root', help='default: work_dirs/leaderboard[_short]')
    parser.add_argument('--out', help='default: benchmarks/results[/short_schedule]/leaderboard')
    parser.add_argument('--methods', nargs='+', default=list(GLIP_METHODS))
    parser.add_argument('--gdino-methods', nargs='*', default=list(GDINO_METHODS))
    parser.add_argument('--datasets', nargs='+')
    parser.add_argument('--shots', type=int, nargs='+', default=[3, 10])
    parser.add_argument('--seeds', type=int, nargs='+',
                        help='default: 3 30 (--schedule glip), 3 30 300 (short)')
    parser.add_argument('--shot-seeds', nargs='+', metavar='SHOT=SEED[,SEED]',
                        help='other seeds for a shot (default: 10=3 under --schedule glip, '
                        'the grid cut to fit the machine: docs/leaderboard.md)')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--calibrate', action='store_true',
                        help='zero-shot and full fine-tuning on the tiny GLIP only')
    parser.add_argument('--collect-only', action='store_true')
    parser.add_argument('--readme', help='page to refresh between the leaderboard markers '
                        '(the block lives in docs/leaderboard.md)')
    parser.add_argument('--archive',
                        help="results of the finished runs, written at the end ('' : none; "
                        "default: beside --out's default, leaderboard_runs.tar.gz)")
    parser.add_argument('--restore', action='store_true',
                        help='unpack --archive into --work-root first (resume elsewhere)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value applied to every run (e.g. train_cfg.max_epochs=5)')
    parser.add_argument('--sweep-datasets', nargs='+', default=SWEEP['datasets'])
    parser.add_argument('--sweep-shot', type=int, default=SWEEP['shot'])
    parser.add_argument('--sweep-seed', type=int, default=SWEEP['seed'])
    parser.add_argument('--lr-factors', type=float, nargs='+',
                        help='factors of each config\'s rate (default: 1/3 1 3 9)')
    parser.add_argument('--lr-extend', type=int, default=SWEEP['extend'], metavar='N',
                        help='sweep a method past an edge of the factors, one factor at a '
                        'time, up to N times (default: %(default)s)')
    parser.add_argument('--no-lr-sweep', action='store_true',
                        help='every method at its config\'s rate (always so for --schedule '
                        'short)')
    parser.add_argument('--compare', default=osp.join(RESULTS, SHORT, 'leaderboard.json'),
                        help="the ranking to compare with ('' : none)")
    args = parser.parse_args(argv)
    results = RESULTS if args.schedule == 'glip' else osp.join(RESULTS, SHORT)
    suffix = '' if args.schedule == 'glip' else '_short'
    args.work_root = args.work_root or osp.join(ROOT, 'work_dirs', 'leaderboard' + suffix)
    args.out = args.out or osp.join(results, 'leaderboard')
    if args.archive is None:
        args.archive = osp.join(results, 'leaderboard_runs.tar.gz')
    if args.schedule == 'short':
        args.no_lr_sweep, args.compare = True, ''
    if args.seeds is None:
        args.seeds = list(SEEDS[args.schedule]['seeds'])
        if args.shot_seeds is None:
            args.shot_seeds = list(SEEDS[args.schedule]['shot_seeds'])
    args.shot_seeds = args.shot_seeds or []
    return args


def seeds_by_shot(args) -> dict:
    """{shot: seeds}: --seeds, but where --shot-seeds names other ones."""
    seeds = {shot: list(args.seeds) for shot in args.shots}
    for item in args.shot_seeds:
        shot, _, values = item.partition('=')
        try:
            seeds[int(shot)] = [int(v) for v in values.split(',')]
        except ValueError:
            raise SystemExit(f'error: --shot-seeds {item!r}: SHOT=SEED[,SEED...]')
        if int(shot) not in args.shots:
            raise SystemExit(f'error: --shot-seeds {item!r}: {shot} is not in --shots')
    return seeds


def difficulty(boards, detector='tiny-glip') -> list:
    """The suite's difficulty check per shot: zero-shot vs full fine-tuning, and the best."""
    lines = []
    for board in boards:
        from mmdet_sdpt.leaderboard.stats import comparable_labels
        comparable = comparable_labels(board)  # averages over the same datasets only
        means = {r.label: r.target.mean for r in board.rows
                 if r.target.mean is not None and r.label in comparable}
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
    from mmdet_sdpt.leaderboard import paired_difference
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


def schedule_markdown(config: str, shots) -> str:
    """The schedule each shot trains with, read from ``config`` (SW_SCHEDULE=glip)."""
    from mmengine.config import Config
    lines = ['| shot | copies of the K-shot split per epoch | max epochs (GLIP: 200) | '
             'batch | LR x0.1 after (validations) | stop after (validations below the '
             'best) |', '|---|---:|---:|---:|---:|---:|']
    for shot in shots:
        old = os.environ.get('ODINW_SHOT')
        os.environ['ODINW_SHOT'] = str(shot)
        try:
            cfg = Config.fromfile(config)
        finally:
            if old is None:
                os.environ.pop('ODINW_SHOT')
            else:
                os.environ['ODINW_SHOT'] = old
        plateau = cfg.param_scheduler[0]['patience'] + 1  # lowered when bad > patience
        stop = [h for h in cfg.custom_hooks if 'EarlyStopping' in h['type']][0]['patience']
        lines.append(f'| {shot}-shot | {cfg.train_dataloader.dataset.times} | '
                     f'{cfg.train_cfg.max_epochs} | {cfg.train_dataloader.batch_size} | '
                     f'{plateau} | {stop} |')
    return '\n'.join(lines) + '\n'


def rates_markdown(choice: dict) -> str:
    from mmdet_sdpt.engine.lr_sweep import factor_name
    subset = choice['subset']
    # the declared factors and those a method was swept at past an edge
    swept = {f for c in choice['choice'].values() for f in c['valid']}
    factors = sorted(swept | {factor_name(f) for f in subset['factors']},
                     key=lambda name: float(name[1:]))
    lines = [f'Chosen on valid by a sweep on {", ".join(subset["datasets"])}, '
             f'{subset["shot"]}-shot, seed {subset["seed"]}: mean best valid AP (x 100) per '
             'factor of the config\'s rate; the grid trains at the best factor.' + (
                 ' A method whose best was an edge of '
                 f'{", ".join(map(factor_name, subset["factors"]))} was swept past it, a '
                 f'factor at a time, up to {subset["extend"]} times (-: not swept there).'
                 if subset.get('extend') else ''), '',
             '| method | config\'s rate | ' + ' | '.join(factors) + ' | chosen rate |',
             '|---|---:|' + '---:|' * len(factors) + '---:|']
    for label, c in sorted(choice['choice'].items()):
        cells = [(f'**{100 * c["valid"][f]:.1f}**' if f == factor_name(c['factor'])
                  else f'{100 * c["valid"][f]:.1f}') if f in c['valid'] else '-'
                 for f in factors]
        lines.append(f'| {label} | {c["recipe_lr"]:.3g} | ' + ' | '.join(cells) +
                     f' | {c["lr"]:.3g} |')
    return '\n'.join(lines) + '\n'


def ranking_markdown(boards, compare: str) -> str:
    """The old ranking beside this one, per shot, and Kendall's tau between them over the
    tuned methods both have (the zero-shot rows, the same in both, are left out)."""
    from scipy.stats import kendalltau
    old = json.load(open(compare))
    lines = []
    for board in boards:
        before = old['boards'].get(board.label)
        if not before:
            continue
        from mmdet_sdpt.leaderboard.stats import comparable_labels
        tuned = [r for r in board.rows
                 if not r.label.endswith(ZERO_SHOT) and r.target.mean is not None]
        # a method still missing datasets has an average over others: ranked once complete
        comparable = comparable_labels(board)
        now = {r.label: r.target.mean for r in tuned if r.label in comparable}
        partial = [f'{r.label} ({len(r.target.averaged)}/{len(board.datasets)})'
                   for r in tuned if r.label not in comparable]
        common = [m for m in now if m in before and before[m]['ap'] is not None]
        if len(common) < 3:
            continue
        tau, p = kendalltau([before[m]['ap'] for m in common], [now[m] for m in common])
        old_rank = sorted(common, key=lambda m: -before[m]['ap'])
        new_rank = sorted(common, key=lambda m: -now[m])
        lines += [f'{board.label}: Kendall\'s tau {tau:+.2f} (p {p:.2g}, {len(common)} '
                  'methods)', '', '| rank | short schedule (30/40 iterations) | AP | '
                  'this protocol (converged) | AP |', '|---:|---|---:|---|---:|']
        lines += [f'| {i + 1} | {a} | {100 * before[a]["ap"]:.1f} | {b} | '
                  f'{100 * now[b]:.1f} |' for i, (a, b) in enumerate(zip(old_rank, new_rank))]
        if partial:
            lines += ['', 'Left out until all their datasets are in (datasets finished): '
                      + ', '.join(partial) + '.']
        lines.append('')
    return '\n'.join(lines)


def summary(runs, boards, metric, seconds, grid, sections=(), progress='') -> str:
    """The README block; ``sections``: (title, markdown) pairs after the paired table;
    ``progress``: how far an unfinished grid is."""
    from mmdet_sdpt.leaderboard import board_markdown
    lines = [f'Grid: {grid}. Wall time: {seconds / 3600:.2f} h on this machine '
             f'({os.cpu_count()} cores). Generated by `python benchmarks/leaderboard.py`.', '']
    if progress:
        lines += [f'**Unfinished: {progress}.** Means are over the seeds finished so far; '
                  'the grid goes on with `python benchmarks/leaderboard.py --restore`.', '']
    lines += [board_markdown(boards, metric),
              '#### Paired differences (SDPT minus each method, over datasets x seeds)', '']
    lines += paired_table(runs, boards)
    lines += ['', 'A difference is real when its 95% interval excludes 0 (no correction for '
              'the number of comparisons).', '']
    for title, text in sections:
        if text:
            lines += [f'#### {title}', '', text.rstrip('\n'), '']
    lines += ['#### Difficulty check', '']
    lines += difficulty(boards) or ['- (needs zero-shot and full fine-tuning rows)']
    return '\n'.join(lines) + '\n'


def _result_files(folder: str):
    """A finished run's files worth keeping: test results (``<ts>/<ts>.json``), dumped
    configs, the ``.trained`` marker, its cost record; not checkpoints, logs or visualizer
    data."""
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        if osp.isfile(path) and (name.endswith('.py') or name in ('.trained', COST)):
            yield path
        elif osp.isdir(path) and osp.isfile(osp.join(path, name + '.json')):
            yield osp.join(path, name + '.json')
        elif osp.isdir(path) and name == RETENTION_DIR:
            yield from _result_files(path)


def archive_runs(runs, work_root: str, path: str) -> int:
    """Write the finished ``runs``' results and the wall clock to ``path`` (tar.gz,
    atomically). Returns the number of runs archived."""
    from mmdet_sdpt import protocol
    from mmdet_sdpt.utils.atomic_io import atomic_write
    finished = [r for r in runs if protocol.done(r)]

    def write(tmp):
        with tarfile.open(tmp, 'w:gz') as tar:
            for name in (CLOCK, CHOICE):
                if osp.isfile(osp.join(work_root, name)):
                    tar.add(osp.join(work_root, name), name)
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
    os.environ['SW_SCHEDULE'] = args.schedule  # the configs' schedule; workers inherit it
    import mmdet_sdpt  # noqa: F401  (registers the modules)
    from mmdet_sdpt import protocol
    from mmdet_sdpt.engine import lr_sweep
    from mmdet_sdpt.leaderboard import cost_views, find_runs, leaderboard, summarize, tradeoff
    from mmdet_sdpt.leaderboard import write_outputs
    from mmdet_sdpt.utils.atomic_io import atomic_write, atomic_write_json

    methods = ['full'] if args.calibrate else args.methods
    gdino = [] if args.calibrate else args.gdino_methods
    configs = [config_of(m, 'glip') for m in methods] + [config_of(m, 'gdino') for m in gdino]
    missing = [c for c in configs if not osp.isfile(c)]
    if missing:
        raise SystemExit(f'error: no config {missing}')
    seeds = seeds_by_shot(args)
    runs = {}
    for shot in args.shots:
        for run in protocol.plan(configs, SUITE, args.work_root, datasets=args.datasets,
                                 shots=[shot], seeds=seeds[shot],
                                 cfg_options=args.cfg_options):
            runs.setdefault(run.work_dir, run)  # a zero-shot run once
    order = list(dict.fromkeys(s for shot in args.shots for s in seeds[shot]))
    # zero-shot first, then seed by seed: a grid stopped early holds whole seeds
    runs = sorted(runs.values(), key=lambda r: (-1, 0) if r.seed is None else (
        order.index(r.seed), args.shots.index(r.shot)))
    if args.restore:  # first: how far the sweep went past its edges is read from its runs
        print(f'restored {restore_runs(args.work_root, args.archive)} files from '
              f'{args.archive}', flush=True)
    sweep = dict(datasets=args.sweep_datasets, shot=args.sweep_shot, seed=args.sweep_seed,
                 factors=args.lr_factors or SWEEP['factors'], extend=args.lr_extend)
    sweep_runs = [] if args.no_lr_sweep else lr_sweep.plan_sweep(
        configs, SUITE, args.work_root, cfg_options=args.cfg_options, **sweep)
    clock = osp.join(args.work_root, CLOCK)
    spent = json.load(open(clock))['seconds'] if osp.isfile(clock) else 0.0
    failures = {}
    execute = dict(launcher='inprocess', workers=args.workers, threads=args.threads)
    if not args.collect_only:
        todo = [r for r in runs + sweep_runs if not protocol.done(r)]
        print(f'{len(sweep_runs)} sweep runs and {len(runs)} grid runs, {len(todo)} to do, '
              f'{args.workers} workers x {args.threads} threads', flush=True)
        start = time.perf_counter()
        # stopped (SIGTERM, Ctrl-C) or not, the time spent is added to the grid's clock
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            if sweep_runs:
                # a grid run trained at a rate the sweep no longer chooses is moved aside
                lr_sweep.select_rates(configs, SUITE, args.work_root,
                                      cfg_options=args.cfg_options, grid=runs,
                                      superseded=osp.join(args.work_root, SUPERSEDED),
                                      **sweep, **execute)
            failures = protocol.execute_all(runs, **execute)
        except lr_sweep.SweepError as err:
            failures = {'learning-rate sweep': str(err)}
        finally:
            spent += time.perf_counter() - start
            atomic_write_json(clock, dict(seconds=spent))
    saved = None if args.no_lr_sweep else lr_sweep.load_choice(args.work_root)
    found = find_runs([args.work_root])
    wanted = {osp.realpath(r.work_dir) for r in runs}
    found = [r for r in found if osp.realpath(r.work_dir) in wanted]
    if not found:  # nothing finished yet (or everything failed): no table to write
        print(f'no finished run under {args.work_root} yet: nothing to collect',
              file=sys.stderr)
        for name, error in failures.items():
            print(f'  {name}: {error}', file=sys.stderr)
        return 1
    metric = 'coco/bbox_mAP'
    tables = summarize(found, metric, SUITE)
    boards = leaderboard(found, metric, SUITE)
    paths = write_outputs(tables, metric, args.out, boards)
    grid = (f'{len(runs)} runs: {", ".join(methods)} on the tiny GLIP'
            + (f'; {", ".join(gdino)} on the tiny Grounding DINO' if gdino else '')
            + '; ' + (f'shots {args.shots}, seeds {seeds[args.shots[0]]}'
                      if len({tuple(v) for v in seeds.values()}) == 1 else
                      ', '.join(f'{shot}-shot seeds {seeds[shot]}' for shot in args.shots))
            + ', '
            + f'{len(args.datasets) if args.datasets else "all"} ShapeWorld datasets'
            + ('' if args.no_lr_sweep else f'; a learning-rate sweep of {len(sweep_runs)} '
               'runs first'))
    sections = []
    if args.schedule == 'glip':
        sections.append(('Schedule (GLIP\'s few-shot protocol, ShapeWorld\'s scaled budget: '
                         'configs/_base_/shapeworld_data.py)',
                         schedule_markdown(configs[0], args.shots)))
        if saved:
            sections.append(('Learning rates', rates_markdown(saved)))
        if args.compare and osp.isfile(args.compare):
            sections.append(('The short schedule\'s ranking and this one',
                             ranking_markdown(boards, args.compare)))
        pareto = tradeoff.tradeoff_markdown(boards)
        if pareto:
            tradeoff.plot_pareto(boards, args.out + '_pareto.png')
            sections.append((f'Target AP vs base AP kept (Pareto; '
                             f'{osp.basename(args.out)}_pareto.png)', pareto))
        costs = cost_views.read_costs(found, metric)
        if costs:
            budgets = cost_views.default_budgets(costs)
            cost_views.plot_anytime(costs, budgets, args.out + '_anytime.png')
            sections.append(('Cost (training wall time, 2 runs at once on 2 cores)',
                             cost_views.cost_markdown(costs)))
            sections.append((f'Anytime: the best method on valid at a training budget '
                             f'({osp.basename(args.out)}_anytime.png)',
                             cost_views.anytime_markdown(costs, budgets)))
    finished = sum(protocol.done(r) for r in runs)
    swept = sum(protocol.done(r) for r in sweep_runs)
    progress = '' if finished == len(runs) and swept == len(sweep_runs) else (
        f'{finished} of {len(runs)} grid runs finished' +
        (f', {swept} of {len(sweep_runs)} sweep runs' if sweep_runs else ''))
    text = summary(found, boards, metric, spent, grid, sections, progress)
    atomic_write(args.out + '_summary.md', text)
    atomic_write_json(args.out + '.json', dict(
        wall_seconds=spent, runs=len(runs), failed=failures, grid=grid,
        learning_rates=saved['choice'] if saved else None,
        boards={b.label: {r.label: dict(ap=r.target.mean, ap_std=r.target.std,
                                        retained=r.retained.mean if r.retained else None,
                                        hm=r.hm) for r in b.rows} for b in boards}))
    print(text)
    print(f'wrote {paths["md"]}, {paths["csv"]}, {paths["png"]}, {args.out}_summary.md')
    if args.archive:
        print(f'archived {archive_runs(sweep_runs + runs, args.work_root, args.archive)} '
              f'finished runs in {args.archive}')
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
