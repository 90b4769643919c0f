"""The `smtp` check: talk to every MX host on port 25 the way a sending server would.

For each MX host threer connects to every one of its addresses (A and AAAA; all hosts and addresses
at once, each bounded by the check's time budget, so the whole probe lasts one timeout), times the greeting, sends EHLO, reads the extensions, and when STARTTLS is offered
negotiates TLS with a verifying context and reads the TLS version, the cipher and the certificate
chain. When verification fails, a second session without verification reads the certificate so the
finding can say what is wrong with it (expired, another name, unknown issuer). It ends with QUIT and
sends no mail.

Three outcomes are kept apart: the server said something wrong (`fail`/`warn`), the server could not
be reached (`error`, with the reason that many networks block outbound port 25), and the DNS could not
say where the servers are (`error`). `probe_host` never raises for anything the network does.

Each address gets its own findings, named by the address: a sender may reach any of them, so one bad
server behind a good one is a problem all the same. An IPv6 address this computer has no route to
(an IPv4-only network) is said as `info` when another address of the host was probed, not as an
error: it says nothing about the server.

The probes are shared with the `dane` check through `smtp_probes(ctx)`: one session per address per run.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from threer.checks.context import CheckContext, lookup_error
from threer.checks.resolver import Lookup
from threer.findings import Finding, Severity

if TYPE_CHECKING:
    from threer.checks.https import Verify

CHECK = "smtp"
SMTP_PORT = 25
EXPIRY_WARNING = timedelta(days=14)
MAX_LINE = 2048  # RFC 5321 §4.5.3.1.5 allows 512 octets a reply line; be lenient, never unbounded
MAX_LINES = 100
MAX_TEXT = 200  # characters of outside text (banner, reply) kept in a finding
BLOCKED_REASON = "many networks block outbound port 25: run from another network"

FINDING_IDS = frozenset(
    {
        "smtp.ok",
        "smtp.lookup-error",
        "smtp.unreachable",
        "smtp.no-banner",
        "smtp.greeting-refused",
        "smtp.closed",
        "smtp.ehlo-refused",
        "smtp.no-starttls",
        "smtp.starttls-refused",
        "smtp.tls-failed",
        "smtp.tls-old",
        "smtp.cert-expired",
        "smtp.cert-expiring",
        "smtp.cert-name-mismatch",
        "smtp.cert-untrusted",
        "smtp.no-route",
    }
)

_OLD_TLS = ("SSLv3", "TLSv1", "TLSv1.1")
# connect() errors that say this computer cannot reach the address at all (no route, no IPv6)
_NO_ROUTE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT})
_CACHE_KEY = "_smtp_probes"


@dataclass
class SmtpProbe:
    """What one SMTP session with one MX host showed, and where it stopped."""

    host: str
    address: str | None = None
    port: int = SMTP_PORT
    stage: str = "resolve"  # the last stage reached: resolve, connect, banner, ehlo, starttls, tls, done
    failure: str | None = None  # lookup-error, timeout, refused, network, no-banner, greeting, closed,
    #                             ehlo, starttls, tls; None when the session went to the end
    detail: str = ""
    connect_ms: int | None = None
    banner_ms: int | None = None  # from the connection being open to the last line of the greeting
    banner: str | None = None
    banner_code: int | None = None
    extensions: list[str] = field(default_factory=list)  # EHLO keywords with their parameters, before TLS
    starttls_offered: bool = False
    starttls_ok: bool = False
    tls_version: str | None = None
    cipher: str | None = None
    chain: list[bytes] = field(default_factory=list)  # DER, leaf first, as the server sent it
    verified: bool | None = None  # the chain verified against the trusted CAs (names not checked)
    verify_error: str | None = None  # OpenSSL's reason when it did not
    lookup: Lookup | None = None  # the look-up that failed, for `lookup-error`
    no_route: bool = False  # the connection failed at once: this computer has no route to the address

    def summary(self) -> dict[str, Any]:
        """For a finding's `observed` (and the history): plain JSON."""
        data: dict[str, Any] = {
            "host": self.host,
            "address": self.address,
            "port": self.port,
            "stage": self.stage,
            "failure": self.failure,
            "banner_ms": self.banner_ms,
            "banner": self.banner,
            "extensions": self.extensions,
            "starttls": "negotiated" if self.starttls_ok else ("offered" if self.starttls_offered else "not offered"),
            "tls_version": self.tls_version,
            "cipher": self.cipher,
        }
        if self.chain:
            from threer.checks.https import parse_certificate

            certificates = [parse_certificate(der) for der in self.chain]
            data["certificate"] = certificates[0].summary() if certificates[0] else None
            data["chain"] = [f"{c.subject} (issued by {c.issuer})" if c else "(unreadable)" for c in certificates]
            data["verified"] = self.verified
        return data


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class _Closed(Exception):
    """The server closed the connection."""


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    """One SMTP reply: its code and the text of each line (multi-line replies joined, RFC 5321 §4.2.1)."""
    lines: list[str] = []
    while True:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            raise _Closed() from exc
        except asyncio.LimitOverrunError as exc:
            raise ValueError("a reply line is far longer than SMTP allows") from exc
        except (ConnectionError, OSError) as exc:
            raise _Closed() from exc
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if len(line) < 3 or not line[:3].isdigit():
            raise ValueError(f"the reply {_clip(line)!r} is not SMTP")
        lines.append(line[4:])
        if len(line) == 3 or line[3] != "-" or len(lines) >= MAX_LINES:
            return int(line[:3]), lines


