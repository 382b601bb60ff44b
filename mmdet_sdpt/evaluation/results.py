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

import numpy as np

from ..constants import RETENTION_DIR, ZERO_SHOT
from ..utils.atomic_io import atomic_write

TIMESTAMP = re.compile(r'^\d{8}_\d{6}$')
FEWSHOT_DIR = re.compile(r'^shot(\d+)_seed(\d+)$')
FULL_DIR = re.compile(r'^full_seed(\d+)$')
CONFIG_KEYS = ('odinw_dataset', 'odinw_shot', 'odinw_seed', 'odinw_suite', 'method',
               'detector')


@dataclass
class Run:
    work_dir: str
    result_file: str
    metrics: dict
    dataset: str
    shot: Optional[int] = 0  # 0: full data; None: zero-shot (no training)
    seed: Optional[int] = None
    suite: Optional[str] = None
    method: str = ''
    detector: str = ''
    retention_metrics: Optional[dict] = None  # the base-domain test of the same model

    @property
    def label(self) -> str:
        """The results' row: '<detector> <method>' (either may be empty)."""
        return ' '.join(x for x in (self.detector, self.method) if x)


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
    shot: Optional[int]
    rows: List[Row]
    suite: Optional[str]
    method: str = ''
    averaged: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    mean: Optional[float] = None
    std: Optional[float] = None
    std_note: str = ''
    per_seed: Dict = field(default_factory=dict)  # seed -> average over the datasets

    @property
    def label(self) -> str:
        label = shot_label(self.shot)
        return f'{self.method}, {label}' if self.method else label

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


def shot_label(shot: Optional[int]) -> str:
    return ZERO_SHOT if shot is None else 'full data' if shot == 0 else f'{shot}-shot'


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


def newest_result(folder: str) -> Optional[str]:
    """The newest ``<timestamp>/<timestamp>.json`` a test wrote in ``folder``, or None."""
    if not osp.isdir(folder):
        return None
    stamps = sorted(d for d in os.listdir(folder)
                    if TIMESTAMP.match(d) and osp.isfile(osp.join(folder, d, d + '.json')))
    return osp.join(folder, stamps[-1], stamps[-1] + '.json') if stamps else None


def read_run(work_dir: str) -> Optional[Run]:
    """The newest test result of ``work_dir`` and what it is a result of, or None. The
    newest result in ``<work_dir>/retention/`` is the same model's base-domain test."""
    result_file = newest_result(work_dir)
    if result_file is None:
        return None
    with open(result_file) as f:
        metrics = json.load(f)
    cfg = _dumped_config_values(work_dir)
    norm = osp.normpath(osp.abspath(work_dir))
    leaf, parent = osp.basename(norm), osp.basename(osp.dirname(norm))
    fewshot, full = FEWSHOT_DIR.match(leaf), FULL_DIR.match(leaf)
    if 'odinw_dataset' in cfg:
        dataset = str(cfg['odinw_dataset'])
        shot = int(cfg.get('odinw_shot', 0))
        seed = int(cfg['odinw_seed']) if 'odinw_seed' in cfg else None
    elif fewshot:
        dataset, shot, seed = parent, int(fewshot.group(1)), int(fewshot.group(2))
    elif full:
        dataset, shot, seed = parent, 0, int(full.group(1))
    else:
        dataset, shot, seed = leaf, 0, None
    method = str(cfg.get('method', ''))
    if method == ZERO_SHOT:
        shot, seed = None, None
    retention = None
    retention_file = newest_result(osp.join(work_dir, RETENTION_DIR))
    if retention_file is not None:
        with open(retention_file) as f:
            retention = json.load(f)
    return Run(work_dir=work_dir, result_file=result_file, metrics=metrics, dataset=dataset,
               shot=shot, seed=seed, suite=cfg.get('odinw_suite'), method=method,
               detector=str(cfg.get('detector', '')), retention_metrics=retention)


