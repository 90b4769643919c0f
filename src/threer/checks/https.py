"""HTTPS probing for the checks that talk to a web server (autodiscover, MTA-STS, OWA).

`probe(url)` makes one GET with a deadline, follows no redirect unless asked (a redirect is reported
with its target), reads the body as a stream and stops past a size cap, and inspects the server's
certificate: valid for the host name, chained to the trust store, when it expires. When the TLS
handshake fails verification, a second connection without verification reads the certificate so the
report can say exactly what is wrong with it (another name, expired, unknown issuer). Failures are
classified (`ProbeFailure`) so findings name the cause: DNS, refused, timeout, name mismatch,
untrusted, expired. `probe` never raises for anything the network does.

Host names are resolved by the system, or, when a threer `Resolver` is given (as every check does
with its context's), by that resolver: then the HTTPS checks follow the same name servers as the DNS
checks (`--nameserver`), a name that does not exist is an answer (`DNS`) and a look-up that failed is
`LOOKUP_ERROR`, never confused.

Testing and diagnostic hook: `connect_overrides` maps a host name to the (IP, port) to connect to
instead of resolving it, keeping the URL, the Host header and the TLS server name (SNI) of the
original host. The tests use it to make `https://autodiscover.contoso.test/` reach a server on a
random loopback port; a technician could use it to test one server behind a load balancer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Union

from threer.errors import BadInput
from threer.lazy import LazyModule
from threer.findings import Finding, Severity

# loaded on first use: the DNS-only checks that import this module for its names never need them
httpx = LazyModule("httpx")
x509 = LazyModule("cryptography.x509")
_oid = LazyModule("cryptography.x509.oid")

DEFAULT_MAX_BYTES = 1024 * 1024  # a cap for bodies nobody needs whole; MTA-STS passes its own 64 KiB
EXPIRY_WARNING = timedelta(days=14)

ConnectOverrides = Mapping[str, tuple[str, int]]
Verify = Union[ssl.SSLContext, str, bool]


class ProbeFailure(str, Enum):
    """Why an HTTPS request did not produce a response."""

    INVALID_URL = "invalid-url"  # not an http(s) URL with a host
    DNS = "dns"  # the host name does not resolve
    LOOKUP_ERROR = "lookup-error"  # the resolver could not say (timeout, SERVFAIL): nothing is known
    REFUSED = "refused"  # nothing listens on the port
    TIMEOUT = "timeout"  # no connection or no complete response within the time allowed
    NETWORK = "network"  # reset, unreachable or another socket error
    NAME_MISMATCH = "name-mismatch"  # the certificate is for other names
    UNTRUSTED = "untrusted"  # the certificate does not chain to a trusted CA (self-signed, private CA)
    EXPIRED = "expired"  # the certificate has expired (or is not valid yet)
    TLS = "tls"  # the TLS handshake failed for another reason (protocol, no common cipher)
    PROTOCOL = "protocol"  # the server's answer was not valid HTTP


# The slug each failure contributes to a finding id: `<check>.<prefix><slug>`.
_FAILURE_SLUGS = {
    ProbeFailure.INVALID_URL: "unreachable",
    ProbeFailure.DNS: "unreachable",
    ProbeFailure.REFUSED: "unreachable",
    ProbeFailure.NETWORK: "unreachable",
    ProbeFailure.PROTOCOL: "unreachable",
    ProbeFailure.TIMEOUT: "timeout",
    ProbeFailure.LOOKUP_ERROR: "lookup-error",
    ProbeFailure.NAME_MISMATCH: "cert-name",
    ProbeFailure.UNTRUSTED: "cert-untrusted",
    ProbeFailure.EXPIRED: "cert-expired",
    ProbeFailure.TLS: "tls-error",
}
# Every slug `endpoint_findings` can emit, so each check can list its FINDING_IDS.
ENDPOINT_SLUGS = frozenset(_FAILURE_SLUGS.values()) | {"cert-expiring"}

# OpenSSL X509_V_ERR_* codes (ssl.SSLCertVerificationError.verify_code) and what they mean here.
_VERIFY_CODES = {
    9: ProbeFailure.EXPIRED,  # certificate is not yet valid
    10: ProbeFailure.EXPIRED,  # certificate has expired
    62: ProbeFailure.NAME_MISMATCH,  # hostname mismatch
    64: ProbeFailure.NAME_MISMATCH,  # IP address mismatch
}


def failure_slug(failure: ProbeFailure) -> str:
    return _FAILURE_SLUGS[failure]


@dataclass(frozen=True)
class CertificateInfo:
    """What the server's leaf certificate says, in the terms a technician needs."""

    subject: str  # the common name, or the whole subject when it has none
    issuer: str
    dns_names: tuple[str, ...]  # subjectAltName DNS entries (lower-case)
    ip_addresses: tuple[str, ...]
    not_before: datetime  # aware, UTC
    not_after: datetime

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    def covers(self, host: str) -> bool:
        """Whether the certificate is valid for `host` (RFC 6125: SAN only, `*` as a whole leftmost label)."""
        host = host.rstrip(".").lower()
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return any(name_matches(pattern, host) for pattern in self.dns_names)
        return str(address) in self.ip_addresses

    def expiry(self, now: datetime, warn_within: timedelta = EXPIRY_WARNING) -> str:
        """`valid`, `expiring` (within `warn_within`), `expired` or `not-yet-valid` at `now`."""
        if now < self.not_before:
            return "not-yet-valid"
        if now >= self.not_after:
            return "expired"
        if self.not_after - now <= warn_within:
            return "expiring"
        return "valid"

    def days_left(self, now: datetime) -> int:
        return (self.not_after - now) // timedelta(days=1)

    def summary(self) -> dict:
        """For a finding's `observed`."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "names": list(self.dns_names) + list(self.ip_addresses),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
        }


def name_matches(pattern: str, host: str) -> bool:
    """`host` equals `pattern`, or `pattern` is `*.rest` and `host` is exactly one label plus `rest`.

    Case and a trailing dot do not matter. This is both RFC 6125's certificate rule (as browsers
    apply it) and RFC 8461 §4.1's MX pattern rule.
    """
    pattern = pattern.strip().rstrip(".").lower()
    host = host.strip().rstrip(".").lower()
    if not pattern or not host:
        return False
    if pattern.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and label != "*" and rest == pattern[2:]
    return pattern == host


def parse_certificate(der: bytes) -> CertificateInfo | None:
    """Read a DER certificate; None when it cannot be parsed (nothing useful to report then)."""
    try:
        cert = x509.load_der_x509_certificate(der)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names = tuple(name.lower() for name in san.get_values_for_type(x509.DNSName))
            ip_addresses = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        except x509.ExtensionNotFound:
            dns_names, ip_addresses = (), ()
        return CertificateInfo(
            subject=_name_text(cert.subject),
            issuer=_name_text(cert.issuer),
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )
    except ValueError:
        return None


def _name_text(name: x509.Name) -> str:
    common_names = name.get_attributes_for_oid(_oid.NameOID.COMMON_NAME)
    if common_names:
        return str(common_names[0].value)
    organisations = name.get_attributes_for_oid(_oid.NameOID.ORGANIZATION_NAME)
    if organisations:
        return str(organisations[0].value)
    return name.rfc4514_string() or "(empty)"


@dataclass(frozen=True)
class Hop:
    """One request of a probe: a redirect followed, or the final answer."""

    url: str
    status_code: int
    location: str | None = None  # the absolute redirect target, for a 3xx with a Location
    certificate: CertificateInfo | None = None


@dataclass(frozen=True)
class ProbeResult:
    """What one `probe` saw. `failure` is None when an HTTP response arrived."""

    url: str  # the URL asked for
    final_url: str  # the last URL requested (differs when redirects were followed)
    failure: ProbeFailure | None = None
    detail: str = ""  # one sentence on what went wrong, naming the host and port
    cert_problems: tuple[ProbeFailure, ...] = ()  # every certificate problem found, the reported one first
    status_code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""  # at most max_bytes
    too_large: bool = False  # the body went past max_bytes (reading stopped there)
    hops: tuple[Hop, ...] = ()  # every response received, in order
    certificate: CertificateInfo | None = None  # of the final URL's server, even when verification failed
    verified: bool = False  # the certificate was checked against the trust store and the host name
    connected_to: tuple[str, int] | None = None  # the address used for the final URL (override or resolver)
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def location(self) -> str | None:
        """Where the final response redirects to, when it is a redirect not followed."""
        return self.hops[-1].location if self.hops else None

    @property
    def redirected(self) -> bool:
        return len(self.hops) > 1 or self.location is not None

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case ("" when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@lru_cache(maxsize=None)
def _default_context() -> ssl.SSLContext:
    # Built once: loading the CA bundle costs milliseconds and the same context serves every probe.
    return httpx.create_ssl_context(verify=True, trust_env=False)


@lru_cache(maxsize=16)
def _bundle_context(path: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise BadInput(f"The CA bundle {path} cannot be read ({exc}); give a PEM file of trusted certificates.") from exc


@lru_cache(maxsize=None)
def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read a certificate that already failed verification
    return context


def ssl_context_for(verify: Verify) -> ssl.SSLContext:
    """The SSL context for `verify`: True = the bundled public CAs, a path = that PEM bundle, False = none."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        return _default_context()
    if verify is False:
        return _unverified_context()
    if isinstance(verify, (str, Path)):
        return _bundle_context(str(verify))
    raise BadInput("verify must be True, False, a CA bundle path or an SSL context.")


