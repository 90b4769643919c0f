"""The one DNS resolver every check uses: async, asks each question once per run, honest about failures.

A `Resolver` sends queries straight to the configured name servers: threer.checks.dnswire writes the
plain queries and reads the plain answers (nearly all of them), dnspython builds and reads the rest
and is imported only then (a short run whose answers are all plain never imports it); each UDP query (EDNS0, a 1232-byte payload) goes out on its own connected asyncio datagram
socket, and an answer that comes back truncated is asked again with dnspython's async TCP query. Each
distinct (name, type) is asked at most once per resolver: concurrent callers of the same question
await the same in-flight query, later callers get the stored answer. Every answer is classified into
a `LookupStatus`, so checks never confuse "the record is missing" (NXDOMAIN, NODATA) with "the record
could not be looked up" (timeout, SERVFAIL, REFUSED, network trouble, a malformed answer).

A UDP query or its answer can be lost (a burst of queries overflows a socket buffer), so the same
query is sent again on the same socket after a short, growing wait (0.4 s, 0.8 s, 1.6 s ..., never
below three round trips seen from that server) until the per-query timeout; the first valid answer
wins. Retransmissions are counted apart from questions in `stats` (`udp_resends`).

One overall deadline bounds a whole run: once it has passed, every pending and every new query
returns TIMEOUT at once, so a dead name server costs one deadline, not one timeout per query.

Many domains checked in one run (`check-dns --from`) each get their own Resolver (their own
deadline), joined by one `SharedAnswers`: a question one domain has had answered (or has in
flight) is not asked again for another, so the provider's SPF includes of 200 customer domains are
looked up once, not 200 times.
"""

from __future__ import annotations

import asyncio
import collections
import importlib
import ipaddress
import re
import socket
import sys
import time
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from threer.checks import dnswire
from threer.errors import BadInput, ExitStatus, ThreerError

if TYPE_CHECKING:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
else:

    class _DnsPython:
        """dnspython's modules (`dns.message`, ...), each imported when first used: only a query or an
        answer dnswire does not handle needs them (and an error clause that meets an exception)."""

        def __getattr__(self, name: str) -> Any:
            module = importlib.import_module(f"dns.{name}")
            setattr(self, name, module)
            return module

    dns = _DnsPython()

EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: large enough for 2048-bit DKIM keys, small enough not to fragment
_MAX_CNAME_HOPS = 16
# Wait this long for a UDP answer before sending the query again, then twice as long each time; a
# server that answers slowly (busy, far away) gets at least three of its own round trips instead, so
# it is not flooded with copies of questions it is still working on.
FIRST_RESEND_SECONDS = 0.4
_RTT_MULTIPLE = 3.0
# At most this many UDP queries of one run wait for an answer at once: a burst of hundreds (20 domains'
# look-ups together) would queue up behind each other at the server, trip resends and be dropped by
# small forwarders (dnsmasq forwards 150 at most); 100 in flight is more than threer can parse anyway.
MAX_IN_FLIGHT = 100


# the type numbers of the questions the checks ask (RFC 1035, 2782, 3596, 4034, 6698, 8659); any other is dnspython's
_RDTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33, "DS": 43,
            "DNSKEY": 48, "TLSA": 52, "CAA": 257}
_TXT, _SPF = 16, 99


class LookupStatus(str, Enum):
    ANSWER = "answer"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    TIMEOUT = "timeout"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    NETWORK = "network"
    MALFORMED = "malformed"


_ERRORS = frozenset(
    {LookupStatus.TIMEOUT, LookupStatus.SERVFAIL, LookupStatus.REFUSED, LookupStatus.NETWORK, LookupStatus.MALFORMED}
)


