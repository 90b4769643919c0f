#!/usr/bin/env python3
"""Benchmark of `threer report` over a store of N generated sessions.

    python bench/report.py [--n 5000] [--seed 7] [--workdir DIR] [--keep]

Generates N complete sessions over 12 weeks (a seed fixes everything): about a third escalated, error
codes, DNS findings and researched articles drawn from small pools so that sessions share kinds of
problems and the avoidable rules have work to do. Then reports, in one run:
- `threer sessions list --json --limit N`: the baseline, which reads every session the same way;
- `threer report --json` end to end, and its parts in process (reading the store; computing);
- `threer report --html FILE`.
Figures are medians of --repeat runs; the report is quoted as a ratio to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

CODES = ["0x800CCC0E", "0x8004010F", "0x80042108", "5.7.1", "5.1.1", "4.4.7", "5.2.2", "5.3.4", ""]
FINDINGS = ["autodiscover.missing", "spf.lookup-limit", "dmarc.policy-none", "mx.extra", "dkim.missing"]
ARTICLES = [f"kb-{n:04d}" for n in range(1, 41)]
START = datetime(2026, 9, 7, 9, 0, tzinfo=timezone.utc)


def generate(db: Path, n: int, seed: int) -> None:
    from support_sessions import make_session

    from threer.store import Store

    rng = random.Random(seed)
    with Store(db) as store:
        template = make_session(store)
        rows = {r["step_id"]: json.loads(r["data"]) for r in store.conn.execute(
            "SELECT step_id, data FROM answers WHERE session_id = ?", (template,))}
        with store.transaction() as cur:
            cur.execute("DELETE FROM sessions WHERE id = ?", (template,))
            for i in range(n):
                created = START + timedelta(minutes=rng.randrange(12 * 7 * 24 * 60))
                closed = created + timedelta(minutes=rng.randrange(5, 180))
                escalated = rng.random() < 0.35
                sid = f"{created:%Y%m%d}-B{i:06d}"
                code, finding = rng.choice(CODES), rng.choice(FINDINGS + [None, None])
                answers = json.loads(json.dumps(rows))
                errors = answers["intake.errors"]["answer"]
                errors.update(messages=f"error {code}" if code else "", no_error_shown=not code)
                dns = answers["review.dns"]["answer"]
                dns["problems"] = ([{"id": finding, "severity": "fail", "message": "m", "fix": None}]
                                   if finding else [])
                tried = rng.sample(ARTICLES, 2)
                answers["research.prior"]["answer"].update(tried=tried, matches=[
                    {"id": a, "title": a, "source": "kb", "score": 0.5} for a in tried])
                answers["research.kb"]["answer"]["articles"] = rng.sample(ARTICLES, 1)
                answers["outcome"]["answer"] = ({"decision": "escalate", "summary": "s", "resolution": "",
                                                 "engineering": False} if escalated else
                                                {"decision": "resolved", "resolution": "fixed", "summary": "",
                                                 "engineering": False})
                cur.execute("INSERT INTO sessions (id, created_at, updated_at, customer_name, customer_domain, "
                            "status, closed_at, technician) VALUES (?,?,?,?,?,?,?,?)",
                            (sid, created.isoformat(), closed.isoformat(), f"Customer {i % 300}",
                             f"customer{i % 300}.example", "escalated" if escalated else "resolved",
                             closed.isoformat(), f"tech{i % 7}"))
                for step, data in answers.items():
                    cur.execute("INSERT INTO answers (session_id, step_id, data, recorded_at) VALUES (?,?,?,?)",
                                (sid, step, json.dumps(data), closed.isoformat()))


def timed(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - t)
        out = done.stdout
    return statistics.median(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="threer-bench-report-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "THREER_HOME": str(work), "THREER_CONFIG": str(work / "config.toml"), "NO_COLOR": "1"}
    threer = str(Path(sys.executable).parent / "threer")
    try:
        t = time.perf_counter()
        generate(work / "threer.db", args.n, args.seed)
        print(f"generated {args.n} sessions in {time.perf_counter() - t:.1f} s")

        from threer.config import BusinessHours
        from threer.report import build_report, parse_period
        from threer.report.source import load_articles, load_sessions
        from threer.store import Store

        now = START + timedelta(weeks=12)
        with Store(work / "threer.db") as store:
            t = time.perf_counter()
            sessions, articles = load_sessions(store), load_articles(store)
            read_s = time.perf_counter() - t
        period = parse_period("12w", None, now=now, timezone="UTC")
        t = time.perf_counter()
        report = build_report(sessions, articles, period=period, by="category", now=now, calendar=BusinessHours())
        compute_s = time.perf_counter() - t

        base_s, _ = timed([threer, "sessions", "list", "--json", "--limit", str(args.n + 1)], env, args.repeat)
        report_s, out = timed([threer, "report", "--since", "2026-09-01", "--json", "--by", "category"], env,
                              args.repeat)
        html_s, _ = timed([threer, "report", "--since", "2026-09-01", "--html", str(work / "r.html")], env,
                          args.repeat)
        doc = json.loads(out)
        print(f"in process: reading the store {read_s:.2f} s, computing {compute_s:.2f} s "
              f"({report.totals.sessions} sessions, {len(report.avoidable)} avoidable)")
        print(f"baseline `sessions list --json` (reads every session): {base_s:.2f} s")
        print(f"`report --json`: {report_s:.2f} s = {report_s / base_s:.2f}x the baseline "
              f"({doc['totals']['sessions']} sessions, {len(doc['avoidable'])} avoidable)")
        print(f"`report --html` (and the terminal summary): {html_s:.2f} s = {html_s / base_s:.2f}x the baseline")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
