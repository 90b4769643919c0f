"""A domain's SPF include/redirect tree, walked without a client address: look-up budget, void
look-ups and broken includes, for the findings. Only what receivers evaluate is walked: the
mechanisms after a record's first `all` are ignored (RFC 7208 §5.1), so they cost no look-up and
their includes are not followed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import TYPE_CHECKING

from threer.checks.resolver import LookupStatus
from threer.checks.spf.evaluate import _target_name
from threer.checks.spf.macros import MacroString
from threer.checks.spf.record import SpfRecord, SpfSyntaxError, is_spf_record, parse_record

if TYPE_CHECKING:
    from threer.checks.resolver import Resolver

MAX_TREE_NODES = 60  # an absurd include fan-out stops here rather than flooding the resolver


@dataclass
class SpfNode:
    """One SPF record in a domain's include/redirect tree."""

    domain: str
    via: str | None  # the term that led here; None for the domain itself
    record: SpfRecord | None = None
    text: str | None = None  # the raw record (also when it does not parse)
    problem: str | None = None  # none, multiple, syntax, error, loop, invalid, macro, too-many
    detail: str = ""
    syntax_error: SpfSyntaxError | None = None
    voids: list[str] = field(default_factory=list)  # terms whose target has no records
    # terms whose look-up failed (timeout, SERVFAIL ...): whether they match or are void is unknown
    errors: list[tuple[str, str]] = field(default_factory=list)  # (term, what failed)
    children: list["SpfNode"] = field(default_factory=list)
    ttl: int | None = None

    @property
    def lookups(self) -> int:
        if self.record is None:
            return 0
        return self.record.lookup_terms

    @property
    def total_lookups(self) -> int:
        return self.lookups + sum(child.total_lookups for child in self.children)

    @property
    def total_voids(self) -> int:
        return len(self.voids) + sum(child.total_voids for child in self.children)

    def walk(self) -> Iterator[SpfNode]:
        yield self
        for child in self.children:
            yield from child.walk()

    def budget(self) -> dict[str, int]:
        """Look-ups each term of this record costs, includes and redirect with everything under them."""
        costs: dict[str, int] = {}
        if self.record is None:
            return costs
        by_term = {child.via: child.total_lookups for child in self.children}
        for mechanism in self.record.evaluated:
            if mechanism.causes_lookup:
                costs[mechanism.text] = costs.get(mechanism.text, 0) + 1 + by_term.get(mechanism.text, 0)
        redirect = self.record.redirect
        if redirect is not None and self.record.all_mechanism is None:
            costs[redirect.text] = 1 + by_term.get(redirect.text, 0)
        return costs


