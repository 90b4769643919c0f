"""DMARC (RFC 9989, which obsoletes RFC 7489): find, parse and judge a domain's policy.

Discovery is RFC 9989 §4.10's DNS tree walk: `_dmarc.<name>` for the domain and each name above it
(at most 8, a long name jumping to its 7 rightmost labels), all asked at once, so a subdomain that
inherits a parent's policy costs no extra round trip; the first record found applies, and `psd=`
marks where the organisational domain ends (`tree_walk_org`). The Public Suffix List is kept only to
say where a missing record should be published and which report addresses are another
organisation's. The record is parsed as a tag list; every tag's value is checked and a
wrong one is named. Policy strength, reporting addresses and the authorisation that another
domain's report mailbox must publish (`<domain>._report._dmarc.<host>`, or the wildcard
`*._report._dmarc.<host>`, RFC 9990 §4) are judged.

`parse_dmarc(text)` never raises: any string gives a `DmarcRecord` whose `problems` say what is
wrong with it.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from threer.checks.public_suffix import private_suffix
from threer.checks.resolver import Lookup
from threer.findings import Finding, RecordChange, Severity, add, remove

if TYPE_CHECKING:
    from threer.checks.context import CheckContext
    from threer.checks.resolver import Resolver

CHECK = "dmarc"
FINDING_IDS = frozenset(
    {
        "dmarc.ok",
        "dmarc.lookup-error",
        "dmarc.missing",
        "dmarc.misplaced",
        "dmarc.multiple",
        "dmarc.version",
        "dmarc.syntax",
        "dmarc.policy-missing",
        "dmarc.policy-none",
        "dmarc.subdomain-policy-weak",
        "dmarc.pct",
        "dmarc.testing",
        "dmarc.obsolete-tag",
        "dmarc.unknown-tag",
        "dmarc.inherited",
        "dmarc.no-reports",
        "dmarc.report-not-authorised",
        "dmarc.report-auth-error",
        "dmarc.report-size",
    }
)

DEFAULT_TTL = 3600
POLICIES = ("none", "quarantine", "reject")
KNOWN_TAGS = ("v", "p", "sp", "np", "pct", "rua", "ruf", "fo", "rf", "ri", "adkim", "aspf", "t", "psd")
OBSOLETE_TAGS = {"pct": "t=y for testing", "rf": "nothing (only afrf was ever defined)", "ri": "nothing (reports are daily)"}

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# a value that runs on into the next tag because its ';' is missing: "reject rua=mailto:..."
_RUN_ON = re.compile(r"(\S+)\s+([A-Za-z][A-Za-z0-9_]*\s*=.*)", re.S)
_VERSION = re.compile(r"\s*v\s*=\s*DMARC1\s*(;|$)")
_LOOKS_LIKE_DMARC = re.compile(r"(^|;)\s*v\s*=\s*dmarc", re.I)
_URI = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(\S+?)(?:!([0-9]+)([kmgtKMGT]?))?")
_LOCAL_PART = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def organisational_domain(domain: str) -> str:
    """RFC 7489 §3.2: the registrable domain (one label below the public suffix)."""
    domain = domain.lower().rstrip(".")
    try:
        # the list ships with the package: no network; only the rules that can apply to this name are read
        org = private_suffix(domain)
    except Exception:  # noqa: BLE001 - a name the list cannot handle is its own organisational domain
        org = None
    return org or domain


@dataclass(frozen=True)
class DmarcProblem:
    tag: str | None  # the tag at fault; None for the record as a whole
    value: str | None
    reason: str
    duplicate: bool = False  # a repeated tag (the first one is kept when repairing)
    separator: bool = False  # a ';' is missing after this tag: the tags were split where it belongs

    def describe(self) -> str:
        if self.tag is None or self.separator:
            return self.reason
        return f"{self.tag}={self.value}: {self.reason}" if self.value is not None else f"{self.tag}: {self.reason}"


@dataclass
class ReportUri:
    uri: str
    scheme: str
    size: str | None = None  # the "!10m" size limit RFC 7489 allowed and RFC 9989 dropped
    address: str | None = None  # for mailto: the mailbox
    host: str | None = None  # for mailto: the mailbox's domain, lower-case


@dataclass
class DmarcRecord:
    """A parsed DMARC record: the tags as written, and everything wrong with them."""

    text: str
    tags: dict[str, str] = field(default_factory=dict)  # lower-case name -> value, first occurrence
    order: list[str] = field(default_factory=list)
    problems: list[DmarcProblem] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    version_ok: bool = False
    rua: list[ReportUri] = field(default_factory=list)
    ruf: list[ReportUri] = field(default_factory=list)

    def policy(self, tag: str = "p") -> str | None:
        value = self.tags.get(tag)
        if value is None:
            return None
        value = value.lower()
        return value if value in POLICIES else None

    @property
    def effective_policy(self) -> str | None:
        """p, or none when p is missing/invalid but a valid rua exists (RFC 7489 §6.6.3, RFC 9989)."""
        if self.policy("p"):
            return self.policy("p")
        return "none" if self.rua else None

    @property
    def subdomain_policy(self) -> str | None:
        if "sp" in self.tags:
            return self.policy("sp")
        return self.effective_policy

    def with_tags(self, **changes: str) -> str:
        """The record rebuilt with some tag values changed or added (p right after v)."""
        tags = dict(self.tags)
        tags.update(changes)
        order = [t for t in self.order if t in tags]
        for name in changes:
            if name not in order:
                order.insert(1 if name == "p" else len(order), name)
        if "v" not in order:
            order.insert(0, "v")
            tags["v"] = "DMARC1"
        return "; ".join(f"{name}={tags[name]}" for name in order)


def _split_tags(text: str) -> list[str]:
    return [part for part in text.split(";")]


def parse_dmarc(text: str) -> DmarcRecord:
    """Parse a DMARC record; problems are collected, never raised."""
    record = DmarcRecord(text=text if isinstance(text, str) else str(text))
    text = record.text
    if not text.isascii():
        record.problems.append(DmarcProblem(None, None, "the record contains non-ASCII characters"))
    parts = _split_tags(text)
    index = 0
    while index < len(parts):
        part = parts[index]
        name, eq, value = part.partition("=")
        run_on = _RUN_ON.fullmatch(value.strip()) if eq else None
        if run_on and _TAG_NAME.fullmatch(name.strip()) and run_on.group(2).split("=")[0].strip().lower() in KNOWN_TAGS:
            # "p=reject rua=..." is two tags with the ';' between them missing: name it, and read both
            first = f"{name.strip()}={run_on.group(1)}"
            record.problems.append(DmarcProblem(name.strip().lower(), run_on.group(1),
                                                f"missing ';' after {first}", separator=True))
            parts[index:index + 1] = [first, run_on.group(2)]
        index += 1
    for index, part in enumerate(parts):
        if not part.strip():
            if index < len(parts) - 1 or index == 0:
                if index == 0:
                    record.problems.append(DmarcProblem(None, None, "the record is empty before the first ';'"))
            continue
        name, eq, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not eq:
            record.problems.append(DmarcProblem(name or None, None, "is not a tag=value pair (is a ';' or '=' missing?)"))
            continue
        if not _TAG_NAME.fullmatch(name):
            record.problems.append(DmarcProblem(name or None, value, "is not a valid tag name"))
            continue
        key = name.lower()
        if key in record.tags:
            record.problems.append(
                DmarcProblem(key, value, "appears more than once; the whole record is then invalid", duplicate=True)
            )
            continue
        record.tags[key] = value
        record.order.append(key)
    record.version_ok = bool(record.order) and record.order[0] == "v" and record.tags["v"] == "DMARC1"
    if not record.version_ok:
        if "v" not in record.tags:
            reason = "the record must start with v=DMARC1"
        elif record.order[0] != "v":
            reason = "v=DMARC1 must be the first tag"
        else:
            reason = f"v={record.tags['v']} must be exactly v=DMARC1 (upper case)"
        record.problems.append(DmarcProblem("v", record.tags.get("v"), reason))
    _validate(record)
    return record


def _validate(record: DmarcRecord) -> None:
    tags = record.tags
    problems = record.problems
    for name in record.order:
        value = tags[name]
        if name in ("p", "sp", "np"):
            if value.lower() not in POLICIES:
                problems.append(DmarcProblem(name, value, "must be none, quarantine or reject"))
        elif name == "pct":
            if not value.isdigit() or not 0 <= int(value) <= 100:
                problems.append(DmarcProblem(name, value, "must be a whole number from 0 to 100"))
        elif name in ("adkim", "aspf"):
            if value.lower() not in ("r", "s"):
                problems.append(DmarcProblem(name, value, "must be r (relaxed) or s (strict)"))
        elif name == "fo":
            options = [o.strip() for o in value.split(":")]
            if not value or any(o.lower() not in ("0", "1", "d", "s") for o in options):
                problems.append(DmarcProblem(name, value, "must be 0, 1, d or s, several joined with ':'"))
        elif name == "rf":
            formats = [f.strip().lower() for f in value.split(":")]
            if not value or any(f != "afrf" for f in formats):
                problems.append(DmarcProblem(name, value, "must be afrf"))
        elif name == "ri":
            if not value.isdigit() or int(value) > 2**32 - 1:
                problems.append(DmarcProblem(name, value, "must be a number of seconds"))
        elif name in ("t",):
            if value.lower() not in ("y", "n"):
                problems.append(DmarcProblem(name, value, "must be y or n"))
        elif name == "psd":
            if value.lower() not in ("y", "n", "u"):
                problems.append(DmarcProblem(name, value, "must be y, n or u"))
        elif name in ("rua", "ruf"):
            uris, uri_problems = _parse_uris(value)
            setattr(record, name, uris)
            problems.extend(DmarcProblem(name, bad, reason) for bad, reason in uri_problems)
        elif name not in KNOWN_TAGS:
            record.unknown.append(name)


def _parse_uris(value: str) -> tuple[list[ReportUri], list[tuple[str, str]]]:
    uris: list[ReportUri] = []
    problems: list[tuple[str, str]] = []
    if not value.strip():
        return uris, [(value, "is empty; give one or more mailto: addresses")]
    for raw in value.split(","):
        item = raw.strip()
        match = _URI.fullmatch(item)
        if not match:
            if "@" in item and ":" not in item:
                problems.append((item, "is missing the mailto: in front of the address"))
            else:
                problems.append((item, "is not a URI such as mailto:dmarc-reports@example.com"))
            continue
        scheme, rest = match.group(1).lower(), match.group(2)
        size = f"!{match.group(3)}{match.group(4) or ''}" if match.group(3) else None
        if scheme != "mailto":
            uris.append(ReportUri(uri=item, scheme=scheme, size=size))
            continue
        local, at, host = rest.rpartition("@")
        host = host.lower().rstrip(".")
        labels = host.split(".")
        if not at or not _LOCAL_PART.fullmatch(local) or len(labels) < 2 or not all(_LABEL.fullmatch(lb) for lb in labels):
            problems.append((item, "is not a valid mailto: address"))
            continue
        uris.append(ReportUri(uri=item, scheme=scheme, address=f"{local}@{host}", host=host, size=size))
    return uris, problems


def is_dmarc_record(text: str) -> bool:
    """RFC 7489 §6.6.3: only records that start with v=DMARC1 count."""
    return bool(_VERSION.match(text))


# --------------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------------


def _finding(id_: str, severity: Severity, message: str, **kwargs) -> Finding:
    return Finding(id=id_, check=CHECK, severity=severity, message=message, **kwargs)


def _txt(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return " ".join(f'"{escaped[i:i + 255]}"' for i in range(0, max(len(escaped), 1), 255))


def _fix(host: str, value: str, ttl: int | None) -> str:
    from threer.checks.context import record_fix

    return record_fix(host, "TXT", _txt(value), ttl or DEFAULT_TTL)


def _swap(host: str, old: str | None, new: str, ttl: int | None) -> list[RecordChange]:
    """The changes of a fix that replaces the TXT record `old` at `host` with `new` (adds it when None)."""
    changes = [remove(host, "TXT", _txt(old), ttl or DEFAULT_TTL)] if old is not None else []
    return changes + [add(host, "TXT", _txt(new), ttl or DEFAULT_TTL)]


@dataclass
class _Found:
    """Where the policy came from and what was there."""

    domain: str  # the domain whose _dmarc record applies
    lookup: Lookup
    records: list[str]  # v=DMARC1 records
    candidates: list[str]  # TXT records that look like DMARC but are not accepted


def _found(domain: str, lookup: Lookup) -> _Found:
    records = [r for r in lookup.records if is_dmarc_record(r)] if lookup.exists else []
    candidates = [r for r in lookup.records if not is_dmarc_record(r) and _LOOKS_LIKE_DMARC.search(r)] if lookup.exists else []
    return _Found(domain, lookup, records, candidates)


MAX_WALK = 8  # RFC 9989 §4.10: the DNS tree walk asks at most 8 names
_WALK_JUMP = 7  # a name of 8 or more labels is followed by its 7 rightmost labels


def walk_names(domain: str) -> list[str]:
    """The names the RFC 9989 §4.10 DNS tree walk asks `_dmarc.` of, longest first: the domain, then
    (after a jump to 7 labels for a long name) one label shorter at a time, down to the top-level
    domain, at most 8 in all."""
    labels = domain.lower().rstrip(".").split(".")
    names = [".".join(labels)]
    current = labels
    if len(current) >= MAX_WALK:
        current = current[-_WALK_JUMP:]
        names.append(".".join(current))
    while len(current) > 1 and len(names) < MAX_WALK:
        current = current[1:]
        names.append(".".join(current))
    return names[:MAX_WALK]


def tree_walk_org(found: list["_Found"]) -> str | None:
    """RFC 9989 §4.10's organisational domain from the walk's records (longest name first): the first
    name whose record says psd=n; the name below the first psd=y record; else the shortest name with a
    record (a top-level domain's own record aside). None when no name has one."""
    with_record = [f for f in found if f.records]
    for i, f in enumerate(found):
        if not f.records:
            continue
        psd = parse_dmarc(f.records[0]).tags.get("psd", "").lower()
        if psd == "n":
            return f.domain
        if psd == "y":
            return found[i - 1].domain if i > 0 else f.domain
    below_tld = [f for f in with_record if "." in f.domain]
    return below_tld[-1].domain if below_tld else None


async def check_dmarc(ctx: "CheckContext") -> list[Finding]:
    """Judge the DMARC policy that applies to the domain: the first record the RFC 9989 DNS tree walk
    finds, from the domain itself up towards the top-level domain (all names asked at once)."""
    domain = ctx.domain
    resolver = ctx.resolver
    names = walk_names(domain)
    lookups = await asyncio.gather(*(resolver.query(f"_dmarc.{name}", "TXT") for name in names))
    walked = [_found(name, lookup) for name, lookup in zip(names, lookups)]
    own = walked[0]
    if own.lookup.is_error:
        return [_lookup_error(f"_dmarc.{domain}", own.lookup)]
    findings: list[Finding] = []
    found = own
    if not own.records and not own.candidates:
        for parent in walked[1:]:
            if parent.lookup.is_error:
                # the walk cannot go past a name it could not ask: the policy is unknown, not missing
                return [_lookup_error(f"_dmarc.{parent.domain}", parent.lookup)]
            if parent.records or parent.candidates:
                found = parent
                break
    if not found.records:
        if found.candidates:
            return [_not_dmarc1(found)]
        # nothing published anywhere on the walk: the record belongs at the registrable domain, where it
        # covers every subdomain (the Public Suffix List says where that is; the walk cannot)
        return await _missing(ctx, organisational_domain(domain))
    if len(found.records) > 1:
        return [
            _finding(
                "dmarc.multiple",
                Severity.FAIL,
                f"_dmarc.{found.domain} has {len(found.records)} DMARC records; with more than one, receivers apply "
                "no DMARC policy at all.",
                fix=f"Delete all but one of them, for example keep: {_fix('_dmarc.' + found.domain, found.records[0], found.lookup.ttl)}",
                observed=found.records,
                changes=[remove(f"_dmarc.{found.domain}", "TXT", _txt(r), found.lookup.ttl) for r in found.records[1:]],
            )
        ]
    record = parse_dmarc(found.records[0])
    host = f"_dmarc.{found.domain}"
    ttl = found.lookup.ttl
    inherited = found.domain != domain
    if inherited:
        findings.append(
            _finding(
                "dmarc.inherited",
                Severity.INFO,
                f"{domain} has no DMARC record of its own; the policy of its organisational domain {found.domain} "
                f"applies (sp={record.subdomain_policy or 'not set'}).",
                observed={"record": record.text, "from": host},
            )
        )
    findings += _one_record(record, host, _syntax_findings(record, host, ttl)
                            + _policy_findings(record, host, ttl, inherited, domain), inherited, domain)
    findings += await _report_findings(resolver, record, found.domain, host, ttl)
    if not any(f.severity in (Severity.WARN, Severity.FAIL, Severity.ERROR) for f in findings):
        policy = record.subdomain_policy if inherited else record.effective_policy
        findings.insert(
            0,
            _finding(
                "dmarc.ok",
                Severity.OK,
                f"{domain} has a valid DMARC policy: p={policy}" + (f" (from {found.domain})" if inherited else "") + ".",
                observed={"record": record.text, "from": host},
            ),
        )
    return findings


def _lookup_error(name: str, lookup: Lookup) -> Finding:
    return _finding(
        "dmarc.lookup-error",
        Severity.ERROR,
        f"Could not look up {name}, so DMARC was not checked: {lookup.detail or lookup.status.value}.",
        observed={"name": name, "status": lookup.status.value, "detail": lookup.detail},
    )


def _not_dmarc1(found: _Found) -> Finding:
    parsed = parse_dmarc(found.candidates[0])
    version = next((p for p in parsed.problems if p.tag == "v"), None)
    reason = version.reason if version else "it does not start with v=DMARC1"
    fixed = parsed.with_tags(v="DMARC1")
    if parsed.order and parsed.order[0] != "v":
        fixed = "v=DMARC1; " + "; ".join(f"{n}={parsed.tags[n]}" for n in parsed.order if n != "v")
    return _finding(
        "dmarc.version",
        Severity.FAIL,
        f"The TXT record at _dmarc.{found.domain} looks like DMARC but receivers ignore it: {reason}.",
        fix=_fix(f"_dmarc.{found.domain}", fixed, found.lookup.ttl),
        observed=found.candidates,
        changes=_swap(f"_dmarc.{found.domain}", found.candidates[0], fixed, found.lookup.ttl),
        expected="v=DMARC1 as the first tag",
    )


async def _missing(ctx: "CheckContext", org: str) -> list[Finding]:
    domain = ctx.domain
    suggestion = f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{org}"
    apex = await ctx.resolver.query(domain, "TXT")  # usually already asked by the SPF check
    misplaced = [r for r in apex.records if is_dmarc_record(r)] if apex.exists else []
    if misplaced:
        return [
            _finding(
                "dmarc.misplaced",
                Severity.FAIL,
                f"The DMARC record of {domain} is published at {domain} itself; receivers only look at _dmarc.{domain}, "
                "so the domain has no DMARC policy.",
                fix=f"Move it: delete the TXT record at {domain} and publish "
                + _fix(f"_dmarc.{domain}", misplaced[0], apex.ttl),
                observed={domain: misplaced},
                changes=[remove(domain, "TXT", _txt(misplaced[0]), apex.ttl), add(f"_dmarc.{domain}", "TXT", _txt(misplaced[0]), apex.ttl)],
            )
        ]
    where = f"_dmarc.{domain}" + (f" nor _dmarc.{org}" if org != domain else "")
    return [
        _finding(
            "dmarc.missing",
            Severity.FAIL,
            f"No DMARC record at {where}: receivers have no policy for mail that fails SPF and DKIM, and nobody gets "
            "reports about spoofing.",
            fix=_fix(f"_dmarc.{org}", suggestion, None)
            + "  (start with p=none and a mailbox that exists; move to p=quarantine, then p=reject, once reports are clean)",
            expected=suggestion,
            changes=_swap(f"_dmarc.{org}", None, suggestion, None),
        )
    ]


def _syntax_findings(record: DmarcRecord, host: str, ttl: int | None) -> list[Finding]:
    findings: list[Finding] = []
    # an invalid p= is reported by dmarc.policy-missing; a record reaching here has a good v=
    problems = [
        p for p in record.problems if p.tag != "v" and not (p.tag == "p" and not p.duplicate and record.policy("p") is None)
    ]
    if problems:
        fixed = _repaired(record)
        findings.append(
            _finding(
                "dmarc.syntax",
                Severity.FAIL,
                f"The DMARC record at {host} has errors: " + "; ".join(p.describe() for p in problems) + ".",
                fix=_fix(host, fixed, ttl) if fixed else f"Correct the tags named above in the TXT record at {host}.",
                changes=_swap(host, record.text, fixed, ttl) if fixed else [],
                observed=[{"tag": p.tag, "value": p.value, "reason": p.reason} for p in problems],
            )
        )
    if record.unknown:
        findings.append(
            _finding(
                "dmarc.unknown-tag",
                Severity.WARN,
                f"The DMARC record at {host} has tags receivers do not know and ignore: {', '.join(record.unknown)} "
                "(often a typo, such as rue= for rua=).",
                fix=f"Correct or remove {', '.join(t + '=' for t in record.unknown)} in the TXT record at {host}.",
                observed=record.unknown,
                expected=list(KNOWN_TAGS),
            )
        )
    obsolete = [t for t in OBSOLETE_TAGS if t in record.tags]
    if obsolete:
        findings.append(
            _finding(
                "dmarc.obsolete-tag",
                Severity.INFO,
                f"The DMARC record at {host} uses {', '.join(t + '=' for t in obsolete)}, which RFC 9989 removed; newer "
                "receivers ignore them (" + "; ".join(f"{t}= → {OBSOLETE_TAGS[t]}" for t in obsolete) + ").",
                observed={t: record.tags[t] for t in obsolete},
            )
        )
    return findings


def _repaired(record: DmarcRecord) -> str | None:
    """The record with the tags in error dropped or corrected, when it starts with v=DMARC1."""
    if not record.order or record.order[0] != "v":
        return None
    tags = dict(record.tags)
    for problem in record.problems:
        tag = problem.tag
        if tag is None or problem.duplicate or problem.separator or tag not in tags or tag == "v":
            continue  # rebuilding from the parsed tags already drops junk and repeats, and puts the ';' back
        if tag in ("rua", "ruf"):
            kept = _repaired_uris(tags[tag])
            if kept:
                tags[tag] = kept
            else:
                tags.pop(tag)
        elif tag in ("p", "sp", "np"):
            import difflib

            # a typo keeps the policy it was meant to be (rejct -> reject); anything else is what receivers apply now
            close = difflib.get_close_matches(tags[tag].lower(), POLICIES, n=1, cutoff=0.6)
            if close:
                tags[tag] = close[0]
            elif tag == "p":
                tags["p"] = "none"
            else:
                tags.pop(tag)
        else:
            tags.pop(tag)
    return "; ".join(f"{n}={tags[n]}" for n in record.order if n in tags)


def _repaired_uris(value: str) -> str | None:
    """A rua=/ruf= value with its good URIs kept in order, a bare address given the mailto: it lacks,
    and anything else dropped; None when nothing is left."""
    kept = []
    for raw in value.split(","):
        item = raw.strip()
        for candidate in (item, f"mailto:{item}") if "@" in item and ":" not in item else (item,):
            uris, problems = _parse_uris(candidate)
            if uris and not problems:
                kept.append(candidate)
                break
    return ",".join(kept) or None


def _proposed(finding: Finding, host: str) -> str | None:
    """The DMARC record a finding's fix publishes at `host` (None when its fix publishes none)."""
    for change in finding.changes:
        if change.action == "add" and change.rdtype == "TXT" and change.name == host.rstrip("."):
            text = _untxt(change.value)
            if is_dmarc_record(text):
                return text
    return None


def _untxt(value: str) -> str:
    """The text of a TXT value written by _txt ("..." "...")."""
    return "".join(part.replace('\\"', '"').replace("\\\\", "\\") for part in re.findall(r'"((?:[^"\\]|\\.)*)"', value))


def combine(record: DmarcRecord, proposals: list[str]) -> str:
    """One record making every change the proposals make to `record`: a tag that one of them drops
    or sets is dropped or set; where two of them touch the same tag, the first one decides (the
    syntax repair comes first, so the customer's own report address wins over a suggested one)."""
    decided: dict[str, str | None] = {}
    for text in proposals:
        new = parse_dmarc(text)
        for name in record.order:
            if name not in new.tags:
                decided.setdefault(name, None)
        for name in new.order:
            if record.tags.get(name) != new.tags[name]:
                decided.setdefault(name, new.tags[name])
    tags = {name: record.tags[name] for name in record.order}
    order = list(record.order)
    for name, value in decided.items():
        if value is None:
            tags.pop(name, None)
            continue
        tags[name] = value
        if name not in order:
            order.insert(1 if name == "p" else len(order), name)
    return "; ".join(f"{name}={tags[name]}" for name in order if name in tags)


def _one_record(record: DmarcRecord, host: str, findings: list[Finding], inherited: bool, domain: str) -> list[Finding]:
    """Findings that would each re-publish the record at `host` share one record making all their
    changes: two v=DMARC1 records at one name are no policy at all (RFC 9989 §4.10, RFC 7489
    §6.6.3). The record is judged by this check before it is shown; one that still has an error, or
    still gives one of those findings, is not proposed, and the fix says what to correct instead."""
    members = [i for i, f in enumerate(findings) if _proposed(f, host) is not None]
    if not members:
        return findings
    combined = combine(record, [p for i in members if (p := _proposed(findings[i], host)) is not None])
    judged = parse_dmarc(combined)
    ids = {findings[i].id for i in members}
    again = {f.id for f in _syntax_findings(judged, host, None) + _policy_findings(judged, host, None, inherited, domain)}
    problems = [p.describe() for p in judged.problems]
    if not is_dmarc_record(combined) or problems or ids & again:
        why = "; ".join(problems) if problems else "it would still give " + ", ".join(sorted(ids & again))
        fix = (f"No single record can be proposed ({why}): correct the tags named above in the TXT record at {host}, "
               "keeping one v=DMARC1 record there, and run the check again.")
        return [replace(findings[i], fix=fix, changes=[]) if i in members else f
                for i, f in enumerate(findings)]
    out = list(findings)
    for i in members:
        finding = findings[i]
        old = next(c for c in finding.changes if c.action == "add" and _proposed(finding, host) is not None
                   and c.rdtype == "TXT" and c.name == host.rstrip("."))
        new = replace(old, value=_txt(combined))
        others = [findings[j].id for j in members if j != i]
        note = f" (one record for this and {', '.join(others)})" if others else ""
        out[i] = replace(finding,
            fix=(finding.fix or "").replace(old.line, new.line + note, 1),
            changes=[new if c is old else c for c in finding.changes],
        )
    return out


def _policy_findings(record: DmarcRecord, host: str, ttl: int | None, inherited: bool, domain: str) -> list[Finding]:
    findings: list[Finding] = []
    p = record.policy("p")
    if p is None:
        treated = "p=none (because it has a valid rua=)" if record.rua else "no DMARC at all"
        findings.append(
            _finding(
                "dmarc.policy-missing",
                Severity.FAIL,
                f"The DMARC record at {host} has {'no p= tag' if 'p' not in record.tags else 'an invalid p=' + record.tags['p']}; "
                f"RFC 7489 requires one, and receivers treat the record as {treated}.",
                fix=_fix(host, _repaired(record) if "p" in record.tags else record.with_tags(p="none"), ttl)
                + "  (p=none is what receivers apply now; move to p=quarantine once reports show real mail passing)",
                changes=_swap(host, record.text, _repaired(record) if "p" in record.tags else record.with_tags(p="none"), ttl),
                observed=record.text,
                expected="p=none, p=quarantine or p=reject",
            )
        )
    elif p == "none":
        # RFC 7489 §6.6.3/§7, RFC 9989: reports first; raising the policy is advice with its precondition,
        # never a record to paste (mail that fails SPF today would be quarantined the moment it is)
        first = ("" if record.rua else "First ask for aggregate reports: add rua= (dmarc.no-reports gives the record), "
                 "and keep p=none while they arrive. ")
        findings.append(
            _finding(
                "dmarc.policy-none",
                Severity.WARN,
                f"The DMARC policy at {host} is p=none: mail that fails SPF and DKIM is still delivered, so the domain is "
                "not protected against spoofing. Move to p=quarantine once the reports show all real mail passing, then "
                "to p=reject.",
                fix=first + f"When the aggregate reports show every real sender passing SPF or DKIM aligned with {host[7:]} "
                f"(for some weeks), change p=none to p=quarantine in the TXT record at {host}, and later to p=reject; "
                "until then p=none is right, and enforcing it would send real mail that still fails to junk.",
                observed="p=none",
                expected="p=quarantine or p=reject",
            )
        )
    if p in ("quarantine", "reject"):
        weak = [t for t in ("sp", "np") if record.policy(t) == "none"]
        if weak:
            findings.append(
                _finding(
                    "dmarc.subdomain-policy-weak",
                    Severity.WARN if not inherited else Severity.FAIL,
                    f"The DMARC record at {host} has p={p} but {', '.join(t + '=none' for t in weak)}: "
                    + ("subdomains such as " + domain + " are not protected." if inherited else "anyone can spoof subdomains.")
                    ,
                    fix=_fix(host, record.with_tags(**{t: p for t in weak}), ttl),
                    changes=_swap(host, record.text, record.with_tags(**{t: p for t in weak}), ttl),
                    observed={t: "none" for t in weak},
                    expected=p,
                )
            )
    pct = record.tags.get("pct")
    testing = record.tags.get("t", "").lower() == "y"
    if pct is not None and pct.isdigit() and int(pct) < 100 and p in ("quarantine", "reject") and not testing:
        # the repair keeps what receivers apply now: pct for those that still read it, and t=y, RFC 9989's
        # replacement (it reads pct below 100 as t=y), for those that do not; dropping pct would enforce p in full
        kept = record.with_tags(t="y")
        findings.append(
            _finding(
                "dmarc.pct",
                Severity.WARN,
                f"The DMARC record at {host} has pct={pct}: receivers that still read pct apply p={p} to only {pct}% of "
                "failing mail, and those that follow RFC 9989, which dropped pct, apply it to all (use t=y while testing "
                "instead).",
                fix="Add t=y so that every receiver keeps testing (pct stays for those that still read it): "
                + _fix(host, kept, ttl)
                + f"  (remove pct and t=y together once the reports show all real mail passing, to apply p={p} in full)",
                changes=_swap(host, record.text, kept, ttl),
                observed=f"pct={pct}",
                expected=f"t=y with pct={pct}, or neither",
            )
        )
    if testing:
        findings.append(
            _finding(
                "dmarc.testing",
                Severity.WARN,
                f"The DMARC record at {host} has t=y (testing): receivers apply a policy one step weaker than p={p}.",
                fix="When the aggregate reports show every real sender passing, remove t=y"
                + (f" (and pct={pct})" if pct is not None else "")
                + f" from the TXT record at {host} to apply p={p} in full; until then t=y is right.",
                observed="t=y",
                expected="no t (or t=n)",
            )
        )
    sized = [u for u in [*record.rua, *record.ruf] if u.size]
    if sized:
        trimmed = {
            tag: ",".join(u.uri[: -len(u.size)] if u.size else u.uri for u in getattr(record, tag))
            for tag in ("rua", "ruf") if getattr(record, tag) and any(u.size for u in getattr(record, tag))
        }
        findings.append(
            _finding(
                "dmarc.report-size",
                Severity.INFO,
                f"The DMARC record at {host} limits report sizes with {', '.join(u.size for u in sized)} "
                f"({', '.join(u.uri for u in sized)}); RFC 9989 dropped the !size suffix, so newer receivers may "
                "ignore it or misread the address.",
                fix=_fix(host, record.with_tags(**trimmed), ttl),
                changes=_swap(host, record.text, record.with_tags(**trimmed), ttl),
                observed=[u.uri for u in sized],
            )
        )
    if not record.rua:
        findings.append(
            _finding(
                "dmarc.no-reports",
                Severity.INFO,
                f"The DMARC record at {host} asks for no aggregate reports (no valid rua=), so nobody sees who sends mail "
                "as the domain or whether real mail fails.",
                fix=_fix(host, record.with_tags(rua=f"mailto:dmarc-reports@{organisational_domain(host[7:])}"), ttl)
                + "  (use a mailbox that exists)",
                changes=_swap(host, record.text, record.with_tags(rua=f"mailto:dmarc-reports@{organisational_domain(host[7:])}"), ttl),
            )
        )
    return findings


async def _report_findings(
    resolver: "Resolver", record: DmarcRecord, policy_domain: str, host: str, ttl: int | None
) -> list[Finding]:
    """RFC 9990 §4 (was RFC 7489 §7.1): a report address in another organisational domain must be
    authorised by it, at `<domain>._report._dmarc.<host>`; a wildcard `*._report._dmarc.<host>` record
    answers that name too (DNS wildcard synthesis), so it authorises every domain."""
    org = organisational_domain(policy_domain)
    external: dict[str, list[str]] = {}
    for tag, uris in (("rua", record.rua), ("ruf", record.ruf)):
        for uri in uris:
            if uri.host and organisational_domain(uri.host) != org:
                external.setdefault(uri.host, []).append(f"{tag}={uri.uri}")
    if not external:
        return []
    hosts = sorted(external)
    names = [f"{policy_domain}._report._dmarc.{h}" for h in hosts]
    lookups = await asyncio.gather(*(resolver.query(n, "TXT") for n in names))
    findings: list[Finding] = []
    for report_host, name, lookup in zip(hosts, names, lookups):
        if lookup.is_error:
            findings.append(
                _finding(
                    "dmarc.report-auth-error",
                    Severity.ERROR,
                    f"Could not look up {name}, so it is unknown whether {report_host} accepts DMARC reports for "
                    f"{policy_domain}: {lookup.detail or lookup.status.value}.",
                    observed={"name": name, "status": lookup.status.value},
                )
            )
            continue
        authorised = lookup.exists and any(is_dmarc_record(r) for r in lookup.records)
        if not authorised:
            findings.append(
                _finding(
                    "dmarc.report-not-authorised",
                    Severity.WARN,
                    f"Reports for {policy_domain} go to {report_host} ({', '.join(external[report_host])}), another "
                    f"domain that has not authorised them, so receivers will not send them there.",
                    fix=f"The owner of {report_host} publishes " + _fix(name, "v=DMARC1", None)
                    + f" (or, to accept reports for any domain, {_fix(f'*._report._dmarc.{report_host}', 'v=DMARC1', None)}:"
                    " RFC 9990 §4 allows the wildcard), or change the address to a mailbox in " + f"{org}.",
                    observed={"name": name, "status": lookup.status.value},
                    expected="v=DMARC1",
                )
            )
    return findings
