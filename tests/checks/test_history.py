"""Check history: runs stored in a real SQLite file, and what changed between two runs."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from threer.checks import history
from threer.checks.history import Snapshot, changes
from threer.store import Store

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(days=7)

BEFORE = Snapshot(
    domain="contoso.example",
    checked_at=T0,
    records=[
        ["contoso.example", "MX", "answer", ["10 mx1.contoso.example."], 3600],
        ["contoso.example", "TXT", "answer", ["v=spf1 -all"], 300],
        ["_dmarc.contoso.example", "TXT", "answer", ["v=DMARC1; p=none"], 300],
        ["autodiscover.contoso.example", "CNAME", "nxdomain", [], None],
        ["selector1._domainkey.contoso.example", "CNAME", "answer", ["s1.provider.example."], 3600],
    ],
    findings=[["dmarc.policy-none", "dmarc", "warn", "p=none"], ["mx.ok", "mx", "ok", "fine"]],
)
AFTER = Snapshot(
    domain="contoso.example",
    checked_at=T1,
    records=[
        ["contoso.example", "MX", "answer", ["10 mx2.contoso.example."], 300],  # changed
        ["contoso.example", "TXT", "answer", ["v=spf1 -all"], 120],  # same values, counted-down TTL
        ["_dmarc.contoso.example", "TXT", "nxdomain", [], None],  # removed
        ["autodiscover.contoso.example", "CNAME", "answer", ["autodiscover.provider.example."], 3600],  # added
        ["selector1._domainkey.contoso.example", "CNAME", "timeout", [], None],  # not known now
    ],
    findings=[["dmarc.missing", "dmarc", "fail", "no DMARC"], ["mx.ok", "mx", "ok", "fine"]],
)


def test_changes_between_two_runs() -> None:
    diff = changes(BEFORE, AFTER)
    assert diff.changed == [{"name": "contoso.example", "type": "MX", "before": ["10 mx1.contoso.example."],
                             "after": ["10 mx2.contoso.example."], "ttl_before": 3600, "ttl_after": 300}]
    assert diff.added == [{"name": "autodiscover.contoso.example", "type": "CNAME",
                           "values": ["autodiscover.provider.example."], "ttl": 3600}]
    assert diff.removed == [{"name": "_dmarc.contoso.example", "type": "TXT", "values": ["v=DMARC1; p=none"], "ttl": 300}]
    assert diff.unknown == [{"name": "selector1._domainkey.contoso.example", "type": "CNAME", "values": ["s1.provider.example."]}]
    assert [f["id"] for f in diff.appeared] == ["dmarc.missing"]
    assert [f["id"] for f in diff.cleared] == ["dmarc.policy-none"]
    summary = diff.summary()
    assert summary.startswith("changed since the check on 2026-11-24: MX contoso.example changed: 10 mx1.contoso.example. (TTL 3600)")
    assert summary.endswith("and 3 more")


def test_same_records_with_other_ttls_is_no_change() -> None:
    again = Snapshot(domain=BEFORE.domain, checked_at=T1, records=[r[:4] + [7] for r in BEFORE.records], findings=BEFORE.findings)
    diff = changes(BEFORE, again)
    assert diff.empty and diff.summary() == "nothing changed since the check on 2026-11-24"


def test_a_record_not_asked_this_time_is_not_removed() -> None:
    fewer = Snapshot(domain=BEFORE.domain, checked_at=T1, records=BEFORE.records[:1], findings=BEFORE.findings)
    assert changes(BEFORE, fewer).empty


def test_json_form() -> None:
    document = changes(BEFORE, AFTER).to_json()
    assert document["since"] == "2026-11-24T10:00:00Z"
    assert set(document["records"]) == {"added", "removed", "changed", "unknown"}
    assert document["findings"]["appeared"][0] == {"id": "dmarc.missing", "severity": "fail", "message": "no DMARC"}


def test_stored_and_read_back_and_purged(tmp_path) -> None:
    store = Store(tmp_path / "threer.db")
    history.record_run(store, [BEFORE])
    history.record_run(store, [AFTER])
    latest = history.last_runs(store, ["contoso.example", "other.example"])
    assert list(latest) == ["contoso.example"] and latest["contoso.example"].records == AFTER.records
    assert history.last_runs(store, ["contoso.example"], before=T1)["contoso.example"].checked_at == T0
    assert history.purge(store, T0 + timedelta(days=1)) == 1
    rows = sqlite3.connect(tmp_path / "threer.db").execute("SELECT checked_at FROM check_history").fetchall()
    assert rows == [("2026-12-01T10:00:00+00:00",)]


FULL = Snapshot(
    domain="cafe.example", checked_at=T0, records=BEFORE.records,
    findings=[["autodiscover.https-unreachable", "autodiscover", "fail", "unreachable"],
              ["owa.unreachable", "owa", "fail", "no answer"], ["smtp.unreachable", "smtp", "error", "no answer"],
              ["mx.ok", "mx", "ok", "fine"], ["dmarc.policy-none", "dmarc", "warn", "p=none"]],
)
DNS_ONLY = Snapshot(
    domain="cafe.example", checked_at=T1, records=BEFORE.records,
    findings=[["autodiscover.https-skipped", "autodiscover", "info", "not probed"], ["mx.ok", "mx", "ok", "fine"]],
)


def test_checks_that_connect_are_not_compared_with_a_dns_only_run() -> None:
    """A failure seen by the checks that connect is not "cleared" by a run that did not connect (--dns-only),
    and a DNS finding still is."""
    diff = changes(FULL, DNS_ONLY)
    assert [f["id"] for f in diff.cleared] == ["dmarc.policy-none"]
    assert diff.appeared == []
    assert [(f["id"], f["not_checked"]) for f in diff.not_compared] == [
        ("autodiscover.https-unreachable", "this time"), ("owa.unreachable", "this time"), ("smtp.unreachable", "this time")]
    assert "finding owa.unreachable (fail) not checked this time (--dns-only)" in diff.lines()
    assert not [line for line in diff.lines() if "owa" in line and "cleared" in line]
    assert diff.to_json()["findings"]["not_compared"][0]["id"] == "autodiscover.https-unreachable"


def test_the_other_way_round_they_are_not_new() -> None:
    diff = changes(DNS_ONLY, FULL)
    assert [f["id"] for f in diff.appeared] == ["dmarc.policy-none"]
    assert diff.cleared == []
    assert {f["not_checked"] for f in diff.not_compared} == {"last time"}
    assert "finding smtp.unreachable (error) not compared: not checked the last time (--dns-only)" in diff.lines()


def test_two_dns_only_runs_and_two_full_runs_compare_everything() -> None:
    assert changes(DNS_ONLY, DNS_ONLY).empty
    again = Snapshot(domain="cafe.example", checked_at=T1, records=BEFORE.records, findings=FULL.findings[1:])
    assert [f["id"] for f in changes(FULL, again).cleared] == ["autodiscover.https-unreachable"]


def test_only_unchecked_findings_is_said_as_nothing_changed_in_what_both_looked_at() -> None:
    same = Snapshot(domain="cafe.example", checked_at=T1, records=BEFORE.records,
                    findings=[f for f in FULL.findings if not history.by_connection(f[0])] + DNS_ONLY.findings[:1])
    summary = changes(FULL, same).summary()
    assert summary.startswith("nothing changed since the check on 2026-11-24 in what both checks looked at; finding")


def test_the_connection_prefixes_name_real_findings() -> None:
    """Every prefix of history.BY_CONNECTION and every marker matches a finding id a check declares."""
    from threer.checks import CHECK_FUNCTIONS, finding_ids

    ids = set().union(*(finding_ids(name) for name in CHECK_FUNCTIONS))
    assert all(any(i.startswith(prefix) for i in ids) for prefix in history.BY_CONNECTION)
    assert history.SKIPPED_CONNECTIONS <= ids
    assert not [i for i in ids if i.startswith(("mx.", "spf.", "dmarc.", "dkim.", "ns.")) and history.by_connection(i)]


WITH_IP = Snapshot(
    domain="cafe.example", checked_at=T0, records=BEFORE.records,
    findings=[["mx.ok", "mx", "ok", "fine"],
              ["blocklist.listed", "blocklist", "fail", "Sending address 127.0.10.7 is listed in bl.example", "127.0.10.7"],
              ["rdns.not-confirmed", "rdns", "fail", "Sending address 127.0.10.7 has the PTR name x", "127.0.10.7"],
              # kept before the address was stored with the finding: read from the message
              ["spf-ip.permerror", "spf-ip", "fail", "SPF for mail from cafe.example sent by 127.0.10.7: permerror (…)."],
              ["rdns.missing", "rdns", "info", "MX host mx.cafe.example (127.0.0.5) has no PTR record"]],
)


def test_findings_of_an_ip_the_new_run_did_not_ask_about_are_not_cleared() -> None:
    """Review 3 #3: a run without --ip says nothing about the address given last time."""
    without = Snapshot(domain="cafe.example", checked_at=T1, records=BEFORE.records,
                       findings=[["mx.ok", "mx", "ok", "fine"]])
    diff = changes(WITH_IP, without)
    assert [f["id"] for f in diff.cleared] == ["rdns.missing"]  # the MX host's finding is compared
    assert [(f["id"], f["address"], f["not_checked"], f["why"]) for f in diff.not_compared] == [
        ("blocklist.listed", "127.0.10.7", "this time", "--ip"), ("rdns.not-confirmed", "127.0.10.7", "this time", "--ip"),
        ("spf-ip.permerror", "127.0.10.7", "this time", "--ip")]
    assert "finding blocklist.listed (fail) for 127.0.10.7 not checked this time (no --ip 127.0.10.7)" in diff.lines()
    back = changes(without, WITH_IP)
    assert [f["id"] for f in back.appeared] == ["rdns.missing"]
    assert {f["not_checked"] for f in back.not_compared} == {"last time"}
    assert ("finding spf-ip.permerror (fail) for 127.0.10.7 not compared: not checked the last time "
            "(no --ip 127.0.10.7)") in back.lines()


