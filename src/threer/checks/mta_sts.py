"""The `mta-sts` check (RFC 8461): the `_mta-sts` TXT record, the policy file it announces, and
whether every live MX host is covered by the policy.

- TXT `_mta-sts.<domain>`: exactly one record starting `v=STSv1`, with `id=` of 1-32 letters and
  digits (§3.1). More than one such record means senders ignore MTA-STS.
- The policy at `https://mta-sts.<domain>/.well-known/mta-sts.txt` (§3.2, §3.3): fetched with no
  redirect followed, a certificate valid for `mta-sts.<domain>`, HTTP 200, media type `text/plain`,
  at most 64 KiB (§3.3's suggested maximum, which senders may enforce); `version`, `mode`, `mx` and
  `max_age` parsed.
- Each MX host of the domain must match one of the policy's `mx` patterns exactly, a `*.` wildcard
  standing for one whole leftmost label only (§4.1); in `enforce` mode a host not covered gets no mail
  from senders that apply MTA-STS.

The TXT record without the policy, or the policy without the TXT record, is a `fail`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from threer.checks.context import CheckContext, lookup_error, record_fix
from threer.checks.https import ENDPOINT_SLUGS, ProbeFailure, ProbeResult, endpoint_findings, name_matches, probe
from threer.checks.resolver import Lookup
from threer.findings import Finding, RecordChange, Severity

CHECK = "mta-sts"
POLICY_PATH = "/.well-known/mta-sts.txt"
POLICY_MAX_BYTES = 64 * 1024  # RFC 8461 §3.3: "a suggested maximum policy size is 64 kilobytes"
MAX_AGE_LIMIT = 31_557_600  # RFC 8461 §3.2: the largest max_age allowed (about one year)
MAX_AGE_SHORT = 86_400  # under a day, a policy protects little between fetches

FINDING_IDS: frozenset[str] = frozenset(
    {
        "mta-sts.not-configured",
        "mta-sts.lookup-error",
        "mta-sts.txt-ok",
        "mta-sts.txt-missing",
        "mta-sts.txt-multiple",
        "mta-sts.txt-invalid",
        "mta-sts.policy-ok",
        "mta-sts.policy-missing",
        "mta-sts.policy-redirect",
        "mta-sts.policy-status",
        "mta-sts.policy-too-large",
        "mta-sts.policy-content-type",
        "mta-sts.policy-invalid",
        "mta-sts.mode-enforce",
        "mta-sts.mode-testing",
        "mta-sts.mode-none",
        "mta-sts.max-age-short",
        "mta-sts.mx-ok",
        "mta-sts.mx-mismatch",
        "mta-sts.skipped",
    }
    | {f"mta-sts.policy-{slug}" for slug in ENDPOINT_SLUGS}
)

# -- parsing (RFC 8461 §3.1, §3.2) ---------------------------------------------------------------

_WSP = " \t"
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_TXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")  # printable ASCII except ";" and "="
_STS_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_MX_PATTERN = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})+\.?")
_MODES = ("enforce", "testing", "none")


@dataclass(frozen=True)
class StsRecord:
    """A `_mta-sts` TXT record as parsed; `errors` empty means senders accept it."""

    text: str
    id: str | None
    errors: tuple[str, ...] = ()


def parse_sts_record(text: str) -> StsRecord:
    """Parse one TXT record that starts with `v=STSv1` (RFC 8461 §3.1)."""
    errors: list[str] = []
    parts = text.split(";")
    if parts[0].rstrip(_WSP) != "v=STSv1":
        errors.append(f"it must start with exactly v=STSv1; it starts {parts[0][:20]!r}")
    if len(parts) > 1 and parts[-1].strip(_WSP) == "":
        parts = parts[:-1]  # one trailing ";" is allowed
    record_id: str | None = None
    for index, raw in enumerate(parts[1:], start=2):
        field = raw.strip(_WSP)
        if not field:
            errors.append(f"field {index} is empty (two ';' in a row)")
            continue
        key, sep, value = field.partition("=")
        if not sep or not _KEY.fullmatch(key) or not _TXT_VALUE.fullmatch(value):
            errors.append(f"{field[:40]!r} is not a key=value field")
            continue
        if key == "id":
            if record_id is not None:
                errors.append("id appears more than once")
            elif not _STS_ID.fullmatch(value):
                errors.append(f"id={value[:40]} must be 1 to 32 letters and digits only")
            else:
                record_id = value
    if record_id is None and not any(e.startswith("id=") or e.startswith("id appears") for e in errors):
        errors.append("the id= field is missing")
    return StsRecord(text=text, id=record_id, errors=tuple(errors))


@dataclass(frozen=True)
class StsPolicy:
    """A policy file as parsed; `errors` empty means senders accept it."""

    version: str | None = None
    mode: str | None = None
    mx: tuple[str, ...] = ()
    max_age: int | None = None
    errors: tuple[str, ...] = ()
    unknown_fields: tuple[str, ...] = ()  # extension fields are allowed and ignored; typos land here too


def parse_sts_policy(text: str) -> StsPolicy:
    """Parse a policy body (RFC 8461 §3.2): `key: value` lines separated by LF or CRLF."""
    errors: list[str] = []
    unknown: list[str] = []
    singles: dict[str, str] = {}
    mx: list[str] = []
    lines = text.split("\n")
    while lines and lines[-1].strip("\r" + _WSP) == "":
        lines.pop()  # trailing line breaks are allowed
    for number, line in enumerate(lines, start=1):
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip(_WSP):
            errors.append(f"line {number} is empty")
            continue
        if line[0] in _WSP:
            errors.append(f"line {number} starts with white space")
            continue
        key, sep, value = line.partition(":")
        value = value.strip(_WSP)
        if not sep or not _KEY.fullmatch(key):
            errors.append(f"line {number} ({line[:40]!r}) is not a 'key: value' line")
            continue
        if key == "mx":
            if not _MX_PATTERN.fullmatch(value):
                errors.append(f"mx: {value[:60]!r} is not a host name or a *. pattern")
            else:
                mx.append(value.rstrip(".").lower())
        elif key in ("version", "mode", "max_age"):
            if key in singles:
                errors.append(f"{key} appears more than once")
                continue
            singles[key] = value
        else:
            unknown.append(key)
    version = singles.get("version")
    if version is None:
        errors.append("the version field is missing (version: STSv1)")
    elif version != "STSv1":
        errors.append(f"version is {version[:20]!r}; it must be STSv1")
    mode = singles.get("mode")
    if mode is None:
        errors.append("the mode field is missing (mode: enforce, testing or none)")
    elif mode not in _MODES:
        errors.append(f"mode is {mode[:20]!r}; it must be enforce, testing or none")
        mode = None
    max_age: int | None = None
    raw_age = singles.get("max_age")
    if raw_age is None:
        errors.append("the max_age field is missing (seconds, e.g. max_age: 604800)")
    elif not raw_age.isascii() or not raw_age.isdigit() or len(raw_age) > 10:
        errors.append(f"max_age is {raw_age[:20]!r}; it must be a whole number of seconds")
    else:
        max_age = int(raw_age)
        if max_age > MAX_AGE_LIMIT:
            errors.append(f"max_age {max_age} is over the maximum of {MAX_AGE_LIMIT} seconds (one year)")
    if mode in ("enforce", "testing") and not mx:
        errors.append(f"mode {mode} needs at least one mx line")
    return StsPolicy(
        version=version,
        mode=mode,
        mx=tuple(mx),
        max_age=max_age,
        errors=tuple(errors),
        unknown_fields=tuple(unknown),
    )


def mx_covered(host: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """RFC 8461 §4.1: an exact match, or `*.rest` matching exactly one leftmost label before `rest`."""
    return any(name_matches(pattern, host) for pattern in patterns)


# -- the check ---------------------------------------------------------------------------------


def _finding(id: str, severity: Severity, message: str, **fields: Any) -> Finding:
    return Finding(id=f"{CHECK}.{id}", check=CHECK, severity=severity, message=message, **fields)


def _txt_value(ctx: CheckContext) -> str:
    # a new id tells senders to fetch the policy again; the time of the check makes a unique one
    return f'"v=STSv1; id={ctx.now:%Y%m%d%H%M%S}"'


def _txt_fix(ctx: CheckContext) -> str:
    return record_fix(f"_mta-sts.{ctx.domain}", "TXT", _txt_value(ctx))


def _txt_changes(ctx: CheckContext, old: list[str], ttl: int | None = None) -> list[RecordChange]:
    """The TXT record replaced by one with a new id (the old ones removed)."""
    from threer.checks.spf import txt_value
    from threer.findings import add, remove

    name = f"_mta-sts.{ctx.domain}"
    return [*(remove(name, "TXT", txt_value(r), ttl) for r in old), add(name, "TXT", _txt_value(ctx))]


async def check_mta_sts(ctx: CheckContext) -> list[Finding]:
    txt_name = f"_mta-sts.{ctx.domain}"
    url = f"https://mta-sts.{ctx.domain}{POLICY_PATH}"
    if ctx.dns_only:
        txt = await ctx.resolver.query(txt_name, "TXT")
        findings, _ = _judge_txt(ctx, txt_name, txt)
        if findings and findings[0].id == "mta-sts.not-configured":
            return findings
        return findings + [
            _finding(
                "skipped",
                Severity.INFO,
                f"The policy at {url} was not fetched: --dns-only skips connections to hosts, "
                "so the policy and its match with the MX records are unknown.",
            )
        ]
    txt, mx, result = await asyncio.gather(
        ctx.resolver.query(txt_name, "TXT"),
        ctx.resolver.query(ctx.domain, "MX"),
        _policy_fetch(ctx),
    )
    txt_findings, txt_state = _judge_txt(ctx, txt_name, txt)
    policy, policy_findings, policy_state = _judge_policy(ctx, url, result)
    if txt_state == "absent":
        if policy is None or policy.version != "STSv1":
            # no TXT record, and nothing at the policy address that looks like a policy
            return txt_findings
        findings = [
            _finding(
                "txt-missing",
                Severity.FAIL,
                f"A policy is published at {url}, but {txt_name} has no v=STSv1 TXT record, so senders never look for it.",
                fix=f"Add this record: {_txt_fix(ctx)}",
                expected="v=STSv1; id=<letters and digits>",
                changes=_txt_changes(ctx, []),
            )
        ]
    elif txt_state == "unknown" and policy_state != "present":
        return txt_findings  # the TXT could not be looked up; the policy alone says nothing more
    else:
        findings = txt_findings
    findings += policy_findings
    if policy is not None and not policy.errors:
        new_id = _new_id(ctx, txt)
        findings += _judge_mode(ctx, url, policy, new_id)
        findings += _judge_mx(ctx, url, policy, mx, new_id)
    return findings


def _new_id(ctx: CheckContext, txt: Lookup) -> tuple[str, list[RecordChange]]:
    """How to change the policy id: the words of a fix (the record replaced, whole) and its changes.
    Senders fetch the policy again only when the id changes (RFC 8461 §3.1), so a policy change needs
    this record in the zone as much as in the prose."""
    old = [r for r in txt.records if r.lower().startswith("v=stsv1")] if not txt.is_error else []
    changes = _txt_changes(ctx, old, txt.ttl)
    removed = [c.line for c in changes if c.action == "remove"]
    if removed:
        return f"replace the TXT record {' and '.join(removed)} with {_txt_fix(ctx)}", changes
    return f"change the id in the TXT record: {_txt_fix(ctx)}", changes


_FETCH_KEY = "_mta_sts_fetch"


async def _policy_fetch(ctx: CheckContext) -> ProbeResult:
    """The policy file's fetch, done once per context however many checks ask (mta-sts and smtp)."""
    task = ctx.__dict__.get(_FETCH_KEY)
    if task is None:
        task = asyncio.ensure_future(
            probe(
                f"https://mta-sts.{ctx.domain}{POLICY_PATH}",
                timeout=ctx.http_timeout,
                verify=ctx.verify,
                follow_redirects=False,  # RFC 8461 §3.3: redirects MUST NOT be followed
                max_bytes=POLICY_MAX_BYTES,
                connect_overrides=getattr(ctx, "connect_overrides", None),
                resolver=ctx.resolver,
            )
        )
        ctx.__dict__[_FETCH_KEY] = task
    result: ProbeResult = await asyncio.shield(task)
    return result


