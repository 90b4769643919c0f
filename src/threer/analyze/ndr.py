"""The human-written bounces (non-delivery reports) of the common mail servers: which one wrote it,
and the recipient, servers and diagnostic each puts in its own place.

Each reader takes the bounce's text and returns what it found; none of them raises."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

ADDRESS = r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"
_ADDRESS = re.compile(ADDRESS)
_HOST_IP = re.compile(r"([\w.-]+\.[A-Za-z]{2,}|[\w-]+)\.?\s*\[([0-9A-Fa-f:.]+)\]")


@dataclass
class NdrRecipient:
    """One recipient of a bounce that lists several, each with its own server and reply."""

    address: str
    remote_mta: str | None = None
    diagnostic: str | None = None


@dataclass
class NdrFields:
    style: str
    recipients: list[str] = field(default_factory=list)
    reporting_mta: str | None = None
    remote_mta: str | None = None
    diagnostic: str | None = None
    permanent: bool | None = None  # what the text says, when it says
    delay_notice: bool = False  # the text says in so many words that delivery goes on (a delay warning)
    per_recipient: list[NdrRecipient] = field(default_factory=list)  # when it lists two or more, each on its own


def _first(pattern: str, text: str, flags: int = re.IGNORECASE | re.MULTILINE) -> str | None:
    m = re.search(pattern, text, flags)
    return m.group(1).strip() if m else None


def _folded(text: str, start: int) -> str:
    """From `start` to the end of its paragraph, with the line breaks of wrapping joined."""
    para = re.split(r"\n[ \t]*\n", text[start:], maxsplit=1)[0]
    return " ".join(para.split())


def _addresses(text: str) -> list[str]:
    out: list[str] = []
    for a in _ADDRESS.findall(text):
        a = a.strip("'`").rstrip(".")
        if a.lower() not in (x.lower() for x in out):
            out.append(a)
    return out


# a delay warning says so in so many words; the codes it quotes are the remote's last reply, not its end
_DELAY_NOTICE = re.compile(r"warning only|do not need to resend|has not yet been delivered|hasn't been delivered yet|"
                           r"delivery (is |has been )?delayed|will (be retried|keep trying|retry)|"
                           r"will continue to be attempted|still (being )?(re)?tr(y|ied)|"
                           # German: Exchange's "noch nicht zugestellt … weiterhin versucht", "ist verzögert"
                           r"noch nicht zugestellt|weiterhin versucht|(ist|wird) verzögert|zustellung verzögert")


# where a bounce's own words end and the returned message begins: its text ("your delivery is delayed,
# we will retry on Friday") says nothing of this delivery
_RETURNED = re.compile(r"^[ \t]*-+ ?This is a copy of the message|^[ \t]*-+ ?Below this line is a copy of the message|"
                       r"^[ \t]*(?:Original message headers|Ursprüngliche Nachrichtenkopfzeilen):|"
                       r"^[ \t]*-+ ?(?:Original message|Returned mail follows|Message header follows)",
                       re.IGNORECASE | re.MULTILINE)


def notice_text(text: str) -> str:
    """The bounce's own text, without the returned message that may follow it."""
    cut = _RETURNED.search(text)
    return text[: cut.start()] if cut else text


def is_delay_notice(text: str) -> bool:
    return bool(_DELAY_NOTICE.search(notice_text(text).lower()))


def _permanent_words(text: str) -> bool | None:
    """What the wording says of the end of delivery: a delay warning first (Postfix's "could not be
    delivered for 4.0 hours. It will be retried" is one), then a final notice, then weaker hints."""
    low = notice_text(text).lower()
    if _DELAY_NOTICE.search(low):
        return False
    if re.search(r"permanent (fatal )?error|i've given up|given up|delivery has failed|couldn't be delivered|"
                 r"wasn't delivered|could not be delivered|undeliverable|retry timeout exceeded|"
                 r"nicht übermittelt werden|ist fehlgeschlagen|nicht zugestellt werden|unzustellbar", low):
        return True
    if re.search(r"temporary (failure|error)|transient non-fatal|deferred", low):
        return False
    return None


# English, and German ("Remoteserver hat '…' zurückgegeben", "Der Server bei X hat '…' zurückgegeben")
_EXCHANGE_REPLY = re.compile(r"(?:\bRemote server|\bServer at\b[^\n']*?)\s+returned\s+'(.*?)'[ \t]*(?=\n|$)|"
                             r"(?:\bRemoteserver|\bDer Server bei\b[^\n']*?)\s+hat\s+'(.*?)'\s+zurückgegeben\.?[ \t]*"
                             r"(?=\n|$)",
                             re.IGNORECASE | re.DOTALL)
