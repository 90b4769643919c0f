"""The `spf` check: what a domain's SPF record means for its mail, as findings with fixes.

Exactly one record, syntax, look-up budget per include, void look-ups, the `all` qualifier,
`ptr`, and whether the profile's include is there and its sending addresses pass.
"""

from __future__ import annotations

from dataclasses import replace

import asyncio
import ipaddress
from typing import TYPE_CHECKING

from threer.checks.resolver import LookupStatus
from threer.checks.spf.evaluate import SpfResult, check_host
from threer.checks.spf.record import (
    DEFAULT_TTL,
    LOOKUP_LIMIT,
    QUALIFIER_RESULT,
    VOID_LIMIT,
    Mechanism,
    SpfRecord,
    SpfSyntaxError,
    _show,
    _split_terms,
    is_spf_record,
    parse_record,
    txt_value,
)
from threer.checks.spf.fixes import _what_is_wrong, costliest, fit_record
from threer.checks.spf.tree import SpfNode, spf_tree, spf_tree_of
from threer.findings import Finding, RecordChange, Severity, add, remove

if TYPE_CHECKING:
    from threer.checks.context import CheckContext

CHECK = "spf"
FINDING_IDS = frozenset(
    {
        "spf.ok",
        "spf.lookup-error",
        "spf.missing",
        "spf.multiple",
        "spf.syntax",
        "spf.lookup-limit",
        "spf.void-limit",
        "spf.include-loop",
        "spf.include-missing",
        "spf.include-error",
        "spf.term-error",
        "spf.all-pass",
        "spf.all-neutral",
        "spf.all-softfail",
        "spf.all-missing",
        "spf.redirect-ignored",
        "spf.ptr",
        "spf.profile-include-missing",
        "spf.profile-ip-fails",
        "spf.profile-ip-error",
        "spf.split-strings",
        "spf.terms-after-all",
    }
)


# how a record's final all is judged, by qualifier (-all is the aim and gives no finding)
_WEAK_ALL: dict[str, tuple[str, Severity, str]] = {
    "+": ("spf.all-pass", Severity.FAIL,
          "every server on the internet passes SPF for this domain, which is the same as authorising spoofing."),
    "?": ("spf.all-neutral", Severity.WARN,
          "mail from unlisted servers gets neutral, which protects nothing."),
    "~": ("spf.all-softfail", Severity.INFO,
          "softfail, so unlisted servers are suspicious but not refused. Once every sending service is listed, -all tells "
          "receivers to refuse the rest."),
}


def _fix_record(domain: str, record_text: str, ttl: int | None) -> str:
    from threer.checks.context import record_fix

    return record_fix(domain, "TXT", txt_value(record_text), ttl or DEFAULT_TTL)


def _finding(id_: str, severity: Severity, message: str, **kwargs) -> Finding:
    return Finding(id=id_, check=CHECK, severity=severity, message=message, **kwargs)


def _replace(domain: str, old: list[str], new: str, ttl: int | None) -> list[RecordChange]:
    """The changes of a fix that replaces the SPF record(s) of `domain` with one new record."""
    return [*(remove(domain, "TXT", txt_value(text), ttl or DEFAULT_TTL) for text in old),
            add(domain, "TXT", txt_value(new), ttl or DEFAULT_TTL)]


def _unquote(value: str) -> str:
    """The text of a TXT value in zone-file form ("..." "..."), as txt_value wrote it."""
    import re

    return "".join(part.replace('\\"', '"').replace("\\\\", "\\") for part in re.findall(r'"((?:[^"\\]|\\.)*)"', value))


def _combine(old_text: str, new_texts: list[str]) -> str:
    """One record making every change the proposals make to `old_text`: terms they drop, terms they add
    (before the all), terms they move from after the all to before it, and the strictest all any of
    them asks for. A term after the all that no proposal moves stays where it is: receivers ignore it
    there (RFC 7208 §5.1), and putting it before the all would change what the record says."""
    is_all = lambda t: t.lower().lstrip("+-~?") == "all"  # noqa: E731

    def parts(text: str) -> tuple[list[str], list[str]]:
        """(terms before the first all and the all itself, terms after it), modifiers in the first list."""
        terms = [t for _, t in _split_terms(text)][1:]
        first = next((n for n, t in enumerate(terms) if is_all(t)), len(terms))
        later = terms[first + 1:]
        return terms[:first + 1] + [t for t in later if "=" in t], [t for t in later if "=" not in t]

    old_before, old_after = parts(old_text)
    old = old_before + old_after
    removed: set[str] = set()
    moved: set[str] = set()
    added: list[str] = []
    for new in new_texts:
        before, after = parts(new)
        now = before + after
        removed |= {t.lower() for t in old} - {t.lower() for t in now}
        moved |= {t.lower() for t in old_after} & {t.lower() for t in before if not is_all(t)}
        added += [t for t in now if t.lower() not in {x.lower() for x in old} and t not in added]
    alls = [t for t in added if is_all(t)] + [t for t in old_before if is_all(t) and t.lower() not in removed]
    strictest = next((q + "all" for q in "-~?+" if any(t.lower() in (q + "all",) or (q == "+" and t.lower() == "all")
                                                       for t in alls)), None)
    kept = [t for t in old_before if t.lower() not in removed and not is_all(t)]
    kept += [t for t in old_after if t.lower() in moved and t.lower() not in removed and not is_all(t)]
    left_after = [t for t in old_after if t.lower() not in moved and t.lower() not in removed] if strictest else []
    mechanisms = [t for t in kept if "=" not in t] + [t for t in added if "=" not in t and not is_all(t)]
    modifiers = [t for t in kept if "=" in t] + [t for t in added if "=" in t]
    if strictest:
        modifiers = [m for m in modifiers if not m.lower().startswith("redirect=")]
    return " ".join(["v=spf1", *mechanisms, *([strictest] if strictest else []), *left_after, *modifiers])


