"""An article opened from the triage on a terminal pages the article readably: `less` gets -R, or the page has no styles."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pexpect
import pytest
from support_pty import ANSI, EXPECT_TIMEOUT, pty_env

from threer.cli.kb_viewer import StyledPager


READER = """
import sys
from threer.cli.kb_viewer import document_reader
from threer.cli.output import console_for
from threer.kb.search import prepare_kb
from threer.store import Store

with Store(sys.argv[1]) as store:
    prepare_kb(store)
    document_reader(store, console_for(stderr=False))("kb-0001-outlook-password-prompt")
print("back at the prompt")
"""


@pytest.mark.skipif(shutil.which("less") is None, reason="needs less (Debian's default pager)")
def test_an_article_read_from_the_triage_in_less_shows_no_raw_colour_codes(tmp_path: Path) -> None:
    """What the triage's "Read one of these in full first…" opens, on a real terminal, LESS and PAGER unset."""
    env = pty_env(tmp_path)
    for name in ("NO_COLOR", "LESS", "PAGER", "MANPAGER"):
        env.pop(name, None)
    env.update(TERM="xterm-256color", LINES="20")
    child = pexpect.spawn(sys.executable, ["-c", READER, str(tmp_path / "threer.db")], env=env,
                          dimensions=(20, 120), encoding="utf-8", codec_errors="replace", timeout=EXPECT_TIMEOUT)
    child.expect("kb-0001-outlook-password-prompt")
    child.expect(pexpect.TIMEOUT, timeout=1.5)  # the first screen of the page drawn in full
    seen = child.before or ""
    child.send("q")
    child.expect("back at the prompt")
    child.expect(pexpect.EOF)
    assert "Credential Manager" in seen or "Outlook" in seen
    assert "\x1b[" in seen  # the styles reached the terminal as codes it acts on
    # less without -R shows each escape as the text "ESC" (in reverse video) then "[48;5;235m" (the defect)
    assert "ESC[" not in ANSI.sub("", seen)


def test_the_users_own_pager_gets_the_page_without_styles() -> None:
    assert StyledPager({"PATH": "/usr/bin:/bin", "PAGER": "more"}).shows_styles is False
    assert StyledPager({"PATH": "/usr/bin:/bin", "LESS": "-X"}).shows_styles is False
    assert StyledPager({"PATH": str(Path("/nonexistent"))}).shows_styles is False  # no less: no styles


@pytest.mark.skipif(shutil.which("less") is None, reason="needs less")
def test_less_is_told_minus_r_for_its_own_process_only() -> None:
    environ = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    pager = StyledPager(environ)
    argv, env = pager.command()
    assert pager.shows_styles and Path(argv[0]).name == "less" and env["LESS"] == "-R"
    assert "LESS" not in environ  # the caller's environment is not changed
