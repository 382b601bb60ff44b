"""A leaderboard's three files (markdown, CSV, figure), each written atomically."""
import re
from typing import Dict, Optional, Sequence

from ..utils.atomic_io import atomic_write
from .plots import plot, plot_boards
from .report import _show_boards, to_csv, to_markdown
from .stats import Board, ShotTable


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