def _client_name(writer: asyncio.StreamWriter) -> str:
    """EHLO's argument: this computer's address as an address literal (RFC 5321 §4.1.3), always valid."""
    sockname = writer.get_extra_info("sockname")
    try:
        address = ipaddress.ip_address(sockname[0])
    except (TypeError, ValueError, IndexError):
        return "[127.0.0.1]"
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


def _chain_of(ssl_object: ssl.SSLObject) -> list[bytes]:
    """The chain the server sent, leaf first (Python 3.13 has it public; 3.11 and 3.12 keep it inside)."""
    inner = getattr(ssl_object, "_sslobj", ssl_object)
    for name in ("get_unverified_chain",):
        method = getattr(ssl_object, name, None) or getattr(inner, name, None)
        if method is not None:
            try:
                chain = method() or []
                return [c if isinstance(c, bytes) else c.public_bytes(ssl.ENCODING_DER if hasattr(ssl, "ENCODING_DER") else 2) for c in chain]
            except (ssl.SSLError, ValueError, AttributeError, TypeError):
                break
    der = ssl_object.getpeercert(binary_form=True)
    return [der] if der else []


def _verifying_context(verify: Verify) -> ssl.SSLContext:
    """Verify the chain against the trusted CAs, but leave the names to threer (an MX host's
    certificate for another name is a finding, not a failed handshake)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    try:
        if isinstance(verify, ssl.SSLContext):
            for der in verify.get_ca_certs(binary_form=True):
                context.load_verify_locations(cadata=der)
        elif isinstance(verify, str):
            context.load_verify_locations(cafile=verify)
        else:
            import certifi  # what the HTTPS checks trust (httpx's own bundle)

            context.load_verify_locations(cafile=certifi.where())
    except (OSError, ssl.SSLError, ImportError):
        context.load_default_certs()
    return context


_contexts: dict[object, ssl.SSLContext] = {}


def _context_for(verify: Verify) -> ssl.SSLContext:
    key = verify if isinstance(verify, (str, bool)) else id(verify)
    if key not in _contexts:
        if verify is False:
            _contexts[key] = _unverified_context()
        else:
            _contexts[key] = _verifying_context(verify)
    return _contexts[key]


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # to read a certificate that already failed verification
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    return context


async def _session(probe: SmtpProbe, context: ssl.SSLContext, started: float) -> None:
    """One SMTP session up to (and through) STARTTLS, filling `probe` as it goes."""
    probe.stage = "connect"
    try:
        reader, writer = await asyncio.open_connection(probe.address, probe.port, limit=MAX_LINE)
    except ConnectionRefusedError:
        probe.failure, probe.detail = "refused", "the connection was refused"
        return
    except OSError as exc:
        probe.failure, probe.detail = "network", f"the connection failed ({exc.strerror or exc})"
        probe.no_route = exc.errno in _NO_ROUTE
        return
    connected = time.monotonic()
    probe.connect_ms = int((connected - started) * 1000)
    try:
        probe.stage = "banner"
        try:
            code, lines = await _read_reply(reader)
        except _Closed:
            probe.failure, probe.detail = "closed", "the server closed the connection before its greeting"
            return
        probe.banner_ms = int((time.monotonic() - connected) * 1000)
        probe.banner_code, probe.banner = code, _clip(" ".join(lines))
        if code != 220:
            probe.failure, probe.detail = "greeting", f"the server greeted with {code} {probe.banner}"
            return
        probe.stage = "ehlo"
        writer.write(f"EHLO {_client_name(writer)}\r\n".encode("ascii"))
        try:
            code, lines = await _read_reply(reader)
        except _Closed:
            probe.failure, probe.detail = "closed", "the server closed the connection after EHLO"
            return
        if code != 250:
            probe.failure, probe.detail = "ehlo", f"the server answered EHLO with {code} {_clip(' '.join(lines))}"
            return
        probe.extensions = [_clip(line) for line in lines[1:]]
        probe.starttls_offered = any(line.split()[:1] == ["STARTTLS"] for line in (e.upper() for e in probe.extensions))
        if not probe.starttls_offered:
            probe.stage = "done"
            await _quit(reader, writer)
            return
        probe.stage = "starttls"
        writer.write(b"STARTTLS\r\n")
        try:
            code, lines = await _read_reply(reader)
        except _Closed:
            probe.failure, probe.detail = "closed", "the server closed the connection after STARTTLS"
            return
        if code != 220:
            probe.failure, probe.detail = "starttls", f"the server answered STARTTLS with {code} {_clip(' '.join(lines))}"
            return
        probe.stage = "tls"
        try:
            await writer.start_tls(context, server_hostname=probe.host)
        except ssl.SSLCertVerificationError as exc:
            probe.verified = False
            probe.verify_error = exc.verify_message or str(exc)
            probe.failure, probe.detail = "verify", probe.verify_error
            return
        except (ssl.SSLError, ConnectionError, OSError) as exc:
            probe.failure, probe.detail = "tls", f"the TLS handshake failed ({getattr(exc, 'reason', None) or exc})"
            return
        ssl_object = writer.get_extra_info("ssl_object")
        probe.starttls_ok = True
        probe.tls_version = ssl_object.version()
        cipher = ssl_object.cipher()
        probe.cipher = cipher[0] if cipher else None
        probe.chain = _chain_of(ssl_object)
        if probe.verified is None:
            probe.verified = context.verify_mode == ssl.CERT_REQUIRED
        probe.stage = "done"
        writer.write(f"EHLO {_client_name(writer)}\r\n".encode("ascii"))
        try:
            await _read_reply(reader)
        except _Closed:
            return  # the certificate is in hand; a server that hangs up now is not the sender's concern
        await _quit(reader, writer)
    except ValueError as exc:
        probe.failure, probe.detail = "protocol", f"the server does not speak SMTP ({exc})"
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 0.5)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            pass


async def _quit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"QUIT\r\n")
    try:
        await asyncio.wait_for(_read_reply(reader), 1.0)
    except (asyncio.TimeoutError, _Closed, ValueError, OSError):
        pass


async def probe_host(
    host: str, address: str, *, port: int = SMTP_PORT, timeout: float = 5.0, verify: Verify = True, stated_timeout: float | None = None
) -> SmtpProbe:
    """One MX host: an SMTP session within `timeout` seconds (a second one, also within it, when the
    certificate fails verification, to read it). Never raises for what the network or server does."""
    probe = SmtpProbe(host=host, address=address, port=port)
    started = time.monotonic()
    deadline = started + timeout
    try:
        await asyncio.wait_for(_session(probe, _context_for(verify), started), timeout)
    except asyncio.TimeoutError:
        _timed_out(probe, stated_timeout or timeout)
        return probe
    if probe.failure == "verify":
        # the chain did not verify: read the certificate without verification to say what is wrong
        second = SmtpProbe(host=host, address=address, port=port)
        try:
            await asyncio.wait_for(_session(second, _unverified_context(), time.monotonic()), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            second.failure = "timeout"
        if second.starttls_ok:
            probe.tls_version, probe.cipher, probe.chain = second.tls_version, second.cipher, second.chain
            probe.starttls_ok, probe.stage = True, "done"
        probe.failure = None if second.starttls_ok else "tls"
        if probe.failure:
            probe.detail = f"the certificate did not verify ({probe.verify_error}) and could not be read"
    return probe


def _timed_out(probe: SmtpProbe, timeout: float) -> None:
    if probe.stage == "connect":
        probe.failure, probe.detail = "timeout", f"no connection within {timeout:g} s"
    elif probe.stage == "banner":
        probe.failure, probe.detail = "no-banner", f"connected, but the server sent no greeting within {timeout:g} s"
    else:
        probe.failure, probe.detail = "timeout", f"the server stopped answering after {probe.stage.upper()} ({timeout:g} s)"


async def _mx_hosts(ctx: CheckContext) -> tuple[list[str], Lookup | None]:
    lookup = await ctx.resolver.query(ctx.domain, "MX")
    if lookup.is_error:
        return [], lookup
    hosts = []
    for rdata in sorted(lookup.rdata, key=lambda r: (getattr(r, "preference", 0), str(getattr(r, "exchange", "")))):
        host = str(getattr(rdata, "exchange", "")).rstrip(".").lower()
        if host and host not in hosts:
            hosts.append(host)
    return hosts, None


def _address_key(text: str) -> tuple[int, int, str]:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return (9, 0, text)
    return (address.version, int(address), text)


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


async def _probe_mx(ctx: CheckContext, host: str, port: int, timeout: float) -> list[SmtpProbe]:
    """One probe for each address of `host` (A and AAAA, looked up at once), all at once."""
    override = (ctx.connect_overrides or {}).get(host)
    if override is not None:
        return [await probe_host(host, override[0], port=override[1], timeout=timeout, verify=ctx.verify)]
    started = time.monotonic()
    a, aaaa = await asyncio.gather(ctx.resolver.query(host, "A"), ctx.resolver.query(host, "AAAA"))
    # in address order (IPv4 first), so the findings come in the same order whatever order the DNS gives
    addresses = sorted(set(a.records) | set(aaaa.records), key=_address_key)
    if not addresses:
        probe = SmtpProbe(host=host, port=port)
        failed = a if a.is_error else aaaa if aaaa.is_error else None
        if failed is not None:
            probe.failure, probe.lookup = "lookup-error", failed
        else:
            probe.failure = "no-address"  # the mx check reports it (mx.host-unresolvable)
        return [probe]
    remaining = max(0.1, timeout - (time.monotonic() - started))
    return list(await asyncio.gather(*(
        probe_host(host, address, port=port, timeout=remaining, verify=ctx.verify, stated_timeout=timeout)
        for address in addresses
    )))


async def _probe_all(ctx: CheckContext) -> tuple[dict[str, list[SmtpProbe]], Lookup | None]:
    hosts, failed = await _mx_hosts(ctx)
    hosts = [h for h in hosts if h and h != "." and not _is_literal(h)]
    port = getattr(ctx, "smtp_port", None) or SMTP_PORT
    timeout = getattr(ctx, "smtp_timeout", None) or ctx.http_timeout
    probes = await asyncio.gather(*(_probe_mx(ctx, host, port, timeout) for host in hosts))
    return dict(zip(hosts, probes)), failed


async def smtp_probes(ctx: CheckContext) -> tuple[dict[str, list[SmtpProbe]], Lookup | None]:
    """Every MX host's probes, one an address, run once per context however many checks ask (smtp and dane)."""
    task = ctx.__dict__.get(_CACHE_KEY)
    if task is None:
        task = asyncio.ensure_future(_probe_all(ctx))
        ctx.__dict__[_CACHE_KEY] = task
    return await asyncio.shield(task)


