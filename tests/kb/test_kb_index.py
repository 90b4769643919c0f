"""Incremental indexing: add, change, delete, unchanged files, ids, the sample KB, consistency."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from threer.errors import BadInput
from threer.kb.index import SAMPLE_DIR, ensure_sample_kb, index_paths
from threer.kb.search import search
from threer.store import Store


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "kb.db") as s:
        yield s


def article(folder: Path, name: str, body: str, *, doc_id: str | None = None) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    head = f"---\nid: {doc_id}\n---\n" if doc_id else ""
    path.write_text(head + body, encoding="utf-8")
    return path


def assert_consistent(store: Store) -> None:
    """Both tables hold the same rowids, and FTS5's own check passes."""
    docs = {r[0] for r in store.conn.execute("SELECT rowid FROM kb_documents")}
    fts = {r[0] for r in store.conn.execute("SELECT rowid FROM kb_fts")}
    assert docs == fts
    store.conn.execute("INSERT INTO kb_fts (kb_fts) VALUES ('integrity-check')")


def ids(store: Store, origin: str = "file") -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT doc_id FROM kb_documents WHERE origin = ?", (origin,))}


def test_add_change_delete(store, tmp_path):
    kb = tmp_path / "kb"
    article(kb, "a.md", "# Alpha\n\nfirst zebra text")
    article(kb, "sub/b.md", "# Beta\n\nsecond text", doc_id="beta")
    article(kb, "c.txt", "Gamma\n\nthird text")
    first = index_paths(store, [kb])
    assert (first.added, first.updated, first.unchanged, first.removed) == (3, 0, 0, 0)
    assert ids(store) == {"a", "beta", "c"}

    again = index_paths(store, [kb])
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 3, 0)

    article(kb, "a.md", "# Alpha\n\nfirst giraffe text, longer now")
    (kb / "c.txt").unlink()
    article(kb, "d.md", "# Delta")
    third = index_paths(store, [kb])
    assert (third.added, third.updated, third.unchanged, third.removed) == (1, 1, 1, 1)
    assert ids(store) == {"a", "beta", "d"}
    assert [r.id for r in search(store, "giraffe")] == ["a"]
    assert search(store, "zebra") == []
    assert_consistent(store)


def test_touched_file_with_same_content_is_unchanged(store, tmp_path):
    path = article(tmp_path / "kb", "a.md", "# A\n\ntext")
    index_paths(store, [tmp_path / "kb"])
    later = time.time() + 5
    os.utime(path, (later, later))
    report = index_paths(store, [tmp_path / "kb"])
    assert (report.unchanged, report.updated) == (1, 0)
    row = store.conn.execute("SELECT mtime_ns FROM kb_documents WHERE doc_id = 'a'").fetchone()
    assert row[0] == path.stat().st_mtime_ns  # recorded, so the next run skips it by stat alone


def test_changed_front_matter_id_replaces_the_old_entry(store, tmp_path):
    kb = tmp_path / "kb"
    article(kb, "a.md", "# A", doc_id="old-id")
    index_paths(store, [kb])
    article(kb, "a.md", "# A changed", doc_id="new-id")
    report = index_paths(store, [kb])
    assert report.updated == 1 and ids(store) == {"new-id"}
    assert_consistent(store)


def test_swapped_ids_in_one_run(store, tmp_path):
    kb = tmp_path / "kb"
    article(kb, "a.md", "# A", doc_id="one")
    article(kb, "b.md", "# B", doc_id="two")
    index_paths(store, [kb])
    article(kb, "a.md", "# A v2", doc_id="two")
    article(kb, "b.md", "# B v2", doc_id="three")
    report = index_paths(store, [kb])
    assert report.skipped == [] and ids(store) == {"two", "three"}
    assert_consistent(store)


def test_duplicate_ids_skip_the_second_file(store, tmp_path):
    kb = tmp_path / "kb"
    article(kb, "a.md", "# A", doc_id="same")
    article(kb, "b.md", "# B", doc_id="same")
    report = index_paths(store, [kb])
    assert report.added == 1
    assert len(report.skipped) == 1 and "already used by" in report.skipped[0].reason


