"""The leaderboard of a benchmark suite, one job per module:

- ``runs``: which work dirs were tested, on which dataset, shot and seed (``find_runs``);
- ``stats``: per-dataset tables over seeds, boards (target AP, base AP kept, harmonic mean),
  paired differences between methods;
- ``report``: the markdown block and the CSV; ``plots``: the figures; ``write``: the three
  files of a leaderboard, atomically;
- ``cost_views``: what the runs cost and what each method gives at a budget (anytime);
- ``tradeoff``: target AP against base AP kept (Pareto front, best under a retention floor).

``tools/collect_results.py`` and ``benchmarks/leaderboard.py`` are its command lines.
"""
from .runs import Run, find_runs, newest_result, read_run
from .stats import (Board, BoardRow, PairedDifference, ShotTable, leaderboard,
                    paired_difference, summarize)
from .report import board_markdown, to_csv, to_markdown
from .write import write_outputs

__all__ = ['Run', 'find_runs', 'newest_result', 'read_run', 'Board', 'BoardRow',
           'PairedDifference', 'ShotTable', 'leaderboard', 'paired_difference', 'summarize',
           'board_markdown', 'to_csv', 'to_markdown', 'write_outputs']
