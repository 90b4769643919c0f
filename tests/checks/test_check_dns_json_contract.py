"""The `check-dns --json` document is a contract (docs/reference/json.md): its exact shape is tested."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from support_dnsserver import DnsTestServer
from threer.checks import CHECK_FUNCTIONS

DOCUMENT_KEYS = ["version", "domains"]
DOMAIN_KEYS = ["domain", "profile", "profile_reason", "checked_at", "duration_ms", "summary", "findings"]
SUMMARY_KEYS = ["ok", "info", "warn", "fail", "error"]
FINDING_KEYS = ["id", "check", "severity", "message", "fix", "observed", "expected", "changes"]
CHANGE_KEYS = ["action", "name", "type", "ttl", "value", "line"]
SEVERITIES = {"ok", "info", "warn", "fail", "error"}
JSON_VALUE = (type(None), bool, int, float, str, list, dict)


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


@pytest.fixture
def document(invoke, server) -> dict:
    result = invoke(
        "check-dns", "b-mx-null.example", "b-good.example", "--dns-only", "--json",
        "--nameserver", f"127.0.0.1:{server.port}",
    )
    assert result.exit_code == 1
    return json.loads(result.stdout)  # stdout is exactly one JSON document


def test_document_shape(document: dict) -> None:
    assert list(document) == DOCUMENT_KEYS
    assert document["version"] == 1
    assert [d["domain"] for d in document["domains"]] == ["b-mx-null.example", "b-good.example"]
    null_mx, good = document["domains"]
    # --profile auto (the default): no provider's records in the null-MX domain, M365's MX in the other
    assert (null_mx["profile"], null_mx["profile_reason"]) == (None, "no profile matched: judged on the records' own merits")
    assert good["profile"] == "m365"
    assert good["profile_reason"] == "recognised from the MX (b-good-example.mail.protection.outlook.com)"
    for domain in document["domains"]:
        assert list(domain) == DOMAIN_KEYS
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", domain["checked_at"])
        datetime.fromisoformat(domain["checked_at"].replace("Z", "+00:00"))
        assert isinstance(domain["duration_ms"], int) and domain["duration_ms"] >= 0
        assert list(domain["summary"]) == SUMMARY_KEYS
        counts = {key: 0 for key in SUMMARY_KEYS}
        for finding in domain["findings"]:
            assert list(finding) == FINDING_KEYS
            assert finding["severity"] in SEVERITIES
            assert finding["check"] in CHECK_FUNCTIONS
            assert finding["id"].startswith(finding["check"] + ".")
            assert isinstance(finding["message"], str) and finding["message"]
            assert finding["fix"] is None or isinstance(finding["fix"], str)
            assert isinstance(finding["observed"], JSON_VALUE) and isinstance(finding["expected"], JSON_VALUE)
            for change in finding["changes"]:
                assert list(change) == CHANGE_KEYS and change["action"] in ("add", "remove")
                assert change["line"] == f"{change['name']}. {change['ttl']} IN {change['type']} {change['value']}"
            counts[finding["severity"]] += 1
        assert domain["summary"] == counts


def test_findings_are_grouped_by_check_worst_first(document: dict) -> None:
    order = list(CHECK_FUNCTIONS)
    rank = {"ok": 0, "info": 1, "warn": 2, "error": 3, "fail": 4}
    for domain in document["domains"]:
        keys = [(order.index(f["check"]), -rank[f["severity"]]) for f in domain["findings"]]
        assert keys == sorted(keys)


def test_exact_mx_finding(document: dict) -> None:
    mx = [f for f in document["domains"][0]["findings"] if f["check"] == "mx"]
    assert mx == [
        {
            "id": "mx.null-mx",
            "check": "mx",
            "severity": "info",
            "message": "b-mx-null.example publishes a null MX (RFC 7505): it says it accepts no mail.",
            "fix": None,
            "observed": ["0 ."],
            "expected": None,
            "changes": [],
        }
    ]


def test_propagation_adds_one_key_per_domain(invoke, server, monkeypatch) -> None:
    monkeypatch.setenv("THREER_PUBLIC_RESOLVERS", f"Lab=127.0.0.1:{server.port}")
    result = invoke("check-dns", "b-good.example", "--dns-only", "--json", "--propagation",
                    "--nameserver", f"127.0.0.1:{server.port}")
    domain = json.loads(result.stdout)["domains"][0]
    assert list(domain) == DOMAIN_KEYS + ["propagation"]
    view = domain["propagation"]
    assert list(view) == ["current_serial", "servers", "notes"]
    server_keys = ["name", "kind", "address", "serial", "serial_status", "answers", "stale"]
    assert all(list(s) == server_keys for s in view["servers"])
    assert list(view["servers"][0]["answers"]) == ["MX", "SPF", "autodiscover", "DMARC"]
    assert list(view["servers"][0]["answers"]["MX"]) == ["status", "values", "ttl", "stale"]
