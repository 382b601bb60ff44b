"""Result tables of a benchmark suite: per-dataset AP over seeds, and the suite's average.

A *run* is one mmengine work dir in which ``tools/test.py`` evaluated a model: mmengine
writes the metrics of each test to ``<work_dir>/<timestamp>/<timestamp>.json``
(e.g. ``{"coco/bbox_mAP": 0.473, ...}``). Training alone writes no such file (its
validation metrics go to ``<timestamp>/vis_data/``), so only tested runs count; when a work
dir holds several tests the newest timestamp wins.

Which dataset, shot count K and seed S a run belongs to:

1. the config mmengine dumped into the work dir (``<work_dir>/*.py``), when it names them:
   ``odinw_dataset`` (configs/sdpt/glip_t_odinw.py), ``odinw_shot`` and ``odinw_seed``
   (configs/sdpt/glip_t_odinw_fewshot.py), ``odinw_suite``;
2. otherwise the work dir's path: ``.../<dataset>/shot{K}_seed{S}`` for a few-shot run,
   ``.../<dataset>`` for a full-data run (shot 0, no seed), the layout those two configs
   give their ``work_dir``.

Numbers: per dataset, the mean and the sample standard deviation (ddof = 1) over its seeds.
The suite's average is over the datasets of the suite that have results, never silently
fewer: the datasets it lacks are named. Its mean is the mean of the per-dataset means; its
std is the std over seeds of the per-seed averages (GLIP's "mean +- std over seeds"), given
only when every averaged dataset has the same seeds.
"""
import ast
import csv
import glob
import io
import json
import os
import os.path as osp
import re
import statistics
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence

from ..utils.atomic_io import atomic_write

TIMESTAMP = re.compile(r'^\d{8}_\d{6}$')
FEWSHOT_DIR = re.compile(r'^shot(\d+)_seed(\d+)$')
CONFIG_KEYS = ('odinw_dataset', 'odinw_shot', 'odinw_seed', 'odinw_suite')


@dataclass
class Run:
    work_dir: str
    result_file: str
    metrics: dict
    dataset: str
    shot: int = 0  # 0: full data
    seed: Optional[int] = None
    suite: Optional[str] = None


@dataclass
class Row:
    dataset: str
    values: Dict[Optional[int], float]  # seed -> metric
    in_suite: bool = True

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values.values())

    @property
    def std(self) -> Optional[float]:
        vals = list(self.values.values())
        return statistics.stdev(vals) if len(vals) > 1 else None


@dataclass
class ShotTable:
    shot: int
    rows: List[Row]
    suite: Optional[str]
    averaged: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    mean: Optional[float] = None
    std: Optional[float] = None
    std_note: str = ''

    @property
    def label(self) -> str:
        return 'full data' if self.shot == 0 else f'{self.shot}-shot'

    @property
    def short_note(self) -> str:
        if self.suite is None:
            return f'{len(self.averaged)} datasets'
        total = len(self.averaged) + len(self.missing)
        return f'{len(self.averaged)}/{total} of {self.suite}' + (
            f', {len(self.missing)} MISSING' if self.missing else '')

    @property
    def average_note(self) -> str:
        if self.suite is None:
            return f'{len(self.averaged)} datasets (no suite given)'
        total = len(self.averaged) + len(self.missing)
        note = f'{len(self.averaged)}/{total} datasets of {self.suite}'
        if self.missing:
            note += f'; MISSING {len(self.missing)}: {", ".join(self.missing)}'
        return note


