"""Building the ticket from a complete triage session and the partner's config."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from threer.business_hours import add_business_hours
from threer.config import Config
from threer.errors import BadInput
from threer.ticket.layout import format_when, visible
from threer.ticket.model import (
    RESPONSE_HOURS,
    CustomerDetails,
    Fact,
    FirstResponse,
    IssueDetails,
    OutcomeDetails,
    PartnerDetails,
    Ticket,
    TicketIncomplete,
    TicketStep,
)
from threer.ticket.followup import issued_ticket
from threer.ticket.scan import redacted_session, scan_session
from threer.triage import answers as a
from threer.triage.session import TriageSession
from threer.triage.steps import STEPS, Phase

SUBJECT_SUMMARY_MAX = 80


def build_ticket(session: TriageSession, config: Config, *, now: datetime, redact_secrets: bool = False,
                 counted_from: datetime | None = None) -> Ticket:
    """The ticket for a complete session. Raises TicketIncomplete naming what is missing.

    The expected first response counts from `counted_from` when given (`ticket --send` sending for the
    first time: the moment it sends; a corrected ticket: when the first was issued), else from when
    the ticket was issued (threer.ticket.followup.issued_ticket: sent, else the escalation), the
    instant `sessions list --escalated` and `report` count from, so a re-export never moves the
    date; `now` only for a session not recorded as escalated yet.

    With `redact_secrets`, every stretch of typed text that looks like a secret is replaced
    by [REDACTED]; `warnings` lists them either way.
    """
    missing_config = config.missing_partner_details()
    if session.missing or missing_config:
        raise TicketIncomplete(session.id, session.missing, missing_config)
    warnings = scan_session(session)
    if redact_secrets and warnings:
        session = redacted_session(session)

    customer = _answer(session, "intake.customer", a.CustomerAnswer)
    issue = _answer(session, "intake.issue", a.IssueAnswer)
    errors = _answer(session, "intake.errors", a.ErrorsAnswer)
    outcome = _answer(session, "outcome", a.OutcomeAnswer)
    team: Literal["support", "engineering"] = "engineering" if outcome.engineering else "support"
    calendar = config.business_hours
    first_response = None
    if outcome.decision == "escalate":
        hours = RESPONSE_HOURS[team]
        issued = issued_ticket(session)
        start = counted_from or (issued[0] if issued else None) or now
        try:
            due = add_business_hours(start, hours, calendar)
        except ValueError as exc:
            raise BadInput(f"Cannot work out the expected first response ({exc}). "
                           "Check business_hours with `threer config show`.") from None
        first_response = FirstResponse(business_hours=hours, due=due, timezone=calendar.timezone,
                                       counted_from=start.astimezone(ZoneInfo(calendar.timezone)))
    steps = [_ticket_step(session, step.id, calendar.timezone) for step in STEPS
             if step.phase in (Phase.REPLICATE, Phase.REVIEW, Phase.RESEARCH)]
    if outcome.decision == "escalate" and outcome.fix_did_not_hold:
        _say_fix_did_not_hold(session, steps)
    kb_articles, past_cases = _named_research(session)
    partner = config.partner
    summary = outcome.summary or issue.description
    return Ticket(
        triage_id=session.id,
        subject=_subject(customer.domain, summary, session.id, redact_secrets),
        recipient=partner.support_address or "",
        partner=PartnerDetails(
            domain=partner.domain or "",
            control_panel_url=None if partner.control_panel_na else partner.control_panel_url,
            technician=partner.technician,
        ),
        customer=CustomerDetails(name=customer.name, domain=customer.domain),
        issue=IssueDetails(description=issue.description, affected_users=issue.affected_users, started=issue.started),
        error_messages=None if errors.no_error_shown else errors.messages,
        error_analysis=_error_analysis(errors),
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


def _subject(domain: str, summary: str, triage_id: str, redact_secrets: bool) -> str:
    """The subject, scanned once more as the one line it becomes (a secret split over lines joins up here)."""
    from threer.secrets_scan import redact

    subject = make_subject(domain, summary, triage_id)
    return redact(subject) if redact_secrets else subject


def make_subject(domain: str, summary: str, triage_id: str) -> str:
    """One line: line breaks and runs of spaces in the summary become single spaces."""
    text = visible(" ".join(summary.split()))
    if len(text) > SUBJECT_SUMMARY_MAX:
        cut = text[:SUBJECT_SUMMARY_MAX].rsplit(" ", 1)[0] or text[:SUBJECT_SUMMARY_MAX]
        text = cut.rstrip(" ,;:.-") + "..."
    return f"Escalation: {domain} - {text} [triage {triage_id}]"


def _answer(session: TriageSession, step_id: str, model: type[Any]) -> Any:
    value = session.answer(step_id)
    if not isinstance(value, model):  # the intake and outcome steps cannot be "not applicable"
        raise TicketIncomplete(session.id, [step_id], [])
    return value


def _ticket_step(session: TriageSession, step_id: str, zone: str) -> TicketStep:
    rec = session.steps[step_id]
    step = next(s for s in STEPS if s.id == step_id)
    if rec.status == "not_applicable":
        return TicketStep(id=step_id, phase=step.phase.value, title=step.title, recorded_at=rec.recorded_at,
                          status="not_applicable", reason=rec.reason or "")
    answer = rec.model_instance()
    return TicketStep(id=step_id, phase=step.phase.value, title=step.title, recorded_at=rec.recorded_at,
                      status="answered", facts=_facts(step_id, answer, zone), answer=rec.answer)


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


def _error_analysis(errors: a.ErrorsAnswer) -> list[str]:
    """The short account of a pasted bounce or header block; nothing for text that is neither."""
    analysis = errors.analysis or {}
    if analysis.get("kind") not in {"bounce", "headers"}:
        return []
    return [str(line) for line in analysis.get("summary") or []]


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
                when = " on " + format_when(datetime.fromisoformat(ans.checked_at), zone)
            except ValueError:
                when = f" on {ans.checked_at}"
        profile = f" (profile {ans.profile})" if ans.profile else ""
        if ans.profile_reason:
            profile = f" (profile {ans.profile}, {ans.profile_reason})" if ans.profile else f" ({ans.profile_reason})"
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
        if ans.changes:
            facts.append(Fact(label="Since the last check", value=ans.changes))
    if ans.dkim_selectors:
        facts.append(Fact(label="DKIM selectors from the pasted headers", items=ans.dkim_selectors))
    if ans.spf_ip:
        from threer.triage.actions import spf_sentence

        facts.append(Fact(label="SPF for the sending server", value=spf_sentence(ans.domain or "the domain", ans.spf_ip)))
    if ans.note:
        facts.append(Fact(label="Technician's note", value=ans.note))
    return facts


def _say_fix_did_not_hold(session: TriageSession, steps: list[TicketStep]) -> None:
    """The research step that marked a fix says that it did not hold: the technician escalated anyway."""
    fixes = session.marked_fixes()
    for step in steps:
        named = [f"{f['id']} {f['title']} ({_source_name(f['source'])})".replace("  ", " ") for f in fixes
                 if f["step"] == step.id]
        if named and step.status == "answered":
            step.facts.append(Fact(label="Marked as the fix, but it did not hold (escalated anyway)", items=named))


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
