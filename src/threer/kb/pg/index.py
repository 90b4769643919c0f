"""`PgKb`: the KB index in the team database, as `PostgresStore.kb_index()` returns it.

It answers a search's questions (threer.kb.backend.KbIndex) from `kb_documents` — the
analysed columns, their lengths and a tsvector with field labels under a GIN index —
and does the writes: documents (articles, imported pages, past cases mirrored from the
store's `cases` table), the spelling vocabulary, outcome feedback, and the counts BM25
needs (`kb_totals`, kept in the same transactions). Every write transaction takes one
advisory lock, so two technicians indexing at once queue rather than race; searches take
no lock and read one snapshot (REPEATABLE READ).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from threer.errors import NotFound
from threer.kb.analysis import analyzer_signature, index_text, plain_text
from threer.kb.models import IndexReport, KbDocument
from threer.kb.pg import schema
from threer.kb.pg.terms import lengths, tsquery_text, tsvector_text
from threer.kb.ranking import COUNT_CAP, COUNT_CAP_SHARE, DEFAULT_AVERAGES, IndexStats

_DOCUMENT_COLUMNS = "doc_id, title, source, origin, tags, body, format, path, domain, indexed_at"


class PgKb:
    """The team's KB index; one per PostgresStore, on its connection."""

    backend = "postgresql"
    read_only: str | None = None

    def __init__(self, store: Any) -> None:
        self.store = store
        self.where = store.describe()
        self._cur: Any = None
        self._delta: list[int] | None = None
        self._df: dict[str, int] | None = None  # kb_terms changes of the write under way
        self._exact: dict[tuple[str, ...], int] = {}  # the snapshot's exact document counts
        self._stats: IndexStats | None = None  # the snapshot's, with its document counts
        self._tokens = 0  # terms in all fields of all documents (FTS5's average row length)
        with self.write(lock=False) as cur:
            schema.ensure_schema(cur, self.where)
        self.trigrams, self.spelling_note = schema.trigram_support(store._conn)

    # -- transactions ----------------------------------------------------------------

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """The search snapshot's cursor, or a transaction of its own."""
        if self._cur is not None:
            yield self._cur
            return
        from psycopg.rows import tuple_row

        with self.store._tx():
            with self.store._conn.cursor(row_factory=tuple_row) as cur:
                yield cur

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self._cur is not None:
            yield
            return
        from psycopg.rows import tuple_row

        with self.store._tx():
            with self.store._conn.cursor(row_factory=tuple_row) as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                self._cur = cur
                try:
                    yield
                finally:
                    self._cur = None
                    self._stats = None
                    self._exact = {}

    @contextmanager
    def write(self, *, lock: bool = True) -> Iterator[Any]:
        """One write transaction under the KB lock; the BM25 counts are brought up to date at its end."""
        from psycopg.rows import tuple_row

        with self.store._tx():
            with self.store._conn.cursor(row_factory=tuple_row) as cur:
                if lock:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (schema.LOCK_KEY,))
                delta = [0, 0, 0, 0, 0]
                df: dict[str, int] = {}
                self._delta, self._df = delta, df
                try:
                    yield cur
                finally:
                    self._delta, self._df = None, None
                changed = [(t, n) for t, n in df.items() if n]
                if changed:
                    cur.execute("INSERT INTO kb_terms (term, df) SELECT * FROM unnest(%s::text[], %s::int[]) "
                                "ON CONFLICT (term) DO UPDATE SET df = kb_terms.df + excluded.df",
                                ([t for t, _ in changed], [n for _, n in changed]))
                if any(delta):
                    cur.execute("UPDATE kb_totals SET documents = documents + %s, title = title + %s, "
                                "tags = tags + %s, body = body + %s, phrases = phrases + %s", delta)

    def close(self) -> None:
        """The connection is the store's: nothing of its own to close."""

    def __enter__(self) -> "PgKb":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a search asks (threer.kb.backend.KbIndex) ------------------------------

    def stats(self) -> IndexStats:
        with self._cursor() as cur:
            cur.execute("SELECT documents, title, tags, body, phrases FROM kb_totals")
            n, title, tags, body, phrases = cur.fetchone()
        n = int(n)
        self._tokens = int(title) + int(tags) + int(body) + int(phrases)
        if n > 0:
            averages = tuple(max(1.0, int(total) / n) for total in (title, tags, body))
        else:  # as the SQLite index says of an empty index
            averages = DEFAULT_AVERAGES
        stats = IndexStats(documents=n, average_lengths=averages)  # type: ignore[arg-type]
        if self._cur is not None:
            self._stats = stats
        return stats

    def document_count(self, stats: IndexStats, alternative: tuple[str, ...]) -> int:
        cached = stats.df_cache.get(alternative)
        if cached is None:
            cap = max(COUNT_CAP, int(stats.documents * COUNT_CAP_SHARE))
            counted = self._exact_count(alternative)
            cached = counted if counted <= cap else max(cap, stats.documents // 3)
            stats.df_cache[alternative] = cached
        return cached

    def _exact_count(self, alternative: tuple[str, ...]) -> int:
        """Documents holding the alternative: kept in kb_terms for terms and built-in thesaurus phrases."""
        counted = self._exact.get(alternative)
        if counted is not None:
            return counted
        from threer.kb.phrases import builtin_phrases, joined

        with self._cursor() as cur:
            if len(alternative) == 1 or alternative in builtin_phrases():
                key = alternative[0] if len(alternative) == 1 else joined(alternative)
                cur.execute("SELECT df FROM kb_terms WHERE term = %s", (key,))
                row = cur.fetchone()
                counted = int(row[0]) if row else 0
            else:  # a partner's thesaurus phrase, a quoted phrase: counted by the GIN index
                cur.execute("SELECT count(*) FROM kb_documents WHERE tsv @@ %s::tsquery",
                            (tsquery_text([alternative]),))
                counted = int(cur.fetchone()[0])
        if self._cur is not None:
            self._exact[alternative] = counted
        return counted

    def in_titles(self, term: str) -> bool:
        with self._cursor() as cur:
            cur.execute("SELECT 1 FROM kb_documents WHERE tsv @@ %s::tsquery LIMIT 1", (tsquery_text([(term,)], "AB"),))
            return cur.fetchone() is not None

    def correct(self, word: str, df: Callable[[tuple[str, ...]], int]) -> str | None:
        from threer.kb.pg.spelling import correct

        with self._cursor() as cur:
            return correct(self, cur, word, df)

    def best(self, alternatives: list[tuple[str, ...]], source: str | None, pool: int) -> dict[int, float]:
        from threer.kb.pg.bm25 import fts5_idf, scores

        alternatives = list(dict.fromkeys(alternatives))
        if not alternatives:
            return {}
        stats = self._stats if self._cur is not None and self._stats is not None else self.stats()
        n, tokens = stats.documents, self._tokens
        if n <= 0:
            return {}
        idfs = [fts5_idf(n, self._exact_count(alt)) for alt in alternatives]
        lexemes = sorted({t for alt in alternatives for t in alt})
        # each row's tsvector cut down to the query's terms (relabelled C, a label no field uses, then kept)
        sql = ("SELECT d.id, d.len_title + d.len_tags + d.len_body + d.len_phrases, d.len_title, d.len_tags, "
               "ts_filter(setweight(d.tsv, 'C', %s::text[]), '{c}')::text FROM kb_documents AS d "
               "WHERE d.tsv @@ %s::tsquery")
        args: list[Any] = [lexemes, tsquery_text(alternatives)]
        if source:
            sql += " AND d.source = %s"
            args.append(source)
        with self._cursor() as cur:
            cur.execute(sql, args)
            found = scores(cur.fetchall(), alternatives, idfs, tokens / n)
        ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))[:pool]
        return dict(ranked)

    def analysed(self, rowids: list[int]) -> list[tuple[int, str, str, str]]:
        with self._cursor() as cur:
            cur.execute("SELECT id, terms_title, terms_tags, terms_body FROM kb_documents WHERE id = ANY(%s)",
                        (list(rowids),))
            return [tuple(r) for r in cur.fetchall()]

    def documents(self, rowids: list[int]) -> dict[int, Mapping[str, Any]]:
        with self._cursor() as cur:
            cur.execute("SELECT id, doc_id, title, source, body, format, path FROM kb_documents WHERE id = ANY(%s)",
                        (list(rowids),))
            names = ("rowid", "doc_id", "title", "source", "body", "format", "path")
            return {r[0]: dict(zip(names, r)) for r in cur.fetchall()}

    def learned_boosts(self, plan: Any, source: str | None) -> dict[int, float]:
        from threer.kb.pg.feedback import learned_boosts

        with self._cursor() as cur:
            return learned_boosts(self, cur, plan, source)

    def thesaurus(self, partner_file: Path | None) -> Any:
        from threer.kb.thesaurus import load_thesaurus

        return load_thesaurus(partner_file)  # kept per process: the team database holds no machine's files

    def keep_thesaurus(self, thesaurus: Any) -> None:
        return None

    # -- documents -------------------------------------------------------------------

    def get_document(self, doc_id: str) -> KbDocument:
        from threer.kb.documents import check_document_id, id_candidates
        from threer.safe_text import quoted

        wanted = doc_id.strip()
        check_document_id(wanted)
        with self._cursor() as cur:
            for candidate in id_candidates(wanted):
                cur.execute(f"SELECT {_DOCUMENT_COLUMNS} FROM kb_documents WHERE doc_id = %s", (candidate,))
                row = cur.fetchone()
                if row is not None:
                    return _document(row)
            cur.execute(f"SELECT {_DOCUMENT_COLUMNS} FROM kb_documents WHERE lower(doc_id) = lower(%s) "
                        "ORDER BY id LIMIT 1", (wanted,))
            row = cur.fetchone()
            if row is not None:
                return _document(row)
        raise NotFound(f"No article or past case with id {quoted(wanted, 60)}. "
                       "Run `threer kb search WORDS` to find the ids.")

    def article_dates(self) -> list[tuple[str, str, str]]:
        with self._cursor() as cur:
            cur.execute("SELECT doc_id, origin, indexed_at FROM kb_documents WHERE source = 'kb'")
            return [(r[0], r[1], r[2]) for r in cur.fetchall()]

    def put_document(
        self,
        cur: Any,
        *,
        doc_id: str,
        source: str,
        origin: str,
        title: str,
        tags: list[str],
        body: str,
        fmt: str,
        path: str | None,
        domain: str | None = None,
        size: int | None = None,
        mtime_ns: int | None = None,
        content_hash: str | None = None,
        columns: tuple[str, ...] | None = None,
        replace_id: int | None = None,
        indexed_at: str | None = None,
        record_spelling: bool = True,
    ) -> int:
        """Insert or replace a document (by `replace_id`, else by id) inside a `write()`; return its id."""
        from threer.kb.documents import now_iso

        analysed, phrases, holds = _columns(columns or index_text(title, tags, plain_text(body, fmt)))
        if record_spelling and source == "kb":
            from threer.kb.spelling import spell_terms

            self.record_terms(cur, spell_terms(analysed))
        sizes = (*lengths(analysed), phrases)
        values = (doc_id, source, origin, path, size, mtime_ns, content_hash, fmt, domain, indexed_at or now_iso(),
                  title, ", ".join(tags), body, *analysed, *sizes, tsvector_text(analysed))
        if replace_id is None:
            cur.execute("SELECT id FROM kb_documents WHERE doc_id = %s", (doc_id,))
            row = cur.fetchone()
            replace_id = row[0] if row else None
        if replace_id is not None:  # in place, so the document keeps its number (the ranking's tie-break)
            cur.execute("SELECT len_title, len_tags, len_body, len_phrases, terms_title, terms_tags, terms_body "
                        "FROM kb_documents WHERE id = %s FOR UPDATE", (replace_id,))
            row = cur.fetchone()
            if row is not None:
                old = row[:4]
                self._count_terms(_columns(tuple(row[4:7]))[2], -1)
                self._count_terms(holds, 1)
                cur.execute(
                    "UPDATE kb_documents SET doc_id = %s, source = %s, origin = %s, path = %s, size = %s, "
                    "mtime_ns = %s, content_hash = %s, format = %s, domain = %s, indexed_at = %s, title = %s, "
                    "tags = %s, body = %s, terms_title = %s, terms_tags = %s, terms_body = %s, len_title = %s, "
                    "len_tags = %s, len_body = %s, len_phrases = %s, tsv = %s::tsvector WHERE id = %s",
                    (*values, replace_id))
                self._count(0, [new - was for new, was in zip(sizes, old)])
                return int(replace_id)
        cur.execute(
            "INSERT INTO kb_documents (doc_id, source, origin, path, size, mtime_ns, content_hash, format, domain, "
            "indexed_at, title, tags, body, terms_title, terms_tags, terms_body, len_title, len_tags, len_body, "
            "len_phrases, tsv) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s::tsvector) "
            "RETURNING id", values)
        new_id = int(cur.fetchone()[0])
        self._count(1, sizes)
        self._count_terms(holds, 1)
        return new_id

    def delete_id(self, cur: Any, rowid: int) -> bool:
        cur.execute("DELETE FROM kb_documents WHERE id = %s RETURNING len_title, len_tags, len_body, len_phrases, "
                    "terms_title, terms_tags, terms_body", (rowid,))
        row = cur.fetchone()
        if row is None:
            return False
        self._count(-1, row[:4], sign=-1)
        self._count_terms(_columns(tuple(row[4:7]))[2], -1)
        return True

    def _count_terms(self, holds: set[str], sign: int) -> None:
        assert self._df is not None, "KB writes happen inside PgKb.write()"
        df = self._df
        for t in holds:
            df[t] = df.get(t, 0) + sign

    def _count(self, documents: int, sizes: Any, sign: int = 1) -> None:
        assert self._delta is not None, "KB writes happen inside PgKb.write()"
        self._delta[0] += documents
        for i in range(4):
            self._delta[i + 1] += sign * int(sizes[i])

    def record_terms(self, cur: Any, terms: set[str]) -> None:
        if not terms:
            return
        cur.execute("INSERT INTO kb_spell (term, len) SELECT t, length(t) FROM unnest(%s::text[]) AS t "
                    "ON CONFLICT (term) DO NOTHING", (sorted(terms),))
        if cur.rowcount:
            cur.execute("INSERT INTO kb_meta (key, value) VALUES ('spell_change', %s) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value", (secrets.token_hex(8),))

    def known_terms(self) -> set[str]:
        with self._cursor() as cur:
            cur.execute("SELECT term FROM kb_spell")
            return {r[0] for r in cur.fetchall()}

    def meta(self, key: str) -> str | None:
        with self._cursor() as cur:
            cur.execute("SELECT value FROM kb_meta WHERE key = %s", (key,))
            row = cur.fetchone()
            return row[0] if row else None

    @staticmethod
    def set_meta(cur: Any, key: str, value: str) -> None:
        cur.execute("INSERT INTO kb_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                    "SET value = excluded.value", (key, value))

    def ensure_analyzer(self) -> bool:
        """Analyse every document again when the index was made by another analysis; True if it did."""
        from threer.kb.spelling import spell_terms

        signature = analyzer_signature()
        if self.meta("analyzer") == signature:
            return False
        with self.write() as cur:
            cur.execute("SELECT value FROM kb_meta WHERE key = 'analyzer'")
            row = cur.fetchone()
            if row is not None and row[0] == signature:
                return False
            cur.execute("SELECT id, title, tags, body, format, source FROM kb_documents ORDER BY id")
            rows = cur.fetchall()
            spelling: set[str] = set()
            counts: dict[str, int] = {}
            for rowid, title, tags, body, fmt, source in rows:
                columns, phrases, holds = _columns(index_text(title, tags, plain_text(body, fmt)))
                for t in holds:
                    counts[t] = counts.get(t, 0) + 1
                cur.execute("UPDATE kb_documents SET terms_title = %s, terms_tags = %s, terms_body = %s, "
                            "len_title = %s, len_tags = %s, len_body = %s, len_phrases = %s, tsv = %s::tsvector "
                            "WHERE id = %s", (*columns, *lengths(columns), phrases, tsvector_text(columns), rowid))
                if source == "kb":
                    spelling |= spell_terms(columns)
            cur.execute("DELETE FROM kb_spell")
            self.record_terms(cur, spelling)
            cur.execute("DELETE FROM kb_terms")
            cur.execute("INSERT INTO kb_terms (term, df) SELECT * FROM unnest(%s::text[], %s::int[])",
                        (list(counts), list(counts.values())))
            cur.execute("UPDATE kb_totals SET documents = (SELECT count(*) FROM kb_documents), "
                        "title = (SELECT coalesce(sum(len_title), 0) FROM kb_documents), "
                        "tags = (SELECT coalesce(sum(len_tags), 0) FROM kb_documents), "
                        "body = (SELECT coalesce(sum(len_body), 0) FROM kb_documents), "
                        "phrases = (SELECT coalesce(sum(len_phrases), 0) FROM kb_documents)")
            self.set_meta(cur, "analyzer", signature)
        return bool(rows)

    # -- indexing (threer.kb.pg.files) -----------------------------------------------

    def index_roots(self, roots: list[Path], *, origin: str, progress: Any = None, workers: int | None = None
                    ) -> IndexReport:
        from threer.kb.pg.files import index_roots

        return index_roots(self, roots, origin=origin, progress=progress, workers=workers)

    def ensure_sample_kb(self) -> IndexReport | None:
        from threer.kb.pg.files import ensure_sample_kb

        return ensure_sample_kb(self)

    def save_page(self, *, doc_id: str, url: str, doc: Any, digest: str) -> str:
        from threer.kb.pg.files import save_page

        return save_page(self, doc_id=doc_id, url=url, doc=doc, digest=digest)

    def page_ids(self) -> list[tuple[str, int]]:
        """(doc_id, row id) of every imported page."""
        with self._cursor() as cur:
            cur.execute("SELECT doc_id, id FROM kb_documents WHERE origin = 'web'")
            return [(r[0], r[1]) for r in cur.fetchall()]

    def remove_pages(self, rowids: list[int]) -> None:
        """Take these imported pages out, in one write."""
        with self.write() as cur:
            for rowid in rowids:
                self.delete_id(cur, rowid)

    # -- past cases and feedback -----------------------------------------------------

    def sync_cases(self) -> int:
        """Bring the store's past cases (`cases`) into the index: add and change what changed, drop what went."""
        with self._cursor() as cur:
            cur.execute("SELECT c.doc_id FROM cases AS c LEFT JOIN kb_documents AS d ON d.doc_id = c.doc_id "
                        "WHERE d.content_hash IS DISTINCT FROM 'team:' || c.change")
            changed = [r[0] for r in cur.fetchall()]
            cur.execute("SELECT d.id FROM kb_documents AS d WHERE d.source = 'case' AND NOT EXISTS "
                        "(SELECT 1 FROM cases AS c WHERE c.doc_id = d.doc_id)")
            gone = [r[0] for r in cur.fetchall()]
        if not changed and not gone:
            return 0
        with self.write() as cur:
            for rowid in gone:
                self.delete_id(cur, rowid)
            if changed:
                cur.execute("SELECT doc_id, title, tags, body, domain, indexed_at, change FROM cases "
                            "WHERE doc_id = ANY(%s) ORDER BY change", (changed,))
                for doc_id, title, tags, body, domain, indexed_at, change in cur.fetchall():
                    self.put_document(cur, doc_id=doc_id, source="case", origin="case", title=title,
                                      tags=[t.strip() for t in tags.split(",") if t.strip()], body=body, fmt="text",
                                      path=None, domain=domain, content_hash=f"team:{change}", indexed_at=indexed_at)
        return len(changed) + len(gone)

    @staticmethod
    def forget_sessions(cur: Any, session_ids: list[str]) -> None:
        """Inside the store's transaction deleting these sessions: their past cases and what they taught."""
        from threer.kb.cases import case_id
        from threer.kb.pg.feedback import forget_sessions

        forget_sessions(cur, session_ids)
        cur.execute("DELETE FROM kb_documents WHERE doc_id = ANY(%s) AND source = 'case' "
                    "RETURNING len_title, len_tags, len_body, len_phrases, terms_title, terms_tags, terms_body",
                    ([case_id(s) for s in session_ids],))
        rows = cur.fetchall()
        if rows:
            cur.execute("UPDATE kb_totals SET documents = documents - %s, title = title - %s, tags = tags - %s, "
                        "body = body - %s, phrases = phrases - %s",
                        (len(rows), *(sum(int(r[i]) for r in rows) for i in range(4))))
            gone: dict[str, int] = {}
            for r in rows:
                for t in _columns(tuple(r[4:7]))[2]:
                    gone[t] = gone.get(t, 0) + 1
            cur.execute("UPDATE kb_terms SET df = kb_terms.df - g.n FROM unnest(%s::text[], %s::int[]) AS g(t, n) "
                        "WHERE kb_terms.term = g.t", (list(gone), list(gone.values())))

    def record_outcomes(self, *, session_id: str, issue: str, outcomes: dict[str, str]) -> int:
        from threer.kb.pg.feedback import record_outcomes

        return record_outcomes(self, session_id=session_id, issue=issue, outcomes=outcomes)

    def counts(self) -> dict[str, int]:
        with self._cursor() as cur:
            out = {}
            for name, sql in (("kb_articles", "SELECT count(*) FROM kb_documents WHERE source = 'kb'"),
                              ("kb_cases", "SELECT count(*) FROM kb_documents WHERE source = 'case'"),
                              ("kb_feedback", "SELECT count(*) FROM kb_feedback"),
                              ("kb_words", "SELECT count(*) FROM kb_spell")):
                cur.execute(sql)
                out[name] = int(cur.fetchone()[0])
            return out


def _columns(columns: tuple[str, ...]) -> tuple[tuple[str, str, str], int, set[str]]:
    """(title, tags, body terms, how many joined thesaurus phrases they hold, the terms and joined phrases
    the document holds: what kb_terms counts).

    The SQLite index also writes each built-in thesaurus phrase as one joined term into
    extra columns (threer.kb.phrases), and FTS5's BM25 counts those terms in a row's
    length: the team index keeps their number so that its BM25 is the same. `columns` are
    the three analysed columns, or the six of threer.kb.phrases.indexed_columns.
    """
    analysed = (columns[0], columns[1], columns[2])
    if len(columns) >= 6:
        extra = columns[3:6]
    else:
        from threer.kb.phrases import builtin_phrases

        extra = tuple(builtin_phrases().column(c) for c in analysed)
    joined = [c.split() for c in extra]
    holds = {t for c in (*analysed, *extra) for t in c.split()}
    return analysed, sum(len(c) for c in joined), holds


def _document(row: tuple[Any, ...]) -> KbDocument:
    doc_id, title, source, origin, tags, body, fmt, path, domain, indexed_at = row
    return KbDocument(id=doc_id, title=title, source=source, origin=origin,
                      tags=[t.strip() for t in tags.split(",") if t.strip()], body=body, format=fmt, path=path,
                      domain=domain, indexed_at=indexed_at)