def _override_for(overrides: ConnectOverrides | None, host: str) -> tuple[str, int] | None:
    if not overrides:
        return None
    host = host.rstrip(".").lower()
    for name, target in overrides.items():
        if name.rstrip(".").lower() == host:
            return target
    return None


class _Redirected(Exception):
    pass


async def probe(
    url: str,
    *,
    timeout: float = 5.0,
    verify: Verify = True,
    follow_redirects: bool = False,
    max_redirects: int = 5,
    max_bytes: int = DEFAULT_MAX_BYTES,
    connect_overrides: ConnectOverrides | None = None,
    resolver=None,
) -> ProbeResult:
    """GET `url` and report what happened; see the module docstring. `timeout` bounds the whole probe.

    `resolver`: a threer.checks.resolver.Resolver to look host names up with instead of the system's.
    """
    started = time.monotonic()
    context = ssl_context_for(verify)
    hops: list[Hop] = []
    current = url
    while True:
        try:
            target = httpx.URL(current)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            detail = f"{current!r} is not a usable URL ({exc})."
            return _result(url, current, started, hops, failure=ProbeFailure.INVALID_URL, detail=detail)
        if target.scheme not in ("http", "https") or not target.host:
            detail = f"{current!r} is not an http:// or https:// URL with a host name."
            return _result(url, current, started, hops, failure=ProbeFailure.INVALID_URL, detail=detail)
        # the time allowed covers the whole probe, redirects included, so a check's wait stays bounded
        remaining = timeout - (time.monotonic() - started)
        if remaining <= 0.05:
            return _result(
                url, current, started, hops, failure=ProbeFailure.TIMEOUT,
                detail=f"the redirects did not reach an answer within {timeout:g} s (stopped before {current}).",
            )
        outcome = await _request_once(
            target, context=context, timeout=remaining, max_bytes=max_bytes, overrides=connect_overrides,
            resolver=resolver, stated_timeout=timeout,
        )
        if isinstance(outcome, ProbeResult):  # a failure
            return _result(url, current, started, hops, **_failure_fields(outcome))
        hop, headers, body, too_large, connected_to = outcome
        hops.append(hop)
        if hop.location is None or not follow_redirects:
            return _result(
                url, current, started, hops,
                status_code=hop.status_code, headers=headers, body=body, too_large=too_large,
                certificate=hop.certificate, verified=target.scheme == "https" and verify is not False,
                connected_to=connected_to,
            )
        if len(hops) > max_redirects:
            return _result(
                url, current, started, hops,
                status_code=hop.status_code, headers=headers, body=body, too_large=too_large,
                certificate=hop.certificate, verified=target.scheme == "https" and verify is not False,
                connected_to=connected_to, detail=f"Stopped after {max_redirects} redirects.",
            )
        current = hop.location


