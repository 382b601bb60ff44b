"""The numbers of a leaderboard: per-dataset tables over seeds, boards, paired differences.

Per dataset, the mean and the sample standard deviation (ddof = 1) over its seeds. The
suite's average is over the datasets of the suite that have results, never silently fewer:
the datasets it lacks are named. Its mean is the mean of the per-dataset means; its std is
the std over seeds of the per-seed averages (GLIP's "mean +- std over seeds"), given only
when every averaged dataset has the same seeds.
"""
import statistics
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..constants import RETENTION_DIR, ZERO_SHOT
from .runs import Run, _metric_value, index_runs, shot_label


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


def comparable_labels(board: 'Board') -> set:
    """Labels of the board's rows averaged over the same, widest set of datasets. A row that
    lacks some of them (a grid still running) averages over others: its average is not
    comparable with theirs, so rankings, fronts and bests leave it out until it is."""
    covered = {r.label: frozenset(getattr(r.target, 'averaged', None) or ())
               for r in board.rows}
    widest = max(covered.values(), key=len, default=frozenset())
    return {label for label, datasets in covered.items() if datasets == widest}


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
