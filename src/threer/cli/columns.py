"""Tables that fit the terminal without cutting what must stay whole (session ids, customer domains).

    table = fitted_table(console.width, [Column("id", whole=True), Column("customer", drop=1), ...], rows)

A `whole` column is never wrapped nor cut; the others wrap at spaces (a word longer than the column
folds). When even that does not fit, the columns with a `drop` are left out, `drop=1` first, then 2...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.table import Table
from threer.safe_rich import Text

from threer.safe_text import one_line

_GAP = 2  # rich's padding between two columns of a box-less table without edge padding


@dataclass(frozen=True)
class Column:
    name: str
    whole: bool = False  # never wrapped nor cut
    drop: int = 0  # 0: always shown; otherwise left out at narrow widths, the lowest first
    justify: str = "left"
    unwrapped: int = 0  # kept on one line when there is room, the highest first (after the whole columns)


def _cell(value: str | Text) -> Text:
    return value if isinstance(value, Text) else Text(one_line(value))


def _need(column: Column, cells: list[Text], whole: bool | None = None) -> int:
    """The narrowest the column can be: its longest cell if whole, else its longest word."""
    texts = [column.name] + [c.plain for c in cells]
    if column.whole if whole is None else whole:
        return max(cell_len(t) for t in texts)
    return max([1] + [cell_len(word) for t in texts for word in t.split()])


def fitted_columns(width: int, columns: Sequence[Column], rows: Sequence[Sequence[str | Text]]) -> list[int]:
    """The indices of the columns to show at `width`: all, unless the narrowest layout is too wide."""
    cells = [[_cell(row[i]) for row in rows] for i in range(len(columns))]
    need = [_need(col, cells[i]) for i, col in enumerate(columns)]
    kept = list(range(len(columns)))
    droppable = sorted((i for i, col in enumerate(columns) if col.drop), key=lambda i: columns[i].drop)
    while sum(need[i] for i in kept) + _GAP * (len(kept) - 1) > width and droppable:
        kept.remove(droppable.pop(0))
    return kept


def _one_line(width: int, columns: Sequence[Column], rows: Sequence[Sequence[str | Text]], kept: list[int]) -> set[int]:
    """The kept columns shown on one line: the whole ones, then `unwrapped` ones while the rest still fit."""
    cells = {i: [_cell(row[i]) for row in rows] for i in kept}
    single = {i for i in kept if columns[i].whole}
    need = {i: _need(columns[i], cells[i]) for i in kept}
    for i in sorted((i for i in kept if columns[i].unwrapped), key=lambda i: -columns[i].unwrapped):
        full = _need(columns[i], cells[i], whole=True)
        if sum(need.values()) - need[i] + full + _GAP * (len(kept) - 1) <= width:
            need[i] = full
            single.add(i)
    return single


def fitted_table(width: int, columns: Sequence[Column], rows: Sequence[Sequence[str | Text]]) -> Table:
    kept = fitted_columns(width, columns, rows)
    single = _one_line(width, columns, rows, kept)
    table = Table(box=None, header_style="bold", pad_edge=False)
    need = {i: _need(columns[i], [_cell(row[i]) for row in rows], whole=i in single) for i in kept}
    words_fit = sum(need.values()) + _GAP * (len(kept) - 1) <= width
    for i in kept:
        col = columns[i]
        if i in single:
            table.add_column(col.name, no_wrap=True, min_width=need[i], justify=col.justify)  # type: ignore[arg-type]
        else:  # as wide as its longest word where the row has room, so words wrap whole instead of folding
            table.add_column(col.name, overflow="fold", min_width=need[i] if words_fit else None,
                             justify=col.justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*(_cell(row[i]) for i in kept))
    return table
