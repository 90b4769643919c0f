"""Incremental indexing of article folders (and of the bundled sample KB) into the store.

A run scans the roots, compares each file's size and mtime with what the index
recorded (same: unchanged, nothing read), reads and hashes the others (same hash:
unchanged), parses the changed ones (in worker processes when there are many), and
writes them in short transactions. Every write re-checks the row it replaces inside
its transaction, so two runs at once leave one consistent index. Files that vanished
from an indexed folder leave the index.
"""

from __future__ import annotations

import gc
import hashlib
import os
import stat as stat_module
from collections import deque
from contextlib import contextmanager
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from operator import attrgetter
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any, NamedTuple

from threer.errors import BadInput
from threer.files import READ_FLAGS, read_up_to
from threer.safe_text import display_path, is_storable
from threer.kb.analysis import analyzer_signature
from threer.kb.backend import is_team_index
from threer.kb.documents import (INSERT_DOCUMENT_AT, INSERT_FTS, analyse, delete_rowid, ensure_analyzer, get_meta, now_iso,
                                 put_document, set_meta)
from threer.kb.impact import INSERT_TOP
from threer.kb.ingest import KIND_BY_SUFFIX, MAX_FILE_BYTES, IngestError, kind_for, parse_bytes
from threer.kb.models import IndexReport, IndexWarning, SkippedFile
from threer.kb.spelling import known_terms, record_terms

ProgressFn = Callable[[int, int], None]

SAMPLE_DIR = Path(__file__).parent / "articles"
BATCH = 2000  # documents per write transaction: under a second, so a second run can interleave
PARALLEL_MIN_FILES = 1500  # below this, starting worker processes costs more than it saves
CHUNK = 200
# chunks handed to the workers ahead of the writer: two batches' worth, so the workers go on reading while
# a batch is written (with 6, they ran dry during each write of a large build and sat idle: at 100,000
# articles a build took 0.61 s of wall time per CPU-second with 6, 0.57 s with 20; 0.5 is both cores busy)
AHEAD_CHUNKS = 2 * BATCH // CHUNK
BULK_MIN = 20  # new documents in a batch from which they are written a run at a time (_Writer.apply_batch)
LOOKUP = 500  # values in one `IN (...)` look-up
RESERVED_PREFIXES = ("case:", "web:")  # ids of past cases and imported pages; a file may not take them


class ReadDocument(NamedTuple):
    """What the writer needs of a parsed file (threer.kb.ingest.ParsedDocument without its plain text,
    which is analysed already): a tuple, so a worker hands it over in half the time."""

    doc_id: str | None
    title: str
    tags: list[str]
    body: str
    format: str
    warnings: list[str]


@dataclass
class _Found:
    path: str
    kind: str
    size: int
    mtime_ns: int
    derived_id: str  # used when the file names no id of its own


# -- scanning ---------------------------------------------------------------------------


def _check_roots(paths: Iterable[str | os.PathLike[str]], holds: Any = None) -> list[Path]:
    """The paths to index, resolved; a missing one is BadInput unless `holds(path)` says the index has
    entries from it (a deleted or moved folder: indexing it takes them out)."""
    roots: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            gone = Path(os.path.abspath(path))
            if holds is not None and is_storable(str(gone)) and holds(gone):
                roots.append(gone)
                continue
            if path.is_symlink():
                raise BadInput(f"{display_path(raw)} is a link {_link_trouble(path)}. Point it at a folder of "
                               "articles, or give that folder itself.")
            raise BadInput(f"No such file or folder: {raw}. Check the path and run `threer kb index` again.")
        if not (path.is_dir() or path.is_file()):
            raise BadInput(f"{raw} is neither a file nor a folder; give article files or folders to index.")
        if not is_storable(str(path.resolve())):
            raise BadInput(f"The name {display_path(path)} is not UTF-8; rename it (threer stores paths as UTF-8 text).")
        roots.append(path.resolve())
    return roots


