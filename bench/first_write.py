#!/usr/bin/env python3
"""Benchmark of the SQLite store's first write of a process: the check run before it.

    python bench/first_write.py [DB] [--runs 5] [--baseline-src DIR] [--workdir DIR]

DB is a threer database to measure on, such as the one `bench/kb.py --skip-quality --workdir W`
leaves in W/speed-home/threer.db (100,000 articles, about 900 MB). It is copied once into the
workdir and never written itself. Each run is a new Python process, as each `threer triage` is:
it opens the copy, saves a session and its first answer (what a triage does before the first answer
is on disk), then adds a past case to the KB index (what resolving does), and reports the wall and
CPU time of each part. With `--baseline-src` (the `src` folder of another checkout, e.g. main's),
the same runs alternate with that code, so both are measured under the same load. The page cache
is warm (the copy was just read); the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
from datetime import datetime, timezone
from threer.store import Store

now = datetime.now(timezone.utc)
parts = {}
wall, cpu = time.perf_counter(), time.process_time()
store = Store(sys.argv[1])
sid = store.create_session(now)
store.record_answer(sid, "intake.issue", {"status": "answered", "answer": {"description": "bench"}}, now)
parts["first_answer"] = (time.perf_counter() - wall, time.process_time() - cpu)
wall, cpu = time.perf_counter(), time.process_time()
store.put_case(sid, title="bench case", body="Resolution: bench", domain="contoso.test")
parts["past_case"] = (time.perf_counter() - wall, time.process_time() - cpu)
store.remove_case(sid)
store.close()
print(json.dumps(parts))
"""


def run(src: Path, db: Path) -> dict[str, tuple[float, float]]:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(db)], env=env, check=True, capture_output=True, text=True)
    return {k: tuple(v) for k, v in json.loads(out.stdout).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, nargs="?", help="the database to measure on (a copy is written)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-src", type=Path, default=None, help="the src folder of the code to compare with")
    parser.add_argument("--workdir", type=Path, default=None, help="where the copy goes (default: a temp dir)")
    args = parser.parse_args()
    if args.db is None or not args.db.is_file():
        print("bench/first_write.py: skipped; give it a large threer database, such as the one bench/kb.py "
              "--skip-quality --workdir W leaves in W/speed-home/threer.db")
        return 0
    work = args.workdir or Path(tempfile.mkdtemp(prefix="threer-first-write-"))
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "threer.db"
    shutil.copyfile(args.db, copy)
    size = copy.stat().st_size / 1e6
    print(f"first write on a copy of {args.db} ({size:.0f} MB), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    codes = {"this checkout": ROOT / "src"}
    if args.baseline_src:
        codes["baseline"] = args.baseline_src.resolve()
    results: dict[str, list[dict[str, tuple[float, float]]]] = {name: [] for name in codes}
    for _ in range(args.runs):
        for name, src in codes.items():
            results[name].append(run(src, copy))
    for name, runs in results.items():
        print(f"  {name} ({codes[name]}), median of {len(runs)} runs:")
        for part, label in (("first_answer", "open, session and first answer saved"),
                            ("past_case", "then a past case into the KB index")):
            wall = statistics.median(r[part][0] for r in runs)
            cpu = statistics.median(r[part][1] for r in runs)
            print(f"    {label:40s} {wall * 1000:8.1f} ms wall, {cpu * 1000:8.1f} ms CPU")
    print(f"  load average {os.getloadavg()[0]:.1f} at the end")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    else:
        copy.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
