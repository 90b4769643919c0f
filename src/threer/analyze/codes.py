"""Status codes in plain words: RFC 3463 enhanced codes (with the later additions of RFC 4954, 5248,
6531, 7293, 7372, 7505, 8617) and the basic SMTP reply codes beside them; and finding them in text."""

from __future__ import annotations

import re

CLASSES = {
    "2": "success",
    "4": "a temporary failure (the sending server keeps trying for a while)",
    "5": "a permanent failure (the message will not be delivered as it is)",
}

# a 4.x.x in a report that says delivery is over: the fault was temporary, the giving up is not
# (RFC 3464 §2.3.3: "failed" means the MTA "will not continue to try")
GIVEN_UP = "a temporary fault that lasted until the sending server gave up (the message was returned and must be sent again)"

SUBJECTS = {
    "0": "an unspecified problem",
    "1": "a problem with the address",
    "2": "a problem with the recipient's mailbox",
    "3": "a problem with the receiving mail system",
    "4": "a network or routing problem",
    "5": "a problem in the mail delivery protocol",
    "6": "a problem with the message's content",
    "7": "a security or policy refusal",
}

# subject.detail -> plain words; the class (2/4/5) says whether it is final
DETAILS = {
    "0.0": "no further detail was given",
    "1.0": "something is wrong with an address",
    "1.1": "the recipient's mailbox does not exist at that domain (a typo, or a removed user)",
    "1.2": "the recipient's domain does not exist or has no mail server",
    "1.3": "the recipient address is not written correctly",
    "1.4": "the address matches more than one mailbox",
    "1.5": "the recipient address is valid",
    "1.6": "the mailbox has moved and no forwarding address is known",
    "1.7": "the sender's address is not written correctly",
    "1.8": "the sender's domain does not exist or cannot receive replies",
    "1.9": "the message was relayed to a system that is not SMTP",
    "1.10": "the recipient's domain says it accepts no mail (a null MX)",
    "2.0": "something is wrong with the recipient's mailbox",
    "2.1": "the recipient's mailbox is disabled and accepts no mail",
    "2.2": "the recipient's mailbox is full",
    "2.3": "the message is larger than the recipient's mailbox accepts",
    "2.4": "a mailing list could not expand its members",
    "3.0": "the receiving mail system has a problem",
    "3.1": "the receiving mail system is out of storage",
    "3.2": "the receiving system is not accepting messages now",
    "3.3": "the receiving system cannot handle a feature the message uses",
    "3.4": "the message is larger than the receiving system accepts",
    "3.5": "the receiving system is misconfigured",
    "3.6": "the requested priority was changed",
    "4.0": "a network or routing problem",
    "4.1": "the recipient's server did not answer",
    "4.2": "the connection to the recipient's server was dropped",
    "4.3": "a DNS lookup failed (the directory server did not answer)",
    "4.4": "no route to the recipient's domain was found (check its MX records)",
    "4.5": "the network is congested",
    "4.6": "the message looped between servers (a forwarding loop)",
    "4.7": "the message could not be delivered in time and expired in the queue",
    "5.0": "the mail delivery protocol failed",
    "5.1": "the server did not accept a command (often sent at the wrong moment)",
    "5.2": "the server did not understand a command",
    "5.3": "the message has too many recipients",
    "5.4": "a command had invalid arguments",
    "5.5": "the two servers speak different protocol versions",
    "5.6": "an authentication exchange line was too long",
    "6.0": "something about the message's content was refused",
    "6.1": "the message's media type is not accepted",
    "6.2": "the message had to be converted and conversion is not allowed",
    "6.3": "the message needed a conversion that is not supported",
    "6.4": "the message was converted, losing some of it",
    "6.5": "converting the message failed",
    "6.6": "the message's content cannot be shown (media not supported)",
    "6.7": "a non-ASCII address was not accepted",
    "6.8": "a reply in UTF-8 (a non-ASCII mailbox name) was needed, but the sending client does not accept one",
    "6.9": "a message with UTF-8 (non-ASCII) headers could not be passed on to a server that does not support them",
    "6.10": "a reply in UTF-8 was needed, but the sending client does not accept one (an old duplicate of 6.8)",
    "7.0": "the message was refused by a security or policy rule",
    "7.1": "the sender is not allowed to send to this recipient (relay denied, or blocked by policy)",
    "7.2": "a mailing list refused to expand for this sender",
    "7.3": "the security conversion needed is not possible",
    "7.4": "the security feature needed is not supported",
    "7.5": "a cryptographic operation failed",
    "7.6": "the cryptographic algorithm is not supported",
    "7.7": "the message failed an integrity check",
    "7.8": "the sign-in (user name or password) was not accepted",
    "7.9": "the sign-in method is too weak for this server",
    "7.10": "encryption is needed for this sign-in method",
    "7.11": "the connection must be encrypted",
    "7.12": "a password change is needed, or the sign-in was refused for now",
    "7.13": "the user's account is disabled",
    "7.14": "a trust relationship between the servers is needed",
    "7.15": "the message's priority is too low for the receiving server (it may take only higher-priority mail for now)",
    "7.16": "the message is too big for its priority",
    "7.17": "the mailbox owner has changed",
    "7.18": "the domain owner has changed",
    "7.19": "a required-recipient check could not be completed",
    "7.20": "no valid DKIM signature was found",
    "7.21": "no acceptable DKIM signature was found",
    "7.22": "no valid DKIM signature of the From domain was found",
    "7.23": "the sending server is not allowed by the sender's SPF record",
    "7.24": "the SPF check could not be completed (an error in the sender's SPF record or DNS)",
    "7.25": "the sending server's reverse DNS (PTR) does not match",
    "7.26": "the message failed several authentication checks (SPF, DKIM, DMARC)",
    "7.27": "the sender's domain says it sends no mail (a null MX)",
    "7.28": "the message looks like part of a mail flood",
    "7.29": "the message failed ARC validation",
    "7.30": "the recipient's server does not support the required TLS",
}