def test_findings_of_the_same_ip_are_compared_and_another_ip_is_not() -> None:
    clean = Snapshot(domain="cafe.example", checked_at=T1, records=BEFORE.records, findings=[
        ["blocklist.clean", "blocklist", "ok", "Sending address 127.0.10.7 is in none", "127.0.10.7"],
        ["rdns.not-confirmed", "rdns", "fail", "Sending address 127.0.10.7 has the PTR name x", "127.0.10.7"],
        ["spf-ip.permerror", "spf-ip", "fail", "… sent by 127.0.10.7: permerror", "127.0.10.7"],
        ["spf-ip.pass", "spf-ip", "ok", "… sent by 127.0.10.8: pass", "127.0.10.8"],
        ["mx.ok", "mx", "ok", "fine"], ["rdns.missing", "rdns", "info", "MX host …"]])
    diff = changes(WITH_IP, clean)
    assert [(f["id"], f.get("address")) for f in diff.cleared] == [("blocklist.listed", "127.0.10.7")]
    assert [(f["id"], f.get("address")) for f in diff.appeared] == [("blocklist.clean", "127.0.10.7")]
    assert [(f["id"], f["address"]) for f in diff.not_compared] == [("spf-ip.pass", "127.0.10.8")]
    assert "finding blocklist.listed (fail) for 127.0.10.7 cleared" in diff.lines()


