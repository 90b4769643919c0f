"""A triage session as read back from the store: what is recorded, and what is still missing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from threer.triage import answers as a
from threer.triage.steps import STEPS, get_step


class RecordedStep(BaseModel):
    step_id: str
    status: Literal["answered", "not_applicable"]
    answer: dict[str, Any] | None = None
    reason: str | None = None
    recorded_at: datetime
    revision: int = 1
    recorded_by: str | None = None  # the technician who saved this revision (None: not known, before 0.2)
    recorded_host: str | None = None  # the machine it was saved on

    def model_instance(self) -> a.Answer | None:
        if self.status != "answered" or self.answer is None:
            return None
        return get_step(self.step_id).model.model_validate(self.answer)

    def to_storage(self) -> dict[str, Any]:
        if self.status == "answered":
            return {"status": "answered", "answer": self.answer}
        return {"status": "not_applicable", "reason": self.reason}


class TriageSession(BaseModel):
    id: str
    created_at: datetime
    updated_at: datetime
    status: Literal["open", "resolved", "escalated"] = "open"
    closed_at: datetime | None = None
    customer_name: str | None = None
    customer_domain: str | None = None
    technician: str | None = None  # who ran it (config partner.technician, else the OS user); None before 0.2
    host: str | None = None  # the machine it ran on
    ticket_sent_at: datetime | None = None  # when `threer ticket --send` had the ticket accepted by the SMTP server
    ticket_message_id: str | None = None
    steps: dict[str, RecordedStep] = {}

    @property
    def stale(self) -> list[str]:
        """Recorded steps that no longer hold for the session as it is now, so they count as not recorded
        (their answer stays in the history): review.dns checked another domain than the customer's, as
        after the customer domain was changed."""
        dns = self.steps.get("review.dns")
        if dns is None or dns.status != "answered" or not self.customer_domain:
            return []
        checked = (dns.answer or {}).get("domain")
        if not isinstance(checked, str) or not checked or same_domain(checked, self.customer_domain):
            return []
        return ["review.dns"]

    @property
    def missing(self) -> list[str]:
        """Step ids not yet recorded (or recorded but `stale`), in flow order."""
        stale = self.stale
        return [s.id for s in STEPS if s.id not in self.steps or s.id in stale]

    @property
    def complete(self) -> bool:
        return not self.missing

    def answer(self, step_id: str) -> Any:
        rec = self.steps.get(step_id)
        return rec.model_instance() if rec else None

    def progress(self) -> tuple[int, int]:
        return len(STEPS) - len(self.missing), len(STEPS)

    def revisions(self) -> dict[str, int]:
        """Each recorded step's revision: taken at the start of a run to see what the run changed."""
        return {step_id: rec.revision for step_id, rec in self.steps.items()}

    def marked_fixes(self) -> list[dict[str, str]]:
        """What research.prior and research.kb marked as the article or past case that solved it."""
        return marked_fixes(self.answer("research.prior"), self.answer("research.kb"))

    def outcome_is_stale(self, before: dict[str, int] | None = None) -> bool:
        """The outcome was recorded before some other answer changed, so it must be confirmed.

        Times are kept to the second, so a change made in the same second as the outcome is seen
        from the revisions at the start of this run (`before`): another step changed while the
        outcome did not.
        """
        outcome = self.steps.get("outcome")
        others = {step_id: rec for step_id, rec in self.steps.items() if step_id != "outcome"}
        if outcome is None or not others:
            return False
        if outcome.recorded_at < max(rec.recorded_at for rec in others.values()):
            return True
        if before is None or before.get("outcome") != outcome.revision:
            return False
        return any(before.get(step_id) != rec.revision for step_id, rec in others.items())


def same_domain(one: str, other: str) -> bool:
    """The same DNS name, whatever its case, trailing dot or script (IDN)."""
    from threer.domain import DomainError, normalise_domain

    def key(name: str) -> str:
        try:
            return normalise_domain(name).domain
        except DomainError:
            return name.strip().rstrip(".").lower()

    return key(one) == key(other)


def marked_fixes(prior: Any, kb: Any) -> list[dict[str, str]]:
    """The ids marked as the one that solved it (`worked`), each once: {step, id, title, source}
    (title and source from what research.prior found, when it found them)."""
    found = {str(m.get("id")): m for m in getattr(prior, "matches", None) or [] if isinstance(m, dict)}
    out: dict[str, dict[str, str]] = {}
    for step_id, answer in (("research.prior", prior), ("research.kb", kb)):
        for doc_id in getattr(answer, "worked", None) or []:
            match = found.get(doc_id, {})
            source = str(match.get("source") or ("case" if doc_id.lower().startswith("case:") else "kb"))
            out.setdefault(doc_id, {"step": step_id, "id": doc_id, "title": str(match.get("title") or ""),
                                    "source": source})
    return list(out.values())


def describe_fixes(fixes: list[dict[str, str]]) -> str:
    """'the KB article kb-0014 "Outlook asks for the password"' and the like, joined with 'and'."""
    names = []
    for fix in fixes:
        kind = "past case" if fix["source"] == "case" else "KB article"
        names.append(f"the {kind} {fix['id']}" + (f' "{fix["title"]}"' if fix["title"] else "") + f" ({fix['step']})")
    return " and ".join(names)
