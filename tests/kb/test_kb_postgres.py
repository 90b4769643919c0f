"""KB search on the team database (threer.kb.pg) against the SQLite index: one contract, one ranking.

Every test runs on the throwaway PostgreSQL cluster (tests/support_postgres.py) and compares
with a SQLite Store holding the same documents: the same ids in the same order with the
same scores and snippets, the same corrections, the same lift from outcomes; and the
team's own promises: several technicians (THREER_HOMEs) index and search one KB, a case
resolved by one is found by another, purge leaves nothing of a session in the index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from threer.kb.feedback import record_outcomes
from threer.kb.index import ensure_sample_kb, index_paths
from threer.kb.search import search, search_outcome
from threer.store import Store
from threer.store_pg import PostgresStore

HERE = Path(__file__).parent
REPO = HERE.parent.parent
KB_EVAL = Path(os.environ.get("THREER_KB_EVAL") or REPO.parent / "shared" / "kb-eval")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)

SAMPLE_QUERIES = [
    "outlook keeps asking for password", "Outlook keeps asking for password on Anna's laptop", "550 5.7.1",
    "0x800CCC0E", "800CCC0E", "attachmnet too big", "recieving no email", "autodiscovr not working",
    "cant send email from iphone", "mailbox full", '"sign in"', "the the the", "spf dkim dmarc",
    "Hi, this is Bob from Leeds, since Monday my Outlook says the mailbox is full and I cannot send anything",
    "zzzzqqq", "!!!", "5.1.10 recipient not found", "calendar sharing", "aadsts50126",
]


def _known_queries() -> list[str]:
    data = tomllib.loads((HERE / "known_answers.toml").read_text(encoding="utf-8"))
    return [entry["text"] for entry in data["query"]]


def _results(store, query: str, **options) -> list[tuple]:
    return [(r.id, r.score, r.snippet, r.highlights, r.source, r.path) for r in search(store, query, **options)]


@pytest.fixture
def pg(pg_url, threer_env):
    store = PostgresStore(pg_url, local_home=threer_env.home)
    yield store
    store.close()


@pytest.fixture
def lite(tmp_path):
    with Store(tmp_path / "lite" / "threer.db") as store:
        yield store


def test_the_sample_kb_gives_the_same_results_on_both_backends(pg, lite):
    kb = pg.kb_index()
    queries = SAMPLE_QUERIES + _known_queries()
    assert len(queries) > 25
    for query in queries:
        for options in ({}, {"source": "kb"}, {"limit": 3}, {"ranking": "bm25"}):
            assert _results(kb, query, **options) == _results(lite, query, **options), (query, options)
        a, b = search_outcome(kb, query), search_outcome(lite, query)
        assert a.plan.searched_for == b.plan.searched_for, query
    assert search(kb, "attachmnet too big") and search_outcome(kb, "attachmnet too big").plan.searched_for


@pytest.mark.skipif(not (KB_EVAL / "gen_kb.py").is_file(), reason=f"kb-eval is not at {KB_EVAL}")
def test_a_generated_corpus_of_1000_articles_ranks_alike_on_both_backends(pg, lite, tmp_path):
    corpus = tmp_path / "gen"
    subprocess.run([sys.executable, str(KB_EVAL / "gen_kb.py"), "--n", "1000", "--out", str(corpus)], check=True,
                   stderr=subprocess.DEVNULL)
    articles = KB_EVAL / "dev" / "articles"
    kb = pg.kb_index()
    for store in (kb, lite):
        store._kb_ready = True  # the kb-eval articles and the distractors only, as bench/kb.py measures
        report = index_paths(store, [articles, corpus], workers=1)
        assert report.added == 1000 + len(list(articles.glob("*.md"))), report
    queries = [q["query"] for q in json.loads((KB_EVAL / "dev" / "queries.json").read_text(encoding="utf-8"))]
    queries += [q["query"] for q in json.loads((HERE / "heldout" / "queries.json").read_text(encoding="utf-8"))]
    generated = json.loads(subprocess.run([sys.executable, str(KB_EVAL / "gen_kb.py"), "--queries", "30"],
                                          check=True, capture_output=True, text=True).stdout)
    queries += generated["phrase"] + generated["terms"]
    differ = []
    for query in queries:
        for ranking in ("full", "bm25"):
            ours = [(r.id, r.score) for r in search(kb, query, ranking=ranking)]
            theirs = [(r.id, r.score) for r in search(lite, query, ranking=ranking)]
            if ours != theirs:
                differ.append((query, ranking, ours[:3], theirs[:3]))
    assert not differ, differ[:3]
    assert len(queries) >= 200


def test_kb_search_json_is_the_same_document_on_both_backends(invoke, pg_url):
    for query in ("outlook keeps asking for password", "attachmnet too big", "550 5.7.1", "the customer says"):
        on_sqlite = invoke("kb", "search", "--json", "--limit", "5", query)
        on_pg = invoke("kb", "search", "--json", "--limit", "5", query, env={"THREER_DATABASE_URL": pg_url})
        assert on_sqlite.exit_code == on_pg.exit_code == 0, on_pg.output
        doc = json.loads(on_pg.stdout)
        assert doc == json.loads(on_sqlite.stdout)
        assert list(doc) == ["query", "searched_for", "searched_terms", "results"]
        assert all("**" not in r["snippet"] and "highlights" not in r for r in doc["results"])


@pytest.mark.parametrize("args", [("kb", "search", " "), ("kb", "search", "x", "--source", "web"),
                                  ("kb", "show", "kb-9999-nothing"), ("kb", "index", "/no/such/folder")])
def test_bad_input_is_the_same_plain_error_on_both_backends(invoke, pg_url, args):
    on_sqlite = invoke(*args)
    on_pg = invoke(*args, env={"THREER_DATABASE_URL": pg_url})
    assert on_pg.exit_code == on_sqlite.exit_code != 0
    assert on_pg.exit_code != 3
    assert on_pg.stderr == on_sqlite.stderr and "Traceback" not in on_pg.stderr
    assert on_pg.stderr.strip()


def test_two_technicians_index_and_search_one_team_kb(pg_url, tmp_path, invoke):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "quota.md").write_text("---\nid: team-quota\ntitle: Raising the mailbox quota\ntags: [quota]\n---\n"
                                     "When the mailbox quota is full, archive old mail or ask for a bigger plan.\n")
    alice = {"THREER_DATABASE_URL": pg_url, "THREER_HOME": str(tmp_path / "alice")}
    bob = {"THREER_DATABASE_URL": pg_url, "THREER_HOME": str(tmp_path / "bob")}
    first = invoke("kb", "index", "--json", str(folder), env=alice)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["added"] == 1
    found = json.loads(invoke("kb", "search", "--json", "mailbox quota full", env=bob).stdout)["results"]
    assert "team-quota" in [r["id"] for r in found[:3]]
    again = json.loads(invoke("kb", "index", "--json", str(folder), env=alice).stdout)
    assert again["unchanged"] == 1 and again["added"] == again["updated"] == 0
    (folder / "quota.md").unlink()
    gone = json.loads(invoke("kb", "index", "--json", str(folder), env=alice).stdout)
    assert gone["removed"] == 1
    after = json.loads(invoke("kb", "search", "--json", "mailbox quota full", env=bob).stdout)["results"]
    assert "team-quota" not in [r["id"] for r in after]
    assert not (tmp_path / "bob" / "kb-index.db").exists()  # nothing of the team KB is kept on a machine


def test_a_case_resolved_by_one_technician_is_found_by_another_and_purge_removes_it(pg_url, tmp_path):
    alice = PostgresStore(pg_url, local_home=tmp_path / "alice")
    bob = PostgresStore(pg_url, local_home=tmp_path / "bob")
    try:
        session = alice.create_session(NOW, technician="alice")
        alice.put_case(session, title="Shared calendar shows busy only", body="Symptom: shared calendar busy only\n"
                       "Resolution: gave reviewer rights", domain="contoso.example")
        hits = [r.id for r in search(bob.kb_index(), "shared calendar busy", source="case")]
        assert hits == [f"case:{session}"]
        assert search(bob.kb_index(), "contoso.example", source="case")[0].id == f"case:{session}"
        bob.purge_sessions(NOW + timedelta(days=400))
        assert search(alice.kb_index(), "shared calendar busy", source="case") == []
        assert alice.kb_index().counts()["kb_cases"] == 0
    finally:
        alice.close()
        bob.close()


def test_outcomes_learnt_by_one_technician_lift_for_all_alike_on_both_backends_and_leave_with_purge(
        pg_url, tmp_path, lite):
    alice = PostgresStore(pg_url, local_home=tmp_path / "alice")
    bob = PostgresStore(pg_url, local_home=tmp_path / "bob")
    try:
        query = "outlook freezes when opening shared mailbox"
        before = _results(bob.kb_index(), query)
        assert before == _results(lite, query)
        target = before[-1][0]  # the weakest match: learning must lift it
        issue = "Outlook freezes every time the shared mailbox is opened"
        session = alice.create_session(NOW, technician="alice")
        for store, sid in ((alice.kb_index(), session), (lite, session)):
            assert record_outcomes(store, session_id=sid, issue=issue, outcomes={target: "solved",
                                                                                 "no-such-id": "solved"}) == 1
        learnt = _results(bob.kb_index(), query)
        assert learnt == _results(lite, query)
        assert [r[0] for r in learnt].index(target) < [r[0] for r in before].index(target)
        assert alice.kb_index().counts()["kb_feedback"] == 1
        alice.purge_sessions(NOW + timedelta(days=400))
        assert bob.kb_index().counts()["kb_feedback"] == 0
        assert _results(bob.kb_index(), query) == before
    finally:
        alice.close()
        bob.close()


def test_without_pg_trgm_typos_are_corrected_by_rapidfuzz_alike_and_db_status_says_so(pg_cluster, pg_url, lite,
                                                                                      invoke, tmp_path):
    database = pg_url.rsplit("/", 1)[1]
    role = f"kbtech_{os.getpid()}"
    pg_cluster.admin(f"DROP ROLE IF EXISTS {role}")
    pg_cluster.admin(f"CREATE ROLE {role} LOGIN PASSWORD 'kb-pass'")
    try:
        pg_cluster.admin(f"CREATE SCHEMA {role} AUTHORIZATION {role}", database=database)
        url = pg_cluster.url(database, user=role, password="kb-pass")
        store = PostgresStore(url, local_home=tmp_path / "home")
        try:
            kb = store.kb_index()
            assert not kb.trigrams and "pg_trgm could not be created" in kb.spelling_note
            for query in ("attachmnet too big", "recieving no email", "autodiscovr", "pasword prompt", "outlok"):
                assert search_outcome(kb, query).plan.searched_for == search_outcome(lite, query).plan.searched_for
                assert _results(kb, query) == _results(lite, query), query
        finally:
            store.close()
        status = invoke("db", "status", "--json", env={"THREER_DATABASE_URL": url})
        assert status.exit_code == 0, status.output
        kb_status = json.loads(status.stdout)["kb_search"]
        assert kb_status["index"] == "postgresql" and kb_status["spelling"] == "rapidfuzz"
        assert "pg_trgm could not be created" in kb_status["spelling_note"]
        text = invoke("db", "status", env={"THREER_DATABASE_URL": url}).stdout
        assert "typo correction: rapidfuzz (pg_trgm could not be created" in text
    finally:
        pg_cluster.admin(f"DROP OWNED BY {role}", database=database)
        pg_cluster.admin(f"DROP ROLE {role}")


def test_db_status_names_pg_trgm_where_it_is_there(invoke, pg_url):
    assert invoke("kb", "search", "outlook", env={"THREER_DATABASE_URL": pg_url}).exit_code == 0
    doc = json.loads(invoke("db", "status", "--json", env={"THREER_DATABASE_URL": pg_url}).stdout)["kb_search"]
    assert doc["index"] == "postgresql" and doc["spelling"] == "pg_trgm" and doc["spelling_note"] is None
    assert doc["counts"]["kb_articles"] > 0  # the sample KB, indexed on first use
    lite = json.loads(invoke("db", "status", "--json").stdout)["kb_search"]
    assert lite["index"] == "sqlite" and lite["spelling"] == "rapidfuzz"


def test_a_newer_kb_schema_stops_this_threer(pg, pg_url, threer_env):
    from threer.errors import StoreError

    pg.kb_index()
    pg._query("UPDATE kb_meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(StoreError) as exc:
        PostgresStore(pg_url, local_home=threer_env.home).kb_index()
    assert "newer threer (KB schema 99" in exc.value.message and "Upgrade threer" in exc.value.message


def test_the_old_per_machine_index_is_retired_and_its_learning_kept(pg_url, threer_env):
    from threer.kb.feedback import record_outcome

    team = PostgresStore(pg_url, local_home=threer_env.home)
    session = team.create_session(NOW)
    old = Store(threer_env.home / "kb-index.db")
    ensure_sample_kb(old)
    doc_id = search(old, "outlook password")[0].id
    with old.transaction() as cur:
        record_outcome(cur, session_id=session, doc_id=doc_id, outcome="solved", issue="outlook asks for password")
        record_outcome(cur, session_id="20200101-GONE", doc_id=doc_id, outcome="solved", issue="gone session")
    old.close()
    try:
        kb = team.kb_index()
        assert not (threer_env.home / "kb-index.db").exists()
        assert kb.counts()["kb_feedback"] == 1  # the session the team database still has
    finally:
        team.close()


def test_pages_imported_by_one_technician_are_searched_by_another(pg_url, tmp_path):
    from pytest_httpserver import HTTPServer

    from threer.kb.importer import import_url

    page = ("<html><head><title>{t} - Help</title></head><body><main><h1>{t}</h1><p>{p}</p></main></body></html>")
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    alice = PostgresStore(pg_url, local_home=tmp_path / "alice")
    bob = PostgresStore(pg_url, local_home=tmp_path / "bob")
    try:
        server.expect_request("/articles/vpn").respond_with_data(
            page.format(t="Outlook offline over the VPN", p="Split tunnelling blocks the zorbulax gateway."),
            content_type="text/html")
        first = import_url(alice.kb_index(), server.url_for("/articles/vpn"))
        assert (first.added, first.failed) == (1, [])
        hits = search(bob.kb_index(), "zorbulax gateway")
        assert hits[0].id == "web:127.0.0.1/articles/vpn" and "zorbulax" in hits[0].snippet
        again = import_url(bob.kb_index(), server.url_for("/articles/vpn"))
        assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
        from threer.kb.importer import remove_pages

        assert remove_pages(bob.kb_index(), ["web:127.0.0.1/*"]) == ["web:127.0.0.1/articles/vpn"]
        assert not [h.id for h in search(alice.kb_index(), "zorbulax gateway") if h.id.startswith("web:")]  # for all
    finally:
        alice.close()
        bob.close()
        server.clear()
        server.stop()


def test_a_file_that_takes_a_held_id_leaves_with_its_old_version_on_both_backends(pg, lite, tmp_path):
    # b.md is edited to claim the id a.md holds: it is skipped, and its earlier version (still under its old
    # id) leaves the index too, counted as removed, instead of being found under words it no longer has
    folder = tmp_path / "ids"
    folder.mkdir()
    (folder / "a.md").write_text("---\nid: one\ntitle: First\n---\nnarwhal first\n", encoding="utf-8")
    (folder / "b.md").write_text("---\nid: two\ntitle: Second\n---\nnarwhal second\n", encoding="utf-8")
    for store in (lite, pg.kb_index()):
        assert index_paths(store, [folder]).added == 2
    (folder / "b.md").write_text("---\nid: one\ntitle: Second retitled\n---\nbeluga now\n", encoding="utf-8")
    for store in (lite, pg.kb_index()):
        report = index_paths(store, [folder])
        assert (report.added, report.updated, report.unchanged, report.removed) == (0, 0, 1, 1)
        assert [s.reason for s in report.skipped] == [f"its id 'one' is already used by {folder / 'a.md'} (the file "
                                                      "indexed first keeps it; give this one another id)"]
        assert [r.id for r in search(store, "narwhal")] == ["one"]
        again = index_paths(store, [folder])
        assert (again.unchanged, again.removed, len(again.skipped)) == (1, 0, 1)