_EXCHANGE_OPEN_REPLY = re.compile(r"(?:\bRemote server|\bServer at\b[^\n']*?)\s+returned\s+'([^']*)'?|"
                                  r"(?:\bRemoteserver|\bDer Server bei\b[^\n']*?)\s+hat\s+'([^']*)'?", re.IGNORECASE)
# a recipient on a line of its own, maybe with its display name: `ana@x.example`, `Ana Ruiz <ana@x.example>`
_LONE_ADDRESS = re.compile(r"[ \t]*(?:[^<>()@\n]*[<(])?(" + ADDRESS + r")[>)]?[ \t]*")
_LONE_HOST = re.compile(r"[ \t]*([\w-]+(?:\.[\w-]+)+)\.?[ \t]*(?:\(([0-9A-Fa-f:.]+)\))?[ \t]*")


def _exchange_replies(text: str) -> list[str]:
    """Every `Remote server returned '…'` / `Server at X returned '…'` reply in `text`, in order."""
    found = [" ".join((m.group(1) or m.group(2) or "").split()) for m in _EXCHANGE_REPLY.finditer(text)]
    if not found:
        m = _EXCHANGE_OPEN_REPLY.search(text)
        found = [" ".join((m.group(1) or m.group(2) or "").split())] if m else []
    return [r for r in found if r]


_DIAGNOSTIC_HEADING = r"(?:Diagnostic information for administrators|Diagnoseinformationen für Administratoren):"


def _exchange_hash_reply(line: str) -> str | None:
    """Exchange 2007/2010 write the reply between hashes: `#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##`
    or `#< #5.1.1 smtp;550 5.1.1 User unknown> #SMTP#`."""
    m = re.fullmatch(r"[ \t]*#<?[ \t]*(.*?)>?[ \t]*#(?:SMTP)?#[ \t]*", line, re.IGNORECASE)
    if not m:
        return None
    reply = m.group(1).lstrip("#").strip()
    said = re.search(r"\bsmtp;\s*(.*)", reply, re.IGNORECASE)
    return (said.group(1) if said else reply).strip() or None


def _exchange_blocks(section: str) -> list[NdrRecipient]:
    """The diagnostic section lists each recipient on its own line with its server's replies under it.
    A delay notice gives two: its own "400 4.4.7 Message delayed", then the remote's last reply."""
    out: list[NdrRecipient] = []
    lines: list[str] = []

    def close() -> None:
        if out:
            replies = _exchange_replies("\n".join(lines)) or [r for line in lines if (r := _exchange_hash_reply(line))]
            out[-1].diagnostic = replies[-1] if replies else None

    for line in section.split("\n"):
        lone = _LONE_ADDRESS.fullmatch(line)
        if lone:
            close()
            out.append(NdrRecipient(lone.group(1)))
            lines = []
            continue
        if out:
            lines.append(line)
            host = _LONE_HOST.fullmatch(line)
            server = re.search(r"\b(?:Server at|Server bei)\s+([\w.-]+\.[A-Za-z][\w-]*)", line, re.IGNORECASE)
            if out[-1].remote_mta is None and (host or server):
                out[-1].remote_mta = (host.group(1) if host else server.group(1) if server else None)
    close()
    return out


