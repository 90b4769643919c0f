"""Indexing article folders, the bundled sample KB and imported pages into the team index.

The same run as threer.kb.index (the same scan, the same reading in worker processes, the
same rules for unchanged files, ids kept for past cases and pages, a partner's copy of a
sample article, two files claiming one id), writing to the team database in batches of
threer.kb.index.BATCH documents, each batch one transaction under the KB lock that
re-checks the rows it replaces, so two technicians indexing at once leave one index.

File paths are those of the machine that indexed them: a folder indexed from two machines
should be one shared folder (the same path on both), or the articles of each must have
ids of their own.
"""

from __future__ import annotations

import os
from pathlib import Path
from time import perf_counter
from typing import Any

from threer.kb import index as files_index
from threer.kb.models import IndexReport, IndexWarning, SkippedFile



def _existing(kb: Any, roots: list[Path], origin: str) -> dict[str, tuple[Any, ...]]:
    """path -> (id, doc_id, size, mtime_ns, hash) of what the index holds under these roots."""
    sql = "SELECT path, id, doc_id, size, mtime_ns, content_hash FROM kb_documents WHERE origin = %s"
    rows: list[Any] = []
    with kb._cursor() as cur:
        if origin == "sample":
            cur.execute(sql, (origin,))
            rows = cur.fetchall()
        else:
            for root in roots:
                text = str(root)
                if root.is_dir():
                    prefix = text.rstrip(os.sep) + os.sep
                    cur.execute(sql + " AND path >= %s AND path < %s", (origin, prefix, prefix[:-1] + chr(ord(os.sep) + 1)))
                else:
                    cur.execute(sql + " AND path = %s", (origin, text))
                rows += cur.fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


class _Writer:
    def __init__(self, kb: Any, origin: str, report: IndexReport) -> None:
        from threer.kb.documents import now_iso

        self.kb = kb
        self.origin = origin
        self.report = report
        self.deferred: list[tuple[Any, tuple[Any, ...]]] = []
        self.removed_files = False
        self.now = now_iso()
        self._spelling: set[str] | None = None

    @property
    def spelling(self) -> set[str]:
        """The index's spelling terms, read when a first document is written (as threer.kb.index._Writer)."""
        if self._spelling is None:
            self._spelling = self.kb.known_terms()
        return self._spelling

    def remove(self, stale: dict[str, tuple[Any, ...]]) -> None:
        items = list(stale.items())
        for start in range(0, len(items), files_index.BATCH):
            with self.kb.write() as cur:
                for path, (rowid, *_rest) in items[start:start + files_index.BATCH]:
                    cur.execute("SELECT 1 FROM kb_documents WHERE id = %s AND path = %s", (rowid, path))
                    if cur.fetchone() and self.kb.delete_id(cur, rowid):
                        self.report.removed += 1
                        self.removed_files = True

    def apply_batch(self, cur: Any, items: list[Any], outcomes: list[tuple[Any, ...]]) -> None:
        for item, outcome in zip(items, outcomes):
            self.apply(cur, item, outcome, last_try=False)

    def apply(self, cur: Any, found: Any, result: tuple[Any, ...], *, last_try: bool) -> None:
        kb, report = self.kb, self.report
        kind = result[0]
        cur.execute("SELECT id, doc_id, content_hash FROM kb_documents WHERE origin = %s AND path = %s",
                    (self.origin, found.path))
        current = cur.fetchone()
        if kind == "skip":
            report.skipped.append(SkippedFile(path=found.path, reason=result[1]))
            if current is not None:  # it was an article, now it cannot be read: drop the stale copy
                kb.delete_id(cur, current[0])
            return
        digest = result[1]
        if current is not None and current[2] == digest:
            cur.execute("UPDATE kb_documents SET size = %s, mtime_ns = %s WHERE id = %s",
                        (found.size, found.mtime_ns, current[0]))
            report.unchanged += 1
            return
        if kind == "same":  # another run changed the row since we looked: read the file again
            result = files_index._read_one((found.path, found.kind, os.path.basename(found.path), None))
            self.apply(cur, found, result, last_try=last_try)
            return
        doc, columns = result[2], result[3]
        fresh = result[4] - self.spelling
        if fresh:
            kb.record_terms(cur, fresh)
            self.spelling.update(fresh)
        doc_id = doc.doc_id or found.derived_id
        if doc_id.lower().startswith(files_index.RESERVED_PREFIXES):
            report.skipped.append(SkippedFile(
                path=found.path,
                reason=f"its id {doc_id!r} starts with {doc_id.split(':', 1)[0] + ':'!r}, which is kept for "
                "past cases and imported pages; give it another id",
            ))
            if current is not None:
                kb.delete_id(cur, current[0])
            return
        cur.execute("SELECT id, origin, path FROM kb_documents WHERE doc_id = %s", (doc_id,))
        conflict = cur.fetchone()
        if conflict is not None and (current is None or conflict[0] != current[0]):
            if not self._resolve_conflict(cur, conflict, found, doc_id, result, last_try=last_try):
                if current is not None and not (self.deferred and self.deferred[-1][0] is found):
                    # skipped, not put off to the run's end: its earlier version leaves too (it no longer says that)
                    self.kb.delete_id(cur, current[0])
                    self.report.removed += 1
                return
        kb.put_document(cur, doc_id=doc_id, source="kb", origin=self.origin, title=doc.title, tags=doc.tags,
                        body=doc.body, fmt=doc.format, path=found.path, size=found.size, mtime_ns=found.mtime_ns,
                        content_hash=digest, columns=columns, replace_id=current[0] if current is not None else None,
                        indexed_at=self.now, record_spelling=False)
        for message in doc.warnings:
            report.warnings.append(IndexWarning(path=found.path, message=message))
        if current is None:
            report.added += 1
        else:
            report.updated += 1

    def _resolve_conflict(self, cur: Any, conflict: Any, found: Any, doc_id: str, result: tuple[Any, ...], *,
                          last_try: bool) -> bool:
        """True when the id is free now; False when this file is deferred or skipped."""
        rowid, other_origin, other_path = conflict
        if self.origin == "file" and other_origin == "sample":
            self.kb.delete_id(cur, rowid)  # the partner's own copy of a sample article wins, and is told so
            self.report.warnings.append(IndexWarning(
                path=found.path,
                message=f"its id {doc_id!r} replaces the sample article {other_path} (delete this file or "
                "change its id to get the sample back)",
            ))
            return True
        if self.origin == "sample" and other_origin != "sample":
            self.report.skipped.append(SkippedFile(path=found.path, reason=f"replaced by the article {doc_id!r}"))
            return False
        if other_origin == "file" and other_path and not os.path.exists(other_path):
            self.kb.delete_id(cur, rowid)  # left over from a folder that was never re-indexed
            return True
        if not last_try:
            self.deferred.append((found, result))  # the other file may change its id later in this run
            return False
        self.report.skipped.append(SkippedFile(
            path=found.path,
            reason=f"its id {doc_id!r} is already used by {other_path or other_origin} (the file indexed first "
            "keeps it; give this one another id)",
        ))
        return False


