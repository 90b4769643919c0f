"""The escalation report as data: what `build_report` computes and every renderer shows."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

REPORT_VERSION = 1
GROUPINGS = ("technician", "category", "customer", "week")


class Tally(BaseModel):
    sessions: int = 0  # opened in the period
    open: int = 0
    resolved: int = 0  # resolved at the partner level
    escalated: int = 0
    escalation_rate: float | None = None  # escalated / (resolved + escalated), 0 to 1; None when none was closed


class WeekRow(Tally):
    week: str  # ISO week, "2026-W48"
    starts: str  # its Monday, "2026-11-23"


class GroupRow(Tally):
    key: str


class Avoidable(BaseModel):
    id: str
    why: str  # one sentence a partner manager reads
    rule: Literal["match-worked", "solved-later"]
    evidence: str  # the article or past case that solved (or would have solved) it
    solved_in: str | None = None  # the resolved session that shows it worked
    category: str = ""  # the escalated session's category (a row of `categories`): the kind it was
    labels: list[str] = []  # the kind labels the two problems had in common, `category` first


class Durations(BaseModel):
    count: int = 0
    median_minutes: float | None = None
    mean_minutes: float | None = None
    max_minutes: float | None = None


class Overdue(BaseModel):
    id: str
    customer_domain: str | None
    due: datetime
    basis: Literal["sent", "escalated"]  # counted from the sent time, or from the escalation
    counted_from: datetime
    business_hours: int


class Count(BaseModel):
    key: str
    count: int


class Report(BaseModel):
    generated_at: datetime
    since: datetime
    until: datetime
    timezone: str
    by: str | None
    totals: Tally
    weeks: list[WeekRow]
    groups: list[GroupRow]  # by `by`; empty without --by
    categories: list[GroupRow]  # every category, most sessions first
    avoidable: list[Avoidable]
    time_to_resolve: Durations  # sessions resolved at the partner level: opened to closed
    time_to_escalate: Durations
    overdue: list[Overdue]  # escalations whose expected first response has passed
    error_codes: list[Count]
    dns_findings: list[Count]
