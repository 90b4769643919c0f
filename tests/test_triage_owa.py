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


def run(invoke, tmp_path, dns, pki, server, *, auto=False):
    """A scripted triage of contoso-triage.test with the lab profile: given with --profile, or
    (`auto`) listed in the config's `profiles` and recognised from the customer's MX, as by default."""
    port = server.address[1]
    profile = tmp_path / "lab.toml"
    profile.write_text(f'description = "lab"\nmx = ["contoso-triage-test.mail.protection.outlook.test"]\n'
                       f'owa_url = "https://{OWA_HOST}:{port}/owa/"\n')
    if auto:
        config = tmp_path / "config" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"profiles = [{json.dumps(str(profile))}]\n")
    ca = tmp_path / "ca.pem"
    pki.ca.cert_pem.write_to_path(str(ca))
    answers = {"partner": PARTNER, **COMPLETE_ANSWERS,
               "intake.customer": {"name": "Contoso", "domain": "contoso-triage.test"}}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    host, dns_port = dns.address
    chosen = [] if auto else ["--profile", str(profile)]
    result = invoke("triage", "--no-input", "--answers", str(path), *chosen,
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


def test_owa_of_the_profile_auto_recognised_is_probed(invoke, tmp_path, dns, pki):
    """With the default profile (auto), review.owa probes the OWA address of the profile the DNS step
    recognised from the customer's MX, instead of saying the profile has none (review 3 #4)."""
    with HttpsTestServer(pki.valid(OWA_HOST), {"/owa/": Route(body=b"<html>sign in</html>", content_type="text/html")}) \
            as server:
        steps, stderr = run(invoke, tmp_path, dns, pki, server, auto=True)
    assert "profile lab, recognised from the MX" in steps["review.dns"]["answer"]["profile_reason"] or \
        steps["review.dns"]["answer"]["profile"] == "lab", steps["review.dns"]["answer"]
    probe = steps["review.owa"]["answer"]["probe"]
    assert probe and all(p["severity"] in {"ok", "info"} for p in probe), probe
    assert "No OWA address" not in stderr
    assert "answers over HTTPS" in stderr


def test_owa_with_no_profile_recognised_says_so(invoke, tmp_path, dns, pki):
    """auto, and nothing recognised: the step says no profile matched the customer's records, not that
    "the provider profile" has no OWA address."""
    from threer.config import Config
    from threer.triage.actions import CheckSettings, DefaultActions

    host, dns_port = dns.address
    actions = DefaultActions(store=None, config=Config(),  # type: ignore[arg-type]
                             settings=CheckSettings(nameservers=[(host, dns_port)], timeout=5, dns_only=True))
    result = actions.owa("nothing-recognised.test")
    assert result.fields == {"probe": []}
    assert result.summary == ("No provider profile was recognised from nothing-recognised.test's records; "
                              "OWA not probed.")
