"""A real DNS server on loopback for the tests: zone files in, UDP and TCP answers out, with faults.

It behaves like a small recursive resolver that knows only the zones it was given: it answers every
name it holds (following CNAMEs across its zones, with RA set), NXDOMAIN/NODATA with an SOA for the
rest, and truncates UDP answers larger than the client's EDNS payload (512 without EDNS) so large
answers really go over TCP. Fault injection per name or (name, type):

- "timeout": never answers; "servfail"; "refused"; "malformed" (garbage bytes);
- "truncate": UDP answer has TC set and no records, the full answer comes over TCP;
- a number, or "delay:SECONDS": answer after that delay (delays run concurrently, not in turn);
- "drop:N": silently drop the first N UDP packets of each question it applies to (a lost packet),
  then answer normally;
- "wrong-type": answer with an A record (127.0.0.99) whatever type was asked;
- "truncate-no-tcp": UDP answer has TC set, and TCP never answers;
- "empty": NOERROR with no records and no SOA (neither an answer nor a proper "no records").

Whole-server modes (`mode=` or `set_mode()`): "dead" answers nothing at all, UDP or TCP (a name
server that is down); "wrong-type" answers every question with an A record (a captive portal or a
DNS filter that rewrites every answer).

A global `delay` (for the benchmark) is added to every answer, also concurrently. Every query is
logged as (name, TYPE, "udp"|"tcp") so tests can assert that each question was asked once; a UDP
packet that repeats an earlier one (same client address, message id and question: a resend after no
answer came) goes to `resend_log` instead, so "asked once" stays about questions.

Answers for names at or below one of `authenticated` (a zone or a single name) carry the AD bit when
the query asked for it (AD or DO set, RFC 6840 §5.7), as a validating resolver's would.

So that tests need not infer concurrency from elapsed time (which a busy machine stretches), the
server also says what it saw: `arrivals` lists every packet with the time it came in (monotonic
seconds, for times relative to each other), and `max_waiting` is the largest number of questions it
held at once between a packet's arrival and its answer (or silence).

    with DnsTestServer(zone_files=[...], faults={"dead.example": "timeout"}) as server:
        server.address     # ("127.0.0.1", port)
        server.query_log   # [(name, type, transport), ...]
        server.resend_log  # [(name, type, "udp"), ...]: repeated UDP packets
        server.arrivals    # [(monotonic time, name, type, transport, resent?), ...]
        server.max_waiting # most questions held at once (waiting out a delay, say)
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.node
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

ZONES_DIR = Path(__file__).parent / "zones"
_UDP_RECEIVE_BUFFER = 4 * 1024 * 1024

_zone_cache: dict[Path, tuple[float, dns.zone.Zone]] = {}

Fault = str | float | int


def load_zone(path: Path | str) -> dns.zone.Zone:
    """Read one master file (it must set $ORIGIN); cached by modification time across servers."""
    path = Path(path)
    mtime = path.stat().st_mtime
    cached = _zone_cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        zone = dns.zone.from_file(str(path), relativize=False, check_origin=False)
    except dns.exception.DNSException as exc:
        raise ValueError(f"zone file {path.name} cannot be read: {exc}") from exc
    _zone_cache[path] = (mtime, zone)
    return zone


def all_zone_files() -> list[Path]:
    return sorted(ZONES_DIR.glob("*.zone"))


def zone_domains() -> list[str]:
    """The $ORIGIN of every zone file in tests/zones/, lower-case, without the trailing dot."""
    domains = []
    for path in all_zone_files():
        match = re.search(r"^\$ORIGIN\s+(\S+)", path.read_text(encoding="utf-8"), re.M)
        if match:
            domains.append(match.group(1).rstrip(".").lower())
    return domains


class ZoneData:
    """Every name the server knows, merged from zone files and extra records."""

    def __init__(self) -> None:
        self.nodes: dict[dns.name.Name, dict[int, dns.rdataset.Rdataset]] = {}
        self.origins: dict[dns.name.Name, str] = {}  # origin -> where it came from
        self.soas: dict[dns.name.Name, dns.rdataset.Rdataset] = {}
        # every owner name and each of its ancestors, so "does this name exist" (an empty
        # non-terminal does) is one set look-up, not a scan of every node
        self._existing: set[dns.name.Name] = set()
        self._existing_stale = False

    def add_zone(self, zone: dns.zone.Zone, source: str) -> None:
        if zone.origin in self.origins:
            raise ValueError(
                f"zone {zone.origin} is defined twice ({self.origins[zone.origin]} and {source}); "
                "give each test zone file its own domain"
            )
        self.origins[zone.origin] = source
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                self._add_rdataset(name, rdataset)
        soa = zone.get_rdataset(zone.origin, dns.rdatatype.SOA)
        if soa is not None:
            self.soas[zone.origin] = soa

    def add_record(self, name: str, rdtype: str, value: str, ttl: int = 300) -> None:
        """Add one record in master-file text; names in the value are absolute ("mail.example" and
        "mail.example." are the same host), as a test means them."""
        owner = dns.name.from_text(name)
        rdata = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), value, origin=dns.name.root, relativize=False
        )
        rdataset = dns.rdataset.Rdataset(dns.rdataclass.IN, rdata.rdtype)
        rdataset.update_ttl(ttl)
        rdataset.add(rdata)
        self._add_rdataset(owner, rdataset)

    def add_rdata(self, name: "str | dns.name.Name", rdata: dns.rdata.Rdata, ttl: int = 300) -> None:
        owner = name if isinstance(name, dns.name.Name) else dns.name.from_text(name)
        rdataset = dns.rdataset.Rdataset(dns.rdataclass.IN, rdata.rdtype)
        rdataset.update_ttl(ttl)
        rdataset.add(rdata)
        self._add_rdataset(owner, rdataset)

    def replace(self, name: str, rdtype: str, values: list[str], ttl: int = 300) -> None:
        """Set the records of one (name, type), replacing what was there ([] removes them)."""
        owner = dns.name.from_text(name)
        node = self.nodes.get(owner)
        if node is not None:
            node.pop(dns.rdatatype.from_text(rdtype), None)
            if not node:  # a name with no records left no longer exists (unless names below it do)
                del self.nodes[owner]
                self._existing_stale = True
        for value in values:
            self.add_record(name, rdtype, value, ttl)

    def remove_record(self, name: str, rdtype: str, value: str) -> bool:
        """Remove one record (master-file text, names absolute); False when it was not there."""
        owner = dns.name.from_text(name)
        kind = dns.rdatatype.from_text(rdtype)
        rdata = dns.rdata.from_text(dns.rdataclass.IN, kind, value, origin=dns.name.root, relativize=False)
        node = self.nodes.get(owner)
        rdataset = node.get(kind) if node else None
        if rdataset is None or rdata not in rdataset:
            return False
        rdataset.discard(rdata)
        if not rdataset:
            del node[kind]
            if not node:
                del self.nodes[owner]
                self._existing_stale = True
        return True

    def _add_rdataset(self, owner: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> None:
        if owner not in self.nodes:
            self._index(owner)
        if rdataset.rdtype == dns.rdatatype.SOA:  # an SOA given as a record makes its owner a zone too
            self.soas.setdefault(owner, rdataset)
        existing = self.nodes.setdefault(owner, {}).get(rdataset.rdtype)
        if existing is None:
            copy = dns.rdataset.Rdataset(rdataset.rdclass, rdataset.rdtype)
            copy.update_ttl(rdataset.ttl)
            for rd in rdataset:
                copy.add(rd)
            self.nodes[owner][rdataset.rdtype] = copy
        else:
            for rd in rdataset:
                existing.add(rd)

    def _index(self, owner: dns.name.Name) -> None:
        name = owner
        while name not in self._existing:
            self._existing.add(name)
            if len(name) <= 1:
                break
            name = name.parent()

    def name_exists(self, name: dns.name.Name) -> bool:
        """True for an owner name and for an empty non-terminal (NODATA, not NXDOMAIN)."""
        if self._existing_stale:
            self._existing = set()
            for owner in self.nodes:
                self._index(owner)
            self._existing_stale = False
        return name in self._existing

    def lookup_node(self, name: dns.name.Name) -> dict[int, dns.rdataset.Rdataset] | None:
        node = self.nodes.get(name)
        if node is not None:
            return node
        if self.name_exists(name):
            return {}
        # wildcard at the closest encloser: *.parent
        parent = name
        while len(parent) > 1:
            parent = parent.parent()
            wildcard = self.nodes.get(dns.name.from_text("*", parent))
            if wildcard is not None:
                return wildcard
            if self.name_exists(parent):
                return None
        return None

    def zone_of(self, name: dns.name.Name) -> dns.name.Name | None:
        """The closest enclosing zone origin that has an SOA (walking up the labels)."""
        while True:
            if name in self.soas:
                return name
            if len(name) <= 1:
                return None
            name = name.parent()

    def soa_for(self, name: dns.name.Name) -> dns.rrset.RRset:
        best = self.zone_of(name)
        if best is not None:
            rdataset = self.soas[best]
            rrset = dns.rrset.RRset(best, dns.rdataclass.IN, dns.rdatatype.SOA)
            rrset.update(rdataset)
            rrset.update_ttl(min(rdataset.ttl, rdataset[0].minimum))
            return rrset
        rrset = dns.rrset.from_text(
            dns.name.root, 60, "IN", "SOA", "a.root-servers.test. hostmaster.test. 1 1800 900 604800 60"
        )
        return rrset


def _normalise_fault_key(key) -> tuple[str, str | None]:
    if isinstance(key, tuple):
        name, rdtype = key
        return (name.rstrip(".").lower(), rdtype.upper())
    return (str(key).rstrip(".").lower(), None)


class DnsTestServer:
    """A loopback DNS server (UDP+TCP on one ephemeral port) in a background thread."""

    def __init__(
        self,
        zone_files: Iterable[Path | str] | None = None,
        faults: Mapping | None = None,
        delay: float = 0.0,
        records: Iterable[tuple] | None = None,
        host: str = "127.0.0.1",
        authenticated: Iterable[str] = (),
        mode: str | None = None,
    ) -> None:
        self.host = host
        self.mode = mode
        self.delay = float(delay)
        self.data = ZoneData()
        files = all_zone_files() if zone_files is None else [Path(p) for p in zone_files]
        for path in files:
            if not path.is_absolute() and not path.exists():
                path = ZONES_DIR / path
            self.data.add_zone(load_zone(path), path.name)
        for record in records or ():
            # (name, TYPE, value[, ttl]) in master-file text, or (name, rdata object) for odd data
            if len(record) == 2 and isinstance(record[1], dns.rdata.Rdata):
                self.data.add_rdata(*record)
            else:
                self.data.add_record(*record)
        self.faults: dict[tuple[str, str | None], Fault] = {}
        for key, value in (faults or {}).items():
            self.faults[_normalise_fault_key(key)] = value
        self.authenticated: set[dns.name.Name] = {dns.name.from_text(n) for n in authenticated}
        self.query_log: list[tuple[str, str, str]] = []
        self.resend_log: list[tuple[str, str, str]] = []
        self.arrivals: list[tuple[float, str, str, str, bool]] = []
        self.waiting = 0  # questions arrived and not yet answered (or given up on)
        self.max_waiting = 0
        self._seen_udp: set[tuple] = set()  # (client address, message id, name, type) of UDP queries
        self._dropped: Counter = Counter()  # (name, type) -> UDP packets dropped by a "drop:N" fault
        self.port: int = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self) -> "DnsTestServer":
        self._thread = threading.Thread(target=self._run, name="dns-test-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the test DNS server did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"the test DNS server could not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
        self._thread = None

    def __enter__(self) -> "DnsTestServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers for tests --------------------------------------------------------------------

    def count(self, name: str, rdtype: str | None = None, transport: str | None = None) -> int:
        name = name.rstrip(".").lower()
        return sum(
            1
            for n, t, tr in list(self.query_log)
            if n == name and (rdtype is None or t == rdtype.upper()) and (transport is None or tr == transport)
        )

    def question_counts(self, transport: str | None = "udp") -> Counter:
        """How often each (name, type) was asked (over one transport, UDP by default)."""
        return Counter((n, t) for n, t, tr in list(self.query_log) if transport is None or tr == transport)

    def set_mode(self, mode: str | None) -> None:
        """None (normal), "dead" (never answers) or "wrong-type" (an A record for every question)."""
        if mode not in (None, "dead", "wrong-type"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode

    def set_fault(self, key, fault: Fault | None) -> None:
        normalised = _normalise_fault_key(key)
        if fault is None:
            self.faults.pop(normalised, None)
        else:
            self.faults[normalised] = fault

    def add_record(self, name: str, rdtype: str, value: str, ttl: int = 300) -> None:
        self.data.add_record(name, rdtype, value, ttl)

    def set_authenticated(self, name: str, authenticated: bool = True) -> None:
        """Set (or stop setting) the AD bit on answers at or below `name`."""
        owner = dns.name.from_text(name)
        if authenticated:
            self.authenticated.add(owner)
        else:
            self.authenticated.discard(owner)

    def _is_authenticated(self, name: dns.name.Name) -> bool:
        while True:
            if name in self.authenticated:
                return True
            if len(name) <= 1:
                return False
            name = name.parent()

    def replace_records(self, name: str, rdtype: str, values: list[str], ttl: int = 300) -> None:
        self.data.replace(name, rdtype, values, ttl)

    # -- the server ---------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = self

        class _Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr) -> None:
                loop.create_task(server._answer_udp(self.transport, data, addr))

        # UDP and TCP share one port: take a free TCP port, then bind UDP on it (retry if taken)
        for attempt in range(20):
            tcp_server = await asyncio.start_server(self._handle_tcp, self.host, self.port or 0)
            port = tcp_server.sockets[0].getsockname()[1]
            try:
                udp_transport, _ = await loop.create_datagram_endpoint(_Udp, local_addr=(self.host, port))
                # a burst of hundreds of queries (a --from run) overflows the default ~200 KiB buffer
                # and the kernel drops them; a real resolver has a large one (the kernel caps it)
                udp_socket = udp_transport.get_extra_info("socket")
                if udp_socket is not None:
                    udp_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)
            except OSError:
                tcp_server.close()
                await tcp_server.wait_closed()
                if self.port or attempt == 19:
                    raise
                continue
            self.port = port
            break
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            udp_transport.close()
            tcp_server.close()
            await tcp_server.wait_closed()
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _fault_for(self, name: str, rdtype: str) -> Fault | None:
        return self.faults.get((name, rdtype), self.faults.get((name, None)))

    async def _prepare(
        self, wire: bytes, transport: str, client=None
    ) -> tuple[dns.message.Message | None, bytes | None, int]:
        """Return (response, raw bytes to send instead, max UDP size); (None, None, _) = stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None, None, 0
        if not query.question:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.FORMERR)
            return response, None, 512
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower() or "."
        rdtype = dns.rdatatype.to_text(question.rdtype)
        seen_key = (client, query.id, name, rdtype)
        resent = transport == "udp" and seen_key in self._seen_udp
        self.arrivals.append((time.monotonic(), name, rdtype, transport, resent))
        if resent:
            self.resend_log.append((name, rdtype, transport))
        else:
            if transport == "udp":
                self._seen_udp.add(seen_key)
            self.query_log.append((name, rdtype, transport))
        self.waiting += 1
        self.max_waiting = max(self.max_waiting, self.waiting)
        try:
            return await self._respond(query, question, name, rdtype, transport)
        finally:
            self.waiting -= 1

    async def _respond(self, query, question, name: str, rdtype: str, transport: str):
        if self.mode == "dead":
            return None, None, 0
        fault = self._fault_for(name, rdtype)
        if self.mode == "wrong-type" and fault is None:
            fault = "wrong-type"
        if fault == "truncate-no-tcp":
            if transport == "tcp":
                return None, None, 0
            fault = "truncate"
        if isinstance(fault, str) and fault.startswith("drop:"):
            if transport == "udp" and self._dropped[(name, rdtype)] < int(fault.split(":", 1)[1]):
                self._dropped[(name, rdtype)] += 1
                return None, None, 0
            fault = None
        delay = self.delay
        if isinstance(fault, (int, float)) and not isinstance(fault, bool):
            delay += float(fault)
            fault = None
        elif isinstance(fault, str) and fault.startswith("delay:"):
            delay += float(fault.split(":", 1)[1])
            fault = None
        if delay > 0:
            await asyncio.sleep(delay)
        max_size = query.payload if query.edns >= 0 else 512
        if fault == "timeout":
            return None, None, 0
        if fault == "malformed":
            return None, query.id.to_bytes(2, "big") + b"\x81\x80\x00\x01\xff\xff", max_size
        response = dns.message.make_response(query, our_payload=4096)
        response.flags |= dns.flags.RA
        if fault == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response, None, max_size
        if fault == "refused":
            response.set_rcode(dns.rcode.REFUSED)
            return response, None, max_size
        if fault == "empty":
            return response, None, max_size
        if fault == "wrong-type":
            rrset = dns.rrset.from_text(question.name, 300, dns.rdataclass.IN, dns.rdatatype.A, "127.0.0.99")
            response.answer.append(rrset)
            return response, None, max_size
        self._fill(response, question.name, question.rdtype)
        if self.authenticated and (query.flags & dns.flags.AD or query.ednsflags & dns.flags.DO):
            # like a validating resolver: AD only when every name in the answer is in a "signed" subtree
            owners = [question.name] + [rrset.name for rrset in (*response.answer, *response.authority)]
            if all(self._is_authenticated(owner) for owner in owners):
                response.flags |= dns.flags.AD
        if fault == "truncate" and transport == "udp":
            response.answer.clear()
            response.authority.clear()
            response.additional.clear()
            response.flags |= dns.flags.TC
        return response, None, max_size

    def _fill(self, response: dns.message.Message, qname: dns.name.Name, qtype: int) -> None:
        current = qname
        seen: set[dns.name.Name] = set()
        while True:
            node = self.data.lookup_node(current)
            if node is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                response.authority.append(self.data.soa_for(current))
                return
            rdataset = node.get(qtype)
            if rdataset is not None and len(rdataset):
                rrset = dns.rrset.RRset(current, dns.rdataclass.IN, qtype)
                rrset.update(rdataset)
                response.answer.append(rrset)
                return
            cname = node.get(dns.rdatatype.CNAME)
            if cname is not None and qtype != dns.rdatatype.CNAME and current not in seen:
                seen.add(current)
                rrset = dns.rrset.RRset(current, dns.rdataclass.IN, dns.rdatatype.CNAME)
                rrset.update(cname)
                response.answer.append(rrset)
                current = cname[0].target
                continue
            response.authority.append(self.data.soa_for(current))
            return

    @staticmethod
    def _to_wire(response: dns.message.Message, max_size: int) -> bytes:
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            response.answer.clear()
            response.authority.clear()
            response.additional.clear()
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=max_size)

    async def _answer_udp(self, transport, data: bytes, addr) -> None:
        response, raw, max_size = await self._prepare(data, "udp", addr)
        if raw is not None:
            transport.sendto(raw, addr)
        elif response is not None:
            transport.sendto(self._to_wire(response, max(max_size, 512)), addr)

    async def _handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(2)
                (length,) = struct.unpack("!H", header)
                wire = await reader.readexactly(length)
                response, raw, _ = await self._prepare(wire, "tcp")
                if raw is not None:
                    payload = raw
                elif response is not None:
                    payload = response.to_wire(max_size=65535)
                else:
                    continue  # "timeout": keep the connection open and silent
                writer.write(struct.pack("!H", len(payload)) + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def resolver_for(server: DnsTestServer, timeout: float = 2.0, deadline: float | None = None, **kwargs):
    """A threer Resolver that asks only this test server."""
    from threer.checks.resolver import Resolver

    return Resolver([server.address], timeout=timeout, deadline=deadline, **kwargs)