def _failure_fields(failed: ProbeResult) -> dict:
    return {
        "failure": failed.failure,
        "detail": failed.detail,
        "cert_problems": failed.cert_problems,
        "certificate": failed.certificate,
        "connected_to": failed.connected_to,
    }


def _result(url: str, final_url: str, started: float, hops: list[Hop], **fields) -> ProbeResult:
    return ProbeResult(url=url, final_url=final_url, hops=tuple(hops), elapsed_ms=int((time.monotonic() - started) * 1000), **fields)


async def _request_once(target: httpx.URL, *, context, timeout, max_bytes, overrides, resolver, stated_timeout):
    """One GET; a (Hop, headers, body, too_large, connected_to) tuple, or a ProbeResult with the failure."""
    host = target.raw_host.decode("ascii").lower()
    port = target.port or (443 if target.scheme == "https" else 80)
    started = time.monotonic()
    override = _override_for(overrides, host)
    where = f"{host}:{port}" if override is None else f"{host}:{port} (sent to {override[0]}:{override[1]})"
    if override is None and resolver is not None and not _is_address(host):
        address, failure, detail = await _look_up(resolver, host)
        if failure is not None:
            return ProbeResult(url=str(target), final_url=str(target), failure=failure, detail=f"{where}: {detail}")
        override = (address, port)
        where = f"{host}:{port} ({address})"
    request_url = target
    request_headers = {"User-Agent": "threer (mail-domain check)", "Accept": "*/*"}
    extensions: dict = {}
    if override is not None:
        # connect to the given address while the URL, Host header and SNI keep the real name
        request_url = target.copy_with(host=override[0], port=override[1])
        request_headers["Host"] = host if target.port is None else f"{host}:{target.port}"
        extensions["sni_hostname"] = host
    try:
        async with asyncio.timeout(timeout):
            # A client per request: the pool must never reuse a connection made for another name's SNI.
            async with httpx.AsyncClient(verify=context, timeout=timeout, trust_env=False, follow_redirects=False) as client:
                async with client.stream("GET", request_url, headers=request_headers, extensions=extensions) as response:
                    certificate = None
                    ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
                    if ssl_object is not None:
                        der = ssl_object.getpeercert(binary_form=True)
                        certificate = parse_certificate(der) if der else None
                    body, too_large = await _read_capped(response, max_bytes)
                    location = None
                    if 300 <= response.status_code < 400 and response.headers.get("location"):
                        try:
                            location = str(target.join(response.headers["location"]))
                        except (httpx.InvalidURL, ValueError):
                            location = response.headers["location"]
                    headers = {name.lower(): value for name, value in response.headers.items()}
                    hop = Hop(url=str(target), status_code=response.status_code, location=location, certificate=certificate)
                    return hop, headers, body, too_large, override
    except (TimeoutError, httpx.TimeoutException) as exc:
        phase = "connect" if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)) else "answer"
        detail = f"{where} did not {phase} within {stated_timeout:g} s."
        return ProbeResult(url=str(target), final_url=str(target), failure=ProbeFailure.TIMEOUT, detail=detail, connected_to=override)
    except httpx.HTTPError as exc:
        failure, detail = _classify(exc, where)
        result = ProbeResult(url=str(target), final_url=str(target), failure=failure, detail=detail, connected_to=override)
        if failure in (ProbeFailure.NAME_MISMATCH, ProbeFailure.UNTRUSTED, ProbeFailure.EXPIRED):
            # the second connection shares the request's time budget
            remaining = max(0.5, timeout - (time.monotonic() - started))
            result = await _explain_certificate(result, host, override or (host, port), remaining, where)
        return result


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def _look_up(resolver, host: str) -> tuple[str | None, ProbeFailure | None, str]:
    """The first IPv4 (else IPv6) address of `host` from a threer Resolver, or why there is none."""
    ipv4, ipv6 = await asyncio.gather(resolver.query(host, "A"), resolver.query(host, "AAAA"))
    for lookup in (ipv4, ipv6):
        if lookup.exists and lookup.records:
            return lookup.records[0], None, ""
    failed = next((lookup for lookup in (ipv4, ipv6) if lookup.is_error), None)
    if failed is not None:
        return None, ProbeFailure.LOOKUP_ERROR, f"the address of {host} could not be looked up ({failed.detail or failed.status.value})."
    how = "does not exist (NXDOMAIN)" if ipv4.status.value == "nxdomain" else "has no A or AAAA record"
    via = f" (through the CNAME to {ipv4.cname_chain[-1]})" if ipv4.cname_chain else ""
    return None, ProbeFailure.DNS, f"the host name {how}{via}."


