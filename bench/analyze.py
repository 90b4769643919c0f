#!/usr/bin/env python3
"""Benchmark of the bounce and header analyser against the email package alone, in the same run.

    python bench/analyze.py [--rounds 200]

For each sample in tests/analyze/samples (one per server style), and for a 1 MB paste (a bounce
followed by an attachment's worth of text), the median time of threer.analyze.analyze() is set
against the median time of email.message_from_bytes(..., policy=policy.default) with every
header read — the parse any analysis must start from. The ratio says what the analysis adds.
The load average is printed, since other work on the machine slows every figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from threer.analyze import analyze  # noqa: E402


def _median_ms(fn, data: bytes, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(data)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _email_only(data: bytes) -> None:
    msg = message_from_bytes(data, policy=policy.default)
    for part in msg.walk():
        for _name, value in part.items():
            str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    samples = {p.name: p.read_bytes() for p in sorted((ROOT / "tests" / "analyze" / "samples").iterdir())}
    big = samples["postfix.txt"] + b"\n" + (b"Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * 18000)
    samples["1 MB paste"] = big
    print(f"{'input':<24}{'bytes':>9}{'email only ms':>15}{'analyze ms':>12}{'ratio':>8}")
    for name, data in samples.items():
        rounds = max(5, args.rounds // 20) if len(data) > 100_000 else args.rounds
        base = _median_ms(_email_only, data, rounds)
        ours = _median_ms(analyze, data, rounds)
        print(f"{name:<24}{len(data):>9}{base:>15.3f}{ours:>12.3f}{ours / base:>8.1f}x")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
