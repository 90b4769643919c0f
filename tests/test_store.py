import os
import sqlite3
import stat
from datetime import datetime, timedelta, timezone

import pytest

from threer.errors import NotFound, StoreError
from threer.store import SCHEMA_VERSION, Store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def test_new_database_is_private_wal_and_versioned(tmp_path):
    path = tmp_path / "data" / "threer.db"
    store = Store(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


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
