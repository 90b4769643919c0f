"""The escalation ticket: built from a complete triage session, rendered for e-mail, ticket systems,
machines, or as an e-mail draft (SPEC §3).

`build_ticket` refuses an incomplete session or a config without the partner details the
provider requires (`TicketIncomplete`, exit 1). `render` lays the ticket out as `text`,
`markdown`, `json` or `eml`.

Text people typed (and text from DNS answers) is carried verbatim but can never pass for
the ticket's own layout:
- text: every label is threer's; a typed value sits after its label on the same line when it
  is one short line, otherwise every line of it is indented under the label behind a "| "
  bar. A line of a note that reads "Customer Domain Name: evil.com" becomes
  "    | Customer Domain Name: evil.com", never a field of its own.
- markdown: typed text is escaped (no heading, list, link, HTML, table or emphasis can come
  from it); multi-line text is a block quote; error text is a fenced code block whose
  fence is longer than any run of backticks inside it.
- eml: headers are built by the stdlib `email` package from single-line values; line breaks
  in typed text are folded to spaces in the Subject, so no header can be injected.
- everywhere but json, control characters (escape sequences, bidi overrides) are shown as
  `\\x1b`-style escapes instead of being sent to a terminal or mail client.
"""

from __future__ import annotations

import email.policy
import json
import os
import re
import textwrap
import unicodedata
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from threer.business_hours import add_business_hours
from threer.config import Config
from threer.errors import BadInput, ExitStatus, ThreerError
from threer.secrets_scan import find_secrets, redact
from threer.triage import answers as a
from threer.triage.session import TriageSession
from threer.triage.steps import STEPS, Phase

if TYPE_CHECKING:
    from threer.env import Environment

TICKET_VERSION = 1
FORMATS = ("text", "markdown", "json", "eml")
TEXT_WIDTH = 72
RESPONSE_HOURS = {"support": 24, "engineering": 72}
SUBJECT_SUMMARY_MAX = 80

# Answer fields threer fills in itself (from DNS, the OWA probe, the search): not scanned for secrets.
_NOT_TYPED = {
    "intake.customer": {"domain", "domain_note"},
    "review.dns": {"checked", "domain", "profile", "summary", "problems", "checked_at", "run_error"},
    "review.owa": {"probe"},
    "research.prior": {"matches"},
}

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


# -- the model -------------------------------------------------------------------------------

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
        return f"{where} looks like it contains a {self.kind}."


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


# -- building --------------------------------------------------------------------------------

def build_ticket(session: TriageSession, config: Config, *, now: datetime, redact_secrets: bool = False) -> Ticket:
    """The ticket for a complete session. Raises TicketIncomplete naming what is missing.

    With `redact_secrets`, every stretch of typed text that looks like a secret is replaced
    by [REDACTED]; `warnings` lists them either way.
    """
    missing_config = config.missing_partner_details()
    if session.missing or missing_config:
        raise TicketIncomplete(session.id, session.missing, missing_config)
    warnings = scan_session(session)
    if redact_secrets and warnings:
        session = _redacted_session(session)

    customer = _answer(session, "intake.customer", a.CustomerAnswer)
    issue = _answer(session, "intake.issue", a.IssueAnswer)
    errors = _answer(session, "intake.errors", a.ErrorsAnswer)
    outcome = _answer(session, "outcome", a.OutcomeAnswer)
    team: Literal["support", "engineering"] = "engineering" if outcome.engineering else "support"
    calendar = config.business_hours
    first_response = None
    if outcome.decision == "escalate":
        hours = RESPONSE_HOURS[team]
        try:
            due = add_business_hours(now, hours, calendar)
        except ValueError as exc:
            raise BadInput(f"Cannot work out the expected first response ({exc}). "
                           "Check business_hours with `threer config show`.") from None
        first_response = FirstResponse(business_hours=hours, due=due, timezone=calendar.timezone,
                                       counted_from=now.astimezone(ZoneInfo(calendar.timezone)))
    steps = [_ticket_step(session, step.id, calendar.timezone) for step in STEPS
             if step.phase in (Phase.REPLICATE, Phase.REVIEW, Phase.RESEARCH)]
    kb_articles, past_cases = _named_research(session)
    partner = config.partner
    summary = outcome.summary or issue.description
    return Ticket(
        triage_id=session.id,
        subject=make_subject(customer.domain, summary, session.id),
        recipient=partner.support_address or "",
        partner=PartnerDetails(
            domain=partner.domain or "",
            control_panel_url=None if partner.control_panel_na else partner.control_panel_url,
            technician=partner.technician,
        ),
        customer=CustomerDetails(name=customer.name, domain=customer.domain),
        issue=IssueDetails(description=issue.description, affected_users=issue.affected_users, started=issue.started),
        error_messages=None if errors.no_error_shown else errors.messages,
        steps=steps,
        kb_articles=kb_articles,
        past_cases=past_cases,
        outcome=OutcomeDetails(decision=outcome.decision, team=team, summary=outcome.summary,
                               resolution=outcome.resolution),
        first_response=first_response,
        created_at=session.created_at,
        closed_at=session.closed_at,
        generated_at=now,
        timezone=calendar.timezone,
        warnings=warnings,
        redacted=redact_secrets and bool(warnings),
    )