async def _settle(resolver, findings: list[Finding]) -> list[Finding]:
    """Check every SPF record a fix proposes before it is shown (spf/fixes.py): keep it when it works,
    show the record made to fit when that keeps its meaning, or say what must go instead."""
    proposals = [
        (i, change) for i, f in enumerate(findings) for change in f.changes
        if change.action == "add" and change.rdtype == "TXT" and _unquote(change.value).lower().startswith("v=spf1")
    ]
    # several findings re-publishing the same record (a weak all, a missing include, ptr ...) get one record
    # that makes all their changes: two different SPF records to paste would be spf.multiple
    by_name: dict[str, list[int]] = {}
    for n, (_, change) in enumerate(proposals):
        by_name.setdefault(change.name, []).append(n)
    out = list(findings)
    shared: dict[int, list[str]] = {}  # finding index -> the other findings its record makes the changes of
    first = list(proposals)
    for name, members in by_name.items():
        if len(members) < 2:
            continue
        olds = [c for i, _ in (proposals[n] for n in members) for c in out[i].changes
                if c.action == "remove" and c.rdtype == "TXT" and c.name == name]
        if len({c.value for c in olds}) != 1:
            continue
        old_text = _unquote(olds[0].value)
        # the record for a fail or a warn makes the changes of the fails and warns only: an info's change
        # (-all for ~all) is advice with a condition nobody has checked yet, so its own record makes the
        # changes of the fails and warns and its own on top of them
        needed = [n for n in members if out[proposals[n][0]].severity is not Severity.INFO]
        needed_by = [out[proposals[n][0]].id for n in needed]
        for n in members:
            i, change = proposals[n]
            advice = out[i].severity is Severity.INFO and bool(needed)  # when there is a fail or warn to fix
            group = [*needed, n] if advice else needed or members
            combined = _combine(old_text, [_unquote(proposals[m][1].value) for m in group])
            new_change = replace(change, value=txt_value(combined))
            others = [x for x in (needed_by or [out[proposals[m][0]].id for m in members]) if x != out[i].id]
            shared[i] = others
            if advice:
                note = f" (this record also makes the changes of {', '.join(others)})" if others else ""
            else:
                note = f" (one record for this and {', '.join(others)})" if others else ""
            out[i] = replace(out[i],
                fix=(out[i].fix or "").replace(change.line, new_change.line + note),
                changes=[new_change if c is change else c for c in out[i].changes],
            )
            proposals[n] = (i, new_change)
    fits = list(await asyncio.gather(*(fit_record(resolver, c.name, _unquote(c.value)) for _, c in proposals)))
    # a record combined with another finding's change that cannot be proposed (a term moved from after the
    # all whose include is broken ...) must not cost a finding its own record: that one is checked alone
    alone = [n for n, ((i, change), fit) in enumerate(zip(proposals, fits)) if not fit.ok and change is not first[n][1]]
    retry = await asyncio.gather(*(fit_record(resolver, first[n][1].name, _unquote(first[n][1].value)) for n in alone))
    for n, fit in zip(alone, retry):
        if fit.ok:
            i = first[n][0]
            out[i], proposals[n], fits[n] = findings[i], first[n], fit
    for (i, change), fit in zip(proposals, fits):
        finding = out[i]
        proposed = _unquote(change.value)
        if fit.ok and fit.text == proposed:
            continue
        old_line = change.line
        if fit.ok:
            new_change = replace(change, value=txt_value(fit.text))
            note = f" ({'; '.join(fit.steps)}, so it stays within {LOOKUP_LIMIT} look-ups: {fit.lookups})"
            fix = (finding.fix or "").replace(old_line, new_change.line + note)
            changes = [new_change if c is change else c for c in finding.changes]
            out[i] = replace(finding, fix=fix, changes=changes)
            continue
        lead = (finding.fix or "").split(old_line)[0].rstrip(": ")
        biggest = costliest(fit)
        also = shared.get(i)
        fix = (
            (lead + ". " if lead else "")
            + "No single record can be proposed yet: "
            + (fit.problem.replace("the record proposed", f"the record proposed, which makes the changes of "
                                   f"{' and '.join(also)} too,", 1) if also else fit.problem)
            + (f". The terms that cost most: {biggest}" if biggest else "")
            + ". Remove the includes and mechanisms of services that no longer send mail for the domain (ask the "
            "customer which still do), then run the check again for the exact record."
        )
        out[i] = replace(finding, fix=fix, changes=[])
    return out


def _without_bad_address(text: str, error: SpfSyntaxError) -> str | None:
    """The record without the ip4:/ip6: term the syntax error names, when what is left parses."""
    terms = [t for _, t in _split_terms(text)]
    index = error.index
    if error.term is None or index is None or not 0 < index < len(terms) or terms[index] != error.term:
        return None
    if not error.term.lower().lstrip("+-~?").startswith(("ip4:", "ip6:")):
        return None
    without = " ".join(terms[:index] + terms[index + 1:])
    try:
        parse_record(without)
    except SpfSyntaxError:
        return None
    return without


def _with_terms(record: SpfRecord, add: list[str] | None = None, all_term: str | None = None) -> str:
    """The record rebuilt: extra terms before `all`/redirect, and `all` replaced when asked. A term to add
    that is written after the all (where receivers ignore it) moves before it; the record's other terms
    after the all stay where they are (spf.terms-after-all is the finding that moves them)."""
    evaluated = [m for m in record.evaluated if m.name != "all"]
    add = [t for t in (add or []) if t.lower() not in {m.text.lower() for m in evaluated}]
    after = [m.text for m in record.after_all if m.text.lower() not in {t.lower() for t in add}]
    modifiers = [m.text for m in record.modifiers]
    current_all = record.all_mechanism.text if record.all_mechanism else None
    final_all = all_term or current_all
    terms = ["v=spf1", *(m.text for m in evaluated), *add]
    if final_all:
        terms.append(final_all)
    terms.extend(after)
    terms.extend(m for m in modifiers if not (final_all and m.lower().startswith("redirect=")))
    return " ".join(terms)