async def enforced_policy(ctx: CheckContext) -> StsPolicy | None:
    """The domain's MTA-STS policy when senders that apply MTA-STS enforce it: a valid `_mta-sts` TXT
    record and a valid policy file (HTTP 200, text/plain) in mode `enforce` (RFC 8461 §5); else None."""
    txt_name = f"_mta-sts.{ctx.domain}"
    if _judge_txt(ctx, txt_name, await ctx.resolver.query(txt_name, "TXT"))[1] != "valid":
        return None  # no policy announced: nothing to fetch
    result = await _policy_fetch(ctx)
    if result.content_type != "text/plain":
        return None
    policy, _, _ = _judge_policy(ctx, f"https://mta-sts.{ctx.domain}{POLICY_PATH}", result)
    if policy is None or policy.errors or policy.mode != "enforce":
        return None
    return policy


def _judge_txt(ctx: CheckContext, txt_name: str, txt: Lookup) -> tuple[list[Finding], str]:
    """Findings for the TXT record, and its state: valid, invalid, absent or unknown."""
    if txt.is_error:
        return [lookup_error(CHECK, f"{txt_name} TXT", txt, so="so whether MTA-STS is on is unknown.")], "unknown"
    records = list(txt.records) if txt.exists else []
    sts = [r for r in records if r.startswith("v=STSv1")]
    near_misses = [r for r in records if not r.startswith("v=STSv1") and r.replace(" ", "").lower().startswith("v=stsv1")]
    if not sts and near_misses:
        return [
            _finding(
                "txt-invalid",
                Severity.FAIL,
                f"{txt_name} has {near_misses[0]!r}, which senders discard: the record must start with exactly v=STSv1.",
                fix=f"Replace it with: {_txt_fix(ctx)}",
                observed=near_misses,
                changes=_txt_changes(ctx, near_misses, txt.ttl),
                expected="v=STSv1; id=<letters and digits>",
            )
        ], "invalid"
    if not sts:
        return [
            _finding(
                "not-configured",
                Severity.INFO,
                f"MTA-STS is not set up: {txt_name} has no v=STSv1 TXT record. It is optional; it makes "
                "sending servers insist on TLS to your MX hosts.",
                observed=records or None,
            )
        ], "absent"
    if len(sts) > 1:
        return [
            _finding(
                "txt-multiple",
                Severity.FAIL,
                f"{txt_name} has {len(sts)} v=STSv1 records; with more than one, senders ignore MTA-STS altogether (RFC 8461 §3.1).",
                fix=f"Delete the {len(sts)} records and publish one: {_txt_fix(ctx)}",
                observed=sts,
                changes=_txt_changes(ctx, sts, txt.ttl),
            )
        ], "invalid"
    record = parse_sts_record(sts[0])
    if record.errors:
        return [
            _finding(
                "txt-invalid",
                Severity.FAIL,
                f"{txt_name} TXT {sts[0]!r} is not valid: {'; '.join(record.errors)}.",
                fix=f"Replace it with: {_txt_fix(ctx)}",
                observed=sts[0],
                changes=_txt_changes(ctx, [sts[0]], txt.ttl),
                expected="v=STSv1; id=<1 to 32 letters and digits>",
            )
        ], "invalid"
    return [
        _finding("txt-ok", Severity.OK, f"{txt_name} announces an MTA-STS policy (id={record.id}).", observed=sts[0])
    ], "valid"


