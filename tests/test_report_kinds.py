"""`threer report`: which escalations are "the same kind of problem" as a resolution (review item 6), and how
rates and bars are shown where none was closed or the terminal is narrow (review item 15)."""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support_report import T0, report_store
from support_sessions import ESCALATION, TickingClock, make_session, write_partner_config

from threer.env import Environment
from threer.store import Store

PERIOD = ("--since", "2024-03-01", "--until", "2024-03-29")
DMARC_BOUNCE = ("Remote server returned '550 5.7.26 This message does not have authentication information or "
                "fails to pass authentication checks (SPF or DKIM)'")
KB_PASSWORD = "kb-0001-outlook-password-prompt"  # a sample article: there before any session
KB_DMARC = "kb-0005-dmarc-policy"


def _dns(domain: str, *problems: tuple[str, str]) -> dict[str, Any]:
    return {"checked": True, "domain": domain, "profile": "m365", "summary": {"ok": 8},
            "problems": [{"id": pid, "severity": sev, "message": pid, "fix": None} for pid, sev in problems],
            "checked_at": "2024-03-04T09:05:00+00:00"}


AUTODISCOVER_WARN = ("autodiscover.missing", "warn")  # on most domains: says nothing about the problem


def _session(store: Store, day: int, *, domain: str, errors: str, decision: str, articles: list[str],
             dns: dict[str, Any], issue: str | None = None, prior_matches: list[dict[str, Any]] | None = None) -> str:
    answers = copy.deepcopy(ESCALATION)
    answers["intake.customer"] = {"name": domain.split(".")[0].title(), "domain": domain}
    if issue:
        answers["intake.issue"] = {**answers["intake.issue"], "description": issue}
    answers["intake.errors"] = errors or {"no_error_shown": True}
    answers["research.prior"] = {"tried": [], "outcome": "nothing matched"}
    answers["research.kb"] = {"articles": articles, "outcome": "read"}
    answers["outcome"] = ({"decision": "resolved", "resolution": f"Fixed as {articles[0]} says."}
                          if decision == "resolved" else {"decision": "escalate", "summary": "escalated"})
    clock = TickingClock(start=T0 + timedelta(days=day), step=timedelta(minutes=3))
    return make_session(store, answers, clock=clock, technician="Sam Okafor",
                        actions={"review.dns": dns, "research.prior": {"matches": prior_matches or []}})


@pytest.fixture
def kinds(threer_env: Environment) -> dict[str, str]:
    write_partner_config(threer_env.config_path)
    with Store(threer_env.db_path) as store:
        return {
            # the review's case: a DMARC bounce escalated; later a password prompt on another domain resolved
            # with an article. Both domains lack autodiscover (a warn finding); nothing else in common.
            "dmarc": _session(store, 0, domain="bakery-lund.example", errors=DMARC_BOUNCE, decision="escalate",
                              articles=[], dns=_dns("bakery-lund.example", AUTODISCOVER_WARN,
                                                    ("dmarc.missing", "fail"))),
            "password": _session(store, 2, domain="konditori.example", errors="", decision="resolved",
                                 articles=[KB_PASSWORD], dns=_dns("konditori.example", AUTODISCOVER_WARN)),
            # a second DMARC bounce, escalated, then the same error resolved with the DMARC article: avoidable
            "dmarc-again": _session(store, 7, domain="florist.example", errors=DMARC_BOUNCE, decision="escalate",
                                    articles=[], dns=_dns("florist.example", AUTODISCOVER_WARN)),
            "dmarc-solved": _session(store, 9, domain="cafe.example", errors="550 5.7.26 unauthenticated",
                                     decision="resolved", articles=[KB_DMARC],
                                     dns=_dns("cafe.example", AUTODISCOVER_WARN)),
            # an escalation with no error at all and only the same warn finding: not like the password one
            "no-error": _session(store, 10, domain="bistro.example", errors="", decision="escalate", articles=[],
                                 dns=_dns("bistro.example", AUTODISCOVER_WARN)),
        }