SMTP_REPLIES = {
    "421": "the server is closing the connection (temporary)",
    "450": "the mailbox is unavailable for now",
    "451": "the server had a local error (temporary)",
    "452": "the server is out of storage for now",
    "454": "TLS or sign-in is not available for now",
    "550": "the mailbox is unavailable or the message was refused",
    "551": "the user is not local",
    "552": "storage is exceeded (mailbox full or message too big)",
    "553": "the mailbox name is not allowed",
    "554": "the transaction failed (often a policy or spam refusal)",
    "555": "a MAIL FROM or RCPT TO parameter was not recognised",
}

# 5.7.1, 4.4.7, 5.1.10: class . subject (1-3 digits) . detail (1-3 digits); not part of a longer dotted number
ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
# the basic SMTP reply: 550 before an enhanced code ("550 5.1.1", "550-5.1.1", "550 #5.1.1"), or at a line's start
BASIC = re.compile(r"(?<![\w.])([245][0-5]\d)(?=[ -]#?[245]\.\d{1,3}\.\d{1,3})|^[ \t>]*([245][0-5]\d)(?=[ -]\S)",
                   re.MULTILINE)
# Outlook / Windows error numbers, kept whole: 0x800CCC0E
HEX = re.compile(r"\b0x[0-9A-Fa-f]{8}\b")


# a 4.x.x in a delay notice (the message is still queued): RFC 3463's "delivery time expired" is then
# the notice's own reason for writing (Exchange's "400 4.4.7 Message delayed"), not an expiry
STILL_QUEUED = {
    "4.7": "the message has waited in the sending server's queue longer than expected and is still being retried",
}

# a 4.x.x whose registry words ("Delivery not authorized, message refused") read as final: put off for now
TEMPORARY_DETAILS = {
    "7.1": "the receiving server put the message off by a policy rule for now (often greylisting or a sending-rate "
           "limit)",
}

