# Moved to mmdet_sdpt/leaderboard/ (runs, stats, report, plots, write): this module keeps the
# old import path working for one release (notes and user scripts name it).
from ..leaderboard.plots import plot, plot_boards, save_figure  # noqa: F401
from ..leaderboard.report import board_markdown, to_csv, to_markdown  # noqa: F401
from ..leaderboard.runs import (Run, find_runs, index_runs, newest_result,  # noqa: F401
                                read_run, shot_label)
from ..leaderboard.stats import (Board, BoardRow, PairedDifference, Row,  # noqa: F401
                                 ShotTable, harmonic_mean, leaderboard, paired_difference,
                                 summarize)
from ..leaderboard.write import write_outputs  # noqa: F401
from ..constants import RETENTION_DIR, ZERO_SHOT  # noqa: F401
