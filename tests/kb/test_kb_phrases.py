"""Thesaurus phrases held as single index terms: same matches as phrases, partner phrases still
searched, and an index from before the phrase columns rebuilt on first use."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from threer.kb.analysis import index_text, plain_text
from threer.kb.index import index_paths
from threer.kb.phrases import PhraseSet, builtin_phrases, index_phrases, joined
from threer.kb.ranking import document_count, index_stats
from threer.kb.schema import SCHEMA_SQL
from threer.kb.search import search, search_outcome
from threer.store import MIGRATIONS, Store


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def naive_counts(analysed: str, phrases: set[tuple[str, ...]]) -> dict[str, int]:
    seq = analysed.split()
    counts: dict[str, int] = {}
    for phrase in phrases:
        for i in range(len(seq) - len(phrase) + 1):
            if tuple(seq[i : i + len(phrase)]) == phrase:
                counts[joined(phrase)] = counts.get(joined(phrase), 0) + 1
    return counts


@settings(max_examples=600, deadline=None)
@example(["a", "a", "b", "a", "a", "b"], {("a", "a", "b")})
@given(st.lists(st.sampled_from(["a", "b", "c", "e", "mail"]), max_size=30),
       st.sets(st.lists(st.sampled_from(["a", "b", "c", "e", "mail"]), min_size=2, max_size=3).map(tuple), max_size=6))
def test_a_phrase_is_counted_once_for_every_place_it_starts(seq, phrases):
    # e.g. "a a b" twice side by side in "a a b a a b"; "a a" twice in "a a a"
    column = PhraseSet(phrases).column(" ".join(seq))
    found: dict[str, int] = {}
    for t in column.split():
        found[t] = found.get(t, 0) + 1
    assert found == naive_counts(" ".join(seq), phrases)  # "a a" in "a a a" is there twice, as FTS5 counts it


def test_builtin_phrases_are_single_terms_with_the_phrase_counts(tmp_path):
    write(tmp_path / "kb", "a.md", "---\nid: a\ntags: [junk e-mail]\n---\n# E-mail will not send\n\n"  # body: heading too
          "Outlook asks for password when you send an e-mail; the e-mail stays in the outbox.")
    write(tmp_path / "kb", "b.md", "---\nid: b\n---\n# Mail\n\nAn e mail, not email. Mail e. Mail e mail.")
    with Store(tmp_path / "kb.db") as store:
        store._kb_ready = True
        index_paths(store, [tmp_path / "kb"])
        assert ("e", "mail") in index_phrases(store.conn) and ("ask", "for", "password") in index_phrases(store.conn)
        row = store.conn.execute("SELECT ptitle, ptags, pbody FROM kb_fts WHERE rowid = "
                                 "(SELECT rowid FROM kb_documents WHERE doc_id = 'a')").fetchone()
        assert row[0].split().count("e__mail") == 1 and "junk__e__mail" in row[1].split()
        assert row[2].split().count("e__mail") == 3 and "ask__for__password" in row[2].split()
        stats = index_stats(store.conn)
        for phrase in [("e", "mail"), ("ask", "for", "password"), ("junk", "e", "mail")]:
            as_phrase = store.conn.execute("SELECT count(*) FROM kb_fts WHERE kb_fts MATCH ?",
                                           ('"' + " ".join(phrase) + '"',)).fetchone()[0]
            assert document_count(store.conn, stats, phrase) == as_phrase > 0


def test_a_partner_phrase_is_searched_as_a_phrase_without_a_reindex(tmp_path):
    write(tmp_path / "kb", "flux.md", "---\nid: flux\n---\n# Quantum flux capacitor fails\n\nThe quantum flux "
          "capacitor needs a restart.")
    write(tmp_path / "kb", "other.md", "---\nid: other\n---\n# Capacitor of quantum\n\nFlux and quantum, apart.")
    with Store(tmp_path / "kb.db") as store:
        store._kb_ready = True
        index_paths(store, [tmp_path / "kb"])
        partner = tmp_path / "thesaurus.toml"
        partner.write_text('[[group]]\nwords = ["warp drive", "quantum flux capacitor"]\n', encoding="utf-8")
        assert ("quantum", "flux", "capacitor") not in index_phrases(store.conn)
        assert [r.id for r in search(store, "warp drive")] == []
        assert [r.id for r in search(store, "warp drive", thesaurus_file=partner)] == ["flux"]


def _old_format(path: Path) -> None:
    """Turn a database into one written by the threer before phrase columns: three FTS columns, no impact lists."""
    from threer.store import _kb_phrases_schema

    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE kb_top")
    old_fts = SCHEMA_SQL[SCHEMA_SQL.index("CREATE VIRTUAL TABLE kb_fts"):SCHEMA_SQL.index("-- bulk indexing")]
    rows = conn.execute("SELECT rowid, title, tags, body, format FROM kb_documents").fetchall()
    conn.execute("DROP TABLE kb_fts")
    conn.execute(old_fts)
    for rowid, title, tags, body, fmt in rows:
        conn.execute("INSERT INTO kb_fts (rowid, title, tags, body) VALUES (?, ?, ?, ?)",
                     (rowid, *index_text(title, tags, plain_text(body, fmt))))
    conn.execute("UPDATE kb_meta SET value = '2/snowballstemmer' WHERE key = 'analyzer'")
    conn.execute("DELETE FROM kb_meta WHERE key = 'phrases'")
    conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(_kb_phrases_schema)}")  # the migration before it
    conn.commit()
    conn.close()


def test_an_index_from_before_the_phrase_columns_is_rebuilt_on_first_use(tmp_path):
    queries = ["outlook keeps asking for password", "e-mail will not send", "iphone not syncing", "550 5.7.1"]
    with Store(tmp_path / "fresh.db") as fresh:
        expected = [[(r.id, r.score) for r in search(fresh, q)] for q in queries]
    with Store(tmp_path / "old.db") as store:
        search(store, "outlook")  # the sample KB in
    _old_format(tmp_path / "old.db")
    with Store(tmp_path / "old.db") as store:
        columns = [r[1] for r in store.conn.execute("PRAGMA table_info(kb_fts)")]
        assert columns == ["title", "tags", "body", "ptitle", "ptags", "pbody"]
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert [[(r.id, r.score) for r in search(store, q)] for q in queries] == expected
        assert ("e", "mail") in index_phrases(store.conn)
        docs = store.conn.execute("SELECT count(*) FROM kb_documents").fetchone()[0]
        assert docs == store.conn.execute("SELECT count(*) FROM kb_fts").fetchone()[0] > 30
        assert store.conn.execute("SELECT count(DISTINCT doc) FROM kb_top").fetchone()[0] == docs
        store.conn.execute("INSERT INTO kb_fts (kb_fts) VALUES ('integrity-check')")


def test_an_index_that_records_no_phrases_searches_them_as_phrases(tmp_path):
    """A database opened read-only before its rebuild: the phrases are matched the old way."""
    queries = ["email stuck in outbox", "password prompt keeps coming back", "spam folder", "new hire mailbox"]
    with Store(tmp_path / "kb.db") as store:
        plans = [search_outcome(store, q).plan for q in queries]
        assert all(any(len(a) > 1 for c in p.concepts for a in c.alternatives) for p in plans)  # phrases searched
        expected = [[(r.id, r.score, r.snippet) for r in search(store, q)] for q in queries]
        with store.transaction() as cur:
            cur.execute("DELETE FROM kb_meta WHERE key = 'phrases'")
        assert index_phrases(store.conn) == frozenset()
        assert [[(r.id, r.score, r.snippet) for r in search(store, q)] for q in queries] == expected
        assert all(expected)
    assert len(builtin_phrases()) > 100
