"""The `dkim` check: the profile's selectors, their CNAMEs and the public keys they lead to.

DKIM selectors cannot be listed from DNS, so with a profile threer looks at the profile's selectors
(and their expected CNAME targets); without one it looks at a few common selectors and says so.
The key record (RFC 6376 §3.6.1) is parsed: `v`, `k`, `p`; an empty `p` means a revoked key, and an
RSA modulus under 1024 bits is flagged (the length is read from the key's DER encoding).
"""

from __future__ import annotations

from dataclasses import replace

import asyncio
import base64
import binascii

from threer.checks.context import CheckContext, lookup_error
from threer.checks.profiles import DkimSelector, has_wildcards, pattern_matches, shown_pattern
from threer.checks.resolver import Lookup, LookupStatus
from threer.findings import Finding, RecordChange, Severity, add

CHECK = "dkim"
FINDING_IDS = frozenset(
    {
        "dkim.ok",
        "dkim.missing",
        "dkim.lookup-error",
        "dkim.cname-mismatch",
        "dkim.not-cname",
        "dkim.cname-target-missing",
        "dkim.revoked",
        "dkim.weak-key",
        "dkim.bad-record",
        "dkim.multiple-records",
        "dkim.none-found",
        "dkim.short-key",
        "dkim.sha1-only",
        "dkim.testing",
        "dkim.cname-loop",
    }
)

# probed without a profile: the usual selectors of the big services and of common MTAs
COMMON_SELECTORS = ("selector1", "selector2", "google", "default", "k1", "s1", "s2", "dkim")
MIN_RSA_BITS = 1024  # RFC 8301 §3.2: verifiers must not consider keys under 1024 bits valid
ADVISED_RSA_BITS = 2048  # RFC 8301 §3.2: signers SHOULD use keys of at least 2048 bits

_RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption


class DkimKeyError(ValueError):
    """The `p=` value is not a usable public key."""


def parse_tags(text: str) -> dict[str, str]:
    """A DKIM tag list (`v=DKIM1; k=rsa; p=...`) into a dict; raises ValueError on bad syntax."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not name or not name.replace("_", "a").isalnum():
            raise ValueError(f"{part.strip()!r} is not a tag=value pair")
        if name in tags:
            raise ValueError(f"the tag {name}= appears twice")
        tags[name] = "".join(value.split())  # whitespace inside values (folded keys) is ignored
    return tags


def _der_item(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER item at offset."""
    if offset + 2 > len(data):
        raise DkimKeyError("the key ends early")
    tag = data[offset]
    length = data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise DkimKeyError("the key has a bad length field")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    end = offset + length
    if end > len(data):
        raise DkimKeyError("the key is shorter than it says")
    return tag, offset, end


def _integer_bits(data: bytes, start: int, end: int) -> int:
    value = data[start:end].lstrip(b"\x00")
    return len(value) * 8 - (8 - value[0].bit_length()) if value else 0


def rsa_modulus_bits(der: bytes) -> int:
    """Bits of the RSA modulus in a SubjectPublicKeyInfo, or in a bare PKCS#1 RSAPublicKey."""
    tag, start, end = _der_item(der, 0)
    if tag != 0x30:
        raise DkimKeyError("the key is not a DER SEQUENCE")
    tag, s1, e1 = _der_item(der, start)
    if tag == 0x30:  # SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING }
        otag, os_, oe = _der_item(der, s1)
        if otag != 0x06:
            raise DkimKeyError("the key's algorithm is unreadable")
        if der[os_:oe] != _RSA_OID:
            raise DkimKeyError("the key is not an RSA key")
        btag, bs, be = _der_item(der, e1)
        if btag != 0x03 or bs >= be:
            raise DkimKeyError("the key has no BIT STRING")
        inner = der[bs + 1 : be]  # skip the unused-bits byte
        return rsa_modulus_bits(inner)
    if tag == 0x02:  # RSAPublicKey: SEQUENCE { INTEGER modulus, INTEGER exponent }
        return _integer_bits(der, s1, e1)
    raise DkimKeyError("the key's structure is not an RSA public key")


