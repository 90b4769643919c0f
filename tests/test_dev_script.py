"""dev.py's triage task leaves Ctrl-C to the triage: the terminal sends it to both processes."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_dev():
    spec = importlib.util.spec_from_file_location("threer_dev_script", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHILD = """
import os, signal, sys, time
# Ctrl-C reaches the command as usual (a handler in dev.py is reset by exec; an ignored signal would not be)
assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, signal.getsignal(signal.SIGINT)
os.kill(os.getppid(), signal.SIGINT)  # the terminal's Ctrl-C reaches dev.py too
time.sleep(0.5)
sys.exit(7)
"""


def test_ctrl_c_while_the_triage_runs_ends_in_the_triage_exit_code_not_a_traceback():
    dev = load_dev()
    before = signal.getsignal(signal.SIGINT)
    assert dev._run_interactive([sys.executable, "-c", CHILD]) == 7
    assert signal.getsignal(signal.SIGINT) is before


def test_dev_py_help_runs():
    done = subprocess.run([sys.executable, str(ROOT / "dev.py"), "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "dev.py triage" in done.stdout
