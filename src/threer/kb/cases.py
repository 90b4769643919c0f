"""Resolved triage sessions as searchable past cases.

A past case is a KB document with `source = "case"` and the id `case:<SESSION-ID>`
(for example `case:20261126-7K3P`); `threer kb show` also accepts the bare session id.
The triage calls `index_case` when a session is closed as resolved, and the store calls
`remove_case` when the session is deleted or purged, so no customer data outlives it.

A case body is one `Label: value` line a field (CASE_LABELS), a value possibly running on
over further lines (error text is kept verbatim); `case_fields` reads it back for display.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

CASE_PREFIX = "case:"
# the labels the triage writes a case body with (threer.triage.actions.case_document), in its order
CASE_LABELS = ("Symptom", "Affected", "Errors", "Environment", "DNS", "Resolution")


def case_id(session_id: str) -> str:
    """The KB id of the past case made from a session."""
    return CASE_PREFIX + session_id.strip().upper()


def index_case(
    store_or_cursor: Any,
    session_id: str,
    *,
    title: str,
    body: str,
    tags: Iterable[str] = (),
    domain: str | None = None,
) -> str:
    """Add or replace the past case of a resolved session; return its KB id.

    `body` is plain text, `Label: value` lines (CASE_LABELS): the symptom, the errors seen
    verbatim, the resolution. It is stored and searched as text, not Markdown, so error
    text keeps every character. The domain is indexed with the tags, so searching for it
    finds the case. Pass the store (its own transaction) or a cursor inside the caller's
    transaction.
    """
    from threer.kb.documents import put_document

    doc_id = case_id(session_id)
    case_title_text, case_tag_list = case_title(title, session_id), case_tags(tags, domain)

    def put(cur: sqlite3.Cursor) -> None:
        put_document(cur, doc_id=doc_id, source="case", origin="case", title=case_title_text, tags=case_tag_list,
                     body=body or "", fmt="text", path=None, domain=domain)

    if isinstance(store_or_cursor, sqlite3.Cursor):
        put(store_or_cursor)
    else:
        with store_or_cursor.transaction() as cur:
            put(cur)
    return doc_id


def case_title(title: str | None, session_id: str) -> str:
    """A case's title on one line; a case without one is named after its session."""
    return " ".join((title or "").split()) or f"Past case {session_id.strip().upper()}"


def case_tags(tags: Iterable[str], domain: str | None) -> list[str]:
    """A case's tags, with the customer domain among them so that searching for it finds the case."""
    tag_list = [t.strip() for t in tags if t and t.strip()]
    if domain and domain not in tag_list:
        tag_list.append(domain)
    return tag_list


def case_fields(body: str) -> list[tuple[str, str]]:
    """The (label, value) fields of a case body in order; a value keeps its own line breaks.

    A line starting with one of CASE_LABELS and a colon starts a field; any other line
    belongs to the field before it. Text before the first label comes as label "".
    """
    fields: list[tuple[str, list[str]]] = []
    for line in (body or "").splitlines():
        label, sep, rest = line.partition(":")
        if sep and label.strip() in CASE_LABELS and label == label.lstrip():
            fields.append((label.strip(), [rest.strip()]))
        elif fields:
            fields[-1][1].append(line.rstrip())
        elif line.strip():
            fields.append(("", [line.rstrip()]))
    return [(label, "\n".join(lines).strip("\n")) for label, lines in fields]


def remove_case(cur: sqlite3.Cursor, session_id: str) -> None:
    """Remove the past case made from a session, and what it taught the search (deleted or purged)."""
    from threer.kb.feedback import forget_session

    forget_session(cur, session_id.strip().upper())
    doc_id = case_id(session_id)
    row = cur.execute("SELECT rowid FROM kb_documents WHERE doc_id = ? AND source = 'case'", (doc_id,)).fetchone()
    if row is not None:
        from threer.kb.documents import delete_rowid

        delete_rowid(cur, row[0])
