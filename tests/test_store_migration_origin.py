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
