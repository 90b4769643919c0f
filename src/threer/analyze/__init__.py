"""The bounce and header analyser: read what a customer forwarded (a bounce, message headers, or
any text with error codes in it) and say what it means. Pure data in, `Analysis` out; never raises.

    from threer.analyze import analyze
    result = analyze(pasted_text)      # or bytes read from a file
    result.status, result.diagnostic, result.hops, result.queries
"""

from __future__ import annotations

import re

from threer.analyze import codes as c
from threer.analyze.decode import decode
from threer.analyze.dsn import DsnRecipient, DsnReport, parse_report, split_mime
from threer.analyze.headers import (HeaderBlock, alignment, block_from_message, find_header_blocks, read_auth,
                                    read_hops, sending_ip)
from threer.analyze.models import JSON_VERSION, Analysis, RecipientStatus
from threer.analyze.ndr import NdrFields, is_delay_notice, looks_like_bounce, read_ndr
from threer.analyze.queries import research_queries
from threer.analyze.summary import summary_lines, summary_text

__all__ = ["Analysis", "JSON_VERSION", "analyze", "summary_lines", "summary_text"]

_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery (system|subsystem)|microsoftexchange", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(r"undeliver|delivery status|returned mail|failure notice|delivery (failure|has failed)|"
                             r"not delivered|delayed", re.IGNORECASE)


