"""GLIP's few-shot protocol over a suite, one command: train, select on valid, test, measure
retention, and tabulate, for every method x dataset x shot x seed.

    python tools/fewshot_protocol.py configs/sdpt/tiny-glip_shapeworld.py \
        configs/baselines/full/tiny-glip_shapeworld.py --workers 2 --threads 1
    ODINW_SUITE=odinw13 ODINW_ROOT=data/odinw/ python tools/fewshot_protocol.py \
        configs/sdpt/glip_t_odinw_fewshot.py --launcher pytorch --gpus 4
    python tools/fewshot_protocol.py CONFIG --launcher slurm --partition P --gpus 8 --workers 16

Defaults are GLIP's protocol: shots 1, 3, 5, 10 and full data (0) x seeds 3, 30, 300, every
dataset of the suite (``--suite``, else ODINW_SUITE, else the config's ``odinw_suite``),
plus one zero-shot evaluation per detector and dataset. A suite is a registered name
(odinw13, odinw35, shapeworld; one registered in code is found through the configs'
``custom_imports`` or ``--import MODULE``) or **a folder of your own** in GLIP's ODinW
layout, ``<folder>/<Name>/{train,valid,test}/annotations_without_background.json`` plus
images (``--suite path/to/folder``; ``mmdet_sdpt/datasets/suites.py``).

The preflight checks the data before anything trains (``--dry-run`` prints it too): every
split file there and parsing, its images there, its categories and the suite's classes the
same, enough train images of each class for each shot, the retention split there; one line
per problem naming the file and the fix, and nothing runs while there is one
(``mmdet_sdpt/datasets/preflight.py``).

Each method at its best: first a learning-rate sweep (``--lr-factors``, default x1/3, x1,
x3 of each config's rate) on a declared subset (``--sweep-datasets``, default the first two
datasets; ``--sweep-shot`` / ``--sweep-seed``, default the first of --shots / --seeds),
trained only and scored on valid; each method's rate is the factor best on valid averaged
over the subset (``<work-root>/lr_choice.json``), and the grid trains at it. Nothing is
selected on test. ``--no-lr-sweep``: every config at its own rate. Each run's work dir is
``<work-root>/<detector>/<method>/<dataset>/shot{K}_seed{S}`` (``full_seed{S}``;
``zero-shot/<dataset>``); see ``mmdet_sdpt/protocol/``.

Resumable: run the same command again and finished runs are skipped, a killed run resumes
from its newest complete checkpoint. One protocol per work root at a time; its workers die
with it (``kill -9`` included), and a rerun first stops anything a killed one left running.
Executors: ``--launcher inprocess`` (default; --workers processes of --threads torch
threads each, importing once), ``pytorch`` (tools/dist_train.sh and dist_test.sh per run,
--gpus processes, its own rendezvous port) and ``slurm`` (tools/slurm_train.sh /
slurm_test.sh per run, --workers of them at once). Last, the
results are collected (``tools/collect_results.py``) into ``<work-root>/results.{md,csv,png}``.
Exit status: 0 when every run finished, 1 otherwise (the failed runs are listed).
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmdet_sdpt  # noqa: E402,F401
from mmdet_sdpt.datasets.preflight import preflight  # noqa: E402
from mmdet_sdpt.datasets.suites import (IMPORTS_ENV, SuiteError,  # noqa: E402
                                        import_suite_modules, is_folder_suite)
from mmdet_sdpt import protocol  # noqa: E402
from mmdet_sdpt.engine import lr_sweep  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', help='one config per method')
    parser.add_argument('--suite', help='a registered suite or a folder in GLIP\'s ODinW '
                        'layout (default: ODINW_SUITE, else the configs\' odinw_suite)')
    parser.add_argument('--import', dest='imports', nargs='+', default=[], metavar='MODULE',
                        help='modules that register suites (also imported by every worker)')
    parser.add_argument('--data-root', help='default: ODINW_ROOT, else the suite\'s root')
    parser.add_argument('--datasets', nargs='+', help='default: every dataset of the suite')
    parser.add_argument('--shots', type=int, nargs='+', default=[1, 3, 5, 10, 0],
                        help='images per class; 0 = the full train split')
    parser.add_argument('--seeds', type=int, nargs='+', default=[3, 30, 300])
    parser.add_argument('--work-root', default='work_dirs/protocol')
    parser.add_argument('--no-zero-shot', action='store_true',
                        help='skip the zero-shot evaluation of each base')
    parser.add_argument('--no-retention', action='store_true',
                        help='skip the base-domain (retention) tests')
    parser.add_argument('--launcher', choices=['inprocess', 'pytorch', 'slurm'],
                        default='inprocess')
    parser.add_argument('--workers', type=int, default=1, help='runs at once')
    parser.add_argument('--threads', type=int, default=0,
                        help='torch threads per in-process worker (0: torch\'s default)')
    parser.add_argument('--gpus', type=int, default=1, help='processes (GPUs) per run')
    parser.add_argument('--partition', help='Slurm partition (--launcher slurm)')
    parser.add_argument('--lr-factors', type=float, nargs='+', default=list(lr_sweep.FACTORS),
                        help='the sweep: these multiples of each config\'s learning rate')
    parser.add_argument('--lr-extend', type=int, default=0, metavar='N',
                        help='a method whose best factor is an edge of --lr-factors is swept '
                        'past it, one factor at a time, up to N times (default: 0)')
    parser.add_argument('--sweep-datasets', nargs='+',
                        help='the sweep\'s datasets (default: the first two of the grid)')
    parser.add_argument('--sweep-shot', type=int, help='default: the first of --shots')
    parser.add_argument('--sweep-seed', type=int, help='default: the first of --seeds')
    parser.add_argument('--no-lr-sweep', action='store_true',
                        help='train every config at its own learning rate')
    parser.add_argument('--dry-run', action='store_true', help='list the runs and stop')
    parser.add_argument('--no-collect', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='as tools/train.py, applied to every run')
    return parser.parse_args(argv)


def suite_of(args) -> str:
    """The suite's name, a folder's as an absolute path (every worker finds it)."""
    if args.suite or os.environ.get('ODINW_SUITE'):
        suite = args.suite or os.environ['ODINW_SUITE']
    else:
        named = {protocol.config_identity(c)['suite'] for c in args.configs} - {None}
        if len(named) != 1:
            raise SystemExit(f'error: the configs name suites {sorted(named) or "none"}: '
                             'pass --suite')
        suite = named.pop()
    return osp.abspath(suite) if is_folder_suite(suite) else suite


def import_suites(args) -> None:
    """Import what registers suites before the suite is looked up: --import (passed on to
    the workers in ODINW_SUITE_IMPORTS) and the configs' custom_imports."""
    from mmengine.config import Config
    if args.imports:
        old = [m for m in os.environ.get(IMPORTS_ENV, '').split(',') if m]
        os.environ[IMPORTS_ENV] = ','.join(dict.fromkeys(old + args.imports))
        import_suite_modules()
    for config in args.configs:
        Config.fromfile(config)  # imports its custom_imports


