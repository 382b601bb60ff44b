"""What the runs cost, and what each method gives at a budget: the results' cost views.

Each trained run's ``cost.json`` (``RunCostHook``) holds its training wall time, the epoch
it stopped at, and every validation with the seconds of training before it. From them:

- ``cost_markdown``: per method and shot, the mean training time, the mean time to the
  best-on-valid checkpoint, the epoch of that checkpoint and the epoch training stopped at,
  and how many runs the early stop ended (the others ran to the schedule's last epoch, so
  their best may not be converged);
- the *anytime* view (``anytime``, ``anytime_markdown``, ``plot_anytime``): valid AP
  against training seconds, where a run's value at t seconds is the best valid AP of its
  validations up to t (what a user who stops at t and keeps the best checkpoint has), and a
  run that stopped before t keeps its last value; averaged over the runs of a method. A
  method is shown from the budget at which every one of its runs has validated once.

Times are wall seconds as measured, so they compare methods run under the same conditions
(the same machine and the same number of workers at once).
"""
import json
import math
import os.path as osp
import statistics
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ..engine.cost import COST_FILE


@dataclass
class RunCost:
    label: str
    shot: Optional[int]
    dataset: str
    seed: Optional[int]
    train_seconds: float
    epochs: int
    max_epochs: Optional[int]
    stopped_early: bool
    best_seconds: Optional[float]
    best_epoch: Optional[int]
    curve: List[Tuple[float, float]] = field(default_factory=list)  # (seconds, valid)


def read_cost(run, metric: str = 'coco/bbox_mAP') -> Optional[RunCost]:
    """A ``leaderboard.runs.Run``'s training cost, or None (zero-shot, or no cost.json)."""
    path = osp.join(run.work_dir, COST_FILE)
    if run.shot is None or not osp.isfile(path):
        return None
    with open(path) as f:
        record = json.load(f)
    curve = [(float(v['seconds']), float(v['metrics'][metric]))
             for v in record.get('validations', []) if metric in v.get('metrics', {})]
    best = record.get('best') or {}
    return RunCost(label=run.label, shot=run.shot, dataset=run.dataset, seed=run.seed,
                   train_seconds=float(record['train_seconds']),
                   epochs=int(record.get('epochs') or 0),
                   max_epochs=record.get('max_epochs'),
                   stopped_early=bool(record.get('stopped_early')),
                   best_seconds=best.get('seconds'), best_epoch=best.get('epoch'),
                   curve=curve)


def read_costs(runs, metric: str = 'coco/bbox_mAP') -> List[RunCost]:
    return [c for c in (read_cost(r, metric) for r in runs) if c is not None]


def _groups(costs: Sequence[RunCost]) -> Dict[Tuple, List[RunCost]]:
    groups: Dict[Tuple, List[RunCost]] = {}
    for c in costs:
        groups.setdefault((c.shot, c.label), []).append(c)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])))


def _mean(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def cost_markdown(costs: Sequence[RunCost]) -> str:
    lines = ['| shot | method | runs | training s (mean) | s to best (mean) | '
             'best epoch (mean, max) | stopped at epoch (mean) | stopped early |',
             '|---|---|---:|---:|---:|---|---:|---:|']
    for (shot, label), group in _groups(costs).items():
        best_epochs = [c.best_epoch for c in group if c.best_epoch is not None]
        lines.append(
            f'| {shot}-shot | {label} | {len(group)} | '
            f'{_mean(c.train_seconds for c in group):.0f} | '
            f'{_fmt(_mean(c.best_seconds for c in group), "{:.0f}")} | '
            + (f'{statistics.fmean(best_epochs):.1f}, {max(best_epochs)}' if best_epochs
               else '-') + ' | '
            f'{_mean(c.epochs for c in group):.1f} | '
            f'{sum(c.stopped_early for c in group)}/{len(group)} |')
    return '\n'.join(lines) + '\n'


def _fmt(value, spec) -> str:
    return '-' if value is None else spec.format(value)


def value_at(cost: RunCost, seconds: float) -> Optional[float]:
    """The run's best valid value among its validations at most ``seconds`` in."""
    seen = [v for s, v in cost.curve if s <= seconds]
    return max(seen) if seen else None


def anytime(costs: Sequence[RunCost], budgets: Sequence[float]) -> Dict[Tuple, List]:
    """{(shot, label): [mean anytime value at each budget, or None]}."""
    out = {}
    for key, group in _groups(costs).items():
        row = []
        for t in budgets:
            values = [value_at(c, t) for c in group]
            row.append(None if any(v is None for v in values) else statistics.fmean(values))
        out[key] = row
    return out


def default_budgets(costs: Sequence[RunCost], points: int = 24) -> List[float]:
    """Geometric budgets from the first validation to the longest run."""
    firsts = [c.curve[0][0] for c in costs if c.curve]
    if not firsts:
        return []
    low = max(1.0, min(firsts))
    high = max(max(c.train_seconds for c in costs), low * 1.01)
    step = (math.log(high) - math.log(low)) / (points - 1)
    return [math.exp(math.log(low) + i * step) for i in range(points)]


def anytime_markdown(costs: Sequence[RunCost], budgets: Sequence[float]) -> str:
    """The best method (by mean anytime valid AP) at each budget, per shot."""
    view = anytime(costs, budgets)
    shots = sorted({k[0] for k in view})
    lines = ['| shot | training budget (s) | best method on valid | its valid AP x 100 | '
             'runner-up |', '|---|---:|---|---:|---|']
    for shot in shots:
        previous = None
        for i, t in enumerate(budgets):
            ranked = sorted(((v[i], label) for (s, label), v in view.items()
                             if s == shot and v[i] is not None), reverse=True)
            if not ranked:
                continue
            leader = ranked[0][1]
            if leader == previous and i != len(budgets) - 1:
                continue  # a row where the leader changes, and the last budget
            previous = leader
            second = f'{ranked[1][1]} ({100 * ranked[1][0]:.1f})' if len(ranked) > 1 else '-'
            lines.append(f'| {shot}-shot | {t:.0f} | {leader} | {100 * ranked[0][0]:.1f} | '
                         f'{second} |')
    return '\n'.join(lines) + '\n'


def plot_anytime(costs: Sequence[RunCost], budgets: Sequence[float], path: str) -> str:
    """Mean anytime valid AP against training seconds, one panel per shot, atomically."""
    from .plots import label_panel, panels, save_figure
    view = anytime(costs, budgets)
    shots = sorted({k[0] for k in view})
    fig, axes = panels(len(shots), 4.2)
    for ax, shot in zip(axes, shots):
        for (s, label), values in view.items():
            if s != shot:
                continue
            xs = [t for t, v in zip(budgets, values) if v is not None]
            ys = [100 * v for v in values if v is not None]
            ax.plot(xs, ys, marker='.', label=label)
        ax.set_xscale('log')
        label_panel(ax, 'training seconds (log)', 'best valid AP so far (x 100, mean over runs)',
                    f'{shot}-shot: anytime valid AP', 6)
    return save_figure(fig, path)
