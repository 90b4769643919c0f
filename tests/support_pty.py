"""Driving `threer` in a real pseudo-terminal (pexpect): the spawn helper, key constants and a few
steps that read like what a technician does at the keyboard.

    child = spawn_threer(["triage", "--dns-only"], env)
    answer(child, "Customer name", "Contoso Ltd")
    choose(child, "Can you replicate the error?", 2)   # the third choice
    child.send(CTRL_C)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pexpect

# what the keys send on an xterm
DOWN = "\x1b[B"
UP = "\x1b[A"
ENTER = "\r"
SPACE = " "
ESC_ENTER = "\x1b\r"  # finishes a multiline field
CTRL_C = "\x03"

EXPECT_TIMEOUT = 10  # seconds per expect: generous for a loaded CI machine
ROWS, COLUMNS = 40, 120

RESUME_LINE = re.compile(r"Resume with: (?:python -m )?\S*threer triage --resume (\d{8}-[0-9A-Z]{4})")
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def pty_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a spawned threer: its own data home and config under tmp_path, no colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THREER_", "PYTEST_", "COV_"))}
    env.update(
        THREER_HOME=str(tmp_path / "home"),
        THREER_CONFIG=str(tmp_path / "config" / "config.toml"),
        NO_COLOR="1",
        TERM="xterm",
        COLUMNS=str(COLUMNS),
        LINES=str(ROWS),
        # pexpect does not answer the cursor-position query; without this prompt_toolkit waits, then warns
        PROMPT_TOOLKIT_NO_CPR="1",
    )
    env.update(extra)
    return env


def spawn_threer(args: list[str], env: dict[str, str], *, log: Path | None = None,
                 size: tuple[int, int] = (ROWS, COLUMNS)) -> pexpect.spawn:
    """Start `python -m threer ARGS` in a pseudo-terminal of `size` (rows, columns), 40x120 unless told.

    `log` keeps what the terminal showed (appended), for reading after a failure.
    """
    child = pexpect.spawn(sys.executable, ["-m", "threer", *args], env=env, dimensions=size,
                          encoding="utf-8", codec_errors="replace", timeout=EXPECT_TIMEOUT)
    child.delaybeforesend = 0.01  # keys are only sent after their prompt is on screen (see answer/choose)
    if log is not None:
        child.logfile_read = log.open("a", encoding="utf-8")
    return child


def wait_exit(child: pexpect.spawn) -> int | None:
    """Read to the end and return the exit status (None when a signal ended it)."""
    child.expect(pexpect.EOF)
    child.close()
    if child.logfile_read is not None:
        child.logfile_read.close()
    return child.exitstatus


def screen_text(text: str) -> str:
    """Terminal output without escape sequences or carriage returns, for reading in assertions."""
    return ANSI.sub("", text).replace("\r", "")


def prompt_pattern(message: str) -> re.Pattern[str]:
    """A questionary prompt on screen: its "?" mark, styling, then a message containing `message`.

    The step header prints the step's question too, but without the "?": matching the mark means the
    prompt is really running (the terminal is in raw mode), so keys sent now reach it.
    """
    return re.compile(r"\?(?:\x1b\[[0-9;]*m)*\s[^\r\n?]*" + re.escape(message))


def wait_prompt(child: pexpect.spawn, message: str) -> None:
    child.expect(prompt_pattern(message))


def answer(child: pexpect.spawn, message: str, text: str) -> None:
    """Wait for a text prompt, type the text and press Enter."""
    wait_prompt(child, message)
    child.send(text + ENTER)


PROMPT_STARTED = "\x1b[?2004h"  # prompt_toolkit turns on bracketed paste in its first draw, after raw mode


def answer_multiline(child: pexpect.spawn, heading: str, text: str) -> None:
    """Wait for the step heading, then for the next prompt to start; type the text, finish with Esc, Enter.

    Waits for the prompt's start rather than its message: a multiline prompt whose first line is wider
    than the terminal draws as blank lines (see test_triage_pty.py::test_error_text_prompt_is_visible).
    """
    child.expect_exact(heading)
    child.expect_exact(PROMPT_STARTED)
    child.send(text + ESC_ENTER)


def choose(child: pexpect.spawn, message: str, index: int) -> None:
    """Wait for a select, move down `index` times from the first choice and press Enter."""
    wait_prompt(child, message)
    child.send(DOWN * index + ENTER)


def tick(child: pexpect.spawn, message: str, indexes: list[int]) -> None:
    """Wait for a checkbox list, tick the choices at `indexes` with Space and press Enter."""
    wait_prompt(child, message)
    keys, at = "", 0
    for index in sorted(indexes):
        keys += DOWN * (index - at) + SPACE
        at = index
    child.send(keys + ENTER)


def run_threer(args: list[str], env: dict[str, str], *, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run threer without a terminal (pipes), as a script would."""
    return subprocess.run([sys.executable, "-m", "threer", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def session_json(session_id: str, env: dict[str, str]) -> dict[str, Any]:
    """`threer sessions show ID --json`, parsed."""
    done = run_threer(["sessions", "show", session_id, "--json"], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
