"""Migration 4 (issue 13): a database of threer 0.1 gains the technician, host and ticket-sent columns, and
keeps its sessions."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from threer.store import MIGRATIONS, SCHEMA_VERSION, Store, _split_sql
from threer.triage.engine import load_session


def _version_2_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        for statement in _split_sql(script() if callable(script) else script):
            conn.execute(statement)
    conn.execute("INSERT INTO sessions (id, created_at, updated_at, status) VALUES "
                 "('20240101-ABCD', '2024-01-01T09:00:00+00:00', '2024-01-01T09:30:00+00:00', 'escalated')")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()


def test_a_version_2_database_is_migrated_and_keeps_its_sessions(tmp_path: Path) -> None:
    path = tmp_path / "threer.db"
    _version_2_database(path)
    with Store(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 4
        session = load_session(store, "20240101-ABCD")
        assert session.status == "escalated" and session.technician is None and session.ticket_sent_at is None
        sent = datetime(2024, 1, 2, 10, 0, tzinfo=timezone.utc)
        store.update_session(session.id, sent, ticket_sent_at=sent, ticket_message_id="<x@threer>")
        again = load_session(store, session.id)
        assert again.ticket_sent_at == sent and again.ticket_message_id == "<x@threer>"


def test_new_sessions_record_technician_and_host(tmp_path: Path) -> None:
    with Store(tmp_path / "threer.db") as store:
        session_id = store.create_session(datetime(2024, 1, 1, tzinfo=timezone.utc), technician="Sam", host="pc-7")
        session = load_session(store, session_id)
    assert (session.technician, session.host) == ("Sam", "pc-7")


def test_a_version_6_database_gains_who_saved_each_answer_and_keeps_its_answers(tmp_path: Path) -> None:
    """Migration 7 (issue 12): answers and history saved before it have no name; new ones have one."""
    path = tmp_path / "threer.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:6]:
        for statement in _split_sql(script() if callable(script) else script):
            conn.execute(statement)
    conn.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES "
                 "('20250101-ABCD', '2025-01-01T09:00:00+00:00', '2025-01-01T09:30:00+00:00')")
    conn.execute("INSERT INTO answers VALUES ('20250101-ABCD', 'intake.issue', "
                 "'{\"status\": \"answered\", \"answer\": {\"description\": \"old words\"}}', "
                 "'2025-01-01T09:10:00+00:00', 2)")
    conn.execute("INSERT INTO answer_history VALUES ('20250101-ABCD', 'intake.issue', "
                 "'{\"status\": \"answered\", \"answer\": {\"description\": \"first words\"}}', "
                 "'2025-01-01T09:05:00+00:00', 1)")
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION >= 7
        old = load_session(store, "20250101-ABCD").steps["intake.issue"]
        assert (old.answer, old.revision, old.recorded_by, old.recorded_host) == (
            {"description": "old words"}, 2, None, None)
        (earlier,) = store.answer_history("20250101-ABCD")
        assert earlier["recorded_by"] is None and earlier["superseded"] is False
        store.record_answer("20250101-ABCD", "intake.issue", {"status": "answered", "answer": {"description": "new"}},
                            datetime(2025, 1, 2, tzinfo=timezone.utc), expected_revision=2, technician="Sam",
                            host="pc-7")
        new = load_session(store, "20250101-ABCD").steps["intake.issue"]
        assert (new.revision, new.recorded_by, new.recorded_host) == (3, "Sam", "pc-7")