def _finding(id_: str, severity: Severity, message: str, probe: SmtpProbe, fix: str | None = None, expected: Any = None) -> Finding:
    return Finding(id=id_, check=CHECK, severity=severity, message=message, fix=fix, observed=probe.summary(), expected=expected)


def _where(probe: SmtpProbe) -> str:
    address = f"[{probe.address}]" if probe.address and ":" in probe.address else probe.address
    return f"{probe.host} ({address}:{probe.port})"


@dataclass(frozen=True)
class Strictness:
    """Whether senders authenticate this MX host's certificate, or deliver over any TLS (RFC 7435).

    `mta_sts`: the domain's MTA-STS policy is in enforce mode and lists the host (RFC 8461 §4.1, §5);
    `dane_ta` / `dane_ee`: the host has DNSSEC-validated, usable TLSA records of usage DANE-TA(2) /
    DANE-EE(3) (RFC 7672 §2.2, §3.1)."""

    mta_sts: bool = False
    dane_ta: bool = False
    dane_ee: bool = False

    @property
    def opportunistic(self) -> bool:
        return not (self.mta_sts or self.dane_ta or self.dane_ee)


OPPORTUNISTIC = Strictness()
_OPPORTUNISTIC_NOTE = ("without MTA-STS in enforce mode or DANE, senders use opportunistic TLS and still deliver "
                       "(RFC 7435; RFC 8461 §4), though the connection is not authenticated")


