"""A colleague saves the step being typed, in a real pseudo-terminal: both answers shown, one chosen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support_pty import CTRL_C, DOWN, ENTER, answer, pty_env, screen_text, session_json, spawn_threer, wait_exit, \
    wait_prompt

from threer.store import Store

pytestmark = pytest.mark.slow

STARTED = re.compile(r"Triage (\d{8}-[0-9A-Z]{4})(?:\x1b\[[0-9;]*m)* started")
THEIRS = {"status": "answered", "answer": {"name": "Contoso (from Bob)", "domain": "contoso.example"}}


def _colleague_saves(tmp_path: Path, session_id: str) -> None:
    """Bob, on another machine, records the customer on the same session (one SQLite file here)."""
    from datetime import datetime, timezone

    with Store(tmp_path / "home" / "threer.db") as store:
        store.record_answer(session_id, "intake.customer", THEIRS, datetime.now(timezone.utc), expected_revision=0,
                            header={"customer_name": "Contoso (from Bob)", "customer_domain": "contoso.example"},
                            technician="Bob", host="laptop-7")


@pytest.mark.parametrize(("choice", "kept"), [(0, "Contoso (from Bob)"), (1, "Contoso Ltd")])
def test_a_colleagues_answer_saved_meanwhile_is_shown_beside_ours_and_one_is_kept(tmp_path: Path, choice: int,
                                                                                   kept: str) -> None:
    env = pty_env(tmp_path)
    log = tmp_path / "terminal.log"
    child = spawn_threer(["triage", "--dns-only", "--profile", "none"], env, log=log)
    child.expect_exact("First, your partner details")
    answer(child, "Your partner domain", "partner.example")
    answer(child, "Your Control Panel URL", "https://cp.partner.example/")
    answer(child, "support address for escalations", "escalations@provider.example")
    answer(child, "Your name (optional)", "Sam")
    child.expect(STARTED)
    session_id = child.match.group(1)
    wait_prompt(child, "Customer name")
    _colleague_saves(tmp_path, session_id)  # while the form is on screen
    child.send("Contoso Ltd" + ENTER)
    answer(child, "Customer domain", "contoso.example")
    wait_prompt(child, "Which answer should the session keep?")
    shown = " ".join(screen_text(child.before).split())
    assert "Bob (on laptop-7) saved an answer to Customer at" in shown
    assert "Theirs: name: Contoso (from Bob); domain: contoso.example" in shown
    assert "Yours: name: Contoso Ltd; domain: contoso.example" in shown
    child.send(DOWN * choice + ENTER)
    wait_prompt(child, "The issue, in your words")  # the triage goes on
    child.send(CTRL_C)
    assert wait_exit(child) == 130

    saved = session_json(session_id, env)
    step = saved["steps"]["intake.customer"]
    assert step["answer"]["name"] == kept and saved["customer_name"] == kept
    history = [(h["data"]["answer"]["name"], h["recorded_by"], h["superseded"]) for h in saved["history"]]
    if choice == 0:  # keep theirs: ours is in the history, marked as not saved
        assert (step["revision"], step["recorded_by"]) == (1, "Bob")
        assert history == [("Contoso Ltd", "Sam", True)]
        assert "Kept Bob (on laptop-7)'s answer; yours is in the session's history" in " ".join(
            screen_text(log.read_text(encoding="utf-8")).split())
    else:  # keep mine: a new revision over theirs; the history keeps both
        assert (step["revision"], step["recorded_by"]) == (2, "Sam")
        assert sorted(history) == sorted([("Contoso (from Bob)", "Bob", False), ("Contoso Ltd", "Sam", True)])