def find_runs(paths: Iterable[str]) -> List[Run]:
    """Every tested work dir at or below ``paths`` (timestamp folders are not entered)."""
    runs, seen = [], set()
    for top in paths:
        if not osp.isdir(top):
            raise FileNotFoundError(f'work dir {top!r} not found')
        for folder, subdirs, _ in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs
                                if not TIMESTAMP.match(d) and d != RETENTION_DIR)
            key = osp.realpath(folder)
            if key in seen:
                continue
            seen.add(key)
            run = read_run(folder)
            if run is not None:
                runs.append(run)
    return runs


def _suite_datasets(suite, suite_datasets):
    if suite is not None and suite_datasets is None:
        from ..datasets import odinw_suite
        suite_datasets = list(odinw_suite(suite))
    return suite_datasets


def _shot_order(shot: Optional[int]) -> tuple:
    """zero-shot, then 1, 3, 5, 10 ..., then full data (0)."""
    return (shot is not None, shot == 0, shot or 0)


def _seed_order(values: dict) -> dict:
    return dict(sorted(values.items(), key=lambda kv: (kv[0] is None, kv[0])))


def _table(values: Dict[tuple, float], shot, suite, suite_datasets, method='') -> ShotTable:
    """A ShotTable of {(dataset, seed): value}."""
    per_dataset: Dict[str, Dict] = {}
    for (dataset, seed), value in values.items():
        per_dataset.setdefault(dataset, {})[seed] = value
    if suite_datasets is not None:
        order = [d for d in suite_datasets if d in per_dataset]
        order += sorted(d for d in per_dataset if d not in suite_datasets)
    else:
        order = sorted(per_dataset)
    rows = [Row(d, _seed_order(per_dataset[d]),
                in_suite=suite_datasets is None or d in suite_datasets) for d in order]
    table = ShotTable(shot=shot, rows=rows, suite=suite, method=method)
    averaged = [r for r in rows if r.in_suite]
    table.averaged = [r.dataset for r in averaged]
    if suite_datasets is not None:
        table.missing = [d for d in suite_datasets if d not in per_dataset]
    if averaged:
        table.mean = statistics.fmean(r.mean for r in averaged)
        seed_sets = {tuple(r.values) for r in averaged}
        if len(seed_sets) == 1 and len(next(iter(seed_sets))) > 1:
            seeds = next(iter(seed_sets))
            table.per_seed = {s: statistics.fmean(r.values[s] for r in averaged)
                              for s in seeds}
            table.std = statistics.stdev(table.per_seed.values())
        elif len(seed_sets) > 1:
            table.std_note = 'datasets have different seeds: no std of the average'
    return table


def _metric_value(run: Run, metric: str, metrics: Optional[dict] = None,
                  what: str = '') -> float:
    metrics = run.metrics if metrics is None else metrics
    value = metrics.get(metric)
    where = run.result_file if not what else f'{run.work_dir} ({what})'
    if value is None:
        raise KeyError(f'{where} has no {metric!r}; it has {sorted(metrics)}')
    if value < 0:  # COCOeval's -1: nothing to evaluate
        raise ValueError(f'{where}: {metric} = {value} (no ground truth?)')
    return float(value)


def index_runs(runs: Sequence[Run], metric: str) -> Dict[tuple, Run]:
    """{(label, shot, dataset, seed): run}; two results for one key are an error."""
    by_key: Dict[tuple, Run] = {}
    for run in runs:
        key = (run.label, run.shot, run.dataset, run.seed)
        if key in by_key:
            what = f'{run.label}: dataset' if run.label else 'dataset'
            raise ValueError(f'two results for {what} {run.dataset}, shot {run.shot}, seed '
                             f'{run.seed}: {by_key[key].work_dir} and {run.work_dir}')
        _metric_value(run, metric)
        by_key[key] = run
    return by_key


