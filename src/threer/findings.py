"""What a DNS/HTTP check reports: findings, per-domain reports, and the JSON document."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


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


class Finding(BaseModel):
    id: str  # stable, e.g. "spf.lookup-limit"; every id is documented in docs/reference/findings.md
    check: str  # ns, mx, spf, dmarc, dkim, autodiscover, mta-sts, tls-rpt, dnssec
    severity: Severity
    message: str
    fix: str | None = None  # what to read to the customer's DNS admin
    observed: Any = None
    expected: Any = None


class Summary(BaseModel):
    ok: int = 0
    info: int = 0
    warn: int = 0
    fail: int = 0
    error: int = 0


class DomainReport(BaseModel):
    domain: str
    profile: str | None = None
    checked_at: datetime
    duration_ms: int
    summary: Summary
    findings: list[Finding] = Field(default_factory=list)
    partial: bool = False  # some look-ups did not finish before the deadline

    @classmethod
    def summarise(cls, findings: list[Finding]) -> Summary:
        counts = Summary()
        for f in findings:
            setattr(counts, f.severity.value, getattr(counts, f.severity.value) + 1)
        return counts
