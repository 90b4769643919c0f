"""bench/short_runs.py as someone comparing two checkouts runs it: one round, against a baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "short_runs.py"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_each_command_is_timed_against_the_baseline() -> None:
    done = bench("--rounds", "1", "--baseline-src", str(ROOT / "src"))
    assert done.returncode == 0, done.stderr
    timed = [line for line in done.stdout.splitlines() if line.startswith("threer ")]
    assert len(timed) == 5
    for line in timed:
        assert "baseline " in line and "this checkout " in line and " ratio " in line, line
        assert float(line.rsplit(" ratio ", 1)[1]) > 0


def test_a_baseline_that_is_no_checkout_is_refused(tmp_path: Path) -> None:
    done = bench("--baseline-src", str(tmp_path))
    assert done.returncode == 2 and "holds no threer package" in done.stderr
    rounds = bench("--rounds", "0")
    assert rounds.returncode == 2 and "--rounds must be 1 or more" in rounds.stderr
