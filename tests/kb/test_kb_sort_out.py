"""Sorting an index run's files out (threer.kb.index.sort_out): to read, unchanged, gone.

A re-index compares each file's size and mtime with what the index recorded while it scans; only the
files to read become objects. These tests build real folders and compare with real index rows.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from threer.kb.index import _existing, index_paths, sort_out
from threer.store import Store


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_changed_new_and_gone_files_are_told_apart(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    for name in ("a.md", "b.md", "sub/c.md", "sub/d.txt", "gone.md"):
        write(root / name, f"# {name}\n\nVPN blocks sending.\n")
    with Store(tmp_path / "threer.db") as store:
        assert index_paths(store, [root]).added == 5
        (root / "gone.md").unlink()
        write(root / "b.md", "# b\n\nThe VPN blocks sending on port 587 now.\n")  # another size
        os.utime(root / "a.md", ns=(1, 1))  # the same size, another mtime: read again (then found the same)
        write(root / "sub/new.md", "# new\n\nA new article.\n")
        write(root / "sub/notes.docx", "not an article")
        write(root / ".hidden.md", "# hidden\n")
        existing = _existing(store.conn, [root.resolve()], "file")
        skipped: list = []
        files = sort_out([root.resolve()], existing, skipped)
        assert [Path(f.path).relative_to(root.resolve()).as_posix() for f in files.to_read] == ["a.md", "b.md", "sub/new.md"]
        assert [f.derived_id for f in files.to_read] == ["a", "b", "sub/new"]
        assert files.unchanged == 2 and files.total == 5 and skipped == []
        assert list(files.stale) == [str(root.resolve() / "gone.md")]
        assert set(existing) == {str(root.resolve() / n) for n in ("a.md", "b.md", "sub/c.md", "sub/d.txt", "gone.md")}
        report = index_paths(store, [root])
        assert (report.added, report.updated, report.unchanged, report.removed) == (1, 1, 3, 1)


def test_a_file_under_two_roots_counts_once_and_a_file_root_takes_its_stem(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    write(root / "z.md", "# z\n")
    one = write(root / "inner" / "guide.v2.md", "# guide\n")
    files = sort_out([root, root / "inner", one], {}, [])
    assert [(Path(f.path).name, f.derived_id) for f in files.to_read] == [("guide.v2.md", "inner/guide.v2"), ("z.md", "z")]
    assert files.total == 2
    alone = sort_out([one], {}, [])
    assert [(f.kind, f.derived_id) for f in alone.to_read] == [("markdown", "guide.v2")]


def test_overlapping_roots_give_the_same_ids_in_any_order(tmp_path: Path) -> None:
    # an id is the path from the outermost folder given that holds the file, whatever came first
    root = tmp_path / "kb"
    write(root / "z.md", "# z\n")
    one = write(root / "inner" / "deeper" / "loop.md", "# loop\n")
    write(root / "inner" / "other.md", "# other\n")
    orders = [[root, root / "inner"], [root / "inner", root], [one, root], [root / "inner" / "deeper", one, root]]
    for roots in orders:
        files = sort_out(roots, {}, [])
        assert {Path(f.path).name: f.derived_id for f in files.to_read if Path(f.path).name != "z.md"} == {
            "loop.md": "inner/deeper/loop", "other.md": "inner/other"}, roots
    inner_only = sort_out([root / "inner", one], {}, [])  # kb itself not given: ids from inner
    assert sorted(f.derived_id for f in inner_only.to_read) == ["deeper/loop", "other"]


def test_an_id_from_the_path_stays_when_the_file_is_edited_and_another_folder_indexed(tmp_path: Path) -> None:
    # indexed first from kb/outlook (id ost-too-large), edited, then indexed from kb: the id a ticket or
    # a `worked` mark names must not become outlook/ost-too-large (nor flip back on the next edit)
    root = tmp_path / "kb"
    article = write(root / "outlook" / "ost-too-large.md", "# OST too large\n\nThe OST file is full.\n")
    write(root / "new.md", "# New\n\nA new article.\n")

    def ids(store: Store) -> set[str]:
        return {r[0] for r in store.conn.execute("SELECT doc_id FROM kb_documents WHERE origin = 'file'")}

    with Store(tmp_path / "threer.db") as store:
        index_paths(store, [root / "outlook"])
        assert ids(store) == {"ost-too-large"}
        for folder in (root, root / "outlook", root):
            with article.open("a", encoding="utf-8") as fh:
                fh.write("Still full.\n")
            index_paths(store, [folder])
            assert "ost-too-large" in ids(store) and "outlook/ost-too-large" not in ids(store), folder
        assert ids(store) == {"ost-too-large", "new"}  # a file new to the index takes its path below kb
        article.rename(root / "outlook" / "ost-full.md")  # another path: a new entry, its id from that path
        index_paths(store, [root])
        assert ids(store) == {"outlook/ost-full", "new"}


def test_a_kept_id_gives_way_to_a_new_file_that_takes_it_from_its_own_path(tmp_path: Path) -> None:
    # kb/sub/loop.md was indexed as `loop`; kb/loop.md arrives and is edited in with kb: no file is skipped,
    # and the ids are those a fresh index of kb gives
    root = tmp_path / "kb"
    inner = write(root / "sub" / "loop.md", "# Loop inner\n")
    with Store(tmp_path / "threer.db") as store:
        index_paths(store, [root / "sub"])
        write(root / "loop.md", "# Loop outer\n")
        inner.write_text("# Loop inner\n\nmore\n", encoding="utf-8")
        report = index_paths(store, [root])
        assert report.skipped == []
        ids = {r[0] for r in store.conn.execute("SELECT doc_id FROM kb_documents WHERE origin = 'file'")}
        assert ids == {"loop", "sub/loop"}


def test_a_missing_root_leaves_its_entries_stale_and_the_collector_as_it_was(tmp_path: Path) -> None:
    existing = {str(tmp_path / "old" / "a.md"): (1, "a", 10, 10, "hash")}
    assert sort_out([tmp_path / "old"], existing, []).stale == existing
    assert gc.isenabled()
    gc.disable()
    try:
        sort_out([tmp_path], {}, [])
        assert not gc.isenabled()  # a collector someone turned off stays off
    finally:
        gc.enable()


def test_a_file_indexed_by_its_own_path_stays_when_its_folder_is_indexed(tmp_path: Path) -> None:
    # a folder scan never looks at FAQ (no article suffix) or .draft.md (hidden): each is in the index only
    # because it was given by its own path, and indexing the folder must not take it out
    root = tmp_path / "kb"
    write(root / "a.md", "# Alpha\n\nnarwhal alpha\n")
    faq = write(root / "FAQ", "narwhal faq without a suffix\n")
    draft = write(root / ".draft.md", "# Draft\n\nnarwhal draft\n")
    with Store(tmp_path / "threer.db") as store:
        assert index_paths(store, [faq, draft]).added == 2
        report = index_paths(store, [root])
        assert (report.added, report.unchanged, report.removed) == (1, 0, 0)
        ids = {row[0] for row in store.conn.execute("SELECT doc_id FROM kb_documents WHERE origin = 'file'")}
        assert ids == {"a", "FAQ", ".draft"}
        faq.unlink()
        again = index_paths(store, [root])
        assert (again.unchanged, again.removed) == (1, 1)  # deleted: it leaves, as any file does


def test_articles_under_a_folder_that_cannot_be_read_stay(tmp_path: Path, monkeypatch) -> None:
    import threer.kb.index as index_module

    root = tmp_path / "kb"
    write(root / "open" / "o.md", "# Open\n\nnarwhal open\n")
    write(root / "locked" / "l.md", "# Locked\n\nnarwhal locked\n")
    with Store(tmp_path / "threer.db") as store:
        assert index_paths(store, [root]).added == 2
        real_scandir = os.scandir
        locked = str((root / "locked").resolve())

        def scandir(path):  # what a folder made unreadable for a moment (chmod 000) gives a non-root user
            if str(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(index_module.os, "scandir", scandir)
        report = index_paths(store, [root])
        assert (report.unchanged, report.removed) == (1, 0)
        assert [(s.path, s.reason) for s in report.skipped] == [(locked, "the folder cannot be read (Permission denied)")]
        assert store.conn.execute("SELECT count(*) FROM kb_documents WHERE doc_id = 'locked/l'").fetchone()[0] == 1
        monkeypatch.setattr(index_module.os, "scandir", real_scandir)
        assert index_paths(store, [root]).unchanged == 2
