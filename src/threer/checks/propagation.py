"""`--propagation`: a domain's own name servers and public resolvers side by side.

For MX, SPF, autodiscover and DMARC, each server's answer, TTL and the zone's SOA serial as that
server sees it. The reference is what the authoritative servers with the newest serial say; a server
whose answer differs from it is stale, and its TTL says for how long a resolver may keep the old data.

The public resolvers are the well-known ones unless THREER_PUBLIC_RESOLVERS names others
(`Name=IP[:PORT],...`), which is how tests point them at loopback servers.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from threer.checks.ns import direct_resolver, find_name_servers, soa_serial
from threer.checks.resolver import Lookup, Resolver, parse_nameserver
from threer.errors import BadInput

if TYPE_CHECKING:
    from threer.checks import CheckOptions

PUBLIC_RESOLVERS_ENV = "THREER_PUBLIC_RESOLVERS"

DEFAULT_PUBLIC_RESOLVERS: tuple[tuple[str, str], ...] = (
    ("Google", "8.8.8.8"),
    ("Cloudflare", "1.1.1.1"),
    ("Quad9", "9.9.9.9"),
    ("OpenDNS", "208.67.222.222"),
)

# record label -> (name template, DNS type, prefix a TXT answer must start with)
RECORDS: dict[str, tuple[str, str, str | None]] = {
    "MX": ("{domain}", "MX", None),
    "SPF": ("{domain}", "TXT", "v=spf1"),
    "autodiscover": ("autodiscover.{domain}", "CNAME", None),
    "DMARC": ("_dmarc.{domain}", "TXT", "v=dmarc1"),
}
RECORD_NAMES = tuple(RECORDS)


class PublicResolver(BaseModel):
    name: str
    address: tuple[str, int]


class RecordAnswer(BaseModel):
    status: str  # a LookupStatus value
    values: list[str] = Field(default_factory=list)  # sorted, so servers compare equal
    ttl: int | None = None  # seconds the answer may still be kept (counts down at a resolver)
    stale: bool = False


class ServerView(BaseModel):
    name: str  # the NS host name, or the public resolver's name
    kind: Literal["authoritative", "public"]
    address: str  # "IP:PORT"
    serial: int | None = None
    serial_status: str = "answer"
    answers: dict[str, RecordAnswer] = Field(default_factory=dict)
    stale: bool = False


class PropagationView(BaseModel):
    domain: str
    current_serial: int | None = None  # the newest serial among the authoritative servers
    servers: list[ServerView] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


def public_resolvers_from_env(environ: dict[str, str] | None = None) -> list[PublicResolver]:
    """THREER_PUBLIC_RESOLVERS (`Name=IP[:PORT],...` or bare addresses), else the well-known list."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    text = env.get(PUBLIC_RESOLVERS_ENV, "").strip()
    if not text:
        return [PublicResolver(name=name, address=(ip, 53)) for name, ip in DEFAULT_PUBLIC_RESOLVERS]
    resolvers = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, address = item.rpartition("=")
        try:
            parsed = parse_nameserver(address)
        except BadInput as exc:
            raise BadInput(f"{PUBLIC_RESOLVERS_ENV} has a bad entry {item!r}: {exc.message}") from None
        resolvers.append(PublicResolver(name=name.strip() or address, address=parsed))
    return resolvers