def _link_trouble(link: Path) -> str:
    """What is wrong with a symbolic link that leads nowhere: a loop, or a target that is not there."""
    import errno

    try:
        os.stat(link)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "that leads back to itself (a loop of links)"
    try:
        target = os.readlink(link)
    except OSError:
        return "that cannot be followed"
    return f"to {display_path(target)}, which does not exist"


def _scan_dir(root: Path, skipped: list[SkippedFile],
              unreadable: list[str] | None = None) -> Iterator[tuple[str, str, int, int]]:
    """(path, kind, size, mtime_ns) of every article file under `root`, hidden ones left out; what cannot
    be used is added to `skipped`, and a folder that cannot be read to `unreadable` too. Plain tuples: an
    unchanged re-index runs this loop for every file and keeps none of them."""
    stack = [str(root)]
    kinds, is_regular = KIND_BY_SUFFIX, stat_module.S_ISREG
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            skipped.append(SkippedFile(path=folder, reason=f"the folder cannot be read ({exc.strerror})"))
            if unreadable is not None:
                unreadable.append(folder)
            continue
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue  # hidden files and folders (.git, editor swap files)
            if not name.isascii() and not is_storable(name):  # bytes that are not UTF-8: shown escaped, never stored
                skipped.append(SkippedFile(path=display_path(entry.path), reason="its name is not UTF-8; rename it"))
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                kind = kinds.get(name[name.rfind(".") :].lower())  # as kind_for (a name starting with "." is out)
                if kind is None:
                    continue
                info = entry.stat()
            except OSError as exc:
                skipped.append(SkippedFile(path=entry.path, reason=f"it cannot be read ({exc.strerror})"))
                continue
            if not is_regular(info.st_mode):
                skipped.append(SkippedFile(path=entry.path, reason=f"it is {_not_a_file(info.st_mode)}, not a file"))
                continue
            yield entry.path, kind, info.st_size, info.st_mtime_ns


def _not_a_file(mode: int) -> str:
    """What a path with an article's name is when it is no regular file (a link followed to it)."""
    for test, what in ((stat_module.S_ISFIFO, "a FIFO"), (stat_module.S_ISSOCK, "a socket"),
                       (stat_module.S_ISCHR, "a character device"), (stat_module.S_ISBLK, "a block device"),
                       (stat_module.S_ISDIR, "a folder behind a link (links to folders are not followed)")):
        if test(mode):
            return what
    return "not a regular file"


class SortedOut(NamedTuple):
    """The files under the roots, against what the index holds of them (`existing`, from _existing)."""

    to_read: list[_Found]  # new, or not of the size and mtime the index recorded: in order (below)
    unchanged: int  # files of the size and mtime the index recorded: not read
    stale: dict[str, tuple[Any, ...]]  # entries of `existing` whose files were not found
    total: int  # files found


