"""Collect the test results of a benchmark suite's runs into one table.

    python tools/collect_results.py work_dirs/glip_t_odinw_fewshot --suite odinw13 --out results
    python tools/collect_results.py work_dirs/protocol --suite shapeworld --out results
    python tools/collect_results.py WORK_DIR [WORK_DIR ...] [--metric coco/bbox_mAP] \
        [--suite odinw13|odinw35|shapeworld|path/to/folder|...|none] [--out results]

Every work dir at or below the arguments in which ``tools/test.py`` ran counts as a run
(``<work_dir>/<timestamp>/<timestamp>.json``; the newest test wins). Its dataset, shot K and
seed S come from the config mmengine dumped into the work dir (``odinw_dataset``,
``odinw_shot``, ``odinw_seed``, ``odinw_suite`` of our ODinW configs) or else from the path:
``.../<dataset>/shot{K}_seed{S}`` (few-shot) or ``.../<dataset>`` (full data), the layout of
those configs' ``work_dir``. See ``mmdet_sdpt/leaderboard/`` for the numbers.

Runs are keyed by method as well: the dumped config's ``detector`` and ``method`` (the
ShapeWorld and protocol configs set them; ``zero-shot`` for a base evaluated untuned), and a
run's base-domain test in ``<work_dir>/retention/`` (``tools/fewshot_protocol.py``) is read
beside its target test, never instead of it.

Prints, where several methods or retention tests are found, a leaderboard per shot setting
(per-dataset and average AP, base-domain AP kept = tuned / zero-shot of the same detector,
their harmonic mean; mean ± std over seeds), then, per method and shot setting, per-dataset
AP (x 100) per seed and mean ± std over seeds, and the suite's average over the datasets
that have results, naming the suite's datasets that have none. Writes OUT.md, OUT.csv
(full-precision values) and OUT.png (a chart: AP vs shots per method and retention vs AP;
a bar chart for a single method), atomically. The suite's dataset list comes from the
suite registry (``mmdet_sdpt.datasets.get_suite``: mmdet's configs for odinw13/35); --suite
defaults to the one the runs' configs name, else none (average over what is found).

Where the runs recorded their cost (``cost.json``, every tuned config's ``RunCostHook``),
OUT.md also gets the cost per method and shot (training time, time to the best-on-valid
checkpoint, best and last epoch, early stops) and the anytime view (the best method on
valid at each training budget; OUT_anytime.png: valid AP against training seconds); where
retention was measured, the Pareto view (target AP vs base AP kept; OUT_pareto.png) and the
best method keeping at least --retention-floor of the base AP.
"""
import argparse
import os
import os.path as osp
import sys

from mmdet_sdpt.datasets import get_suite
from mmdet_sdpt.datasets.suites import (IMPORTS_ENV, SuiteError, import_suite_modules,
                                        is_folder_suite)
from mmdet_sdpt.leaderboard import (cost_views, find_runs, leaderboard, summarize,
                                    to_markdown, tradeoff, write_outputs)
from mmdet_sdpt.utils.atomic_io import atomic_write


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Tabulate a suite's test results")
    parser.add_argument('work_dirs', nargs='+', help='run work dirs, or folders holding them')
    parser.add_argument('--metric', default='coco/bbox_mAP')
    parser.add_argument('--suite',
                        help="datasets the average is over: a registered suite, a folder in "
                        "GLIP's ODinW layout, or none (default: the runs' configs')")
    parser.add_argument('--import', dest='imports', nargs='+', default=[], metavar='MODULE',
                        help='modules that register suites')
    parser.add_argument('--out', default='results', help='output stem: OUT.md/.csv/.png')
    parser.add_argument('--retention-floor', type=float, default=tradeoff.DEFAULT_FLOOR,
                        help='share of the base AP a method must keep (default 0.9)')
    return parser.parse_args(argv)


def views(runs, boards, metric: str, stem: str, floor: float) -> str:
    """The cost, anytime and Pareto views as markdown; their figures beside ``stem``."""
    text = ''
    costs = cost_views.read_costs(runs, metric)
    if costs:
        budgets = cost_views.default_budgets(costs)
        cost_views.plot_anytime(costs, budgets, stem + '_anytime.png')
        text += ('\n## Cost (training wall time; the best-on-valid checkpoint)\n\n'
                 + cost_views.cost_markdown(costs)
                 + '\n## Anytime (best method on valid at each training budget; '
                 f'{osp.basename(stem)}_anytime.png)\n\n'
                 + cost_views.anytime_markdown(costs, budgets))
    pareto = tradeoff.tradeoff_markdown(boards, floor)
    if pareto:
        tradeoff.plot_pareto(boards, stem + '_pareto.png', floor)
        text += (f'\n## Target AP vs base AP kept ({osp.basename(stem)}_pareto.png)\n\n'
                 + pareto)
    return text


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.imports:
        os.environ[IMPORTS_ENV] = ','.join(
            [m for m in os.environ.get(IMPORTS_ENV, '').split(',') if m] + args.imports)
    try:
        import_suite_modules()
        if args.suite not in (None, 'none'):
            args.suite = osp.abspath(args.suite) if is_folder_suite(args.suite) \
                else args.suite
            get_suite(args.suite)
    except (SuiteError, ImportError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    runs = find_runs(args.work_dirs)
    if not runs:
        print(f'error: no test results (<work_dir>/<timestamp>/<timestamp>.json) under '
              f'{args.work_dirs}', file=sys.stderr)
        return 1
    suite = args.suite
    if suite is None:
        named = {r.suite for r in runs if r.suite}
        if len(named) > 1:
            print(f'error: the runs name several suites {sorted(named)}: pass --suite',
                  file=sys.stderr)
            return 1
        suite = named.pop() if named else None
    suite = None if suite == 'none' else suite
    try:
        if suite is not None:
            suite = osp.abspath(suite) if is_folder_suite(suite) else suite
            get_suite(suite)
    except SuiteError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    tables = summarize(runs, args.metric, suite)
    boards = leaderboard(runs, args.metric, suite)
    paths = write_outputs(tables, args.metric, args.out, boards)
    extra = views(runs, boards, args.metric, paths['md'][:-3], args.retention_floor)
    if extra:
        atomic_write(paths['md'], open(paths['md']).read() + extra)
    print(to_markdown(tables, args.metric, boards) + extra)
    for table in tables:
        if table.missing:
            print(f'WARNING: {table.label}: the average is over {len(table.averaged)} of '
                  f'{len(table.averaged) + len(table.missing)} {suite} datasets; missing: '
                  f'{", ".join(table.missing)}', file=sys.stderr)
    print(f'{len(runs)} runs; wrote {paths["md"]}, {paths["csv"]}, {paths["png"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