def host_findings(probe: SmtpProbe, now: datetime, strict: Strictness = OPPORTUNISTIC) -> list[Finding]:
    """The findings for one MX host's probe: its problems, or one `smtp.ok` saying what it showed.
    `strict` says whether senders authenticate the host's certificate: that decides whether a
    certificate problem stops mail (`fail`) or not (`warn`)."""
    where = _where(probe)
    if probe.failure == "no-address":
        return []
    if probe.failure == "lookup-error":
        assert probe.lookup is not None  # set together with the failure when the host's addresses are looked up
        return [lookup_error(CHECK, f"The address of the MX host {probe.host}", probe.lookup, so="so it was not probed.")]
    if probe.failure in ("timeout", "refused", "network") and probe.stage == "connect":
        return [
            _finding(
                "smtp.unreachable",
                Severity.ERROR,
                f"{where}: {probe.detail}, so the server was not checked; {BLOCKED_REASON}.",
                probe,
                fix=f"Run the check from a network that allows outbound port {probe.port} (a server, or a mobile "
                f"hotspot); if it fails there too, check that the mail server {probe.host} is up and its firewall open.",
            )
        ]
    if probe.failure == "no-banner":
        return [
            _finding(
                "smtp.no-banner",
                Severity.FAIL,
                f"{where}: {probe.detail}; sending servers give up the same way.",
                probe,
                fix=f"Check the mail server at {probe.host}: it accepts connections but does not greet "
                "(overloaded, hung, or a firewall or filter holding the connection).",
            )
        ]
    if probe.failure == "greeting":
        return [
            _finding(
                "smtp.greeting-refused",
                Severity.WARN,
                f"{where}: {probe.detail}. The server refuses this connection; it may refuse only this network's address.",
                probe,
                fix=f"Run the check from another network; if the server refuses there too, check the server at {probe.host}.",
            )
        ]
    if probe.failure in ("closed", "timeout", "protocol"):
        return [
            _finding(
                "smtp.closed",
                Severity.FAIL,
                f"{where}: {probe.detail}, so mail cannot be delivered to it.",
                probe,
                fix=f"Check the mail server at {probe.host}: it drops or stalls the SMTP session (its logs say why).",
            )
        ]
    if probe.failure == "ehlo":
        return [
            _finding(
                "smtp.ehlo-refused",
                Severity.FAIL,
                f"{where}: {probe.detail}.",
                probe,
                fix=f"Make the server at {probe.host} accept EHLO from sending servers (RFC 5321 §4.1.1.1).",
            )
        ]
    if probe.failure == "starttls":
        return [
            _finding(
                "smtp.starttls-refused",
                Severity.FAIL,
                f"{where}: STARTTLS is offered, but {probe.detail}.",
                probe,
                fix=f"Fix TLS on the server at {probe.host} (a certificate and key it can load), or stop offering STARTTLS.",
            )
        ]
    if probe.failure == "tls":
        return [
            _finding(
                "smtp.tls-failed",
                Severity.FAIL,
                f"{where}: STARTTLS is offered, but {probe.detail}.",
                probe,
                fix=f"Enable TLS 1.2 or later with a current certificate on the server at {probe.host}.",
            )
        ]
    findings = []
    if not probe.starttls_offered:
        findings.append(
            _finding(
                "smtp.no-starttls",
                Severity.WARN,
                f"{where} does not offer STARTTLS: mail to it travels unencrypted, and senders that require TLS "
                "(MTA-STS, DANE) will not deliver.",
                probe,
                fix=f"Enable STARTTLS with a certificate for {probe.host} on the mail server.",
                expected="STARTTLS in the EHLO extensions",
            )
        )
    if probe.tls_version in _OLD_TLS:
        findings.append(
            _finding(
                "smtp.tls-old",
                Severity.WARN,
                f"{where} negotiated {probe.tls_version}, which is deprecated (RFC 8996); many senders refuse it.",
                probe,
                fix=f"Enable TLS 1.2 and 1.3 on the server at {probe.host}.",
                expected="TLSv1.2 or TLSv1.3",
            )
        )
    findings.extend(_certificate_findings(probe, where, now, strict))
    if not findings:
        tls = f"STARTTLS {probe.tls_version} {probe.cipher}" if probe.starttls_ok else "no TLS"
        certificate = ""
        if probe.chain:
            from threer.checks.https import parse_certificate

            cert = parse_certificate(probe.chain[0])
            if cert is not None:
                certificate = f", certificate for {probe.host} from {cert.issuer} valid until {cert.not_after:%Y-%m-%d}"
        findings.append(
            _finding(
                "smtp.ok",
                Severity.OK,
                f"{where} greeted in {probe.banner_ms} ms ({probe.banner}), {len(probe.extensions)} EHLO extensions, "
                f"{tls}{certificate}.",
                probe,
            )
        )
    return findings