def sort_out(roots: list[Path], existing: dict[str, tuple[Any, ...]], skipped: list[SkippedFile]) -> SortedOut:
    """Scan the roots and sort their files out: to read, unchanged, gone.

    The files to read come root by root, each root's sorted by path: when two files claim one id,
    "the first" is the same on every machine and run. A file under two of the roots counts once.
    Only the files to read become objects (an unchanged re-index of 100,000 files keeps none).

    An entry the scan did not find is gone, unless `_still_there` says it is not.
    """
    with _collection_paused():  # many new objects and no garbage: nothing for a collection to find
        remaining = dict(existing)
        seen: set[str] = set()
        to_read: list[_Found] = []
        unchanged = 0
        sep = os.sep
        scanned_dirs: list[str] = []
        unreadable: list[str] = []
        kept: dict[str, str] = {}  # path -> the id from its path now, of a file that kept its old one
        folders = [root for root in roots if root.is_dir()]
        for root in roots:
            if not root.exists():
                continue  # a deleted folder: its entries leave the index (they stay in `remaining`)
            # a file's id is its path from the outermost folder given that holds it, whichever order
            # the paths came in (`kb index kb kb/sub` and `kb index kb/sub kb` give sub/loop alike)
            base = _outermost(root, folders)
            if root.is_dir():
                scanned_dirs.append(str(root))
                scanned: Iterable[tuple[str, str, int, int]] = _scan_dir(root, skipped, unreadable)
            else:
                info = root.stat()
                scanned = [(str(root), kind_for(root) or "text", info.st_size, info.st_mtime_ns)]
            cut = -1 if base == root and not root.is_dir() else len(str(base).rstrip(sep)) + 1  # -1: the stem
            fresh: list[_Found] = []
            for path, kind, size, mtime_ns in scanned:
                if path in seen:
                    continue
                seen.add(path)
                row = remaining.pop(path, None)
                if row is not None and row[2] == size and row[3] == mtime_ns:
                    unchanged += 1
                    continue
                derived = root.stem if cut < 0 else path[cut:].rsplit(".", 1)[0].replace(sep, "/")
                if row is not None and row[1] != derived and _is_tail(row[1], path):
                    kept[path] = derived  # its id from the path as given now
                    derived = row[1]  # an id it was given from its path stays, whichever folder is indexed now
                fresh.append(_Found(path, kind, size, mtime_ns, derived))
            fresh.sort(key=attrgetter("path"))
            to_read += fresh
        if kept:
            # an id kept from before that a file new to the index now takes from its own path goes back to
            # the id a fresh index gives (kb/sub/loop.md was `loop`; kb/loop.md now is): no file is skipped
            taken = {f.derived_id for f in to_read if f.path not in kept}
            for found in to_read:
                if found.path in kept and found.derived_id in taken:
                    found.derived_id = kept[found.path]
        if remaining and scanned_dirs:
            remaining = {path: row for path, row in remaining.items()
                         if not _still_there(path, scanned_dirs, unreadable)}
    return SortedOut(to_read, unchanged, remaining, len(seen))


def _is_tail(doc_id: str, path: str) -> bool:
    """Whether `doc_id` is an id derived from `path`: its last parts without the suffix (`outlook/setup`)."""
    stem = os.path.splitext(path)[0].replace(os.sep, "/")
    return bool(doc_id) and (stem == doc_id or stem.endswith("/" + doc_id))


def _outermost(root: Path, folders: list[Path]) -> Path:
    """The outermost of `folders` that holds `root` (`root` itself when none does)."""
    holding = [folder for folder in folders if folder != root and root.is_relative_to(folder)]
    return min(holding, key=lambda folder: len(folder.parts)) if holding else root


def _still_there(path: str, folders: list[str], unreadable: list[str]) -> bool:
    """Whether an entry that a scan of `folders` did not find stays in the index all the same: its file is
    under a folder that could not be read this time (a permission changed for a moment must not empty
    the index of it), or it is a file a folder scan never looks at (a hidden one, or one without an
    article suffix: it was indexed by its own path) and it still exists."""
    sep = os.sep
    if any(path.startswith(folder.rstrip(sep) + sep) for folder in unreadable):
        return True
    for folder in folders:
        prefix = folder.rstrip(sep) + sep
        if path.startswith(prefix):
            parts = path[len(prefix):].split(sep)
            if any(part.startswith(".") for part in parts) or kind_for(parts[-1]) is None:
                return os.path.isfile(path)
    return False


def _existing(conn: Any, roots: list[Path], origin: str) -> dict[str, tuple[int, str, int | None, int | None, str | None]]:
    """path -> (rowid, doc_id, size, mtime_ns, hash) of what the index holds under these roots."""
    sql = "SELECT path, rowid, doc_id, size, mtime_ns, content_hash FROM kb_documents WHERE origin = ?"
    rows: list[Any] = []
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: a re-index reads one row per file, and sqlite3.Row costs more
    if origin == "sample":
        rows = cur.execute(sql, (origin,)).fetchall()
    else:
        for root in roots:
            text = str(root)
            gone = not root.exists()  # a deleted folder or file: whatever the index holds from it
            if root.is_dir() or gone:
                prefix = text.rstrip(os.sep) + os.sep
                # a range on the (origin, path) index: every path that starts with the prefix
                upper = prefix[:-1] + chr(ord(os.sep) + 1)
                rows += cur.execute(sql + " AND path >= ? AND path < ?", (origin, prefix, upper)).fetchall()
            if not root.is_dir() or gone:
                rows += cur.execute(sql + " AND path = ?", (origin, text)).fetchall()
    return {r[0]: r[1:] for r in rows}


