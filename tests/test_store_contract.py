"""The store's contract, run on both backends: the SQLite file and a real PostgreSQL server."""

from datetime import datetime, timedelta, timezone

import pytest

from threer.errors import NotFound
from threer.store import MIGRATIONS, SCHEMA_VERSION
from threer.store_api import AnswerConflict, SessionStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def test_both_backends_implement_the_interface(any_store):
    assert isinstance(any_store, SessionStore)
    assert any_store.schema_version() == SCHEMA_VERSION


def test_every_migration_has_a_postgresql_step():
    from threer.store_pg import PG_MIGRATIONS

    assert len(PG_MIGRATIONS) == len(MIGRATIONS)


def test_a_session_is_created_read_listed_and_updated(any_store):
    sid = any_store.create_session(NOW, technician="alice", host="desk-1")
    row = any_store.get_session_row(sid.lower())
    assert row["id"] == sid and row["status"] == "open" and row["technician"] == "alice" and row["host"] == "desk-1"
    any_store.update_session(sid, NOW, ticket_sent_at=NOW, ticket_message_id="<t1@desk.test>")
    assert any_store.get_session_row(sid)["ticket_message_id"] == "<t1@desk.test>"
    any_store.update_session(sid, NOW + timedelta(minutes=1), customer_name="Contoso", customer_domain="contoso.test")
    row = any_store.get_session_row(sid)
    assert (row["customer_name"], row["customer_domain"]) == ("Contoso", "contoso.test")
    assert row["updated_at"] == "2026-11-26T12:01:00+00:00"
    other = any_store.create_session(NOW + timedelta(minutes=5))
    assert [r["id"] for r in any_store.list_sessions()] == [other, sid]
    assert [r["id"] for r in any_store.list_sessions(limit=1)] == [other]
    any_store.update_session(sid, NOW + timedelta(minutes=2), status="resolved", closed_at=NOW)
    assert [r["id"] for r in any_store.list_sessions(status="resolved")] == [sid]


def test_an_unknown_session_is_not_found(any_store):
    with pytest.raises(NotFound):
        any_store.get_session_row("20261126-ZZZZ")
    with pytest.raises(NotFound):
        any_store.update_session("20261126-ZZZZ", NOW, status="open")
    with pytest.raises(NotFound):
        any_store.record_answer("20261126-ZZZZ", "intake.issue", {"x": 1}, NOW)


def test_answers_are_kept_with_their_history_and_drafts_cleared(any_store):
    sid = any_store.create_session(NOW)
    any_store.save_draft(sid, "intake.issue", {"description": "half"}, NOW)
    assert any_store.drafts(sid) == {"intake.issue": {"description": "half"}}
    any_store.record_answer(sid, "intake.issue", {"v": 1, "text": "é ✓"}, NOW,
                            header={"customer_name": "Fabrikam"})
    assert any_store.drafts(sid) == {}
    assert any_store.get_session_row(sid)["customer_name"] == "Fabrikam"
    any_store.record_answer(sid, "intake.issue", {"v": 2}, NOW + timedelta(minutes=1))
    data, recorded_at, revision = any_store.answers(sid)["intake.issue"]
    assert data == {"v": 2} and revision == 2 and recorded_at == "2026-11-26T12:01:00+00:00"
    history = any_store.answer_history(sid)
    assert [(h["step_id"], h["data"], h["revision"]) for h in history] == [("intake.issue", {"v": 1, "text": "é ✓"}, 1)]


def test_a_stale_answer_does_not_overwrite_a_newer_one_and_both_are_kept(any_store):
    sid = any_store.create_session(NOW)
    any_store.record_answer(sid, "intake.issue", {"by": "bob"}, NOW, expected_revision=0, technician="bob")
    with pytest.raises(AnswerConflict) as exc:
        any_store.record_answer(sid, "intake.issue", {"by": "alice"}, NOW + timedelta(minutes=1),
                                expected_revision=0, technician="alice")
    message = exc.value.message
    assert "intake.issue" in message and "2026-11-26T12:00:00+00:00" in message and "history" in message
    assert message.startswith("bob changed the answer") and exc.value.by == "bob" and exc.value.revision == 1
    assert any_store.answers(sid)["intake.issue"][0] == {"by": "bob"}
    assert {"by": "alice"} in [h["data"] for h in any_store.answer_history(sid)]
    # with the revision it read, the next write goes through
    any_store.record_answer(sid, "intake.issue", {"by": "alice"}, NOW + timedelta(minutes=2), expected_revision=1)
    assert any_store.answers(sid)["intake.issue"][:1] == ({"by": "alice"},)


