"""`threer report`: the numbers over a known month of sessions, avoidable escalations and why, the
period and grouping options, bad input, and the --json contract."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support_report import HOSTILE, KB_RELAY, NOW, report_store
from support_sessions import write_partner_config

from threer.config import BusinessHours
from threer.env import Environment
from threer.errors import BadInput
from threer.report import Article, build_report, parse_period
from threer.report.source import load_articles, load_sessions
from threer.store import Store


@pytest.fixture
def ids(threer_env: Environment) -> dict[str, str]:
    write_partner_config(threer_env.config_path)
    with Store(threer_env.db_path) as store:
        return report_store(store)


@pytest.fixture
def run(invoke, threer_env: Environment):
    def _run(*args: str):
        return invoke("report", *args)
    return _run


def _report(env: Environment, *, by: str | None = None, articles: dict[str, Article] | None = None, **period):
    with Store(env.db_path) as store:
        sessions = load_sessions(store)
        known = load_articles(store) if articles is None else articles
    p = parse_period(period.get("since", "2024-03-01"), period.get("until", "2024-03-29"), now=NOW,
                     timezone="Europe/London")
    return build_report(sessions, known, period=p, by=by, now=NOW, calendar=BusinessHours(timezone="Europe/London"))


def test_totals_weeks_and_rate(ids: dict[str, str], threer_env: Environment) -> None:
    report = _report(threer_env)
    t = report.totals
    assert (t.sessions, t.resolved, t.escalated, t.open) == (6, 2, 3, 1)
    assert t.escalation_rate == 0.6  # 3 of the 5 closed sessions
    weeks = {w.week: (w.sessions, w.escalated, w.escalation_rate) for w in report.weeks}
    assert weeks == {"2024-W09": (0, 0, None), "2024-W10": (2, 1, 0.5), "2024-W11": (2, 1, 0.5),
                     "2024-W12": (2, 1, 1.0), "2024-W13": (0, 0, None)}  # no rate where none was closed
    assert report.time_to_resolve.count == 2 and report.time_to_escalate.count == 3
    assert report.time_to_resolve.median_minutes == 42.0  # 14 steps, 3 minutes apart on the test clock
    assert [(c.key, c.count) for c in report.error_codes] == [("0x800CCC0E", 2), ("5.7.1", 2)]
    assert [(c.key, c.count) for c in report.dns_findings] == [("autodiscover.missing", 2)]


def test_avoidable_escalations_and_why(ids: dict[str, str], threer_env: Environment) -> None:
    report = _report(threer_env)
    found = {a.id: a for a in report.avoidable}
    assert set(found) == {ids["B"], ids["C"]}  # E had nothing in common with a resolved session
    b, c = found[ids["B"]], found[ids["C"]]
    assert b.rule == "match-worked" and b.evidence == f"case:{ids['A']}" and b.solved_in == ids["A"]
    assert f"past case case:{ids['A']}" in b.why and "0x800CCC0E" in b.why and "not tried" in b.why
    assert c.rule == "solved-later" and c.evidence == KB_RELAY and c.solved_in == ids["D"]
    assert ids["D"] in c.why and "5.7.1" in c.why and "already existed" in c.why


@pytest.mark.parametrize(("kb_articles", "said"), [
    ([], "it was not tried"),
    (["KB-0002"], "it was tried"),  # used in research.kb (ids compared without case)
    (["kb-0002 solved"], "it was tried and marked as the fix, which did not hold"),
])
def test_an_article_used_in_research_kb_counts_as_tried(threer_env: Environment, kb_articles: list[str],
                                                        said: str) -> None:
    # research.prior showed kb-0002, which had solved the same problem; the technician used it from the KB
    from support_report import AUTODISCOVER, T0, _answers
    from support_sessions import TickingClock, make_session

    with Store(threer_env.db_path) as store:
        make_session(store, _answers(domain="contoso.com", name="Contoso Ltd", decision="resolved",
                                     errors="Task reported error (0x800CCC0E)", tried=[], articles=["kb-0002"],
                                     resolution="Added the autodiscover CNAME as kb-0002 says."),
                     actions={"review.dns": AUTODISCOVER, "research.prior": {"matches": []}},
                     clock=TickingClock(start=T0, step=timedelta(minutes=3)), technician="Sam")
        escalation = _answers(domain="contoso.co.uk", name="Contoso UK", decision="escalate",
                              errors="Outlook error 0x800ccc0e", tried=[], articles=kb_articles)
        if "solved" in " ".join(kb_articles):
            escalation["outcome"]["fix_did_not_hold"] = True
        second = make_session(store, escalation, technician="Sam",
                              actions={"review.dns": AUTODISCOVER, "research.prior": {"matches": [
                                  {"id": "kb-0002", "title": "Autodiscover", "source": "kb", "score": 0.9}]}},
                              clock=TickingClock(start=T0 + timedelta(days=2), step=timedelta(minutes=3)))
    found = {a.id: a for a in _report(threer_env).avoidable}
    assert found[second].rule == "match-worked" and found[second].evidence == "kb-0002"
    assert found[second].why.endswith(f"; {said}.")


def test_an_article_added_after_the_escalation_does_not_make_it_avoidable(
        ids: dict[str, str], threer_env: Environment) -> None:
    later = datetime(2024, 3, 12, tzinfo=timezone.utc)  # after C was opened, before D used it
    report = _report(threer_env, articles={KB_RELAY: Article(origin="file", indexed_at=later)})
    assert ids["C"] not in {a.id for a in report.avoidable}
    earlier = Article(origin="file", indexed_at=later - timedelta(days=30))
    assert ids["C"] in {a.id for a in _report(threer_env, articles={KB_RELAY: earlier}).avoidable}


@pytest.mark.parametrize("articles, resolution, avoidable", [
    ([KB_RELAY], "The provider delisted the IP; nothing in the KB helped.", False),  # consulted only
    ([KB_RELAY], f"Turned on SMTP authentication as {KB_RELAY} says.", True),  # named in the resolution
    ([f"{KB_RELAY} solved"], "SMTP authentication turned on.", True),  # marked as the fix
])
def test_solved_later_needs_the_article_to_have_solved_it(threer_env: Environment, articles: list[str],
                                                         resolution: str, avoidable: bool) -> None:
    """An article a resolved session only consulted is no proof that it solves the problem: that session
    may say it did not help. It counts when marked as the fix or named in the resolution."""
    from support_report import T0, _answers
    from support_sessions import TickingClock, make_session

    write_partner_config(threer_env.config_path)
    with Store(threer_env.db_path) as store:
        escalated = make_session(store, _answers(domain="northwind.example", name="Northwind", decision="escalate",
                                                 errors="550 5.7.1 Unable to relay", tried=[], articles=[]),
                                 clock=TickingClock(start=T0 + timedelta(days=7)))
        resolved = make_session(store, _answers(domain="tailspin.example", name="Tailspin", decision="resolved",
                                                errors="550 5.7.1 relay denied", tried=[], articles=articles,
                                                resolution=resolution),
                                clock=TickingClock(start=T0 + timedelta(days=9)))
    found = {x.id: x for x in _report(threer_env).avoidable}
    assert (escalated in found) is avoidable
    if avoidable:
        assert found[escalated].solved_in == resolved and found[escalated].evidence == KB_RELAY


def test_by_technician_category_customer_and_week(ids: dict[str, str], threer_env: Environment) -> None:
    tech = {g.key: (g.sessions, g.escalated) for g in _report(threer_env, by="technician").groups}
    assert tech == {"Sam Okafor": (2, 1), "Ana Lima": (3, 2), HOSTILE: (1, 0)}
    cats = {g.key: g.sessions for g in _report(threer_env, by="category").groups}
    assert cats == {"error:0x800CCC0E": 2, "error:5.7.1": 2, f"kb:{HOSTILE}": 1, "uncategorised": 1}
    customers = {g.key for g in _report(threer_env, by="customer").groups}
    assert customers == {"contoso.com", "contoso.co.uk", "northwind.example", "tailspin.example", "fabrikam.com",
                         "adatum.example"}
    weeks = [(g.key, g.sessions) for g in _report(threer_env, by="week").groups]
    assert weeks[1:4] == [("2024-W10", 2), ("2024-W11", 2), ("2024-W12", 2)]


def test_the_period_selects_sessions(ids: dict[str, str], threer_env: Environment) -> None:
    report = _report(threer_env, since="2024-03-11", until="2024-03-13")
    assert report.totals.sessions == 2 and [w.week for w in report.weeks] == ["2024-W11"]
    # C is in the period; D, which shows C was avoidable, is outside it but still counts as evidence
    assert [a.id for a in _report(threer_env, since="2024-03-11", until="2024-03-11").avoidable] == [ids["C"]]


def test_relative_since_counts_back_from_now() -> None:
    p = parse_period("2w", None, now=NOW, timezone="UTC")
    assert p.until == NOW and p.since == NOW - timedelta(days=14)
    assert parse_period(None, None, now=NOW, timezone="UTC").since == NOW - timedelta(days=30)


def test_a_period_of_dates_in_another_zone_is_kept_in_utc() -> None:
    """The JSON's since and until end in Z whatever zone the calendar is in (docs/reference/report.md)."""
    p = parse_period("2024-07-01", "2024-07-31", now=NOW, timezone="Europe/Berlin")
    assert p.since.isoformat() == "2024-06-30T22:00:00+00:00" and p.until.isoformat() == "2024-07-31T22:00:00+00:00"
    dumped = p.model_dump(mode="json")
    assert dumped["since"] == "2024-06-30T22:00:00Z" and dumped["until"] == "2024-07-31T22:00:00Z"


