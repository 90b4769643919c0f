"""The Review steps against real servers: `review.dns` with a partner profile and `review.owa`
probing the profile's OWA address on a loopback HTTPS server with a trustme certificate."""

import json
from pathlib import Path

import pytest
from support_dnsserver import DnsTestServer
from support_https import HttpsTestServer, Pki, Route
from support_prompter import COMPLETE_ANSWERS, PARTNER

ZONE = Path(__file__).parent / "zones" / "t-triage.zone"
OWA_HOST = "owa.contoso-triage.test"


@pytest.fixture(scope="module")
def dns():
    with DnsTestServer(zone_files=[ZONE]) as server:
        yield server


@pytest.fixture(scope="module")
def pki():
    return Pki()


def run(invoke, tmp_path, dns, pki, server):
    port = server.address[1]
    profile = tmp_path / "lab.toml"
    profile.write_text(f'description = "lab"\nmx = ["contoso-triage-test.mail.protection.outlook.test"]\n'
                       f'owa_url = "https://{OWA_HOST}:{port}/owa/"\n')
    ca = tmp_path / "ca.pem"
    pki.ca.cert_pem.write_to_path(str(ca))
    answers = {"partner": PARTNER, **COMPLETE_ANSWERS,
               "intake.customer": {"name": "Contoso", "domain": "contoso-triage.test"}}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    host, dns_port = dns.address
    result = invoke("triage", "--no-input", "--answers", str(path), "--profile", str(profile),
                    "--ca-bundle", str(ca), "--nameserver", f"{host}:{dns_port}", "--dns-timeout", "5")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(invoke("sessions", "show", result.stdout.strip(), "--json").stdout)
    return doc["steps"], result.stderr


def test_owa_answering_with_a_valid_certificate(invoke, tmp_path, dns, pki):
    with HttpsTestServer(pki.valid(OWA_HOST), {"/owa/": Route(body=b"<html>sign in</html>", content_type="text/html")}) \
            as server:
        steps, stderr = run(invoke, tmp_path, dns, pki, server)
    probe = steps["review.owa"]["answer"]["probe"]
    assert probe and max(p["severity"] for p in probe) in {"ok", "info"}, probe
    assert "answers over HTTPS" in stderr
    dns_answer = steps["review.dns"]["answer"]
    assert dns_answer["checked"] and dns_answer["profile"] == "lab"
    assert server.requests and server.requests[0][1].startswith(OWA_HOST)


def test_owa_with_an_expired_certificate_is_reported(invoke, tmp_path, dns, pki):
    with HttpsTestServer(pki.expired(OWA_HOST), {"/owa/": Route(body=b"ok")}) as server:
        steps, stderr = run(invoke, tmp_path, dns, pki, server)
    probe = steps["review.owa"]["answer"]["probe"]
    assert any(p["severity"] == "fail" and "expired" in p["message"] for p in probe), probe
    assert "has a problem" in stderr
