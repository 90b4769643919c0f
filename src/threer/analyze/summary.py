"""A short account of an analysis in plain sentences, for the session, the ticket and the terminal."""

from __future__ import annotations

from threer.analyze.models import Analysis

STYLE_NAMES = {
    "dsn": "a standard delivery report (RFC 3464)",
    "exchange": "Exchange Online / Microsoft 365",
    "gmail": "Gmail",
    "postfix": "Postfix",
    "exim": "Exim",
    "sendmail": "Sendmail",
    "qmail": "qmail",
}
MAX_DIAGNOSTIC = 300


def duration(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 120:
        return f"{sign}{s} s"
    if s < 7200:
        return f"{sign}{s // 60} min"
    if s < 172800:
        return f"{sign}{s // 3600} h {s % 3600 // 60} min"
    return f"{sign}{s // 86400} days"


def _outcome(final: bool, code: str | None) -> str:
    if not final:
        return "delayed, still being tried (a temporary failure)"
    return "failed after retrying (given up, to be sent again)" if (code or "")[:1] == "4" else "permanent"


def summary_lines(analysis: Analysis) -> list[str]:
    """A few lines, each a sentence; no markup. Empty for text with nothing found in it."""
    lines: list[str] = []
    if analysis.kind == "bounce":
        who = STYLE_NAMES.get(analysis.style or "", "")
        lines.append("A bounce" + (f" from {who}" if who else "") + (
            ": " + _outcome(analysis.permanent, analysis.status or analysis.smtp_code)
            if analysis.permanent is not None else "") + ".")
        if analysis.attached:
            lines.append("It was read from the message attached to the one given (a bounce forwarded as an attachment).")
        if analysis.status:
            lines.append(f"Status {analysis.status}: {analysis.meaning or 'an unlisted code'}.")
        elif analysis.smtp_code:
            lines.append(f"SMTP reply {analysis.smtp_code}.")
        if analysis.recipients:
            lines.append(("Delayed recipient" if analysis.permanent is False else "Failed recipient") + ("s" if len(analysis.recipients) > 1 else "") + ": "
                         + ", ".join(analysis.recipients[:5]) + (" …" if len(analysis.recipients) > 5 else "") + ".")
        servers = []
        if analysis.reporting_mta:
            servers.append(f"reported by {analysis.reporting_mta}")
        if analysis.remote_mta:
            servers.append(f"remote server {analysis.remote_mta}")
        if servers:
            text = ", ".join(servers)
            lines.append(text[0].upper() + text[1:] + ".")
        if analysis.diagnostic:
            diag = analysis.diagnostic
            if len(diag) > MAX_DIAGNOSTIC:
                diag = diag[:MAX_DIAGNOSTIC] + " …"
            lines.append(f"The remote server said: {diag}")
        others = analysis.per_recipient[1:6] if len(analysis.per_recipient) > 1 else []
        for r in others:  # the first is the one above; the rest each in one sentence
            said = (r.diagnostic or "")[:MAX_DIAGNOSTIC]
            lines.append(f"For {r.recipient or 'another recipient'}: "
                         + (_outcome(r.permanent, r.status) if r.permanent is not None else (r.action or "no outcome given"))
                         + (f", {r.status}" if r.status else "") + (f" ({said})" if said else "") + ".")
    elif analysis.kind == "text" and analysis.codes:
        lines.append("Codes found: " + ", ".join(analysis.codes[:10]) + ".")
    if analysis.hops:
        slow = max((h for h in analysis.hops if h.delay_s is not None), key=lambda h: h.delay_s or 0, default=None)
        total = sum(h.delay_s for h in analysis.hops if h.delay_s is not None and h.delay_s > 0)
        text = f"{len(analysis.hops)} Received hop{'s' if len(analysis.hops) != 1 else ''}"
        if slow is not None and slow.delay_s and slow.delay_s > 0:
            text += f", {duration(total)} in all; the longest wait was {duration(slow.delay_s)} before {slow.by or 'a server'}"
        lines.append(("Original message: " if analysis.kind == "bounce" else "") + text + ".")
    if analysis.auth:
        lines.append("Authentication: " + ", ".join(
            f"{v.method} {v.result}" + (f" ({v.domain})" if v.domain else "") for v in analysis.auth[:8]) + ".")
    if analysis.dkim:
        lines.append("DKIM signature: " + ", ".join(f"d={d.d} s={d.s}" for d in analysis.dkim[:4]) + ".")
    if analysis.sending_ip:
        lines.append(f"Sent from {analysis.sending_ip}.")
    if analysis.alignment and analysis.alignment.note:
        lines.append(analysis.alignment.note[0].upper() + analysis.alignment.note[1:] + ".")
    if analysis.unreadable:
        lines.append("Not read: " + "; ".join(analysis.unreadable) + ".")
    return lines


def summary_text(analysis: Analysis) -> str:
    return " ".join(summary_lines(analysis))
