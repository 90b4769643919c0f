"""`sessions purge` and `sessions delete` remove customer text from the file itself.

Markers planted in every kind of field (customer name and domain, typed answers, the
resolution indexed as a past case) are searched for byte by byte in the database, its WAL,
its shared-memory file and any journal after the purge; they are there before it.
"""

from __future__ import annotations

from pathlib import Path

from support_sessions import ESCALATION, make_session

from threer.store import Store

MARKERS = [f"qzvmark{n:02d}" for n in range(15)]


def _plant(store: Store, first: int) -> str:
    m = MARKERS[first:first + 5]
    answers = {
        **ESCALATION,
        "intake.customer": {"name": f"Contoso {m[0]}", "domain": f"{m[1]}.example"},
        "intake.errors": f"0x800CCC0E {m[2]} authentication required",
        "outcome": {"decision": "resolved", "resolution": f"Re-created the profile {m[3]}; tested with {m[4]}."},
    }
    session_id = make_session(store, answers)
    from threer.triage.actions import index_resolved_case
    from threer.triage.engine import load_session

    index_resolved_case(store, load_session(store, session_id))  # as `threer triage` does on "resolved"
    return session_id


def _files(db: Path) -> list[Path]:
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")) if p.exists()]


def _found(db: Path) -> set[str]:
    data = b"".join(p.read_bytes() for p in _files(db))
    return {m for m in MARKERS if m.encode() in data or m.upper().encode() in data}


def test_purge_removes_every_planted_marker(invoke, threer_env):
    with Store(threer_env.db_path) as store:
        from threer.kb.search import search

        for first in (0, 5, 10):
            _plant(store, first)
        assert search(store, "qzvmark03")  # the past case is indexed: its words are in the FTS index
    assert _found(threer_env.db_path) == set(MARKERS)
    result = invoke("sessions", "purge", "--older-than", "0", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "Purged 3 sessions" in result.stderr
    assert _found(threer_env.db_path) == set()


def test_delete_removes_one_session_and_keeps_the_others(invoke, threer_env):
    with Store(threer_env.db_path) as store:
        gone = _plant(store, 0)
        _plant(store, 5)
    result = invoke("sessions", "delete", gone, "--yes")
    assert result.exit_code == 0, result.stderr
    assert _found(threer_env.db_path) == set(MARKERS[5:10])
    found = invoke("kb", "search", "qzvmark08", "--json")
    assert '"case"' in found.stdout  # the remaining past case is still found


def test_secure_delete_is_on_for_every_connection(tmp_path):
    with Store(tmp_path / "threer.db") as store:
        assert store.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
