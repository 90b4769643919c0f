"""Delivery status notifications (RFC 3464): the machine-readable report, whether it arrives as a
whole MIME message (multipart/report) or as its field block pasted on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_string, policy
from email.message import EmailMessage, Message

from threer.analyze.decode import decode, lenient

DSN_FIELDS = ("reporting-mta", "final-recipient", "original-recipient", "action", "status", "remote-mta",
              "diagnostic-code", "arrival-date", "last-attempt-date", "will-retry-until")
_FIELD = re.compile(r"^(" + "|".join(DSN_FIELDS) + r")[ \t]*:[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)
MAX_PARTS = 200


@dataclass
class Mime:
    """A pasted message taken apart: its own headers, the readable text, the report fields, the original."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""  # the human-readable parts, decoded
    report: str = ""  # the message/delivery-status part, as text
    original: list[tuple[str, str]] = field(default_factory=list)  # headers of the returned message
    # whole messages attached outside a report (message/rfc822): a bounce forwarded as an attachment
    attached: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    damaged: bool = False


@dataclass
class DsnRecipient:
    final_recipient: str | None = None
    original_recipient: str | None = None
    action: str | None = None
    status: str | None = None
    remote_mta: str | None = None
    diagnostic: str | None = None


@dataclass
class DsnReport:
    reporting_mta: str | None = None
    recipients: list[DsnRecipient] = field(default_factory=list)


def split_mime(text: str) -> Mime | None:
    """Take apart a pasted whole message, or None when the text is not one (no MIME headers at the top)."""
    head = text.lstrip("\n")[:8000]
    if not re.search(r"^content-type[ \t]*:", head.split("\n\n", 1)[0], re.IGNORECASE | re.MULTILINE):
        return None
    out = Mime()
    try:
        msg = message_from_string(_mark_encoded_messages(text.lstrip("\n")), policy=policy.default)
        out.headers = [(k, str(v)) for k, v in msg.raw_items()]
        _walk(msg, out, depth=0, in_report=False)
        if out.damaged:
            out.unreadable.append("the MIME structure is damaged; what could be read is shown")
    except Exception as exc:  # noqa: BLE001 - the email package on hostile input; the rest is read as text
        out.unreadable.append(f"the MIME structure could not be read ({type(exc).__name__})")
        out.text = text
    return out


def _walk(part: EmailMessage, out: Mime, *, depth: int, in_report: bool) -> None:
    if depth > 8:
        out.unreadable.append("parts nested too deeply were skipped")
        return
    ctype = part.get_content_type()
    if (ctype == "message/rfc822" and part.is_multipart()) or ctype == _ENCODED_MESSAGE:
        inner = _attached_message(part)
        if inner is None:
            out.damaged = True
            return
        if not out.original:
            out.original = [(k, str(v)) for k, v in inner.raw_items()]
        if not in_report:  # a report's message/rfc822 is the returned original; elsewhere it may be the bounce
            out.attached.append(inner.as_string())
        return
    out.damaged = out.damaged or bool(part.defects)
    if part.is_multipart() and ctype != "message/delivery-status":
        payload = part.get_payload()
        for i, sub in enumerate(payload if isinstance(payload, list) else []):
            if i >= MAX_PARTS:
                out.unreadable.append(f"only the first {MAX_PARTS} MIME parts were read")
                break
            _walk(sub, out, depth=depth + 1, in_report=in_report or ctype == "multipart/report")
        return
    if ctype == "message/delivery-status":
        out.report += _report_text(part) + "\n"
        return
    if ctype in {"text/rfc822-headers", "message/rfc822-headers"} or (ctype == "message/rfc822" and not out.original):
        from email.parser import HeaderParser

        body = _content(part, out)
        if body:
            out.original = [(k, str(v)) for k, v in HeaderParser(policy=policy.default).parsestr(body).raw_items()]
        return
    if ctype.startswith("text/"):
        body = _content(part, out)
        if ctype == "text/html":
            body = _html_text(body)
        out.text += body + "\n"


# RFC 2046 §5.2.1 allows a message/rfc822 part no encoding but 7bit, 8bit and binary, yet mail clients
# send a forwarded message base64- or quoted-printable-encoded. The email package would parse the
# encoded text as the message, so such a part is marked as an opaque one, decoded, then parsed.
_ENCODED_MESSAGE = "application/x-encoded-message-rfc822"
_MESSAGE_TYPE = re.compile(r"^(content-type[ \t]*:[ \t]*)message/rfc822\b", re.IGNORECASE | re.MULTILINE)
_ENCODING = re.compile(r"^content-transfer-encoding[ \t]*:[ \t]*(base64|quoted-printable)\b",
                       re.IGNORECASE | re.MULTILINE)


