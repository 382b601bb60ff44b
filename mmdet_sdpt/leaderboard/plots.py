"""A leaderboard as figures: AP per shot and retention (boards), AP per dataset (tables)."""
from typing import Sequence

from ..utils.atomic_io import atomic_write
from .report import _pct
from .runs import shot_label
from .stats import Board, ShotTable


def panels(count: int, height: float):
    """(figure, axes): ``count`` panels side by side (at least one), 6 inches wide each."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, max(1, count), squeeze=False,
                             figsize=(6.0 * max(1, count), height))
    return fig, axes[0]


def label_panel(ax, xlabel: str, ylabel: str, title: str, legend_size: int) -> None:
    """Axis labels, a title, a light grid and the legend of one panel."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)


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
    # tab10 repeats after 10 series: tab20 gives up to 20 their own colour
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
    # below the panels, not over the lines (a board may have many series)
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