def _certificate_findings(probe: SmtpProbe, where: str, now: datetime, strict: Strictness) -> list[Finding]:
    if not probe.chain:
        return []
    from threer.checks.https import parse_certificate

    cert = parse_certificate(probe.chain[0])
    if cert is None:
        return []
    findings = []
    state = cert.expiry(now, EXPIRY_WARNING)
    if state in ("expired", "not-yet-valid"):
        when = f"expired on {cert.not_after:%Y-%m-%d}" if state == "expired" else f"is not valid until {cert.not_before:%Y-%m-%d}"
        if strict.mta_sts or strict.dane_ta:
            severity = Severity.FAIL
            who = _strict_senders(strict, "DANE-TA(2) senders check the chain's dates up to the key in the TLSA record")
            message = f"{where}: the certificate {when}; {who}, so they will not deliver to it."
        elif strict.dane_ee:
            severity = Severity.WARN
            message = (f"{where}: the certificate {when}. Its TLSA records are DANE-EE(3), which senders match "
                       "against the key alone, dates ignored (RFC 7672 §3.1.1), so DANE senders still deliver; "
                       "others use opportunistic TLS.")
        else:
            severity = Severity.WARN
            message = f"{where}: the certificate {when}; {_OPPORTUNISTIC_NOTE}. With MTA-STS or DANE it would stop mail."
        findings.append(
            _finding(
                "smtp.cert-expired",
                severity,
                message,
                probe,
                fix=f"Renew the certificate for {probe.host} and install it on the mail server.",
                expected="a certificate valid now",
            )
        )
    elif state == "expiring":
        findings.append(
            _finding(
                "smtp.cert-expiring",
                Severity.WARN,
                f"{where}: the certificate expires on {cert.not_after:%Y-%m-%d} ({cert.days_left(now)} days from now).",
                probe,
                fix=f"Renew the certificate for {probe.host} before {cert.not_after:%Y-%m-%d}.",
                expected=f"a certificate valid for more than {EXPIRY_WARNING.days} days",
            )
        )
    if not cert.covers(probe.host):
        names = ", ".join(cert.dns_names + cert.ip_addresses) or cert.subject
        if strict.mta_sts or strict.dane_ta:
            severity = Severity.FAIL
            who = _strict_senders(strict, "its TLSA records are DANE-TA(2), whose senders check the name (RFC 7672 §3.1.2)")
            message = f"{where}: the certificate is for {names}, not {probe.host}; {who}, so they will not deliver to it."
        elif strict.dane_ee:
            severity = Severity.WARN
            message = (f"{where}: the certificate is for {names}, not {probe.host}. Its TLSA records are DANE-EE(3), "
                       "which senders match against the key alone, names ignored (RFC 7672 §3.1.1), so DANE "
                       "senders still deliver; others use opportunistic TLS.")
        else:
            severity = Severity.WARN
            message = (f"{where}: the certificate is for {names}, not {probe.host}; {_OPPORTUNISTIC_NOTE}. "
                       "With MTA-STS or DANE-TA it would stop mail.")
        findings.append(
            _finding(
                "smtp.cert-name-mismatch",
                severity,
                message,
                probe,
                fix=f"Install a certificate that lists {probe.host} as a subject alternative name.",
                expected=probe.host,
            )
        )
    if probe.verified is False and state not in ("expired", "not-yet-valid"):
        who = "it signed itself" if _self_signed(probe.chain[0]) else f"its issuer {cert.issuer!r} is not a trusted CA"
        if strict.mta_sts:
            severity = Severity.FAIL
            message = (f"{where}: the certificate is not trusted ({who}; {probe.verify_error}); "
                       f"{_strict_senders(Strictness(mta_sts=True), '')}, so they will not deliver to it.")
        elif not strict.opportunistic:
            severity = Severity.WARN
            message = (f"{where}: the certificate is not trusted ({who}; {probe.verify_error}). DANE senders trust "
                       "the TLSA records instead of public CAs (RFC 7672 §3.1), so they still deliver when those "
                       "match (the dane check says); others use opportunistic TLS.")
        else:
            severity = Severity.WARN
            message = (f"{where}: the certificate is not trusted ({who}; {probe.verify_error}); {_OPPORTUNISTIC_NOTE}. "
                       "With MTA-STS it would stop mail.")
        findings.append(
            _finding(
                "smtp.cert-untrusted",
                severity,
                message,
                probe,
                fix=f"Install a certificate for {probe.host} from a public CA, with its intermediate certificates.",
            )
        )
    return findings


