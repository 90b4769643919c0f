"""The store interface: what the triage engine, the CLI, tickets and past cases ask of a database.

Two backends implement it: `threer.store.Store` (one SQLite file, the default for a single
technician) and `threer.store_pg.PostgresStore` (a team database on a PostgreSQL server).
Callers get one from `threer.store.open_store(env, config)` and never construct either
themselves, so no SQL dialect reaches the triage, ticket or KB-cases code.

Rows come back as mappings with the `sessions` table's columns (`row["id"]`, `row["status"]`,
...). Times are ISO 8601 text in UTC on both backends.
"""

from __future__ import annotations

import json

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

from threer.errors import NotFound, StoreError
from threer.safe_text import is_storable, quoted


class AnswerConflict(StoreError):
    """Someone else recorded this step since it was read: their answer stands, ours is in the history."""

    def __init__(self, message: str, *, step_id: str, by: str | None, at: str, revision: int,
                 host: str | None = None) -> None:
        super().__init__(message)
        self.step_id = step_id
        self.by = by  # who saved the answer that stands (None: not recorded, before schema 7 on SQLite)
        self.host = host  # on which machine
        self.at = at
        self.revision = revision  # its revision: a write expecting this one goes through


class StoreOffline(StoreError):
    """The team database cannot be reached; what could not be written is kept on this machine."""


@runtime_checkable
class SessionStore(Protocol):
    """The operations every backend provides (tests/test_store_contract.py runs them on both)."""

    backend: str  # "sqlite" | "postgresql"

    # sessions
    def create_session(self, now: datetime, *, technician: str | None = None, host: str | None = None) -> str: ...
    def get_session_row(self, session_id: str) -> Mapping[str, Any]: ...
    def list_sessions(self, *, status: str | None = None, limit: int | None = None) -> list[Mapping[str, Any]]: ...
    def update_session(self, session_id: str, now: datetime, **columns: Any) -> None: ...
    def delete_session(self, session_id: str) -> None: ...
    # keep_open: an open (paused, in progress) session stays whatever its age; keep_open_since: an open
    # session touched since then stays
    def purge_sessions(self, older_than: datetime, *, keep_open: bool = False,
                       keep_open_since: datetime | None = None) -> list[str]: ...

    # answers, their history, drafts
    def answers(self, session_id: str) -> dict[str, tuple[dict[str, Any], str, int]]: ...
    # step id -> {data, recorded_at, revision, recorded_by, recorded_host}
    def answer_details(self, session_id: str) -> dict[str, dict[str, Any]]: ...
    def record_answer(self, session_id: str, step_id: str, data: dict[str, Any], now: datetime, *,
                      header: dict[str, Any] | None = None, expected_revision: int | None = None,
                      technician: str | None = None, host: str | None = None) -> None: ...
    # earlier and refused revisions: {step_id, data, recorded_at, revision, recorded_by, recorded_host, superseded}
    def answer_history(self, session_id: str) -> list[dict[str, Any]]: ...
    def save_draft(self, session_id: str, step_id: str, data: dict[str, Any], now: datetime) -> None: ...
    def drafts(self, session_id: str) -> dict[str, dict[str, Any]]: ...
    def save_settings(self, session_id: str, settings: dict[str, Any], now: datetime) -> None: ...
    def settings(self, session_id: str) -> dict[str, Any]: ...

    # past cases (a resolved session, searchable by every technician of the store)
    def put_case(self, session_id: str, *, title: str, body: str, tags: Iterable[str] = (),
                 domain: str | None = None) -> str: ...
    def remove_case(self, session_id: str) -> None: ...
    def kb_index(self) -> Any: ...  # the SQLite store holding the KB search index (threer.kb takes it)

    # check-dns history (threer.checks.history): (domain, checked_at, records JSON, findings JSON)
    def add_check_runs(self, rows: list[tuple[str, str, str, str]]) -> None: ...
    def last_check_run(self, domain: str, before: str) -> tuple[str, str, str, str] | None: ...
    def purge_check_runs(self, older_than: str) -> int: ...

    # the database itself
    def describe(self) -> str: ...
    def schema_version(self) -> int: ...
    def counts(self) -> dict[str, int]: ...
    def close(self) -> None: ...


# the session columns a step's answer (or a command) may set, beside updated_at
SESSION_COLUMNS = frozenset({"customer_name", "customer_domain", "status", "closed_at", "ticket_sent_at",
                             "ticket_message_id"})


def session_update(columns: Mapping[str, Any], updated_at: str, mark: str) -> tuple[str, list[Any]]:
    """The SET list and its arguments for `UPDATE sessions` on either backend (`mark`: its placeholder).

    Only SESSION_COLUMNS may be set (ValueError otherwise); datetimes are written as UTC ISO text.
    """
    sets, args = [f"updated_at = {mark}"], [updated_at]
    for key, value in columns.items():
        if key not in SESSION_COLUMNS:
            raise ValueError(key)
        sets.append(f"{key} = {mark}")
        args.append(value.astimezone(timezone.utc).isoformat(timespec="seconds") if isinstance(value, datetime)
                    else value)
    return ", ".join(sets), args


def settings_from_text(text: str | None) -> dict[str, Any]:
    """A session's stored DNS settings; {} for none, or for text that is not a JSON object."""
    try:
        data = json.loads(text) if text else {}
    except (TypeError, ValueError):
        data = {}
    return data if isinstance(data, dict) else {}


def session_not_found(session_id: str) -> NotFound:
    """The one message for an id no session has, on either backend (the id quoted back clipped)."""
    return NotFound(f"No triage session {quoted(session_id, 40)}. Run `threer sessions list` to see the ids.")


def normalise_session_id(session_id: str) -> str:
    """A session id as stored (upper case); NotFound for text no id can be (too long, not UTF-8)."""
    if len(session_id) > 64 or not is_storable(session_id):
        raise session_not_found(session_id)
    return session_id.strip().upper()


def conflict_message(session_id: str, step_id: str, by: str | None, at: str, revision: int, *,
                     host: str | None = None) -> str:
    who = (by or "another technician") + (f" (on {host})" if host else "")
    return (f"{who} changed the answer to {step_id} at {at} (revision {revision}) after you read it. "
            f"Their answer stands and yours is kept in the session's history; run `threer sessions show "
            f"{session_id}` to compare, and `threer triage --resume {session_id} --change {step_id}` to replace theirs.")


def purge_filter(older_than: datetime, keep_open: bool, keep_open_since: datetime | None,
                 mark: str) -> tuple[str, tuple[str, ...]]:
    """The WHERE clause of a purge (both stores; `mark` is the driver's placeholder) and its values."""
    sql, args = f"updated_at <= {mark}", [stored_time(older_than)]
    if keep_open:
        sql += " AND status != 'open'"
    elif keep_open_since is not None:
        sql += f" AND NOT (status = 'open' AND updated_at > {mark})"
        args.append(stored_time(keep_open_since))
    return sql, tuple(args)


def stored_time(when: datetime) -> str:
    """A time as both stores write `updated_at` (text, UTC, to the second), so the two compare as text."""
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")