def make_subject(domain: str, summary: str, triage_id: str) -> str:
    """One line: line breaks and runs of spaces in the summary become single spaces."""
    text = _visible(" ".join(summary.split()))
    if len(text) > SUBJECT_SUMMARY_MAX:
        cut = text[:SUBJECT_SUMMARY_MAX].rsplit(" ", 1)[0] or text[:SUBJECT_SUMMARY_MAX]
        text = cut.rstrip(" ,;:.-") + "..."
    return f"Escalation: {domain} - {text} [triage {triage_id}]"


def scan_session(session: TriageSession) -> list[SecretWarning]:
    """Every stretch of typed text in the session's answers that looks like a secret, by field."""
    warnings: list[SecretWarning] = []
    for step in STEPS:
        rec = session.steps.get(step.id)
        if rec is None:
            continue
        for field, text in _typed_texts(step.id, rec.answer, rec.reason):
            warnings.extend(SecretWarning(field=field, kind=hit.kind, line=hit.line) for hit in find_secrets(text))
    return warnings


def _typed_texts(step_id: str, answer: dict[str, Any] | None, reason: str | None) -> list[tuple[str, str]]:
    if answer is None:
        return [(f"{step_id}.reason", reason)] if reason else []
    found: list[tuple[str, str]] = []
    skip = _NOT_TYPED.get(step_id, set())

    def walk(path: str, value: Any) -> None:
        if isinstance(value, str):
            found.append((path, value))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(f"{path}[{i}]", item)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(f"{path}.{key}", item)

    for key, value in answer.items():
        if key not in skip:
            walk(f"{step_id}.{key}", value)
    return found


def _redacted_session(session: TriageSession) -> TriageSession:
    session = session.model_copy(deep=True)
    for step in STEPS:
        rec = session.steps.get(step.id)
        if rec is None:
            continue
        if rec.reason:
            rec.reason = redact(rec.reason)
        if rec.answer is not None:
            skip = _NOT_TYPED.get(step.id, set())
            rec.answer = {k: (v if k in skip else _redact_value(v)) for k, v in rec.answer.items()}
    return session


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    return value


def _answer(session: TriageSession, step_id: str, model: type[Any]) -> Any:
    value = session.answer(step_id)
    if not isinstance(value, model):  # the intake and outcome steps cannot be "not applicable"
        raise TicketIncomplete(session.id, [step_id], [])
    return value


def _ticket_step(session: TriageSession, step_id: str, zone: str) -> TicketStep:
    rec = session.steps[step_id]
    step = next(s for s in STEPS if s.id == step_id)
    base = {"id": step_id, "phase": step.phase.value, "title": step.title, "recorded_at": rec.recorded_at}
    if rec.status == "not_applicable":
        return TicketStep(status="not_applicable", reason=rec.reason or "", **base)
    answer = rec.model_instance()
    return TicketStep(status="answered", facts=_facts(step_id, answer, zone), answer=rec.answer, **base)