def summarize(runs: Sequence[Run], metric: str = 'coco/bbox_mAP',
              suite: Optional[str] = None,
              suite_datasets: Optional[Sequence[str]] = None) -> List[ShotTable]:
    """One table per method and shot setting (zero-shot, few-shot, full data).
    ``suite_datasets`` defaults to ``mmdet_sdpt.datasets.odinw_suite(suite)``'s names."""
    suite_datasets = _suite_datasets(suite, suite_datasets)
    by_key = index_runs(runs, metric)
    groups = sorted({k[:2] for k in by_key}, key=lambda g: (g[0], _shot_order(g[1])))
    return [_table({(d, seed): float(run.metrics[metric])
                    for (label, shot, d, seed), run in by_key.items() if (label, shot) == g},
                   g[1], suite, suite_datasets, method=g[0]) for g in groups]


# --- the leaderboard: target AP, base-domain AP retained, their harmonic mean ----------
@dataclass
class BoardRow:
    label: str
    target: ShotTable  # per-dataset AP
    retained: Optional[ShotTable] = None  # per-dataset tuned / zero-shot base-domain AP
    hm: Optional[float] = None  # harmonic mean of average AP and average retained
    hm_std: Optional[float] = None


@dataclass
class Board:
    shot: Optional[int]
    rows: List[BoardRow]
    datasets: List[str]
    suite: Optional[str] = None

    @property
    def label(self) -> str:
        return shot_label(self.shot)

    @property
    def has_retention(self) -> bool:
        return any(r.retained is not None for r in self.rows)

    def why_no_retention(self) -> str:
        """What a board without a base-AP-kept column says instead."""
        if self.suite is not None:
            try:
                from ..datasets import get_suite
                if not get_suite(self.suite).retention:
                    return ('base AP kept: not measured, there is no retention split in this '
                            'suite (a suite file\'s `retention` names one)')
            except (ValueError, KeyError):
                pass
        return ('base AP kept: not measured, no run has a retention test '
                '(tools/fewshot_protocol.py without --no-retention writes them)')


def harmonic_mean(a: float, b: float) -> float:
    return 0.0 if a + b <= 0 else 2 * a * b / (a + b)


def _detector_of(label: str, zero_labels: Sequence[str]) -> Optional[str]:
    """The zero-shot row of the same detector ('tiny-glip zero-shot' for 'tiny-glip sdpt')."""
    for z in zero_labels:
        prefix = z[:-len(ZERO_SHOT)].strip()
        if not prefix or label.split(' ')[0] == prefix:
            return z
    return None


def leaderboard(runs: Sequence[Run], metric: str = 'coco/bbox_mAP',
                suite: Optional[str] = None,
                suite_datasets: Optional[Sequence[str]] = None) -> List[Board]:
    """One board per shot setting: every method's per-dataset and average AP, the share of
    its detector's zero-shot base-domain AP it kept (tuned / zero-shot on the retention
    split, where measured), and the harmonic mean of the two averages; zero-shot rows
    (one per detector) sit in every board. Rows are sorted by average AP."""
    suite_datasets = _suite_datasets(suite, suite_datasets)
    by_key = index_runs(runs, metric)
    zero_labels = sorted({k[0] for k in by_key if k[1] is None})
    zero_base = {(k[0], k[2]): _metric_value(r, metric, r.retention_metrics, RETENTION_DIR)
                 for k, r in by_key.items() if k[1] is None and r.retention_metrics}
    shots = sorted({k[1] for k in by_key if k[1] is not None}, key=_shot_order)
    boards = []
    for shot in shots or [None]:
        rows = []
        for label in sorted({k[0] for k in by_key if k[1] in (shot, None)}):
            keys = [k for k in by_key if k[0] == label and k[1] == (
                None if label in zero_labels else shot)]
            if not keys:
                continue
            row_shot = None if label in zero_labels else shot
            target = _table({(k[2], k[3]): float(by_key[k].metrics[metric]) for k in keys},
                            row_shot, suite, suite_datasets, method=label)
            zero = label if label in zero_labels else _detector_of(label, zero_labels)
            kept = {}
            for k in keys:
                run = by_key[k]
                base = zero_base.get((zero, k[2]))
                if run.retention_metrics and base:
                    kept[(k[2], k[3])] = _metric_value(
                        run, metric, run.retention_metrics, RETENTION_DIR) / base
            row = BoardRow(label, target)
            if kept:
                row.retained = _table(kept, row_shot, suite, suite_datasets, method=label)
                t, r = target, row.retained
                if t.mean is not None and r.mean is not None:
                    row.hm = harmonic_mean(t.mean, r.mean)
                    common = set(t.per_seed) & set(r.per_seed)
                    if len(common) > 1:
                        row.hm_std = statistics.stdev(
                            harmonic_mean(t.per_seed[s], r.per_seed[s]) for s in common)
            rows.append(row)
        rows.sort(key=lambda r: -(r.target.mean if r.target.mean is not None else -1))
        datasets = list(dict.fromkeys(d.dataset for r in rows for d in r.target.rows))
        boards.append(Board(shot, rows, datasets, suite))
    return boards


