"""Authentication-Results (RFC 8601) and DKIM-Signature (RFC 6376 tag lists), read tolerantly.

Ours rather than the `authres` package: its last release is from 2019, and it raises on the
malformed headers that people paste; here a header that cannot be read gives what it can.
"""

from __future__ import annotations

import re

from threer.analyze.models import AuthVerdict, DkimSignature

_PROPERTY = re.compile(r"^(smtp|header|body|policy)\.([\w-]+)$", re.IGNORECASE)
_WORD = re.compile(r"^[\w.+/-]+$")


def strip_comments(text: str) -> str:
    """Remove RFC 5322 comments `( … )`, nested or not, outside quoted strings; keep quoted strings."""
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for ch in text:
        if escaped:
            if depth == 0:
                out.append(ch)
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
            continue
        if quoted:
            out.append(ch)
            if ch == '"':
                quoted = False
            continue
        if ch == "(":
            depth += 1
            continue
        if ch == ")" and depth:
            depth -= 1
            out.append(" ") if depth == 0 else None
            continue
        if depth:
            continue
        if ch == '"':
            quoted = True
        out.append(ch)
    return "".join(out)


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _domain_of(value: str) -> str:
    value = _unquote(value).strip("<>")
    return value.rpartition("@")[2].lower().rstrip(".")


def parse_authentication_results(value: str) -> tuple[list[AuthVerdict], bool]:
    """The verdicts of one Authentication-Results header value, and whether all of it was read."""
    text = " ".join(strip_comments(value).split())
    parts = _split(text, ";")
    head = parts[0].split()
    authserv = head[0] if head else None
    clean = bool(authserv)
    if authserv and "=" in parts[0]:
        # no authserv-id (Exchange Online's copy in a bounce starts with "spf=..."): read it as a result
        authserv, clean = None, True
        parts = [""] + parts
    verdicts: list[AuthVerdict] = []
    for part in parts[1:]:
        # "dkim = pass" is as good as "dkim=pass": join the spaces around '='
        tokens = re.sub(r"\s*=\s*", "=", part.strip()).split()
        if not tokens:
            continue
        if tokens[0].lower() == "none":
            continue
        method, eq, result = tokens[0].partition("=")
        method = method.split("/")[0].lower()
        if not eq or not _WORD.match(method) or not result:
            clean = False
            continue
        props: dict[str, str] = {}
        for token in tokens[1:]:
            key, eq, val = token.partition("=")
            m = _PROPERTY.match(key)
            if eq and m:
                props[f"{m.group(1).lower()}.{m.group(2).lower()}"] = _unquote(val)
        verdicts.append(AuthVerdict(method=method, result=_unquote(result).lower(),
                                    domain=_verdict_domain(method, props), authserv_id=authserv))
    return verdicts, clean


def _verdict_domain(method: str, props: dict[str, str]) -> str | None:
    order = {
        "spf": ("smtp.mailfrom", "smtp.helo"),
        "dkim": ("header.d", "header.i"),
        "domainkeys": ("header.d", "header.from"),
        "dmarc": ("header.from",),
        "bimi": ("header.d", "header.from"),
        "iprev": ("policy.iprev", "smtp.remote-ip"),
        "auth": ("smtp.mailfrom", "smtp.auth"),
    }.get(method, ())
    for key in order + tuple(props):
        if key in props and props[key]:
            value = props[key]
            return value if method == "iprev" else _domain_of(value)
    return None


def parse_dkim_signature(value: str) -> DkimSignature | None:
    """d= and s= of a DKIM-Signature header, or None when it has neither."""
    tags: dict[str, str] = {}
    for part in value.split(";"):
        key, eq, val = part.partition("=")
        key = "".join(key.split()).lower()
        if eq and key in {"d", "s"} and key not in tags:
            tags[key] = "".join(val.split()).lower().rstrip(".")
    if not tags:
        return None
    return DkimSignature(d=tags.get("d") or None, s=tags.get("s") or None)
