"""Several processes opening a brand-new database at the same instant all succeed, and it ends up
migrated once (a help desk may start two threer commands at once on first use)."""

import subprocess
import sys
import textwrap

from threer.store import SCHEMA_VERSION, Store

OPEN = textwrap.dedent("""
    import sys, time
    from threer.store import Store
    start = float(sys.argv[2])
    while time.time() < start:
        pass
    store = Store(sys.argv[1])
    store.create_session(__import__("datetime").datetime.now(__import__("datetime").timezone.utc))
""")


def test_many_processes_create_the_database_at_once(tmp_path):
    import time

    path = tmp_path / "threer.db"
    start = str(time.time() + 1.5)  # all of them start together, after their imports
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(path), start], stderr=subprocess.PIPE)
             for _ in range(6)]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    store = Store(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert len(store.list_sessions()) == 6
