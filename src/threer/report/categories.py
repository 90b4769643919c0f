"""What kind of problem a session was, from what it recorded: error codes, DNS findings, research articles.

A session's labels, in this order:
- `error:CODE` for each error code in its error text: enhanced SMTP status codes (`5.7.1`) and
  Windows/Outlook codes (`0x800CCC0E`, upper-cased);
- `dns:FINDING` for each `fail` or `warn` finding threer's DNS checks recorded (`dns:autodiscover.missing`),
  the `fail` ones first;
- `kb:ID` for each knowledge-base article and `case:ID` for each past case its Research steps name,
  the ones recorded as having worked first.

Its *kind* labels say what the problem was, from what is specific to it: its error codes and its `fail`
DNS findings; a session with neither is known by the articles and past cases its research named. `warn`
findings never make a kind: they are common to most domains (a missing autodiscover record, say) and
say nothing about the problem the customer had. A session's category is its first kind label (or
`uncategorised`). A resolved session solved the same kind of problem as an escalated one when its kind
labels include the escalated session's category, so every avoidable escalation is named by a category
the report's Categories table shows. See docs/explanation/report.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from threer.kb.cases import CASE_PREFIX
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


def dns_findings(session: TriageSession, severities: tuple[str, ...] = _DNS_SEVERITIES) -> list[str]:
    """The ids of the DNS findings of `severities` the session recorded, the most severe first, each once."""
    dns = session.answer("review.dns")
    if not isinstance(dns, a.DnsAnswer):
        return []
    ranked = sorted((p for p in dns.problems if p.get("severity") in severities),
                    key=lambda p: _DNS_SEVERITIES.index(p["severity"]))
    return list(dict.fromkeys(str(p.get("id")) for p in ranked if p.get("id")))


def research_items(session: TriageSession) -> list[str]:
    """Every article or past case id the Research steps say were tried or consulted, each once.

    The ones recorded as having worked come first: the fix is what the technician said the
    problem was, whatever order the others were tried in.
    """
    prior = session.answer("research.prior")
    kb = session.answer("research.kb")
    worked: list[str] = []
    tried: list[str] = []
    if isinstance(prior, a.PriorAnswer):
        worked += prior.worked
        tried += prior.tried
    if isinstance(kb, a.KbAnswer):
        worked += kb.worked
        tried += kb.articles
    items = worked + tried
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
    kind: list[str]  # the labels that say what the problem was, in label order (see the module docstring)

    @property
    def category(self) -> str:
        return self.kind[0] if self.kind else UNCATEGORISED


def _item_label(item: str) -> str:
    if item.lower().startswith(CASE_PREFIX):
        return CASE_PREFIX + item[len(CASE_PREFIX):].strip().upper()
    return f"kb:{item}"


def facts(session: TriageSession) -> Facts:
    errors, dns, items = session_errors(session), dns_findings(session), research_items(session)
    failing = set(dns_findings(session, ("fail",)))
    found = [f"error:{c}" for c in errors] + [f"dns:{f}" for f in dns]
    researched = list(dict.fromkeys(_item_label(i) for i in items))
    problem = [f"error:{c}" for c in errors] + [f"dns:{f}" for f in dns if f in failing]
    return Facts(errors=errors, dns=dns, items=items, labels=found + researched, kind=problem or researched)


def labels(session: TriageSession) -> list[str]:
    return facts(session).labels
