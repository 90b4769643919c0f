"""Build triage sessions in a real Store for tests: complete, incomplete, with fixed ids and clocks.

    store = Store(env.db_path)
    session_id = complete_session(store)                      # a realistic escalation
    session_id = incomplete_session(store, missing=["outcome"])
    session_id = make_session(store, {**ESCALATION, "intake.errors": "pwd=hunter2"})
    write_partner_config(env.config_path)                     # the partner details a ticket needs

Answers go through the real engine (`parse` + `record`), so they are validated exactly as
typed ones are. The action results of review.dns and research.prior (what threer's checks
and search found) are passed as the engine's ActionResult, as the triage command does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from threer.config import BusinessHours, Config, PartnerConfig, save_config
from threer.store import Store
from threer.triage import answers as a
from threer.triage.engine import ActionResult, TriageEngine, parse_answer
from threer.triage.session import RecordedStep, TriageSession
from threer.triage.steps import STEPS

START = datetime(2024, 3, 4, 10, 0, tzinfo=timezone.utc)  # a Monday
GOLDEN_ID = "20240304-GLDN"

ESCALATION: dict[str, Any] = {
    "intake.customer": {"name": "Contoso Ltd", "domain": "Jane@Contoso.COM"},
    "intake.issue": {
        "description": "Outlook keeps asking for the password every few minutes since the mailbox moved.",
        "affected_users": "jane@contoso.com, sales@contoso.com",
        "started": "Monday 26 February, after the migration",
    },
    "intake.errors": "Task 'jane@contoso.com - Sending' reported error (0x800CCC0E): "
    "'Outlook cannot connect to your outgoing (SMTP) e-mail server.'\n"
    "Remote Server returned '550 5.7.1 RESOLVER.RST.AuthRequired; authentication required'",
    "replicate.reproduced": {"reproduced": "yes", "how": "Signed in as Jane on a test PC; the prompt came back after 2 minutes."},
    "replicate.environment": {"os": "Windows 11", "os_version": "23H2", "client": "Outlook (Windows)",
                              "client_version": "Microsoft 365 Apps 2402"},
    "replicate.services": "Exchange mailbox, Outlook Web Access, ActiveSync (mobile)",
    "review.dns": "autodiscover is missing; the customer's DNS host has been told.",
    "review.owa": {"login": "yes", "send": "yes", "receive": "yes", "note": "OWA works from the same PC."},
    "review.server_rules": "No server-side rules on either mailbox.",
    "review.client_rules": {"not_applicable": "Jane has never created Outlook rules; confirmed with her."},
    "research.prior": {"tried": ["kb-0001", "case:20240115-HJ7K"], "outcome": "Recreated the profile as kb-0001 says; "
                       "the prompt came back."},
    "research.kb": {"articles": ["kb-0002"], "outcome": "Autodiscover test fails as kb-0002 describes."},
    "research.web": {"queries": "outlook password prompt loop 0x800CCC0E",
                     "links": ["https://answers.example.org/outlook-password-loop"],
                     "outcome": "Only the profile fix, already tried."},
    "outcome": {"decision": "escalate", "summary": "Outlook password prompt loop after migration"},
}

DNS_CHECKED: dict[str, Any] = {
    "checked": True,
    "domain": "contoso.com",
    "profile": "m365",
    "summary": {"ok": 9, "info": 1, "warn": 1, "fail": 1, "error": 0},
    "problems": [
        {"id": "autodiscover.missing", "severity": "fail", "message": "autodiscover.contoso.com has no CNAME or A record.",
         "fix": "Add CNAME autodiscover -> autodiscover.outlook.com."},
        {"id": "dmarc.policy-none", "severity": "warn", "message": "The DMARC policy is p=none.", "fix": None},
    ],
    "checked_at": "2024-03-04T10:06:00+00:00",
}

PRIOR_MATCHES: dict[str, Any] = {
    "matches": [
        {"id": "kb-0001", "title": "Outlook keeps prompting for a password", "source": "kb", "score": 0.91},
        {"id": "case:20240115-HJ7K", "title": "Fabrikam: password prompts after migration", "source": "case",
         "score": 0.74},
    ]
}

ACTIONS: dict[str, dict[str, Any]] = {"review.dns": DNS_CHECKED, "research.prior": PRIOR_MATCHES}


class TickingClock:
    """A clock that moves on a minute every time it is read: recorded times are fixed and ordered."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(minutes=1)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current