# codes some servers use in their own sense, beside the registry's
STYLE_MEANINGS = {
    ("exchange", "5.1.10"): "the recipient's address was not found at its domain (Exchange Online's use of 5.1.10)",
    ("exchange", "4.4.316"): "the recipient's server could not be reached (the connection was refused or timed out)",
    ("exchange", "5.4.1"): "the recipient's domain refused the address (often: the domain is not set up to accept it)",
}


def describe(code: str, style: str | None = None, *, final: bool | None = None) -> str | None:
    """RFC 3463 code in plain words, e.g. describe("5.1.1") -> "a permanent failure: the recipient's mailbox …".

    `final`: the report says delivery is over; a 4.x.x is then no longer "still being tried"."""
    m = ENHANCED.fullmatch(code.strip()) if code else None
    if not m:
        return None
    klass, subject, detail = m.groups()
    head = GIVEN_UP if klass == "4" and final else CLASSES[klass]
    special = STYLE_MEANINGS.get((style or "", f"{klass}.{int(subject)}.{int(detail)}"))
    if klass == "4" and final is False:
        special = special or STILL_QUEUED.get(f"{int(subject)}.{int(detail)}")
    if klass == "4":
        special = special or TEMPORARY_DETAILS.get(f"{int(subject)}.{int(detail)}")
    if special:
        return f"{head}: {special}"
    words = DETAILS.get(f"{int(subject)}.{int(detail)}") or SUBJECTS.get(str(int(subject))) or "an unlisted problem"
    return f"{head}: {words}"


def is_permanent(code: str | None) -> bool | None:
    """What the code's class alone says: 5 permanent, 4 temporary (a report can still say it is final)."""
    if not code:
        return None
    first = code.strip()[:1]
    return {"5": True, "4": False, "2": False}.get(first)


def is_final(action: str | None, status: str | None, smtp_code: str | None, wording: bool | None,
             *, delay_notice: bool = False) -> bool | None:
    """Whether delivery is over (the message came back and will not be retried), from what a bounce says.

    RFC 3464 §2.3.3 first: `Action: failed` is final and `delayed` is not, whatever the status class
    (Postfix returns a 4.x.x that outlived the queue as failed). Then a delay warning's own words
    (`delay_notice`: "Delivery will continue to be attempted"): the "550 4.4.316" an Exchange delay
    notice quotes is the remote's last reply, not the end. Then a 5.x.x code or 5xx reply (an
    Exchange Online NDR writes "550 4.4.7 QUEUE.Expired"), then the bounce's other wording, then a
    4.x.x / 4xx alone: still being tried."""
    if action in {"failed", "delayed"}:
        return action == "failed"
    if delay_notice:
        return False
    if is_permanent(status) or is_permanent(smtp_code):
        return True
    if wording is not None:
        return wording
    if is_permanent(status) is False or is_permanent(smtp_code) is False:
        return False
    return None


def _basic_matches(text: str) -> list[str]:
    return [a or b for a, b in BASIC.findall(text)]


def find_codes(text: str, *, limit: int = 50) -> list[str]:
    """Every enhanced status code, basic SMTP reply code and Windows error number in `text`,
    in the order they first appear, each once."""
    found: list[tuple[int, str]] = []
    for m in ENHANCED.finditer(text):
        found.append((m.start(), ".".join(str(int(g)) for g in m.groups())))
    for m in BASIC.finditer(text):
        found.append((m.start(), m.group(1) or m.group(2)))
    for m in HEX.finditer(text):
        found.append((m.start(), "0x" + m.group(0)[2:].upper()))
    out: list[str] = []
    for _, code in sorted(found):
        if code not in out:
            out.append(code)
        if len(out) >= limit:
            break
    return out


def first_enhanced(text: str) -> str | None:
    """The first enhanced code that is a failure (4.x.x / 5.x.x) in `text`, or the first at all."""
    codes = [".".join(str(int(g)) for g in m.groups()) for m in ENHANCED.finditer(text or "")]
    return next((c for c in codes if c[0] in "45"), codes[0] if codes else None)


def first_basic(text: str) -> str | None:
    found = _basic_matches(text or "")
    return next((c for c in found if c[0] in "45"), None)
