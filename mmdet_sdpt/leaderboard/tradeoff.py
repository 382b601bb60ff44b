"""Target AP against base AP kept: the Pareto view of a leaderboard, and the best method
under a retention floor.

Per shot, every tuned method is a point (base AP kept, target AP), both means over datasets
and seeds (``stats.leaderboard``'s rows). A method is on the Pareto front when no other
method keeps at least as much and reaches at least as much AP, one of them strictly more.
Under a floor (e.g. 90% of the zero-shot base AP kept), the best method is the one with the
highest target AP among those that keep at least the floor.
"""
from typing import List, Optional, Sequence, Tuple

from ..constants import ZERO_SHOT
from .stats import Board, BoardRow, comparable_labels

DEFAULT_FLOOR = 0.9


def points(board: Board) -> List[Tuple[str, float, float]]:
    """(label, kept, target AP) of the board's tuned rows that have both and are comparable
    (``stats.comparable_labels``: averaged over the same datasets)."""
    out, comparable = [], comparable_labels(board)
    for row in board.rows:
        if row.label.endswith(ZERO_SHOT) or row.retained is None or row.label not in comparable:
            continue
        if row.target.mean is None or row.retained.mean is None:
            continue
        out.append((row.label, row.retained.mean, row.target.mean))
    return out


def pareto_front(board: Board) -> List[str]:
    """The undominated labels, by kept ascending."""
    pts = points(board)
    front = [(k, t, lab) for lab, k, t in pts
             if not any(k2 >= k and t2 >= t and (k2 > k or t2 > t) for _, k2, t2 in pts)]
    return [lab for _, _, lab in sorted(front)]


def best_under_floor(board: Board, floor: float = DEFAULT_FLOOR) -> Optional[BoardRow]:
    """The highest-AP tuned row that keeps at least ``floor`` of the base AP, or None."""
    comparable = comparable_labels(board)
    eligible = [r for r in board.rows if not r.label.endswith(ZERO_SHOT) and r.retained
                and r.label in comparable and r.retained.mean is not None
                and r.retained.mean >= floor]
    return max(eligible, key=lambda r: r.target.mean, default=None)


def tradeoff_markdown(boards: Sequence[Board], floor: float = DEFAULT_FLOOR) -> str:
    lines = []
    for board in boards:
        front = pareto_front(board)
        if not front:
            continue
        best = best_under_floor(board, floor)
        comparable = comparable_labels(board)
        partial = [r.label for r in board.rows if r.label not in comparable
                   and r.retained and not r.label.endswith(ZERO_SHOT)]
        lines.append(f'- {board.label}: Pareto front (base AP kept ascending): '
                     + ', '.join(front) + '; best keeping >= '
                     f'{100 * floor:.0f}% of the base AP: '
                     + (f'**{best.label}** ({100 * best.target.mean:.1f} AP, '
                        f'{100 * best.retained.mean:.1f}% kept)' if best else 'none')
                     + (f' (left out until all their datasets are in: {", ".join(partial)})'
                        if partial else ''))
    return '\n'.join(lines) + ('\n' if lines else '')


def plot_pareto(boards: Sequence[Board], path: str, floor: float = DEFAULT_FLOOR) -> str:
    """Target AP vs base AP kept per shot, the front joined, the floor drawn; atomically."""
    from .plots import label_panel, panels, save_figure
    shown = [b for b in boards if points(b)]
    fig, axes = panels(len(shown), 4.6)
    for ax, board in zip(axes, shown):
        pts = {lab: (k, t) for lab, k, t in points(board)}
        for lab, (k, t) in pts.items():
            ax.scatter(100 * k, 100 * t, s=18)
            ax.annotate(lab, (100 * k, 100 * t), fontsize=6, xytext=(3, 2),
                        textcoords='offset points')
        front = pareto_front(board)
        ax.plot([100 * pts[f][0] for f in front], [100 * pts[f][1] for f in front],
                color='tab:red', lw=1, label='Pareto front')
        ax.axvline(100 * floor, color='gray', ls='--', lw=1,
                   label=f'{100 * floor:.0f}% kept')
        label_panel(ax, 'base AP kept (%, mean over datasets and seeds)',
                    'target AP (x 100, mean)', f'{board.label}: target AP vs base AP kept', 7)
    return save_figure(fig, path)
