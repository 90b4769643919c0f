"""A batch of new files is written a run at a time (threer.kb.index._Writer.apply_batch): the index it
leaves is the one writing them one by one leaves, with the same rules for ids, and FTS5's merge
settings are put back at the end of a large run (or by the next run, when one was cut short)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from threer.kb import index as kb_index
from threer.kb.index import index_paths
from threer.kb.search import search
from threer.store import Store

TOPICS = ["outlook password prompt", "iphone calendar sync", "mx record ttl", "junk folder placement",
          "dkim selector rotation", "forwarding loop bounce", "quota warning banner", "autodiscover redirect"]


def write_folder(folder: Path, count: int, *, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(start, start + count):
        topic = TOPICS[n % len(TOPICS)]
        (folder / f"a{n:04d}.md").write_text(
            f"---\nid: art-{n}\ntags: [{topic.split()[0]}, mail]\n---\n# {topic.title()} number {n}\n\n"
            f"When the {topic} shows up again, check the account settings and the error 0x8004{n:04d}. "
            f"Customers on Windows report the {topic} after an update; the fix is in step {n % 5}.\n",
            encoding="utf-8",
        )


def snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Everything an index run writes, rowids included, but not when it ran."""
    conn = sqlite3.connect(db)
    try:
        return {
            "documents": conn.execute(
                "SELECT rowid, doc_id, source, origin, title, tags, body, format, path, domain, size, mtime_ns, "
                "content_hash FROM kb_documents ORDER BY rowid").fetchall(),
            "fts": conn.execute("SELECT rowid, title, tags, body, ptitle, ptags, pbody FROM kb_fts ORDER BY rowid")
            .fetchall(),
            "top": conn.execute("SELECT term, impact, doc FROM kb_top ORDER BY term, impact, doc").fetchall(),
            "spell": conn.execute("SELECT len, term FROM kb_spell ORDER BY len, term").fetchall(),
        }
    finally:
        conn.close()


def build(tmp_path: Path, name: str, folders: list[Path]) -> tuple[Path, list[object]]:
    db = tmp_path / f"{name}.db"
    reports = []
    with Store(db) as store:
        store._kb_ready = True
        for folder in folders:
            reports.append(index_paths(store, [folder], workers=1))
            store.conn.execute("INSERT INTO kb_fts (kb_fts) VALUES ('integrity-check')")
    return db, reports


def test_a_batch_writes_the_index_one_by_one_writing_would(tmp_path, monkeypatch):
    kb = tmp_path / "kb"
    write_folder(kb, 120)
    bulk_db, (bulk,) = build(tmp_path, "bulk", [kb])
    monkeypatch.setattr(kb_index, "BULK_MIN", 10**9)  # every file through _Writer.apply
    single_db, (single,) = build(tmp_path, "single", [kb])
    assert bulk.added == single.added == 120
    assert snapshot(bulk_db) == snapshot(single_db)
    assert len(snapshot(bulk_db)["top"]) > 120  # impact lists were written, not left out


def test_ids_in_a_batch_follow_the_same_rules(tmp_path, monkeypatch):
    """A batch mixing new files with: an id another file of the batch took first, an id the index
    already has, an id kept for past cases, an unreadable file, and a file already indexed."""
    kb = tmp_path / "kb"
    write_folder(kb, 60)
    other = tmp_path / "other"
    other.mkdir()
    (other / "owner.md").write_text("---\nid: art-owned\n---\n# Owned id\n\ntext of the owner\n", encoding="utf-8")
    (kb / "a0010.md").write_text("---\nid: art-owned\n---\n# Wants an owned id\n\ntext\n", encoding="utf-8")
    (kb / "a0020.md").write_text("---\nid: art-21\n---\n# Same id as the next file\n\ntext\n", encoding="utf-8")
    (kb / "a0030.md").write_text("---\nid: case:abc\n---\n# Reserved id\n\ntext\n", encoding="utf-8")
    (kb / "a0040.md").write_bytes(b"# Not text\n\n\x80\x81\xc3\x28 \x00\x00\x00 binary\n")
    reports = {}
    for name, bulk_min in (("bulk", kb_index.BULK_MIN), ("single", 10**9)):
        monkeypatch.setattr(kb_index, "BULK_MIN", bulk_min)
        db, (first, second) = build(tmp_path, name, [other, kb])
        reports[name] = (second, snapshot(db))
    (bulk, bulk_rows), (single, single_rows) = reports["bulk"], reports["single"]
    assert bulk_rows == single_rows
    assert sorted(s.path for s in bulk.skipped) == sorted(s.path for s in single.skipped)
    assert [w.message for w in bulk.warnings] == [w.message for w in single.warnings]
    skipped = {Path(s.path).name: s.reason for s in bulk.skipped}
    assert "already used by" in skipped["a0010.md"]
    assert "already used by" in skipped["a0021.md"]  # a0020 came first and keeps art-21
    assert "kept for past cases" in skipped["a0030.md"]
    ids = {row[1] for row in bulk_rows["documents"]}
    assert {"art-owned", "art-21", "art-0"} <= ids and "art-10" not in ids and "case:abc" not in ids