def _facts(step_id: str, ans: Any, zone: str) -> list[Fact]:
    if isinstance(ans, a.ReproducedAnswer):
        return [Fact(label="Reproduced", value=ans.reproduced), Fact(label="How", value=ans.how)]
    if isinstance(ans, a.EnvironmentAnswer):
        return [Fact(label="Operating system", value=f"{ans.os} {ans.os_version}"),
                Fact(label="Mail client", value=f"{ans.client} {ans.client_version}")]
    if isinstance(ans, a.ServicesAnswer):
        facts = [Fact(label="Enabled in the Control Panel", value=", ".join(ans.enabled))]
        return facts + ([Fact(label="Note", value=ans.note)] if ans.note else [])
    if isinstance(ans, a.DnsAnswer):
        return _dns_facts(ans, zone)
    if isinstance(ans, a.OwaAnswer):
        facts = [Fact(label="Can log in to OWA", value=ans.login), Fact(label="Can send from OWA", value=ans.send),
                 Fact(label="Can receive in OWA", value=ans.receive)]
        if ans.probe:
            lines = [f"{str(p.get('severity', '?')).upper()} {p.get('id', '?')}: {p.get('message', '')}".rstrip()
                     for p in ans.probe]
            facts.append(Fact(label="threer's OWA probe", items=lines))
        return facts + ([Fact(label="Note", value=ans.note)] if ans.note else [])
    if isinstance(ans, a.RulesAnswer):
        return [Fact(label="Found", value=ans.found)]
    if isinstance(ans, a.PriorAnswer):
        titles = {str(m.get("id")): m for m in ans.matches}
        shown = [f"{m.get('id')} {m.get('title', '')} ({_source_name(m.get('source'))})".replace("  ", " ")
                 for m in ans.matches]
        tried = [f"{t} {titles[t].get('title', '')}".strip() if t in titles else t for t in ans.tried]
        return [Fact(label="Matches threer found", value="none", items=shown),
                Fact(label="Tried", value="none", items=tried),
                Fact(label="Outcome", value=ans.outcome)]
    if isinstance(ans, a.KbAnswer):
        return [Fact(label="Articles consulted", value="none", items=ans.articles),
                Fact(label="Outcome", value=ans.outcome)]
    if isinstance(ans, a.WebAnswer):
        facts = [Fact(label="Searched for", value=ans.queries)]
        if ans.links:
            facts.append(Fact(label="Links", items=ans.links))
        return facts + [Fact(label="Outcome", value=ans.outcome)]
    return []  # pragma: no cover - every Replicate/Review/Research answer model is handled above


_SEVERITY_ORDER = ("fail", "error", "warn", "info", "ok")


def _dns_facts(ans: a.DnsAnswer, zone: str) -> list[Fact]:
    facts: list[Fact] = []
    if ans.run_error:
        facts.append(Fact(label="DNS checks", value=f"threer could not run the DNS checks: {ans.run_error}"))
    elif not ans.checked:
        facts.append(Fact(label="DNS checks", value="not run by threer"))
    else:
        counts = sorted(ans.summary.items(), key=lambda kv: (_SEVERITY_ORDER.index(kv[0])
                                                             if kv[0] in _SEVERITY_ORDER else 99, kv[0]))
        tally = ", ".join(f"{n} {k}" for k, n in counts if n) or "no findings"
        when = ""
        if ans.checked_at:
            try:
                when = " on " + _when(datetime.fromisoformat(ans.checked_at), zone)
            except ValueError:
                when = f" on {ans.checked_at}"
        profile = f" (profile {ans.profile})" if ans.profile else ""
        facts.append(Fact(label="DNS checks", value=f"threer checked {ans.domain or 'the domain'}{profile}{when}: {tally}"))
        if ans.problems:
            lines = []
            for p in ans.problems:
                line = f"{str(p.get('severity', '?')).upper()} {p.get('id', '?')}: {p.get('message', '')}".rstrip()
                if p.get("fix"):
                    line += f" Fix: {p['fix']}"
                lines.append(line)
            facts.append(Fact(label="Problems found", items=lines))
        else:
            facts.append(Fact(label="Problems found", value="none"))
    if ans.note:
        facts.append(Fact(label="Technician's note", value=ans.note))
    return facts