@pytest.mark.parametrize("names", [("a.md", "b.md"), ("b.md", "a.md"), ("z/first.md", "zz.md")])
def test_duplicate_ids_the_first_path_in_order_wins_whatever_the_creation_order(store, tmp_path, names):
    kb = tmp_path / "kb"
    for name in names:  # created in this order: the directory order may follow it, the rule must not
        article(kb, name, f"# {name}", doc_id="same")
    first, second = sorted(str((kb / name).resolve()) for name in names)
    report = index_paths(store, [kb])
    row = store.conn.execute("SELECT path FROM kb_documents WHERE doc_id = 'same'").fetchone()
    assert row[0] == first
    assert [s.path for s in report.skipped] == [second] and first in report.skipped[0].reason
    again = index_paths(store, [kb])  # still skipped, still said, while the clash lasts
    assert [s.path for s in again.skipped] == [second]
    Path(first).unlink()  # the winner goes: the other file takes the id on the next run
    after = index_paths(store, [kb])
    assert after.skipped == [] and store.conn.execute(
        "SELECT path FROM kb_documents WHERE doc_id = 'same'"
    ).fetchone()[0] == second


def test_ids_of_past_cases_and_imported_pages_are_refused(store, tmp_path):
    kb = tmp_path / "kb"
    article(kb, "a.md", "# A", doc_id="case:20260101-ABCD")
    article(kb, "b.md", "# B", doc_id="WEB:support.example.net/x")
    report = index_paths(store, [kb])
    assert report.added == 0 and len(report.skipped) == 2
    assert all("kept for past cases and imported pages" in s.reason for s in report.skipped)
    assert ids(store) == set()


def test_id_with_spaces_is_indexed_with_a_warning(store, tmp_path):
    article(tmp_path / "kb", "a.md", "# A", doc_id="my article")
    report = index_paths(store, [tmp_path / "kb"])
    assert ids(store) == {"my-article"} and len(report.warnings) == 1 and "spaces" in report.warnings[0].message


def test_renamed_file_keeps_its_id(store, tmp_path):
    kb = tmp_path / "kb"
    article(kb, "a.md", "# A", doc_id="keep")
    index_paths(store, [kb])
    (kb / "a.md").rename(kb / "renamed.md")
    report = index_paths(store, [kb])
    assert (report.added, report.removed) == (1, 1) and report.skipped == []
    assert ids(store) == {"keep"}


def test_file_that_turns_bad_leaves_the_index(store, tmp_path):
    kb = tmp_path / "kb"
    path = article(kb, "a.md", "# A")
    index_paths(store, [kb])
    path.write_bytes(b"\x00\x01binary now")
    report = index_paths(store, [kb])
    assert len(report.skipped) == 1 and ids(store) == set()
    assert_consistent(store)


def test_indexing_a_subfolder_removes_nothing_outside_it(store, tmp_path):
    kb = tmp_path / "kb"
    article(kb, "a.md", "# A")
    article(kb, "sub/b.md", "# B")
    index_paths(store, [kb])
    report = index_paths(store, [kb / "sub"])
    assert report.removed == 0 and ids(store) == {"a", "sub/b"}


def test_sibling_folder_with_a_common_prefix_is_not_in_scope(store, tmp_path):
    article(tmp_path / "kb", "a.md", "# A")
    article(tmp_path / "kb2", "b.md", "# B")
    index_paths(store, [tmp_path / "kb", tmp_path / "kb2"])
    (tmp_path / "kb" / "a.md").unlink()
    report = index_paths(store, [tmp_path / "kb"])
    assert report.removed == 1 and ids(store) == {"b"}


def test_missing_path_is_bad_input_and_nothing_is_written(store, tmp_path):
    article(tmp_path / "kb", "a.md", "# A")
    with pytest.raises(BadInput, match="No such file or folder"):
        index_paths(store, [tmp_path / "kb", tmp_path / "nope"])
    assert ids(store) == set()


