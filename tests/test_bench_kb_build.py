"""bench/kb_build.py as someone comparing two checkouts runs it: on a small folder, against a baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "kb_build.py"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_a_build_is_timed_against_a_baseline(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    for n in range(3):
        (folder / f"a{n}.md").write_text(f"# Article {n}\n\nOutlook keeps asking for a password {n}.\n", encoding="utf-8")
    done = bench(str(folder), "--runs", "1", "--baseline-src", str(ROOT / "src"), "--workdir", str(tmp_path / "w"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum("3 added" in line for line in lines) == 2  # one run of each code
    assert any(line.strip().startswith("ratios against the baseline from this run: wall ") for line in lines)
    assert not (tmp_path / "w" / "home").exists()  # each run's database is removed


def test_no_folder_is_a_skip_and_a_wrong_one_an_error(tmp_path):
    skipped = bench()
    assert skipped.returncode == 0 and "skipped" in skipped.stdout
    missing = bench(str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    not_src = bench(str(tmp_path), "--baseline-src", str(tmp_path))
    assert not_src.returncode == 2 and "holds no threer package" in not_src.stderr
