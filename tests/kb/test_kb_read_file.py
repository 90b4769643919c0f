"""Reading one article file for the index: its bytes, or a clear reason it was skipped."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from threer.kb.index import _read_file, _read_one, index_paths
from threer.kb.ingest import MAX_FILE_BYTES, IngestError
from threer.store import Store


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 70_000, MAX_FILE_BYTES])
def test_a_file_is_read_whole(tmp_path: Path, size: int) -> None:
    path = tmp_path / "a.md"
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path.write_bytes(data)
    assert _read_file(str(path)) == data


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    with open(path, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written
    with pytest.raises(IngestError, match="larger than 5 MB"):
        _read_file(str(path))
    outcome = _read_one((str(path), "markdown", "big.md", None))
    assert outcome == ("skip", "it is larger than 5 MB")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_place_of_an_article_is_refused_at_once(tmp_path: Path) -> None:
    """A file replaced by a FIFO after the scan must not hang the run (nobody will ever write to it)."""
    path = tmp_path / "a.md"
    os.mkfifo(path)
    outcome: list[tuple[object, ...]] = []
    reader = threading.Thread(target=lambda: outcome.append(_read_one((str(path), "markdown", "a.md", None))))
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert outcome == [("skip", "it is no longer a regular file")]


def test_a_folder_in_place_of_an_article_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.mkdir()
    assert _read_one((str(path), "markdown", "a.md", None)) == ("skip", "it is no longer a regular file")


def test_a_vanished_file_is_skipped_with_the_reason(tmp_path: Path) -> None:
    outcome = _read_one((str(tmp_path / "gone.md"), "markdown", "gone.md", None))
    assert outcome[0] == "skip" and "cannot be read" in outcome[1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_skipped_and_the_rest_indexes(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "ok.md").write_text("# Fine\n\nreadable words", encoding="utf-8")
    locked = kb / "locked.md"
    locked.write_text("# Locked\n", encoding="utf-8")
    locked.chmod(0)
    with Store(tmp_path / "kb.db") as store:
        report = index_paths(store, [kb])
    assert report.added == 1
    assert [s.reason for s in report.skipped] == ["it cannot be read (Permission denied)"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_what_is_no_file_is_skipped_with_what_it_is(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "ok.md").write_text("# Fine\n\nreadable words", encoding="utf-8")
    os.mkfifo(kb / "pipe.md")
    (kb / "null.md").symlink_to("/dev/null")
    (tmp_path / "folder.md").mkdir()
    (kb / "folder.md").symlink_to(tmp_path / "folder.md")
    with Store(tmp_path / "kb.db") as store:
        report = index_paths(store, [kb])
    assert report.added == 1
    assert {(Path(s.path).name, s.reason) for s in report.skipped} == {
        ("pipe.md", "it is a FIFO, not a file"),
        ("null.md", "it is a character device, not a file"),
        ("folder.md", "it is a folder behind a link (links to folders are not followed), not a file"),
    }


def test_a_path_that_is_a_broken_link_says_what_is_wrong_with_it(tmp_path: Path) -> None:
    from threer.errors import BadInput

    (tmp_path / "one").symlink_to(tmp_path / "two")
    (tmp_path / "two").symlink_to(tmp_path / "one")
    (tmp_path / "dangling").symlink_to(tmp_path / "moved-away")
    with Store(tmp_path / "kb.db") as store:
        with pytest.raises(BadInput, match=r"one is a link that leads back to itself \(a loop of links\)"):
            index_paths(store, [tmp_path / "one"])
        with pytest.raises(BadInput, match=r"dangling is a link to .*moved-away, which does not exist"):
            index_paths(store, [tmp_path / "dangling"])
        with pytest.raises(BadInput, match="No such file or folder"):
            index_paths(store, [tmp_path / "never"])