def analyze(data: bytes | str, *, size: int | None = None, over: bool = False) -> Analysis:
    """Read pasted text or file bytes. Anything is data: a partial result, never an exception.

    `size`: the whole input's size when `data` is only its start (`over`: it was longer still)."""
    try:
        return _analyze(data, size=size, over=over)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for text nobody foresaw
        try:
            found = c.find_codes(data if isinstance(data, str) else data.decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001
            found = []
        result = Analysis(kind="text", codes=found,
                          unreadable=[f"the text could not be analysed ({type(exc).__name__})"])
        result.queries = research_queries(result)
        return result


MAX_ATTACHED_DEPTH = 3  # a forward of a forward of a bounce; deeper than that is not a help desk's mail


def _analyze(data: bytes | str, *, size: int | None = None, over: bool = False, depth: int = 0) -> Analysis:
    decoded = decode(data, size=size, over=over)
    text = decoded.text
    unreadable = list(decoded.unreadable)
    mime = split_mime(text)
    if mime is not None and mime.attached and depth < MAX_ATTACHED_DEPTH and not mime.report.strip() and (
            read_ndr(mime.text) is None):
        # a bounce forwarded as an attachment: the attached message is what the customer means
        for attached in mime.attached[:5]:
            inner = _analyze(attached, depth=depth + 1)
            if inner.kind == "bounce":
                inner.attached = True
                inner.unreadable = list(dict.fromkeys(unreadable + inner.unreadable))
                return inner
    own: HeaderBlock | None = None
    original: HeaderBlock | None = None
    if mime is not None:
        unreadable += mime.unreadable
        human = mime.text or ""
        report = parse_report(mime.report) if mime.report.strip() else None
        report = report or parse_report(human)
        own = block_from_message(mime.headers)
        if mime.original:
            original = block_from_message(mime.original)
    else:
        human = text
        report = parse_report(text)
    ndr = read_ndr(human)
    blocks = find_header_blocks(human)
    if mime is None and blocks and _is_bounce_block(blocks[0]) and blocks[0].first_line <= 3:
        own = blocks.pop(0)
    if original is None and blocks:
        original = max(blocks, key=lambda b: (len(b.get_all("received")), len(b.items)))

    failed = _failed_recipients(report)
    if not failed and ndr is not None and ndr.per_recipient:  # a bounce's text listing each with its own reply
        failed = [DsnRecipient(final_recipient=r.address, remote_mta=r.remote_mta, diagnostic=r.diagnostic)
                  for r in ndr.per_recipient]
    is_bounce = bool(report and (failed or report.reporting_mta)) or ndr is not None or (
        looks_like_bounce(human) and (enhanced := c.first_enhanced(human)) is not None and enhanced[0] in "45")
    if own is not None and not is_bounce and (_is_bounce_block(own) and c.first_enhanced(human)):
        is_bounce = True
    block = original or own
    kind = "bounce" if is_bounce else ("headers" if block and _has_mail_headers(block) else "text")
    result = Analysis(kind=kind)  # type: ignore[arg-type]
    result.codes = c.find_codes(human + "\n" + (mime.report if mime else ""))

    if kind == "bounce":
        _fill_bounce(result, report, failed, ndr, human)
        headers = original
        result.original_headers = original is not None
    else:
        headers = original or own
    if headers is not None:
        result.hops, received, notes = read_hops(headers)
        unreadable += notes
        result.auth, result.dkim, notes = read_auth(headers)
        unreadable += notes
        result.sending_ip = sending_ip(headers, received)
        result.alignment = alignment(headers)
    result.unreadable = list(dict.fromkeys(unreadable))
    result.queries = research_queries(result)
    return result


def _fill_bounce(result: Analysis, report: DsnReport | None, failed: list[DsnRecipient], ndr: NdrFields | None,
                 human: str) -> None:
    wording = ndr.permanent if ndr is not None else None
    delay = ndr.delay_notice if ndr is not None else is_delay_notice(human)
    details = [_recipient_status(r, wording, ndr.style if ndr else None, delay) for r in failed]
    # the worst first (RFC 3464 §2.3: each recipient has its own status): given up on before still tried
    order = sorted(range(len(failed)), key=lambda i: (_rank(details[i]), i))
    failed = [failed[i] for i in order]
    details = [details[i] for i in order]
    first = failed[0] if failed else None
    result.style = ndr.style if ndr is not None else ("dsn" if report else None)
    result.diagnostic = (first.diagnostic if first else None) or (ndr.diagnostic if ndr else None)
    status = first.status if first and first.status and c.ENHANCED.fullmatch(first.status) else None
    status = status or c.first_enhanced(result.diagnostic or "") or c.first_enhanced(human)
    result.status = _plain(status)
    result.smtp_code = c.first_basic(result.diagnostic or "") or c.first_basic(human)
    result.permanent = c.is_final(first.action if first else None, result.status, result.smtp_code, wording,
                                  delay_notice=delay)
    result.meaning = c.describe(result.status, result.style, final=result.permanent) if result.status else None
    recipients = [r.final_recipient or r.original_recipient for r in failed]
    recipients += ndr.recipients if ndr else []
    seen: list[str] = []
    for r in recipients:
        if r and r.lower() not in (s.lower() for s in seen):
            seen.append(r)
    result.recipients = seen[:100]
    result.reporting_mta = (report.reporting_mta if report else None) or (ndr.reporting_mta if ndr else None)
    result.remote_mta = (first.remote_mta if first else None) or (ndr.remote_mta if ndr else None)
    if report is not None or len(failed) > 1:
        result.per_recipient = details[:100]


def _plain(status: str | None) -> str | None:
    return ".".join(str(int(p)) for p in status.split(".")) if status else None


def _recipient_status(r: DsnRecipient, wording: bool | None, style: str | None, delay: bool) -> RecipientStatus:
    status = _plain(r.status if r.status and c.ENHANCED.fullmatch(r.status) else c.first_enhanced(r.diagnostic or ""))
    smtp = c.first_basic(r.diagnostic or "")
    final = c.is_final(r.action, status, smtp, wording, delay_notice=delay)
    return RecipientStatus(recipient=r.final_recipient or r.original_recipient, action=r.action, status=status,
                           meaning=c.describe(status, style, final=final) if status else None, permanent=final,
                           smtp_code=smtp, remote_mta=r.remote_mta, diagnostic=r.diagnostic)


def _rank(detail: RecipientStatus) -> int:
    """0 given up on, 1 still being tried, 2 not known, 3 not a failure (delivered, relayed)."""
    if detail.action in {"delivered", "relayed", "expanded"}:
        return 3
    return {True: 0, False: 1}.get(detail.permanent, 2)  # type: ignore[arg-type]


def _failed_recipients(report: DsnReport | None) -> list[DsnRecipient]:
    if report is None:
        return []
    bad = [r for r in report.recipients if (r.action or "") in {"failed", "delayed"} or (r.status or "")[:1] in {"4", "5"}]
    return bad or [r for r in report.recipients if r.final_recipient]


def _is_bounce_block(block: HeaderBlock) -> bool:
    ctype = (block.get("content-type") or "").lower()
    return ("multipart/report" in ctype or bool(_BOUNCE_SENDER.search(block.get("from") or ""))
            or bool(_BOUNCE_SUBJECT.search(block.get("subject") or "")))


def _has_mail_headers(block: HeaderBlock) -> bool:
    names = {k.lower() for k, _ in block.items}
    return bool(names & {"received", "authentication-results", "dkim-signature", "return-path", "received-spf"}) or (
        {"from", "date"} <= names)