def _source_name(source: Any) -> str:
    return {"kb": "KB article", "case": "past case"}.get(str(source), str(source or "match"))


def _named_research(session: TriageSession) -> tuple[list[str], list[str]]:
    """The KB articles and past cases the Research steps name, each once, in order."""
    kb: list[str] = []
    cases: list[str] = []
    prior = session.answer("research.prior")
    if isinstance(prior, a.PriorAnswer):
        sources = {str(m.get("id")): m.get("source") for m in prior.matches}
        for item in prior.tried:
            is_case = sources.get(item) == "case" or item.lower().startswith("case:")
            (cases if is_case else kb).append(item)
    kb_answer = session.answer("research.kb")
    if isinstance(kb_answer, a.KbAnswer):
        kb.extend(kb_answer.articles)
    return list(dict.fromkeys(kb)), list(dict.fromkeys(cases))


# -- rendering -------------------------------------------------------------------------------

def render(ticket: Ticket, fmt: str = "text", *, width: int = TEXT_WIDTH) -> str | bytes:
    """The ticket as `text`, `markdown` or `json` (str), or `eml` (bytes)."""
    if fmt == "text":
        return render_text(ticket, width=width)
    if fmt == "markdown":
        return render_markdown(ticket)
    if fmt == "json":
        return render_json(ticket)
    if fmt == "eml":
        return render_eml(ticket, width=width)
    raise ValueError(f"unknown ticket format {fmt!r}; use one of {', '.join(FORMATS)}")


_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _visible(line: str) -> str:
    """Control characters (other than tab) and bidi overrides shown as escapes, not obeyed."""
    if line.isprintable() and not (_BIDI & set(line)):
        return line
    out = []
    for ch in line:
        if ch != "\t" and (unicodedata.category(ch) == "Cc" or ch in _BIDI):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _lines(value: str) -> list[str]:
    """A value's lines: every kind of line break counts, so none can hide inside a "line"."""
    return [_visible(line) for line in value.splitlines()] or [""]


def _when(dt: datetime, zone: str) -> str:
    local = dt.astimezone(ZoneInfo(zone))
    name = local.tzname() or ""
    if not name or name[0] in "+-":
        offset = local.strftime("%z")
        name = f"UTC{offset[:3]}:{offset[3:]}"
    return f"{local:%Y-%m-%d %H:%M} {name}"


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _due(first: FirstResponse) -> str:
    """"Thursday 7 March 2024, by 10:30 GMT" (English names whatever the locale, like the rest of the ticket)."""
    local = first.due.astimezone(ZoneInfo(first.timezone))
    when = _when(local, first.timezone)
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}, by {when.split(' ', 1)[1]}"


def _team_words(ticket: Ticket) -> str:
    return "the provider's engineering team" if ticket.outcome.team == "engineering" else "the provider's support"


# text ----------------------------------------------------------------------------------------

TOP_LABELS = (
    "To", "Subject", "Partner Domain", "Control Panel URL", "Customer Name", "Customer Domain Name", "Triage ID",
    "Triage Started", "Triage Closed", "Expected First Response", "Details of the Issue",
    "Error Messages (verbatim)", "Steps Taken to Replicate and Resolve", "Outcome",
)