def _lists_senders(record: SpfRecord) -> bool:
    """Whether any term authorises a server (anything but all itself), also one written after the all
    where receivers ignore it: spf.terms-after-all moves it, so a fix must not replace it."""
    return any(m.name != "all" for m in record.mechanisms)


def _without_terms(record: SpfRecord, drop: list[str]) -> str:
    return " ".join(["v=spf1", *(t for t in record.terms_text() if t not in drop)])


def _effective_all(node: SpfNode) -> tuple[SpfNode, Mechanism | None]:
    """The record whose `all` decides for unlisted senders (following redirect=), and that `all`."""
    current = node
    for _ in range(LOOKUP_LIMIT + 1):
        record = current.record
        if record is None:
            return current, None
        if record.all_mechanism is not None or record.redirect is None:
            return current, record.all_mechanism
        follow = next((c for c in current.children if c.via == record.redirect.text), None)
        if follow is None or follow.record is None:
            return current, None
        current = follow
    return current, None


def _redirect_chain(node: SpfNode) -> list[SpfNode]:
    """The records from `node` along redirect= (as _effective_all follows them), `node` first."""
    chain = [node]
    for _ in range(LOOKUP_LIMIT):
        record = chain[-1].record
        if record is None or record.all_mechanism is not None or record.redirect is None:
            break
        follow = next((c for c in chain[-1].children if c.via == record.redirect.text), None)
        if follow is None or follow.record is None:
            break
        chain.append(follow)
    return chain


def _is_own(name: str, domain: str) -> bool:
    """Whether an SPF record at `name` is the customer's to change: the domain itself or a name under it."""
    name, domain = name.rstrip(".").lower(), domain.rstrip(".").lower()
    return name == domain or name.endswith("." + domain)


def _not_theirs(holder: str, term: str, domain: str, top: str | None) -> str:
    """The fix for a term in someone else's record (a provider's include): theirs to correct, not the customer's."""
    fix = (
        f"{term} is in the SPF record of {holder}, which is not in {domain}: that record is its owner's to correct "
        "(the provider's side), so report it to them; nothing in the customer's DNS fixes it."
    )
    if top:
        fix += f" Remove {top} from the SPF record of {domain} only if that service no longer sends its mail."
    return fix


def _test_addresses(item: str) -> list[str]:
    """The addresses to evaluate for a profile IP or network: its first and last address."""
    network = ipaddress.ip_network(item, strict=False)
    if network.num_addresses == 1:
        return [str(network.network_address)]
    return [str(network.network_address), str(network.broadcast_address)]


async def check_spf(ctx: "CheckContext") -> list[Finding]:
    """Judge the domain's SPF record: presence, syntax, limits, policy, and the profile's senders."""
    domain = ctx.domain
    resolver = ctx.resolver
    profile = ctx.profile
    lookup = await resolver.query(domain, "TXT")
    if lookup.is_error:
        return [
            _finding(
                "spf.lookup-error",
                Severity.ERROR,
                f"Could not look up the TXT records of {domain}, so SPF was not checked: {lookup.detail}.",
                observed={"status": lookup.status.value, "detail": lookup.detail},
            )
        ]
    expected_includes = [profile.expand(p, domain) for p in (getattr(profile, "spf_includes", None) or [])]
    records = [r for r in lookup.records if is_spf_record(r)] if lookup.exists else []
    if not records:
        suggestion = "v=spf1 " + " ".join(f"include:{inc}" for inc in expected_includes) + " -all" if expected_includes else "v=spf1 mx -all"
        where = "does not exist" if lookup.status is LookupStatus.NXDOMAIN else "has no SPF record"
        return [
            _finding(
                "spf.missing",
                Severity.FAIL,
                f"{domain} {where}: receivers cannot tell which servers may send its mail, so spoofing is easy "
                "and DMARC cannot pass on SPF.",
                fix=_fix_record(domain, suggestion, None)
                + ("" if expected_includes else "  (list every service that sends mail for the domain)"),
                observed={"txt_records": list(lookup.records)},
                expected=suggestion,
                changes=_replace(domain, [], suggestion, None),
            )
        ]
    if len(records) > 1:
        return _as_published(await _settle(resolver, [_multiple(domain, records, lookup.ttl)]), lookup)
    split = await _split_strings(resolver, domain, lookup, records[0])
    published_as: dict[str, str] = {}
    if split is not None:
        # the record judged from here on is the one the DNS panel shows (the strings with a space between
        # them); the split is the finding, and every fix replaces the record as it is published
        split_text, published_value = split.observed["intended"], split.observed["published"]
        published_as[txt_value(split_text)] = published_value
        records = [split_text]

    try:
        root_record = parse_record(records[0])
    except SpfSyntaxError as exc:
        finding = _finding(
            "spf.syntax",
            Severity.FAIL,
            f"The SPF record of {domain} is invalid at {exc}. Receivers treat the whole record as a "
            "permanent error (permerror).",
            fix=f"Correct or remove the term {_show(exc.term) if exc.term else ''} in the TXT record of {domain}."
            if exc.term
            else f"Publish a record that starts with v=spf1 at {domain}.",
            observed={"record": records[0], "term": exc.term, "term_number": exc.index, "position": exc.position, "reason": exc.reason},
        )
        without = _without_bad_address(records[0], exc)
        if without is not None:
            finding = await _fix_without_bad_term(resolver, ctx, finding, records[0], exc, without, lookup,
                                                  expected_includes)
        return _as_published(await _settle(resolver, [finding]), lookup, published_as)

    findings = await _judge(resolver, ctx, records[0], root_record, lookup, expected_includes, split)
    return _as_published(findings, lookup, published_as)