@pytest.mark.parametrize("since, until, words", [
    ("yesterday", None, "--since takes a date such as 30d, 4w or 2026-11-01"),
    ("2024-13-01", None, "--since takes a date"),
    (None, "soon", "--until takes a date such as 2026-11-30"),
    ("2024-03-10", "2024-03-01", "is not before --until"),
    (None, "9999-12-31", "past the last day a report can cover"),
    ("99999w", "0100-01-01", "before the year 1"),
])
def test_bad_periods_are_plain_errors(since: str | None, until: str | None, words: str) -> None:
    with pytest.raises(BadInput, match=words):
        parse_period(since, until, now=NOW, timezone="UTC")


def test_cli_bad_input_is_exit_2(run, ids: dict[str, str], tmp_path: Path) -> None:
    for args, words in ((["--by", "team"], "--by takes technician, category, customer, week"),
                        (["--since", "last week"], "--since takes a date"),
                        (["--html", str(tmp_path)], "is a folder")):
        result = run(*args)
        assert result.exit_code == 2, (args, result.stdout)
        assert words in result.stderr and "Traceback" not in result.stderr
    unwritable = tmp_path / "no-such-folder" / "r.html"
    result = run("--html", str(unwritable))
    assert result.exit_code == 2 and "Cannot write" in result.stderr


