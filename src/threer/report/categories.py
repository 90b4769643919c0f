"""What kind of problem a session was, from what it recorded: error codes, DNS findings, research articles.

A session's labels, in this order:
- `error:CODE` for each error code in its error text: enhanced SMTP status codes (`5.7.1`) and
  Windows/Outlook codes (`0x800CCC0E`, upper-cased);
- `dns:FINDING` for each `fail` or `warn` finding threer's DNS checks recorded (`dns:autodiscover.missing`),
  the `fail` ones first;
- `kb:ID` for each knowledge-base article and `case:ID` for each past case its Research steps name,
  the ones recorded as having worked first.

Its *kind* labels say what the problem was, from what is specific to it: its error codes and the `fail`
DNS findings the session points at (an error code of that check's area, or the check named in what the
call was about: the issue, the outcome's summary or resolution); a session with neither is known by the
articles and past cases its research named. `warn` findings never make a kind: they are common to most
domains (a missing autodiscover record, say) and say nothing about the problem the customer had. A
`fail` finding nothing points at is a standing fault of the customer's zone, there whatever the call
was about (a broken DMARC record on a call about a full mailbox): a label, not a kind. A session's category is its first kind label (or
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


# a check's area (its finding ids start with it) -> the words that name it in what a technician types
AREA_WORDS: dict[str, tuple[str, ...]] = {
    "spf": ("spf", "sender policy framework"),
    "dkim": ("dkim", "domainkeys"),
    "dmarc": ("dmarc",),
    "mx": ("mx", "mail exchanger", "null mx"),
    "autodiscover": ("autodiscover", "auto-discover", "autodiscovery"),
    "mta-sts": ("mta-sts", "mta sts"),
    "tls-rpt": ("tls-rpt", "tlsrpt", "tls report", "tls reports"),
    "dane": ("dane", "tlsa"),
    "dnssec": ("dnssec",),
    "blocklist": ("blocklist", "blocklisted", "blacklist", "blacklisted", "block list", "spam list", "dnsbl",
                  "rbl", "spamhaus"),
    "rdns": ("rdns", "reverse dns", "ptr"),
    "ns": ("nameserver", "nameservers", "name server", "name servers", "delegation"),
    "smtp": ("smtp", "starttls"),
    "owa": ("owa", "outlook web", "outlook on the web", "webmail"),
}
# enhanced codes that name a check's area (RFC 7372 §3, RFC 7505 §4.2; Exchange Online's DMARC 5.7.509)
CODE_AREAS: dict[str, tuple[str, ...]] = {
    "5.7.20": ("dkim",), "5.7.21": ("dkim",), "5.7.22": ("dkim",),
    "5.7.23": ("spf",), "5.7.24": ("spf",), "5.7.25": ("rdns",),
    "5.7.26": ("spf", "dkim", "dmarc"), "5.7.509": ("dmarc",), "5.7.515": ("spf", "dkim", "dmarc"),
    "5.7.27": ("mx",), "5.1.10": ("mx",),
    "4.4.3": ("mx", "ns", "dnssec"), "5.4.4": ("mx", "ns", "dnssec"), "5.1.2": ("mx", "ns"),
}


def finding_area(finding_id: str) -> str:
    """`spf-ip.permerror` -> `spf`, `mta-sts.txt-invalid` -> `mta-sts`."""
    area = finding_id.split(".", 1)[0].lower()
    return "spf" if area == "spf-ip" else area


def _about_text(session: TriageSession) -> str:
    """What the call was about in the technician's words: the issue, the outcome's summary and resolution
    (not the DNS step's note, which lists what the review found, related or not)."""
    parts: list[str] = []
    issue = session.answer("intake.issue")
    if isinstance(issue, a.IssueAnswer):
        parts.append(issue.description)
    outcome = session.answer("outcome")
    if isinstance(outcome, a.OutcomeAnswer):
        parts += [outcome.summary or "", outcome.resolution or ""]
    return " ".join(parts).lower()


def pointed_at(finding_id: str, errors: list[str], about: str) -> bool:
    """Whether a session points at this DNS finding: an error code of its area, or its check named."""
    area = finding_area(finding_id)
    if any(area in CODE_AREAS.get(code, ()) for code in errors):
        return True
    return any(re.search(r"(?<![a-z0-9])" + re.escape(word) + r"(?![a-z0-9])", about)
               for word in AREA_WORDS.get(area, (area,)))


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


def solved_with(session: TriageSession, items: list[str]) -> list[str]:
    """Of a session's research items, those it says solved the problem: marked as the fix (`worked`), or
    named in the outcome's resolution. One only tried or consulted is no proof: the session may well say
    it did not help."""
    marked: set[str] = set()
    for step in ("research.prior", "research.kb"):
        answer = session.answer(step)
        if isinstance(answer, (a.PriorAnswer, a.KbAnswer)):
            marked.update(i.strip().lower() for i in answer.worked)
    outcome = session.answer("outcome")
    resolution = outcome.resolution.lower() if isinstance(outcome, a.OutcomeAnswer) else ""
    return [i for i in items if i.lower() in marked
            or re.search(r"(?<![\w-])" + re.escape(i.lower()) + r"(?![\w-])", resolution)]


def session_errors(session: TriageSession) -> list[str]:
    errors = session.answer("intake.errors")
    return error_codes(errors.messages) if isinstance(errors, a.ErrorsAnswer) else []


@dataclass(frozen=True)
class Facts:
    """What a session recorded that the report uses, read once (each read validates an answer)."""

    errors: list[str]
    dns: list[str]
    items: list[str]  # articles and past cases its Research steps name
    solved: list[str]  # of those, the ones it says solved the problem (solved_with)
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
    about = _about_text(session)
    # a fail finding is the problem only when the session points at it; else a standing fault of the zone
    failing = {f for f in dns_findings(session, ("fail",)) if pointed_at(f, errors, about)}
    found = [f"error:{c}" for c in errors] + [f"dns:{f}" for f in dns]
    researched = list(dict.fromkeys(_item_label(i) for i in items))
    problem = [f"error:{c}" for c in errors] + [f"dns:{f}" for f in dns if f in failing]
    return Facts(errors=errors, dns=dns, items=items, solved=solved_with(session, items), labels=found + researched,
                 kind=problem or researched)


def labels(session: TriageSession) -> list[str]:
    return facts(session).labels