async def _judge(resolver, ctx: "CheckContext", text: str, root_record: SpfRecord, lookup, expected_includes,
                 split: Finding | None, *, intended: str | None = None) -> list[Finding]:
    """The findings of a record that parses: its tree, limits, policy and the profile's senders, each fix
    checked before it is shown (_settle). `intended`: judge this record as if published, not the DNS's."""
    domain, profile = ctx.domain, ctx.profile
    sending_ips = list(getattr(profile, "sending_ips", None) or [])
    probes = [(item, address) for item in sending_ips for address in _test_addresses(item)]
    if intended is None and split is not None:
        intended = text
    tree, *evaluations = await asyncio.gather(
        spf_tree(resolver, domain) if intended is None else spf_tree_of(resolver, domain, intended),
        *(check_host(resolver, address, domain, f"postmaster@{domain}", domain, record=intended) for _, address in probes),
    )
    findings: list[Finding] = [split] if split is not None else []
    findings += _tree_findings(domain, tree, text, lookup.ttl)
    findings += _after_all_findings(domain, tree, lookup.ttl, expected_includes)
    findings += _policy_findings(domain, tree, root_record, lookup.ttl)
    findings += await _profile_findings(resolver, domain, tree, root_record, lookup.ttl, expected_includes, probes,
                                        evaluations)
    findings = await _settle(resolver, findings)
    if not any(f.severity in (Severity.FAIL, Severity.ERROR, Severity.WARN) for f in findings):
        findings.insert(
            0,
            _finding(
                "spf.ok",
                Severity.OK,
                f"{domain} has one valid SPF record using {tree.total_lookups} of the {LOOKUP_LIMIT} DNS look-ups allowed.",
                observed={"record": text, "lookups": tree.total_lookups, "lookup_budget": tree.budget()},
            ),
        )
    return findings


async def _fix_without_bad_term(resolver, ctx: "CheckContext", finding: Finding, published: str,
                                exc: SpfSyntaxError, without: str, lookup, expected_includes) -> Finding:
    """The syntax finding's fix when the broken address term can be left out: the record without it, judged
    as threer judges a published record, so the record proposed never trades the permerror for another
    failure (`ip4:x/33 +all` must not become `v=spf1 +all`). Its other fails and warns are fixed in the
    same record when their fixes can be; when a fail cannot be, or nothing would be left to authorise
    any server, no record is proposed: the address is to be corrected."""
    record = parse_record(without)
    bad = _show(exc.term)
    correct = f"Correct the address in {bad}"
    if _names_no_sender(record):
        return _no_record(finding, correct, record)
    judged = await _judge(resolver, ctx, without, record, lookup, expected_includes, None, intended=without)
    left = [f for f in judged if f.severity in (Severity.FAIL, Severity.WARN) and _is_own_finding(f, ctx.domain)]
    proposals = [c for f in left for c in f.changes
                 if c.action == "add" and c.rdtype == "TXT" and c.name.rstrip(".").lower() == ctx.domain.lower()
                 and _unquote(c.value).lower().startswith("v=spf1")]
    unfixed = [f for f in left if f.severity is Severity.FAIL and not f.changes]
    if unfixed:
        problems = "; ".join(f"{f.id}: {f.message}" for f in unfixed)
        return replace(finding, fix=f"{correct}. Removing the term alone would not do: the rest of the record would "
                       f"still fail ({problems}). Fix that too, then run the check again for the exact record.")
    final = _unquote(proposals[-1].value) if proposals else without
    try:
        final_record = parse_record(final)
    except SpfSyntaxError:
        final_record = None
    if final_record is not None and _names_no_sender(final_record):
        return _no_record(finding, correct, final_record)  # `ip4:x/33 ptr -all` made `v=spf1 -all` with ptr gone
    also = sorted({f.id for f in left if f.changes})
    note = (f" (this record also fixes what the record without the term would still have: {', '.join(also)})"
            if also and final != without else "")
    return replace(finding,
        fix=f"{correct}, or remove the term (mail from that address then no longer passes SPF through it): "
        f"{_fix_record(ctx.domain, final, lookup.ttl)}{note}",
        changes=_replace(ctx.domain, [published], final, lookup.ttl),
    )


def _names_no_sender(record: SpfRecord) -> bool:
    """Whether no mechanism of the record lets a server pass (an all, and terms that fail or softfail,
    only), and it sends receivers nowhere else (no redirect=)."""
    return record.redirect is None and not any(m.name != "all" and m.qualifier == "+" for m in record.evaluated)


def _no_record(finding: Finding, correct: str, record: SpfRecord) -> Finding:
    rest = f"only its {_show(record.all_mechanism.text)}" if record.all_mechanism else "nothing"
    return replace(finding, fix=f"{correct} (the network the domain's mail is sent from): without it the record "
                   f"would name no sending server, {rest}, so no record is proposed in its place.")


def _is_own_finding(finding: Finding, domain: str) -> bool:
    """Whether a finding is about the domain's own record (not a provider's include, which is theirs)."""
    return not finding.changes or any(_is_own(c.name, domain) for c in finding.changes)


def _as_published(findings: list[Finding], lookup, aliases: dict[str, str] | None = None) -> list[Finding]:
    """Records to remove as the zone has them: a long or split record in the strings it was published
    with (the fixes rebuild a record from its joined text, which splits it at 255 characters).
    `aliases`: more values of a record as a fix names it, and the record as published."""
    published: dict[str, str] = dict(aliases or {})
    for rd in lookup.rdata:
        strings = getattr(rd, "strings", None)
        if strings is not None:
            joined = b"".join(strings).decode("utf-8", "replace")
            published.setdefault(txt_value(joined), rd.to_text())
    name = lookup.name.rstrip(".").lower()
    out = []
    for finding in findings:
        changes = [replace(c, value=published[c.value])
                   if c.action == "remove" and c.rdtype == "TXT" and c.name.lower() == name and c.value in published
                   and published[c.value] != c.value else c
                   for c in finding.changes]
        out.append(finding if all(a is b for a, b in zip(changes, finding.changes)) else
                   replace(finding, changes=changes))
    return out


