"""Parked domains: a domain that says it neither receives nor sends mail needs no mail set-up.

A domain is parked when its only MX is the null MX `0 .` (RFC 7505 §3: it accepts no mail) and its
SPF record is `v=spf1 -all` (RFC 7208 §5.1: no host may send as it). Such a domain needs no
autodiscover (nobody reads mail there), no DKIM key (nothing is signed; an empty `p=`, often on a
`*._domainkey` wildcard, is exactly the revoked key RFC 6376 §3.6.1 describes, so every guessed
selector finds the same one) and no report address at the domain itself (a null MX receives
nothing). The checks judge each record on its own; `parked_findings` then says, for the findings
that would ask a parked domain for mail set-up, that none is needed (`info`, no fix), and reports a
revoked key once for all the selectors that found one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threer.findings import Finding, Severity

# the findings that ask for mail set-up a parked domain does not need, and what each then says
_NOT_NEEDED = {
    "autodiscover.missing": "Neither autodiscover.{d} nor an _autodiscover._tcp SRV record exists; none is needed",
    "autodiscover.srv-missing": "{d} has no _autodiscover._tcp SRV record; none is needed",
    "dkim.missing": "{first}; none is needed",
    "tls-rpt.missing": "{d} has no TLS-RPT record; none is needed",
    "dmarc.no-reports": "The DMARC record of {d} asks for no aggregate reports (no rua=); none are needed (a report "
                        "address at {d} itself would receive nothing; one at another domain may watch for forged mail)",
}


def is_parked(domain: str, lookups: Mapping[tuple[str, str], Any]) -> bool:
    """Whether the run's look-ups (threer.checks._CountingResolver.seen) show a null MX and SPF -all."""
    name = domain.lower().rstrip(".")
    mx, txt = lookups.get((name, "MX")), lookups.get((name, "TXT"))
    if mx is None or txt is None or mx.is_error or txt.is_error:
        return False
    if [" ".join(r.split()) for r in mx.records] != ["0 ."]:
        return False
    spf = [r for r in txt.records if r.lower().split()[:1] == ["v=spf1"]]
    return len(spf) == 1 and spf[0].lower().split() == ["v=spf1", "-all"]


def _why(domain: str) -> str:
    return f"{domain} is parked: its null MX (RFC 7505) and SPF -all say it receives and sends no mail"


def parked_findings(domain: str, findings: list[Finding]) -> list[Finding]:
    """The findings of a parked domain: mail set-up it does not need is `info` with no fix, and the
    revoked DKIM keys one `info` finding naming every selector that found one."""
    out: list[Finding] = []
    revoked: list[Finding] = []
    for f in findings:
        if f.id == "dkim.revoked":
            revoked.append(f)
            continue
        note = _NOT_NEEDED.get(f.id)
        if note is None or f.severity is Severity.ERROR:
            out.append(f)
            continue
        first = f.message.split(". ")[0].rstrip(".")
        out.append(Finding(id=f.id, check=f.check, severity=Severity.INFO,
                           message=f"{note.format(d=domain, first=first)}; {_why(domain)}.",
                           observed=f.observed, expected=f.expected))
    if revoked:
        names = [_selector_of(f) for f in revoked]
        out.append(Finding(
            id="dkim.revoked", check="dkim", severity=Severity.INFO,
            message=f"The DKIM key{'s' if len(names) > 1 else ''} looked up ({', '.join(names)}) "
            f"{'are' if len(names) > 1 else 'is'} revoked (empty p=, RFC 6376 §3.6.1), as suits a domain that "
            f"signs no mail; {_why(domain)}.",
            observed={"selectors": names, "record": revoked[0].observed},
        ))
    return out


def _selector_of(f: Finding) -> str:
    # the message names the key's place: "The key at <selector>._domainkey.<domain> is revoked ..."
    words = f.message.split()
    place = words[3] if len(words) > 3 and words[:3] == ["The", "key", "at"] else ""
    return place.split("._domainkey.")[0] if "._domainkey." in place else place or "?"
