#!/usr/bin/env python3
"""Benchmark of short runs: how long a technician or a script waits for one small command.

    python bench/short_runs.py [--rounds 30] [--baseline-src DIR]

Each command below runs as a new process, end to end (start-up, imports, the work, the output to
/dev/null), on the bundled sample knowledge base in a data home of its own. With `--baseline-src`
(the `src` folder of another checkout, e.g. from `git archive REV src | tar -x -C DIR`), the rounds
alternate between that code and this checkout's, each with its own data home, so both are
measured under the same load; the ratio is this checkout's median over the baseline's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = [
    ["kb", "search", "outlook", "keeps", "asking", "for", "password", "--json"],
    ["kb", "search", "outlook", "keeps", "asking", "for", "password"],
    ["check-dns", "--help"],
    ["sessions", "list"],
    ["--version"],
]


def environment(src: Path, home: Path) -> dict[str, str]:
    # compiled modules of both codes kept alike, in a folder of the run's own (written at the warm-up run),
    # so neither is timed compiling its sources
    env = {**os.environ, "PYTHONPATH": str(src), "THREER_HOME": str(home), "THREER_CONFIG": str(home / "c.toml"),
           "NO_COLOR": "1", "PYTHONPYCACHEPREFIX": str(home / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def once(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "threer", *command], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"threer {' '.join(command)} failed (exit {done.returncode}): {done.stderr.strip()}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="runs of each command for each code (default 30)")
    parser.add_argument("--baseline-src", type=Path, help="the src folder of another checkout, run alternately")
    options = parser.parse_args()
    if options.rounds < 1:
        parser.error("--rounds must be 1 or more")
    codes = {"this checkout": ROOT / "src"}
    if options.baseline_src is not None:
        if not (options.baseline_src / "threer" / "__init__.py").is_file():
            parser.error(f"--baseline-src {options.baseline_src} holds no threer package (give a checkout's src folder)")
        codes = {"baseline": options.baseline_src.resolve(), **codes}
    with tempfile.TemporaryDirectory() as work:
        envs = {name: environment(src, Path(work) / f"home{at}") for at, (name, src) in enumerate(codes.items())}
        for env in envs.values():  # the sample KB indexed, and every command run once, before anything is timed
            for command in [["kb", "search", "warm", "up"], *COMMANDS]:
                once(command, env)
        print(f"{options.rounds} rounds, medians; load average {os.getloadavg()[0]:.1f} at the start")
        for command in COMMANDS:
            times: dict[str, list[float]] = {name: [] for name in codes}
            for _ in range(options.rounds):
                for name, env in envs.items():
                    times[name].append(once(command, env))
            medians = {name: statistics.median(values) for name, values in times.items()}
            shown = ", ".join(f"{name} {value * 1000:.0f} ms" for name, value in medians.items())
            ratio = (f"  ratio {medians['this checkout'] / medians['baseline']:.2f}"
                     if "baseline" in medians else "")
            print(f"threer {' '.join(command)}: {shown}{ratio}")
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