def key_bits(key_type: str, p: str) -> int:
    """Bits of the public key in `p=` (RSA modulus, or 256 for an Ed25519 key); DkimKeyError if unusable."""
    try:
        raw = base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError):
        raise DkimKeyError("p= is not valid base64") from None
    if key_type == "ed25519":
        if len(raw) != 32:
            raise DkimKeyError(f"an Ed25519 key is 32 bytes, this one is {len(raw)}")
        return 256
    return rsa_modulus_bits(raw)


def _selector_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def _lookup_error(what: str, lookup: Lookup) -> Finding:
    return lookup_error(CHECK, what, lookup) if not _loops(lookup) else _cname_loop(lookup)


def _loops(lookup: Lookup) -> bool:
    """A CNAME chain that comes back to a name already on it: an error in the zone, not a failed look-up."""
    chain = [lookup.name.rstrip(".").lower(), *(c.rstrip(".").lower() for c in lookup.cname_chain)]
    return lookup.status is LookupStatus.MALFORMED and len(chain) > 1 and chain[-1] in chain[:-1]


def _cname_loop(lookup: Lookup) -> Finding:
    chain = [lookup.name.rstrip("."), *(c.rstrip(".") for c in lookup.cname_chain)]
    own = [n for n in dict.fromkeys(chain[:-1])]
    return Finding(
        id="dkim.cname-loop",
        check=CHECK,
        severity=Severity.FAIL,
        message=f"The DKIM selector {chain[0]} is a CNAME that loops: {' → '.join(chain)}. No key can be found "
        "there, so mail signed with that selector fails DKIM.",
        fix=f"Remove the looping CNAME records ({', '.join(own)}) and publish the key record, or the CNAME, that the "
        "mail service gives for this selector.",
        observed={"name": lookup.name, "cname_chain": list(lookup.cname_chain)},
    )

def _cname_fix(ctx: CheckContext, spec: DkimSelector) -> str:
    line = _cname_change(ctx, spec).line
    assert ctx.profile is not None  # CNAME selectors come from the profile
    if has_wildcards(spec.cname[0]):
        return (f"Add: {line} (copy the <...> parts from the exact value {ctx.profile.where_values_are()} shows"
                + (", or Get-DkimSigningConfig" if "onmicrosoft" in spec.cname[0] else "") + ")")
    return f"Add: {line}"


def _cname_change(ctx: CheckContext, spec: DkimSelector) -> RecordChange:
    return add(_selector_name(spec.selector, ctx.domain), "CNAME", shown_pattern(spec.cname[0], ctx.domain) + ".")


def judge_key(ctx: CheckContext, selector: str, lookup: Lookup, *, profile_selector: bool) -> list[Finding]:
    """Findings for the key record(s) a selector led to (the lookup exists).

    Behind a CNAME to a host outside the domain the key is the provider's: the fixes then say so,
    instead of asking the customer's DNS admin to publish records at the provider's host."""
    findings = _judge_key(ctx, selector, lookup, profile_selector=profile_selector)
    target = lookup.cname_chain[-1] if lookup.cname_chain else None
    if target is None or _in_domain(target, ctx.domain):
        return findings
    name = _selector_name(selector, ctx.domain)
    what = {
        "dkim.weak-key": "Rotate to a 2048-bit key in the provider's admin centre.",
        "dkim.short-key": "When convenient, rotate to a 2048-bit key in the provider's admin centre.",
        "dkim.revoked": "If the service still signs with this selector, switch DKIM signing on again (or rotate the "
        "keys) in the provider's admin centre; otherwise ignore this.",
        "dkim.sha1-only": "Rotate to a new key in the provider's admin centre (signed with rsa-sha256).",
        "dkim.testing": "Switch testing mode off in the provider's admin centre once signing works.",
    }

    def provider_fix(finding_id: str) -> str:
        sentences = [
            f"{name} is a CNAME to {target}, where the provider publishes the key: that record is the provider's "
            "side, not the customer's to change.",
            what.get(finding_id, ""),
            "If it stays wrong, escalate to the provider.",
        ]
        return " ".join(s for s in sentences if s)

    return [f if f.fix is None else replace(f, fix=provider_fix(f.id)) for f in findings]


def _in_domain(host: str, domain: str) -> bool:
    host = host.rstrip(".").lower()
    return host == domain or host.endswith("." + domain)