async def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return b"", True  # no need to download what is already known to be too large
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _classify(exc: httpx.HTTPError, where: str) -> tuple[ProbeFailure, str]:
    """Name the cause of an httpx error from the chain of exceptions under it."""
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return ProbeFailure.INVALID_URL, f"{where}: {exc}."
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            failure = _VERIFY_CODES.get(getattr(cause, "verify_code", 0), ProbeFailure.UNTRUSTED)
            message = getattr(cause, "verify_message", "") or str(cause)
            return failure, f"{where}: the certificate did not verify ({message})."
        if isinstance(cause, ssl.SSLError):
            reason = getattr(cause, "reason", None) or str(cause)
            return ProbeFailure.TLS, f"{where}: the TLS handshake failed ({reason})."
        if isinstance(cause, socket.gaierror):
            return ProbeFailure.DNS, f"{where}: the host name does not resolve ({cause.strerror or cause})."
        if isinstance(cause, ConnectionRefusedError):
            return ProbeFailure.REFUSED, f"{where}: the connection was refused (nothing listens on that port)."
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError)):
        return ProbeFailure.PROTOCOL, f"{where}: the answer was not valid HTTP ({exc})."
    for cause in _causes(exc):
        if isinstance(cause, OSError) and not isinstance(cause, ssl.SSLError):
            return ProbeFailure.NETWORK, f"{where}: {cause.strerror or cause}."
    return ProbeFailure.NETWORK, f"{where}: {exc or type(exc).__name__}."


