"""What the error text pasted at Intake tells the rest of the session: the analysis of a bounce or
of message headers (threer.analyze), kept with the intake.errors answer, and the parts other steps
use — research queries, the DKIM selector for the DNS step, the sending server for an SPF verdict."""

from __future__ import annotations

from typing import Any

from threer.triage.session import TriageSession

MAX_QUERIES = 4


def analyse_errors(text: str) -> dict[str, Any] | None:
    """The analysis stored with the answer, or None when the text holds nothing to read (no bounce,
    no headers, no code)."""
    if not text or not text.strip():
        return None
    from threer.analyze import analyze, summary_lines

    result = analyze(text)
    if result.kind == "text" and not result.codes:
        return None
    return {
        "kind": result.kind,
        "style": result.style,
        "status": result.status,
        "meaning": result.meaning,
        "permanent": result.permanent,
        "recipients": result.recipients[:20],
        "reporting_mta": result.reporting_mta,
        "remote_mta": result.remote_mta,
        "diagnostic": result.diagnostic,
        "codes": result.codes[:20],
        "dkim": [sig.model_dump() for sig in result.dkim[:5]],
        "sending_ip": result.sending_ip,
        "queries": result.queries,
        "summary": summary_lines(result),
    }


def _analysis(session: TriageSession) -> dict[str, Any] | None:
    errors = session.answer("intake.errors")
    return getattr(errors, "analysis", None) if errors else None


def analysis_queries(session: TriageSession) -> list[str]:
    analysis = _analysis(session)
    return list((analysis or {}).get("queries") or [])[:MAX_QUERIES]


def dkim_selectors(session: TriageSession, domain: str) -> list[str]:
    """Selectors of the DKIM signatures made for the customer's domain (or a subdomain of it)."""
    analysis = _analysis(session) or {}
    domain = domain.lower().rstrip(".")
    out: list[str] = []
    for sig in analysis.get("dkim") or []:
        d, s = (sig.get("d") or "").lower(), sig.get("s") or ""
        if s and (d == domain or d.endswith("." + domain)) and s not in out:
            out.append(s)
    return out


def sending_ip(session: TriageSession) -> str | None:
    return (_analysis(session) or {}).get("sending_ip")


def summary(session: TriageSession) -> list[str]:
    return list((_analysis(session) or {}).get("summary") or [])