def _judge_key(ctx: CheckContext, selector: str, lookup: Lookup, *, profile_selector: bool) -> list[Finding]:
    name = _selector_name(selector, ctx.domain)
    keys = [r for r in lookup.records if r.strip().lower().startswith("v=dkim1") or "p=" in r]
    if len(keys) > 1:
        return [
            Finding(
                id="dkim.multiple-records",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"{name} has {len(keys)} key records; a verifier cannot tell which to use, so signatures may fail.",
                fix=f"Keep one key record at {name} and delete the others.",
                observed=list(keys),
            )
        ]
    if not keys:
        return [
            Finding(
                id="dkim.bad-record",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"{name} has TXT data but no DKIM key (no p= tag).",
                fix="Publish the key record the mail service gives you (v=DKIM1; k=rsa; p=...).",
                observed=list(lookup.records),
            )
        ]
    record = keys[0]
    try:
        tags = parse_tags(record)
    except ValueError as exc:
        return [_bad(name, f"its syntax is broken: {exc}", record)]
    if "v" in tags and tags["v"] != "DKIM1":
        return [_bad(name, f"v={tags['v']} is not v=DKIM1", record)]
    if "v" in tags and not record.strip().startswith("v"):
        return [_bad(name, "v=DKIM1 must come first when present (RFC 6376 §3.6.1)", record)]
    if "p" not in tags:
        return [_bad(name, "it has no p= tag (the public key)", record)]
    key_type = tags.get("k", "rsa").lower()
    if key_type not in ("rsa", "ed25519"):
        return [_bad(name, f"k={key_type} is not a key type verifiers know (rsa, ed25519)", record)]
    if tags["p"] == "":
        return [
            Finding(
                id="dkim.revoked",
                check=CHECK,
                severity=Severity.FAIL if profile_selector else Severity.WARN,
                message=f"The key at {name} is revoked (empty p=): mail signed with selector {selector} fails DKIM.",
                fix="If the service still signs with this selector, publish its current key (or CNAME); otherwise ignore this.",
                observed=record,
            )
        ]
    try:
        bits = key_bits(key_type, tags["p"])
    except DkimKeyError as exc:
        return [_bad(name, f"its public key cannot be read: {exc}", record)]
    if key_type == "rsa" and bits < MIN_RSA_BITS:
        return [
            Finding(
                id="dkim.weak-key",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"The RSA key at {name} has only {bits} bits; receivers ignore keys under {MIN_RSA_BITS} bits "
                "(RFC 8301), so these signatures count for nothing.",
                fix="Generate a 2048-bit key at the mail service and publish it in place of this one.",
                observed={"bits": bits, "k": key_type},
                expected={"min_bits": MIN_RSA_BITS},
            )
        ]
    via = f" (via CNAME to {lookup.cname_chain[-1]})" if lookup.cname_chain else ""
    hashes = [h.lower() for h in tags.get("h", "").split(":") if h]
    if hashes and "sha256" not in hashes:
        # RFC 6376 §3.6.1: h= lists the only hashes the key may sign with; RFC 8301 §3.1: rsa-sha1 signatures
        # must not be considered valid, so none this key allows verifies
        return [
            Finding(
                id="dkim.sha1-only",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"The key at {name}{via} has h={tags['h']}: it may only be used with {', '.join(hashes)} "
                "(RFC 6376 §3.6.1), and verifiers must not accept rsa-sha1 signatures (RFC 8301 §3.1), so every "
                "signature it allows fails: the domain's mail is in effect unsigned and DMARC rests on SPF alone.",
                fix=f"Generate a new key at the mail service, signing with rsa-sha256, and publish its record at {name} "
                "without h= (or with h=sha256).",
                observed={"selector": selector, "h": tags["h"], "bits": bits, "k": key_type},
                expected="no h=, or h= including sha256",
            )
        ]
    flags = [f.lower() for f in tags.get("t", "").split(":") if f]
    if "y" in flags:
        # RFC 6376 §3.6.1: verifiers must not treat mail from a signer in testing mode differently from unsigned mail
        return [
            Finding(
                id="dkim.testing",
                check=CHECK,
                severity=Severity.WARN,
                message=f"The key at {name}{via} has t=y (testing mode): verifiers treat mail signed with selector "
                f"{selector} as unsigned (RFC 6376 §3.6.1), so its DKIM counts for nothing in DMARC.",
                fix=f"Once signing works (a signed test message verifies), remove t=y from the key record at {name}, "
                "or switch testing off at the mail service that publishes it.",
                observed={"selector": selector, "t": tags["t"], "bits": bits, "k": key_type},
                expected="no t=y",
            )
        ]
    if key_type == "rsa" and bits < ADVISED_RSA_BITS:
        return [
            Finding(
                id="dkim.short-key",
                check=CHECK,
                severity=Severity.INFO,
                message=f"Selector {selector} has a valid {bits}-bit RSA key{via}. RFC 8301 §3.2 asks signers to use "
                f"keys of at least {ADVISED_RSA_BITS} bits: shorter ones still verify, but are weaker than advised.",
                fix=f"When convenient, generate a {ADVISED_RSA_BITS}-bit key at the mail service and publish it in place "
                "of this one (most services rotate to a new selector, so mail keeps verifying meanwhile).",
                observed={"selector": selector, "bits": bits, "k": key_type},
                expected={"min_bits": ADVISED_RSA_BITS},
            )
        ]
    return [
        Finding(
            id="dkim.ok",
            check=CHECK,
            severity=Severity.OK,
            message=f"Selector {selector} has a valid {bits}-bit {key_type.upper() if key_type == 'rsa' else 'Ed25519'} key{via}.",
            observed={"selector": selector, "bits": bits, "k": key_type, "cname": lookup.cname_chain[-1] if lookup.cname_chain else None},
        )
    ]