def _strict_senders(strict: Strictness, dane: str) -> str:
    """Who authenticates the certificate, for a finding's text."""
    parts = []
    if strict.mta_sts:
        parts.append("the domain's MTA-STS policy is in enforce mode and lists this host, so senders that apply "
                     "MTA-STS check the certificate (RFC 8461 §4.2, §5)")
    if strict.dane_ta and dane:
        parts.append(dane)
    return "; and ".join(parts)


async def strictness(ctx: CheckContext, host: str, policy: Any) -> Strictness:
    """Whether senders authenticate `host`'s certificate: `policy` is the domain's enforced MTA-STS
    policy (or None), the TLSA records come from the same look-up as the dane check's."""
    from threer.checks.dane import tlsa_name, usable
    from threer.checks.mta_sts import mx_covered

    tlsa = await ctx.resolver.query(tlsa_name(host), "TLSA")  # port 25's, as the dane check asks
    usages = set()
    if tlsa.exists and tlsa.authenticated:  # unvalidated TLSA records are not used by senders (RFC 7672 §2.2)
        usages = {r.usage for r in tlsa.rdata if usable(r.usage, r.selector, r.mtype)}
    return Strictness(mta_sts=policy is not None and mx_covered(host, policy.mx), dane_ta=2 in usages, dane_ee=3 in usages)