def test_a_second_run_updates_and_adds_in_one_batch(tmp_path):
    kb = tmp_path / "kb"
    write_folder(kb, 40)
    db, (first,) = build(tmp_path, "grow", [kb])
    write_folder(kb, 40, start=40)  # 40 new files
    (kb / "a0005.md").write_text("---\nid: art-5\n---\n# Changed now\n\nzeppelin quota text\n", encoding="utf-8")
    with Store(db) as store:
        again = index_paths(store, [kb], workers=1)
        assert (again.added, again.updated, again.unchanged) == (40, 1, 39)
        assert search(store, "zeppelin")[0].id == "art-5"
        rows = store.conn.execute("SELECT count(*), count(DISTINCT doc_id), max(rowid) FROM kb_documents "
                                  "WHERE origin = 'file'").fetchone()
        assert rows[0] == rows[1] == 80
        store.conn.execute("INSERT INTO kb_fts (kb_fts) VALUES ('integrity-check')")


def merging(db: Path) -> dict[str, object]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT k, v FROM kb_fts_config WHERE k IN ('automerge', 'crisismerge')"))
    finally:
        conn.close()


def test_a_large_run_merges_once_at_its_end_and_puts_the_settings_back(tmp_path, monkeypatch):
    monkeypatch.setattr(kb_index, "OPTIMIZE_AFTER", 50)
    monkeypatch.setattr(kb_index, "BATCH", 20)  # three batches: three segments, unless merged
    seen = []
    real = kb_index._Writer.apply_batch

    def spy(self, cur, items, outcomes):
        seen.append(dict(cur.execute("SELECT k, v FROM kb_fts_config WHERE k IN ('automerge', 'crisismerge')")))
        return real(self, cur, items, outcomes)

    monkeypatch.setattr(kb_index._Writer, "apply_batch", spy)
    kb = tmp_path / "kb"
    write_folder(kb, 60)
    db, (report,) = build(tmp_path, "large", [kb])
    assert report.added == 60
    assert len(seen) == 3 and all(s == kb_index.NOT_MERGING for s in seen)  # no merging while it wrote
    after = merging(db)
    assert after.get("automerge") == kb_index.MERGING["automerge"]
    assert after.get("crisismerge", kb_index.MERGING["crisismerge"]) == kb_index.MERGING["crisismerge"]
    conn = sqlite3.connect(db)
    try:  # one segment left: the run ended with `optimize`
        assert conn.execute("SELECT count(DISTINCT segid) FROM kb_fts_idx").fetchone()[0] == 1
    finally:
        conn.close()


def test_a_run_cut_short_leaves_the_settings_to_the_next_one(tmp_path):
    kb = tmp_path / "kb"
    write_folder(kb, 5)
    db, _ = build(tmp_path, "cut", [kb])
    with Store(db) as store:  # as a large run that was killed mid-way leaves them
        with store.transaction() as cur:
            for key, value in kb_index.NOT_MERGING.items():
                cur.execute("INSERT INTO kb_fts (kb_fts, rank) VALUES (?, ?)", (key, value))
    assert merging(db)["automerge"] == 0
    write_folder(kb, 1, start=5)
    with Store(db) as store:
        assert index_paths(store, [kb], workers=1).added == 1
    assert merging(db)["automerge"] == kb_index.MERGING["automerge"]
    assert merging(db)["crisismerge"] == kb_index.MERGING["crisismerge"]


def test_an_unchanged_folder_writes_nothing(tmp_path):
    kb = tmp_path / "kb"
    write_folder(kb, 30)
    db, _ = build(tmp_path, "same", [kb])
    with Store(db) as store:
        writes = store._writes
        assert index_paths(store, [kb], workers=1).unchanged == 30
        assert store._writes == writes


@pytest.mark.parametrize("count", [19, 20, 21])
def test_around_the_batch_threshold(tmp_path, count):
    kb = tmp_path / "kb"
    write_folder(kb, count)
    db, (report,) = build(tmp_path, f"n{count}", [kb])
    assert report.added == count
    rows = snapshot(db)
    assert [r[0] for r in rows["documents"]] == [r[0] for r in rows["fts"]]
    assert {r[2] for r in rows["top"]} == {r[0] for r in rows["documents"]}


def test_a_run_leaves_the_garbage_collector_as_it_found_it(tmp_path, monkeypatch):
    """The run keeps its long-lived objects out of collections while it writes (threer.kb.index._long_lived),
    and nothing stays frozen after it; a freeze made by the program around it is kept."""
    import gc

    kb = tmp_path / "kb"
    write_folder(kb, 25)
    seen: list[int] = []
    original = kb_index._read_and_write

    def watching(*args, **kwargs):
        seen.append(gc.get_freeze_count())
        return original(*args, **kwargs)

    monkeypatch.setattr(kb_index, "_read_and_write", watching)
    assert gc.get_freeze_count() == 0
    with Store(tmp_path / "a.db") as store:
        assert index_paths(store, [kb]).added == 25
    assert seen and seen[0] > 0 and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with Store(tmp_path / "b.db") as store:
            assert index_paths(store, [kb]).added == 25
        assert gc.get_freeze_count() >= frozen * 0.9  # still frozen (a few frozen objects may have been freed)
    finally:
        gc.unfreeze()
