"""Turn whatever a technician pastes into a customer domain: validated, lower-case, ASCII.

Accepts `Contoso.COM.`, `user@contoso.com`, `https://mail.contoso.com/owa/`, `bücher.de`;
returns the domain in punycode with a note saying what was changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna

from threer.errors import BadInput

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


class DomainError(BadInput):
    """The text is not a usable domain name."""


@dataclass(frozen=True)
class NormalisedDomain:
    domain: str  # ASCII (punycode), lower-case, no trailing dot
    note: str | None = None  # what was changed, for the technician to see

    @property
    def unicode(self) -> str:
        try:
            return idna.decode(self.domain)
        except idna.IDNAError:
            return self.domain


def normalise_domain(text: str) -> NormalisedDomain:
    """Validate and normalise a domain; raise DomainError with the reason when it is not one."""
    if not isinstance(text, str):
        raise DomainError("The domain must be text, such as contoso.com.")
    raw = text.strip()
    if not raw:
        raise DomainError("The domain is empty; type the customer's domain, such as contoso.com.")
    if len(raw) > 2048:
        raise DomainError("That is far too long to be a domain name; type the customer's domain, such as contoso.com.")
    notes: list[str] = []
    candidate = raw
    if "://" in candidate or candidate.lower().startswith("www."):
        try:  # `http://]` and `https://[x]/` are refused by urlsplit itself
            host = urlsplit(candidate if "://" in candidate else "http://" + candidate).hostname or ""
        except ValueError:
            host = ""
        if not host:
            raise DomainError(f"No domain found in the address {raw!r}; type just the domain, such as contoso.com.")
        candidate = host
        notes.append(f"reduced the address {raw!r} to its host name")
    elif "@" in candidate:
        local, _, host = candidate.rpartition("@")
        if not host or not local or any(c.isspace() for c in candidate):
            raise DomainError(f"{raw!r} is not an e-mail address or a domain; type the customer's domain, such as contoso.com.")
        candidate = host
        notes.append(f"took the domain from the e-mail address {raw!r}")
    else:
        # a path pasted without a scheme: contoso.com/owa
        if "/" in candidate:
            candidate = candidate.split("/", 1)[0]
            notes.append(f"dropped the path from {raw!r}")
    if candidate.endswith(".") and not candidate.endswith(".."):
        candidate = candidate[:-1]
    if candidate.startswith("www.") and notes:
        candidate = candidate[4:]
        notes.append("dropped the leading 'www'")
    if any(c.isspace() for c in candidate):
        raise DomainError(f"{raw!r} contains spaces; a domain is one word such as contoso.com.")
    if _IPV4.match(candidate) or candidate.startswith("[") or ":" in candidate:
        raise DomainError(f"{raw!r} is an IP address, not a domain; type the customer's domain, such as contoso.com.")
    if "." not in candidate:
        raise DomainError(f"{raw!r} has no dot; type the full domain, such as contoso.com.")
    try:
        mapped = idna.uts46_remap(candidate, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError):
        raise DomainError(f"{raw!r} holds characters no domain name can have; check the spelling.") from None
    labels = mapped.split(".")
    if any(not label for label in labels):
        raise DomainError(f"{raw!r} is not a valid domain name: it has an empty part between dots.")
    ascii_labels = []
    for label in labels:
        if not label.isascii():
            try:
                label = idna.alabel(label).decode("ascii")
            except (idna.IDNAError, UnicodeError):
                raise DomainError(
                    f"{raw!r} is not a valid domain name: the part {label!r} is not a valid international name."
                ) from None
        label = label.lower()
        if not _LABEL.match(label):
            raise DomainError(
                f"{raw!r} is not a valid domain name: the part {label[:70]!r} may only hold letters, digits and inner "
                "hyphens, at most 63 of them."
            )
        ascii_labels.append(label)
    ascii_domain = ".".join(ascii_labels)
    if len(ascii_domain) > 253:
        raise DomainError(f"{raw!r} is longer than the 253 characters a domain name may have.")
    if labels[-1].isdigit():
        raise DomainError(f"{raw!r} ends in a number, which no top-level domain does; check the spelling.")
    if ascii_domain != candidate:
        if ascii_domain != candidate.lower():
            notes.append(f"converted {candidate!r} to its ASCII form {ascii_domain}")
        elif not notes:
            notes.append("lower-cased")
    if raw.endswith(".") and not notes:
        notes.append("dropped the trailing dot")
    return NormalisedDomain(ascii_domain, "; ".join(notes) or None)