def _exchange(text: str) -> NdrFields:
    f = NdrFields("exchange")
    f.reporting_mta = _first(r"^\s*(?:Generating server|Generierender Server):\s*(\S+)", text)
    f.remote_mta = _first(r"^\s*(?:Receiving server|Empfangender Server):\s*([^\s(]+)", text)
    end = re.search(r"^\s*(?:Original message headers|Ursprüngliche Nachrichtenkopfzeilen):", text,
                    re.IGNORECASE | re.MULTILINE)
    body = text[: end.start()] if end else text
    diag_at = re.search(_DIAGNOSTIC_HEADING, body, re.IGNORECASE)
    if diag_at:
        f.per_recipient = _exchange_blocks(body[diag_at.end():])
        f.recipients = _addresses(" ".join(r.address for r in f.per_recipient))
    first = f.per_recipient[0] if f.per_recipient else None
    replies = _exchange_replies(body)
    f.diagnostic = (first.diagnostic if first else None) or (replies[-1] if replies else None)
    f.remote_mta = (first.remote_mta if first else None) or f.remote_mta
    if not f.recipients:  # the older layout: the addresses under this heading, each on its own line
        heading = re.search(r"(?:Delivery (?:has failed|is delayed) to these recipients or groups|Die Zustellung "
                            r"an (?:folgende|diese) Empfänger oder Gruppen ist (?:fehlgeschlagen|verzögert)):[ \t]*\n",
                            body, re.IGNORECASE)
        if heading:
            listed = body[heading.end():]
            stop = re.search(_DIAGNOSTIC_HEADING, listed, re.IGNORECASE)
            listed = listed[: stop.start()] if stop else listed[:4000]
            f.recipients = _addresses(" ".join(m.group(1) for line in listed.split("\n")
                                               if (m := _LONE_ADDRESS.fullmatch(line))))
    if not f.recipients:
        f.recipients = _addresses(_first(r"(?:message to|delivered to)\s+(\S+@\S+?)(?:\s|\.?$|\s+couldn)", text) or "")
    if len(f.per_recipient) < 2:
        f.per_recipient = []
    return f


def _gmail(text: str) -> NdrFields:
    f = NdrFields("gmail")
    rcpt = _first(r"wasn't delivered to\s+(" + ADDRESS + ")", text)
    # a delay notice: "There was a temporary problem delivering your message to sales@slow-host.example."
    rcpt = rcpt or _first(r"delivering your message to\s+<?(" + ADDRESS + ")", text)
    if rcpt:
        f.recipients = [rcpt]
    m = re.search(r"The response (?:from the remote server )?was:\s*\n", text, re.IGNORECASE)
    if m:
        f.diagnostic = _folded(text, m.end()).strip() or None
    f.remote_mta = _first(r"remote server\s+(?:\[[^\]]+\]|\(([^)]+)\))", text)
    return f


def _postfix(text: str) -> NdrFields:
    f = NdrFields("postfix")
    f.reporting_mta = _first(r"This is the mail system at host\s+(\S+?)\.?\s*$", text)
    body = text
    for m in re.finditer(r"^<(" + ADDRESS + r")>(?: \(expanded from <[^>]*>\))?:\s*", body, re.MULTILINE):
        f.recipients.append(m.group(1))
        if f.diagnostic is None:
            para = _folded(body, m.end())
            host = re.match(r"host\s+(\S+?)\[([0-9A-Fa-f:.]+)\]\s+(?:said|refused to talk to me):\s*(.*)", para)
            if host:
                f.remote_mta = host.group(1)
                f.diagnostic = re.sub(r"\s*\(in reply to [^)]*\)\s*$", "", host.group(3)).strip()
            else:
                conn = re.match(r"connect to\s+(\S+?)\[([0-9A-Fa-f:.]+)\][:\d]*:\s*(.*)", para)
                if conn:
                    f.remote_mta = conn.group(1)
                f.diagnostic = para.strip() or None
    return f


def _exim(text: str) -> NdrFields:
    f = NdrFields("exim")
    m = re.search(r"following address\(es\) failed:\s*\n", text, re.IGNORECASE)
    if m is None:
        m = re.search(r"has not yet been delivered to the following addresses:\s*\n|"
                      r"following address\(es\) deferred:\s*\n", text, re.IGNORECASE)
    section = text[m.end():] if m else text
    for line in section.split("\n"):
        stripped = line.strip()
        if not stripped:
            if f.recipients:
                continue
        first = _ADDRESS.fullmatch(stripped.strip("<>"))
        if first and line[:1] in {" ", "\t"} and len(line) - len(line.lstrip()) <= 4:
            f.recipients.append(stripped.strip("<>"))
        if stripped.startswith(("------", "Reporting-MTA")):
            break
    host = re.search(r"^\s*host\s+(\S+)\s+\[([0-9A-Fa-f:.]+)\]", section, re.MULTILINE)
    if host:
        f.remote_mta = host.group(1).rstrip(".")
    err = re.search(r"SMTP error from remote mail server after [^\n]*?:\s*\n", section, re.IGNORECASE)
    if err:
        f.diagnostic = _folded(section, err.end()) or None
    elif host:
        f.diagnostic = _folded(section, host.end()) or None
    f.reporting_mta = _first(r"^Reporting-MTA:\s*dns;\s*(\S+)", text)
    return f