def _dumped_config_values(work_dir: str) -> dict:
    """Top-level ``odinw_*`` assignments of the config(s) mmengine dumped into work_dir,
    read without executing them."""
    found = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*.py'))):
        try:
            tree = ast.parse(open(path).read())
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                    node.targets[0], ast.Name) and node.targets[0].id in CONFIG_KEYS:
                try:
                    found[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return found


def read_run(work_dir: str) -> Optional[Run]:
    """The newest test result of ``work_dir`` and what it is a result of, or None."""
    stamps = sorted(d for d in os.listdir(work_dir)
                    if TIMESTAMP.match(d) and osp.isfile(osp.join(work_dir, d, d + '.json')))
    if not stamps:
        return None
    result_file = osp.join(work_dir, stamps[-1], stamps[-1] + '.json')
    with open(result_file) as f:
        metrics = json.load(f)
    cfg = _dumped_config_values(work_dir)
    norm = osp.normpath(osp.abspath(work_dir))
    leaf, parent = osp.basename(norm), osp.basename(osp.dirname(norm))
    fewshot = FEWSHOT_DIR.match(leaf)
    if 'odinw_dataset' in cfg:
        dataset = str(cfg['odinw_dataset'])
        shot = int(cfg.get('odinw_shot', 0))
        seed = int(cfg['odinw_seed']) if 'odinw_seed' in cfg else None
    elif fewshot:
        dataset, shot, seed = parent, int(fewshot.group(1)), int(fewshot.group(2))
    else:
        dataset, shot, seed = leaf, 0, None
    return Run(work_dir=work_dir, result_file=result_file, metrics=metrics, dataset=dataset,
               shot=shot, seed=seed, suite=cfg.get('odinw_suite'))


def find_runs(paths: Iterable[str]) -> List[Run]:
    """Every tested work dir at or below ``paths`` (timestamp folders are not entered)."""
    runs, seen = [], set()
    for top in paths:
        if not osp.isdir(top):
            raise FileNotFoundError(f'work dir {top!r} not found')
        for folder, subdirs, _ in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if not TIMESTAMP.match(d))
            key = osp.realpath(folder)
            if key in seen:
                continue
            seen.add(key)
            run = read_run(folder)
            if run is not None:
                runs.append(run)
    return runs


def summarize(runs: Sequence[Run], metric: str = 'coco/bbox_mAP',
              suite: Optional[str] = None,
              suite_datasets: Optional[Sequence[str]] = None) -> List[ShotTable]:
    """One table per shot setting. ``suite_datasets`` defaults to
    ``mmdet_sdpt.datasets.odinw_suite(suite)``'s names (mmdet's order)."""
    if suite is not None and suite_datasets is None:
        from ..datasets import odinw_suite
        suite_datasets = list(odinw_suite(suite))
    by_key: Dict[tuple, Run] = {}
    for run in runs:
        key = (run.shot, run.dataset, run.seed)
        if key in by_key:
            raise ValueError(f'two results for dataset {run.dataset}, shot {run.shot}, seed '
                             f'{run.seed}: {by_key[key].work_dir} and {run.work_dir}')
        value = run.metrics.get(metric)
        if value is None:
            raise KeyError(f'{run.result_file} has no {metric!r}; it has '
                           f'{sorted(run.metrics)}')
        if value < 0:  # COCOeval's -1: nothing to evaluate
            raise ValueError(f'{run.result_file}: {metric} = {value} (no ground truth?)')
        by_key[key] = run
    tables = []
    for shot in sorted({k[0] for k in by_key}):
        values: Dict[str, Dict] = {}
        for (s, dataset, seed), run in by_key.items():
            if s == shot:
                values.setdefault(dataset, {})[seed] = float(run.metrics[metric])
        if suite_datasets is not None:
            order = [d for d in suite_datasets if d in values]
            order += sorted(d for d in values if d not in suite_datasets)
        else:
            order = sorted(values)
        rows = [Row(d, dict(sorted(values[d].items(), key=lambda kv: (kv[0] is None, kv[0]))),
                    in_suite=suite_datasets is None or d in suite_datasets) for d in order]
        table = ShotTable(shot=shot, rows=rows, suite=suite)
        averaged = [r for r in rows if r.in_suite]
        table.averaged = [r.dataset for r in averaged]
        if suite_datasets is not None:
            table.missing = [d for d in suite_datasets if d not in values]
        if averaged:
            table.mean = statistics.fmean(r.mean for r in averaged)
            seed_sets = {tuple(r.values) for r in averaged}
            if len(seed_sets) == 1 and len(next(iter(seed_sets))) > 1:
                seeds = next(iter(seed_sets))
                per_seed = [statistics.fmean(r.values[s] for r in averaged) for s in seeds]
                table.std = statistics.stdev(per_seed)
            elif len(seed_sets) > 1:
                table.std_note = 'datasets have different seeds: no std of the average'
        tables.append(table)
    return tables