@dataclass
class PairedDifference:
    a: str
    b: str
    shot: Optional[int]
    n: int  # (dataset, seed) pairs
    mean: float  # mean of a - b
    low: float  # confidence interval of the mean difference
    high: float
    p: float  # two-sided paired t-test
    wins: int  # pairs where a > b

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return f'{self.a} > {self.b}'
        if self.high < 0:
            return f'{self.a} < {self.b}'
        return 'no real difference'


def paired_difference(runs: Sequence[Run], a: str, b: str, shot: Optional[int],
                      metric: str = 'coco/bbox_mAP', confidence: float = 0.95,
                      datasets: Optional[Sequence[str]] = None) -> Optional[PairedDifference]:
    """Method ``a`` minus method ``b`` (results' labels) at ``shot``, paired over the
    (dataset, seed) runs both have (zero-shot, run once, pairs with every seed): the mean
    difference, its t confidence interval and the paired t-test's p-value. None when
    fewer than two pairs exist."""
    from scipy import stats
    by_key = index_runs(runs, metric)

    def values(label):
        out = {}
        for (lab, s, d, seed), run in by_key.items():
            if lab == label and (s == shot or s is None) and (
                    datasets is None or d in datasets):
                out[(d, seed)] = float(run.metrics[metric])
        return out

    va, vb = values(a), values(b)
    pairs = []
    for (d, seed), x in va.items():
        y = vb.get((d, seed), vb.get((d, None)))
        if y is not None:
            pairs.append(x - y)
    if not pairs and any(k[1] is None for k in va):  # a is the zero-shot row
        for (d, seed), y in vb.items():
            if (d, None) in va:
                pairs.append(va[(d, None)] - y)
    if len(pairs) < 2:
        return None
    diffs = np.asarray(pairs, dtype=np.float64)
    mean, sem = float(diffs.mean()), float(diffs.std(ddof=1) / np.sqrt(len(diffs)))
    if sem == 0:
        low = high = mean
        p = 0.0 if mean != 0 else 1.0
    else:
        half = float(stats.t.ppf(0.5 + confidence / 2, len(diffs) - 1)) * sem
        low, high = mean - half, mean + half
        p = float(2 * stats.t.sf(abs(mean / sem), len(diffs) - 1))
    return PairedDifference(a, b, shot, len(diffs), mean, low, high, p,
                            int((diffs > 0).sum()))


