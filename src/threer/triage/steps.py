"""The triage flow as data: the 14 steps of SPEC §2, in order.

The engine walks this list; prompts, answers files and tests are three ways of feeding it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from threer.triage import answers as a


class Phase(str, Enum):
    INTAKE = "Intake"
    REPLICATE = "Replicate"
    REVIEW = "Review"
    RESEARCH = "Research"
    OUTCOME = "Outcome"


@dataclass(frozen=True)
class Step:
    id: str
    phase: Phase
    title: str  # short, for progress and the ticket
    question: str  # what the technician is asked
    model: type[a.Answer]
    shorthand: str | None = None  # an answers file may give this field as a plain string
    can_be_na: bool = True  # may be recorded as "not applicable" with a reason
    action: str | None = None  # "dns", "owa", "prior": run by threer, result shown and stored
    fields_help: dict[str, str] = field(default_factory=dict)


STEPS: tuple[Step, ...] = (
    Step("intake.customer", Phase.INTAKE, "Customer", "Who is the customer?", a.CustomerAnswer,
         can_be_na=False,
         fields_help={"name": "customer name", "domain": "customer domain (an e-mail address or URL is fine)"}),
    Step("intake.issue", Phase.INTAKE, "Issue", "What is the problem, in your words?", a.IssueAnswer,
         shorthand="description", can_be_na=False,
         fields_help={"description": "the issue", "affected_users": "affected user(s)", "started": "when it started"}),
    Step("intake.errors", Phase.INTAKE, "Error messages",
         "Exact error messages, codes or bounce text (or: no error shown)", a.ErrorsAnswer,
         shorthand="messages", can_be_na=False),
    Step("replicate.reproduced", Phase.REPLICATE, "Reproduced", "Can you replicate the error?", a.ReproducedAnswer,
         fields_help={"reproduced": "yes / no / intermittent", "how": "how you tried"}),
    Step("replicate.environment", Phase.REPLICATE, "Environment", "Operating system and mail client, with versions",
         a.EnvironmentAnswer),
    Step("replicate.services", Phase.REPLICATE, "Services",
         "Which services are confirmed as enabled in the Customer Control Panel?", a.ServicesAnswer,
         shorthand="enabled"),
    Step("review.dns", Phase.REVIEW, "DNS", "threer checks the customer domain's mail DNS records", a.DnsAnswer,
         shorthand="note", action="dns"),
    Step("review.owa", Phase.REVIEW, "Outlook Web Access",
         "Can the user log in to Outlook Web Access, and send and receive there?", a.OwaAnswer, action="owa"),
    Step("review.server_rules", Phase.REVIEW, "Server-side rules",
         "Server-side rules checked in the Control Panel: what did you find?", a.RulesAnswer, shorthand="found"),
    Step("review.client_rules", Phase.REVIEW, "Client-side rules",
         "Local rules in the mail client checked: what did you find?", a.RulesAnswer, shorthand="found"),
    Step("research.prior", Phase.RESEARCH, "Seen before",
         "Has this been seen before? threer searches past cases and the knowledge base", a.PriorAnswer,
         shorthand="outcome", action="prior"),
    Step("research.kb", Phase.RESEARCH, "Knowledge base", "Knowledge-base articles consulted, and their outcome",
         a.KbAnswer, shorthand="outcome"),
    Step("research.web", Phase.RESEARCH, "Web research",
         "Search engines, forums and blogs consulted: queries, links, outcome", a.WebAnswer),
    Step("outcome", Phase.OUTCOME, "Outcome", "Resolved here, or escalate to the provider?", a.OutcomeAnswer,
         shorthand="decision", can_be_na=False),
)

STEP_IDS: tuple[str, ...] = tuple(s.id for s in STEPS)
_BY_ID = {s.id: s for s in STEPS}


def get_step(step_id: str) -> Step:
    try:
        return _BY_ID[step_id]
    except KeyError:
        raise KeyError(step_id) from None


def is_step(step_id: str) -> bool:
    return step_id in _BY_ID
