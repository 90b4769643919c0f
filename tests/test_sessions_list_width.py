"""`threer sessions list` (and `--escalated`) on a narrow terminal: session ids and customer domains stay
whole; other columns wrap, or the least useful are left out (review item 16)."""

from __future__ import annotations

import copy

import pytest
from support_sessions import ESCALATION, make_session, write_partner_config

from threer.env import Environment
from threer.store import Store

DOMAINS = ("bakery-lund.sweden-example.org", "konditori-malmo-centrum.example")


@pytest.fixture
def ids(threer_env: Environment) -> list[str]:
    write_partner_config(threer_env.config_path)
    made = []
    with Store(threer_env.db_path) as store:
        for domain, name in zip(DOMAINS, ("Bageriet i Lund Aktiebolag", "Konditori Malmö Centrum")):
            answers = copy.deepcopy(ESCALATION)
            answers["intake.customer"] = {"name": name, "domain": domain}
            made.append(make_session(store, answers))
    return made


def _lines(result) -> list[str]:
    assert result.exit_code == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize("args", [(), ("--escalated",)])
@pytest.mark.parametrize("columns", ["80", "60"])
def test_ids_and_domains_stay_whole(invoke, ids: list[str], args: tuple[str, ...], columns: str) -> None:
    lines = _lines(invoke("sessions", "list", *args, env={"COLUMNS": columns}))
    assert all(len(line) <= int(columns) for line in lines), lines
    out = "\n".join(lines)
    assert "…" not in out
    for session_id, domain in zip(ids, DOMAINS):
        row = next(line for line in lines if session_id in line)  # the id whole, on the row's first line
        assert domain in row, lines  # and the domain whole beside it


def test_at_80_columns_the_customer_wraps_and_progress_and_time_go_first(invoke, ids: list[str]) -> None:
    lines = _lines(invoke("sessions", "list", env={"COLUMNS": "80"}))
    assert lines[0].split() == ["id", "customer", "domain", "status"]  # recorded, updated, technician left out
    assert _lines(invoke("sessions", "list", env={"COLUMNS": "130"}))[0].split() == [
        "id", "updated", "customer", "domain", "status", "recorded", "technician"]
    out = "\n".join(lines)
    assert "Bageriet" in out and "Aktiebolag" in out  # the customer's name wraps, not cut
    escalated = _lines(invoke("sessions", "list", "--escalated", env={"COLUMNS": "80"}))
    header = next(line for line in escalated if line.startswith("id "))  # headers wrap, bottom-aligned
    assert header.split()[:2] == ["id", "domain"] and "overdue" in header
    assert "not sent" in "\n".join(escalated) and "OVERDUE" in "\n".join(escalated)


def test_narrower_the_less_important_columns_go_first(invoke, ids: list[str]) -> None:
    head = _lines(invoke("sessions", "list", env={"COLUMNS": "60"}))[0].split()
    assert head == ["id", "domain", "status"]