class _TextWriter:
    def __init__(self, width: int) -> None:
        self.width = max(width, 40)
        self.lines: list[str] = []

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def plain(self, indent: int, text: str) -> None:
        """threer's own words, wrapped."""
        self.lines.extend(textwrap.wrap(text, self.width, initial_indent=" " * indent,
                                        subsequent_indent=" " * (indent + 2), break_long_words=False,
                                        break_on_hyphens=False) or [" " * indent])

    def field(self, indent: int, label: str, value: str) -> None:
        """`Label: value` on one line when the value is one short line, else a barred block under the label."""
        lines = _lines(value)
        head = f"{' ' * indent}{label}:"
        if len(lines) == 1 and len(head) + 1 + len(lines[0]) <= self.width:
            self.lines.append(f"{head} {lines[0]}".rstrip())
            return
        self.lines.append(head)
        self.block(indent + 2, lines, wrap=True)

    def items(self, indent: int, label: str, items: list[str]) -> None:
        """A list under its label, one "| - item" a line (wrapped items continue under their text)."""
        self.lines.append(f"{' ' * indent}{label}:")
        bar = " " * (indent + 2) + "| "
        for item in items:
            for n, line in enumerate(_lines(item)):
                pieces = textwrap.wrap(line, max(self.width - len(bar) - 2, 20), break_long_words=False,
                                       break_on_hyphens=False, expand_tabs=False, replace_whitespace=False) or [line]
                for i, piece in enumerate(pieces):
                    self.lines.append(f"{bar}{'- ' if n == 0 and i == 0 else '  '}{piece}".rstrip())

    def fact(self, indent: int, fact: Fact) -> None:
        if fact.items:
            self.items(indent, fact.label, fact.items)
        else:
            self.field(indent, fact.label, fact.value)

    def block(self, indent: int, lines: list[str], *, wrap: bool) -> None:
        bar = " " * indent + "| "
        for line in lines:
            if not line or (wrap and not line.strip()):  # verbatim text keeps even a line of spaces
                self.lines.append(bar.rstrip())
                continue
            pieces = [line]
            if wrap and len(bar) + len(line) > self.width:
                pieces = textwrap.wrap(line, self.width - len(bar), break_long_words=False, break_on_hyphens=False,
                                       expand_tabs=False, replace_whitespace=False) or [line]
            self.lines.extend(bar + piece for piece in pieces)

    def text(self) -> str:
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


def render_text(ticket: Ticket, *, width: int = TEXT_WIDTH, headers: bool = True) -> str:
    """Plain text for pasting into an e-mail. `headers=False` leaves out the To and Subject lines."""
    w = _TextWriter(width)
    if headers:
        w.lines.append(f"To: {ticket.recipient}")
        w.lines.append(f"Subject: {ticket.subject}")
        w.blank()
    zone = ticket.timezone
    w.field(0, "Partner Domain", ticket.partner.domain)
    w.field(0, "Control Panel URL", ticket.partner.control_panel_url or "not applicable")
    w.field(0, "Customer Name", ticket.customer.name)
    w.field(0, "Customer Domain Name", ticket.customer.domain)
    w.field(0, "Triage ID", ticket.triage_id)
    w.field(0, "Triage Started", _when(ticket.created_at, zone))
    w.field(0, "Triage Closed", _when(ticket.closed_at, zone) if ticket.closed_at else "not closed")
    if ticket.first_response:
        first = ticket.first_response
        w.lines.append(f"Expected First Response: {_due(first)}")
        w.plain(2, f"({first.business_hours} business hours for {_team_words(ticket)}, counted from "
                   f"{_when(first.counted_from, first.timezone)} in {first.timezone} working hours)")
    else:
        w.lines.append("Expected First Response: none (resolved at the partner level)")
    w.blank()
    w.lines.append("Details of the Issue:")
    w.field(2, "Issue", ticket.issue.description)
    w.field(2, "Affected user(s)", ticket.issue.affected_users)
    w.field(2, "Started", ticket.issue.started)
    w.blank()
    w.lines.append("Error Messages (verbatim):")
    if ticket.error_messages is None:
        w.lines.append("  No error shown.")
    else:
        w.block(2, _lines(ticket.error_messages), wrap=False)
    w.blank()
    w.lines.append("Steps Taken to Replicate and Resolve:")
    phase = None
    for number, step in enumerate(ticket.steps, 1):
        if step.phase != phase:
            phase = step.phase
            w.blank()
            w.lines.append(f"{phase}:")
        w.lines.append(f"  {number}. {step.title} [{step.id}]")
        if step.status == "not_applicable":
            w.field(4, "Not applicable", step.reason or "")
        for fact in step.facts:
            w.fact(4, fact)
    w.blank()
    w.lines.append("Outcome:")
    if ticket.outcome.decision == "escalate":
        w.field(2, "Decision", f"escalate to {_team_words(ticket)}")
    else:
        w.field(2, "Decision", "resolved at the partner level")
        w.field(2, "Resolution", ticket.outcome.resolution)
    if ticket.outcome.summary:
        w.field(2, "Summary", ticket.outcome.summary)
    if ticket.partner.technician:
        w.field(2, "Technician", ticket.partner.technician)
    if ticket.redacted:
        w.blank()
        w.plain(0, "Text that looked like a password or secret was replaced by [REDACTED].")
    return w.text()