def board_markdown(boards: Sequence[Board], metric: str) -> str:
    lines = []
    for board in boards:
        kept_columns = board.has_retention
        lines += [f'### Leaderboard, {board.label} ({metric} x 100; mean ± std over seeds)',
                  '',
                  '| method | ' + ' | '.join(board.datasets) + ' | average |' +
                  (' base AP kept (%) | harmonic mean |' if kept_columns else ''),
                  '|---|' + '---:|' * (len(board.datasets) + (3 if kept_columns else 1))]
        for row in board.rows:
            per = {r.dataset: r for r in row.target.rows}
            cells = [_pct(per[d].mean) if d in per else '-' for d in board.datasets]
            kept = row.retained
            lines.append(
                f'| {row.label} | ' + ' | '.join(cells) +
                f' | **{_pct(row.target.mean, row.target.std)}** |' +
                (f' {_pct(kept.mean, kept.std) if kept else "-"} | '
                 f'{_pct(row.hm, row.hm_std)} |' if kept_columns else ''))
        notes = {r.target.average_note for r in board.rows}
        lines += ['', 'average over ' + '; '.join(sorted(notes)), '']
        if not kept_columns:
            lines += [board.why_no_retention(), '']
    return '\n'.join(lines)


def _pct(value: Optional[float], std: Optional[float] = None) -> str:
    if value is None:
        return '-'
    text = f'{100 * value:.1f}'
    return text + (f' ± {100 * std:.1f}' if std is not None else '')


def _seeds(tables: Sequence[ShotTable]) -> List[Optional[int]]:
    seeds = {s for t in tables for r in t.rows for s in r.values}
    return sorted(seeds, key=lambda s: (s is None, s))


def _show_boards(boards: Optional[Sequence[Board]]) -> bool:
    """A leaderboard says more than the tables when it compares methods or retention."""
    return bool(boards) and any(len(b.rows) > 1 or any(r.retained for r in b.rows)
                                for b in boards)


def to_markdown(tables: Sequence[ShotTable], metric: str,
                boards: Optional[Sequence[Board]] = None) -> str:
    """AP in percent (x 100), one decimal: the leaderboards (where there are several
    methods or retention tests), then per method and shot: per-seed columns, mean ± std,
    the average."""
    lines = [board_markdown(boards, metric)] if _show_boards(boards) else []
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


def to_csv(tables: Sequence[ShotTable], metric: str,
           boards: Optional[Sequence[Board]] = None) -> str:
    """Values as the runs wrote them (fractions, full precision): per method and shot, per
    dataset and the average, of ``quantity`` ap (the target test), retained (tuned /
    zero-shot base-domain AP) and hm (harmonic mean of average ap and retained)."""
    retained = [r.retained for b in boards or () for r in b.rows if r.retained is not None]
    retained = list({(t.method, t.shot): t for t in retained}.values())
    seeds = [s for s in _seeds(list(tables) + retained) if s is not None]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(['method', 'quantity', 'metric', 'shot', 'dataset', 'in_average',
                     'num_seeds', 'mean', 'std'] + [f'seed_{s}' for s in seeds] + ['note'])
    fmt = lambda v: '' if v is None else repr(float(v))  # noqa: E731
    shot = lambda t: ZERO_SHOT if t.shot is None else t.shot  # noqa: E731
    for quantity, group in (('ap', tables), ('retained', retained)):
        for table in group:
            head = [table.method, quantity, metric, shot(table)]
            for row in table.rows:
                writer.writerow(head + [row.dataset, int(row.in_suite), len(row.values),
                                        fmt(row.mean), fmt(row.std)] +
                                [fmt(row.values.get(s)) for s in seeds] + [''])
            writer.writerow(head + ['average', '', len(table.averaged), fmt(table.mean),
                                    fmt(table.std)] + [''] * len(seeds) +
                            [table.average_note +
                             (f'; {table.std_note}' if table.std_note else '')])
    done = set()
    for board in boards or ():
        for row in board.rows:
            if row.hm is None or (row.label, row.target.shot) in done:
                continue
            done.add((row.label, row.target.shot))
            writer.writerow([row.label, 'hm', metric, shot(row.target), 'average', '',
                             len(row.target.averaged), fmt(row.hm), fmt(row.hm_std)] +
                            [''] * len(seeds) + ['harmonic mean of average ap and retained'])
    return buf.getvalue()