def test_each_answer_revision_keeps_who_saved_it_and_where(any_store):
    sid = any_store.create_session(NOW, technician="alice", host="desk-1")
    any_store.record_answer(sid, "intake.issue", {"v": 1}, NOW, expected_revision=0, technician="alice",
                            host="desk-1")
    any_store.record_answer(sid, "intake.issue", {"v": 2}, NOW + timedelta(minutes=1), expected_revision=1,
                            technician="bob", host="laptop-7")
    now = any_store.answer_details(sid)["intake.issue"]
    assert (now["data"], now["revision"], now["recorded_by"], now["recorded_host"]) == ({"v": 2}, 2, "bob", "laptop-7")
    with pytest.raises(AnswerConflict) as exc:
        any_store.record_answer(sid, "intake.issue", {"v": "late"}, NOW + timedelta(minutes=2), expected_revision=1,
                                technician="carol", host="desk-3")
    assert (exc.value.by, exc.value.host, exc.value.revision) == ("bob", "laptop-7", 2)
    assert exc.value.message.startswith("bob (on laptop-7) changed the answer to intake.issue")
    history = [(h["data"], h["revision"], h["recorded_by"], h["recorded_host"], h["superseded"])
               for h in any_store.answer_history(sid)]
    assert history == [({"v": 1}, 1, "alice", "desk-1", False), ({"v": "late"}, 2, "carol", "desk-3", True)]
    # an answer saved without a name (an older threer) has none, on both backends
    any_store.record_answer(sid, "intake.errors", {"v": 0}, NOW)
    assert any_store.answer_details(sid)["intake.errors"]["recorded_by"] is None


def test_delete_and_purge_remove_sessions_and_their_cases(any_store):
    old = any_store.create_session(NOW - timedelta(days=40))
    kept = any_store.create_session(NOW)
    gone = any_store.create_session(NOW)
    for sid in (old, kept, gone):
        any_store.record_answer(sid, "intake.issue", {"x": sid}, NOW - timedelta(days=40) if sid == old else NOW)
        any_store.put_case(sid, title=f"Case {sid}", body="Symptom: Outlook asks for the password again",
                           tags=["outlook"], domain="contoso.test")
    any_store.update_session(old, NOW - timedelta(days=40))
    assert any_store.counts()["cases"] == 3
    any_store.delete_session(gone)
    with pytest.raises(NotFound):
        any_store.get_session_row(gone)
    assert any_store.purge_sessions(NOW - timedelta(days=30)) == [old]
    assert [r["id"] for r in any_store.list_sessions()] == [kept]
    counts = any_store.counts()
    assert counts["sessions"] == 1 and counts["answers"] == 1 and counts["cases"] == 1


def test_purge_can_keep_open_sessions(any_store):
    open_one = any_store.create_session(NOW - timedelta(days=40))
    closed = any_store.create_session(NOW - timedelta(days=40))
    any_store.update_session(closed, NOW - timedelta(days=40), status="escalated")
    assert any_store.purge_sessions(NOW, keep_open=True) == [closed]
    assert [r["id"] for r in any_store.list_sessions()] == [open_one]
    assert any_store.purge_sessions(NOW) == [open_one]


def test_past_cases_are_found_by_the_kb_search(any_store):
    from threer.kb.search import search

    sid = any_store.create_session(NOW)
    any_store.put_case(sid, title="Outlook prompts for the password after the MX move",
                       body="Symptom: credential prompt loops\nResolution: reset the autodiscover cache",
                       tags=["outlook"], domain="contoso.test")
    hits = search(any_store.kb_index(), "autodiscover credential prompt", source="case")
    assert [h.id for h in hits] == [f"case:{sid}"]
    any_store.remove_case(sid)
    assert search(any_store.kb_index(), "autodiscover credential prompt", source="case") == []


def test_a_session_keeps_its_check_settings(any_store):
    sid = any_store.create_session(NOW)
    assert any_store.settings(sid) == {}
    any_store.save_settings(sid, {"timeout": 5.0, "nameservers": [["127.0.0.1", 5353]]}, NOW)
    assert any_store.settings(sid) == {"timeout": 5.0, "nameservers": [["127.0.0.1", 5353]]}


def test_check_runs_are_kept_found_and_purged(any_store):
    any_store.add_check_runs([("contoso.test", "2026-11-20T10:00:00+00:00", "[1]", "[]"),
                              ("contoso.test", "2026-11-25T10:00:00+00:00", "[2]", "[]"),
                              ("fabrikam.test", "2026-11-25T11:00:00+00:00", "[3]", "[]")])
    assert any_store.last_check_run("contoso.test", "9999") == ("contoso.test", "2026-11-25T10:00:00+00:00", "[2]", "[]")
    assert any_store.last_check_run("contoso.test", "2026-11-25")[2] == "[1]"
    assert any_store.last_check_run("nothing.test", "9999") is None
    assert any_store.purge_check_runs("2026-11-21") == 1
    assert any_store.counts()["check_history"] == 2