async def _split_strings(resolver, domain: str, lookup, text: str) -> Finding | None:
    """spf.split-strings: a record published as several strings where two meet with no space, so that
    receivers, who join them with nothing between (RFC 7208 §3.3), read a broken term ("...outlook.com"
    "-all" is include:spf.protection.outlook.com-all). None when the joined record is what was meant (a
    long record split inside a term on purpose) or a space would not give a valid record."""
    rd = next((rd for rd in lookup.rdata if getattr(rd, "strings", None) is not None
               and b"".join(rd.strings).decode("utf-8", "replace") == text), None)
    if rd is None or len(rd.strings) < 2:
        return None
    parts = [part.decode("utf-8", "replace") for part in rd.strings]
    glued, offset = [], 0
    for before, after in zip(parts, parts[1:]):
        offset += len(before)
        if before and after and not before.endswith(" ") and not after.startswith(" "):
            glued.append(offset)
    if not glued:
        return None
    spaced = text
    for at in reversed(glued):
        spaced = spaced[:at] + " " + spaced[at:]
    try:
        intended = parse_record(spaced)
    except SpfSyntaxError:
        return None
    spanning = [term for start, term in _split_terms(text) if any(start < at < start + len(term) for at in glued)]
    try:
        joined = parse_record(text)
    except SpfSyntaxError as exc:
        consequence = f"which is not a valid term ({exc.reason}), so receivers give a permanent error (permerror)"
    else:
        tree = await spf_tree_of(resolver, domain, text)
        broken = [n for n in tree.children if n.via in spanning and n.problem in ("none", "invalid", "multiple", "syntax")]
        if broken:
            consequence = (f"an include of {broken[0].domain}, {_what_is_wrong(broken[0])}, so receivers give a "
                           "permanent error (permerror)")
        elif any(t in tree.voids for t in spanning):
            consequence = "a name with no records"
        elif intended.all_mechanism is not None and joined.all_mechanism is None:
            consequence = "so the record loses its all term"
        else:
            return None
        if intended.all_mechanism is not None and joined.all_mechanism is None and "all" not in consequence:
            consequence += f", and the record loses its {intended.all_mechanism.text}"
    shown = " ".join(f'"{p}"' for p in parts)
    return _finding(
        "spf.split-strings",
        Severity.FAIL,
        f"The SPF record of {domain} is published as {len(parts)} strings, {shown}, and receivers join them with "
        f"nothing in between (RFC 7208 §3.3): they read {', '.join(spanning)}, {consequence}. The record meant is the "
        "one with a space where the strings meet (as a DNS panel usually shows it); the other SPF findings are about "
        "that record.",
        fix="Publish it as one string, or with the space at the end of the first string: "
        + _fix_record(domain, spaced, lookup.ttl),
        observed={"strings": parts, "read_as": text, "glued_terms": spanning, "intended": spaced,
                  "published": rd.to_text()},
        expected=spaced,
        changes=_replace(domain, [spaced], spaced, lookup.ttl),
    )


def _multiple(domain: str, records: list[str], ttl: int | None) -> Finding:
    terms: list[str] = []
    qualifiers: set[str] = set()
    for text in sorted(records):
        for _, term in _split_terms(text)[1:]:
            low = term.lower()
            if low.lstrip("+-~?") == "all":
                qualifiers.add(low[0] if low[0] in QUALIFIER_RESULT else "+")
            elif low not in {t.lower() for t in terms}:
                terms.append(term)
    # keep the strictest all that was published; -all when none was
    all_term = next((q + "all" for q in "-~?+" if q in qualifiers), "-all")
    merged = " ".join(["v=spf1", *terms, all_term])
    return _finding(
        "spf.multiple",
        Severity.FAIL,
        f"{domain} has {len(records)} SPF records; there must be exactly one, or receivers give a permanent "
        "error (permerror) and SPF fails for all its mail.",
        fix=f"Delete all {len(records)} SPF TXT records of {domain} and publish one that merges them: "
        + _fix_record(domain, merged, ttl),
        observed=records,
        expected=merged,
        changes=_replace(domain, records, merged, ttl),
    )