def make_session(
    store: Store,
    answers: Mapping[str, Any] | None = None,
    *,
    skip: Iterable[str] = (),
    actions: Mapping[str, dict[str, Any]] | None = None,
    session_id: str | None = None,
    clock: TickingClock | None = None,
    technician: str | None = None,
) -> str:
    """Record `answers` (default: ESCALATION) step by step, leaving out `skip`; return the session id."""
    answers = copy.deepcopy(dict(ESCALATION if answers is None else answers))
    actions = ACTIONS if actions is None else actions
    clock = clock or TickingClock()
    engine = TriageEngine.new(store, clock=clock, technician=technician, host="desk-pc-1" if technician else None)
    if session_id:
        # a fixed id for golden files; no answer refers to the session yet
        with store.transaction() as cur:
            cur.execute("UPDATE sessions SET id = ? WHERE id = ?", (session_id, engine.session_id))
        engine = TriageEngine(store, session_id, clock=clock)
    skipped = set(skip)
    for step in STEPS:
        if step.id in skipped or step.id not in answers:
            continue
        fields = actions.get(step.id)
        action = ActionResult(fields=fields) if fields is not None else None
        raw = answers[step.id]
        if action is not None and isinstance(raw, dict) and any(k in raw for k in ("not_applicable", "n/a", "na")):
            action = None
        engine.record(step.id, engine.parse(step.id, raw, action))
    return engine.session_id


def session_in_memory(
    answers: Mapping[str, Any] | None = None,
    *,
    skip: Iterable[str] = (),
    actions: Mapping[str, dict[str, Any]] | None = None,
    session_id: str = GOLDEN_ID,
    clock: TickingClock | None = None,
) -> TriageSession:
    """The session `make_session` would store, validated the same way, without a database (fast, for hypothesis)."""
    answers = copy.deepcopy(dict(ESCALATION if answers is None else answers))
    actions = ACTIONS if actions is None else actions
    clock = clock or TickingClock()
    session = TriageSession(id=session_id, created_at=clock(), updated_at=START)
    skipped = set(skip)
    for step in STEPS:
        if step.id in skipped or step.id not in answers:
            continue
        raw = answers[step.id]
        fields = actions.get(step.id)
        is_na = isinstance(raw, dict) and any(k in raw for k in ("not_applicable", "n/a", "na"))
        value = parse_answer(step.id, raw, ActionResult(fields=fields) if fields is not None and not is_na else None)
        now = clock()
        if isinstance(value, a.NotApplicable):
            rec = RecordedStep(step_id=step.id, status="not_applicable", reason=value.reason, recorded_at=now)
        else:
            rec = RecordedStep(step_id=step.id, status="answered", answer=value.model_dump(mode="json"), recorded_at=now)
        session.steps[step.id] = rec
        session.updated_at = now
        if isinstance(value, a.CustomerAnswer):
            session.customer_name, session.customer_domain = value.name, value.domain
        if isinstance(value, a.OutcomeAnswer):
            session.status = "resolved" if value.decision == "resolved" else "escalated"
            session.closed_at = now
    return session


def complete_session(store: Store, **kwargs: Any) -> str:
    return make_session(store, **kwargs)


def incomplete_session(store: Store, missing: Iterable[str] = ("research.web", "outcome"), **kwargs: Any) -> str:
    return make_session(store, skip=missing, **kwargs)


def partner_config(**business_hours: Any) -> Config:
    return Config(
        partner=PartnerConfig(domain="partner.example", control_panel_url="https://cp.partner.example/",
                              support_address="support@provider.example", technician="Sam Okafor"),
        business_hours=BusinessHours(timezone="Europe/London", **business_hours),
    )


def write_partner_config(path: Path, config: Config | None = None) -> Config:
    config = config or partner_config()
    save_config(config, path)
    return config