def _format(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _answer(lookup: Lookup, prefix: str | None) -> RecordAnswer:
    if not lookup.exists:
        return RecordAnswer(status=lookup.status.value, ttl=lookup.ttl)
    values = list(lookup.records)
    if prefix is not None:
        values = [v for v in values if v.strip().lower().startswith(prefix)]
    values = sorted(v.lower().rstrip(".") if lookup.rdtype != "TXT" else v for v in values)
    return RecordAnswer(status="answer" if values else "nodata", values=values, ttl=lookup.ttl)


async def _view(resolver: Resolver, domain: str, name: str, kind: str, address: tuple[str, int]) -> ServerView:
    questions = {label: (template.format(domain=domain), rdtype) for label, (template, rdtype, _) in RECORDS.items()}
    soa, *lookups = await asyncio.gather(
        resolver.query(domain, "SOA"), *(resolver.query(n, t) for n, t in questions.values())
    )
    answers = {label: _answer(lk, RECORDS[label][2]) for label, lk in zip(questions, lookups)}
    return ServerView(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        address=_format(address),
        serial=soa_serial(soa),
        serial_status=soa.status.value,
        answers=answers,
    )


def _comparable(answer: RecordAnswer) -> tuple[Any, ...] | None:
    """What must agree between servers; None when the server could not be asked (not stale, unknown)."""
    if answer.status in ("answer", "nxdomain", "nodata"):
        return (tuple(answer.values),)
    return None


async def check_propagation(
    domain: str,
    resolver: Resolver,
    public_resolvers: list[PublicResolver],
    *,
    authoritative_port: int = 53,
) -> PropagationView:
    """Ask every authoritative server and every public resolver the same questions at once."""
    delegation = await find_name_servers(resolver, domain)
    view = PropagationView(domain=domain)
    targets: list[tuple[str, str, tuple[str, int]]] = []
    for server in delegation.servers:
        if server.address is None:
            view.notes.append(f"The name server {server.host} has no address, so it was not asked.")
            continue
        targets.append((server.host, "authoritative", (server.address, authoritative_port)))
    if not delegation.servers:
        view.notes.append(f"No name servers were found for {domain} ({delegation.ns.status.value}); only public resolvers are shown.")
    targets.extend((p.name, "public", p.address) for p in public_resolvers)

    views = await asyncio.gather(
        *(_view(direct_resolver(resolver, address[0], address[1]), domain, name, kind, address) for name, kind, address in targets)
    )
    view.servers = list(views)
    authoritative = [v for v in views if v.kind == "authoritative"]
    serials = [v.serial for v in authoritative if v.serial is not None]
    view.current_serial = max(serials) if serials else None
    newest = [v for v in authoritative if v.serial is not None and v.serial == view.current_serial]
    for label in RECORD_NAMES:
        votes = Counter(_comparable(v.answers[label]) for v in newest)
        votes.pop(None, None)
        if not votes:
            continue
        reference = votes.most_common(1)[0][0]
        for seen_by in views:
            seen = _comparable(seen_by.answers[label])
            if seen is not None and seen != reference:
                seen_by.answers[label].stale = True
                seen_by.stale = True
    for auth in authoritative:
        if auth.serial is not None and view.current_serial is not None and auth.serial < view.current_serial:
            auth.stale = True
    if view.current_serial is None and authoritative:
        view.notes.append("No authoritative server gave an SOA serial, so staleness could not be judged.")
    for shown in views:
        if shown.stale:
            ttls = [a.ttl for a in shown.answers.values() if a.stale and a.ttl is not None]
            how_long = f" for up to {max(ttls)} s more (TTL)" if ttls and shown.kind == "public" else ""
            view.notes.append(f"{shown.name} ({shown.address}) still serves old data{how_long}.")
    return view


def run_propagation(domains: list[str], options: CheckOptions, public_resolvers: list[PublicResolver]) -> list[PropagationView]:
    """Propagation views for many domains (sync), each with its own resolver and deadline."""

    async def one(domain: str) -> PropagationView:
        from threer.checks import make_resolver

        resolver = make_resolver(options)
        try:
            return await check_propagation(
                domain, resolver, public_resolvers, authoritative_port=options.effective_authoritative_port()
            )
        except Exception as exc:  # noqa: BLE001 - one domain's trouble stays with that domain
            return PropagationView(domain=domain, notes=[f"The propagation check stopped: {type(exc).__name__}: {exc}"])

    async def run_all() -> list[PropagationView]:
        gate = asyncio.Semaphore(20)

        async def gated(domain: str) -> PropagationView:
            async with gate:
                return await one(domain)

        return list(await asyncio.gather(*(gated(d) for d in domains)))

    return asyncio.run(run_all())
