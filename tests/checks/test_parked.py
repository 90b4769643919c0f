"""A parked domain (null MX and SPF -all) through the whole check, against the loopback DNS server."""

from __future__ import annotations

import json

from support_dnsserver import DnsTestServer

DOMAIN = "quiet-parked.example"


def test_a_parked_domain_is_not_asked_for_mail_set_up(invoke) -> None:
    """Review 3 #6: no WARN for autodiscover or the revoked wildcard key, no report address at itself."""
    with DnsTestServer(zone_files=["p-parked.zone"]) as server:
        result = invoke("check-dns", DOMAIN, "--nameserver", f"127.0.0.1:{server.port}", "--profile", "none",
                        "--dns-only", "--json", "--timeout", "3")
    findings = json.loads(result.stdout)["domains"][0]["findings"]
    by_id = {f["id"]: f for f in findings}
    assert [f["id"] for f in findings if f["severity"] in ("warn", "fail")] == ["ns.single-server"]
    assert [f["id"] for f in findings].count("dkim.revoked") == 1  # one wildcard key, found by every guess
    revoked = by_id["dkim.revoked"]
    assert revoked["severity"] == "info" and "selector1, selector2" in revoked["message"]
    assert "is parked: its null MX (RFC 7505) and SPF -all" in revoked["message"]
    for fid in ("autodiscover.missing", "dmarc.no-reports", "tls-rpt.missing"):
        assert by_id[fid]["severity"] == "info" and by_id[fid]["fix"] is None and by_id[fid]["changes"] == [], fid
    assert "mailto:" not in json.dumps(findings)  # no report address at a domain that receives nothing
    assert result.exit_code == 0


def test_a_null_mx_with_a_sending_spf_is_not_parked(invoke) -> None:
    """Only both statements together make a domain parked: a null MX alone may still send mail."""
    with DnsTestServer(zone_files=["p-parked.zone"]) as server:
        server.replace_records(DOMAIN, "TXT", ['"v=spf1 ip4:127.0.0.5 -all"'])
        result = invoke("check-dns", DOMAIN, "--nameserver", f"127.0.0.1:{server.port}", "--profile", "none",
                        "--dns-only", "--json", "--timeout", "3")
    findings = json.loads(result.stdout)["domains"][0]["findings"]
    assert [f["id"] for f in findings].count("dkim.revoked") > 1
    assert {f["severity"] for f in findings if f["id"] == "dkim.revoked"} == {"warn"}
