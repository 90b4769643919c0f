"""The `tls-rpt` check: SMTP TLS reporting (RFC 8460), the TXT record at `_smtp._tls.<domain>`.

TLS-RPT is optional; it tells sending servers where to report TLS failures (pairs with MTA-STS).
"""

from __future__ import annotations

import re

from threer.checks.context import CheckContext, record_fix, lookup_error
from threer.findings import Finding, RecordChange, Severity, add, remove

CHECK = "tls-rpt"
FINDING_IDS = frozenset(
    {"tls-rpt.ok", "tls-rpt.missing", "tls-rpt.lookup-error", "tls-rpt.multiple", "tls-rpt.bad-record", "tls-rpt.bad-rua"}
)

_MAILTO = re.compile(r"^mailto:[^@\s,;!]+@[a-z0-9-]+(\.[a-z0-9-]+)+$", re.IGNORECASE)
_HTTPS = re.compile(r"^https://[a-z0-9.-]+(:\d+)?(/\S*)?$", re.IGNORECASE)


def parse_tlsrpt(record: str) -> tuple[dict[str, str], str | None]:
    """The tags of a TLS-RPT record, and what is wrong with its syntax (None when nothing)."""
    tags: dict[str, str] = {}
    parts = [p.strip() for p in record.split(";")]
    for part in parts:
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not re.fullmatch(r"[A-Za-z0-9_.-]+", name or "-"):
            return tags, f"{part!r} is not a field=value pair"
        if name in tags:
            return tags, f"the field {name}= appears twice"
        tags[name] = value.strip()
    if tags.get("v") != "TLSRPTv1" or not record.strip().startswith("v"):
        return tags, "it must start with v=TLSRPTv1"
    if "rua" not in tags or not tags["rua"]:
        return tags, "it has no rua= (where reports go)"
    return tags, None


def bad_rua(rua: str) -> list[str]:
    """The rua URIs that are neither mailto:address nor https://host/... (RFC 8460 §3)."""
    bad = []
    for uri in (u.strip() for u in rua.split(",")):
        decoded = uri.replace("%21", "!")
        if not (_MAILTO.match(decoded) or _HTTPS.match(uri)):
            bad.append(uri)
    return bad


async def check_tls_rpt(ctx: CheckContext) -> list[Finding]:
    name = f"_smtp._tls.{ctx.domain}"
    example_value = f'"v=TLSRPTv1; rua=mailto:tls-reports@{ctx.domain}"'
    example = record_fix(name, "TXT", example_value)

    def replacing(old: list[str], value: str = example_value) -> list[RecordChange]:
        from threer.checks.spf import txt_value

        return [*(remove(name, "TXT", txt_value(r), lookup.ttl) for r in old), add(name, "TXT", value)]

    lookup = await ctx.resolver.query(name, "TXT")
    if lookup.is_error:
        return [lookup_error(CHECK, f"The TLS-RPT record at {name}", lookup)]
    records = [r for r in lookup.records if r.strip().lower().startswith("v=tlsrptv1")] if lookup.exists else []
    if not records:
        return [
            Finding(
                id="tls-rpt.missing",
                check=CHECK,
                severity=Severity.INFO,
                message=f"{ctx.domain} has no TLS-RPT record, so sending servers cannot report TLS delivery problems "
                "(optional; most useful with MTA-STS).",
                fix=f"Optionally add: {example}",
                observed=[],
                changes=replacing([]),
            )
        ]
    if len(records) > 1:
        return [
            Finding(
                id="tls-rpt.multiple",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"{name} has {len(records)} TLS-RPT records; RFC 8460 §3 says senders then use none of them.",
                fix="Keep one record, with all report addresses in its rua= separated by commas.",
                observed=records,
            )
        ]
    record = records[0]
    tags, problem = parse_tlsrpt(record)
    if problem:
        return [
            Finding(
                id="tls-rpt.bad-record",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"The TLS-RPT record at {name} is not valid: {problem}.",
                fix=f"Replace it with a record such as: {example}",
                observed=record,
                changes=replacing([record]),
            )
        ]
    bad = bad_rua(tags["rua"])
    if bad:
        from threer.checks.spf import txt_value

        good = [u.strip() for u in tags["rua"].split(",") if u.strip() and u.strip() not in bad]
        # keep the addresses that are right; only when none is, the example's
        repaired = record.replace(f"rua={tags['rua']}", "rua=" + ",".join(good)) if good else None
        if repaired is not None and repaired == record:
            repaired = None
        value = txt_value(repaired) if repaired else example_value
        example = record_fix(name, "TXT", value)
        return [
            Finding(
                id="tls-rpt.bad-rua",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"The TLS-RPT record at {name} has report addresses that are not mailto: or https: URIs: "
                + ", ".join(bad) + ".",
                fix=f"Write each address as mailto:name@domain or https://host/path: {example}",
                observed=record,
                changes=replacing([record], value),
            )
        ]
    return [
        Finding(
            id="tls-rpt.ok",
            check=CHECK,
            severity=Severity.OK,
            message=f"TLS-RPT reports go to {tags['rua']}.",
            observed=record,
        )
    ]
