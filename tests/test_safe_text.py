"""The sanitiser: every control, bidi and invisible character shown visibly; JSON kept exact."""

from __future__ import annotations

import json
import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from threer.cli.output import SafeConsole, json_text, safe_text
from threer.safe_text import UNSAFE, clipped, display_path, is_safe, json_visible, one_line, visible

UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def test_every_control_format_and_separator_character_is_covered():
    # the hard-coded ranges against this Python's Unicode database: a newer Unicode adding one fails here
    missed = [f"U+{c:04X}" for c in range(sys.maxunicode + 1)
              if unicodedata.category(chr(c)) in UNSAFE_CATEGORIES and chr(c) not in "\t\n" and not UNSAFE.match(chr(c))]
    assert missed == []


def test_what_each_kind_looks_like():
    assert visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert visible("\x07\x7f\x9b") == "\\x07\\x7f\\x9b"
    assert visible("left \u202eright\u2066") == "left <U+202E>right<U+2066>"
    assert visible("zero\u200bwidth\ufeff") == "zero<U+200B>width<U+FEFF>"
    assert visible("two\nlines\tand a tab") == "two\nlines\tand a tab"
    assert visible("crlf\r\nline") == "crlf\nline" and visible("over\rwrite") == "over\\x0dwrite"
    assert visible("tag \U000e0041") == "tag <U+E0041>"
    assert one_line("a\nb\tc\x1b") == "a\\nb\\tc\\x1b"
    assert visible("ordinary text, ünïcödé, 日本語, emoji 🙂") == "ordinary text, ünïcödé, 日本語, emoji 🙂"


def test_file_names_that_are_not_utf8_show_their_bytes():
    assert display_path(b"caf\xe9.md") == "caf\\xe9.md"
    assert display_path("caf\udce9.md") == "caf\\xe9.md"
    assert display_path("new\nline\x1b.md") == "new\\nline\\x1b.md"


def test_a_long_value_is_clipped():
    assert clipped("x" * 100_000, 20) == "x" * 19 + "…"
    assert clipped("short") == "short"


def test_rich_text_keeps_its_styles_in_place():
    from rich.text import Text

    text = Text("ab\x1bcd")
    text.stylize("bold", 3, 5)  # "cd"
    safe = safe_text(text)
    assert safe.plain == "ab\\x1bcd"
    assert [(s.start, s.end) for s in safe.spans] == [(6, 8)]


def test_console_output_is_safe_in_tables_and_markup(capsys):
    from rich.table import Table

    console = SafeConsole(width=60, no_color=True)
    table = Table()
    table.add_column("value")
    table.add_row("x\x1b[2Jy")
    console.print(table)
    console.print("[bold]kept[/] \x1b]0;pwn\x07")
    out = capsys.readouterr().out
    assert is_safe(out.replace("\n", "")) and "x\\x1b[2Jy" in out and "kept \\x1b]0;pwn\\x07" in out


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_visible_is_always_safe(text):
    assert is_safe(visible(text))
    assert is_safe(one_line(text)) and "\n" not in one_line(text)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
                    max_leaves=12))
def test_json_stays_exact_and_safe(document):
    text = json_text(document)
    assert is_safe(text)
    assert json.loads(text) == document
    assert json_visible(text) == text


def test_emoji_codes_in_outside_text_print_as_typed(invoke, threer_env) -> None:
    # rich reads `:warning:` as an emoji; a customer's words and error text are shown as they were typed
    from support_sessions import ESCALATION, make_session

    from threer.store import Store

    console = SafeConsole(width=80, no_color=True, record=True)
    console.print("Error [/]: :warning: 0x800CCC0E :cross_mark:", markup=False)
    assert console.export_text().strip() == "Error [/]: :warning: 0x800CCC0E :cross_mark:"
    answers = {**ESCALATION, "intake.customer": {"name": "Contoso :cross_mark: Ltd", "domain": "contoso.com"},
               "intake.errors": "Error: :warning: 0x800CCC0E"}
    session_id = make_session(Store(threer_env.db_path), answers)
    shown = invoke("sessions", "show", session_id)
    assert shown.exit_code == 0, shown.stderr
    assert "Contoso :cross_mark: Ltd" in shown.stdout and ":warning: 0x800CCC0E" in shown.stdout
    assert "\u274c" not in shown.stdout and "\u26a0" not in shown.stdout
