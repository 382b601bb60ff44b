from .odinw_metric import ODinWCocoMetric, odinw_ann_file
from .results import (Run, ShotTable, find_runs, read_run, summarize, to_csv, to_markdown,
                      write_outputs)

__all__ = ['ODinWCocoMetric', 'odinw_ann_file', 'Run', 'ShotTable', 'find_runs', 'read_run',
           'summarize', 'to_csv', 'to_markdown', 'write_outputs']