def _sendmail(text: str) -> NdrFields:
    f = NdrFields("sendmail")
    m = re.search(r"-----\s*The following addresses had [^\n]*?-----\s*\n", text, re.IGNORECASE)
    section = text[m.end():] if m else text
    for line in section.split("\n"):
        if line.strip().startswith("-----"):
            break
        lone = re.fullmatch(r"\s*<?(" + ADDRESS + r")>?\s*", line)
        if lone:
            f.recipients.append(lone.group(1))
    f.diagnostic = _first(r"\(reason:\s*(.*?)\)\s*$", section)
    f.remote_mta = _first(r"while talking to\s+(\S+?)\.?:", text)
    reply = re.search(r"^<<<\s*([45]\d\d[ -].*)$", text, re.MULTILINE)
    if f.diagnostic is None and reply:
        f.diagnostic = reply.group(1).strip()
    f.reporting_mta = _first(r"^Reporting-MTA:\s*dns;\s*(\S+)", text)
    return f


def _qmail(text: str) -> NdrFields:
    f = NdrFields("qmail")
    f.reporting_mta = _first(r"This is the qmail-send program at\s+(\S+?)\.?\s*$", text)
    cut = re.search(r"^--- Below this line is a copy of the message", text, re.MULTILINE)
    body = text[: cut.start()] if cut else text
    for m in re.finditer(r"^<(" + ADDRESS + r")>:\s*$", body, re.MULTILINE):
        f.recipients.append(m.group(1))
    said = re.search(r"Remote host said:\s*(.*)", body)
    if said:
        f.diagnostic = _folded(body, said.start(1)) or None
        f.diagnostic = re.sub(r"\s*Giving up on \S+\s*$", "", f.diagnostic or "").strip() or None
    else:
        # qmail's own reasons: "Sorry, I couldn't find any host named x. (#5.1.2)"
        first = re.search(r"^<" + ADDRESS + r">:\s*\n", body, re.MULTILINE)
        if first:
            f.diagnostic = _folded(body, first.end()) or None
    f.remote_mta = _first(r"Giving up on\s+([0-9A-Fa-f:.]+?)\.?\s*$", body) or _first(
        r"^([0-9A-Fa-f:.]+) does not like recipient", body)
    return f


# (style, signature, reader): the first signature that matches decides the style
STYLES: list[tuple[str, re.Pattern[str], Callable[[str], NdrFields]]] = [
    ("qmail", re.compile(r"This is the qmail-send program", re.IGNORECASE), _qmail),
    ("postfix", re.compile(r"This is the mail system at host|^\s*The mail system\s*$", re.IGNORECASE | re.MULTILINE),
     _postfix),
    ("exim", re.compile(r"This message was created automatically by mail delivery software|"
                        r"SMTP error from remote mail server after", re.IGNORECASE), _exim),
    ("sendmail", re.compile(r"-----\s*The following addresses had|-----\s*Transcript of session follows",
                            re.IGNORECASE), _sendmail),
    ("exchange", re.compile(r"Diagnostic information for administrators|Remote server returned '|"
                            r"Delivery has failed to these recipients|Generating server:|"
                            r"Diagnoseinformationen für Administratoren|Remoteserver hat '|Generierender Server:",
                            re.IGNORECASE), _exchange),
    ("gmail", re.compile(r"\*\*\s*(?:Address not found|Message blocked|Message not delivered|Delivery incomplete)\s*\*\*|"
                         r"wasn't delivered to .+ because|The response from the remote server was:", re.IGNORECASE),
     _gmail),
]

GENERIC = re.compile(r"undeliverable|could not be delivered|couldn't be delivered|delivery (status notification|"
                     r"has failed|failure)|returned mail|mail delivery (failed|system)|non-delivery|"
                     r"message not delivered|delivery to the following|unzustellbar|nicht zugestellt", re.IGNORECASE)


def read_ndr(text: str) -> NdrFields | None:
    """The style and fields of a human-written bounce, or None when the text has no bounce's signature."""
    for _style, signature, reader in STYLES:
        if signature.search(text):
            try:
                fields = reader(text)
            except Exception:  # noqa: BLE001 - a reader that trips on odd text gives the style alone
                fields = NdrFields(_style)
            fields.permanent = _permanent_words(text)
            fields.delay_notice = is_delay_notice(text)
            return fields
    return None


def looks_like_bounce(text: str) -> bool:
    return bool(GENERIC.search(text))