def _json(invoke, *args: str) -> dict[str, Any]:
    result = invoke("report", *PERIOD, "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_a_shared_warn_finding_does_not_make_two_problems_alike(invoke, kinds: dict[str, str]) -> None:
    doc = _json(invoke)
    avoidable = {a["id"]: a for a in doc["avoidable"]}
    assert kinds["no-error"] not in avoidable  # only the warn finding in common with the password session
    assert all(a["solved_in"] != kinds["password"] for a in doc["avoidable"])
    assert set(avoidable) == {kinds["dmarc"], kinds["dmarc-again"]}
    for key in ("dmarc", "dmarc-again"):  # both by the later DMARC resolution, not the earlier password one
        item = avoidable[kinds[key]]
        assert item["rule"] == "solved-later" and item["evidence"] == KB_DMARC
        assert item["solved_in"] == kinds["dmarc-solved"]
        assert item["category"] == "error:5.7.26" and item["labels"] == ["error:5.7.26"]
        assert "autodiscover" not in item["why"]
    # the warn finding is still counted among the most frequent DNS findings
    assert {"key": "autodiscover.missing", "count": 5} in doc["dns_findings"]


def test_an_avoidable_escalation_is_named_by_a_category_the_report_shows(invoke, kinds: dict[str, str]) -> None:
    doc = _json(invoke)
    categories = {c["key"]: c for c in doc["categories"]}
    assert set(categories) == {"error:5.7.26", f"kb:{KB_PASSWORD}", "uncategorised"}
    assert (categories["error:5.7.26"]["sessions"], categories["error:5.7.26"]["escalated"]) == (3, 2)
    for item in doc["avoidable"]:
        assert item["category"] in categories and item["labels"][0] == item["category"]
    result = invoke("report", *PERIOD, env={"COLUMNS": "100"})
    section = result.stdout.split("Categories", 1)[1].split("Avoidable escalations", 1)[0]
    assert "error:5.7.26" in section and "dns:autodiscover.missing" not in section


def test_a_fail_finding_the_calls_were_about_makes_two_problems_alike(invoke, threer_env: Environment) -> None:
    write_partner_config(threer_env.config_path)
    spf = ("spf.missing", "fail")
    with Store(threer_env.db_path) as store:
        escalated = _session(store, 0, domain="a.example", errors="", decision="escalate", articles=[],
                             dns=_dns("a.example", AUTODISCOVER_WARN, spf),
                             issue="Customers say our mail goes to junk; no SPF record at all")
        # its resolution names the check (here through the article's id)
        _session(store, 3, domain="b.example", errors="", decision="resolved", articles=["kb-0003-spf-record"],
                 dns=_dns("b.example", spf))
    (item,) = _json(invoke)["avoidable"]
    assert item["id"] == escalated and item["category"] == "dns:spf.missing"


def test_a_standing_fail_of_the_zone_does_not_make_an_unrelated_call_avoidable(invoke, threer_env: Environment) -> None:
    # review 3 #11: a full mailbox resolved, then on the same domain (its DMARC and MTA-STS records broken,
    # `fail` on every check) Outlook for Mac crashing on a shared calendar, no error shown, escalated
    write_partner_config(threer_env.config_path)
    broken = (("dmarc.syntax", "fail"), ("mta-sts.txt-invalid", "fail"))
    with Store(threer_env.db_path) as store:
        resolved = _session(store, 0, domain="northwind-freight.example",
                            errors="452 4.2.2 <dispatch@northwind-freight.example>: Mailbox full",
                            decision="resolved", articles=["kb-0011-ndr-5-2-2-mailbox-full"],
                            dns=_dns("northwind-freight.example", *broken),
                            issue="Mail to dispatch@ bounces with mailbox full")
        crash = _session(store, 1, domain="northwind-freight.example", errors="", decision="escalate",
                         articles=["bf-005-shared-calendar-not-updating"],
                         dns=_dns("northwind-freight.example", *broken),
                         issue="Outlook for Mac 16.91 quits when opening a shared calendar",
                         prior_matches=[{"id": f"case:{resolved}", "title": "Mailbox full", "score": 0.5}])
    doc = _json(invoke)
    assert doc["avoidable"] == []
    categories = {c["key"] for c in doc["categories"]}
    assert categories == {"error:4.2.2", "kb:bf-005-shared-calendar-not-updating"}
    # the standing faults are still counted among the most frequent DNS findings
    assert {"key": "dmarc.syntax", "count": 2} in doc["dns_findings"]
    assert crash


def test_an_error_code_of_the_checks_area_points_at_a_fail_finding(invoke, threer_env: Environment) -> None:
    write_partner_config(threer_env.config_path)
    dmarc = ("dmarc.syntax", "fail")
    with Store(threer_env.db_path) as store:
        escalated = _session(store, 0, domain="a.example", errors="", decision="escalate", articles=[],
                             dns=_dns("a.example", dmarc), issue="Gmail rejects our mail since the DMARC record was edited")
        # no word of DMARC in what it was about, but its bounce's code is Exchange Online's DMARC refusal
        solved = _session(store, 3, domain="b.example", errors="Remote server returned '550 5.7.509 Access denied, "
                          "sending domain does not pass DMARC verification'", decision="resolved", articles=[KB_DMARC],
                          dns=_dns("b.example", dmarc), issue="Mail to one customer bounces")
    (item,) = _json(invoke)["avoidable"]
    assert (item["id"], item["solved_in"], item["category"]) == (escalated, solved, "dns:dmarc.syntax")


def test_a_session_is_categorised_by_the_article_that_worked_not_the_first_tried(
        invoke, threer_env: Environment) -> None:
    # review 2 item 15: research.prior tried all its matches (the OWA lockout article first) and recorded
    # the password article as the one that worked; the call had no error code and nothing failing
    write_partner_config(threer_env.config_path)
    answers = copy.deepcopy(ESCALATION)
    answers["intake.customer"] = {"name": "Konditori", "domain": "konditori.example"}
    answers["intake.errors"] = {"no_error_shown": True}
    answers["research.prior"] = {"tried": ["kb-0026-owa-sign-in-lockout", KB_PASSWORD, KB_DMARC],
                                 "worked": [KB_PASSWORD], "outcome": "the password article fixed it"}
    answers["research.kb"] = {"articles": [], "outcome": "not needed"}
    answers["outcome"] = {"decision": "resolved", "resolution": "Cleared the cached credentials."}
    with Store(threer_env.db_path) as store:
        make_session(store, answers, clock=TickingClock(start=T0, step=timedelta(minutes=3)),
                     technician="Sam Okafor", actions={"review.dns": _dns("konditori.example", AUTODISCOVER_WARN),
                                                      "research.prior": {"matches": []}})
    categories = {c["key"]: c for c in _json(invoke)["categories"]}
    assert set(categories) == {f"kb:{KB_PASSWORD}"}
    assert (categories[f"kb:{KB_PASSWORD}"]["sessions"], categories[f"kb:{KB_PASSWORD}"]["resolved"]) == (1, 1)


# -- review item 15: no rate where none was closed; bars scaled by their column, never cut --------------

@pytest.fixture
def month(threer_env: Environment) -> dict[str, str]:
    write_partner_config(threer_env.config_path)
    with Store(threer_env.db_path) as store:
        return report_store(store)  # W09 and W13 have no session; W12: one escalated, one open


def test_a_week_without_closed_sessions_has_no_rate_anywhere(invoke, month: dict[str, str], tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    doc = _json(invoke, "--html", str(page))
    weeks = {w["week"]: w for w in doc["weeks"]}
    assert weeks["2024-W09"]["escalation_rate"] is None and weeks["2024-W13"]["escalation_rate"] is None
    assert weeks["2024-W10"]["escalation_rate"] == 0.5
    assert {c["key"]: c["escalation_rate"] for c in doc["categories"]}["uncategorised"] is None  # only open
    html = page.read_text(encoding="utf-8")
    row = re.search(r'<tr data-week-row="2024-W09">.*?</tr>', html).group()
    assert 'data-value="null">n/a</td>' in row and "0%" not in row
    assert 'data-value="0.5">50%</td>' in re.search(r'<tr data-week-row="2024-W10">.*?</tr>', html).group()
    terminal = invoke("report", *PERIOD, env={"COLUMNS": "80"}).stdout
    week_line = next(line for line in terminal.splitlines() if line.startswith("2024-W09"))
    assert week_line.split()[1:] == ["0", "0", "-"]


def _bars(section: str) -> dict[str, str]:
    """Each row's last cell: rate and bar."""
    rows = {}
    for line in section.splitlines():
        cells = line.split()
        if len(cells) >= 5 and cells[0].startswith(("error:", "kb:", "uncategorised")):
            rows[cells[0]] = line
    return rows


@pytest.mark.parametrize("columns", [80, 120])
def test_category_bars_are_the_rate_and_fit_whole(invoke, month: dict[str, str], columns: int) -> None:
    out = invoke("report", *PERIOD, env={"COLUMNS": str(columns)}).stdout
    assert all(len(line) <= columns for line in out.splitlines())
    section = out.split("\nCategories", 1)[1].split("Avoidable escalations", 1)[0]
    rows = _bars(section)
    half = rows["error:0x800CCC0E"]
    assert half.rstrip().endswith("█") and "50%" in half
    full = next(line for key, line in rows.items() if key.startswith("kb:"))  # E: 1 of 1 escalated
    assert "100%" in full
    full_bar, half_bar = full.count("█"), half.count("█")
    assert full_bar >= 10 and half_bar == round(full_bar / 2)  # 100% draws twice as long as 50%, never longer
    assert "…" not in full.split("100%", 1)[1] and "…" not in half.split("50%", 1)[1]  # bars not cut
    assert rows["uncategorised"].split()[1:] == ["1", "0", "0", "-"]  # open only: no rate, no bar
    counts = out.split("Most frequent error codes", 1)[1]
    assert "…" not in counts  # short keys at any width: nothing cut


def test_what_points_at_a_finding() -> None:
    from threer.report.categories import pointed_at

    assert pointed_at("dmarc.syntax", ["5.7.509"], "")  # the code alone
    assert pointed_at("spf-ip.permerror", ["5.7.23"], "")
    assert pointed_at("mta-sts.txt-invalid", [], "mta-sts policy id fixed")
    assert not pointed_at("dmarc.syntax", ["4.2.2"], "emptied deleted items in the dispatch mailbox")
    assert not pointed_at("mx.cname", [], "mx1.northwind-freight.example was down")  # a host name, not the check