def _judge_policy(ctx: CheckContext, url: str, result: ProbeResult) -> tuple[StsPolicy | None, list[Finding], str]:
    """The policy (when one was fetched), its findings, and its state: present, absent, unknown or broken."""
    host = f"mta-sts.{ctx.domain}"
    fix_host = f"Publish the policy at {url} (a web server for {host} with a certificate for that name)."
    if result.failure is ProbeFailure.DNS:
        return None, [
            _finding(
                "policy-missing",
                Severity.FAIL,
                f"{host} does not exist, so the policy at {url} cannot be fetched; senders ignore the TXT record.",
                fix=f"Add an A/AAAA (or CNAME) record for {host}. {fix_host}",
                observed={"url": url, "detail": result.detail},
            )
        ], "absent"
    if result.failure is not None:
        state = "unknown" if result.failure in (ProbeFailure.TIMEOUT, ProbeFailure.LOOKUP_ERROR) else "broken"
        label = f"The MTA-STS policy at {url}"
        return None, endpoint_findings(result, check=CHECK, id_prefix="policy-", label=label, now=ctx.now), state
    findings = endpoint_findings(result, check=CHECK, id_prefix="policy-", label=f"The MTA-STS policy host {host}", now=ctx.now)
    status = result.status_code or 0
    observed = {"url": url, "status": status}
    if result.location is not None:
        return None, findings + [
            _finding(
                "policy-redirect",
                Severity.FAIL,
                f"{url} redirects (HTTP {status}) to {result.location}; senders must not follow redirects for "
                "the policy (RFC 8461 §3.3), so they have none.",
                fix=f"Serve the policy file itself at {url}, with HTTP 200.",
                observed={**observed, "location": result.location},
            )
        ], "broken"
    if status in (404, 410):
        return None, findings + [
            _finding(
                "policy-missing",
                Severity.FAIL,
                f"{url} answers HTTP {status}: there is no policy file, so senders ignore the TXT record.",
                fix=fix_host,
                observed=observed,
            )
        ], "absent"
    if status != 200:
        return None, findings + [
            _finding(
                "policy-status",
                Severity.FAIL,
                f"{url} answers HTTP {status}; a policy counts only with HTTP 200 (RFC 8461 §3.3).",
                fix=fix_host,
                observed=observed,
            )
        ], "broken"
    if result.too_large:
        return None, findings + [
            _finding(
                "policy-too-large",
                Severity.FAIL,
                f"{url} is larger than {POLICY_MAX_BYTES // 1024} KiB; senders may refuse a policy that size (RFC 8461 §3.3).",
                fix="Serve only the policy lines (version, mode, mx, max_age): a real policy is a few hundred bytes.",
                observed=observed,
                expected=f"at most {POLICY_MAX_BYTES} bytes",
            )
        ], "broken"
    try:
        text = result.body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    policy = parse_sts_policy(text) if text is not None else StsPolicy(errors=("the file is not UTF-8 text",))
    if result.content_type != "text/plain":
        findings.append(
            _finding(
                "policy-content-type",
                Severity.FAIL,
                f"{url} is served as {result.content_type or 'no media type'!s}, not text/plain; senders that "
                "check it (RFC 8461 §3.2 says they should) ignore the policy.",
                fix="Configure the web server to send the policy with Content-Type: text/plain.",
                observed=result.headers.get("content-type"),
                expected="text/plain",
            )
        )
    if policy.errors:
        findings.append(
            _finding(
                "policy-invalid",
                Severity.FAIL,
                f"The policy at {url} is not valid, so senders ignore it: {'; '.join(policy.errors)}.",
                fix="Correct the policy file; a valid one reads:\nversion: STSv1\nmode: testing\nmx: <each MX host>\nmax_age: 604800",
                observed=(text or "")[:2000],
            )
        )
        return policy, findings, "present"
    notes = f" (unknown fields ignored: {', '.join(policy.unknown_fields)})" if policy.unknown_fields else ""
    findings.append(
        _finding(
            "policy-ok",
            Severity.OK,
            f"The policy at {url} is valid: mode {policy.mode}, {len(policy.mx)} mx pattern(s), max_age {policy.max_age}{notes}.",
            observed={"url": url, "mode": policy.mode, "mx": list(policy.mx), "max_age": policy.max_age},
        )
    )
    return policy, findings, "present"


