import os
import sqlite3
import stat
from datetime import datetime, timedelta, timezone

import pytest
from support_db import page_size

from threer.errors import NotFound, StoreError
from threer import store as store_module
from threer.store import PAGE_SIZE, SCHEMA_VERSION, Store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def test_new_database_is_private_wal_and_versioned(tmp_path):
    path = tmp_path / "data" / "threer.db"
    store = Store(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_new_database_has_pages_that_hold_an_article(tmp_path):
    store = Store(tmp_path / "threer.db")
    assert PAGE_SIZE == 16384
    assert store.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    store.close()
    empty = tmp_path / "empty.db"
    empty.touch()  # a file of no bytes (made by hand, or by a run stopped at once) is a new database too
    assert Store(empty).conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE


def test_a_database_made_with_other_pages_keeps_them_and_its_records(tmp_path, monkeypatch):
    path = tmp_path / "threer.db"
    monkeypatch.setattr(store_module, "PAGE_SIZE", 4096)  # as threer made it before, with SQLite's default
    older = Store(path)
    sid = older.create_session(NOW)
    older.record_answer(sid, "intake.issue", {"x": 1}, NOW)
    older.close()
    monkeypatch.undo()
    store = Store(path)
    assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert store.answers(sid)["intake.issue"][0] == {"x": 1}
    store.record_answer(sid, "intake.issue", {"x": 2}, NOW + timedelta(minutes=1))
    assert store.answers(sid)["intake.issue"][0] == {"x": 2}
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_each_answer_is_committed_at_once(tmp_path):
    path = tmp_path / "threer.db"
    store = Store(path)
    sid = store.create_session(NOW)
    store.record_answer(sid, "intake.issue", {"x": 1}, NOW)
    # a second, independent connection sees it without any close or commit by the first
    other = sqlite3.connect(path)
    assert other.execute("SELECT data FROM answers WHERE session_id = ?", (sid,)).fetchone()[0] == '{"x": 1}'


def test_changing_an_answer_keeps_the_earlier_value(tmp_path):
    store = Store(tmp_path / "threer.db")
    sid = store.create_session(NOW)
    store.record_answer(sid, "intake.issue", {"v": 1}, NOW)
    store.record_answer(sid, "intake.issue", {"v": 2}, NOW + timedelta(minutes=1))
    data, _, revision = store.answers(sid)["intake.issue"]
    assert data == {"v": 2} and revision == 2
    history = store.conn.execute("SELECT data, revision FROM answer_history").fetchall()
    assert [(h[0], h[1]) for h in history] == [('{"v": 1}', 1)]


def test_session_ids_are_case_insensitive(tmp_path):
    store = Store(tmp_path / "threer.db")
    sid = store.create_session(NOW)
    assert store.get_session_row(sid.lower())["id"] == sid


def test_corrupt_file_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "threer.db"
    junk = b"this is not a database" * 100
    path.write_bytes(junk)
    with pytest.raises(StoreError) as exc:
        Store(path)
    assert "corrupt" in exc.value.message and "move it aside" in exc.value.message
    assert path.read_bytes() == junk


def test_truncated_sqlite_file_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "threer.db"
    Store(path).close()
    data = path.read_bytes()[:200]  # the header survives, the rest does not
    path.write_bytes(data + b"\xff" * 5000)
    with pytest.raises(StoreError):
        Store(path)
    assert path.read_bytes()[:200] == data


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "threer.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as exc:
        Store(path)
    assert "newer threer" in exc.value.message
    assert path.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_home(tmp_path):
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o500)
    with pytest.raises(StoreError) as exc:
        Store(home / "threer.db")
    assert "THREER_HOME" in exc.value.message


def test_home_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError) as exc:
        Store(blocker / "threer.db")
    assert "THREER_HOME" in exc.value.message


def test_purge_removes_only_old_sessions(tmp_path):
    store = Store(tmp_path / "threer.db")
    old = store.create_session(NOW - timedelta(days=400))
    new = store.create_session(NOW)
    assert store.purge_sessions(NOW - timedelta(days=365)) == [old]
    assert [r["id"] for r in store.list_sessions()] == [new]
    assert store.conn.execute("SELECT COUNT(*) FROM answers WHERE session_id = ?", (old,)).fetchone()[0] == 0