@dataclass(frozen=True)
class Lookup:
    """The outcome of one question: what the DNS said, or why it said nothing usable."""

    name: str  # the queried name, lower-case, no trailing dot
    rdtype: str  # "TXT", "MX", ...
    status: LookupStatus
    records: tuple[str, ...] = ()  # presentation form; TXT: character-strings joined with "" and decoded
    rdata: tuple = ()  # the dnspython rdata objects
    ttl: int | None = None
    cname_chain: tuple[str, ...] = ()  # CNAME targets followed, in order
    authenticated: bool = False  # AD bit on the response
    detail: str = ""  # human text for errors
    # answered with records of another type than asked (a captive portal or DNS filter rewriting answers)
    wrong_type: bool = False

    @property
    def is_error(self) -> bool:
        """True when the question could not be answered (the record may or may not exist)."""
        return self.status in _ERRORS

    @property
    def exists(self) -> bool:
        return self.status is LookupStatus.ANSWER


def _clean_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _format_server(server: tuple[str, int]) -> str:
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_nameserver(text: str) -> tuple[str, int]:
    """Parse `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address into (address, port)."""
    raw = (text or "").strip()
    if not raw:
        raise BadInput("The name server is empty; give an IP address such as 127.0.0.1 or 127.0.0.1:5353.")
    host, port_text = raw, ""
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise BadInput(f"{raw!r} opens a [ but never closes it; write an IPv6 server as [::1]:53.")
        host, rest = raw[1:end], raw[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise BadInput(f"{raw!r} has text after the ]; write an IPv6 server as [::1]:53.")
            port_text = rest[1:]
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise BadInput(
            f"{raw!r} is not a name server address; give an IP address such as 127.0.0.1, 127.0.0.1:5353 or [::1]:53."
        ) from None
    port = 53
    if port_text or raw.endswith(":"):
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise BadInput(f"The port in {raw!r} must be a number from 1 to 65535, such as 127.0.0.1:5353.")
        port = int(port_text)
    return (str(address), port)


def system_nameservers() -> list[tuple[str, int]]:
    """The name servers from the system configuration (resolv.conf), as (address, port)."""
    addresses = _resolv_conf_nameservers() if sys.platform != "win32" else None
    if addresses is not None:
        servers = [(address, 53) for address in addresses]
    else:
        servers = _dnspython_nameservers()
    if not servers:
        raise ThreerError(
            "No DNS server is configured on this computer; pass one with --nameserver, such as --nameserver 1.1.1.1.",
            ExitStatus.INCOMPLETE,
        )
    return servers


_RESOLV_CONF = "/etc/resolv.conf"
_CONF_NAME = re.compile(r"(?=.{1,253}\.?$)[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?")


def _resolv_conf_nameservers(path: str = _RESOLV_CONF) -> list[str] | None:
    """The `nameserver` addresses of resolv.conf, read line by line as dnspython reads the file ([] when
    it cannot be opened or names none); None when something in it is left to dnspython's own reading
    (an address that is not a plain IP address, a domain or search name that is not plain, text that is
    not UTF-8)."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = list(file)
    except OSError:
        return []
    except UnicodeDecodeError:
        return None
    found = []
    for line in lines:
        if not line or line[0] in "#;":
            continue
        tokens = line.split()
        if len(tokens) < 2:
            continue
        if tokens[0] == "nameserver":
            try:
                ipaddress.ip_address(tokens[1])
            except ValueError:
                return None
            if "%" in tokens[1]:
                return None  # a scoped IPv6 address: dnspython's reading
            found.append(tokens[1])
        elif tokens[0] in ("domain", "search") and not all(_CONF_NAME.fullmatch(t) for t in tokens[1:]):
            return None
    return found


def _dnspython_nameservers() -> list[tuple[str, int]]:
    import dns.resolver  # only here: resolv.conf read plainly (or --nameserver) needs no dnspython

    try:
        system = dns.resolver.Resolver(configure=True)
    except (dns.resolver.NoResolverConfiguration, OSError):
        return []
    servers: list[tuple[str, int]] = []
    for entry in system.nameservers:
        address = str(entry)
        try:
            ipaddress.ip_address(address)
        except ValueError:
            continue  # DoH/DoT URLs are not something threer speaks to
        servers.append((address, int(system.port)))
    return servers


def _loop_time(loop: asyncio.AbstractEventLoop, monotonic_at: float) -> float:
    """A time.monotonic() instant on the event loop's clock (the same clock, but do not assume it)."""
    return loop.time() + (monotonic_at - time.monotonic())


class _UdpExchange(asyncio.DatagramProtocol):
    """One query on its own connected UDP socket: sends it, sends it again after a growing wait while
    no answer comes, and resolves `answer` with the first datagram that answers it (or an error).

    A plain query (`dnswire.Query`) has its answer read by threer.checks.dnswire when it is one of the
    common shapes; anything else is read by dnspython, as every answer to a dnspython query is.

    Timers are plain bound methods, cancelled when the exchange ends, so nothing keeps it alive after."""

    def __init__(self, query: "dns.message.Message | dnswire.Query", first_wait: float, give_up_at: float) -> None:
        self.plain = query if isinstance(query, dnswire.Query) else None
        self._query = None if isinstance(query, dnswire.Query) else query
        self.wire = query.wire if isinstance(query, dnswire.Query) else query.to_wire()
        self.id_bytes = self.wire[:2]
        self.loop = asyncio.get_running_loop()
        self.answer: asyncio.Future = self.loop.create_future()
        self.wait = first_wait
        self.give_up_at = give_up_at  # time.monotonic()
        self.sent = 0
        self._next_at = 0.0  # when the next copy goes out (the event loop's clock)
        self.transport: asyncio.DatagramTransport | None = None
        self._resend_timer: asyncio.TimerHandle | None = None
        self._give_up_timer: asyncio.TimerHandle | None = None

    # -- the socket's side ------------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        if self.answer.done() or data[:2] != self.id_bytes:
            return  # a late copy, or a stray packet for someone else
        if self.plain is not None:
            plain = dnswire.read_answer(self.plain, data, _MAX_CNAME_HOPS)
            if plain is not None:
                self._finish(plain)
                return
        try:
            response = dns.message.from_wire(data, raise_on_truncation=True)
        except dns.message.Truncated:
            self._finish(dnswire.Truncated())  # the caller asks again over TCP
            return
        except Exception as exc:  # noqa: BLE001 - any unreadable answer is reported as malformed
            self._finish(dns.exception.FormError(f"{type(exc).__name__}: {exc}"))
            return
        if self.query.is_response(response):
            self._finish(response)

    @property
    def query(self) -> dns.message.Message:
        if self._query is None:
            self._query = dns.message.from_wire(self.wire)
        return self._query

    def error_received(self, exc: Exception) -> None:
        self._finish(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(exc or EOFError("the UDP socket closed"))

    # -- the query's side ---------------------------------------------------------------------------

    def send_first(self) -> None:
        self._send()
        self._give_up_timer = self.loop.call_at(_loop_time(self.loop, self.give_up_at), self._give_up)
        # copies go out at fixed times after the first (0.4, 1.2, 2.8 s ...), so a timer that fires
        # late on a busy machine does not push the later copies back, or past the timeout
        self._next_at = self.loop.time() + self.wait
        self._schedule_resend()

    def _send(self) -> None:
        assert self.transport is not None
        self.transport.sendto(self.wire)
        self.sent += 1

    def _schedule_resend(self) -> None:
        if self._next_at < _loop_time(self.loop, self.give_up_at):
            self._resend_timer = self.loop.call_at(self._next_at, self._resend)

    def _resend(self) -> None:
        self._resend_timer = None
        if self.answer.done():
            return
        self._send()
        self.wait *= 2
        self._next_at += self.wait
        self._schedule_resend()

    def _give_up(self) -> None:
        self._give_up_timer = None
        self._finish(TimeoutError())

    def _finish(self, outcome: "dns.message.Message | dnswire.Answer | BaseException") -> None:
        if not self.answer.done():
            if isinstance(outcome, BaseException):
                self.answer.set_exception(outcome)
            else:
                self.answer.set_result(outcome)
        self.close()

    def close(self) -> None:
        if not self.answer.done():
            self.answer.cancel()  # the caller stopped waiting: nobody will read an outcome now
        for timer in (self._resend_timer, self._give_up_timer):
            if timer is not None:
                timer.cancel()
        self._resend_timer = self._give_up_timer = None
        if self.transport is not None:
            transport, self.transport = self.transport, None
            transport.close()


class _InFlightLimit:
    """A counting gate for UDP queries in flight, whose waiters give up at their own deadline."""

    def __init__(self, limit: int) -> None:
        self.free = limit
        self.waiters: collections.deque[asyncio.Future] = collections.deque()

    async def acquire(self, give_up_at: float) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        loop = asyncio.get_running_loop()
        turn: asyncio.Future = loop.create_future()
        self.waiters.append(turn)

        def expire() -> None:
            if not turn.done():
                turn.set_exception(TimeoutError())

        timer = loop.call_at(_loop_time(loop, give_up_at), expire)
        try:
            await turn  # release() hands its place over by setting the result
        except BaseException:
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self.release()  # handed a place just as we were cancelled: pass it on
            raise
        finally:
            timer.cancel()

    def release(self) -> None:
        while self.waiters:
            turn = self.waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.free += 1


class SharedAnswers:
    """Answers shared by the Resolvers of one run that ask the same name servers (one per domain).

    Only real answers (records, NXDOMAIN, NODATA) are shared; a failure belongs to the resolver that
    met it (its deadline, its bad luck), so another domain asks again for itself."""

    def __init__(self, nameservers: list[tuple[str, int]]) -> None:
        self.nameservers = list(nameservers)
        self.answers: dict[tuple[str, str], Lookup] = {}
        self.inflight: dict[tuple[str, str], tuple[asyncio.AbstractEventLoop, asyncio.Future]] = {}
        self.srtt: dict[tuple[str, int], float] = {}  # smoothed round-trip time per server, seconds
        self.slow: set[tuple[str, int]] = set()  # servers that let a question time out: asked last
        self.in_flight = _InFlightLimit(MAX_IN_FLIGHT)


class Resolver:
    """One per run. Async. Each distinct (name, rdtype) is asked at most once; concurrent callers share
    one in-flight query. EDNS0 payload 1232, truncated UDP retried over TCP, and an overall deadline
    (monotonic, from creation) after which every pending or new query returns TIMEOUT at once."""

    def __init__(
        self,
        nameservers: list[tuple[str, int]] | None = None,
        *,
        timeout: float = 5.0,
        deadline: float | None = None,
        want_dnssec: bool = False,
        shared: SharedAnswers | None = None,
    ) -> None:
        self.nameservers: list[tuple[str, int]] = list(nameservers) if nameservers else system_nameservers()
        if shared is not None and (shared.nameservers != self.nameservers or want_dnssec):
            shared = None  # answers from other servers (or without DNSSEC records) are not these answers
        self._shared = shared
        self.timeout = float(timeout)
        self.want_dnssec = want_dnssec
        self._started = time.monotonic()
        self.deadline_seconds = deadline
        self._deadline_at = None if deadline is None else self._started + float(deadline)
        self._done: dict[tuple[str, str], Lookup] = {}
        self._inflight: dict[tuple[str, str], tuple[asyncio.AbstractEventLoop, asyncio.Future]] = {}
        self._stats = {
            "queries": 0,  # distinct questions sent (a question tried on two servers counts once)
            "udp": 0,  # UDP exchanges (one per question and server tried)
            "udp_resends": 0,  # the same UDP query sent again after no answer came
            "tcp": 0,
            "tcp_retries": 0,
            "cache_hits": 0,
            "shared_hits": 0,  # answered from another domain's look-up in the same run
            "deadline_hits": 0,
        }
        # smoothed round-trip time per server, seconds (shared by the run's resolvers)
        self._srtt: dict[tuple[str, int], float] = shared.srtt if shared is not None else {}
        # servers that let a question time out: later questions go to the others first, so a dead first
        # server costs one timeout once, not one per question (shared by the run's resolvers)
        self._slow: set[tuple[str, int]] = shared.slow if shared is not None else set()

    # -- public --------------------------------------------------------------------------------

    @property
    def stats(self) -> dict:
        """Counters for tests and the benchmark: distinct questions, exchanges by transport, UDP resends,
        cache hits (this resolver's own and shared ones)."""
        return dict(self._stats)

    def resend_interval(self, server: tuple[str, int]) -> float:
        """How long to wait for a UDP answer from `server` before sending the query the first time again."""
        srtt = self._srtt.get(server)
        return FIRST_RESEND_SECONDS if srtt is None else max(FIRST_RESEND_SECONDS, _RTT_MULTIPLE * srtt)

    @property
    def deadline_passed(self) -> bool:
        return self._deadline_at is not None and time.monotonic() >= self._deadline_at

    @property
    def partial(self) -> bool:
        """True when at least one answer was cut short by the overall deadline."""
        return self._stats["deadline_hits"] > 0

    def remaining(self) -> float | None:
        """Seconds left before the overall deadline (None when there is none)."""
        if self._deadline_at is None:
            return None
        return max(0.0, self._deadline_at - time.monotonic())

    async def query(self, name: str, rdtype: str) -> Lookup:
        """Ask one question (once per resolver) and return what came back, never raising for DNS trouble."""
        key = (_clean_name(name), rdtype.strip().upper())
        done = self._done.get(key)
        if done is not None:
            self._stats["cache_hits"] += 1
            return done
        loop = asyncio.get_running_loop()
        inflight = self._inflight.get(key)
        if inflight is not None and inflight[0] is loop:
            self._stats["cache_hits"] += 1
            return await asyncio.shield(inflight[1])
        if self._shared is not None:
            shared = await self._from_shared(key, loop)
            if shared is not None:
                return shared
        task = loop.create_task(self._resolve(*key))
        self._inflight[key] = (loop, task)
        if self._shared is not None:
            self._shared.inflight[key] = (loop, task)
        try:
            result = await asyncio.shield(task)
        finally:
            if task.done():
                self._inflight.pop(key, None)
                if self._shared is not None and self._shared.inflight.get(key, (None, None))[1] is task:
                    del self._shared.inflight[key]
        return result

    async def _from_shared(self, key: tuple[str, str], loop: asyncio.AbstractEventLoop) -> Lookup | None:
        """Another resolver's answer to the same question (waiting for it within our own deadline), or
        None when there is none or it was a failure."""
        assert self._shared is not None
        answer = self._shared.answers.get(key)
        if answer is None:
            inflight = self._shared.inflight.get(key)
            if inflight is None or inflight[0] is not loop:
                return None
            remaining = self.remaining()
            try:
                answer = await asyncio.wait_for(asyncio.shield(inflight[1]), remaining)
            except asyncio.TimeoutError:
                answer = self._deadline_lookup(*key)
                self._done[key] = answer
                return answer
            if answer.is_error:
                return None
        self._stats["shared_hits"] += 1
        self._done[key] = answer
        return answer

    # -- internals -----------------------------------------------------------------------------

    async def _resolve(self, name: str, rdtype: str) -> Lookup:
        try:
            result = await self._lookup(name, rdtype)
        except Exception as exc:  # a bug in parsing an absurd answer must not take the whole run down
            result = Lookup(name, rdtype, LookupStatus.MALFORMED, detail=f"unusable answer ({type(exc).__name__}: {exc})")
        self._done[(name, rdtype)] = result
        if self._shared is not None and not result.is_error:
            self._shared.answers[(name, rdtype)] = result
        return result

    def _deadline_lookup(self, name: str, rdtype: str) -> Lookup:
        self._stats["deadline_hits"] += 1
        return Lookup(
            name,
            rdtype,
            LookupStatus.TIMEOUT,
            detail=f"not answered before the overall deadline of {self.deadline_seconds:g} s",
        )

    async def _lookup(self, name: str, rdtype: str) -> Lookup:
        try:
            qtype = _RDTYPES.get(rdtype) or dns.rdatatype.from_text(rdtype)
            # a plain name is written by dnswire; any other is checked (and written) by dnspython
            plain = dnswire.plain_query(name, int(qtype), payload=EDNS_PAYLOAD, want_dnssec=self.want_dnssec)
            qname = dns.name.from_text(name or ".") if plain is None else None
        except (dns.exception.DNSException, ValueError) as exc:
            return Lookup(name, rdtype, LookupStatus.MALFORMED, detail=f"{name!r} cannot be asked for in DNS ({exc})")
        if self.deadline_passed:
            return self._deadline_lookup(name, rdtype)
        self._stats["queries"] += 1
        failures: list[Lookup] = []
        servers = [s for s in self.nameservers if s not in self._slow] + [s for s in self.nameservers if s in self._slow]
        for server in servers:
            remaining = self.remaining()
            if remaining is not None and remaining <= 0:
                failures.append(self._deadline_lookup(name, rdtype))
                break
            budget = self.timeout if remaining is None else min(self.timeout, remaining)
            try:
                response = await self._exchange(name, qname, qtype, server, time.monotonic() + budget)
            except (asyncio.TimeoutError, dns.exception.Timeout):
                if len(self.nameservers) > 1:
                    self._slow.add(server)
                if remaining is not None and remaining <= self.timeout:
                    failures.append(self._deadline_lookup(name, rdtype))
                    break
                failures.append(
                    Lookup(
                        name,
                        rdtype,
                        LookupStatus.TIMEOUT,
                        detail=f"no answer from {_format_server(server)} within {self.timeout:g} s",
                    )
                )
                continue
            except OSError as exc:
                failures.append(
                    Lookup(
                        name,
                        rdtype,
                        LookupStatus.NETWORK,
                        detail=f"could not reach {_format_server(server)} ({exc.strerror or exc})",
                    )
                )
                continue
            except (dns.exception.DNSException, ValueError, EOFError) as exc:
                failures.append(
                    Lookup(
                        name,
                        rdtype,
                        LookupStatus.MALFORMED,
                        detail=f"{_format_server(server)} sent an answer that cannot be read ({exc or type(exc).__name__})",
                    )
                )
                continue
            self._slow.discard(server)  # it answers again
            lookup = await self._classify(name, rdtype, qtype, response, server)
            if lookup.status in (LookupStatus.SERVFAIL, LookupStatus.REFUSED, LookupStatus.MALFORMED):
                failures.append(lookup)
                continue  # another server may do better
            return lookup
        return failures[-1]

    async def _exchange(
        self, name: str, qname: dns.name.Name | None, qtype: dns.rdatatype.RdataType, server: tuple[str, int],
        give_up_at: float,
    ) -> "dns.message.Message | dnswire.Answer":
        # ask for the AD bit (RFC 6840 §5.7) so a validating resolver says whether it validated
        query: dns.message.Message | dnswire.Query | None = None
        if qname is None:
            query = dnswire.plain_query(name, int(qtype), payload=EDNS_PAYLOAD, want_dnssec=self.want_dnssec)
        if query is None:
            qname = qname if qname is not None else dns.name.from_text(name or ".")
            query = dns.message.make_query(qname, qtype, use_edns=0, payload=EDNS_PAYLOAD, want_dnssec=self.want_dnssec)
            query.flags |= dns.flags.AD
        response = await self._udp_then_tcp(query, server, give_up_at)
        if (not isinstance(response, dnswire.Answer) and response.rcode() in (dns.rcode.FORMERR, dns.rcode.NOTIMP)
                and response.edns < 0):
            # an old server that does not speak EDNS: ask again plainly
            plainly = dns.message.make_query(qname if qname is not None else dns.name.from_text(name or "."), qtype)
            response = await self._udp_then_tcp(plainly, server, give_up_at)
        return response

    async def _udp_then_tcp(
        self, query: "dns.message.Message | dnswire.Query", server: tuple[str, int], give_up_at: float
    ) -> "dns.message.Message | dnswire.Answer":
        address, port = server
        limit = self._shared.in_flight if self._shared is not None else None
        if limit is not None:
            await limit.acquire(give_up_at)
        try:
            self._stats["udp"] += 1
            try:
                return await self._udp_with_resends(query, server, give_up_at)
            except dnswire.Truncated:
                self._stats["tcp_retries"] += 1
                self._stats["tcp"] += 1
                budget = give_up_at - time.monotonic()
                if budget <= 0:
                    raise TimeoutError(f"no time left for TCP within {self.timeout:g} s") from None
                message = dns.message.from_wire(query.wire) if isinstance(query, dnswire.Query) else query
                from dns import asyncquery  # only here: most runs never fall back to TCP

                return await asyncio.wait_for(asyncquery.tcp(message, address, timeout=budget, port=port), budget)
        finally:
            if limit is not None:
                limit.release()

    async def _udp_with_resends(
        self, query: "dns.message.Message | dnswire.Query", server: tuple[str, int], give_up_at: float
    ) -> "dns.message.Message | dnswire.Answer":
        """Send `query` on its own connected UDP socket and wait for its answer, sending it again (same
        id) when none comes in time; raises Timeout when `give_up_at` (monotonic) passes, Truncated for
        a TC answer, OSError when the server cannot be reached."""
        loop = asyncio.get_running_loop()
        exchange = _UdpExchange(query, self.resend_interval(server), give_up_at)
        # a connected socket hears the ICMP "port unreachable", so a wrong server fails at once
        family = socket.AF_INET6 if ipaddress.ip_address(server[0]).version == 6 else socket.AF_INET
        await loop.create_datagram_endpoint(lambda: exchange, remote_addr=server, family=family)
        started = time.monotonic()
        try:
            exchange.send_first()
            response = await exchange.answer
        finally:
            exchange.close()
            self._stats["udp_resends"] += max(0, exchange.sent - 1)
        if exchange.sent == 1:
            # only an unambiguous round trip tells the server's speed (Karn's rule)
            self._observe_rtt(server, time.monotonic() - started)
        return response

    def _observe_rtt(self, server: tuple[str, int], rtt: float) -> None:
        previous = self._srtt.get(server)
        self._srtt[server] = rtt if previous is None else previous + (rtt - previous) / 8

    async def _classify(
        self,
        name: str,
        rdtype: str,
        qtype: dns.rdatatype.RdataType,
        response: "dns.message.Message | dnswire.Answer",
        server: tuple[str, int],
    ) -> Lookup:
        if isinstance(response, dnswire.Answer):  # read by dnswire: one of the plain shapes
            if response.negative:
                return Lookup(name, rdtype, LookupStatus.NXDOMAIN if response.nxdomain else LookupStatus.NODATA,
                              ttl=response.ttl, cname_chain=response.cname_chain, authenticated=response.authenticated)
            return Lookup(name, rdtype, LookupStatus.ANSWER, records=tuple(_present(rd) for rd in response.records),
                          rdata=response.records, ttl=response.ttl, cname_chain=response.cname_chain,
                          authenticated=response.authenticated)
        authenticated = bool(response.flags & dns.flags.AD)
        rcode = response.rcode()
        where = _format_server(server)
        if rcode == dns.rcode.SERVFAIL:
            return Lookup(name, rdtype, LookupStatus.SERVFAIL, detail=f"{where} answered SERVFAIL (server failure)")
        if rcode == dns.rcode.REFUSED:
            return Lookup(name, rdtype, LookupStatus.REFUSED, detail=f"{where} refused to answer (REFUSED)")
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return Lookup(
                name, rdtype, LookupStatus.MALFORMED, detail=f"{where} answered {dns.rcode.to_text(rcode)}"
            )

        # follow the CNAME chain inside this one answer
        current = dns.name.from_text(name or ".")
        chain: list[str] = []
        answer_rrset = None
        for _ in range(_MAX_CNAME_HOPS + 1):
            answer_rrset = response.get_rrset(response.answer, current, dns.rdataclass.IN, qtype)
            if answer_rrset is not None or qtype == dns.rdatatype.CNAME:
                break
            cname = response.get_rrset(response.answer, current, dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None or len(cname) == 0:
                break
            current = cname[0].target
            target = _clean_name(current.to_text())
            if target in chain or target == name:
                return Lookup(
                    name,
                    rdtype,
                    LookupStatus.MALFORMED,
                    cname_chain=tuple(chain + [target]),
                    detail="the CNAME chain loops back on itself",
                )
            chain.append(target)

        if answer_rrset is not None and len(answer_rrset) > 0:
            rdatas = tuple(answer_rrset)
            return Lookup(
                name,
                rdtype,
                LookupStatus.ANSWER,
                records=tuple(_present(rd) for rd in rdatas),
                rdata=rdatas,
                ttl=int(answer_rrset.ttl),
                cname_chain=tuple(chain),
                authenticated=authenticated,
            )

        other = [rr for rr in response.answer if rr.name == current
                 and rr.rdtype not in (dns.rdatatype.CNAME, dns.rdatatype.DNAME, dns.rdatatype.RRSIG)]
        if other:
            # an answer of another type than asked (a captive portal or a DNS filter answering everything
            # with an address): not an answer to this question, so nothing is known
            shown = dns.rdatatype.to_text(other[0].rdtype)
            return Lookup(
                name, rdtype, LookupStatus.MALFORMED, cname_chain=tuple(chain), wrong_type=True,
                detail=f"{where} answered a {rdtype} question with {shown} records (a captive portal or a DNS filter?)",
            )
        soa = next((rr for rr in response.authority if rr.rdtype == dns.rdatatype.SOA), None)
        negative_ttl = int(min(soa.ttl, soa[0].minimum)) if soa is not None and len(soa) else None
        if chain and rcode == dns.rcode.NOERROR and soa is None:
            # the server gave only the CNAME (typically an authoritative server whose target lies in
            # another zone): ask for the target, through the same once-per-run cache
            target_lookup = await self.query(chain[-1], rdtype)
            return Lookup(
                name,
                rdtype,
                target_lookup.status,
                records=target_lookup.records,
                rdata=target_lookup.rdata,
                ttl=target_lookup.ttl,
                cname_chain=tuple(chain) + target_lookup.cname_chain,
                authenticated=authenticated and target_lookup.authenticated,
                detail=target_lookup.detail,
            )
        status = LookupStatus.NXDOMAIN if rcode == dns.rcode.NXDOMAIN else LookupStatus.NODATA
        if status is LookupStatus.NODATA and soa is None and not chain and not response.authority:
            # "no records" from a resolver says so with the zone's SOA (RFC 2308 §2.2); an empty answer
            # with nothing at all is not that statement
            return Lookup(name, rdtype, LookupStatus.MALFORMED,
                          detail=f"{where} sent an empty answer (no records and no SOA), so it is not known")
        return Lookup(
            name, rdtype, status, ttl=negative_ttl, cname_chain=tuple(chain), authenticated=authenticated
        )


def _present(rdata) -> str:
    """Presentation form of one record; TXT strings are joined and decoded as text."""
    if rdata.rdtype in (_TXT, _SPF):
        return b"".join(rdata.strings).decode("utf-8", errors="replace")
    return rdata.to_text()


def judged_filter(answered: int, wrong_type: int) -> bool:
    """Whether a domain's resolver is a captive portal or a DNS filter: it answered more questions with
    records of another type than asked than it answered at all (threer.checks.DomainOutcome)."""
    return wrong_type > answered


def distrust_filtered(findings: list[Any], wrong_type: int) -> list[Any]:
    """The findings of a run whose resolver is judged a DNS filter: every verdict that rests on its
    answers (an address for a blocklist or autodiscover name, a "no such name") is `error` instead,
    as `<check>.lookup-error`. Such a resolver answers every question with an address, so "listed in
    a blocklist" or "autodiscover has an address" would be the filter's answer, not the domain's."""
    from threer.checks.history import by_connection
    from threer.findings import Finding, Severity

    trusted = (Severity.ERROR, Severity.INFO)
    out = []
    for f in findings:
        if f.severity in trusted or by_connection(f.id):  # smtp.*, owa.*, ...: a connection's verdict
            out.append(f)
            continue
        out.append(Finding(
            # spf-ip names its verdicts by RFC 7208 result: "not known because of the DNS" is temperror
            id="spf-ip.temperror" if f.check == "spf-ip" else f"{f.check}.lookup-error",
            check=f.check,
            severity=Severity.ERROR,
            message=f"Not known: the DNS server answered {wrong_type} questions with records of another type than "
            "asked (a captive portal or a DNS filter?), so its answers to address questions are not to be trusted "
            f"either. It gave: {f.message}",
            fix="Run the check from another network, or with --nameserver set to a resolver that answers each "
            "question as asked.",
            observed={"not_trusted": f.id, "observed": f.observed},
        ))
    return out
