from .odinw_metric import ODinWCocoMetric, odinw_ann_file
from .results import (Board, BoardRow, Run, ShotTable, find_runs, leaderboard, read_run,
                      summarize, to_csv, to_markdown, write_outputs)

__all__ = ['ODinWCocoMetric', 'odinw_ann_file', 'Run', 'ShotTable', 'Board', 'BoardRow',
           'find_runs', 'read_run', 'summarize', 'leaderboard', 'to_csv', 'to_markdown',
           'write_outputs']