def _bad(name: str, why: str, record: str) -> Finding:
    return Finding(
        id="dkim.bad-record",
        check=CHECK,
        severity=Severity.FAIL,
        message=f"The DKIM record at {name} is not usable: {why}.",
        fix="Publish the key record exactly as the mail service gives it (v=DKIM1; k=rsa; p=...).",
        observed=record,
    )


async def _check_profile_selector(ctx: CheckContext, spec: DkimSelector) -> list[Finding]:
    assert ctx.profile is not None  # only the profile's own selectors come here
    name = _selector_name(spec.selector, ctx.domain)
    lookup = await ctx.resolver.query(name, "TXT")
    if _loops(lookup):
        return [_cname_loop(lookup)]
    if lookup.is_error and not lookup.cname_chain:
        return [_lookup_error(f"The DKIM selector {name}", lookup)]
    findings: list[Finding] = []
    expected = [ctx.expand(p) for p in spec.cname] or None
    if spec.cname:
        if not lookup.cname_chain:
            if not lookup.exists:
                return [
                    Finding(
                        id="dkim.missing",
                        check=CHECK,
                        severity=Severity.FAIL,
                        message=f"The DKIM selector {spec.selector} of {ctx.profile.name} is not published at {name}: "
                        "mail cannot be DKIM-signed with the domain's own name.",
                        fix=_cname_fix(ctx, spec),
                        observed=lookup.status.value,
                        expected=expected,
                        changes=[_cname_change(ctx, spec)],
                    )
                ]
            findings.append(
                Finding(
                    id="dkim.not-cname",
                    check=CHECK,
                    severity=Severity.WARN,
                    message=f"{name} holds a key itself instead of a CNAME to {ctx.profile.name}; it breaks when the "
                    "service rotates its keys.",
                    fix="Replace the TXT record with the CNAME. " + _cname_fix(ctx, spec),
                    observed=list(lookup.records),
                    expected=expected,
                    changes=[*(RecordChange(action="remove", name=name, rdtype="TXT", value=_txt(r)) for r in lookup.records),
                             _cname_change(ctx, spec)],
                )
            )
        else:
            target = lookup.cname_chain[0]
            if not any(pattern_matches(p, ctx.domain, target) for p in spec.cname):
                findings.append(
                    Finding(
                        id="dkim.cname-mismatch",
                        check=CHECK,
                        severity=Severity.FAIL,
                        message=f"{name} is a CNAME to {target}, which is not where {ctx.profile.name} publishes this "
                        "selector's key (a typo, or another tenant's domain?).",
                        fix=_cname_fix(ctx, spec),
                        observed=target,
                        expected=expected,
                        changes=[RecordChange(action="remove", name=name, rdtype="CNAME", value=target + "."),
                                 _cname_change(ctx, spec)],
                    )
                )
                return findings
            if lookup.is_error:
                return findings + [_lookup_error(f"The key behind {name} ({target})", lookup)]
            if not lookup.exists:
                return findings + [
                    Finding(
                        id="dkim.cname-target-missing",
                        check=CHECK,
                        severity=Severity.WARN,
                        message=f"{name} points correctly at {target}, but no key is published there yet: "
                        f"DKIM signing is probably not switched on at {ctx.profile.name}.",
                        fix=f"Turn on DKIM signing for {ctx.domain} in the provider's admin centre (the DNS side is done).",
                        observed={"cname": target, "status": lookup.status.value},
                    )
                ]
    elif not lookup.exists:
        renamed = (" The admin may have chosen another selector name when generating the key: if so, give it with "
                   "--dkim-selector NAME (or dkim_selectors in the config).") if spec.renamable else ""
        return [
            Finding(
                id="dkim.missing",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"No DKIM key is published at {name} (selector {spec.selector} of {ctx.profile.name}).{renamed}",
                fix=f"Generate the key in {ctx.profile.where_values_are()} and publish it as a TXT record at {name}, "
                "exactly as shown there.",
                observed=lookup.status.value,
            )
        ]
    return findings + judge_key(ctx, spec.selector, lookup, profile_selector=True)