def _pct(value: Optional[float], std: Optional[float] = None) -> str:
    if value is None:
        return '-'
    text = f'{100 * value:.1f}'
    return text + (f' ± {100 * std:.1f}' if std is not None else '')


def _seeds(tables: Sequence[ShotTable]) -> List[Optional[int]]:
    seeds = {s for t in tables for r in t.rows for s in r.values}
    return sorted(seeds, key=lambda s: (s is None, s))


def to_markdown(tables: Sequence[ShotTable], metric: str) -> str:
    """AP in percent (x 100), one decimal: per-seed columns, mean ± std, the average."""
    lines = []
    for table in tables:
        seeds = sorted({s for r in table.rows for s in r.values}, key=lambda s: (s is None, s))
        seed_cols = [f'seed {s}' for s in seeds if s is not None]
        lines += [f'### {metric}, {table.label}', '',
                  '| dataset | ' + ' | '.join(seed_cols + ['mean ± std']) + ' |',
                  '|---|' + '---:|' * (len(seed_cols) + 1)]
        for row in table.rows:
            cells = [_pct(row.values.get(s)) for s in seeds if s is not None]
            name = row.dataset if row.in_suite else f'{row.dataset} (not in {table.suite})'
            lines.append(f'| {name} | ' + ' | '.join(cells + [_pct(row.mean, row.std)]) + ' |')
        avg = _pct(table.mean, table.std)
        lines.append(f'| **average** ({table.average_note}) | ' +
                     ' | '.join(['' for s in seeds if s is not None] + [f'**{avg}**']) + ' |')
        if table.std_note:
            lines.append(f'\n{table.std_note}')
        lines.append('')
    return '\n'.join(lines)


def to_csv(tables: Sequence[ShotTable], metric: str) -> str:
    """Metric values as the runs wrote them (fractions, full precision)."""
    seeds = [s for s in _seeds(tables) if s is not None]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(['metric', 'shot', 'dataset', 'in_average', 'num_seeds', 'mean', 'std'] +
                    [f'seed_{s}' for s in seeds] + ['note'])
    fmt = lambda v: '' if v is None else repr(float(v))  # noqa: E731
    for table in tables:
        for row in table.rows:
            writer.writerow([metric, table.shot, row.dataset, int(row.in_suite),
                             len(row.values), fmt(row.mean), fmt(row.std)] +
                            [fmt(row.values.get(s)) for s in seeds] + [''])
        writer.writerow([metric, table.shot, 'average', '', len(table.averaged),
                         fmt(table.mean), fmt(table.std)] + [''] * len(seeds) +
                        [table.average_note + (f'; {table.std_note}' if table.std_note else '')])
    return buf.getvalue()


def plot(tables: Sequence[ShotTable], metric: str, path: str) -> str:
    """A bar chart (mean with std error bars) per shot setting, written atomically."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tables), 1, squeeze=False,
                             figsize=(max(6.0, 0.45 * max(len(t.rows) for t in tables) + 2),
                                      3.2 * len(tables)))
    for ax, table in zip(axes[:, 0], tables):
        names = [r.dataset for r in table.rows] + ['average']
        means = [100 * r.mean for r in table.rows] + [100 * (table.mean or 0.0)]
        errs = [100 * (r.std or 0.0) for r in table.rows] + [100 * (table.std or 0.0)]
        colours = ['tab:blue' if r.in_suite else 'tab:gray' for r in table.rows] + ['tab:red']
        ax.bar(range(len(names)), means, yerr=errs, color=colours, capsize=3)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=60, ha='right', fontsize=7)
        ax.set_ylabel(f'{metric} (%)')
        ax.set_title(f'{table.label}: average {_pct(table.mean, table.std)} '
                     f'({table.short_note})', fontsize=9)
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format='png', dpi=120))
    finally:
        plt.close(fig)
    return path


def write_outputs(tables: Sequence[ShotTable], metric: str, out: str) -> Dict[str, str]:
    """``out``.md, ``out``.csv and ``out``.png, each written atomically."""
    stem = re.sub(r'\.(md|csv|png)$', '', out)
    paths = dict(md=stem + '.md', csv=stem + '.csv', png=stem + '.png')
    atomic_write(paths['md'], to_markdown(tables, metric))
    atomic_write(paths['csv'], to_csv(tables, metric))
    plot(tables, metric, paths['png'])
    return paths