class _TreeWalk:
    def __init__(self, resolver: "Resolver") -> None:
        self.resolver = resolver
        self.nodes = 0

    async def node(self, domain: str, via: str | None, ancestors: tuple[str, ...]) -> SpfNode:
        node = SpfNode(domain=domain, via=via)
        self.nodes += 1
        if self.nodes > MAX_TREE_NODES:
            node.problem, node.detail = "too-many", f"not followed: more than {MAX_TREE_NODES} records in the tree"
            return node
        lookup = await self.resolver.query(domain, "TXT")
        node.ttl = lookup.ttl
        if lookup.is_error:
            node.problem, node.detail = "error", lookup.detail or lookup.status.value
            return node
        records = [r for r in lookup.records if is_spf_record(r)] if lookup.exists else []
        if not records:
            node.problem = "none"
            node.detail = "the domain does not exist" if lookup.status is LookupStatus.NXDOMAIN else "no SPF record"
            return node
        if len(records) > 1:
            node.problem, node.detail, node.text = "multiple", f"{len(records)} SPF records", records[0]
            return node
        return await self.parsed(node, records[0], ancestors)

    async def parsed(self, node: SpfNode, text: str, ancestors: tuple[str, ...]) -> SpfNode:
        node.text = text
        try:
            node.record = parse_record(text)
        except SpfSyntaxError as exc:
            node.problem, node.detail, node.syntax_error = "syntax", str(exc), exc
            return node
        await asyncio.gather(self._children(node, ancestors + (node.domain.lower(),)), self._voids(node))
        return node

    async def _children(self, node: SpfNode, ancestors: tuple[str, ...]) -> None:
        record = node.record
        assert record is not None  # node() parsed it just before following the children
        terms: list[tuple[str, MacroString]] = [
            (m.text, m.domain_spec) for m in record.evaluated if m.name == "include" and m.domain_spec is not None
        ]
        if record.redirect is not None and record.all_mechanism is None:
            terms.append((record.redirect.text, record.redirect.value))
        pending = []
        for term, spec in terms:
            if spec.has_macros:
                node.children.append(SpfNode(domain=spec.raw, via=term, problem="macro", detail="depends on the sender"))
                continue
            target = _target_name(spec.literal)
            if target is None:
                node.children.append(SpfNode(domain=spec.raw, via=term, problem="invalid", detail="not a valid domain name"))
                continue
            if target.lower() in ancestors:
                node.children.append(
                    SpfNode(domain=target, via=term, problem="loop", detail=f"{target} is already being evaluated")
                )
                continue
            pending.append(self.node(target, term, ancestors))
        node.children.extend(await asyncio.gather(*pending))

    async def _voids(self, node: SpfNode) -> None:
        checks = []
        assert node.record is not None  # node() parsed it just before looking for void terms
        for mechanism in node.record.evaluated:  # terms after all are never looked up (RFC 7208 §5.1)
            if mechanism.name not in ("a", "mx", "exists"):
                continue
            if mechanism.domain_spec is not None and mechanism.domain_spec.has_macros:
                continue
            target = node.domain if mechanism.domain_spec is None else _target_name(mechanism.domain_spec.literal)
            if target is None:
                continue
            types = {"a": ("A", "AAAA"), "mx": ("MX",), "exists": ("A",)}[mechanism.name]
            checks.append((mechanism, [self.resolver.query(target, t) for t in types]))
        results = await asyncio.gather(*(asyncio.gather(*queries) for _, queries in checks))
        hosts_of: list[tuple[str, list[str]]] = []
        for (mechanism, _), lookups in zip(checks, results):
            term = mechanism.text
            failed = [lk for lk in lookups if lk.is_error]
            if failed:
                node.errors.append((term, f"the {failed[0].rdtype} look-up for {failed[0].name} failed "
                                          f"({failed[0].detail or failed[0].status.value})"))
            elif all(lk.status in (LookupStatus.NXDOMAIN, LookupStatus.NODATA) for lk in lookups):
                node.voids.append(term)
            elif mechanism.name == "mx":
                hosts = [rd.exchange.to_text(omit_final_dot=True) for rd in lookups[0].rdata]
                hosts_of.append((term, [h for h in hosts if h][:10]))
        # an mx term is evaluated through its hosts' addresses: a failure there is a failure of the term
        answers = await asyncio.gather(
            *(asyncio.gather(*(self.resolver.query(h, t) for h in hosts for t in ("A", "AAAA"))) for _, hosts in hosts_of)
        )
        for (term, _), lookups in zip(hosts_of, answers):
            failed = [lk for lk in lookups if lk.is_error]
            if failed:
                node.errors.append((term, f"the {failed[0].rdtype} look-up for MX host {failed[0].name} failed "
                                          f"({failed[0].detail or failed[0].status.value})"))


async def spf_tree(resolver: "Resolver", domain: str) -> SpfNode:
    """Walk a domain's SPF record and everything it includes or redirects to, all levels at once."""
    return await _TreeWalk(resolver).node(domain.lower().rstrip("."), None, ())


async def spf_tree_of(resolver: "Resolver", domain: str, text: str) -> SpfNode:
    """The tree a record would have if `text` were published at `domain` (to check a fix before it is shown)."""
    domain = domain.lower().rstrip(".")
    return await _TreeWalk(resolver).parsed(SpfNode(domain=domain, via=None), text, ())