def _tree_findings(domain: str, tree: SpfNode, record_text: str, ttl: int | None) -> list[Finding]:
    findings: list[Finding] = []
    parents = {id(child): parent for parent in tree.walk() for child in parent.children}

    def top_term(node: SpfNode) -> str | None:
        """The term of the domain's own record through which `node` is reached."""
        while parents.get(id(node)) is not None and parents[id(node)] is not tree:
            node = parents[id(node)]
        return node.via

    for node in tree.walk():
        for term, detail in node.errors:
            findings.append(
                _finding(
                    "spf.term-error",
                    Severity.ERROR,
                    f"{term} in the SPF record of {node.domain} could not be evaluated: {detail}. Receivers get a "
                    "temporary error (temperror) for mail this term would decide, and whether the record stays within "
                    f"the {VOID_LIMIT} void look-ups RFC 7208 allows is not known until the look-up answers.",
                    observed={"domain": node.domain, "term": term, "detail": detail},
                )
            )
        if node is tree or node.problem is None:
            continue
        parent_hint = f"{node.via}"
        holder = parents.get(id(node), tree).domain  # whose record holds the term that led here
        holder_is_own = _is_own(holder, domain)
        if node.problem == "error":
            findings.append(
                _finding(
                    "spf.include-error",
                    Severity.ERROR,
                    f"Could not look up the SPF record of {node.domain} (reached through {parent_hint}): {node.detail}. "
                    "Receivers get a temporary error (temperror) for as long as this lasts; the record itself "
                    "may be fine.",
                    observed={"domain": node.domain, "via": node.via, "detail": node.detail},
                )
            )
        elif node.problem in ("none", "multiple", "invalid"):
            findings.append(
                _finding(
                    "spf.include-missing",
                    Severity.FAIL,
                    f"{parent_hint} points at {node.domain}, which has {'no usable' if node.problem != 'multiple' else 'more than one'} "
                    f"SPF record ({node.detail}); receivers give a permanent error (permerror).",
                    fix=f"Remove {parent_hint} from the SPF record of {holder}, or correct the domain name in it."
                    if holder_is_own
                    else _not_theirs(holder, parent_hint, domain, top_term(node)),
                    observed={"domain": node.domain, "via": node.via, "detail": node.detail},
                )
            )
        elif node.problem == "syntax":
            findings.append(
                _finding(
                    "spf.syntax",
                    Severity.FAIL,
                    f"The SPF record of {node.domain} (reached through {parent_hint}) is invalid at {node.detail}; "
                    "receivers give a permanent error (permerror).",
                    fix=(
                        f"Correct the SPF record of {node.domain} at the term named above."
                        if _is_own(node.domain, domain)
                        else f"The record of {node.domain} is not in {domain}: ask its owner to correct it, or "
                        f"remove {parent_hint} from the SPF record of {holder}."
                        if holder_is_own
                        else _not_theirs(holder, parent_hint, domain, top_term(node))
                    ),
                    observed={"domain": node.domain, "record": node.text, "term": node.syntax_error.term if node.syntax_error else None},
                )
            )
        elif node.problem == "loop":
            findings.append(
                _finding(
                    "spf.include-loop",
                    Severity.FAIL,
                    f"{parent_hint} leads back to {node.domain}, which is already being evaluated: an endless loop "
                    "that receivers stop with a permanent error (permerror).",
                    fix=f"Remove {parent_hint} from the SPF record of {holder}."
                    if holder_is_own
                    else _not_theirs(holder, parent_hint, domain, top_term(node)),
                    observed={"domain": node.domain, "via": node.via},
                )
            )
    total = tree.total_lookups
    budget = tree.budget()
    partial = any(n.problem in ("error", "too-many", "macro") for n in tree.walk())
    if total > LOOKUP_LIMIT or total >= LOOKUP_LIMIT - 1:
        biggest = sorted(budget.items(), key=lambda kv: -kv[1])[:3]
        listing = ", ".join(f"{term} ({count})" for term, count in biggest)
        over = total > LOOKUP_LIMIT
        findings.append(
            _finding(
                "spf.lookup-limit",
                Severity.FAIL if over else Severity.WARN,
                (
                    f"The SPF record of {domain} needs {'at least ' if partial else ''}{total} DNS look-ups; RFC 7208 allows "
                    f"{LOOKUP_LIMIT}, and receivers give a permanent error (permerror) past that. Biggest: {listing}."
                    if over
                    else f"The SPF record of {domain} needs {total} of the {LOOKUP_LIMIT} DNS look-ups allowed; one "
                    f"more include will break it. Biggest: {listing}."
                ),
                fix=(
                    "Publish it with fewer look-ups: " + _fix_record(domain, record_text, ttl)
                    if over and not partial
                    else "Remove includes and mechanisms for services that no longer send mail for the domain, replace "
                    "a/mx with ip4:/ip6: where the addresses are stable, and keep the total at 10 or fewer."
                ),
                observed={"lookups": total, "lookup_budget": budget, "partial": partial},
                expected=f"at most {LOOKUP_LIMIT}",
                changes=_replace(domain, [record_text], record_text, ttl) if over and not partial else [],
            )
        )
    voids = [f"{n.domain}: {term}" for n in tree.walk() for term in n.voids]
    if len(voids) > VOID_LIMIT:
        own_voids = [f"{n.domain}: {term}" for n in tree.walk() if _is_own(n.domain, domain) for term in n.voids]
        others = [v for v in voids if v not in own_voids]
        void_fix = ("Remove the terms that point at names that no longer exist: " + ", ".join(own_voids) + ".") if own_voids else ""
        if others:
            void_fix += (
                f" {', '.join(others)} {'is' if len(others) == 1 else 'are'} in records outside {domain}: "
                "their owners' to correct (the provider's side), so report them."
            )
        findings.append(
            _finding(
                "spf.void-limit",
                Severity.FAIL,
                f"{len(voids)} terms in the SPF tree of {domain} point at names with no records; RFC 7208 allows "
                f"{VOID_LIMIT} such void look-ups before receivers give a permanent error (permerror).",
                fix=void_fix.strip(),
                observed=voids,
                expected=f"at most {VOID_LIMIT}",
            )
        )
    return findings


