"""What ranked search asks of a KB index, so one search runs on SQLite or on the team's PostgreSQL.

`threer.kb.search` reads a query, plans it and scores candidates the same way whatever
holds the index; the index only answers the questions below (document counts, the
BM25 best candidates, the analysed text of a few rows, the spelling vocabulary, what was
learnt from outcomes). Two implementations:

- `SqliteKbIndex` (here): the FTS5 tables of threer's SQLite file (`threer.store.Store`);
- `threer.kb.pg.index.PgKb`: tsvector columns in the team database (`database_url`).

`kb_index_of(store)` gives the one for whatever `SessionStore.kb_index()` returned. Code
outside threer.kb never needs this module: it calls `threer.kb.search.search`,
`threer.kb.index.index_paths`, `threer.kb.documents.find_document` and
`threer.kb.feedback.record_outcomes` with that object.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from threer.kb.ranking import IndexStats, best_bm25, document_count, fts_phrase, index_stats


@runtime_checkable
class KbIndex(Protocol):
    """The questions a search asks of its index (rowids are the index's own document numbers)."""

    backend: str  # "sqlite" | "postgresql"

    def snapshot(self) -> AbstractContextManager[None]:
        """Every question inside sees the same index (one read transaction)."""
        ...

    def stats(self) -> IndexStats: ...

    def document_count(self, stats: IndexStats, alternative: tuple[str, ...]) -> int:
        """Documents holding the term sequence, counted up to the cap of ranking.document_count."""
        ...

    def in_titles(self, term: str) -> bool:
        """Whether any title or tag holds the term (a Capitalised word that none does is a name)."""
        ...

    def correct(self, word: str, df: Callable[[tuple[str, ...]], int]) -> str | None:
        """The index term a misspelt word most likely meant (threer.kb.spelling.correct's rules)."""
        ...

    def best(self, alternatives: list[tuple[str, ...]], source: str | None, pool: int) -> dict[int, float]:
        """rowid -> BM25 (FTS5's formula, field weights ranking.FIELD_WEIGHTS) of the `pool` best rows
        holding any of the alternatives, ties broken by rowid."""
        ...

    def analysed(self, rowids: list[int]) -> list[tuple[int, str, str, str]]:
        """(rowid, title, tags, body) of these rows as analysed terms separated by spaces."""
        ...

    def documents(self, rowids: list[int]) -> dict[int, Mapping[str, Any]]:
        """rowid -> doc_id, title, source, body, format, path of these rows."""
        ...

    def learned_boosts(self, plan: Any, source: str | None) -> dict[int, float]:
        """rowid -> lift from stored outcomes like this query (threer.kb.feedback)."""
        ...

    def thesaurus(self, partner_file: Path | None) -> Any:
        """The loaded thesaurus (the index may keep its analysed form for the next process)."""
        ...

    def keep_thesaurus(self, thesaurus: Any) -> None:
        """After a search that went well: keep a freshly analysed thesaurus for next time."""
        ...


def kb_index_of(store: Any) -> KbIndex:
    """The search interface of what `SessionStore.kb_index()` returned (a SQLite Store, or the team's)."""
    if getattr(store, "backend", "sqlite") == "postgresql":
        return store  # type: ignore[no-any-return]  # threer.kb.pg.index.PgKb implements KbIndex itself
    return SqliteKbIndex(store)


def is_team_index(store: Any) -> bool:
    """Whether the KB index is the team database's (threer.kb.pg) rather than a SQLite file."""
    return getattr(store, "backend", "sqlite") == "postgresql"


def describe_search(store: Any) -> dict[str, Any]:
    """What `threer db status` says of KB search: which index, which typo correction, and its counts."""
    if is_team_index(store):
        from threer.kb.pg.schema import KB_SCHEMA_VERSION

        kb = store.kb_index()
        return {"index": "postgresql", "spelling": "pg_trgm" if kb.trigrams else "rapidfuzz",
                "spelling_note": None if kb.trigrams else kb.spelling_note, "kb_schema_version": KB_SCHEMA_VERSION,
                "counts": kb.counts()}
    conn = store.conn
    counts = {}
    for name, sql in (("kb_articles", "SELECT count(*) FROM kb_documents WHERE source = 'kb'"),
                      ("kb_cases", "SELECT count(*) FROM kb_documents WHERE source = 'case'"),
                      ("kb_feedback", "SELECT count(*) FROM kb_feedback"),
                      ("kb_words", "SELECT count(*) FROM kb_spell")):
        try:
            counts[name] = int(conn.execute(sql).fetchone()[0])
        except sqlite3.Error:  # a database from before the KB learning tables, opened read-only
            counts[name] = 0
    return {"index": "sqlite", "spelling": "rapidfuzz", "spelling_note": None, "kb_schema_version": None,
            "counts": counts}


class SqliteKbIndex:
    """KbIndex over the FTS5 tables of a SQLite Store (kb_fts, kb_documents, kb_spell, kb_feedback)."""

    backend = "sqlite"

    def __init__(self, store: Any) -> None:
        self.store = store
        self.conn: sqlite3.Connection = store.conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        conn = self.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            # end the read quietly and let the first error through: a damaged file must be
            # reported as damaged, not as whatever COMMIT would say after it
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        conn.execute("COMMIT")

    def stats(self) -> IndexStats:
        return index_stats(self.conn)

    def document_count(self, stats: IndexStats, alternative: tuple[str, ...]) -> int:
        return document_count(self.conn, stats, alternative)

    def in_titles(self, term: str) -> bool:
        sql = "SELECT 1 FROM kb_fts WHERE kb_fts MATCH ? LIMIT 1"
        return self.conn.execute(sql, ("{title tags} : " + fts_phrase((term,)),)).fetchone() is not None

    def correct(self, word: str, df: Callable[[tuple[str, ...]], int]) -> str | None:
        from threer.kb.spelling import correct

        return correct(self.conn, word, df)

    def best(self, alternatives: list[tuple[str, ...]], source: str | None, pool: int) -> dict[int, float]:
        return best_bm25(self.conn, alternatives, source, pool, index_stats(self.conn).phrases)

    def impact_candidates(
        self, stats: IndexStats, alternatives: list[tuple[str, ...]], source: str | None, pool: int
    ) -> dict[int, float]:
        """rowid -> share of score, for the documents where these common words weigh most (threer.kb.impact)."""
        from threer.kb.impact import impact_candidates

        return impact_candidates(self.conn, stats, alternatives, source, pool)

    def analysed(self, rowids: list[int]) -> list[tuple[int, str, str, str]]:
        marks = ", ".join("?" for _ in rowids)
        sql = f"SELECT rowid, title, tags, body FROM kb_fts WHERE rowid IN ({marks})"
        return [tuple(r) for r in self.conn.execute(sql, rowids).fetchall()]

    def documents(self, rowids: list[int]) -> dict[int, Mapping[str, Any]]:
        marks = ", ".join("?" for _ in rowids)
        sql = f"SELECT rowid, doc_id, title, source, body, format, path FROM kb_documents WHERE rowid IN ({marks})"
        return {r["rowid"]: r for r in self.conn.execute(sql, rowids)}

    def learned_boosts(self, plan: Any, source: str | None) -> dict[int, float]:
        from threer.kb.feedback import learned_boosts

        return learned_boosts(self.conn, plan, source)

    def thesaurus(self, partner_file: Path | None) -> Any:
        from threer.kb.thesaurus import load_thesaurus

        conn = self.conn
        keep = None if getattr(self.store, "read_only", None) or conn.in_transaction else conn
        return load_thesaurus(partner_file, conn=keep)

    def keep_thesaurus(self, thesaurus: Any) -> None:
        if thesaurus is not None and getattr(thesaurus, "unsaved_key", None) and not self.conn.in_transaction:
            thesaurus.save_to(self.conn)
