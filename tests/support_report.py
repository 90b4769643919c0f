"""A store with a known month of sessions for the report tests: which are avoidable, and why, is known.

    ids = report_store(store)   # {"A": id, ...}; see SCENARIO for what each session is
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

from support_sessions import ESCALATION, TickingClock, make_session

from threer.store import Store

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc)  # Monday of ISO week 2024-W10
NOW = datetime(2024, 3, 29, 12, 0, tzinfo=timezone.utc)
KB_RELAY = "kb-0008-ndr-550-5-7-1-relay-denied"  # a sample article: in every KB
HOSTILE = '[b]x[/b]\x1b[2J<script>document.title="PWNED"</script><img src=x onerror="document.title=\'PWNED\'">'

AUTODISCOVER = {"checked": True, "domain": "contoso.com", "profile": "m365", "summary": {"ok": 9, "fail": 1},
                "problems": [{"id": "autodiscover.missing", "severity": "fail", "message": "no autodiscover",
                              "fix": "Add CNAME autodiscover -> autodiscover.outlook.com."}],
                "checked_at": "2024-03-04T09:05:00+00:00"}
CLEAN_DNS = {"checked": True, "domain": "fabrikam.com", "profile": "m365", "summary": {"ok": 10}, "problems": [],
             "checked_at": "2024-03-04T09:05:00+00:00"}


def _answers(*, domain: str, name: str, errors: str, decision: str, tried: list[str], articles: list[str],
             resolution: str = "") -> dict[str, Any]:
    answers = copy.deepcopy(ESCALATION)
    answers["intake.customer"] = {"name": name, "domain": domain}
    answers["intake.errors"] = errors or {"no_error_shown": True}
    answers["research.prior"] = {"tried": tried, "outcome": "see the notes"}
    answers["research.kb"] = {"articles": articles, "outcome": "read"}
    answers["outcome"] = ({"decision": "resolved", "resolution": resolution} if decision == "resolved"
                          else {"decision": "escalate", "summary": f"{name} escalation"})
    return answers


def report_store(store: Store) -> dict[str, str]:
    """Sessions (creation day, outcome):
    A  Mon W10  resolved   0x800CCC0E + autodiscover.missing, solved with kb-0002     (technician Sam)
    B  Wed W10  escalated  same problem; research.prior showed case:A   -> match-worked (Sam)
    C  Mon W11  escalated  5.7.1, nothing shown by research             -> solved-later by D (Ana)
    D  Wed W11  resolved   5.7.1, KB_RELAY marked as the fix (a sample article, there before C) (Ana)
    E  Mon W12  escalated  no error, clean DNS, an "article" typed as HTML -> not avoidable (Ana)
    F  Tue W12  open       (technician: HOSTILE, as a config could hold it)
    """
    ids: dict[str, str] = {}

    def add(key: str, day: int, answers: dict[str, Any], actions: dict[str, Any], technician: str) -> None:
        clock = TickingClock(start=T0 + timedelta(days=day), step=timedelta(minutes=3))
        ids[key] = make_session(store, answers, actions=actions, clock=clock, technician=technician)

    add("A", 0, _answers(domain="contoso.com", name="Contoso Ltd", decision="resolved",
                         errors="Task reported error (0x800CCC0E)", tried=["kb-0001"], articles=["kb-0002"],
                         resolution="Added the autodiscover CNAME as kb-0002 says."),
        {"review.dns": AUTODISCOVER, "research.prior": {"matches": []}}, "Sam Okafor")
    add("B", 2, _answers(domain="contoso.co.uk", name="Contoso UK", decision="escalate",
                         errors="Outlook error 0x800ccc0e", tried=["kb-0001"], articles=[]),
        {"review.dns": AUTODISCOVER, "research.prior": {"matches": [
            {"id": f"case:{ids['A']}", "title": "Contoso: autodiscover", "source": "case", "score": 0.9}]}},
        "Sam Okafor")
    add("C", 7, _answers(domain="northwind.example", name="Northwind", decision="escalate",
                         errors="550 5.7.1 Unable to relay", tried=[], articles=[]),
        {"review.dns": CLEAN_DNS, "research.prior": {"matches": []}}, "Ana Lima")
    add("D", 9, _answers(domain="tailspin.example", name="Tailspin", decision="resolved",
                         errors="Remote server returned 550 5.7.1 relay denied", tried=[],
                         articles=[f"{KB_RELAY} solved"],
                         resolution="Turned on SMTP authentication in the client, as the relay article says."),
        {"review.dns": CLEAN_DNS, "research.prior": {"matches": []}}, "Ana Lima")
    add("E", 14, _answers(domain="fabrikam.com", name=HOSTILE, decision="escalate", errors="", tried=[],
                          articles=[HOSTILE]),
        {"review.dns": CLEAN_DNS, "research.prior": {"matches": []}}, "Ana Lima")
    open_answers = {k: v for k, v in _answers(domain="adatum.example", name="Adatum", decision="escalate",
                                              errors="", tried=[], articles=[]).items() if k != "outcome"}
    add("F", 15, open_answers, {"review.dns": CLEAN_DNS, "research.prior": {"matches": []}}, HOSTILE)
    return ids