def _self_signed(der: bytes) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return False
    return cert.subject == cert.issuer


async def check_smtp(ctx: CheckContext) -> list[Finding]:
    if ctx.dns_only:
        return []
    probes, failed = await smtp_probes(ctx)
    if failed is not None:
        return [lookup_error(CHECK, f"The MX records of {ctx.domain}", failed, so="so no mail server was probed.")]
    findings: list[Finding] = []
    policy: Any = None
    if any(p.chain for host_probes in probes.values() for p in host_probes):
        from threer.checks.mta_sts import enforced_policy

        policy = await enforced_policy(ctx)  # the same fetch as the mta-sts check's
    for host, host_probes in probes.items():
        strict = await strictness(ctx, host, policy) if any(p.chain for p in host_probes) else OPPORTUNISTIC
        findings.extend(address_findings(host_probes, ctx.now, strict))
    return findings


def address_findings(probes: list[SmtpProbe], now: datetime, strict: Strictness = OPPORTUNISTIC) -> list[Finding]:
    """The findings of one MX host's addresses: each address's own, except that an address this
    computer has no route to is `smtp.no-route` (info) when another address of the host was probed."""
    reached = any(not p.no_route for p in probes)
    findings: list[Finding] = []
    for probe in probes:
        if probe.no_route and reached:
            findings.append(_no_route(probe))
        else:
            findings.extend(host_findings(probe, now, strict))
    return findings


def _no_route(probe: SmtpProbe) -> Finding:
    family = "IPv6" if probe.address and ":" in probe.address else "this"
    return _finding(
        "smtp.no-route",
        Severity.INFO,
        f"{_where(probe)} was not probed: {probe.detail}, so this computer has no route to {family} addresses "
        f"(an IPv4-only network, say). The host's other addresses were probed; senders with {family} reach this one.",
        probe,
        fix=f"To check this address too, run the check from a network with {family} connectivity.",
    )