def _judge_mode(ctx: CheckContext, url: str, policy: StsPolicy, new_id: tuple[str, list[RecordChange]]) -> list[Finding]:
    findings: list[Finding] = []
    if policy.mode == "enforce":
        findings.append(
            _finding("mode-enforce", Severity.OK, "The policy is in enforce mode: senders that apply MTA-STS deliver only over verified TLS.")
        )
    elif policy.mode == "testing":
        findings.append(
            _finding(
                "mode-testing",
                Severity.INFO,
                "The policy is in testing mode: senders report TLS problems (via TLS-RPT) but still deliver.",
                fix="Once the TLS-RPT reports show no failures for a few weeks, set mode: enforce in the policy "
                f"and {new_id[0]}",
                changes=new_id[1],
            )
        )
    else:
        findings.append(
            _finding(
                "mode-none",
                Severity.INFO,
                "The policy is in mode none: MTA-STS is being switched off, and senders drop the policy.",
                fix="If that is not intended, set mode: testing or enforce and change the id in the TXT record.",
            )
        )
    if policy.mode != "none" and policy.max_age is not None and policy.max_age < MAX_AGE_SHORT:
        findings.append(
            _finding(
                "max-age-short",
                Severity.WARN,
                f"max_age is {policy.max_age} seconds; senders forget the policy that soon, so it protects little.",
                fix="Set max_age to at least a week (max_age: 604800) once the policy is known to work.",
                observed=policy.max_age,
                expected=f"at least {MAX_AGE_SHORT}, commonly 604800 or more",
            )
        )
    return findings


