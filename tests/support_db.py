"""Helpers for tests that damage a database file on purpose."""

from __future__ import annotations

from pathlib import Path


def page_size(db: Path | str) -> int:
    """The page size the file's header gives (bytes 16-17; threer.store.PAGE_SIZE for a new database)."""
    with open(db, "rb") as fh:
        fh.seek(16)
        size = int.from_bytes(fh.read(2), "big")
    return 65536 if size == 1 else size  # SQLite writes 65,536 as 1
