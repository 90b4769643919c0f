"""`threer sessions list --escalated`: the follow-up of escalations, sent time, expected first response
(business hours, as on the ticket) and overdue, on the terminal and in JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from support_sessions import ESCALATION, TickingClock, make_session, write_partner_config

from threer.env import Environment
from threer.store import Store

MONDAY = datetime(2024, 3, 4, 10, 0, tzinfo=timezone.utc)  # Europe/London business hours, 9:00-17:00


@pytest.fixture
def escalations(threer_env: Environment) -> dict[str, str]:
    write_partner_config(threer_env.config_path)
    with Store(threer_env.db_path) as store:
        sent = make_session(store, clock=TickingClock(start=MONDAY))
        store.update_session(sent, MONDAY, ticket_sent_at=MONDAY + timedelta(hours=1),
                             ticket_message_id="<threer.sent.1@partner.example>")
        unsent = make_session(store, clock=TickingClock(start=MONDAY + timedelta(days=1)))
        engineering = {**ESCALATION, "outcome": {"decision": "escalate", "engineering": True, "summary": "deep"}}
        deep = make_session(store, engineering, clock=TickingClock(start=MONDAY + timedelta(days=2)))
        resolved = make_session(store, {**ESCALATION, "outcome": {"decision": "resolved", "resolution": "fixed"}})
    return {"sent": sent, "unsent": unsent, "deep": deep, "resolved": resolved}


def test_json_gives_sent_time_due_and_overdue(invoke, escalations: dict[str, str]) -> None:
    # the CLI's clock is the real one: 2024 is long past, so every due time is overdue
    result = invoke("sessions", "list", "--escalated", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    by_id = {s["id"]: s for s in doc["sessions"]}
    assert set(by_id) == {escalations["sent"], escalations["unsent"], escalations["deep"]}  # not the resolved one
    sent = by_id[escalations["sent"]]
    assert sent["sent_at"] == "2024-03-04T11:00:00+00:00"
    assert sent["message_id"] == "<threer.sent.1@partner.example>"
    # 24 business hours from Monday 11:00 (London = UTC in March): 6 h Mon, 8 Tue, 8 Wed, 2 Thu -> Thu 11:00
    assert sent["first_response"] == {"due": "2024-03-07T11:00:00+00:00", "business_hours": 24,
                                      "counted_from": "2024-03-04T11:00:00+00:00", "basis": "sent"}
    assert sent["overdue"] is True and sent["team"] == "support"
    unsent = by_id[escalations["unsent"]]
    assert unsent["sent_at"] is None and unsent["first_response"]["basis"] == "escalated"
    assert by_id[escalations["deep"]]["first_response"]["business_hours"] == 72


def test_the_terminal_table(invoke, escalations: dict[str, str]) -> None:
    result = invoke("sessions", "list", "--escalated")
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith(escalations["sent"]))
    assert "2024-03-04 11:00" in line and "2024-03-07 11:00" in line and "OVERDUE" in line
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(escalations["unsent"]))
    unsent = lines[first]
    assert "not sent from threer" in unsent and "2024-03-08 10:14" in unsent
    # the due time's note wraps in its column (ids and domains stay whole): on the row's next line
    words = " ".join(lines[first:first + 2]).split()
    assert {"(from", "escalation)"} <= set(words)
    assert escalations["resolved"] not in result.stdout


def test_not_yet_due_is_not_overdue(threer_env: Environment) -> None:
    from threer.config import BusinessHours
    from threer.ticket.followup import follow_up
    from threer.triage.engine import load_session

    with Store(threer_env.db_path) as store:
        session_id = make_session(store, clock=TickingClock(start=MONDAY))
        store.update_session(session_id, MONDAY, ticket_sent_at=MONDAY)
        session = load_session(store, session_id)
    calendar = BusinessHours(timezone="Europe/London")
    assert not follow_up(session, calendar, MONDAY + timedelta(days=1)).overdue
    assert follow_up(session, calendar, MONDAY + timedelta(days=3, minutes=1)).overdue


def test_escalated_and_another_status_is_a_usage_error(invoke, escalations: dict[str, str]) -> None:
    result = invoke("sessions", "list", "--escalated", "--status", "open")
    assert result.exit_code == 2 and "--escalated lists escalated sessions only" in result.stderr


def test_no_database_lists_nothing(invoke, threer_env: Environment) -> None:
    result = invoke("sessions", "list", "--escalated", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"version": 1, "sessions": []}
    assert not threer_env.db_path.exists()