def _mark_encoded_messages(text: str) -> str:
    out: list[str] = []
    at = 0
    for m in _MESSAGE_TYPE.finditer(text):
        begin = max(text.rfind("\n\n", 0, m.start()), text.rfind("\n--", 0, m.start()), 0)
        stop = text.find("\n\n", m.end())
        if _ENCODING.search(text[begin: stop if stop >= 0 else len(text)]):
            out += [text[at: m.start()], m.group(1), _ENCODED_MESSAGE]
            at = m.end()
    return "".join(out) + text[at:] if out else text


def _attached_message(part: EmailMessage) -> Message | None:
    """The message inside a message/rfc822 part, or an encoded one marked by _mark_encoded_messages."""
    if part.get_content_type() == _ENCODED_MESSAGE:
        try:
            raw = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001 - a broken transfer encoding
            return None
        return message_from_string(decode(raw).text, policy=policy.default) if isinstance(raw, bytes) and raw else None
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    return inner if isinstance(inner, Message) else None


def _content(part: EmailMessage, out: Mime) -> str:
    """A text part's text, losing nothing: the email package reads a part without a declared charset
    as ASCII and replaces every 8-bit byte, so the part is decoded here (decode.lenient)."""
    encoding = str(part.get("content-transfer-encoding") or "").strip().lower()
    if encoding not in {"base64", "quoted-printable"}:
        payload = part.get_payload()  # the input was decoded to text already, every byte in it
        return payload if isinstance(payload, str) else ""
    try:
        raw = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken transfer encoding
        raw = None
    if not isinstance(raw, bytes):
        out.unreadable.append(f"a {part.get_content_type()} part could not be decoded cleanly")
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_param("charset")
    text, guessed = lenient(raw, charset if isinstance(charset, str) else None)
    if guessed:
        out.unreadable.append(f"a {part.get_content_type()} part was not UTF-8 nor its declared charset and "
                              "was read as Windows-1252")
    return text


def _report_text(part: EmailMessage) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = []
        for block in payload:
            if not isinstance(block, Message):  # the parser makes each status block a Message
                continue
            blocks.append("\n".join(f"{k}: {v}" for k, v in block.raw_items()))
        return "\n\n".join(blocks)
    return str(payload)


def _html_text(html: str) -> str:
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    html = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>", "\n", html)
    text = re.sub(r"<[^>]*>", " ", html)
    import html as _html

    return _html.unescape(text)


def parse_report(text: str) -> DsnReport | None:
    """The RFC 3464 fields found in `text` (a delivery-status part, or the same pasted), or None."""
    fields = [(m.group(1).lower(), _unfold(text, m)) for m in _FIELD.finditer(text)]
    if not any(k in {"final-recipient", "status", "reporting-mta"} for k, _ in fields):
        return None
    report = DsnReport()
    current: DsnRecipient | None = None
    for key, value in fields:
        if key == "reporting-mta" and report.reporting_mta is None:
            report.reporting_mta = _host(value)
            continue
        if key in {"final-recipient", "original-recipient"} and (current is None or getattr(current, key.replace("-", "_"))):
            current = DsnRecipient()
            report.recipients.append(current)
        if current is None:
            if key in {"arrival-date", "last-attempt-date", "will-retry-until"}:
                continue
            current = DsnRecipient()
            report.recipients.append(current)
        if key == "final-recipient":
            current.final_recipient = _type_value(value)
        elif key == "original-recipient":
            current.original_recipient = _type_value(value)
        elif key == "action":
            current.action = value.strip().lower().split()[0] if value.strip() else None
        elif key == "status":
            current.status = value.strip().split()[0] if value.strip() else None
        elif key == "remote-mta":
            current.remote_mta = _host(value)
        elif key == "diagnostic-code":
            current.diagnostic = _type_value(value)
    return report


def _unfold(text: str, m: re.Match[str]) -> str:
    """A field's value with its folded continuation lines."""
    value = m.group(2)
    rest = text[m.end():].split("\n")[1:]
    for line in rest:
        if line[:1] in {" ", "\t"} and line.strip():
            value += " " + line.strip()
        else:
            break
    return value.strip()


def _host(value: str) -> str | None:
    """`dns; mx.example.net. (198.51.100.7, the server for …)` -> `mx.example.net`."""
    words = _type_value(value).split()
    return words[0].rstrip(".") if words else None


def _type_value(value: str) -> str:
    """`dns; mx.example.net` -> `mx.example.net`; `rfc822; a@b` -> `a@b`; `smtp; 550 …` -> `550 …`."""
    kind, sep, rest = value.partition(";")
    if sep and re.fullmatch(r"[\w-]+", kind.strip()):
        value = rest
    return value.strip().strip("<>") if "@" in value and " " not in value.strip() else value.strip()