def _policy_findings(domain: str, tree: SpfNode, record: SpfRecord, ttl: int | None) -> list[Finding]:
    findings: list[Finding] = []
    owner, all_mechanism = _effective_all(tree)
    owner_domain = owner.domain
    owner_record = owner.record or record
    strict = _with_terms(owner_record, all_term="-all")
    unlisted = ""
    if not _lists_senders(owner_record):
        # a record whose only term is its all: ending it in -all would say "this domain sends no mail"
        if owner_record.redirect is not None and owner_record.all_mechanism is not None:
            strict = _without_terms(owner_record, [owner_record.all_mechanism.text])  # the redirect lists them
        else:
            strict, unlisted = "v=spf1 mx -all", "  (list every service that sends mail for the domain)"
    policy_fix = _fix_record(owner_domain, strict, ttl) + unlisted
    policy_changes = _replace(owner_domain, [owner.text or record.text], strict, ttl)
    if not _is_own(owner_domain, domain):
        # the deciding all is in a record reached by redirect= that the customer cannot change: the fix
        # is in their own last record of the chain: include the other record and end in -all themselves
        chain = _redirect_chain(tree)
        last_own = max((i for i, n in enumerate(chain) if _is_own(n.domain, domain)), default=0)
        mine, theirs = chain[last_own], chain[min(last_own + 1, len(chain) - 1)]
        own_strict = _with_terms(mine.record, add=[f"include:{theirs.domain}"], all_term="-all")
        policy_fix = (
            f"The all that decides is in the SPF record of {owner_domain}, reached through redirect=; that record "
            "is not the customer's to change. End the customer's own record in -all instead: "
            + _fix_record(mine.domain, own_strict, ttl)
        )
        policy_changes = _replace(mine.domain, [mine.text], own_strict, ttl)
        if all_mechanism is not None and all_mechanism.qualifier == "+":
            policy_fix = (
                f"The {all_mechanism.text} is in the SPF record of {owner_domain}, reached through redirect=; that "
                "record is not the customer's to change: report it to its owner, and stop using it: replace the "
                f"redirect in the SPF record of {mine.domain} with the ip4:/ip6:/include: terms of the services that "
                "really send the mail, ending in -all."
            )
            policy_changes = []
    if all_mechanism is None:
        if owner.record is not None and owner.record.redirect is None:
            findings.append(
                _finding(
                    "spf.all-missing",
                    Severity.WARN,
                    f"The SPF record of {owner_domain} does not end in an all mechanism, so mail from servers it does not "
                    "list gets neutral: receivers treat it as if there were no SPF.",
                    fix=policy_fix,
                    observed=owner.text,
                    expected="-all",
                    changes=policy_changes,
                )
            )
    elif all_mechanism.qualifier in _WEAK_ALL:
        finding_id, severity, says = _WEAK_ALL[all_mechanism.qualifier]
        findings.append(
            _finding(
                finding_id,
                severity,
                f"The SPF record of {owner_domain} ends in {all_mechanism.text}: {says}",
                fix=policy_fix,
                observed=all_mechanism.text,
                expected="-all",
                changes=policy_changes,
            )
        )
    if record.redirect is not None and record.all_mechanism is not None:
        # keep the part that lists the senders: the record's own terms, or else the redirect
        keep_redirect = not _lists_senders(record)
        cleaned = _without_terms(record, [record.all_mechanism.text if keep_redirect else record.redirect.text])
        findings.append(
            _finding(
                "spf.redirect-ignored",
                Severity.WARN if keep_redirect else Severity.INFO,
                f"The SPF record of {domain} has both {record.all_mechanism.text} and {record.redirect.text}; the redirect "
                "is never used because all always matches first"
                + (f", so no server is listed and all the domain's mail is judged by {record.all_mechanism.text}."
                   if keep_redirect else "."),
                fix=_fix_record(domain, cleaned, ttl),
                observed=record.text,
                changes=_replace(domain, [record.text], cleaned, ttl),
            )
        )
    own = [n for n in ([tree] if owner is tree else [tree, owner]) if n.record is not None]
    for node in own:
        ptr_terms = [m.text for m in node.record.mechanisms if m.name == "ptr"]
        if ptr_terms:
            findings.append(
                _finding(
                    "spf.ptr",
                    Severity.WARN,
                    f"The SPF record of {node.domain} uses {', '.join(ptr_terms)}: RFC 7208 §5.5 says not to, because it is "
                    "slow, unreliable, and some receivers skip it.",
                    fix="Replace ptr with ip4:/ip6: ranges or a: for the sending hosts: "
                    + _fix_record(node.domain, _without_terms(node.record, ptr_terms), ttl)
                    if _is_own(node.domain, domain)
                    else f"{', '.join(ptr_terms)} is in the SPF record of {node.domain}, reached through redirect=; that "
                    "record is not the customer's to change: report it to its owner (the provider's side).",
                    observed=ptr_terms,
                    changes=_replace(node.domain, [node.text], _without_terms(node.record, ptr_terms), ttl)
                    if _is_own(node.domain, domain) else [],
                )
            )
    return findings


def _after_all_findings(domain: str, tree: SpfNode, ttl: int | None, expected_includes: list[str]) -> list[Finding]:
    """spf.terms-after-all: mechanisms written after a record's first all, which receivers never evaluate
    (RFC 7208 §5.1: "Mechanisms listed after 'all' MUST be ignored"), in the customer's own records."""
    findings: list[Finding] = []
    for node in tree.walk():
        record = node.record
        if record is None or not record.after_all or not _is_own(node.domain, domain) or node.text is None:
            continue
        first_all = record.all_mechanism
        assert first_all is not None  # after_all is empty without an all
        ignored = [m.text for m in record.after_all]
        authorising = [m.text for m in record.after_all if m.name != "all" and m.qualifier == "+"]
        differing = [m.text for m in record.after_all if m.name != "all" and m.qualifier != first_all.qualifier]
        provider = [t for t in authorising
                    if t.lower() in {f"include:{inc}".lower() for inc in expected_includes}]
        if first_all.qualifier != "+" and authorising:
            severity = Severity.FAIL
            says = (f"so the servers {'it lists get' if len(authorising) == 1 else 'they list get'} {first_all.result} "
                    f"from {first_all.text}, not pass"
                    + (f", the provider's mail servers ({', '.join(provider)}) among them" if provider else "")
                    + ". Mail that relies on them fails SPF.")
        elif differing and first_all.qualifier != "+":
            severity = Severity.WARN
            says = f"so the mail they name gets {first_all.result} from {first_all.text}, not what they say."
        else:
            severity = Severity.INFO
            says = f"they change nothing ({first_all.text} decides the same), but they mislead whoever reads the record."
        # a fail or a warn: the record as written, the ignored terms moved before the all (what its author
        # meant); an info: without them (they decide nothing). A second all is dropped either way.
        moved = [m for m in record.after_all if m.name != "all" and severity is not Severity.INFO
                 and m.text.lower() not in {e.text.lower() for e in record.evaluated}]
        fixed = " ".join(["v=spf1", *(m.text for m in record.evaluated if m.name != "all"), *(m.text for m in moved),
                          first_all.text, *(m.text for m in record.modifiers)])
        what = f"Move {', '.join(m.text for m in moved)} before" if moved else "Remove what comes after"
        findings.append(
            _finding(
                "spf.terms-after-all",
                severity,
                f"The SPF record of {node.domain} has {', '.join(ignored)} after {first_all.text}: receivers stop at "
                f"the first all and never evaluate what follows it (RFC 7208 §5.1), {says}",
                fix=f"{what} {first_all.text}, so that {first_all.text} is the last mechanism: "
                + _fix_record(node.domain, fixed, node.ttl if node is not tree else ttl),
                observed={"record": node.text, "all": first_all.text, "ignored": ignored},
                expected=fixed,
                changes=_replace(node.domain, [node.text], fixed, node.ttl if node is not tree else ttl),
            )
        )
    return findings


