"""Past cases: indexed when a session is resolved, searchable beside articles, gone with the session."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threer.errors import NotFound
from threer.kb.cases import CASE_LABELS, case_fields, index_case, remove_case
from threer.kb.documents import get_document
from threer.kb.search import search
from threer.store import Store

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "kb.db") as s:
        yield s


def resolved_case(store: Store, **kw) -> str:
    session_id = store.create_session(NOW)
    index_case(
        store,
        session_id,
        title=kw.get("title", "Scanner cannot send: 550 5.7.1 unable to relay"),
        body=kw.get("body", "## Symptom\n\nThe office copier gets **550 5.7.1** from port 25.\n\n## Resolution\n\nMoved it to 587 with SMTP AUTH."),
        tags=["relay", "scanner"],
        domain="contoso.example",
    )
    return session_id


def test_case_is_searchable_with_its_session_id(store):
    session_id = resolved_case(store)
    results = search(store, "copier 5.7.1", source="case")
    assert [r.id for r in results] == [f"case:{session_id}"]
    assert results[0].source == "case" and results[0].path is None
    assert search(store, "contoso.example", source="case")[0].id == f"case:{session_id}"


def test_cases_rank_beside_articles(store):
    session_id = resolved_case(store)
    ids = [r.id for r in search(store, "550 5.7.1 copier", limit=5)]
    assert f"case:{session_id}" in ids and any(i.startswith("kb-") for i in ids)
    assert all(r.source == "kb" for r in search(store, "550 5.7.1 copier", source="kb"))


def test_reindexing_a_case_replaces_it(store):
    session_id = resolved_case(store)
    resolved_case_body = "Different resolution: the customer's provider blocked port 25."
    index_case(store, session_id, title="Relay", body=resolved_case_body, tags=[], domain=None)
    doc = get_document(store.conn, session_id.lower())  # a bare session id, any case
    assert doc.body == resolved_case_body and doc.source == "case"
    assert store.conn.execute("SELECT count(*) FROM kb_documents WHERE source = 'case'").fetchone()[0] == 1


def test_index_case_inside_the_callers_transaction(store):
    session_id = store.create_session(NOW)
    with store.transaction() as cur:
        index_case(cur, session_id, title="Quota", body="Mailbox full; raised the quota.", tags=["quota"], domain="x.example")
    assert search(store, "raised quota", source="case")[0].id == f"case:{session_id}"


def test_delete_session_removes_its_case(store):
    session_id = resolved_case(store)
    store.delete_session(session_id)
    assert search(store, "copier", source="case") == []
    with pytest.raises(NotFound):
        get_document(store.conn, f"case:{session_id}")
    assert store.conn.execute("SELECT count(*) FROM kb_fts").fetchone()[0] == store.conn.execute(
        "SELECT count(*) FROM kb_documents"
    ).fetchone()[0]


def test_purge_removes_old_cases(store):
    session_id = resolved_case(store)
    assert store.purge_sessions(NOW + timedelta(days=1)) == [session_id]
    assert search(store, "copier", source="case") == []


def test_remove_case_of_an_unknown_session_is_harmless(store):
    with store.transaction() as cur:
        remove_case(cur, "20260101-XXXX")


def test_case_fields_one_a_label_with_running_on_lines_kept():
    body = (
        "Symptom: Outlook asks for the password\n"
        "Errors: 0x800CCC0E\nRemote Server returned '550 5.7.1'\n\nGenerating server: mx.example\n"
        "Environment: Windows 11, Outlook\n"
        "Resolution: Added the CNAME."
    )
    assert case_fields(body) == [
        ("Symptom", "Outlook asks for the password"),
        ("Errors", "0x800CCC0E\nRemote Server returned '550 5.7.1'\n\nGenerating server: mx.example"),
        ("Environment", "Windows 11, Outlook"),
        ("Resolution", "Added the CNAME."),
    ]


def test_case_fields_of_a_body_without_labels_is_one_unlabelled_field():
    assert case_fields("## Notes\n\nfirst\nsecond") == [("", "## Notes\n\nfirst\nsecond")]
    assert case_fields("Intro line\nResolution: done") == [("", "Intro line"), ("Resolution", "done")]
    assert case_fields("") == []


@given(st.lists(st.tuples(st.sampled_from(CASE_LABELS), st.text(alphabet=st.characters(blacklist_categories=["Cs"]))),
                max_size=6))
def test_case_fields_keep_every_character_of_any_body_in_order(parts):
    body = "\n".join(f"{label}: {value}" for label, value in parts)  # values may hold newlines, even labels
    fields = case_fields(body)
    assert all(label in CASE_LABELS or label == "" for label, _ in fields)
    shown = "\n".join(f"{label}: {value}" if label else value for label, value in fields)
    assert "".join(shown.split()) == "".join(body.split())


def test_cases_are_stored_as_text_so_error_text_is_searched_verbatim(store):
    session_id = store.create_session(NOW)
    index_case(store, session_id, title="Bounce", body="Errors: <MAILER-DAEMON> said *550* __blocked__", tags=[])
    doc = get_document(store.conn, session_id)
    assert doc.format == "text" and doc.body == "Errors: <MAILER-DAEMON> said *550* __blocked__"
    assert search(store, "mailer-daemon", source="case")[0].id == f"case:{session_id}"
