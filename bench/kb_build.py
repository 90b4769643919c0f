#!/usr/bin/env python3
"""Benchmark of a first index build: wall time, and where the CPU time went (writer, workers).

    python bench/kb_build.py [FOLDER] [--runs 3] [--baseline-src DIR] [--workdir DIR]

FOLDER is a folder of articles, such as the one `bench/kb.py --skip-quality --workdir W` leaves
in W/kbe-100000 (100,000 gen_kb.py articles). Each run is a new Python process that indexes the
folder into a new, empty database, as `threer kb index FOLDER` does on a first run, and reports
its wall time, the CPU time of the process itself (the writer: parsing hand-over and SQLite) and
of its worker processes (reading, parsing, analysing). With `--baseline-src` (the `src` folder of
another checkout), the runs alternate with that code, so both are measured under the same load.

On a machine whose speed varies from run to run, the wall time per CPU-second is the steadier
figure of how well the workers and the writer overlap: with two cores, 0.5 means both were busy
throughout. The load average is printed at the start and the end.
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
import json, resource, sys, time
from threer.kb.index import index_paths
from threer.store import Store

def cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime

with Store(sys.argv[2]) as store:
    store._kb_ready = True  # the bundled sample articles stay out: only the folder is timed
    wall, own, workers = time.perf_counter(), cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
    report = index_paths(store, [sys.argv[1]])
    wall = time.perf_counter() - wall
    own, workers = cpu(resource.RUSAGE_SELF) - own, cpu(resource.RUSAGE_CHILDREN) - workers
print(json.dumps({"wall": wall, "writer": own, "workers": workers, "added": report.added}))
"""


def run(src: Path, folder: Path, work: Path) -> dict[str, float]:
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(home / "threer.db")], env=env, check=True,
                         capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout)
    shutil.rmtree(home, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", help="the folder of articles to index")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, default=None, help="the src folder of the code to compare with")
    parser.add_argument("--workdir", type=Path, default=None, help="where the databases go (default: a temp dir)")
    args = parser.parse_args()
    if args.folder is None:
        print("bench/kb_build.py: skipped; give it a folder of articles, such as the one bench/kb.py "
              "--skip-quality --workdir W leaves in W/kbe-100000")
        return 0
    if not args.folder.is_dir():
        parser.error(f"no such folder: {args.folder}")
    if args.baseline_src and not (args.baseline_src / "threer").is_dir():
        parser.error(f"{args.baseline_src} holds no threer package; give the src folder of another checkout")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="threer-kb-build-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"index build of {args.folder}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    codes = {"this checkout": ROOT / "src"}
    if args.baseline_src:
        codes["baseline"] = args.baseline_src.resolve()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
    for _ in range(args.runs):
        for name, src in codes.items():
            result = run(src, args.folder, work)
            results[name].append(result)
            print(f"  {name:14s} {result['wall']:6.1f} s wall, writer {result['writer']:5.1f} + workers "
                  f"{result['workers']:5.1f} CPU-seconds, {result['added']} added", flush=True)
    medians: dict[str, tuple[float, float]] = {}
    for name, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        per_cpu = statistics.median(r["wall"] / (r["writer"] + r["workers"]) for r in runs)
        medians[name] = (wall, per_cpu)
        print(f"  {name} ({codes[name]}), median of {len(runs)} runs: {wall:.1f} s wall, "
              f"{per_cpu:.3f} s of wall time per CPU-second")
    if "baseline" in medians:
        (wall, per_cpu), (base_wall, base_per_cpu) = medians["this checkout"], medians["baseline"]
        print(f"  ratios against the baseline from this run: wall {wall / base_wall:.2f}x, "
              f"wall per CPU-second {per_cpu / base_per_cpu:.2f}x")
    print(f"  load average {os.getloadavg()[0]:.1f} at the end")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