def test_a_check_whose_lookups_failed_is_not_cleared_nor_new() -> None:
    """Review 3 #16: a record not known now has not cleared; one not known last time is not new."""
    good = Snapshot(domain="cafe.example", checked_at=T0, records=BEFORE.records,
                    findings=[["spf.all-pass", "spf", "fail", "+all"], ["mx.ok", "mx", "ok", "fine"]])
    failing = Snapshot(domain="cafe.example", checked_at=T1, records=BEFORE.records,
                       findings=[["spf.lookup-error", "spf", "error", "timed out"], ["mx.ok", "mx", "ok", "fine"]])
    diff = changes(good, failing)
    assert diff.cleared == [] and [f["id"] for f in diff.appeared] == ["spf.lookup-error"]
    assert [(f["id"], f["not_checked"], f["why"]) for f in diff.not_compared] == [("spf.all-pass", "this time", "lookup-failed")]
    assert "finding spf.all-pass (fail) not checked this time (its look-ups failed)" in diff.lines()
    back = changes(failing, good)
    assert back.appeared == [] and [f["id"] for f in back.cleared] == ["spf.lookup-error"]
    assert "finding spf.all-pass (fail) not compared: not checked the last time (its look-ups failed)" in back.lines()


def test_a_run_that_got_no_answer_is_not_compared() -> None:
    diff = changes(BEFORE, AFTER, answered=False)
    assert not diff.compared and not diff.empty and not diff.changed_anything
    assert diff.summary() == "nothing could be looked up this time, so nothing is compared with the check on 2026-11-24"
    assert diff.to_json()["compared"] is False and diff.to_json()["findings"]["cleared"] == []


def test_a_kept_run_that_got_no_answer_is_never_the_one_compared_with(tmp_path) -> None:
    """Runs kept before they were left out: the last run that got answers is the one compared with."""
    store = Store(tmp_path / "threer.db")
    dead = Snapshot(domain="contoso.example", checked_at=T1, records=[[r[0], r[1], "timeout", [], None] for r in BEFORE.records],
                    findings=[["spf.lookup-error", "spf", "error", "timed out"]])
    history.record_run(store, [BEFORE, dead])
    assert history.last_runs(store, ["contoso.example"])["contoso.example"].checked_at == T0