async def _profile_findings(
    resolver,
    domain: str,
    tree: SpfNode,
    record: SpfRecord,
    ttl: int | None,
    expected_includes: list[str],
    probes: list[tuple[str, str]],
    evaluations: list[SpfResult],
) -> list[Finding]:
    findings: list[Finding] = []
    # an include anywhere in the tree will do, and so will a redirect= to the provider's record
    included = {n.domain.lower() for n in tree.walk() if n is not tree and n.problem != "macro"}
    missing = [inc for inc in expected_includes if inc.lower() not in included]
    if missing:
        fixed = _with_terms(record, add=[f"include:{inc}" for inc in missing])
        # an include written after the all is text only: receivers never reach it (RFC 7208 §5.1)
        ignored = [inc for inc in missing if any(m.name == "include" and m.domain_spec is not None
                                                 and m.domain_spec.raw.lower().rstrip(".") == inc.lower()
                                                 for m in record.after_all)]
        where = (f": {', '.join(f'include:{inc}' for inc in ignored)} is written after "
                 f"{record.all_mechanism.text if record.all_mechanism else 'the all'}, where receivers ignore it "
                 "(RFC 7208 §5.1)" if ignored else "")
        passing = bool(probes) and all(r.result == "pass" for r in evaluations)
        note = ""
        if passing:
            # the provider's addresses pass through the customer's own ip4:/ip6: terms: those go with the
            # include in, when every address still passes with the record as proposed (evaluated here)
            networks = [ipaddress.ip_network(item, strict=False) for item, _ in probes]
            theirs = [m.text for m in record.mechanisms if m.name in ("ip4", "ip6") and m.qualifier == "+"
                      and m.network is not None
                      and any(m.network.version == n.version and m.network.subnet_of(n) for n in networks)]  # type: ignore[arg-type]
            if theirs:
                leaner = _with_terms(parse_record(_without_terms(record, theirs)), add=[f"include:{inc}" for inc in missing])
                checks = await asyncio.gather(*(check_host(resolver, address, domain, f"postmaster@{domain}", domain,
                                                           record=leaner) for _, address in probes))
                if all(c.result == "pass" for c in checks):
                    fixed = leaner
                    note = (f"  ({', '.join(theirs)} {'is' if len(theirs) == 1 else 'are'} the provider's, in its include; "
                            "the profile's addresses pass with this record)")
        findings.append(
            _finding(
                "spf.profile-include-missing",
                Severity.WARN if passing else Severity.FAIL,
                f"The SPF record of {domain} does not include {', '.join(missing)}, "
                + ("the provider's own list of its sending servers. Its addresses in the profile pass today through the "
                   "record's other terms, but the provider changes them in its include, so the domain's mail would start "
                   "failing SPF when they change." if passing else
                   f"which the provider's mail servers need to pass SPF{where}."),
                fix=_fix_record(domain, fixed, ttl) + note,
                observed=record.text,
                expected=[f"include:{inc}" for inc in missing],
                changes=_replace(domain, [record.text], fixed, ttl),
            )
        )
    failing: dict[str, dict] = {}
    errors: dict[str, dict] = {}
    for (item, address), result in zip(probes, evaluations):
        if result.result == "pass":
            continue
        entry = {"address": address, "result": result.result, "reason": result.reason}
        if result.result == "temperror":
            errors.setdefault(item, entry)
        else:
            failing.setdefault(item, entry)
    if errors:
        findings.append(
            _finding(
                "spf.profile-ip-error",
                Severity.ERROR,
                f"Could not finish evaluating SPF for the provider's sending addresses ({', '.join(errors)}): a look-up "
                "timed out or failed, so receivers would get a temporary error (temperror) right now.",
                observed=errors,
            )
        )
    if failing:
        add = [f"include:{inc}" for inc in expected_includes] or [
            ("ip6:" if ":" in item else "ip4:") + item for item in failing
        ]
        findings.append(
            _finding(
                "spf.profile-ip-fails",
                Severity.FAIL,
                f"Mail from the provider's servers ({', '.join(failing)}) does not pass SPF for {domain}: "
                + "; ".join(
                    f"{item} gets {v['result']}" + (f" ({v['reason']})" if v["result"] == "permerror" else "")
                    for item, v in failing.items()
                )
                + ".",
                fix=_fix_record(domain, _with_terms(record, add=add), ttl),
                observed=failing,
                expected="pass",
                changes=_replace(domain, [record.text], _with_terms(record, add=add), ttl),
            )
        )
    return findings