def save_figure(fig, path: str, rect=(0, 0, 1, 1)) -> str:
    import matplotlib.pyplot as plt
    fig.tight_layout(rect=rect)  # rect: the part of the figure the panels may fill
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format='png', dpi=120))
    finally:
        plt.close(fig)
    return path


def plot_boards(boards: Sequence[Board], metric: str, path: str) -> str:
    """Two panels, written atomically: average AP vs shots per method (zero-shot as a
    level line), and base-domain AP kept vs average AP (one point per method and shot)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(r.label for b in boards for r in b.rows))
    legend_rows = (len(labels) + 3) // 4  # the legend: 4 series a row, below the panels
    height = 4.8 + 0.2 * legend_rows
    retention = any(b.has_retention for b in boards)  # else no empty right panel
    fig, axes = plt.subplots(1, 2 if retention else 1, figsize=(12 if retention else 7,
                                                                 height), squeeze=False)
    ax1, ax2 = axes[0][0], axes[0][1] if retention else None
    shots = [b.shot for b in boards]
    xs = {s: i for i, s in enumerate(shots)}
    markers = 'osD^v<>pPX*h'
    # tab10 repeats after 10 series (a grid has 13): tab20 gives each its own colour
    palette = plt.get_cmap('tab10' if len(labels) <= 10 else 'tab20')
    for i, label in enumerate(labels):
        rows = [(b.shot, r) for b in boards for r in b.rows if r.label == label]
        colour = palette(i % palette.N)
        if rows[0][1].target.shot is None:  # zero-shot: the same in every board
            row = rows[0][1]
            ax1.axhline(100 * (row.target.mean or 0), color=colour, ls='--', label=label)
        else:
            pts = [(xs[b], 100 * r.target.mean, 100 * (r.target.std or 0)) for b, r in rows
                   if r.target.mean is not None]
            ax1.errorbar([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts],
                         color=colour, marker=markers[i % len(markers)], capsize=3,
                         label=label)
        for b, r in rows:
            if ax2 is not None and r.retained is not None and r.retained.mean is not None:
                ax2.scatter(100 * r.target.mean, 100 * r.retained.mean, color=colour,
                            marker=markers[i % len(markers)])
                ax2.annotate(shot_label(r.target.shot),
                             (100 * r.target.mean, 100 * r.retained.mean), fontsize=6)
    ax1.set_xticks(range(len(shots)))
    ax1.set_xticklabels([shot_label(s) for s in shots])
    ax1.set_xlabel('training data')
    ax1.set_ylabel(f'average {metric} (%)')
    # below the panels, not over the lines (a grid has a dozen series)
    fig.legend(*ax1.get_legend_handles_labels(), loc='lower center', fontsize=7,
               ncol=min(4, max(1, len(labels))), frameon=False)
    legend_height = 0.2 * legend_rows / height
    if ax2 is not None:
        ax2.set_xlabel(f'average {metric} on the targets (%)')
        ax2.set_ylabel('base-domain AP kept (% of zero-shot)')
        ax2.axhline(100, color='grey', lw=0.5)
        ax2.set_title('retention vs target AP', fontsize=9)
    return save_figure(fig, path, rect=(0, legend_height + 0.01, 1, 1))


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
    return save_figure(fig, path)


def write_outputs(tables: Sequence[ShotTable], metric: str, out: str,
                  boards: Optional[Sequence[Board]] = None) -> Dict[str, str]:
    """``out``.md, ``out``.csv and ``out``.png, each written atomically."""
    stem = re.sub(r'\.(md|csv|png)$', '', out)
    paths = dict(md=stem + '.md', csv=stem + '.csv', png=stem + '.png')
    atomic_write(paths['md'], to_markdown(tables, metric, boards))
    atomic_write(paths['csv'], to_csv(tables, metric, boards))
    if _show_boards(boards):
        plot_boards(boards, metric, paths['png'])
    else:
        plot(tables, metric, paths['png'])
    return paths
