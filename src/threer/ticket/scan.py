"""Secret-scanning glue: which answer fields a technician typed, flagged or masked before a ticket leaves.

`threer.secrets_scan` finds what looks like a password or token in one text; this module walks a
session's answers, skipping the fields threer fills in itself (DNS results, probes, search matches).
"""

from __future__ import annotations

from typing import Any

from threer.secrets_scan import find_secrets, redact
from threer.ticket.model import SecretWarning
from threer.triage.session import TriageSession
from threer.triage.steps import STEPS

# Answer fields threer fills in itself (from DNS, the OWA probe, the search): not scanned for secrets.
_NOT_TYPED = {
    "intake.customer": {"domain", "domain_note"},
    "review.dns": {"checked", "domain", "profile", "profile_reason", "summary", "problems", "checked_at", "run_error",
                   "changes"},
    "review.owa": {"probe"},
    "research.prior": {"matches"},
}


def scan_session(session: TriageSession) -> list[SecretWarning]:
    """Every stretch of typed text in the session's answers that looks like a secret, by field."""
    warnings: list[SecretWarning] = []
    for step in STEPS:
        rec = session.steps.get(step.id)
        if rec is None:
            continue
        for field, text in _typed_texts(step.id, rec.answer, rec.reason):
            for hit in find_secrets(text):
                warning = SecretWarning(field=field, kind=hit.kind, line=hit.line)
                if warning not in warnings:  # two secrets of one kind on one line: one warning says it
                    warnings.append(warning)
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


def redacted_session(session: TriageSession) -> TriageSession:
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
