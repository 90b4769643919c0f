"""SPF records threer proposes, checked before they are shown.

A fix that publishes a new SPF record is walked as if it were published (`spf_tree_of`): it must
parse, stay within RFC 7208 §4.6.4's 10 DNS look-ups and 2 void look-ups, and lead to no broken
include. When it does not, `fit_record` tries what keeps the record's meaning:

1. drop repeated terms;
2. drop the record's own terms that point at names with no records (void: they never match);
3. replace `a`/`mx` terms for hosts inside the customer's own domain with the `ip4:`/`ip6:`
   addresses they have now (stable: the customer controls them; a provider's hosts are never
   flattened, their addresses change without notice).

When the record still does not fit, the result says how many look-ups must go and which terms
cost most, and no record is proposed.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from threer.checks.spf.record import LOOKUP_LIMIT, VOID_LIMIT, Mechanism, SpfRecord, SpfSyntaxError, _split_terms, parse_record
from threer.checks.spf.tree import SpfNode, spf_tree_of

if TYPE_CHECKING:
    from threer.checks.resolver import Resolver

MAX_FLATTENED = 20  # ip4:/ip6: terms one a/mx may become before flattening stops being a fix


@dataclass
class Fit:
    """A proposed record after checking: `ok` when it may be shown as it is."""

    text: str
    ok: bool
    lookups: int
    voids: int
    steps: list[str] = field(default_factory=list)  # what was changed to make it fit, in words
    problem: str = ""  # why it cannot be shown, in words (when not ok)
    costs: list[tuple[str, int]] = field(default_factory=list)  # the terms that cost most, biggest first


def _own(name: str, domain: str) -> bool:
    name, domain = name.rstrip(".").lower(), domain.rstrip(".").lower()
    return name == domain or name.endswith("." + domain)


def _dedupe(text: str) -> tuple[str, bool]:
    terms = [t for _, t in _split_terms(text)]
    seen: set[str] = set()
    kept = []
    for term in terms:
        key = term.lower()
        if key in seen:
            continue
        seen.add(key)
        kept.append(term)
    return " ".join(kept), len(kept) != len(terms)


def _what_is_wrong(node: SpfNode) -> str:
    """The end of "include:x would lead to x, …" in words that fit the node's problem."""
    if node.problem == "none":
        return "which does not exist" if node.detail == "the domain does not exist" else "which has no SPF record"
    if node.problem == "multiple":
        return f"which has {node.detail or 'more than one SPF record'}"
    if node.problem == "invalid":
        return "which is not a valid domain name"
    if node.problem == "syntax":
        return f"whose SPF record does not parse ({node.detail})" if node.detail else "whose SPF record does not parse"
    return "which is already being evaluated (a loop)"


def _problem(tree: SpfNode) -> str:
    """A reason the record would not work whatever its size: a broken include, a loop, a failed look-up."""
    for node in tree.walk():
        if node is tree and node.problem == "syntax":
            return f"it would not parse ({node.detail})"
        if node is not tree and node.problem in ("none", "multiple", "invalid", "syntax", "loop"):
            return f"{node.via} would lead to {node.domain}, {_what_is_wrong(node)}"
        if node.problem == "error" or node.errors:
            return "some of its look-ups failed just now, so its cost is not known"
    return ""


async def _flatten(resolver: "Resolver", domain: str, record: SpfRecord) -> tuple[str, list[str]]:
    """The record with own-domain a/mx terms replaced by today's addresses; and which terms were."""
    replaced: dict[str, list[str]] = {}

    async def addresses(term: Mechanism) -> list[str] | None:
        target = domain if term.domain_spec is None else term.domain_spec.literal.rstrip(".").lower()
        if term.domain_spec is not None and term.domain_spec.has_macros:
            return None
        if not _own(target, domain):
            return None
        hosts = [target]
        if term.name == "mx":
            mx = await resolver.query(target, "MX")
            if not mx.exists:
                return None
            hosts = [rd.exchange.to_text(omit_final_dot=True) for rd in mx.rdata]
            if not all(_own(h, domain) for h in hosts if h):
                return None  # a provider's MX hosts: their addresses are theirs to change
        lookups = await asyncio.gather(*(resolver.query(h, t) for h in hosts if h for t in ("A", "AAAA")))
        if any(lk.is_error for lk in lookups):
            return None
        found = []
        for lk in lookups:
            prefix = term.cidr4 if lk.rdtype == "A" else term.cidr6
            for value in lk.records:
                bits = 32 if lk.rdtype == "A" else 128
                network = ipaddress.ip_network(f"{value}/{prefix if prefix is not None else bits}", strict=False)
                kind = "ip4" if lk.rdtype == "A" else "ip6"
                shown = str(network.network_address) if network.prefixlen == bits else str(network)
                entry = f"{'' if term.qualifier == '+' else term.qualifier}{kind}:{shown}"
                if entry not in found:
                    found.append(entry)
        return found if 0 < len(found) <= MAX_FLATTENED else None

    candidates = [m for m in record.mechanisms if m.name in ("a", "mx")]
    results = await asyncio.gather(*(addresses(m) for m in candidates))
    for mechanism, found in zip(candidates, results):
        if found:
            replaced[mechanism.text] = found
    terms = []
    for term in record.terms_text():
        terms.extend(replaced.get(term, [term]))
    return " ".join(["v=spf1", *terms]), list(replaced)