def test_without_a_database_the_report_is_empty_and_creates_none(run, threer_env: Environment) -> None:
    result = run("--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["sessions"] == 0
    assert not threer_env.db_path.exists()


def test_terminal_summary(run, ids: dict[str, str]) -> None:
    result = run("--since", "2024-03-01", "--until", "2024-03-29", "--by", "technician")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Escalation report 2024-03-01 to 2024-03-29 (Europe/London)" in out
    assert "Sessions opened 6: resolved at the partner level 2, escalated 3, still open 1." in out
    assert "Escalation rate 60%" in " ".join(out.split())
    assert "2024-W12         2          1  100%  " + "█" * 30 in out  # the bar chart: 100% is the full bar
    assert "Avoidable escalations (2)" in out and ids["B"] in out and ids["C"] in out
    # session text is shown literally: markup is not obeyed, control characters are shown as escapes
    assert "[b]x[/b]\\x1b[2J<script>document.title=" in out and "\x1b" not in out
    assert "Past the expected first response (3)" in out


def test_json_contract(run, ids: dict[str, str]) -> None:
    result = run("--since", "2024-03-01", "--until", "2024-03-29", "--by", "week", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["version"] == 1
    assert set(doc) >= {"version", "generated_at", "since", "until", "timezone", "by", "totals", "weeks", "groups",
                        "categories", "avoidable", "time_to_resolve", "time_to_escalate", "overdue", "error_codes",
                        "dns_findings"}
    totals = doc["totals"]
    assert {k: totals[k] for k in ("sessions", "resolved", "escalated", "escalation_rate")} == {
        "sessions": 6, "resolved": 2, "escalated": 3, "escalation_rate": 0.6}
    for week in doc["weeks"]:
        assert set(week) >= {"week", "sessions", "escalated", "escalation_rate"}
        if week["resolved"] + week["escalated"]:
            assert 0 <= week["escalation_rate"] <= 1 and isinstance(week["sessions"], int)
        else:  # a week in which no session was closed has no rate: null, not 0
            assert week["escalation_rate"] is None
    assert sum(w["sessions"] for w in doc["weeks"]) == totals["sessions"]
    assert {a["id"] for a in doc["avoidable"]} == {ids["B"], ids["C"]}
    assert all(set(a) >= {"id", "why", "rule", "evidence"} and a["why"] for a in doc["avoidable"])
    datetime.fromisoformat(doc["since"])
    assert all(datetime.fromisoformat(o["due"]) for o in doc["overdue"])
    assert result.stderr == ""


def test_sessions_record_their_technician_and_host(invoke, threer_env: Environment, tmp_path: Path) -> None:
    """A triage records partner.technician (else the OS user) and the host on the new session."""
    from support_sessions import ESCALATION

    write_partner_config(threer_env.config_path)
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({**ESCALATION, "review.dns": {"not_applicable": "no network here"}}),
                       encoding="utf-8")
    result = invoke("triage", "--answers", str(answers), "--no-input")
    assert result.exit_code == 0, result.stderr
    with Store(threer_env.db_path) as store:
        row = store.list_sessions()[0]
    assert row["technician"] == "Sam Okafor" and row["host"]


def test_no_raw_control_character_reaches_the_terminal(invoke, threer_env: Environment) -> None:
    """A technician name or typed article with escape sequences, bidi and zero-width characters is shown
    visibly by the report and by the escalation follow-up, never sent raw."""
    from support_sessions import ESCALATION, make_session

    from threer.safe_text import UNSAFE

    nasty = "Sam \x1b[2J\x1b]0;pwn\x07 \x9b31m \u202eevil \u200bx\x7f"
    write_partner_config(threer_env.config_path)
    with Store(threer_env.db_path) as store:
        make_session(store, {**ESCALATION, "intake.customer": {"name": nasty, "domain": "contoso.com"},
                             "research.kb": {"articles": [nasty], "outcome": "read"}}, technician=nasty)
    for args in (["report", "--since", "2024-03-01", "--until", "2024-03-31", "--by", "technician"],
                 ["report", "--since", "2024-03-01", "--until", "2024-03-31", "--json"],
                 ["sessions", "list", "--escalated"], ["sessions", "list", "--escalated", "--json"]):
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.stderr)
        for output in (result.stdout, result.stderr):
            found = UNSAFE.search(output)
            assert found is None, f"{args}: raw {found.group()!r} reached the output"
    assert "\\x1b[2J" in invoke("report", "--since", "2024-03-01", "--by", "technician").stdout