def _txt(text: str) -> str:
    from threer.checks.spf import txt_value

    return txt_value(text)


async def _check_named(ctx: CheckContext, selectors: list[str]) -> list[Finding]:
    """Selectors the technician named (--dkim-selector, dkim_selectors): each must have a key."""
    lookups = await asyncio.gather(*(ctx.resolver.query(_selector_name(s, ctx.domain), "TXT") for s in selectors))
    findings: list[Finding] = []
    for selector, lookup in zip(selectors, lookups):
        name = _selector_name(selector, ctx.domain)
        if lookup.exists:
            findings.extend(judge_key(ctx, selector, lookup, profile_selector=True))
        elif lookup.is_error:
            findings.append(_lookup_error(f"The DKIM selector {name}", lookup))
        else:
            findings.append(
                Finding(
                    id="dkim.missing",
                    check=CHECK,
                    severity=Severity.FAIL,
                    message=f"No DKIM key is published at {name} (selector {selector}, named for this check): mail "
                    "signed with it fails DKIM.",
                    fix=f"Check the selector name (s= in a signed message's DKIM-Signature header); if it is right, publish "
                    f"the key record the mail service gives for it at {name}.",
                    observed=lookup.status.value,
                )
            )
    return findings


def _extra_selectors(ctx: CheckContext) -> list[str]:
    named = list(ctx.dkim_selectors) + (list(ctx.profile.dkim_selectors) if ctx.profile else [])
    taken = {spec.selector for spec in ctx.profile.dkim} if ctx.profile else set()
    return [s for s in dict.fromkeys(named) if s not in taken]


async def _probe_common(ctx: CheckContext) -> list[Finding]:
    extra = _extra_selectors(ctx)
    common = [s for s in COMMON_SELECTORS if s not in extra]
    names = [_selector_name(s, ctx.domain) for s in common]
    lookups, named = await asyncio.gather(
        asyncio.gather(*(ctx.resolver.query(n, "TXT") for n in names)), _check_named(ctx, extra)
    )
    findings: list[Finding] = list(named)
    errors = []
    for selector, lookup in zip(common, lookups):
        if lookup.exists:
            findings.extend(judge_key(ctx, selector, lookup, profile_selector=False))
        elif _loops(lookup):
            findings.append(_cname_loop(lookup))
        elif lookup.is_error:
            errors.append(lookup)
    if errors:
        findings.append(_lookup_error(f"{len(errors)} of the common DKIM selectors (e.g. {errors[0].name})", errors[0]))
    if not findings:
        findings.append(
            Finding(
                id="dkim.none-found",
                check=CHECK,
                severity=Severity.INFO,
                message=f"No DKIM key at the common selectors ({', '.join(COMMON_SELECTORS)}). Selectors cannot be "
                "listed from DNS; check with a profile (--profile) or read s= in a signed message's DKIM-Signature.",
                observed=list(COMMON_SELECTORS),
            )
        )
    return findings


