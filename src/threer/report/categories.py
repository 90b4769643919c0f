"""What kind of problem a session was, from what it recorded: error codes, DNS findings, research articles.

A session's labels, in this order:
- `error:CODE` for each error code in its error text: enhanced SMTP status codes (`5.7.1`) and
  Windows/Outlook codes (`0x800CCC0E`, upper-cased);
- `dns:FINDING` for each `fail` or `warn` finding threer's DNS checks recorded (`dns:autodiscover.missing`);
- `kb:ID` for each knowledge-base article its Research steps name.

Two sessions are the same kind of problem when their error and DNS labels share one; a session with
neither is judged by its articles. Its category (for `--by category`) is its first label, or
`uncategorised`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from threer.triage import answers as a
from threer.triage.session import TriageSession

UNCATEGORISED = "uncategorised"
_ENHANCED = re.compile(r"(?<![\d.])[245]\.\d{1,3}\.\d{1,3}(?![\d.]*\d)")
_HEX = re.compile(r"\b0x[0-9a-fA-F]{8}\b")
_DNS_SEVERITIES = ("fail", "warn")


def error_codes(text: str) -> list[str]:
    found = [m.group().upper().replace("0X", "0x") for m in _HEX.finditer(text)]
    found += [m.group() for m in _ENHANCED.finditer(text)]
    return list(dict.fromkeys(found))


def dns_findings(session: TriageSession) -> list[str]:
    dns = session.answer("review.dns")
    if not isinstance(dns, a.DnsAnswer):
        return []
    ranked = sorted((p for p in dns.problems if p.get("severity") in _DNS_SEVERITIES),
                    key=lambda p: _DNS_SEVERITIES.index(p["severity"]))
    return list(dict.fromkeys(str(p.get("id")) for p in ranked if p.get("id")))


def research_items(session: TriageSession) -> list[str]:
    """Every article or past case id the Research steps say were tried or consulted, each once."""
    items: list[str] = []
    prior = session.answer("research.prior")
    if isinstance(prior, a.PriorAnswer):
        items += prior.tried
    kb = session.answer("research.kb")
    if isinstance(kb, a.KbAnswer):
        items += kb.articles
    return list(dict.fromkeys(i.strip() for i in items if i.strip()))


def session_errors(session: TriageSession) -> list[str]:
    errors = session.answer("intake.errors")
    return error_codes(errors.messages) if isinstance(errors, a.ErrorsAnswer) else []


@dataclass(frozen=True)
class Facts:
    """What a session recorded that the report uses, read once (each read validates an answer)."""

    errors: list[str]
    dns: list[str]
    items: list[str]  # articles and past cases its Research steps name
    labels: list[str]


def facts(session: TriageSession) -> Facts:
    errors, dns, items = session_errors(session), dns_findings(session), research_items(session)
    articles = [i for i in items if not i.lower().startswith("case:")]
    found = [f"error:{c}" for c in errors] + [f"dns:{f}" for f in dns] + [f"kb:{i}" for i in articles]
    return Facts(errors=errors, dns=dns, items=items, labels=found)


def labels(session: TriageSession) -> list[str]:
    return facts(session).labels


def kind(session_labels: list[str]) -> set[str]:
    """The labels that say what kind of problem it is (see the module docstring)."""
    problem = {label for label in session_labels if not label.startswith("kb:")}
    return problem or set(session_labels)


def category(session_labels: list[str]) -> str:
    return session_labels[0] if session_labels else UNCATEGORISED