# markdown ------------------------------------------------------------------------------------

_MD_ALWAYS = set("\\`*_[]<>&~|{}$^")
_MD_WORD_START = set("@#!")  # mentions, issue references, GitLab merge requests: only where a word starts
_MD_LINE_START = re.compile(r"^(\d+)([.)])")


def md_escape(line: str) -> str:
    """One line of typed text made literal in CommonMark/GFM: nothing in it can format, link or start a block."""
    line = _visible(line)
    out = ["\\" + ch if ch in _MD_ALWAYS or (ch in _MD_WORD_START and (i == 0 or not line[i - 1].isalnum())) else ch
           for i, ch in enumerate(line)]
    text = "".join(out)
    stripped = text.lstrip(" \t")
    lead = text[: len(text) - len(stripped)]
    if stripped and stripped[0] in "-+=:":
        stripped = "\\" + stripped  # a list marker, setext underline or quote at the start of a line
    stripped = _MD_LINE_START.sub(r"\1\\\2", stripped)  # "1." or "1)" would start an ordered list
    # leading spaces would make an indented code block: keep the indentation as no-break spaces
    lead = lead.replace("\t", "    ").replace(" ", "&#160;")
    return lead + stripped


def _md_fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_fact(fact: Fact) -> list[str]:
    if not fact.items:
        return _md_value(fact.label, fact.value)
    out = [f"- **{fact.label}:**", ""]
    for item in fact.items:
        lines = [md_escape(line) for line in _lines(item)]
        out.append(f"  - {lines[0]}".rstrip())
        out.extend(f"    {line}".rstrip() if line else "    &#160;" for line in lines[1:])
    out.append("")
    return out


def _md_value(label: str, value: str, *, indent: str = "") -> list[str]:
    lines = _lines(value)
    if len(lines) == 1:
        return [f"{indent}- **{label}:** {md_escape(lines[0])}"]
    out = [f"{indent}- **{label}:**", ""]
    quoted = [md_escape(line) for line in lines]
    for i, line in enumerate(quoted):
        nxt = quoted[i + 1] if i + 1 < len(quoted) else ""
        hard_break = "\\" if line and nxt else ""  # keep the line breaks of the typed text
        out.append(f"{indent}  > {line}{hard_break}".rstrip() if line else f"{indent}  >")
    out.append("")
    return out


def render_markdown(ticket: Ticket) -> str:
    md: list[str] = [f"# {md_escape(ticket.subject)}", ""]
    zone = ticket.timezone
    md += _md_value("To", ticket.recipient)
    md += _md_value("Partner Domain", ticket.partner.domain)
    md += _md_value("Control Panel URL", ticket.partner.control_panel_url or "not applicable")
    md += _md_value("Customer Name", ticket.customer.name)
    md += _md_value("Customer Domain Name", ticket.customer.domain)
    md += _md_value("Triage ID", ticket.triage_id)
    md += _md_value("Triage Started", _when(ticket.created_at, zone))
    md += _md_value("Triage Closed", _when(ticket.closed_at, zone) if ticket.closed_at else "not closed")
    if ticket.first_response:
        first = ticket.first_response
        md += _md_value("Expected First Response",
                        f"{_due(first)} ({first.business_hours} business hours for {_team_words(ticket)}, "
                        f"counted from {_when(first.counted_from, first.timezone)})")
    else:
        md += _md_value("Expected First Response", "none (resolved at the partner level)")
    md += ["", "## Details of the Issue", ""]
    md += _md_value("Issue", ticket.issue.description)
    md += _md_value("Affected user(s)", ticket.issue.affected_users)
    md += _md_value("Started", ticket.issue.started)
    md += ["", "## Error Messages (verbatim)", ""]
    if ticket.error_messages is None:
        md += ["No error shown."]
    else:
        body = "\n".join(_lines(ticket.error_messages))
        fence = _md_fence(body)
        md += [f"{fence}text", body, fence]
    md += ["", "## Steps Taken to Replicate and Resolve"]
    phase = None
    for number, step in enumerate(ticket.steps, 1):
        if step.phase != phase:
            phase = step.phase
            md += ["", f"### {phase}"]
        md += ["", f"#### {number}. {step.title} (`{step.id}`)", ""]
        if step.status == "not_applicable":
            md += _md_value("Not applicable", step.reason or "")
        for fact in step.facts:
            md += _md_fact(fact)
    md += ["", "## Outcome", ""]
    if ticket.outcome.decision == "escalate":
        md += _md_value("Decision", f"escalate to {_team_words(ticket)}")
    else:
        md += _md_value("Decision", "resolved at the partner level")
        md += _md_value("Resolution", ticket.outcome.resolution)
    if ticket.outcome.summary:
        md += _md_value("Summary", ticket.outcome.summary)
    if ticket.partner.technician:
        md += _md_value("Technician", ticket.partner.technician)
    if ticket.redacted:
        md += ["", "Text that looked like a password or secret was replaced by \\[REDACTED\\]."]
    # one blank line between blocks; the fenced error text is one entry, so its own blank lines stay
    blocks = [line for i, line in enumerate(md) if line or (i > 0 and md[i - 1])]
    return "\n".join(blocks).strip("\n") + "\n"