async def fit_record(resolver: "Resolver", domain: str, text: str) -> Fit:
    """Check a record before proposing it for `domain`, making it fit when that keeps its meaning."""
    steps: list[str] = []
    text, deduped = _dedupe(text)
    if deduped:
        steps.append("repeated terms dropped")
    tree = await spf_tree_of(resolver, domain, text)
    first_lookups = tree.total_lookups
    first_steps = len(steps)
    problem = _problem(tree)
    if problem:
        return Fit(text, False, tree.total_lookups, tree.total_voids, steps, problem)
    if tree.total_lookups <= LOOKUP_LIMIT and tree.total_voids <= VOID_LIMIT:
        return Fit(text, True, tree.total_lookups, tree.total_voids, steps)
    if tree.voids:
        drop = set(tree.voids)
        text = " ".join(t for _, t in _split_terms(text) if t not in drop)
        steps.append("terms pointing at names with no records dropped (" + ", ".join(sorted(drop)) + ")")
    try:
        record = parse_record(text)
    except SpfSyntaxError as exc:  # pragma: no cover - dropping whole terms keeps the record valid
        return Fit(text, False, tree.total_lookups, tree.total_voids, steps, f"it would not parse ({exc})")
    flattened, which = await _flatten(resolver, domain, record)
    if which:
        text, _ = _dedupe(flattened)
        steps.append(f"{len(which)} a/mx term{'s' if len(which) != 1 else ''} for the domain's own hosts replaced by "
                     "their current addresses (update the record when those hosts move)")
    if which or tree.voids:
        tree = await spf_tree_of(resolver, domain, text)
    problem = _problem(tree)
    costs = sorted(tree.budget().items(), key=lambda kv: -kv[1])
    if problem:
        return Fit(text, False, tree.total_lookups, tree.total_voids, steps, problem, costs)
    if tree.total_lookups <= LOOKUP_LIMIT and tree.total_voids <= VOID_LIMIT:
        return Fit(text, True, tree.total_lookups, tree.total_voids, steps, costs=costs)
    reasons = []
    if tree.total_lookups > LOOKUP_LIMIT:
        made = steps[first_steps:]
        if made and first_lookups > tree.total_lookups:
            # the count the technician sees in spf.lookup-limit first, then what is left after threer's own changes
            reasons.append(
                f"the record proposed needs {first_lookups} DNS look-ups (RFC 7208 allows {LOOKUP_LIMIT}), so "
                f"{first_lookups - LOOKUP_LIMIT} must go; with the changes threer can make ({'; '.join(made)}) it would "
                f"need {tree.total_lookups}, and {tree.total_lookups - LOOKUP_LIMIT} more must still go"
            )
        else:
            reasons.append(
                f"the record proposed needs {tree.total_lookups} DNS look-ups, so {tree.total_lookups - LOOKUP_LIMIT} "
                f"must go (RFC 7208 allows {LOOKUP_LIMIT})"
            )
    if tree.total_voids > VOID_LIMIT:
        reasons.append(f"{tree.total_voids} of its look-ups find nothing (at most {VOID_LIMIT} allowed)")
    return Fit(text, False, tree.total_lookups, tree.total_voids, steps, "; ".join(reasons), costs)


def costliest(fit: Fit, count: int = 3) -> str:
    """"include:a (5), include:b (4)": the terms that cost most, for a fix that cannot be spelled out."""
    return ", ".join(f"{term} ({n})" for term, n in fit.costs[:count] if n > 1) or ", ".join(
        f"{term} ({n})" for term, n in fit.costs[:count]
    )
