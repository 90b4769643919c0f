"""`threer db`: which database threer uses, and moving a technician's SQLite data to the team database."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from threer.cli.app import app_context
from threer.cli.output import emit_json, stderr_console, stdout_console

db_app = typer.Typer(
    help=("The database threer keeps sessions and past cases in: the SQLite file (one technician) or a team "
          "PostgreSQL database.\n\nExample:\n\n  threer db status"),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("status")
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Show the backend in use, where it is, its schema version and how many rows it holds.

    Example: THREER_DATABASE_URL=postgresql://alice@db.example.net/threer threer db status
    """
    from threer.kb.backend import describe_search
    from threer.store import SCHEMA_VERSION, open_store
    from threer.store_open import database_url

    env = app_context(ctx).env
    url, origin = database_url(env)
    with open_store(env) as store:
        doc = {
            "version": 1,
            "backend": store.backend,
            "location": store.describe(),
            "url_from": origin or None,
            "schema_version": store.schema_version(),
            "schema_version_known": SCHEMA_VERSION,
            "counts": store.counts(),
            "pending": store.pending() if hasattr(store, "pending") else 0,
            "kb_search": describe_search(store),
        }
    if as_json:
        emit_json(doc)
        return
    console = stdout_console()
    where = f"{doc['location']} (from {'THREER_DATABASE_URL' if origin == 'environment' else 'the config'})" \
        if url else doc["location"]
    console.print(f"Backend: {'PostgreSQL' if url else 'SQLite'}, {where}")
    console.print(f"Schema version: {doc['schema_version']} (this threer: {SCHEMA_VERSION})")
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in doc["counts"].items():
        table.add_row(name, str(count))
    console.print(table)
    kb = doc["kb_search"]
    index = ("PostgreSQL full-text search (tsvector, GIN), in the team database" if kb["index"] == "postgresql"
             else "SQLite FTS5, in this machine's file")
    spelling = "pg_trgm trigram similarity" if kb["spelling"] == "pg_trgm" else "rapidfuzz"
    if kb["spelling_note"]:
        spelling += f" ({kb['spelling_note']})"
    console.print(f"KB search: {index}; typo correction: {spelling}", soft_wrap=True, markup=False)
    console.print("KB index: " + ", ".join(f"{n} {name.removeprefix('kb_')}" for name, n in kb["counts"].items()),
                  soft_wrap=True)
    if doc["pending"]:
        console.print(f"{doc['pending']} answer(s) typed while the server was unreachable wait on this machine; "
                      "they are written the next time threer reaches it.")


@db_app.command("migrate")
def migrate(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", metavar="URL",
                           help="The team database, postgresql://USER@HOST/DB (password from PGPASSWORD or ~/.pgpass)."),
    source: Optional[str] = typer.Option(None, "--from", metavar="FILE",
                                         help="The SQLite file to copy (default: threer.db in THREER_HOME)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Copy this machine's sessions, answers, history, drafts, past cases and outcome learning into the team database.

    Run it again at any time: what is already there is not copied twice, and sessions the team
    database has purged or deleted are not brought back. Afterwards set database_url
    (threer config set database_url URL) to use the team database, and remove the SQLite file
    (or keep it read-only).

    Example: threer db migrate --to postgresql://alice@db.example.net/threer?sslmode=verify-full
    """
    from pathlib import Path

    from threer.store_source import open_source
    from threer.store_pg import PostgresStore, check_url, import_sqlite, redact_url

    env = app_context(ctx).env
    url = check_url(to, from_config=False)
    path = Path(source).expanduser() if source else env.db_path
    with open_source(path) as local, PostgresStore(url, local_home=env.home) as team:
        report = import_sqlite(local, team)
    if as_json:
        emit_json({"version": 1, "from": str(path), "to": redact_url(url), "tables": report})
        return
    console = stderr_console()
    for table, numbers in report.items():
        line = f"{table}: {numbers['copied']} copied, {numbers['already']} already there"
        if numbers.get("clash"):
            line += f", {numbers['clash']} left out (the id is another technician's session)"
        if numbers.get("purged"):
            line += (f", {numbers['purged']} not brought back (purged from the team database: past the "
                     "retention period)")
        if numbers.get("deleted"):
            line += f", {numbers['deleted']} not brought back (deleted from the team database)"
        console.print(line)
    console.print(f"Done. To use the team database here: threer config set database_url '{redact_url(url)}'")
    console.print(f"Then remove {path} (or keep it read-only, chmod 400): threer no longer uses it, and it still "
                  "holds the customer data copied.")