async def _explain_certificate(
    result: ProbeResult, host: str, address: tuple[str, int], timeout: float, where: str
) -> ProbeResult:
    """After a failed verification, read the certificate without verifying it and say what is wrong."""
    certificate = await fetch_certificate(address, host, timeout=timeout)
    if certificate is None:
        return result
    problems: list[ProbeFailure] = [result.failure] if result.failure else []
    now = datetime.now(timezone.utc)
    if certificate.expiry(now) in ("expired", "not-yet-valid") and ProbeFailure.EXPIRED not in problems:
        problems.append(ProbeFailure.EXPIRED)
    if not certificate.covers(host) and ProbeFailure.NAME_MISMATCH not in problems:
        problems.append(ProbeFailure.NAME_MISMATCH)
    # our own sentence replaces OpenSSL's once the certificate is in hand
    detail = f"{where}: {describe_certificate_problems(certificate, host, tuple(problems), now)}"
    return ProbeResult(
        url=result.url, final_url=result.final_url, failure=result.failure, detail=detail.strip(),
        cert_problems=tuple(problems), certificate=certificate, verified=False, connected_to=result.connected_to,
    )


async def fetch_certificate(address: tuple[str, int], server_name: str, *, timeout: float = 5.0) -> CertificateInfo | None:
    """Connect without verification and return the server's certificate for `server_name` (SNI), or None."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(address[0], address[1], ssl=_unverified_context(), server_hostname=server_name)
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            return parse_certificate(der) if der else None
    except (OSError, TimeoutError, ssl.SSLError, ValueError):
        return None
    finally:
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(1):
                    await writer.wait_closed()
            except (OSError, TimeoutError, ssl.SSLError):
                pass


def describe_certificate_problems(cert: CertificateInfo, host: str, problems: tuple[ProbeFailure, ...], now: datetime) -> str:
    """One or two sentences on what is wrong with `cert` for `host`."""
    parts = []
    for problem in problems:
        if problem is ProbeFailure.NAME_MISMATCH:
            names = ", ".join(cert.dns_names + cert.ip_addresses) or cert.subject
            parts.append(f"The certificate is for {names}, not {host}.")
        elif problem is ProbeFailure.EXPIRED:
            if now < cert.not_before:
                parts.append(f"The certificate is not valid until {cert.not_before:%Y-%m-%d}.")
            else:
                parts.append(f"The certificate expired on {cert.not_after:%Y-%m-%d}.")
        elif problem is ProbeFailure.UNTRUSTED:
            who = "it signed itself" if cert.self_signed else f"its issuer {cert.issuer!r} is not a trusted CA"
            parts.append(f"The certificate is not trusted: {who}.")
    return " ".join(parts)


_FIX_FOR_FAILURE = {
    ProbeFailure.DNS: "Add an A/AAAA (or CNAME) record for {host} pointing at the server that should answer.",
    ProbeFailure.LOOKUP_ERROR: "Run the check again; if it persists, check the DNS servers threer asks (--nameserver).",
    ProbeFailure.REFUSED: "Make the web server for {host} listen on port {port} (HTTPS), or fix the firewall in front of it.",
    ProbeFailure.NETWORK: "Check that the address {host} resolves to is the right server and that it is reachable on port {port}.",
    ProbeFailure.PROTOCOL: "Make {host} answer HTTPS on port {port} with a proper web server.",
    ProbeFailure.INVALID_URL: "Correct the URL.",
    ProbeFailure.TIMEOUT: "Check that the server for {host} is up and that port {port} is open; then run the check again.",
    ProbeFailure.NAME_MISMATCH: "Install a certificate that lists {host} (as a subject alternative name) on the server for {host}.",
    ProbeFailure.UNTRUSTED: "Install a certificate for {host} issued by a public CA, with its intermediate certificates.",
    ProbeFailure.EXPIRED: "Renew the certificate for {host} and install the new one.",
    ProbeFailure.TLS: "Enable TLS 1.2 or later with a current certificate for {host} on port {port}.",
}


def endpoint_findings(
    result: ProbeResult,
    *,
    check: str,
    id_prefix: str,
    label: str,
    now: datetime,
    severity: Severity = Severity.FAIL,
    expected: object = None,
) -> list[Finding]:
    """Findings for what went wrong reaching `result.url` and for its certificate's expiry.

    Ids are `<check>.<id_prefix><slug>` with a slug from ENDPOINT_SLUGS. A timeout or a failed look-up
    is `error` (nothing is known); other failures get `severity`; a certificate expiring within 14 days of `now` is `warn`.
    An empty list means the endpoint answered over a valid certificate: the caller judges the answer.
    """
    target = httpx.URL(result.final_url) if result.failure is not ProbeFailure.INVALID_URL else None
    host = target.host if target is not None else result.final_url
    port = (target.port or (443 if target.scheme == "https" else 80)) if target is not None else 443
    observed: dict = {"url": result.final_url}
    if result.certificate is not None:
        observed["certificate"] = result.certificate.summary()
    if result.failure is not None:
        observed["failure"] = result.failure.value
        observed["detail"] = result.detail
        slug = failure_slug(result.failure)
        unknown = result.failure in (ProbeFailure.TIMEOUT, ProbeFailure.LOOKUP_ERROR)
        finding_severity = Severity.ERROR if unknown else severity
        fix_lines = [_FIX_FOR_FAILURE[p].format(host=host, port=port) for p in (result.cert_problems or (result.failure,))]
        return [
            Finding(
                id=f"{check}.{id_prefix}{slug}",
                check=check,
                severity=finding_severity,
                message=f"{label}: {result.detail}",
                fix=" ".join(dict.fromkeys(fix_lines)),
                observed=observed,
                expected=expected,
            )
        ]
    findings = []
    seen_hosts = set()
    for hop in result.hops:
        cert = hop.certificate
        hop_host = httpx.URL(hop.url).host
        if cert is None or hop_host in seen_hosts:
            continue
        seen_hosts.add(hop_host)
        state = cert.expiry(now)
        if state in ("expiring", "expired"):
            days = cert.days_left(now)
            if state == "expiring":
                when = f"expires on {cert.not_after:%Y-%m-%d} ({days} days from now)"
            else:
                when = f"expired on {cert.not_after:%Y-%m-%d}"
            findings.append(
                Finding(
                    id=f"{check}.{id_prefix}{'cert-expiring' if state == 'expiring' else 'cert-expired'}",
                    check=check,
                    severity=Severity.WARN if state == "expiring" else severity,
                    message=f"{label}: the certificate for {hop_host} {when}.",
                    fix=f"Renew the certificate for {hop_host} before {cert.not_after:%Y-%m-%d} and install the new one.",
                    observed={"url": hop.url, "certificate": cert.summary()},
                    expected=f"a certificate valid for more than {EXPIRY_WARNING.days} days",
                )
            )
    return findings

