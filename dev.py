#!/usr/bin/env python3
"""Set-up and tasks for threer, needing nothing but Python 3.11 and pip.

    python3 dev.py triage   # make .venv, install threer, start `threer triage`
    python3 dev.py test     # make .venv, install threer with its test extra, lint (ruff), types (mypy), the suite
    python3 dev.py bench    # run the benchmarks in bench/

Each task byte-compiles threer's own modules first (only those changed), as a non-editable install would.

Extra arguments go to threer (triage) or pytest (test).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_venv(extra: str) -> None:
    """Create .venv and install threer into it; skip the install when nothing changed."""
    if sys.version_info < (3, 11):
        sys.exit("threer needs Python 3.11 or newer; run this with python3.11.")
    if not PY.exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extra or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == digest):
        target = f".[{extra}]" if extra else "."
        print(f"Installing threer{f' [{extra}]' if extra else ''} into .venv ...", flush=True)
        subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target],
                       cwd=ROOT, check=True)
        stamp.write_text(digest)
    byte_compile()


def byte_compile() -> None:
    """Write the .pyc files of threer's own modules (only those changed since the last time).

    The install is editable, so pip compiles none of them; where PYTHONDONTWRITEBYTECODE is set, Python
    would then compile every module again from source on each `threer` run (0.1 s of CPU in every short
    `check-dns --json` run, measured on a 2-core machine: 0.43 s against 0.34 s).
    """
    # not checked: a module that does not compile is reported by ruff and the tests, in their words
    subprocess.run([str(PY), "-m", "compileall", "-q", "-j", "0", str(ROOT / "src" / "threer")], cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _run_interactive(command: list[str]) -> int:
    """Run `command` and return its exit code, leaving Ctrl-C to it: the terminal sends SIGINT to both
    processes, and the triage answers it itself (its answers are saved; it says how to resume), so this
    one waits on instead of ending in a traceback. A handler, not SIG_IGN: an ignored signal would stay
    ignored in the command."""
    import signal

    previous = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        return subprocess.call(command)
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    task, rest = argv[0], argv[1:]
    if task == "triage":
        ensure_venv("")
        return _run_interactive([str(BIN / "threer"), "triage", *rest])
    if task == "test":
        ensure_venv("test")
        # lint and types first: quick, and a failure there is cheaper to see than a test run
        for check in (["-m", "ruff", "check", "--quiet", "."], ["-m", "mypy"]):
            code = subprocess.call([str(PY), *check], cwd=ROOT)
            if code:
                print(f"dev.py test: `python {' '.join(check[1:])}` failed; fix what it says above.", file=sys.stderr)
                return code
        workers = ["-n", "auto"] if not any(a.startswith("-n") for a in rest) else []
        return subprocess.call([str(PY), "-m", "pytest", *workers, *rest], cwd=ROOT)
    if task == "bench":
        ensure_venv("test")
        code = 0
        for script in sorted((ROOT / "bench").glob("*.py")):
            code |= subprocess.call([str(PY), str(script), *rest], cwd=ROOT)
        return code
    print(f"Unknown task {task!r}.\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
