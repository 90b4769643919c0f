"""Damaged, full and read-only storage: each has its own words, and a damaged file is never written.

The damage is the one from the fault run: 8 KB in the middle of a working database XORed
with 0xFF, which lands in the KB index's pages; and, beside it, the same XOR over the pages of the
tables of typed text (sessions, answers). Before its first write a command checks the schema, the
free-page list and the typed-text tables; a KB table is checked before the first transaction that
writes it commits. Disk full is a real small tmpfs when the tests run as root (mount works), and
SQLite's own size limit (`PRAGMA max_page_count`, which fails a write with SQLITE_FULL
exactly as a full disk does) everywhere. Read-only is a tmpfs remounted read-only as root,
or a folder without write permission otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from support_db import page_size
from support_prompter import COMPLETE_ANSWERS, PARTNER
from support_sessions import complete_session, make_session

from threer.errors import DatabaseDamaged, StorageFull, StorageReadOnly
from threer.store import Store, mount_point


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _articles(folder: Path, count: int = 60) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        words = " ".join(f"term{(n * 7 + k) % 997} password mailbox quota{n % 13}" for k in range(30))
        (folder / f"a{n:03}.md").write_text(f"# Article {n}\n\n{words}\n", encoding="utf-8")
    return folder


def _answers_file(tmp_path: Path, name: str = "answers.json", **changes) -> Path:
    answers = {"partner": PARTNER, **COMPLETE_ANSWERS, **changes}
    answers["intake.customer"] = {"name": "Contoso Ltd", "domain": "contoso-triage.test"}
    answers = {key: value for key, value in answers.items() if value is not None}
    path = tmp_path / name
    path.write_text(json.dumps(answers), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def working_db(tmp_path_factory) -> Path:
    """A database with sessions, past cases and an indexed KB folder, closed cleanly (no WAL left)."""
    base = tmp_path_factory.mktemp("working")
    db = base / "threer.db"
    with Store(db) as store:
        from threer.kb.index import index_paths

        index_paths(store, [str(_articles(base / "kb", 240))])  # most of the file, so its middle is KB pages
        for _ in range(3):
            complete_session(store)
        make_session(store, _resolved_answers())
    assert not Path(f"{db}-wal").exists()
    return db


def _resolved_answers():
    from support_sessions import ESCALATION

    return {**ESCALATION, "outcome": {"decision": "resolved", "resolution": "Re-created the profile."}}


def xor_middle(db: Path, size: int = 8192) -> None:
    data = bytearray(db.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + size):
        data[i] ^= 0xFF
    db.write_bytes(bytes(data))


def _pages_of(db: Path, tables: tuple[str, ...]) -> list[int]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        marks = ", ".join("?" for _ in tables)
        return [r[0] for r in conn.execute(f"SELECT pageno FROM dbstat WHERE name IN ({marks}) ORDER BY pageno",
                                           tables)]


MIDDLE = 8192


@pytest.fixture
def damaged(working_db, threer_env) -> Path:
    """Damage in the KB index only (the middle of the file)."""
    threer_env.home.mkdir(parents=True, exist_ok=True)
    db = threer_env.db_path
    shutil.copyfile(working_db, db)
    size = db.stat().st_size
    page = page_size(db)
    hit = range(size // 2 // page + 1, (size // 2 + MIDDLE - 1) // page + 2)
    kb = set(_pages_of(db, ("kb_documents", "kb_documents_files", "kb_fts_content", "kb_fts_data", "kb_fts_idx", "kb_top", "kb_top_doc")))
    assert set(hit) <= kb, "the middle of the test database is no longer KB pages: make the KB bigger"
    xor_middle(db, MIDDLE)
    assert _integrity(db) != "ok"
    return db


@pytest.fixture
def damaged_typed(working_db, threer_env) -> Path:
    """Damage in the tables of typed text: every page of sessions and answers XORed."""
    threer_env.home.mkdir(parents=True, exist_ok=True)
    db = threer_env.db_path
    shutil.copyfile(working_db, db)
    pages = _pages_of(db, ("sessions", "answers"))
    data = bytearray(db.read_bytes())
    size = page_size(db)
    for page in pages:
        for i in range((page - 1) * size, page * size):
            data[i] ^= 0xFF
    db.write_bytes(bytes(data))
    assert _integrity(db) != "ok"
    return db


def _middle(db: Path) -> bytes:
    data = db.read_bytes()
    return data[len(data) // 2: len(data) // 2 + MIDDLE]


def _integrity(db: Path) -> str:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        try:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            return str(exc)


def _session_ids(working_db: Path) -> list[str]:
    with closing(sqlite3.connect(working_db)) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM sessions ORDER BY id")]


WRITING_COMMANDS = [
    pytest.param(lambda ids, tmp: ["sessions", "purge", "--older-than", "0", "--yes"], id="sessions-purge"),
    pytest.param(lambda ids, tmp: ["sessions", "delete", ids[0], "--yes"], id="sessions-delete"),
    pytest.param(lambda ids, tmp: ["kb", "index", str(_articles(tmp / "more", 5))], id="kb-index"),
    pytest.param(lambda ids, tmp: ["triage", "--no-input", "--dns-only", "--profile", "none", "--nameserver",
                                   "127.0.0.1:9", "--dns-timeout", "0.5", "--answers", str(_answers_file(tmp))],
                 id="triage-answers"),
    pytest.param(lambda ids, tmp: ["triage", "--no-input", "--resume", ids[0], "--change", "intake.errors",
                                   "--answers", str(_answers_file(tmp))], id="triage-change"),
    pytest.param(lambda ids, tmp: ["kb", "search", "password"], id="kb-search-first-use"),
]


@pytest.mark.parametrize("command", WRITING_COMMANDS)
def test_a_database_damaged_where_typed_text_is_kept_is_never_written(command, damaged_typed, working_db, invoke,
                                                                      tmp_path):
    before = digest(damaged_typed)
    result = invoke(*command(_session_ids(working_db), tmp_path))
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "is damaged" in result.stderr and "has not been changed" in result.stderr
    assert "Traceback" not in result.stderr and "Purged" not in result.stderr
    assert digest(damaged_typed) == before


KB_WRITING = {"kb-index", "kb-search-first-use"}


@pytest.mark.parametrize("command", WRITING_COMMANDS)
def test_a_damaged_kb_index_is_never_written(command, damaged, working_db, invoke, tmp_path, request):
    """A command writing the KB index stops before anything is written. One that saves typed text (a
    triage, a purge) saves it in its own sound tables, then stops where it meets the damage, and says so;
    the damaged pages are never written (nor the file vacuumed)."""
    before, middle = digest(damaged), _middle(damaged)
    result = invoke(*command(_session_ids(working_db), tmp_path))
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "is damaged" in result.stderr and "Traceback" not in result.stderr
    if request.node.callspec.id in KB_WRITING:
        assert "has not been changed" in result.stderr and digest(damaged) == before
    else:
        assert "has not been changed" in result.stderr or "what it saved before is kept" in result.stderr
    assert _middle(damaged) == middle
    with closing(sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)) as conn:
        for table in ("sqlite_schema", "sessions", "answers", "answer_history"):
            assert conn.execute(f"PRAGMA quick_check({table})").fetchone()[0] == "ok"


def test_kb_import_into_a_damaged_database(damaged, invoke, httpserver):
    httpserver.expect_request("/a").respond_with_data("<html><head><title>A</title></head><body><main><p>"
                                                     "password prompt</p></main></body></html>",
                                                     content_type="text/html")
    before = digest(damaged)
    result = invoke("kb", "import", httpserver.url_for("/a"))
    assert result.exit_code == 3 and "is damaged" in result.stderr
    assert digest(damaged) == before


def test_the_quick_check_runs_before_the_first_write(damaged_typed):
    before = digest(damaged_typed)
    store = Store(damaged_typed)
    with pytest.raises(DatabaseDamaged) as exc:
        store.update_session("20240304-XXXX", store_now())
    assert "has not been changed" in exc.value.message
    store.close()
    assert digest(damaged_typed) == before


def store_now():
    from datetime import datetime, timezone

    return datetime(2024, 3, 4, tzinfo=timezone.utc)


# -- full ----------------------------------------------------------------------------------


def test_a_full_database_keeps_what_was_saved_and_says_so(tmp_path):
    from threer.triage.engine import TriageEngine

    store = Store(tmp_path / "threer.db")
    engine = TriageEngine.new(store, clock=store_now)
    engine.record("intake.customer", engine.parse("intake.customer", {"name": "Contoso", "domain": "contoso.test"}))
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: the next big write is full
    with pytest.raises(StorageFull) as exc:
        engine.record("intake.errors", engine.parse("intake.errors", "0x800CCC0E " + "x" * 19_000))
    message = exc.value.message
    assert "free space on" in message and "Nothing was lost" in message
    assert f"the last answer saved is intake.customer of triage {engine.session_id}" in message
    assert "damaged" not in message and "move it aside" not in message
    store.close()
    with Store(tmp_path / "threer.db") as again:
        assert set(again.answers(engine.session_id)) == {"intake.customer"}
        assert again.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def small_disk(tmp_path):
    """A real 4 MB tmpfs (room for the database and its WAL while the sample KB is indexed) (root only); unmounted afterwards."""
    if not _can_mount():
        pytest.skip("mounting a small tmpfs needs root")
    where = tmp_path / "disk"
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(where)],
                      capture_output=True).returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    try:
        with open(filler, "wb") as fh:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
    except OSError:
        pass  # full; also when closing flushes the part of the last write that did not fit
    return filler


def _saved(db: Path) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return list(conn.execute("SELECT session_id, step_id, data, revision FROM answers ORDER BY 1, 2"))


def test_disk_full_during_triage(small_disk, tmp_path, invoke):
    env = {"THREER_HOME": str(small_disk / "home")}
    args = ("triage", "--no-input", "--dns-only", "--profile", "none", "--nameserver", "127.0.0.1:9",
            "--dns-timeout", "0.5", "--answers", str(_answers_file(tmp_path)))
    first = invoke(*args, env=env)
    assert first.exit_code == 0, first.stderr
    first_id = first.stdout.strip()
    before = _saved(small_disk / "home" / "threer.db")
    filler = _fill(small_disk)
    result = invoke(*args, env=env)
    assert result.exit_code == 3, result.stderr
    assert f"free space on {small_disk}" in result.stderr
    assert f"Nothing was lost; the last answer saved is outcome of triage {first_id}" in result.stderr
    assert "damaged" not in result.stderr and "move it aside" not in result.stderr
    assert _integrity(small_disk / "home" / "threer.db") == "ok"
    assert _saved(small_disk / "home" / "threer.db") == before  # (a checkpoint may rewrite pages: compare rows)
    filler.unlink()
    again = invoke(*args, env=env)
    assert again.exit_code == 0, again.stderr
    listed = json.loads(invoke("sessions", "list", "--json", env=env).stdout)["sessions"]
    assert len(listed) == 2 and all(s["recorded"] == 14 for s in listed)
    assert mount_point(small_disk / "home" / "threer.db") == small_disk


# -- read-only -------------------------------------------------------------------------------


@pytest.fixture
def read_only_home(tmp_path, working_db):
    """A THREER_HOME holding a good database that cannot be written: a read-only mount, or no write permission."""
    if _can_mount():
        where = tmp_path / "ro"
        where.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
                          capture_output=True).returncode == 0:
            shutil.copyfile(working_db, where / "threer.db")
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
            yield where
            subprocess.run(["umount", "-l", str(where)], capture_output=True)
            return
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root writes anywhere, and mounting is not allowed here")
    where = tmp_path / "ro"
    where.mkdir()
    shutil.copyfile(working_db, where / "threer.db")
    os.chmod(where / "threer.db", 0o400)
    os.chmod(where, 0o500)
    yield where
    os.chmod(where, 0o700)


def test_read_only_storage_reads_but_does_not_write(read_only_home, working_db, invoke, tmp_path):
    env = {"THREER_HOME": str(read_only_home)}
    before = digest(read_only_home / "threer.db")
    session_id = _session_ids(working_db)[0]
    for args in (["sessions", "list"], ["sessions", "show", session_id], ["kb", "search", "password mailbox"],
                 ["ticket", session_id]):
        result = invoke(*args, env=env)
        assert result.exit_code in (0, 1), (args, result.stderr)  # ticket: 1 without partner details
        assert "database" not in result.stderr
    found = json.loads(invoke("kb", "search", "password mailbox", "--json", env=env).stdout)["results"]
    assert invoke("kb", "show", found[0]["id"], env=env).exit_code == 0
    for args in (["sessions", "purge", "--older-than", "0", "--yes"], ["kb", "index", str(_articles(tmp_path / "k", 2))]):
        result = invoke(*args, env=env)
        assert result.exit_code == 3, (args, result.stdout)
        assert "cannot write to the database" in result.stderr and "still work" in result.stderr
        assert "damaged" not in result.stderr and "move it aside" not in result.stderr
    assert digest(read_only_home / "threer.db") == before


def test_read_only_store_raises_its_own_error(tmp_path, working_db):
    db = tmp_path / "threer.db"
    shutil.copyfile(working_db, db)
    with Store(db, readonly=True) as store:
        assert store.list_sessions()
        with pytest.raises(StorageReadOnly):
            store.purge_sessions(store_now())