# -- reading (in this process or in workers) ---------------------------------------------


_spell_sent: set[str] = set()  # terms this process has already handed to the writer in this run


def _read_file(path: str) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES; IngestError otherwise.

    Read with the size `fstat` gives (threer.files.read_up_to), not a buffer of the largest size
    allowed (allocating 5 MB for each 3 kB article cost more than reading it). Opened without
    blocking, so a file replaced by a FIFO since the scan is refused rather than waited on, and
    never as a controlling terminal (a link to a terminal device put in its place).
    """
    fd = os.open(path, READ_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat_module.S_ISREG(info.st_mode):
            raise IngestError("it is no longer a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise IngestError(f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        data = read_up_to(fd, MAX_FILE_BYTES, info.st_size)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:  # it grew since fstat
        raise IngestError(f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return data


def _read_one(task: tuple[str, str, str, str | None]) -> tuple[Any, ...]:
    """("same", hash) | ("doc", hash, ReadDocument, columns, new spelling terms, impact) | ("skip", reason).

    The impact list (its kb_top entries) comes as two tuples, its terms and their impacts rounded as
    kb_top stores them.

    The spelling terms are the ones this process has not handed over before in this run,
    so each term crosses from a worker to the writer about once.
    """
    path, kind, name, old_hash = task
    try:
        data = _read_file(path)
        digest = hashlib.sha256(data).hexdigest()
        if digest == old_hash:
            return ("same", digest)
        doc = parse_bytes(data, kind, name)
        analysed = analyse(doc.title, doc.tags, doc.text)
        fresh = analysed.spelling(_spell_sent)
        _spell_sent.update(fresh)
        read = ReadDocument(doc.doc_id, doc.title, doc.tags, doc.body, doc.format, doc.warnings)  # not its text
        impact = (tuple(t for t, _ in analysed.impact), tuple(round(value, 6) for _, value in analysed.impact))
        return ("doc", digest, read, analysed.columns, fresh, impact)
    except IngestError as exc:
        return ("skip", str(exc))
    except OSError as exc:
        return ("skip", f"it cannot be read ({exc.strerror or exc})")


def _read_chunk(tasks: list[tuple[str, str, str, str | None]]) -> list[tuple[Any, ...]]:
    return [_read_one(task) for task in tasks]


def _read_all(tasks: list[tuple[str, str, str, str | None]], workers: int) -> Iterator[tuple[Any, ...]]:
    """The outcome of every task, in order: in worker processes when asked, else here."""
    done = 0
    if workers > 1:
        from concurrent.futures.process import BrokenProcessPool

        try:
            for outcome in _read_in_workers(tasks, workers):
                yield outcome
                done += 1
        except (BrokenProcessPool, OSError):
            pass  # workers could not start (an embedding program without a main script): go on here
    for task in tasks[done:]:
        yield _read_one(task)


def _read_in_workers(tasks: list[tuple[str, str, str, str | None]], workers: int) -> Iterator[tuple[Any, ...]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the CLI may have a progress-bar thread running
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        chunks = iter([tasks[i : i + CHUNK] for i in range(0, len(tasks), CHUNK)])
        pending: deque[Any] = deque()
        for chunk in chunks:
            pending.append(pool.submit(_read_chunk, chunk))
            if len(pending) >= AHEAD_CHUNKS:
                break
        while pending:
            results = pending.popleft().result()
            following = next(chunks, None)
            if following is not None:
                pending.append(pool.submit(_read_chunk, following))
            yield from results


# -- writing ----------------------------------------------------------------------------


class _Writer:
    def __init__(self, store: Any, origin: str, report: IndexReport) -> None:
        self.store = store
        self.origin = origin
        self.report = report
        self.deferred: list[tuple[_Found, tuple[Any, ...]]] = []
        self.removed_files = False
        self.now = now_iso()
        self._spelling: set[str] | None = None

    @property
    def spelling(self) -> set[str]:
        """The terms kb_spell holds, read when a first document is written (a re-index of an unchanged
        folder writes none, and reading 100,000 terms cost it a tenth of a second)."""
        if self._spelling is None:
            self._spelling = known_terms(self.store.conn)
        return self._spelling

    def remove(self, stale: dict[str, tuple[int, str, int | None, int | None, str | None]]) -> None:
        items = list(stale.items())
        for start in range(0, len(items), BATCH):
            with self.store.transaction() as cur:
                for path, (rowid, *_rest) in items[start : start + BATCH]:
                    cur.execute("SELECT 1 FROM kb_documents WHERE rowid = ? AND path = ?", (rowid, path))
                    if cur.fetchone():
                        delete_rowid(cur, rowid)
                        self.report.removed += 1
                        self.removed_files = True

    def apply_batch(self, cur: Any, items: list[_Found], outcomes: list[tuple[Any, ...]]) -> None:
        """Write one batch in its order, as `apply` would item by item; the files new to the index
        whose ids no other row or earlier file of the batch has are written a run at a time, in three
        statements (most of a first build: its Python costs as much as SQLite's own work one by one)."""
        docs = [(item, outcome) for item, outcome in zip(items, outcomes) if outcome[0] == "doc"]
        if len(docs) < BULK_MIN:
            for item, outcome in zip(items, outcomes):
                self.apply(cur, item, outcome, last_try=False)
            return
        known_paths: set[str] = set()
        taken: set[str] = set()  # ids the index has, of the ones this batch's files claim
        paths = [item.path for item, _ in docs]
        wanted = list({outcome[2].doc_id or item.derived_id for item, outcome in docs})
        for start in range(0, len(paths), LOOKUP):
            part = paths[start : start + LOOKUP]
            known_paths.update(row[0] for row in cur.execute(
                f"SELECT path FROM kb_documents WHERE origin = ? AND path IN ({', '.join('?' * len(part))})",
                (self.origin, *part)))
        for start in range(0, len(wanted), LOOKUP):
            part = wanted[start : start + LOOKUP]
            taken.update(row[0] for row in cur.execute(
                f"SELECT doc_id FROM kb_documents WHERE doc_id IN ({', '.join('?' * len(part))})", part))
        run: list[tuple[_Found, tuple[Any, ...], str]] = []
        exact = True  # False once an item's outcome may have claimed an id nobody can foresee
        for item, outcome in zip(items, outcomes):
            kind = outcome[0]
            doc_id = (outcome[2].doc_id or item.derived_id) if kind == "doc" else ""
            if (exact and kind == "doc" and item.path not in known_paths and doc_id not in taken
                    and not doc_id.lower().startswith(RESERVED_PREFIXES)):
                taken.add(doc_id)
                run.append((item, outcome, doc_id))
                continue
            if run:
                self._write_new(cur, run)
                run = []
            if kind == "doc":
                taken.add(doc_id)
            elif kind == "same":
                exact = False  # a row changed since the scan makes apply read the file again
            self.apply(cur, item, outcome, last_try=False)
        if run:
            self._write_new(cur, run)

    def _write_new(self, cur: Any, run: list[tuple[_Found, tuple[Any, ...], str]]) -> None:
        """Insert documents no row has: their ids and paths were looked up in this transaction."""
        first = cur.execute("SELECT coalesce(max(rowid), 0) + 1 FROM kb_documents").fetchone()[0]
        documents: list[tuple[Any, ...]] = []
        shadows: list[tuple[Any, ...]] = []
        impact: list[tuple[str, float, int]] = []
        fresh: set[str] = set()
        for rowid, (found, result, doc_id) in enumerate(run, start=first):
            doc = result[2]
            documents.append((rowid, doc_id, "kb", self.origin, doc.title, ", ".join(doc.tags), doc.body, doc.format,
                              found.path, None, found.size, found.mtime_ns, result[1], self.now))
            shadows.append((rowid, *result[3]))
            impact.extend(zip(*result[5], repeat(rowid)))
            fresh |= result[4]
            for message in doc.warnings:
                self.report.warnings.append(IndexWarning(path=found.path, message=message))
        fresh -= self.spelling
        if fresh:
            record_terms(cur, fresh)
            self.spelling.update(fresh)
        cur.executemany(INSERT_DOCUMENT_AT, documents)
        cur.executemany(INSERT_FTS, shadows)
        cur.executemany(INSERT_TOP, impact)
        self.report.added += len(run)

    def apply(self, cur: Any, found: _Found, result: tuple[Any, ...], *, last_try: bool) -> None:
        kind = result[0]
        current = cur.execute(
            "SELECT rowid, doc_id, content_hash FROM kb_documents WHERE origin = ? AND path = ?",
            (self.origin, found.path),
        ).fetchone()
        if kind == "skip":
            self.report.skipped.append(SkippedFile(path=found.path, reason=result[1]))
            if current is not None:  # it was an article, now it cannot be read: drop the stale copy
                delete_rowid(cur, current[0])
            return
        digest = result[1]
        if current is not None and current[2] == digest:
            cur.execute(
                "UPDATE kb_documents SET size = ?, mtime_ns = ? WHERE rowid = ?",
                (found.size, found.mtime_ns, current[0]),
            )
            self.report.unchanged += 1
            return
        if kind == "same":  # another run changed the row since we looked: read the file again
            result = _read_one((found.path, found.kind, os.path.basename(found.path), None))
            self.apply(cur, found, result, last_try=last_try)
            return
        doc, columns = result[2], result[3]
        fresh = result[4] - self.spelling
        if fresh:
            record_terms(cur, fresh)
            self.spelling.update(fresh)
        doc_id = doc.doc_id or found.derived_id
        if doc_id.lower().startswith(RESERVED_PREFIXES):
            self.report.skipped.append(SkippedFile(
                path=found.path,
                reason=f"its id {doc_id!r} starts with {doc_id.split(':', 1)[0] + ':'!r}, which is kept for "
                "past cases and imported pages; give it another id",
            ))
            if current is not None:
                delete_rowid(cur, current[0])
            return
        conflict = cur.execute("SELECT rowid, origin, path FROM kb_documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if conflict is not None and (current is None or conflict[0] != current[0]):
            if not self._resolve_conflict(cur, conflict, found, result, doc_id, last_try=last_try):
                if current is not None and not (self.deferred and self.deferred[-1][0] is found):
                    # skipped, not put off to the run's end: its earlier version leaves too (it no longer says that)
                    delete_rowid(cur, current[0])
                    self.report.removed += 1
                return
        put_document(
            cur,
            doc_id=doc_id,
            source="kb",
            origin=self.origin,
            title=doc.title,
            tags=doc.tags,
            body=doc.body,
            fmt=doc.format,
            path=found.path,
            size=found.size,
            mtime_ns=found.mtime_ns,
            content_hash=digest,
            shadow_columns=columns,
            impact=list(zip(*result[5])),
            replace_rowid=current[0] if current is not None else None,
            indexed_at=self.now,
            record_spelling=False,
            new=current is None,  # and no other row has the id: the conflict check above saw to that
        )
        for message in doc.warnings:
            self.report.warnings.append(IndexWarning(path=found.path, message=message))
        if current is None:
            self.report.added += 1
        else:
            self.report.updated += 1

    def _resolve_conflict(
        self, cur: Any, conflict: Any, found: _Found, result: tuple[Any, ...], doc_id: str, *, last_try: bool
    ) -> bool:
        """True when the id is free now; False when this file is deferred or skipped."""
        rowid, other_origin, other_path = conflict
        if self.origin == "file" and other_origin == "sample":
            delete_rowid(cur, rowid)  # the partner's own copy of a sample article wins, and is told so
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
            delete_rowid(cur, rowid)  # left over from a folder that was never re-indexed
            return True
        if not last_try:
            self.deferred.append((found, result))  # the other file may change its id later in this run
            return False
        self.report.skipped.append(
            SkippedFile(
                path=found.path,
                reason=f"its id {doc_id!r} is already used by {other_path or other_origin} (the file indexed first "
                "keeps it; give this one another id)",
            )
        )
        return False


# changed documents in one run from which the FTS5 index is merged into one segment at its end
OPTIMIZE_AFTER = 2000
# FTS5's merge settings (threer.kb.schema): while a run writes OPTIMIZE_AFTER documents or more, no
# segment is merged until its end (each batch adds one), where one `optimize` merges them all: merging
# as it goes would rewrite most of them several times on the way
# (64 segments of one size are still merged: a run cut short, then many small writes, stays bounded)
MERGING = {"automerge": 8, "crisismerge": 16}
NOT_MERGING = {"automerge": 0, "crisismerge": 64}


def _merging_changes(conn: Any, wanted: dict[str, int]) -> list[tuple[str, int]]:
    """The FTS5 merge settings that differ from `wanted` (a run cut short leaves them to the next run)."""
    rows = conn.execute("SELECT k, v FROM kb_fts_config WHERE k IN ('automerge', 'crisismerge')").fetchall()
    current = {row[0]: row[1] for row in rows}
    return [(key, value) for key, value in wanted.items() if current.get(key, MERGING[key]) != value]


def _set_merging(cur: Any, changes: list[tuple[str, int]]) -> None:
    for key, value in changes:
        cur.execute("INSERT INTO kb_fts (kb_fts, rank) VALUES (?, ?)", (key, value))


def _index(
    store: Any,
    roots: list[Path],
    *,
    origin: str,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> IndexReport:
    started = perf_counter()
    report = IndexReport()
    ensure_analyzer(store)
    _spell_sent.clear()
    store.conn.execute("PRAGMA cache_size = -65536")  # FTS5 merges read back what they just wrote
    existing = _existing(store.conn, roots, origin)
    files = sort_out(roots, existing, report.skipped)
    writer = _Writer(store, origin, report)
    bulk = False

    def begin(count: int) -> None:
        nonlocal bulk
        bulk = count >= OPTIMIZE_AFTER
        changes = _merging_changes(store.conn, NOT_MERGING if bulk else MERGING)
        if changes:  # (an unchanged folder writes nothing)
            with store.transaction() as cur:
                _set_merging(cur, changes)

    apply_found(files, existing, writer, store.transaction, origin=origin, report=report, progress=progress,
                workers=workers, begin=begin)
    if bulk or report.added + report.updated + report.removed >= OPTIMIZE_AFTER:
        # a bulk load leaves the FTS5 index in many segments, each read by every term look-up of every
        # search; one merge now (about 2 s at 100,000 articles) makes them one (FTS5's automerge keeps
        # the small changes of later runs in order by itself)
        with store.transaction() as cur:
            _set_merging(cur, _merging_changes(cur, MERGING))
            cur.execute("INSERT INTO kb_fts (kb_fts) VALUES ('optimize')")
    report.seconds = round(perf_counter() - started, 3)
    return report


def index_paths(
    store: Any,
    paths: Iterable[str | os.PathLike[str]],
    *,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> IndexReport:
    """Index article files and folders; return what was added, updated, unchanged, removed, skipped.

    A missing path is a BadInput before anything is written. `progress(done, total)` is
    called as files are handled. `workers` forces the number of parsing processes.
    """
    team = is_team_index(store)
    holds = None if team else (lambda path: bool(_existing(store.conn, [path], "file")))
    roots = _check_roots(paths, holds)
    if not roots:
        raise BadInput("No folders to index. Give a PATH, or set kb_folders in the config.")
    if team:  # the team database's index (threer.kb.pg)
        return store.index_roots(roots, origin="file", progress=progress, workers=workers)  # type: ignore[no-any-return]
    gone = {root: len(_existing(store.conn, [root], "file")) for root in roots if not root.exists()}
    report = _index(store, roots, origin="file", progress=progress, workers=workers)
    for root, count in gone.items():
        report.warnings.append(IndexWarning(
            path=display_path(root),
            message=f"no longer exists: its {count} entr{'y' if count == 1 else 'ies'} left the index",
        ))
    return report


def sample_fingerprint() -> tuple[str, int]:
    """A digest of the bundled sample articles and the analysis, and how many there are."""
    return _sample_fingerprint()


def _sample_fingerprint() -> tuple[str, int]:
    digest = hashlib.sha256(analyzer_signature().encode())
    files = sorted(SAMPLE_DIR.glob("*.md")) if SAMPLE_DIR.is_dir() else []
    for path in files:
        info = path.stat()
        digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest(), len(files)


def ensure_sample_kb(store: Any) -> IndexReport | None:
    """Index the bundled sample articles when they are new or changed; cheap when they are not.

    Returns the report of the run, or None when nothing needed doing.
    """
    if is_team_index(store):
        return store.ensure_sample_kb()  # type: ignore[no-any-return]
    ensure_analyzer(store)
    fingerprint, _count = _sample_fingerprint()
    stored = get_meta(store.conn, "sample_fingerprint")
    if stored == fingerprint:
        return None
    report = _index(store, [SAMPLE_DIR], origin="sample") if SAMPLE_DIR.is_dir() else IndexReport()
    with store.transaction() as cur:
        set_meta(cur, "sample_fingerprint", fingerprint)
    return report


def apply_found(files: SortedOut, existing: dict[str, Any], writer: Any, transaction: Callable[[], Any], *,
                origin: str, report: IndexReport, progress: Callable[[int, int], None] | None,
                workers: int | None, begin: Callable[[int], None] | None = None) -> None:
    """The part of an index run both backends share: entries of files no longer found leave, unchanged
    files (same size and mtime) are counted, the others are read (in `workers` processes) and written a
    batch a transaction through the backend's `writer`; `transaction()` opens one write transaction;
    `begin(n)`, when given, is called before the n files to read are read."""
    if files.stale:
        writer.remove(files.stale)
    to_read, done, total = files.to_read, files.unchanged, files.total
    report.unchanged += done
    if progress:
        progress(done, total)
    if begin is not None:
        begin(len(to_read))
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if len(to_read) >= PARALLEL_MIN_FILES else 1
    tasks = [
        (f.path, f.kind, os.path.basename(f.path), (existing.get(f.path) or (None, None, None, None, None))[4])
        for f in to_read
    ]
    with _long_lived():
        _read_and_write(to_read, tasks, writer, transaction, progress=progress, done=done, total=total,
                        workers=workers)
    if writer.removed_files and origin == "file":
        with transaction() as cur:  # a removed file may have hidden a sample article: re-check them
            cur.execute("DELETE FROM kb_meta WHERE key = 'sample_fingerprint'")


@contextmanager
def _collection_paused() -> Iterator[None]:
    """No garbage collection in the block (one that makes many objects and no reference cycles: each
    collection would walk them all for nothing); a collector already off is left off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def _long_lived() -> Iterator[None]:
    """Leave what exists now (the scan, the index's rows, the tasks: alive for the whole run) out of every
    garbage collection until the block ends.

    A run's results are garbage as soon as their batch is written, but each full collection would walk
    the hundreds of thousands of objects the run holds throughout (3 s of a 100,000-article build).
    A freeze made by someone else (a program embedding threer) is left as it is.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _read_and_write(to_read: list[_Found], tasks: list[tuple[str, str, str, str | None]], writer: Any,
                    transaction: Callable[[], Any], *, progress: Callable[[int, int], None] | None, done: int,
                    total: int, workers: int) -> None:
    results = _read_all(tasks, workers)
    position = 0
    while position < len(to_read):
        batch = to_read[position : position + BATCH]
        outcomes = []
        for _ in batch:
            outcomes.append(next(results))
            if progress and len(outcomes) % 100 == 0:
                progress(done + len(outcomes), total)
        writer.now = now_iso()
        with transaction() as cur:
            writer.apply_batch(cur, batch, outcomes)
        position += len(batch)
        done += len(batch)
        if progress:
            progress(done, total)
    if writer.deferred:
        deferred, writer.deferred = writer.deferred, []
        with transaction() as cur:
            for item, outcome in deferred:
                writer.apply(cur, item, outcome, last_try=True)
