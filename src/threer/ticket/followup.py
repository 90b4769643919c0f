"""Follow-up on an escalated session: when the provider's first response is due, and whether it is late.

The due time is counted as on the ticket (24 business hours for support, 72 for engineering, in the
config's business-hours calendar) from when the ticket was sent with `threer ticket --send`; a ticket
never sent from threer is counted from when the session was escalated (its draft was written then).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from threer.business_hours import add_business_hours
from threer.config import BusinessHours
from threer.ticket.model import RESPONSE_HOURS
from threer.triage import answers as a
from threer.triage.session import TriageSession


class FollowUp(BaseModel):
    id: str
    customer_name: str | None
    customer_domain: str | None
    escalated_at: datetime | None
    sent_at: datetime | None
    message_id: str | None
    team: Literal["support", "engineering"]
    business_hours: int
    counted_from: datetime | None
    basis: Literal["sent", "escalated", "none"]  # what the clock counts from
    due: datetime | None
    overdue: bool


def follow_up(session: TriageSession, calendar: BusinessHours, now: datetime) -> FollowUp:
    outcome = session.answer("outcome")
    team: Literal["support", "engineering"] = (
        "engineering" if isinstance(outcome, a.OutcomeAnswer) and outcome.engineering else "support")
    hours = RESPONSE_HOURS[team]
    basis: Literal["sent", "escalated"]
    start, basis = (session.ticket_sent_at, "sent") if session.ticket_sent_at else (session.closed_at, "escalated")
    due = None
    if start is not None:
        try:
            due = add_business_hours(start, hours, calendar)
        except ValueError:  # a calendar that never opens: no due date rather than a crash
            due = None
    return FollowUp(
        id=session.id, customer_name=session.customer_name, customer_domain=session.customer_domain,
        escalated_at=session.closed_at, sent_at=session.ticket_sent_at, message_id=session.ticket_message_id,
        team=team, business_hours=hours, counted_from=start, basis=basis if start else "none", due=due,
        overdue=due is not None and due < now,
    )


def issued_ticket(session: TriageSession) -> tuple[datetime, str] | None:
    """When an escalated session's ticket was issued, and how: (sent_at, "sent") once `ticket --send` had it
    accepted, else (escalated_at, "written") for the draft written when it was escalated; None otherwise.
    A corrected ticket counts its expected first response from this time."""
    if session.status != "escalated":
        return None
    if session.ticket_sent_at is not None:
        return session.ticket_sent_at, "sent"
    if session.closed_at is not None:
        return session.closed_at, "written"
    return None
