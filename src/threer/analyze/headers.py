"""Message headers: find a header block in pasted text, read the Received hops (oldest first, with
the delay at each), the sending server's address, Authentication-Results, DKIM-Signature, and
whether Return-Path and From align. Parsing uses the standard library's email package."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.parser import HeaderParser
from email.utils import parseaddr, parsedate_to_datetime

from threer.analyze.authres import parse_authentication_results, parse_dkim_signature
from threer.analyze.models import Alignment, AuthVerdict, DkimSignature, Hop

HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]{0,75}):[ \t]?(.*)$")
KNOWN = {
    "received", "from", "to", "subject", "date", "message-id", "return-path", "authentication-results",
    "dkim-signature", "received-spf", "arc-seal", "mime-version", "content-type", "x-originating-ip",
}
MAX_HOPS = 100
# submissions from a mail client, not a relay between servers (RFC 3848 ESMTPA/ESMTPSA, webmail)
_SUBMISSION = re.compile(r"\bwith\s+(?:E?SMTPS?A|LMTPS?A|UTF8SMTPS?A|HTTPS?(?:REST)?|MAPI)\b", re.IGNORECASE)
_INTERNAL = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/8",
    "::1/128", "fc00::/7", "fe80::/10", "::/128",
)]


@dataclass
class HeaderBlock:
    items: list[tuple[str, str]]  # (name, raw value), in the order written (newest Received first)
    first_line: int
    unreadable: list[str] = field(default_factory=list)

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.items if k.lower() == name]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None


def find_header_blocks(text: str, *, minimum: int = 2) -> list[HeaderBlock]:
    """Runs of `Name: value` lines (with their folded continuation lines) holding at least `minimum`
    headers a mail server writes, in the order they appear."""
    lines = text.split("\n")
    blocks: list[HeaderBlock] = []
    i = 0
    while i < len(lines):
        if not HEADER_LINE.match(lines[i]):
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and (HEADER_LINE.match(lines[j]) or (lines[j][:1] in {" ", "\t"} and lines[j].strip())):
            j += 1
        chunk = "\n".join(lines[start:j]) + "\n"
        names = [m.group(1).lower() for m in (HEADER_LINE.match(ln) for ln in lines[start:j]) if m]
        if sum(1 for n in names if n in KNOWN) >= minimum:
            blocks.append(_parse_block(chunk, start + 1))
        i = j
    return blocks


def _parse_block(chunk: str, first_line: int) -> HeaderBlock:
    msg = HeaderParser(policy=policy.default).parsestr(chunk)
    items = [(k, " ".join(str(v).split())) for k, v in msg.raw_items()]
    return HeaderBlock(items=items, first_line=first_line)


def block_from_message(items: list[tuple[str, str]]) -> HeaderBlock:
    return HeaderBlock(items=[(k, " ".join(str(v).split())) for k, v in items], first_line=1)


# -- Received ---------------------------------------------------------------------------------------

_BY = re.compile(r"(?:^|\s)by\s+([^\s;()]+)", re.IGNORECASE)
_BRACKET_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")
_PAREN_TOKEN = re.compile(r"\(([^()]*)\)")


@dataclass
class _Received:
    from_host: str | None
    by: str | None
    ip: str | None
    at: datetime | None
    submission: bool


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]").removeprefix("IPv6:")))
    except ValueError:
        return None


def _outside_comments(text: str) -> str:
    """`text` with every character inside ( ) replaced by a space, so positions still line up."""
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        out.append(ch if depth == 0 else " ")
        if ch == ")" and depth:
            depth -= 1
            out[-1] = " "
    return "".join(out)


def _stamp(text: str) -> datetime | None:
    try:
        at = parsedate_to_datetime(re.sub(r"\s*\([^)]*\)\s*$", "", text.strip()))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at  # "-0000": UTC, zone not said


def parse_received(value: str) -> _Received:
    head, semi, stamp = value.rpartition(";")
    if not semi:
        head, stamp = value, ""
    at = _stamp(stamp) if stamp.strip() else None
    bare = _outside_comments(head)
    by_m = _BY.search(bare)
    from_m = re.match(r"^\s*from\s+", bare, re.IGNORECASE)
    from_part = ""
    from_host = None
    if from_m:
        end = by_m.start() if by_m and by_m.start() > from_m.end() else len(head)
        from_part = head[from_m.end():end]
        words = bare[from_m.end():end].split()
        from_host = words[0].strip("[]") if words else None
    ip = None
    # the connecting address is the receiving server's own TCP-info in ( ): "from [192.168.1.20]
    # (host.isp.example [81.2.3.4])" came from 81.2.3.4; a [literal] outside ( ) is only what the
    # client said in its HELO, taken when there is no TCP-info address
    from_bare = bare[from_m.end():from_m.end() + len(from_part)] if from_m else ""
    bracketed = list(_BRACKET_IP.finditer(from_part))
    in_comment = [m for m in bracketed if m.start() < len(from_bare) and from_bare[m.start()] != "["]
    for m in in_comment + [m for m in bracketed if m not in in_comment]:
        ip = _ip(m.group(1))
        if ip:
            break
    if ip is None:
        for paren in _PAREN_TOKEN.findall(from_part):
            for word in re.split(r"[\s,@]+", paren):
                ip = _ip(word)
                if ip:
                    break
            if ip:
                break
    if ip is None and from_host:
        ip = _ip(from_host)
    by = by_m.group(1).rstrip(".") if by_m else None
    return _Received(from_host=from_host, by=by, ip=ip, at=at, submission=bool(_SUBMISSION.search(head)))


def is_internal(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return True
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == n.version and address in n for n in _INTERNAL)


def read_hops(block: HeaderBlock) -> tuple[list[Hop], list[_Received], list[str]]:
    """The Received hops oldest first, with the delay at each; and what could not be read."""
    values = block.get_all("received")
    notes: list[str] = []
    if len(values) > MAX_HOPS:
        notes.append(f"only the newest {MAX_HOPS} of {len(values)} Received headers were read")
        values = values[:MAX_HOPS]
    parsed = [parse_received(v) for v in reversed(values)]
    undated = sum(1 for r in parsed if r.at is None)
    if undated:
        notes.append(f"{undated} Received header{'s have' if undated > 1 else ' has'} no readable date")
    sent = None
    date = block.get("date")
    if date:
        sent = _stamp(date)
        if sent is None:
            notes.append("the Date header could not be read")
    hops: list[Hop] = []
    previous = sent
    for r in parsed:
        delay = None
        if r.at is not None and previous is not None:
            try:
                delay = int((r.at - previous).total_seconds())
            except TypeError:  # one stamp with a zone, one without
                delay = None
        if r.at is not None:
            previous = r.at
        # populate_by_name lets Hop take from_; pydantic without its mypy plugin types only the alias "from"
        hops.append(Hop(from_=r.from_host, by=r.by, at=r.at.isoformat() if r.at else None,  # type: ignore[call-arg]
                        delay_s=delay, ip=r.ip))
    return hops, parsed, notes


# -- the sending server ---------------------------------------------------------------------------

_CLIENT_IP = re.compile(r"\bclient-ip=\[?([0-9A-Fa-f:.]+)\]?", re.IGNORECASE)
_DESIGNATES = re.compile(r"\bdesignates\s+\[?([0-9A-Fa-f:.]+)\]?\s+as\b", re.IGNORECASE)
_SENDER_IP = re.compile(r"\bsender IP is\s+\[?([0-9A-Fa-f:.]+)\]?", re.IGNORECASE)
_REMOTE_IP = re.compile(r"\bsmtp\.remote-ip=\[?([0-9A-Fa-f:.]+)\]?", re.IGNORECASE)


def sending_ip(block: HeaderBlock, received: list[_Received]) -> str | None:
    """The connecting address of the first hop outside the sender's network.

    The receiving server's own SPF record of it wins (Received-SPF client-ip, or the address its
    Authentication-Results names); otherwise the oldest relay between servers (not a client's
    authenticated submission) from a public address."""
    for value in block.get_all("received-spf") + block.get_all("authentication-results"):
        for pattern in (_CLIENT_IP, _SENDER_IP, _DESIGNATES, _REMOTE_IP):
            m = pattern.search(value)
            if m and _ip(m.group(1)) and not is_internal(m.group(1)):
                return _ip(m.group(1))
    for r in received:
        if r.ip and not r.submission and not is_internal(r.ip):
            return r.ip
    return None


# -- authentication ------------------------------------------------------------------------------

def read_auth(block: HeaderBlock) -> tuple[list[AuthVerdict], list[DkimSignature], list[str]]:
    verdicts: list[AuthVerdict] = []
    notes: list[str] = []
    bad = 0
    for value in block.get_all("authentication-results"):
        found, clean = parse_authentication_results(value)
        verdicts.extend(found)
        bad += not clean
    if bad:
        notes.append(f"{bad} Authentication-Results header{'s were' if bad > 1 else ' was'} only partly readable")
    signatures: list[DkimSignature] = []
    for value in block.get_all("dkim-signature"):
        sig = parse_dkim_signature(value)
        if sig is None:
            notes.append("a DKIM-Signature header has no d= or s= tag")
        elif sig not in signatures:
            signatures.append(sig)
    return verdicts, signatures, notes


def alignment(block: HeaderBlock) -> Alignment | None:
    """Return-Path against From, by organisational domain (relaxed alignment, as DMARC's default)."""
    rp_raw, from_raw = block.get("return-path"), block.get("from")
    if rp_raw is None and from_raw is None:
        return None
    rp = _address_domain(rp_raw) if rp_raw is not None else None
    fd = _address_domain(from_raw) if from_raw is not None else None
    if rp_raw is not None and rp is None and "<>" in rp_raw.replace(" ", ""):
        return Alignment(return_path="<>", from_domain=fd, aligned=None,
                         note="the Return-Path is empty (<>): the message is itself a bounce")
    if rp is None or fd is None:
        missing = "Return-Path" if rp is None else "From"
        return Alignment(return_path=rp, from_domain=fd, aligned=None, note=f"no readable {missing} address")
    from threer.checks.dmarc import organisational_domain

    try:
        aligned = organisational_domain(rp) == organisational_domain(fd)
    except Exception:  # noqa: BLE001 - a name the public suffix list cannot place: compare as written
        aligned = rp == fd
    note = ("the envelope sender and the From address are of the same domain" if aligned else
            f"the envelope sender ({rp}) is not of the From domain ({fd}): SPF cannot align for DMARC")
    return Alignment(return_path=rp, from_domain=fd, aligned=aligned, note=note)


def _address_domain(value: str) -> str | None:
    try:
        _, address = parseaddr(value)
    except Exception:  # noqa: BLE001 - a header too broken for the parser
        address = ""
    if "@" not in address:
        m = re.search(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", value)
        return m.group(1).lower() if m else None
    domain = address.rpartition("@")[2].strip().strip(">").lower().rstrip(".")
    return domain or None