async def check_dkim(ctx: CheckContext) -> list[Finding]:
    if ctx.profile is None or not ctx.profile.dkim:
        return await _probe_common(ctx)
    extra = _extra_selectors(ctx)
    results = await asyncio.gather(*(_check_profile_selector(ctx, spec) for spec in ctx.profile.dkim), _check_named(ctx, extra))
    *groups, named = results
    findings = list(named)
    renamable_missing = [
        spec for spec, group in zip(ctx.profile.dkim, groups) if spec.renamable and [f.id for f in group] == ["dkim.missing"]
    ]
    if renamable_missing:
        # the admin may have published the key under a selector of their own: any key found at a named or
        # common selector stands in for the missing one
        found = [f for f in named if f.severity in (Severity.OK, Severity.INFO)]
        if not found:
            taken = {spec.selector for spec in ctx.profile.dkim} | set(extra)
            others = [s for s in COMMON_SELECTORS if s not in taken]
            lookups = await asyncio.gather(*(ctx.resolver.query(_selector_name(s, ctx.domain), "TXT") for s in others))
            for selector, lookup in zip(others, lookups):
                if lookup.exists:
                    found.extend(judge_key(ctx, selector, lookup, profile_selector=False))
            findings.extend(found)
        if found:
            groups = [group for spec, group in zip(ctx.profile.dkim, groups) if spec not in renamable_missing]
    groups = await _from_siblings(ctx, list(ctx.profile.dkim), groups)
    return [f for group in groups for f in group] + findings


def _sibling_target(pattern: str, target: str, other: str) -> str | None:
    """The CNAME target `other` gives when `pattern` gave `target` and the two patterns differ only in
    their literal start (selector1-… and selector2-… at the same tenant): None otherwise."""
    cut_a, cut_b = pattern.find("{"), other.find("{")
    if cut_a <= 0 or cut_b <= 0 or pattern[cut_a:] != other[cut_b:]:
        return None
    if not target.lower().startswith(pattern[:cut_a].lower()):
        return None
    return other[:cut_b] + target[cut_a:]


async def _from_siblings(ctx: CheckContext, specs: list[DkimSelector], groups: list[list[Finding]]) -> list[list[Finding]]:
    """A CNAME fix with `<token>`/`<tenant>` to copy, filled in from a sibling selector's working CNAME: the
    provider's selectors differ only in their number (Microsoft's selector1-/selector2- at one tenant), so
    the record is read from the zone, not guessed. The value must fit the selector's own pattern."""
    good: list[tuple[DkimSelector, str]] = []
    for spec, group in zip(specs, groups):
        if spec.cname and not any(f.id in ("dkim.cname-mismatch", "dkim.missing", "dkim.cname-loop") for f in group):
            lookup = await ctx.resolver.query(_selector_name(spec.selector, ctx.domain), "TXT")
            if lookup.cname_chain:
                good.append((spec, lookup.cname_chain[0].rstrip(".")))
    if not good:
        return groups
    out = []
    for spec, group in zip(specs, groups):
        changed = []
        for finding in group:
            adds = [c for c in finding.changes if c.action == "add" and c.rdtype == "CNAME" and c.needs_value]
            derived = None
            for sibling, target in good:
                if sibling is spec:
                    continue
                for pattern_a in sibling.cname:
                    for pattern_b in spec.cname:
                        candidate = _sibling_target(pattern_a, target, pattern_b)
                        if candidate and pattern_matches(pattern_b, ctx.domain, candidate):
                            derived = derived or (candidate, sibling.selector, target)
            if not adds or derived is None:
                changed.append(finding)
                continue
            value, sibling_selector, target = derived
            new = add(adds[0].name, "CNAME", value + ".")
            fix = (f"Add: {new.line} (read from {_selector_name(sibling_selector, ctx.domain)}, which points at {target}: "
                   f"the provider's selectors differ only in their number)")
            if finding.id == "dkim.not-cname":
                fix = "Replace the TXT record with the CNAME. " + fix
            changed.append(replace(finding, fix=fix, changes=[new if c is adds[0] else c for c in finding.changes]))
        out.append(changed)
    return out
