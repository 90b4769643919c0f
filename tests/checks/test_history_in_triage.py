"""The triage's DNS step keeps the run in the check history and says what changed since the last check."""

from __future__ import annotations

from support_dnsserver import DnsTestServer
from threer.config import Config
from threer.store import Store
from threer.triage.actions import CheckSettings, DefaultActions

DOMAIN = "spfsend.k-smtp.example"


def test_second_dns_step_says_what_changed(tmp_path) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"]) as server:
        actions = DefaultActions(Store(tmp_path / "threer.db"), Config(default_profile="none"),
                                 CheckSettings(nameservers=[server.address], timeout=3.0, dns_only=True))
        first = actions.dns(DOMAIN)
        assert "changes" not in first.fields and "changed since" not in first.summary
        server.replace_records(DOMAIN, "TXT", ['"v=spf1 include:_spf.k-smtp.example -all"'], ttl=600)
        second = actions.dns(DOMAIN)
    assert second.fields["changes"].startswith("changed since the check on ")
    assert f"TXT {DOMAIN} changed: v=spf1 include:_spf.k-smtp.example ~all (TTL 300) → " in second.fields["changes"]
    assert "Changed since the check on" in second.summary


def test_history_off_in_the_config_keeps_nothing(tmp_path) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"]) as server:
        store = Store(tmp_path / "threer.db")
        actions = DefaultActions(store, Config(default_profile="none", check_history=False),
                                 CheckSettings(nameservers=[server.address], timeout=3.0, dns_only=True))
        actions.dns(DOMAIN)
        actions.dns(DOMAIN)
    assert store.conn.execute("SELECT COUNT(*) FROM check_history").fetchone()[0] == 0


def test_the_ticket_carries_the_change() -> None:
    from threer.ticket.build import _dns_facts
    from threer.triage.answers import DnsAnswer

    answer = DnsAnswer(checked=True, domain=DOMAIN, summary={"ok": 3}, changes="changed since the check on 2026-11-24: x")
    facts = {f.label: f.value for f in _dns_facts(answer, "UTC")}
    assert facts["Since the last check"] == "changed since the check on 2026-11-24: x"
    assert "Since the last check" not in {f.label for f in _dns_facts(DnsAnswer(checked=True, domain=DOMAIN), "UTC")}


def test_a_retried_dns_step_after_a_dead_server_compares_with_the_last_answered_check(tmp_path) -> None:
    """Review 3 #16 in the triage: the attempt against a dead server is not the check compared with."""
    from threer.triage.actions import CheckSettings as Settings

    store = Store(tmp_path / "threer.db")
    with DnsTestServer(zone_files=["k-smtp.zone"]) as server:
        DefaultActions(store, Config(default_profile="none"),
                       Settings(nameservers=[server.address], timeout=3.0, dns_only=True)).dns(DOMAIN)
        server.set_mode("dead")
        dead = DefaultActions(store, Config(default_profile="none"),
                              Settings(nameservers=[server.address], timeout=1.0, dns_only=True)).dns(DOMAIN)
        assert dead.fields["changes"].startswith("nothing could be looked up this time")
        server.set_mode(None)
        again = DefaultActions(store, Config(default_profile="none"),
                               Settings(nameservers=[server.address], timeout=3.0, dns_only=True)).dns(DOMAIN)
    assert again.fields["changes"].startswith("nothing changed since the check on "), again.fields["changes"]
    assert store.conn.execute("SELECT COUNT(*) FROM check_history").fetchone()[0] == 2
