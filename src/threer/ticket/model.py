"""The escalation ticket as data (SPEC §3): what `build_ticket` makes and every format renders."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from threer.errors import ExitStatus, ThreerError

TICKET_VERSION = 1
TEXT_WIDTH = 72
RESPONSE_HOURS = {"support": 24, "engineering": 72}

_CONFIG_HINTS = {
    "partner.domain": "threer config set partner.domain YOUR-DOMAIN",
    "partner.control_panel_url": "threer config set partner.control_panel_url https://CONTROL-PANEL-URL "
    "(or `threer config set partner.control_panel_na true` if you have none)",
    "partner.support_address": "threer config set partner.support_address PROVIDER-SUPPORT-ADDRESS",
}


class TicketIncomplete(ThreerError):
    """The ticket cannot be written yet: steps are missing, or partner details are not configured."""

    exit_status = ExitStatus.PROBLEMS

    def __init__(self, session_id: str, missing_steps: list[str], missing_config: list[str]) -> None:
        self.session_id = session_id
        self.missing_steps = list(missing_steps)
        self.missing_config = list(missing_config)
        parts = []
        if self.missing_steps:
            parts.append(
                f"Triage {session_id} is not complete; missing steps: {', '.join(self.missing_steps)}. "
                f"Record them with `threer triage --resume {session_id}`."
            )
        if self.missing_config:
            commands = " and ".join(f"`{_CONFIG_HINTS.get(key, 'threer config set ' + key + ' VALUE')}`"
                                    for key in self.missing_config)
            parts.append(
                f"The ticket needs partner details that are not set: {', '.join(self.missing_config)}. "
                f"Set them with {commands}."
            )
        super().__init__(" ".join(parts))


class Fact(BaseModel):
    """One labelled value of a step. The label is threer's; the value and items may be typed text."""

    label: str
    value: str = ""
    items: list[str] = []  # a list (links, matches, findings): shown one item a line instead of `value`


class TicketStep(BaseModel):
    id: str
    phase: str
    title: str
    status: Literal["answered", "not_applicable"]
    reason: str | None = None  # why it is not applicable
    facts: list[Fact] = []
    answer: dict[str, Any] | None = None  # the recorded answer, for machines
    recorded_at: datetime


class SecretWarning(BaseModel):
    field: str  # step id and answer field, e.g. "intake.issue.description"
    kind: str  # "password", "API key or token", ...
    line: int

    def describe(self) -> str:
        where = self.field if self.line == 1 else f"{self.field} (line {self.line})"
        article = "an" if self.kind[:1].lower() in "aeiou" else "a"  # "an API key or token", "a password"
        return f"{where} looks like it contains {article} {self.kind}."


class PartnerDetails(BaseModel):
    domain: str
    control_panel_url: str | None  # None: "not applicable"
    technician: str | None = None


class CustomerDetails(BaseModel):
    name: str
    domain: str


class IssueDetails(BaseModel):
    description: str
    affected_users: str
    started: str


class OutcomeDetails(BaseModel):
    decision: Literal["escalate", "resolved"]
    team: Literal["support", "engineering"]
    summary: str = ""
    resolution: str = ""


class FirstResponse(BaseModel):
    business_hours: int
    due: datetime  # in the calendar's time zone
    timezone: str
    counted_from: datetime


class Ticket(BaseModel):
    triage_id: str
    subject: str
    recipient: str
    partner: PartnerDetails
    customer: CustomerDetails
    issue: IssueDetails
    error_messages: str | None  # None: the technician recorded "no error shown"
    error_analysis: list[str] = []  # what threer read in a pasted bounce or headers (short sentences)
    steps: list[TicketStep]  # Replicate, Review, Research, in that order
    kb_articles: list[str]
    past_cases: list[str]
    outcome: OutcomeDetails
    first_response: FirstResponse | None  # None when the session was resolved at the partner level
    created_at: datetime
    closed_at: datetime | None
    generated_at: datetime
    timezone: str  # the business-hours calendar's zone: times are shown in it
    warnings: list[SecretWarning] = []
    redacted: bool = False
