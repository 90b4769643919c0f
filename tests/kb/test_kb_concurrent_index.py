"""Two `threer kb index` processes at once leave one consistent index."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from threer.store import Store

FILES = 600


def write_folder(folder: Path, version: int, count: int) -> None:
    folder.mkdir(exist_ok=True)
    for n in range(count):
        (folder / f"a{n:04d}.md").write_text(
            f"---\nid: art-{n}\ntitle: Article {n} v{version}\ntags: [t{n % 7}]\n---\n\n"
            f"Body of article {n}, version {version}. word{n} " + "filler text " * 40,
            encoding="utf-8",
        )


def run_two(folder: Path, env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "threer", "kb", "index", str(folder)]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "Indexed" in out


def check(db: Path, expected: dict[str, str]) -> None:
    conn = sqlite3.connect(db)
    try:
        rows = dict(conn.execute("SELECT doc_id, title FROM kb_documents WHERE origin = 'file'").fetchall())
        assert rows == expected
        docs = {r[0] for r in conn.execute("SELECT rowid FROM kb_documents")}
        fts = {r[0] for r in conn.execute("SELECT rowid FROM kb_fts")}
        assert docs == fts
        conn.execute("INSERT INTO kb_fts (kb_fts) VALUES ('integrity-check')")
        listed = {r[0] for r in conn.execute("SELECT DISTINCT doc FROM kb_top")}
        articles = {r[0] for r in conn.execute("SELECT rowid FROM kb_documents WHERE source = 'kb'")}
        assert listed == articles  # every article has its impact list, and no list outlives its article
        samples = conn.execute("SELECT count(*) FROM kb_documents WHERE origin = 'sample'").fetchone()[0]
        assert samples == len(list((Path(__file__).parents[2] / "src/threer/kb/articles").glob("*.md")))
        hit = conn.execute("SELECT count(*) FROM kb_fts WHERE kb_fts MATCH '\"word17\"'").fetchone()[0]
        assert hit == 1
    finally:
        conn.close()


def test_two_index_runs_at_once(tmp_path, threer_env):
    folder = tmp_path / "kb"
    env = dict(os.environ)  # THREER_HOME and THREER_CONFIG come from the autouse fixture
    write_folder(folder, 1, FILES)
    Store(threer_env.db_path).close()  # created first: creating one database from two processes is the store's concern
    run_two(folder, env)
    check(threer_env.db_path, {f"art-{n}": f"Article {n} v1" for n in range(FILES)})

    write_folder(folder, 2, FILES // 2)  # change half, delete a third
    for n in range(FILES - FILES // 3, FILES):
        (folder / f"a{n:04d}.md").unlink()
    run_two(folder, env)
    expected = {f"art-{n}": f"Article {n} v{2 if n < FILES // 2 else 1}" for n in range(FILES - FILES // 3)}
    check(threer_env.db_path, expected)
