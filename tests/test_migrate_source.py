"""`threer db migrate --from FILE` only reads the file it copies (review 2 #24): opened read-only, and a
file that is not threer's database, not SQLite at all, or of another schema version is refused with
exit 2 naming it, before anything is copied, and left exactly as it was."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path


from threer.store import MIGRATIONS, SCHEMA_VERSION, Store, _split_sql

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
NOWHERE = "postgresql://sam@127.0.0.1:1/threer"  # never reached: the source is refused first


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def _refused(invoke, path: Path) -> str:
    before, names = _digest(path), _siblings(path)
    result = invoke("db", "migrate", "--to", NOWHERE, "--from", str(path))
    assert result.exit_code == 2, result.stderr
    assert _digest(path) == before and _siblings(path) == names  # not a byte written, no -wal/-shm left
    said = " ".join(result.stderr.split())
    assert str(path) in said and "Traceback" not in said
    assert "THREER_HOME elsewhere" not in said and "--from FILE" in said
    return said


def test_another_programs_sqlite_database_is_refused_and_left_alone(invoke, tmp_path) -> None:
    other = tmp_path / "work" / "other.db"
    other.parent.mkdir()
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE x (a)")
        conn.execute("INSERT INTO x VALUES (1)")
    conn.close()
    said = _refused(invoke, other)
    assert "is an SQLite file but not a threer database" in said
    with sqlite3.connect(other) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["x"]
    conn.close()


def test_a_file_that_is_not_sqlite_is_bad_input_not_a_failure(invoke, tmp_path) -> None:
    text = tmp_path / "bad.db"
    text.write_text("this is not a database\n")
    assert "not an SQLite file at all" in _refused(invoke, text)
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert "not an SQLite file at all" in _refused(invoke, empty)


def test_a_folder_is_refused(invoke, tmp_path) -> None:
    result = invoke("db", "migrate", "--to", NOWHERE, "--from", str(tmp_path))
    assert result.exit_code == 2 and "is a folder" in result.stderr


def _older(path: Path, version: int) -> None:
    """A threer database as an older threer left it: the first `version` migrations only."""
    conn = sqlite3.connect(path, isolation_level=None)
    for number in range(1, version + 1):
        script = MIGRATIONS[number - 1]
        for statement in _split_sql(script() if callable(script) else script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.close()


def test_an_older_threer_database_is_refused_with_the_way_to_bring_it_up_to_date(invoke, tmp_path, pg_url) -> None:
    old = tmp_path / "laptop" / "threer.db"
    old.parent.mkdir()
    _older(old, SCHEMA_VERSION - 1)
    said = _refused(invoke, old)
    assert f"older version (schema {SCHEMA_VERSION - 1}" in said and "threer db status" in said
    # the advice works: opened once by this threer, then copied
    status = invoke("db", "status", "--json", env={"THREER_HOME": str(old.parent)})
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["schema_version"] == SCHEMA_VERSION
    result = invoke("db", "migrate", "--to", pg_url, "--from", str(old))
    assert result.exit_code == 0, result.stderr


def test_a_newer_threer_database_is_refused(invoke, tmp_path) -> None:
    newer = tmp_path / "newer.db"
    with Store(newer):
        pass
    conn = sqlite3.connect(newer, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    assert "written by a newer threer" in " ".join(
        invoke("db", "migrate", "--to", NOWHERE, "--from", str(newer)).stderr.split())


def test_the_copy_reads_a_threer_database_it_may_not_write(invoke, tmp_path, pg_url) -> None:
    source = tmp_path / "copy" / "threer.db"
    with Store(source) as store:
        sid = store.create_session(NOW, technician="anna", host="laptop-2")
        store.record_answer(sid, "intake.issue", {"v": 1}, NOW)
    source.chmod(0o400)
    source.parent.chmod(0o500)  # not even a -shm beside it
    try:
        before = _digest(source)
        result = invoke("db", "migrate", "--to", pg_url, "--from", str(source), "--json")
        assert result.exit_code == 0, result.stderr
        tables = json.loads(result.stdout)["tables"]
        assert tables["sessions"]["copied"] == 1 and tables["answers"]["copied"] == 1
        assert _digest(source) == before
    finally:
        source.parent.chmod(0o700)
        source.chmod(0o600)