def index_roots(kb: Any, roots: list[Path], *, origin: str, progress: Any = None, workers: int | None = None
                ) -> IndexReport:
    started = perf_counter()
    report = IndexReport()
    kb.ensure_analyzer()
    files_index._spell_sent.clear()
    existing = _existing(kb, roots, origin)
    files = files_index.sort_out(roots, existing, report.skipped)
    writer = _Writer(kb, origin, report)
    files_index.apply_found(files, existing, writer, kb.write, origin=origin, report=report, progress=progress,
                            workers=workers)
    report.seconds = round(perf_counter() - started, 3)
    return report


def ensure_sample_kb(kb: Any) -> IndexReport | None:
    """Index the bundled sample articles when they are new or changed in the team index."""
    kb.ensure_analyzer()
    fingerprint, _count = files_index.sample_fingerprint()
    if kb.meta("sample_fingerprint") == fingerprint:
        return None
    sample = files_index.SAMPLE_DIR
    report = index_roots(kb, [sample], origin="sample") if sample.is_dir() else IndexReport()
    with kb.write() as cur:
        kb.set_meta(cur, "sample_fingerprint", fingerprint)
    return report


def save_page(kb: Any, *, doc_id: str, url: str, doc: Any, digest: str) -> str:
    """Store an imported page: "added", "updated", "unchanged", or "taken" (an article has its id)."""
    with kb.write() as cur:
        cur.execute("SELECT id, origin, content_hash FROM kb_documents WHERE doc_id = %s", (doc_id,))
        row = cur.fetchone()
        if row is not None and row[1] != "web":
            return "taken"
        if row is not None and row[2] == digest:
            cur.execute("UPDATE kb_documents SET path = %s WHERE id = %s", (url, row[0]))
            return "unchanged"
        kb.put_document(cur, doc_id=doc_id, source="kb", origin="web", title=doc.title, tags=doc.tags, body=doc.body,
                        fmt=doc.format, path=url, content_hash=digest, replace_id=row[0] if row is not None else None)
        return "added" if row is None else "updated"
