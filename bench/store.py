#!/usr/bin/env python3
"""Benchmark of the two store backends: answer-save latency and KB query latency, SQLite vs PostgreSQL.

    python bench/store.py [--answers 300] [--cases 300] [--queries 200]

Both backends run in the same process, one after the other, on this machine: SQLite on a file in
a temporary folder, PostgreSQL on a throwaway local cluster started with the system's initdb and
pg_ctl (tests/support_postgres.py; fsync off, as in the tests). An answer save is one
`record_answer` with an expected revision (one committed transaction); a KB query is one
`kb.search.search` over the store's KB index: on SQLite its FTS5 tables, on PostgreSQL the team
index in the same database (threer.kb.pg: tsvector and GIN, FTS5's BM25 from the positions), after
bringing the team's past cases up to date in it (one query when nothing changed). Reported: p50/p95 in ms and PostgreSQL's ratio
to SQLite. The load average is printed, as other work on the machine slows every figure. The
PostgreSQL save figure is not a durability comparison: the throwaway cluster runs with fsync and
synchronous_commit off, where SQLite syncs its WAL; a real server adds a disk flush (and the network).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

QUERIES = ["outlook keeps asking for the password", "mailbox quota full", "0x800CCC0E", "autodiscover fails",
           "550 5.7.1 relay denied", "mail goes to junk after the dns change"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(store, answers: int, cases: int, queries: int) -> dict[str, list[float]]:
    from threer.kb.index import ensure_sample_kb
    from threer.kb.search import search

    now = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
    sid = store.create_session(now, technician="bench", host="bench")
    saves = []
    revisions: dict[str, int] = {}
    for i in range(answers):
        step = f"step.{i % 14}"
        start = time.perf_counter()
        store.record_answer(sid, step, {"i": i, "text": "Outlook asks for the password again"}, now,
                            expected_revision=revisions.get(step, 0), technician="bench")
        saves.append((time.perf_counter() - start) * 1000)
        revisions[step] = revisions.get(step, 0) + 1
    for i in range(cases):
        case = store.create_session(now)
        store.put_case(case, title=f"Case {i}: {QUERIES[i % len(QUERIES)]}",
                       body=f"Symptom: {QUERIES[(i + 1) % len(QUERIES)]}\nResolution: step {i}", tags=["bench"],
                       domain=f"d{i}.test")
    ensure_sample_kb(store.kb_index())
    search(store.kb_index(), "warm up")
    searches = []
    for i in range(queries):
        start = time.perf_counter()
        search(store.kb_index(), QUERIES[i % len(QUERIES)], limit=5)
        searches.append((time.perf_counter() - start) * 1000)
    return {"answer save": saves, "kb query": searches}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    from support_postgres import PostgresCluster, PostgresUnavailable

    from threer.store import Store
    from threer.store_pg import PostgresStore

    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "sqlite" / "threer.db") as store:
            results["sqlite"] = run(store, args.answers, args.cases, args.queries)
        try:
            cluster = PostgresCluster.start()
        except PostgresUnavailable as exc:
            print(f"PostgreSQL not measured: {exc}")
            cluster = None
        if cluster is not None:
            try:
                with PostgresStore(cluster.url(cluster.new_database()), local_home=Path(tmp) / "pg") as store:
                    results["postgresql"] = run(store, args.answers, args.cases, args.queries)
            finally:
                cluster.stop()
    print(f"{'':14}{'backend':>12}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for measure in ("answer save", "kb query"):
        for backend, figures in results.items():
            values = figures[measure]
            print(f"{measure:14}{backend:>12}{pct(values, 50):10.2f}{pct(values, 95):10.2f}"
                  f"{statistics.fmean(values):10.2f}")
        if len(results) == 2:
            ratio50 = pct(results["postgresql"][measure], 50) / pct(results["sqlite"][measure], 50)
            ratio95 = pct(results["postgresql"][measure], 95) / pct(results["sqlite"][measure], 95)
            print(f"{measure:14}{'pg/sqlite':>12}{ratio50:9.2f}x{ratio95:9.2f}x")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
