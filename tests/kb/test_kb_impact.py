"""Impact lists (threer.kb.impact) are written and removed with their documents."""

from __future__ import annotations

from pathlib import Path

from threer.kb.cases import index_case, remove_case
from threer.kb.impact import TERMS_PER_DOCUMENT, top_terms
from threer.kb.index import index_paths
from threer.store import Store


def entries(store: Store, doc_id: str) -> list[str]:
    return [r[0] for r in store.conn.execute(
        "SELECT term FROM kb_top WHERE doc = (SELECT rowid FROM kb_documents WHERE doc_id = ?) ORDER BY impact DESC",
        (doc_id,))]


def test_a_documents_heaviest_terms_come_first_and_stop_words_never():
    columns = ("outlook password prompt", "outlook", "the outlook keeps asking for the password the password", "", "", "")
    terms = [t for t, _ in top_terms(columns)]
    assert set(terms[:2]) == {"outlook", "password"} and "the" not in terms and "for" not in terms
    assert top_terms(columns) == top_terms(columns) and len(top_terms(("a " * 50 + " ".join(
        f"w{i}" for i in range(40)), "", "", "", "", ""))) == TERMS_PER_DOCUMENT


def test_entries_follow_the_document(tmp_path: Path):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.md").write_text("---\nid: a\n---\n# Quota warning\n\nThe mailbox quota is full.", encoding="utf-8")
    (folder / "b.md").write_text("---\nid: b\n---\n# Calendar sync\n\nThe calendar does not sync.", encoding="utf-8")
    with Store(tmp_path / "kb.db") as store:
        store._kb_ready = True
        index_paths(store, [folder])
        assert entries(store, "a")[0] == "quota" and entries(store, "b")[0] == "calendar"
        (folder / "a.md").write_text("---\nid: a\n---\n# Archive missing\n\nThe archive is gone.", encoding="utf-8")
        index_paths(store, [folder])
        assert entries(store, "a")[0] == "archiv" and "quota" not in entries(store, "a")
        (folder / "b.md").unlink()
        index_paths(store, [folder])
        docs = {r[0] for r in store.conn.execute("SELECT rowid FROM kb_documents")}
        assert {r[0] for r in store.conn.execute("SELECT DISTINCT doc FROM kb_top")} == docs
        index_case(store, "20261201-ABCD", title="Zorblat printer jams", body="Symptom: zorblat jams")
        assert "zorblat" in entries(store, "case:20261201-ABCD")
        with store.transaction() as cur:
            remove_case(cur, "20261201-ABCD")
        assert store.conn.execute("SELECT count(*) FROM kb_top WHERE term = 'zorblat'").fetchone()[0] == 0