def test_worker_processes_give_the_same_index(store, tmp_path):
    kb = tmp_path / "kb"
    for n in range(30):
        article(kb, f"a{n}.md", f"# Article {n}\n\nword{n} shared text")
    article(kb, "bad.md", "---\ntitle: [x\n---\n")  # indexed, with a warning
    article(kb, "bomb.md", "---\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n---\n")
    report = index_paths(store, [kb], workers=2)
    assert report.added == 31 and len(report.skipped) == 1 and len(report.warnings) == 1
    assert [r.id for r in search(store, "word7")] == ["a7"]
    assert_consistent(store)


def test_workers_kept_far_ahead_of_the_writer_give_the_same_index_in_order(store, tmp_path, monkeypatch):
    """Many small chunks in flight across several small batches: every file comes back once, in order,
    so the file first by path keeps an id that two of them claim, as when read in this process."""
    import threer.kb.index as index_module

    monkeypatch.setattr(index_module, "CHUNK", 3)
    monkeypatch.setattr(index_module, "BATCH", 7)
    monkeypatch.setattr(index_module, "AHEAD_CHUNKS", 9)
    kb = tmp_path / "kb"
    for n in range(40):
        article(kb, f"a{n:02}.md", f"# Article {n}\n\nword{n} shared text")
    article(kb, "z1.md", "---\nid: twin\n---\n# First twin\n\nfirsttwin")
    article(kb, "z2.md", "---\nid: twin\n---\n# Second twin\n\nsecondtwin")
    report = index_paths(store, [kb], workers=2)
    assert report.added == 41 and [s.path for s in report.skipped] == [str(kb / "z2.md")]
    assert ids(store) == {f"a{n:02}" for n in range(40)} | {"twin"}
    assert [r.id for r in search(store, "word33")] == ["a33"]
    assert store.conn.execute("SELECT title FROM kb_documents WHERE doc_id = 'twin'").fetchone()[0] == "First twin"
    assert_consistent(store)


def test_progress_is_reported(store, tmp_path):
    for n in range(3):
        article(tmp_path / "kb", f"a{n}.md", f"# {n}")
    calls: list[tuple[int, int]] = []
    index_paths(store, [tmp_path / "kb"], progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (3, 3)


def test_sample_kb_is_indexed_once_and_rechecked_cheaply(store):
    first = ensure_sample_kb(store)
    count = len(list(SAMPLE_DIR.glob("*.md")))
    assert first is not None and first.added == count and first.skipped == []
    assert ensure_sample_kb(store) is None
    assert len(ids(store, "sample")) == count
    assert_consistent(store)


def test_own_copy_of_a_sample_article_replaces_it(store, tmp_path):
    ensure_sample_kb(store)
    sample = sorted(SAMPLE_DIR.glob("*.md"))[0]
    copy = tmp_path / "kb" / sample.name
    copy.parent.mkdir()
    copy.write_text(sample.read_text(encoding="utf-8") + "\nLocal note: ring the partner desk.\n", encoding="utf-8")
    report = index_paths(store, [tmp_path / "kb"])
    assert report.added == 1 and report.skipped == []
    doc_id = next(iter(ids(store)))
    # said once, naming both files: an accidental clash is noticed, an intended one is confirmed
    assert [(w.path, doc_id in w.message, str(sample) in w.message) for w in report.warnings] == [
        (str(copy.resolve()), True, True)
    ]
    assert index_paths(store, [tmp_path / "kb"]).warnings == []
    assert doc_id not in ids(store, "sample")
    assert ensure_sample_kb(store) is None or doc_id not in ids(store, "sample")
    copy.unlink()
    index_paths(store, [tmp_path / "kb"])
    ensure_sample_kb(store)  # the sample article comes back once the own copy is gone
    assert doc_id in ids(store, "sample")
    assert_consistent(store)


def test_analysis_change_rebuilds_the_index(store, tmp_path):
    article(tmp_path / "kb", "a.md", "# Alpha\n\nquuxing phones")
    index_paths(store, [tmp_path / "kb"])
    with store.transaction() as cur:
        cur.execute("UPDATE kb_meta SET value = 'old' WHERE key = 'analyzer'")
        cur.execute("UPDATE kb_fts SET body = 'nothing' WHERE rowid = (SELECT rowid FROM kb_documents WHERE doc_id = 'a')")
    store._kb_ready = False
    assert [r.id for r in search(store, "quuxed", source="kb")] == ["a"]
    assert_consistent(store)
