"""Tables fitted to the terminal: whole columns stay whole, the others wrap between words."""

from __future__ import annotations

from threer.cli.columns import Column, fitted_table
from threer.cli.output import console_for

COLUMNS = [Column("id", whole=True), Column("updated", drop=2, unwrapped=1), Column("customer", drop=4),
           Column("domain", whole=True), Column("status"), Column("recorded", drop=1), Column("technician", drop=3)]
ROWS = [
    ["20261201-3CFG", "2026-12-01 20:01", "Blomsterhuset Florist", "florist.example", "escalated", "9/9",
     "Anna Berg @ vm"],
    ["20261201-5FVJ", "2026-12-01 20:07", "Bakery Lund", "bakery-lund.example", "open", "3/9", "Sam Lind @ desk-7"],
]


def _render(width: int) -> str:
    console = console_for(stderr=False, width=width, force_terminal=False, color_system=None, record=True)
    with console.capture() as captured:
        console.print(fitted_table(width, COLUMNS, ROWS))
    return captured.get()


def test_words_wrap_whole_at_narrow_widths():
    data_words = {w for row in ROWS for cell in row for w in cell.split()}
    headers = {c.name for c in COLUMNS}
    for width in (60, 72, 80, 100):
        text = _render(width)
        assert max(len(line) for line in text.splitlines()) <= width
        shown = set(text.split())
        assert shown <= data_words | headers, (width, shown - data_words - headers, text)
        assert {"20261201-3CFG", "florist.example", "bakery-lund.example"} <= shown


def test_a_word_wider_than_any_room_still_folds_rather_than_widen_the_table():
    rows = [["20261201-3CFG", "2026-12-01 20:01", "x" * 70, "florist.example", "open", "1/9", "Anna"]]
    console = console_for(stderr=False, width=60, force_terminal=False, color_system=None)
    with console.capture() as captured:
        console.print(fitted_table(60, COLUMNS, rows))
    text = captured.get()
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "20261201-3CFG" in text and "florist.example" in text
