#!/usr/bin/env python3
"""Dump the top-10 results of a fixed query set, to check that a change leaves ranking alone.

    python bench/kb_results.py --folder DIR --db FILE --out results.json [--src PATH]
    python bench/kb_results.py --diff before.json after.json

The query set is the one bench/kb.py times: kb-eval's development queries, threer's
held-out queries (tests/kb/heldout/queries.json) and the generator's own query sets
(`gen_kb.py --queries 100`). For each query it writes the ids, scores, snippets and the
"searched for" line of the first ten results. `--db` is built from `--folder` when it
does not exist yet (and reused otherwise, so one index serves several runs); `--src`
runs another checkout's threer (e.g. the code before a change) against its own index.
`--diff` says which queries differ and how, and exits 1 when any does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "tests" / "kb" / "heldout" / "queries.json"


def query_set(shared: Path) -> list[str]:
    generated = json.loads(subprocess.run([sys.executable, str(shared / "gen_kb.py"), "--queries", "100"],
                                          check=True, capture_output=True, text=True).stdout)
    queries = [q["query"] for q in json.loads((shared / "dev" / "queries.json").read_text(encoding="utf-8"))]
    queries += [q["query"] for q in json.loads(HELDOUT.read_text(encoding="utf-8"))]
    queries += generated["phrase"] + generated["terms"]
    return queries


def dump(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(args.src))
    from threer.kb.index import index_paths
    from threer.kb.search import search_outcome
    from threer.store import Store

    queries = query_set(args.shared)
    fresh = not args.db.exists()
    with Store(args.db) as store:
        store._kb_ready = True  # the folder only, as bench/kb.py measures
        if fresh:
            started = time.perf_counter()
            report = index_paths(store, [args.folder])
            print(f"indexed {report.added:,} articles in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        out = []
        for q in queries:
            outcome = search_outcome(store, q, limit=10)
            out.append({"query": q, "searched_for": outcome.plan.searched_for,
                        "results": [[r.id, r.score, r.snippet] for r in outcome.results]})
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"{len(out)} queries written to {args.out}", file=sys.stderr)
    return 0


def diff(before_path: Path, after_path: Path) -> int:
    before = json.loads(before_path.read_text(encoding="utf-8"))
    after = json.loads(after_path.read_text(encoding="utf-8"))
    if [b["query"] for b in before] != [a["query"] for a in after]:
        print("the two files hold different query sets")
        return 1
    ids = scores = snippets = searched = 0
    for b, a in zip(before, after):
        problems = []
        if [r[0] for r in b["results"]] != [r[0] for r in a["results"]]:
            ids += 1
            problems.append(f"ids {[r[0] for r in b['results']]} -> {[r[0] for r in a['results']]}")
        elif [r[1] for r in b["results"]] != [r[1] for r in a["results"]]:
            scores += 1
            problems.append(f"scores {[r[1] for r in b['results']]} -> {[r[1] for r in a['results']]}")
        if [r[2] for r in b["results"]] != [r[2] for r in a["results"]]:
            snippets += 1
            problems.append("snippets differ")
        if b["searched_for"] != a["searched_for"]:
            searched += 1
            problems.append(f"searched for {b['searched_for']!r} -> {a['searched_for']!r}")
        if problems:
            print(f"{b['query'][:70]!r}: " + "; ".join(problems))
    print(f"{len(before)} queries: top-10 ids differ in {ids}, scores (same ids) in {scores}, "
          f"snippets in {snippets}, 'searched for' in {searched}")
    return 1 if ids or scores or snippets or searched else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="articles to index when --db does not exist")
    parser.add_argument("--db", type=Path, help="the threer database to search (built when missing)")
    parser.add_argument("--out", type=Path, help="where the results go (JSON)")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the threer sources to run (default: this checkout)")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "kb-eval")
    parser.add_argument("--diff", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.diff:
        return diff(*args.diff)
    if not (args.db and args.out and (args.folder or args.db.exists())):
        parser.error("give --db and --out (and --folder when the database does not exist yet)")
    return dump(args)


if __name__ == "__main__":
    sys.exit(main())