def _judge_mx(ctx: CheckContext, url: str, policy: StsPolicy, mx: Lookup,
              new_id: tuple[str, list[RecordChange]]) -> list[Finding]:
    if policy.mode == "none":
        return []
    if mx.is_error:
        return [
            lookup_error(CHECK, f"The MX records of {ctx.domain}", mx, so="so they were not compared with the policy.")
        ]
    hosts = sorted(
        {
            rd.exchange.to_text().rstrip(".").lower()
            for rd in mx.rdata
            if hasattr(rd, "exchange") and rd.exchange.to_text() != "."
        }
    )
    if not hosts:
        return []  # no MX (or a null MX): the mx check reports that
    not_covered = [host for host in hosts if not mx_covered(host, policy.mx)]
    observed = {"mx": hosts, "policy_mx": list(policy.mx), "not_covered": not_covered}
    if not_covered:
        enforce = policy.mode == "enforce"
        consequence = (
            "senders that apply MTA-STS will not deliver to them" if enforce else "senders report failures for them"
        )
        lines = "\n".join(f"mx: {host}" for host in not_covered)
        return [
            _finding(
                "mx-mismatch",
                Severity.FAIL if enforce else Severity.WARN,
                f"MX host(s) {', '.join(not_covered)} match no mx line of the policy ({', '.join(policy.mx)}): {consequence}.",
                fix=f"Add to the policy at {url}:\n{lines}\nthen {new_id[0]}",
                observed=observed,
                changes=new_id[1],
            )
        ]
    return [
        _finding(
            "mx-ok",
            Severity.OK,
            f"Every MX host ({', '.join(hosts)}) matches an mx line of the policy.",
            observed=observed,
        )
    ]
