"""A strict test double for the Prompter interface: it fails on any question it was not told to
expect, and `assert_done()` checks that every expected one was asked (after gh's prompter mock)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from threer.triage.engine import ActionResult
from threer.triage.flow import AskContext, Provide, Reply
from threer.triage.session import RecordedStep, TriageSession
from threer.triage.steps import Step


class UnexpectedPrompt(AssertionError):
    pass


class StrictPrompter:
    def __init__(self, script: list[tuple[str, Any]]) -> None:
        self.script = list(script)  # (step id, Reply or raw data)
        self.asked: list[AskContext] = []
        self.actions: list[tuple[str, ActionResult]] = []
        self.recorded_steps: list[str] = []

    def begin(self, step: Step, session: TriageSession) -> None:
        pass

    def ask(self, step: Step, ctx: AskContext) -> Reply:
        self.asked.append(ctx)
        if not self.script:
            raise UnexpectedPrompt(f"unexpected prompt for {step.id}")
        expected, reply = self.script.pop(0)
        if expected != step.id:
            raise UnexpectedPrompt(f"asked {step.id}, expected {expected}")
        return reply if isinstance(reply, Reply.__args__) else Provide(reply)  # type: ignore[attr-defined]

    def working(self, label: str, fn: Callable[[], Any]) -> Any:
        return fn()

    def show_action(self, step: Step, result: ActionResult) -> None:
        self.actions.append((step.id, result))

    def recorded(self, step: Step, rec: RecordedStep, session: TriageSession) -> None:
        self.recorded_steps.append(step.id)

    def assert_done(self) -> None:
        assert not self.script, f"never asked: {[s for s, _ in self.script]}"


class FakeActions:
    """Canned results for threer's own Actions interface (not a patch of any library)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def dns(self, domain: str, evidence: dict | None = None) -> ActionResult:
        self.calls.append(("dns", domain))
        return ActionResult(fields={"checked": True, "domain": domain, "profile": "m365",
                                    "summary": {"ok": 5, "info": 0, "warn": 1, "fail": 1, "error": 0},
                                    "problems": [{"id": "spf.missing", "severity": "fail", "message": "No SPF record.",
                                                  "fix": "TXT @ v=spf1 include:spf.protection.outlook.com -all"}],
                                    "checked_at": "2026-11-26T12:00:00+00:00"},
                            summary=f"DNS checks for {domain}: 5 ok, 1 warn, 1 fail.")

    def owa(self, domain: str) -> ActionResult:
        self.calls.append(("owa", domain))
        return ActionResult(fields={"probe": [{"id": "owa.ok", "severity": "ok", "message": "OWA answers."}]})

    def prior(self, queries: Sequence[str | Sequence[str]]) -> ActionResult:
        self.calls.append(("prior", " | ".join(q if isinstance(q, str) else " | ".join(q) for q in queries)))
        return ActionResult(fields={"matches": [{"id": "kb-0001", "title": "Password prompts", "source": "kb",
                                                 "score": 3.2}]})


COMPLETE_ANSWERS: dict[str, Any] = {
    "intake.customer": {"name": "Contoso Ltd", "domain": "Jane@Contoso.COM"},
    "intake.issue": {"description": "Outlook keeps asking for a password", "affected_users": "jane@contoso.com",
                     "started": "Monday 9am"},
    "intake.errors": "no error shown",
    "replicate.reproduced": {"reproduced": "yes", "how": "signed in as the user on a test PC"},
    "replicate.environment": {"os": "Windows 11", "os_version": "23H2", "client": "Outlook (Windows)",
                              "client_version": "2408"},
    "replicate.services": "Exchange mailbox, Outlook Web Access",
    "review.dns": "autodiscover CNAME missing",
    "review.owa": {"login": "yes", "send": "yes", "receive": "yes"},
    "review.server_rules": "no server-side rules",
    "review.client_rules": {"not_applicable": "the user only uses OWA today"},
    "research.prior": {"tried": ["kb-0001"], "outcome": "followed kb-0001, prompts continue"},
    "research.kb": {"articles": ["kb-0001"], "outcome": "did not help"},
    "research.web": {"queries": "outlook password prompt loop", "outcome": "nothing new"},
    "outcome": {"decision": "escalate", "engineering": False},
}

PARTNER = {"domain": "partner.example", "control_panel_url": "https://cp.partner.example/",
           "support_address": "escalations@provider.example"}