def test_unknown_session(tmp_path):
    store = Store(tmp_path / "threer.db")
    with pytest.raises(NotFound):
        store.get_session_row("20260101-XXXX")
    with pytest.raises(NotFound):
        store.delete_session("nope")


# -- the quick check before writing: the tables written, not the whole file ------------------


def _filled(path):
    """A database with sessions, answers (over several pages) and a past case, closed (its WAL folded into the file)."""
    with Store(path) as store:
        for n in range(30):
            sid = store.create_session(NOW)
            store.record_answer(sid, "intake.issue", {"description": "x" * 1500, "n": n}, NOW)
        store.put_case(sid, title="Outlook asks for the password", body="Resolution: clear the credentials")
    return sid


def _root_page(path, table):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?", (table,)).fetchone()[0]
    finally:
        conn.close()


def _ruin_page(path, page):
    with open(path, "r+b") as fh:
        fh.seek((page - 1) * page_size(path))
        fh.write(b"\xff" * 16)  # no valid b-tree page starts so


def _files(path):
    return {p.name: p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name)}


@pytest.mark.parametrize("table", ["sessions", "answers", "answer_history", "kb_feedback"])
def test_a_damaged_table_of_what_was_typed_is_found_before_the_first_write(tmp_path, table):
    path = tmp_path / "threer.db"
    sid = _filled(path)
    if table == "answer_history":
        with Store(path) as store:
            store.record_answer(sid, "intake.issue", {"description": "changed"}, NOW)
    _ruin_page(path, _root_page(path, table))
    before = _files(path)
    with pytest.raises(StoreError) as exc:
        with Store(path) as store:
            store.create_session(NOW)
    assert "is damaged" in exc.value.message and "has not been changed" in exc.value.message
    assert _files(path) == before


def test_a_damaged_free_page_list_is_found_before_the_first_write(tmp_path):
    """Every new page is taken from the free list: a damaged one would overwrite a page in use."""
    path = tmp_path / "threer.db"
    _filled(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM answers")
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] > 0
    conn.close()  # the last connection: the WAL goes into the file
    with open(path, "r+b") as fh:  # the first free-list page (header bytes 32-35) now points into the sessions table
        fh.seek(32)
        fh.write(_root_page(path, "sessions").to_bytes(4, "big"))
    before = _files(path)
    with pytest.raises(StoreError) as exc:
        with Store(path) as store:
            store.create_session(NOW)
    assert "is damaged" in exc.value.message and "freelist" in exc.value.message
    assert _files(path) == before


def test_the_kb_index_is_checked_before_its_first_write_commits_not_before_an_answer(tmp_path):
    """An answer is saved without reading the KB index (a large KB would cost seconds); a write to the
    KB index is checked before it commits, and a damaged one rolls it back."""
    path = tmp_path / "threer.db"
    sid = _filled(path)
    _ruin_page(path, _root_page(path, "kb_documents"))
    with Store(path) as store:
        store.record_answer(sid, "intake.errors", {"messages": "0x800CCC0E"}, NOW)  # saved: its tables are sound
        assert "kb_documents" not in store._checked
        with pytest.raises(StoreError) as exc:
            store.put_case(sid, title="changed", body="Resolution: something else")
        assert "is damaged" in exc.value.message
        assert store.answers(sid)["intake.errors"][0] == {"messages": "0x800CCC0E"}
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM answers WHERE step_id = 'intake.errors'").fetchone()[0] == 1
    conn.close()


def test_each_table_is_checked_once_per_store(tmp_path):
    path = tmp_path / "threer.db"
    sid = _filled(path)
    with Store(path) as store:
        seen = []
        store.conn.set_trace_callback(seen.append)
        store.record_answer(sid, "intake.errors", {"messages": "none"}, NOW)
        assert {"sqlite_schema", "sessions", "answers"} <= store._checked and "kb_documents" not in store._checked
        for n in range(3):
            store.put_case(sid, title=f"again {n}", body=f"Resolution: again {n}")
            store.record_answer(sid, "intake.errors", {"messages": f"still none {n}"}, NOW)
        assert "kb_documents" in store._checked
        checks = [s for s in seen if "quick_check" in s]
        assert len(checks) == len(set(checks)) and 'PRAGMA quick_check("kb_documents")' in checks
