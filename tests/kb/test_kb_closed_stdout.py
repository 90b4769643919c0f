"""`threer kb ... | head -1`: a reader that goes away early ends threer quietly, never with a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest


@pytest.fixture
def kb_env(invoke, threer_env, tmp_path) -> dict[str, str]:
    folder = tmp_path / "articles"
    folder.mkdir()
    for n in range(60):  # enough results that the output is more than one write
        (folder / f"pw{n}.md").write_text(f"# Password prompt {n}\n\nOutlook asks for the password again ({n}).\n",
                                          encoding="utf-8")
    assert invoke("kb", "index", str(folder)).exit_code == 0
    return {**os.environ, "THREER_HOME": str(threer_env.home), "THREER_CONFIG": str(threer_env.config_path),
            "NO_COLOR": "1"}


@pytest.mark.parametrize(
    "args",
    [
        ["kb", "search", "password", "--limit", "200"],
        ["kb", "search", "password", "--limit", "200", "--json"],
        ["kb", "show", "kb-0001-outlook-password-prompt"],
        ["kb", "index", "{folder}", "--json"],
    ],
)
def test_stdout_closed_before_the_first_line(kb_env, tmp_path, args):
    argv = [a.replace("{folder}", str(tmp_path / "articles")) for a in args]
    proc = subprocess.Popen([sys.executable, "-m", "threer", *argv], env=kb_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before threer has started: every write meets a closed pipe
    _, stderr = proc.communicate(timeout=60)
    assert stderr.decode() == "", stderr.decode()
    assert proc.returncode in (0, -signal.SIGPIPE)


def test_stdout_closed_after_the_first_line(kb_env):
    proc = subprocess.Popen([sys.executable, "-m", "threer", "kb", "search", "password", "--limit", "200"],
                            env=kb_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    _, stderr = proc.communicate(timeout=60)
    assert first.startswith(b" 1. ") and stderr.decode() == ""
    assert proc.returncode in (0, -signal.SIGPIPE)
