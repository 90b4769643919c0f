"""What a DNS/HTTP check reports: findings, per-domain reports, and the JSON document.

Plain dataclasses, not pydantic models: a short `check-dns --json` run builds them without importing
pydantic (the checks build them from their own values, never from outside input, so nothing here
needs validating). Change one with `dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Literal


class Severity(str, Enum):
    OK = "ok"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"  # could not be checked (timeout, SERVFAIL, network)

    @property
    def rank(self) -> int:
        """Worse is higher; `error` ranks beside `fail` because nothing is known."""
        return {"ok": 0, "info": 1, "warn": 2, "error": 3, "fail": 4}[self.value]


@dataclass(kw_only=True)
class RecordChange:
    """One record a fix adds or removes, so it can be printed as a zone-file line (`--fixes`) and
    applied to a zone (the fix-verification tests). A value with `<...>` has a part the technician
    copies from the provider's admin centre."""

    action: Literal["add", "remove"]
    name: str  # owner name, no trailing dot
    rdtype: str  # MX, TXT, CNAME, SRV ...
    value: str  # presentation form, as in a zone file (TXT quoted)
    ttl: int = 3600

    @property
    def line(self) -> str:
        return f"{self.name.rstrip('.')}. {self.ttl} IN {self.rdtype} {self.value}"

    @property
    def needs_value(self) -> bool:
        """True when part of the value must be copied from the provider (a `<...>` placeholder)."""
        return "<" in self.value and ">" in self.value


def add(name: str, rdtype: str, value: str, ttl: int | None = None) -> RecordChange:
    return RecordChange(action="add", name=name.rstrip("."), rdtype=rdtype, value=value, ttl=ttl or 3600)


def remove(name: str, rdtype: str, value: str, ttl: int | None = None) -> RecordChange:
    return RecordChange(action="remove", name=name.rstrip("."), rdtype=rdtype, value=value, ttl=ttl or 3600)


@dataclass(kw_only=True)
class Finding:
    id: str  # stable, e.g. "spf.lookup-limit"; every id is documented in docs/reference/findings.md
    check: str  # ns, mx, spf, dmarc, dkim, autodiscover, mta-sts, tls-rpt, dnssec
    severity: Severity
    message: str
    fix: str | None = None  # what to read to the customer's DNS admin
    observed: Any = None
    expected: Any = None
    # the fix as records to add and remove, when it is a DNS change in the customer's zone
    changes: list[RecordChange] = field(default_factory=list)


@dataclass(kw_only=True)
class Summary:
    ok: int = 0
    info: int = 0
    warn: int = 0
    fail: int = 0
    error: int = 0

    def counts(self) -> dict[str, int]:
        """{"ok": n, "info": n, "warn": n, "fail": n, "error": n}, in that order (the JSON's `summary`)."""
        return asdict(self)


@dataclass(kw_only=True)
class DomainReport:
    domain: str
    profile: str | None = None
    profile_reason: str | None = None  # how the profile was chosen: "recognised from the MX (...)", ...
    checked_at: datetime
    duration_ms: int
    summary: Summary
    findings: list[Finding] = field(default_factory=list)
    partial: bool = False  # some look-ups did not finish before the deadline

    @classmethod
    def summarise(cls, findings: list[Finding]) -> Summary:
        counts = Summary()
        for f in findings:
            setattr(counts, f.severity.value, getattr(counts, f.severity.value) + 1)
        return counts
