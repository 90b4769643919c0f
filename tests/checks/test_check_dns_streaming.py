"""`check-dns --from` hands each domain on as soon as it and the ones before it are checked: the output
is written piece by piece (the same text as the whole document), in input order, and the runner holds
at most its window of finished domains."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from support_dnsserver import DnsTestServer
from threer.checks import CheckOptions, each_domain, history, run_domains
from threer.cli.check_dns import DomainOutput, json_document
from threer.cli.output import json_text

DOMAINS = ["b-mx-null.example", "b-good.example", "b-plain.example", "b-mx-ok.example"]


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


def _options(server: DnsTestServer, **extra) -> CheckOptions:
    return CheckOptions(profile="auto", nameservers=[("127.0.0.1", server.port)], dns_only=True, timeout=5, **extra)


def test_outcomes_come_in_input_order_even_when_a_later_domain_finishes_first(server) -> None:
    slow = DnsTestServer(faults={("b-mx-null.example", "MX"): "delay:0.6"}).start()
    try:
        finished: list[str] = []
        handed: list[str] = []
        each_domain(DOMAINS, _options(slow), lambda o: handed.append(o.report.domain),
                    progress=lambda r: finished.append(r.domain))
    finally:
        slow.stop()
    assert handed == DOMAINS
    assert finished[-1] == "b-mx-null.example"  # it did finish last, and was still handed on first


def test_at_most_the_window_of_finished_domains_waits_behind_a_slow_one() -> None:
    # the first domain's MX answer takes 1 s; the others answer at once. With a window of 2, no
    # domain past the second may start before the first is handed on, so at that moment at most
    # one other has finished.
    slow = DnsTestServer(faults={("b-mx-null.example", "MX"): "delay:1.0"}).start()
    try:
        finished_before_first: list[int] = []
        finished: list[str] = []

        def each(outcome) -> None:
            if outcome.report.domain == DOMAINS[0]:
                finished_before_first.append(len(finished))

        each_domain(DOMAINS, _options(slow), each, concurrency=4, window=2,
                    progress=lambda r: finished.append(r.domain))
    finally:
        slow.stop()
    assert finished_before_first == [2]  # the second domain and the first itself
    assert sorted(finished) == sorted(DOMAINS)


def test_a_failing_consumer_stops_the_run_with_its_error(server) -> None:
    seen: list[str] = []

    def each(outcome) -> None:
        seen.append(outcome.report.domain)
        raise BrokenPipeError("the reader went away")

    with pytest.raises(BrokenPipeError):
        each_domain(DOMAINS * 5, _options(server), each, window=3)
    assert seen == [DOMAINS[0]]


def test_the_streamed_json_is_the_document_text_exactly(server, capsys, tmp_path) -> None:
    outcomes = run_domains(DOMAINS, _options(server))
    reports = [o.report for o in outcomes]
    # a message with characters that must be escaped, so the piecewise escaping is tested too
    reports[1].findings[0].message += " \x1b[31m\u202e"
    for diff in (False, True):
        changes = {}
        if diff:
            changes = history.remember(tmp_path / "h.db", outcomes, keep_days=30, now=datetime.now(timezone.utc))
            changes = history.remember(tmp_path / "h.db", outcomes, keep_days=30, now=datetime.now(timezone.utc))
            assert set(changes) == set(DOMAINS)
        output = DomainOutput("json", diff=diff)
        for report in reports:
            output.write(report, changes.get(report.domain))
        output.close()
        streamed = capsys.readouterr().out
        assert streamed == json_text(json_document(reports, changes=changes if diff else None)) + "\n"
        assert "\\u001b" in streamed
        assert [d["domain"] for d in json.loads(streamed)["domains"]] == DOMAINS


def test_an_empty_run_is_the_empty_document(capsys) -> None:
    output = DomainOutput("json")
    output.close()
    assert capsys.readouterr().out == json_text(json_document([])) + "\n"


def test_the_history_recorder_writes_in_batches_and_reads_before_writing(tmp_path, server) -> None:
    from threer.store import Store

    store = Store(tmp_path / "h.db")
    try:
        now = datetime.now(timezone.utc)
        # a run that got no answer is not kept (review 3 #16): nothing written, nothing to compare
        unanswered = run_domains(DOMAINS, CheckOptions(profile="none", nameservers=[("127.0.0.1", 1)], timeout=0.3))
        nothing = history.Recorder(store, keep_days=30, now=now, batch=1)
        assert [nothing.add(o) for o in unanswered] == [None] * 4
        nothing.close()
        assert store.counts()["check_history"] == 0
        outcomes = run_domains(DOMAINS, _options(server))
        first = history.Recorder(store, keep_days=30, now=now, batch=3)
        assert [first.add(o) for o in outcomes] == [None] * 4  # never kept before
        assert store.counts()["check_history"] == 3  # one batch written, one row waiting
        first.close()
        assert store.counts()["check_history"] == 4
        again = history.Recorder(store, keep_days=30, now=now, batch=100)
        found = [again.add(o) for o in outcomes]
        assert all(c is not None and c.empty for c in found)
        again.close()
        quiet = history.Recorder(store, keep_days=30, now=now, changes=False)
        assert [quiet.add(o) for o in outcomes] == [None] * 4  # nothing read when no changes are wanted
        quiet.close()
        assert store.counts()["check_history"] == 12
    finally:
        store.close()
