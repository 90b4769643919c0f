"""A database damaged inside the FTS index: `kb search` says so plainly (exit 3) and changes nothing.

The damage is real: 4 KB of the file's pages that belong to the FTS5 index (`kb_fts_data`)
are overwritten with bytes no SQLite page holds, as a failing disk or a bad copy would.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

GARBAGE = b"\xde\xad\xbe\xef" * 1024  # 4 KB; 0xde is no b-tree page type


def _fill(folder: Path, count: int = 120) -> None:
    folder.mkdir()
    for n in range(count):
        words = " ".join(f"term{(n * 7 + k) % 997} password mailbox quota{n % 13}" for k in range(40))
        (folder / f"a{n:03}.md").write_text(f"# Article {n}\n\n{words}\n", encoding="utf-8")


def _overwrite_page(db: Path, pageno: int) -> None:
    with closing(sqlite3.connect(db)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as fh:
        fh.seek((pageno - 1) * page_size)
        fh.write(GARBAGE)


def _fts_pages(db: Path) -> tuple[int, list[int]]:
    """The root page of the FTS index's data table, and its other pages (dbstat; [] without it)."""
    with closing(sqlite3.connect(db)) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'kb_fts_data'").fetchone()[0]
        try:
            pages = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = 'kb_fts_data' ORDER BY pageno")]
        except sqlite3.OperationalError:  # an SQLite built without the dbstat table
            pages = []
    return root, [p for p in pages if p != root]


def _matches(db: Path, term: str) -> bool:
    """Whether a bare FTS5 query for `term` still runs on the file (False: it hits the damage)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("SELECT count(*) FROM kb_fts WHERE kb_fts MATCH ?", (f'"{term}"',)).fetchone()
        return True
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


def _damage_part(db: Path, tmp_path: Path) -> None:
    """Damage one page of the index so that a search for "password" fails and one for "term5" does not."""
    _root, pages = _fts_pages(db)
    if not pages:
        pytest.skip("this SQLite has no dbstat table to find the FTS pages with")
    trial = tmp_path / "trial.db"
    for pageno in pages:
        shutil.copyfile(db, trial)
        _overwrite_page(trial, pageno)
        if not _matches(trial, "password") and _matches(trial, "term5"):
            _overwrite_page(db, pageno)
            return
    pytest.skip("no single FTS page held the doclist of 'password' alone")  # pragma: no cover


@pytest.fixture
def indexed_db(invoke, threer_env, tmp_path) -> Path:
    folder = tmp_path / "articles"
    _fill(folder)
    assert invoke("kb", "index", str(folder)).exit_code == 0
    db = threer_env.db_path
    wal = Path(str(db) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # everything is in the main file, where the damage goes
    return db


def _assert_plain_damage_message(result, db: Path, before: str) -> None:
    message = " ".join(result.stderr.split())
    assert result.exit_code == 3, message
    assert result.stdout == ""
    assert message.startswith("Error:") and "database" in message
    assert "unexpected error" not in message and "Traceback" not in message
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # reported, never touched


@pytest.mark.parametrize("args", [["password"], ["password", "--json"], ["quota3", "--source", "kb"]])
def test_search_of_a_damaged_index_is_exit_3_with_a_plain_message(invoke, indexed_db, args):
    root, _pages = _fts_pages(indexed_db)
    _overwrite_page(indexed_db, root)
    before = hashlib.sha256(indexed_db.read_bytes()).hexdigest()
    _assert_plain_damage_message(invoke("kb", "search", *args), indexed_db, before)


def test_search_of_a_partly_damaged_index_is_exit_3_where_it_meets_the_damage(invoke, indexed_db, tmp_path):
    _damage_part(indexed_db, tmp_path)
    before = hashlib.sha256(indexed_db.read_bytes()).hexdigest()
    result = invoke("kb", "search", "password")
    _assert_plain_damage_message(result, indexed_db, before)
    assert "malformed" in result.stderr  # sqlite's own word for it, in the message


def test_a_failing_search_raises_sqlites_error_and_ends_its_read(indexed_db):
    from threer.kb.search import search
    from threer.store import Store

    root, _pages = _fts_pages(indexed_db)
    _overwrite_page(indexed_db, root)
    with Store(indexed_db) as store:
        with pytest.raises(sqlite3.DatabaseError) as caught:
            search(store, "password")
        assert caught.value.sqlite_errorname.startswith("SQLITE_CORRUPT")  # not re-wrapped, not another error
        assert not store.conn.in_transaction  # the read was ended, not left open by a failed COMMIT
