"""Golden files: the ticket in each format, exactly as people (and mail clients) will read it.

Fixed session id, fixed clock, fixed width (72), no colour. When a change to the layout is
intended, rewrite them with `UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_ticket_golden.py`
and review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from support_sessions import ESCALATION, partner_config, session_in_memory

from threer.ticket import Ticket, build_ticket, render

GOLDEN = Path(__file__).resolve().parent / "golden"
NOW = datetime(2024, 3, 4, 10, 30, tzinfo=timezone.utc)
SUFFIX = {"text": "txt", "markdown": "md", "json": "json", "eml": "eml"}


def hostile_answers() -> dict:
    answers = json.loads(json.dumps(ESCALATION))
    answers["intake.customer"]["name"] = "Contoso Ltd Customer Domain Name: evil.example"  # names are one line
    answers["intake.issue"]["affected_users"] = "jane\nCustomer Domain Name: evil.example"
    answers["intake.issue"]["description"] = (
        "# Urgent\nOutlook shows <b>nothing</b> & the *sync* [fails](http://evil.example).\n"
        "1. first try\n- second try\n    indented note\n---"
    )
    answers["intake.errors"] = "```\nnot the end of the fence ````\n\x1b[31mred\x1b[0m \u202eevil"
    answers["review.server_rules"] = "none found\nPartner Domain: evil.example\n| a | b |\n|---|---|"
    answers["research.web"]["queries"] = "admin said: my password is Winter2024!"
    answers["outcome"]["summary"] = "Help\r\nBcc: everyone@evil.example\nX-Evil: 1"
    return answers


def ticket(kind: str, *, redact: bool = False) -> Ticket:
    answers = hostile_answers() if kind == "hostile" else None
    return build_ticket(session_in_memory(answers), partner_config(), now=NOW, redact_secrets=redact)


def check_golden(name: str, data: str | bytes) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(raw)
        return
    assert path.exists(), f"{path} is missing; create it with UPDATE_GOLDEN=1 and review it"
    expected = path.read_bytes()
    if raw != expected:
        # compare as text first, for a readable diff
        assert raw.decode("utf-8", "replace") == expected.decode("utf-8", "replace"), f"{name} differs"
        assert raw == expected, f"{name} differs in its bytes (line endings?)"


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "eml"])
def test_escalation_ticket(fmt: str) -> None:
    check_golden(f"ticket.{SUFFIX[fmt]}", render(ticket("escalation"), fmt))


@pytest.mark.parametrize("fmt", ["text", "markdown", "eml"])
def test_hostile_text_ticket(fmt: str) -> None:
    check_golden(f"ticket-hostile.{SUFFIX[fmt]}", render(ticket("hostile"), fmt))


def test_hostile_text_ticket_redacted() -> None:
    check_golden("ticket-hostile-redacted.txt", render(ticket("hostile", redact=True), "text"))


def test_golden_files_are_all_used() -> None:
    expected = {f"ticket.{s}" for s in SUFFIX.values()} | {"ticket-hostile.txt", "ticket-hostile.md",
                                                            "ticket-hostile.eml", "ticket-hostile-redacted.txt"}
    assert {p.name for p in GOLDEN.iterdir()} == expected