# json ----------------------------------------------------------------------------------------

def ticket_document(ticket: Ticket) -> dict[str, Any]:
    return {"version": TICKET_VERSION, **ticket.model_dump(mode="json")}


def render_json(ticket: Ticket) -> str:
    return json.dumps(ticket_document(ticket), ensure_ascii=False, indent=2) + "\n"


# eml -----------------------------------------------------------------------------------------

def render_eml(ticket: Ticket, *, width: int = TEXT_WIDTH) -> bytes:
    """An unsent RFC 5322 draft a mail client opens for editing (X-Unsent: 1), text/plain UTF-8."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["To"] = ticket.recipient
    _set_subject(msg, _header_safe(ticket.subject))
    msg["Date"] = format_datetime(ticket.generated_at)
    msg["X-Unsent"] = "1"
    msg["X-Threer-Triage-Id"] = _header_safe(ticket.triage_id)
    msg.set_content(render_text(ticket, width=width, headers=False), charset="utf-8")
    return msg.as_bytes()


def _set_subject(msg: EmailMessage, subject: str) -> None:
    """Fold (and, when not ASCII, RFC 2047-encode) the Subject here: the email package's own folding
    can double a space next to an encoded word."""
    charset = "us-ascii" if subject.isascii() else "utf-8"
    folded = Header(subject, charset=charset, maxlinelen=76, header_name="Subject").encode(linesep="\n")
    msg.set_raw("Subject", folded)


def _header_safe(value: str) -> str:
    """A header value on one line whatever it holds (the email package would refuse CR/LF anyway).

    Typed "=?" gets an invisible zero-width space after "=", so that a mail client shows the
    typed text instead of decoding it as an RFC 2047 encoded word.
    """
    return " ".join(_visible(" ".join(value.split())).split()).replace("=?", "=\u200b?")


# -- drafts on disk ----------------------------------------------------------------------------

def write_ticket_draft(session: TriageSession, config: Config, env: Environment, now: datetime, *,
                       redact: bool = False) -> Path:
    """Write the text and .eml drafts under THREER_HOME/tickets/; return the text one's path."""
    ticket = build_ticket(session, config, now=now, redact_secrets=redact)
    folder = env.home / "tickets"
    text_path = folder / f"{ticket.triage_id}.txt"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(text_path, render_text(ticket).encode("utf-8"))
        write_private(folder / f"{ticket.triage_id}.eml", render_eml(ticket))
    except OSError as exc:
        raise ThreerError(
            f"Cannot write the ticket draft in {folder} ({exc.strerror or exc}). "
            f"Write it elsewhere with `threer ticket {ticket.triage_id} --output FILE`.",
            ExitStatus.INCOMPLETE,
        ) from None
    return text_path


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only when new (tickets carry customer details)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
