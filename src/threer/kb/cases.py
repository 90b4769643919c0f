"""Resolved triage sessions as searchable past cases."""

from __future__ import annotations

import sqlite3


def remove_case(cur: sqlite3.Cursor, session_id: str) -> None:
    """Remove the past case made from a session (when the session is deleted or purged)."""
    cur.execute("DELETE FROM kb_documents WHERE source = 'case' AND doc_id = ?", ("case:" + session_id,))
