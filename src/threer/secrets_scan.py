"""Spot text that looks like a password or secret before a ticket leaves the partner.

Technicians paste what the customer reads out, and customers read out passwords. The
ticket flags such text (and `threer ticket --redact` masks it). The patterns aim at what
people really paste — "password: …", "pwd=…", "my password is …", app passwords, API keys,
AWS keys, bearer tokens, private keys — and stay quiet on ordinary error text: hex error
codes (0x800CCC0E), SMTP replies (550 5.7.1), GUIDs and server names in bounce messages.

A hit covers only the secret itself, not the words that gave it away, so masking keeps
"password: [REDACTED]" readable; it covers the whole value, trailing punctuation included
("Hunter2!" is masked whole: a leaked last character is worse than a masked full stop).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from pydantic import BaseModel

REDACTED = "[REDACTED]"


class SecretHit(BaseModel):
    """One stretch of text that looks secret: characters [start, end) of the scanned text."""

    kind: str  # what it looks like, in words: "password", "AWS access key ID", ...
    start: int
    end: int
    line: int  # 1-based line of the text where it starts


# Words that follow "password:" or "password is" in error text and notes without being one.
_NOT_A_PASSWORD = frozenset(
    """
    a an the is was be been being are not no none n/a na yes it this that there here my your his her their our
    prompt prompts prompted prompting required requested request incorrect invalid wrong expired expires expiring
    expire reset resets changed change changes updated update saved save stored entered typed accepted rejected
    refused denied correct ok okay fine unknown blank empty missing set unset policy policies manager dialog box
    field window screen again keeps keep appears appear appeared still also too same different new old
    sync synced synchronised synchronized working works failed fails failing error errors protected hidden
    masked redacted removed forgotten lost known unchanged please enter provided supplied needed needs
    for to of in on at by with from and or but if when then than after before because since until via
    """.split()
)

# Frequent four-letter English words: four of them in a row are a sentence, not an app password.
_COMMON_FOUR = frozenset(
    """
    able also area away back been best body book both call came card case cell city code come cost could days
    deal does done door down each else even ever face fact fail fair fall feel file find fine firm five
    form four free from full gave give goes gone good half hand hard have head hear held help here high
    hold home hope host hour idea into item just keep kept kind knew know last late left less life like
    line link list live load long look lose lost made mail main make many mark mean meet mind mine miss
    more most move much must name near need next nice none note once only open over page part past path
    plan play port post pull push read real rest role rule runs said same save says seen self send sent
    shop show shut side sign site size some soon sort spam stay step stop such sure sync take talk task
    team tell tend term test text than that them then they this thus time told took tool true turn type
    unit upon used user uses very view wait want ways week well went were what when whom will with word
    work year your zone again about user data away exit fail fine gets got hang held into lets logs
    main menu mode must okay only over said sent show sign sits team they tick uses will wont yeah
    """.split()
)

_KEYWORD = r"(?:app[ _-]?password|password|passwd|passwort|pwd|pass[ _-]?code|pass[ _-]?phrase|pin|secret|client[ _-]?secret|api[ _-]?key|apikey|access[ _-]?key|secret[ _-]?key|access[ _-]?token|auth[ _-]?token|token)"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "private key",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.S,
        ),
    ),
    ("AWS access key ID", re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[0-9A-Z]{16}(?![A-Za-z0-9])")),
    ("JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")),
    (
        "API token",
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}"
            r"|AIza[0-9A-Za-z_-]{35}|sk_live_[0-9A-Za-z]{16,}|sk-[A-Za-z0-9_-]{32,}|glpat-[A-Za-z0-9_-]{20,})"
        ),
    ),
]

_BEARER = re.compile(r"\b(Bearer|Basic)[ \t]+([A-Za-z0-9._~+/-]{12,}=*)", re.I)
_URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:([^\s/@]+)@", re.I)
# only before ":" or "=": words too common in prose to be a keyword on their own ("pass the test")
_SHORT_KEYWORD = r"(?:pass|pw|pword|passw|kennwort|mdp|contrase(?:ñ|n)a)"
# "password: x", "pwd=x", "pass=x", "api_key = 'x'", "Password=x;" (connection strings)
_KEYWORD_VALUE = re.compile(
    rf"(?<![A-Za-z0-9])(?:{_KEYWORD}|{_SHORT_KEYWORD})s?[ \t]*(?:[:=]|=>)[ \t]*(\"[^\"\n]+\"|'[^'\n]+'|[^\s;]+)", re.I
)
# "is", "was reset to", "has been changed to": longest first, so that "was" does not take "reset" for the value
_IS = r"(?:(?:(?:is|was|has been|had been|will be|got|been)[ \t]+)?(?:set|changed|reset|updated)[ \t]+to|is now|will be|is|was|now)"
# "my password is x", "the new passcode was x", "password changed to x", "password was reset to x"
_KEYWORD_IS = re.compile(
    rf"(?<![A-Za-z0-9])(?:(my|the|her|his|their|our|your|new|temporary|temp|user'?s|customer'?s)\s+)?"
    rf"{_KEYWORD}[ \t]+{_IS}[ \t]+(\"[^\"\n]+\"|'[^'\n]+'|\S+)",
    re.I,
)
# "password for the DNS panel is x", "pin of her phone: x": a few words between the keyword and its value
_KEYWORD_FOR_IS = re.compile(
    rf"(?<![A-Za-z0-9]){_KEYWORD}[ \t]+(?:for|to|of|on)[ \t]+((?:[^\s:=.,;]+[ \t]+){{0,4}}?[^\s:=.,;]+)"
    rf"(?:[ \t]*[:=][ \t]*|[ \t]+{_IS}[ \t]+)(\"[^\"\n]+\"|'[^'\n]+'|\S+)",
    re.I,
)
# "credentials: admin/Hunter2!", "login is pete / Winter2027": a user name and its password together
_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9])(?:credentials|creds|log[ -]?in details|log[ -]?in|logon|sign[ -]?in|user(?:name)?[ /]pass(?:word)?)"
    r"(?:[ \t]*[:=][ \t]*|[ \t]+(?:is|are|was|were)[ \t]+)([^\s/:]+)[ \t]*[/:][ \t]*([^\s/]+)",
    re.I,
)
# a lookahead, so that every word start is tried ("code abcd efgh ijkl mnop")
# "passcode 4421", "PIN 0000": a keyword right before a number-like value
_KEYWORD_NUMBER = re.compile(rf"(?<![A-Za-z0-9]){_KEYWORD}[ \t]+([A-Za-z0-9!@#$%^&*_+-]*[0-9][A-Za-z0-9!@#$%^&*_+-]*)", re.I)
_APP_PASSWORD = re.compile(r"(?<![A-Za-z0-9])(?=(([a-z]{4}) ([a-z]{4}) ([a-z]{4}) ([a-z]{4}))(?![A-Za-z0-9]))")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
# who a password belongs to: "my password is x" gives it away even when x is a plain word
_OWNER = frozenset({"my", "her", "his", "their", "our", "your", "new", "temporary", "temp", "user's", "users",
                    "customer's", "customers"})
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_TRAILING = ".,;:!?)]}>"


def find_secrets(text: str) -> list[SecretHit]:
    """Every stretch of `text` that looks like a password or secret, in order, never overlapping."""
    if not text:
        return []
    hits: list[tuple[str, int, int]] = []
    for kind, pattern in _PATTERNS:
        hits.extend((kind, m.start(), m.end()) for m in pattern.finditer(text))
    for m in _BEARER.finditer(text):
        if _looks_random(m.group(2)):  # not "Basic authentication failed"
            kind = "bearer token" if m.group(1).lower() == "bearer" else "basic-auth credentials"
            hits.append((kind, m.start(2), m.end(2)))
    for m in _URL_PASSWORD.finditer(text):
        hits.append(("password in a web address", m.start(1), m.end(1)))
    for m in _KEYWORD_VALUE.finditer(text):
        span = _value_span(m, m.lastindex or 1)
        if span and not _ordinary_word(text[span[0]:span[1]]):
            hits.append((_kind_of(m.group(0)), *span))
    # "my password is x", "the password for the panel is x": group 1 may name whose it is
    for pattern in (_KEYWORD_IS, _KEYWORD_FOR_IS):
        for m in pattern.finditer(text):
            span = _value_span(m, 2)
            if not span:
                continue
            value = text[span[0]:span[1]]
            if _ordinary_word(value):
                continue
            owner = any(w.lower() in _OWNER for w in (m.group(1) or "").split())
            if owner or _looks_random(value) or m.group(2)[0] in "\"'":
                hits.append((_kind_of(m.group(0)), *span))
    for m in _CREDENTIALS.finditer(text):
        span = _value_span(m, 2)
        value = text[span[0]:span[1]].rstrip(_TRAILING) if span else ""
        # "admin/Hunter2!" but not "login: Outlook/OWA": the second half must look like a password
        if span and _looks_random(value) and not (value.isalpha() and value.isupper()) and not _ordinary_word(value):
            hits.append(("password", *span))
    for m in _KEYWORD_NUMBER.finditer(text):
        span = _value_span(m, 1)
        if span and span[1] - span[0] >= 4 and not _ordinary_word(text[span[0]:span[1]]):
            hits.append((_kind_of(m.group(0)), *span))
    hits.extend(_app_passwords(text))
    for m in _LONG_TOKEN.finditer(text):
        if _high_entropy_token(text, m.start(), m.end()):
            hits.append(("API key or token", m.start(), m.end()))
    return _without_overlaps(text, hits)


def _app_passwords(text: str) -> list[tuple[str, int, int]]:
    """Four groups of four lower-case letters that are not an English sentence."""
    candidates = []
    for m in _APP_PASSWORD.finditer(text):
        common = sum(w in _COMMON_FOUR for w in m.groups()[1:])
        keyword_before = re.search(r"pass|app|code", text[max(0, m.start() - 40):m.start()], re.I)
        if common == 0 or (common == 1 and keyword_before):
            candidates.append((common, m.start(1), m.end(1)))
    chosen: list[tuple[str, int, int]] = []
    for _, start, end in sorted(candidates):  # fewest common words first
        if all(end <= s or start >= e for _, s, e in chosen):
            chosen.append(("app password", start, end))
    return chosen


def redact(text: str, hits: list[SecretHit] | None = None) -> str:
    """`text` with every hit replaced by [REDACTED]."""
    if hits is None:
        hits = find_secrets(text)
    out, last = [], 0
    for hit in sorted(hits, key=lambda h: h.start):
        if hit.start < last:
            continue
        out.append(text[last:hit.start])
        out.append(REDACTED)
        last = hit.end
    out.append(text[last:])
    return "".join(out)


def _value_span(m: re.Match[str], group: int) -> tuple[int, int] | None:
    start, end = m.start(group), m.end(group)
    value = m.group(group)
    if value[:1] in "\"'" and len(value) >= 2 and value[-1] == value[0]:
        start, end = start + 1, end - 1  # mask what is inside the quotes
    if end - start < 3 or not any(c.isalnum() for c in m.string[start:end]):
        return None
    return start, end


# error codes that follow a keyword in error text: 0x800CCC0E, 5.7.1
_ERROR_CODE = re.compile(r"0x[0-9a-f]{4,8}|[245]\.\d{1,3}\.\d{1,3}|[245]\d\d", re.I)


def _ordinary_word(value: str) -> bool:
    core = value.strip("\"'").rstrip(_TRAILING)
    return core.lower() in _NOT_A_PASSWORD or _ERROR_CODE.fullmatch(core) is not None


def _kind_of(matched: str) -> str:
    low = matched.lower()
    if "app" in low and "pass" in low:
        return "app password"
    if any(k in low for k in ("pass", "pwd", "pin", "pw", "kennwort", "mdp", "contrase")):
        return "password"
    return "API key or token"


def _looks_random(value: str) -> bool:
    """A password-like word: digits or symbols mixed with letters, or capitals after the first letter."""
    core = value.strip("\"'").rstrip(_TRAILING)
    if not core:
        return False
    has_digit = any(c.isdigit() for c in core)
    has_alpha = any(c.isalpha() for c in core)
    has_symbol = any(not c.isalnum() for c in core)
    inner_upper = any(c.isupper() for c in core[1:])
    return (has_digit and (has_alpha or len(core) >= 4)) or (has_symbol and has_alpha) or inner_upper


def _high_entropy_token(text: str, start: int, end: int) -> bool:
    token = text[start:end].strip("=")
    if len(token) < 24:
        return False
    if _GUID.search(token):
        return False
    # DKIM signatures and keys (b=, bh=, p=) are public, not secrets
    if re.search(r"(?:^|[\s;])(?:b|bh|p|k)=$", text[max(0, start - 4):start]):
        return False
    if text[end:end + 1] == "@":  # a Message-ID or address local part
        return False
    if not (any(c.islower() for c in token) and any(c.isupper() for c in token) and any(c.isdigit() for c in token)):
        return False
    if "/" in token and token.count("/") * 8 > len(token):  # a path, not a key
        return False
    classes = [0 if c.islower() else 1 if c.isupper() else 2 if c.isdigit() else 3 for c in token]
    changes = sum(a != b for a, b in zip(classes, classes[1:]))
    if changes < len(token) * 0.3:  # CamelCase words and product names change class rarely
        return False
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return entropy >= 3.5


def _without_overlaps(text: str, hits: list[tuple[str, int, int]]) -> list[SecretHit]:
    """Keep the earliest (then longest) of overlapping hits."""
    result: list[SecretHit] = []
    last_end = -1
    for kind, start, end in sorted(hits, key=lambda h: (h[1], -(h[2] - h[1]))):
        if start < last_end or end <= start:
            continue
        result.append(SecretHit(kind=kind, start=start, end=end, line=text.count("\n", 0, start) + 1))
        last_end = end
    return result