def data_root(args):
    return args.data_root or os.environ.get('ODINW_ROOT')


def sweep_subset(args, suite, runs) -> dict:
    """The sweep's declared subset: datasets, shot, seed, factors (and how far past an
    edge it may go)."""
    grid = list(dict.fromkeys(r.dataset for r in runs))
    return dict(datasets=args.sweep_datasets or grid[:2],
                shot=args.sweep_shot if args.sweep_shot is not None else args.shots[0],
                seed=args.sweep_seed if args.sweep_seed is not None else args.seeds[0],
                factors=args.lr_factors, extend=args.lr_extend)


def main(argv=None) -> int:
    args = parse_args(argv)
    missing = [c for c in args.configs if not osp.isfile(c)]
    if missing:
        print(f'error: config not found: {", ".join(missing)}', file=sys.stderr)
        return 2
    try:
        import_suites(args)
        suite = suite_of(args)
        runs = protocol.plan(args.configs, suite, args.work_root, datasets=args.datasets,
                             shots=args.shots, seeds=args.seeds,
                             zero_shot=not args.no_zero_shot,
                             retention=not args.no_retention, data_root=data_root(args),
                             cfg_options=args.cfg_options)
    except (SuiteError, KeyError, ImportError) as err:
        print(f'error: {err.args[0] if err.args else err}', file=sys.stderr)
        return 2
    sweep = None if args.no_lr_sweep else sweep_subset(args, suite, runs)
    todo = [r for r in runs if not protocol.done(r)]
    print(f'{len(runs)} runs of suite {suite} ({len(runs) - len(todo)} done already)')
    problems = preflight(suite, list(dict.fromkeys(r.dataset for r in runs)),
                         shots=args.shots, data_root=data_root(args),
                         retention=not args.no_retention)
    print(f'preflight: {len(problems)} problems in the data' if problems else
          'preflight: the data of every run is there and agrees with the suite')
    for problem in problems:
        print(f'  {problem}')
    if problems and not args.dry_run:
        print(f'error: nothing was run: fix the {len(problems)} problems above first',
              file=sys.stderr)
        return 1
    if args.dry_run:
        if sweep:
            sweep_runs = lr_sweep.plan_sweep(args.configs, suite, args.work_root,
                                             data_root=data_root(args),
                                             cfg_options=args.cfg_options, **sweep)
            for r in sweep_runs:
                print(f'{"done" if protocol.done(r) else "todo"}  {r.name}  {r.work_dir}')
        for r in runs:
            print(f'{"done" if protocol.done(r) else "todo"}  {r.name}  {r.work_dir}')
        return 0
    execute = dict(launcher=args.launcher, workers=args.workers, threads=args.threads,
                   gpus=args.gpus, partition=args.partition)
    try:
        with protocol.session(args.work_root):
            if sweep:
                lr_sweep.select_rates(args.configs, suite, args.work_root,
                                      data_root=data_root(args),
                                      cfg_options=args.cfg_options, grid=runs,
                                      **sweep, **execute)
            failures = protocol.execute_all(runs, **execute)
    except protocol.ProtocolInUseError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    except lr_sweep.SweepError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    status = 0
    if failures:
        print(f'{len(failures)} of {len(runs)} runs failed:', file=sys.stderr)
        for name, error in failures.items():
            print(f'  {name}: {error}', file=sys.stderr)
        status = 1
    if not args.no_collect:
        from collect_results import main as collect
        stem = osp.join(args.work_root, 'results')
        if collect([args.work_root, '--suite', suite, '--out', stem]) != 0:
            status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
