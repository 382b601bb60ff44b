"""Evaluation in mmdet's sense: the metric of the ODinW-style datasets. The result tables
that were here live in ``mmdet_sdpt.leaderboard`` (re-exported below for one release)."""
from .odinw_metric import ODinWCocoMetric, odinw_ann_file
from ..leaderboard import (Board, BoardRow, Run, ShotTable, find_runs,  # noqa: F401
                           leaderboard, read_run, summarize, to_csv, to_markdown,
                           write_outputs)
from ..leaderboard import cost_views, tradeoff  # noqa: F401

__all__ = ['ODinWCocoMetric', 'odinw_ann_file']
