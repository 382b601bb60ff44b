"""A leaderboard as text: the markdown block and the CSV."""
import csv
import io
from typing import List, Optional, Sequence

from ..constants import ZERO_SHOT
from .stats import Board, ShotTable, comparable_labels


def board_markdown(boards: Sequence[Board], metric: str) -> str:
    lines = []
    for board in boards:
        kept_columns = board.has_retention
        comparable = comparable_labels(board)
        lines += [f'### Leaderboard, {board.label} ({metric} x 100; mean ± std over seeds)',
                  '',
                  '| method | ' + ' | '.join(board.datasets) + ' | average |' +
                  (' base AP kept (%) | harmonic mean |' if kept_columns else ''),
                  '|---|' + '---:|' * (len(board.datasets) + (3 if kept_columns else 1))]
        for row in board.rows:
            per = {r.dataset: r for r in row.target.rows}
            cells = [_pct(per[d].mean) if d in per else '-' for d in board.datasets]
            kept = row.retained
            # an average over other datasets than the rest's is not comparable: said in it
            part = ('' if row.label in comparable else
                    f' ({len(row.target.averaged)}/{len(board.datasets)} datasets)')
            lines.append(
                f'| {row.label} | ' + ' | '.join(cells) +
                f' | **{_pct(row.target.mean, row.target.std)}**{part} |' +
                (f' {_pct(kept.mean, kept.std) if kept else "-"} | '
                 f'{_pct(row.hm, row.hm_std)} |' if kept_columns else ''))
        notes = {r.target.average_note for r in board.rows}
        lines += ['', 'average over ' + '; '.join(sorted(notes)), '']
        if not kept_columns:
            lines += [board.why_no_retention(), '']
    return '\n'.join(lines)


def _pct(value: Optional[float], std: Optional[float] = None) -> str:
    if value is None:
        return '-'
    text = f'{100 * value:.1f}'
    return text + (f' ± {100 * std:.1f}' if std is not None else '')


def _seeds(tables: Sequence[ShotTable]) -> List[Optional[int]]:
    seeds = {s for t in tables for r in t.rows for s in r.values}
    return sorted(seeds, key=lambda s: (s is None, s))


def _show_boards(boards: Optional[Sequence[Board]]) -> bool:
    """A leaderboard says more than the tables when it compares methods or retention."""
    return bool(boards) and any(len(b.rows) > 1 or any(r.retained for r in b.rows)
                                for b in boards)


def to_markdown(tables: Sequence[ShotTable], metric: str,
                boards: Optional[Sequence[Board]] = None) -> str:
    """AP in percent (x 100), one decimal: the leaderboards (where there are several
    methods or retention tests), then per method and shot: per-seed columns, mean ± std,
    the average."""
    lines = [board_markdown(boards, metric)] if _show_boards(boards) else []
    for table in tables:
        seeds = sorted({s for r in table.rows for s in r.values}, key=lambda s: (s is None, s))
        seed_cols = [f'seed {s}' for s in seeds if s is not None]
        lines += [f'### {metric}, {table.label}', '',
                  '| dataset | ' + ' | '.join(seed_cols + ['mean ± std']) + ' |',
                  '|---|' + '---:|' * (len(seed_cols) + 1)]
        for row in table.rows:
            cells = [_pct(row.values.get(s)) for s in seeds if s is not None]
            name = row.dataset if row.in_suite else f'{row.dataset} (not in {table.suite})'
            lines.append(f'| {name} | ' + ' | '.join(cells + [_pct(row.mean, row.std)]) + ' |')
        avg = _pct(table.mean, table.std)
        lines.append(f'| **average** ({table.average_note}) | ' +
                     ' | '.join(['' for s in seeds if s is not None] + [f'**{avg}**']) + ' |')
        if table.std_note:
            lines.append(f'\n{table.std_note}')
        lines.append('')
    return '\n'.join(lines)


def to_csv(tables: Sequence[ShotTable], metric: str,
           boards: Optional[Sequence[Board]] = None) -> str:
    """Values as the runs wrote them (fractions, full precision): per method and shot, per
    dataset and the average, of ``quantity`` ap (the target test), retained (tuned /
    zero-shot base-domain AP) and hm (harmonic mean of average ap and retained)."""
    retained = [r.retained for b in boards or () for r in b.rows if r.retained is not None]
    retained = list({(t.method, t.shot): t for t in retained}.values())
    seeds = [s for s in _seeds(list(tables) + retained) if s is not None]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(['method', 'quantity', 'metric', 'shot', 'dataset', 'in_average',
                     'num_seeds', 'mean', 'std'] + [f'seed_{s}' for s in seeds] + ['note'])
    fmt = lambda v: '' if v is None else repr(float(v))  # noqa: E731
    shot = lambda t: ZERO_SHOT if t.shot is None else t.shot  # noqa: E731
    for quantity, group in (('ap', tables), ('retained', retained)):
        for table in group:
            head = [table.method, quantity, metric, shot(table)]
            for row in table.rows:
                writer.writerow(head + [row.dataset, int(row.in_suite), len(row.values),
                                        fmt(row.mean), fmt(row.std)] +
                                [fmt(row.values.get(s)) for s in seeds] + [''])
            writer.writerow(head + ['average', '', len(table.averaged), fmt(table.mean),
                                    fmt(table.std)] + [''] * len(seeds) +
                            [table.average_note +
                             (f'; {table.std_note}' if table.std_note else '')])
    done = set()
    for board in boards or ():
        for row in board.rows:
            if row.hm is None or (row.label, row.target.shot) in done:
                continue
            done.add((row.label, row.target.shot))
            writer.writerow([row.label, 'hm', metric, shot(row.target), 'average', '',
                             len(row.target.averaged), fmt(row.hm), fmt(row.hm_std)] +
                            [''] * len(seeds) + ['harmonic mean of average ap and retained'])
    return buf.getvalue()
