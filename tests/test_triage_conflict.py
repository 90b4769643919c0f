"""Two technicians on one session: a colleague's answer saved while ours was typed is a choice, not a loss.

Each test opens two stores on one session (two connections to one SQLite file, or two to one
PostgreSQL database), one engine on each; the colleague's engine saves while ours is asking.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from support_prompter import COMPLETE_ANSWERS, FakeActions, StrictPrompter

from threer.store_api import AnswerConflict
from threer.triage.conflict import Conflict, Settle
from threer.triage.engine import TriageEngine
from threer.triage.flow import GoBack, run_flow

START = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=30)
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request, threer_env):
    """Two stores on one database, as two technicians' machines would have."""
    from threer.store import Store

    if request.param == "sqlite":
        stores = [Store(threer_env.db_path), Store(threer_env.db_path)]
    else:
        from threer.store_pg import PostgresStore

        url = request.getfixturevalue("pg_url")
        stores = [PostgresStore(url, local_home=threer_env.home / "a"), PostgresStore(url, local_home=threer_env.home / "b")]
    yield stores
    for store in stores:
        store.close()


def _engines(two_stores):
    clock = Clock()
    ours = TriageEngine.new(two_stores[0], clock=clock, actions=FakeActions(), technician="alice", host="desk-1")
    theirs = TriageEngine(two_stores[1], ours.session_id, clock=clock, actions=FakeActions(), technician="bob",
                          host="laptop-7")
    return ours, theirs


ISSUE_THEIRS = {"description": "bob's words: Outlook prompts for a password", "affected_users": "jane",
                "started": "Monday"}
ISSUE_MINE = {"description": "alice's words: password prompt loop in Outlook", "affected_users": "jane",
              "started": "this morning"}


class ColleagueSaves(StrictPrompter):
    """Our prompter: while intake.issue is on screen, the colleague saves theirs; then we settle with `choices`."""

    def __init__(self, script, colleague: TriageEngine, choices: list[Settle]) -> None:
        super().__init__(script)
        self.colleague = colleague
        self.choices = list(choices)
        self.conflicts: list[Conflict] = []

    def ask(self, step, ctx):
        if step.id == "intake.issue" and not self.conflicts and self.colleague is not None:
            self.colleague.record("intake.issue", self.colleague.parse("intake.issue", ISSUE_THEIRS))
            self.colleague = None
        return super().ask(step, ctx)

    def settle_conflict(self, step, conflict):
        self.conflicts.append(conflict)
        return self.choices.pop(0)


def _rest():
    return {k: v for k, v in COMPLETE_ANSWERS.items() if k != "intake.issue"}


def test_keep_theirs_leaves_their_answer_and_ours_in_the_history(two_stores):
    ours, theirs = _engines(two_stores)
    prompter = ColleagueSaves([("intake.issue", ISSUE_MINE)], theirs, [Settle.THEIRS])
    session = run_flow(ours, prompter, _rest())
    prompter.assert_done()
    (conflict,) = prompter.conflicts
    assert (conflict.by, conflict.host, conflict.revision) == ("bob", "laptop-7", 1)
    assert conflict.theirs.answer["description"] == ISSUE_THEIRS["description"]
    assert conflict.mine_record.answer["description"] == ISSUE_MINE["description"]
    assert session.answer("intake.issue").description == ISSUE_THEIRS["description"]
    assert session.steps["intake.issue"].recorded_by == "bob" and session.complete
    history = two_stores[1].answer_history(session.id)
    assert [(h["data"]["answer"]["description"], h["recorded_by"], h["superseded"]) for h in history
            if h["step_id"] == "intake.issue"] == [(ISSUE_MINE["description"], "alice", True)]
    assert "intake.issue" not in prompter.recorded_steps  # nothing of ours was saved as the answer


def test_keep_mine_saves_ours_over_theirs_and_the_history_keeps_both(two_stores):
    ours, theirs = _engines(two_stores)
    prompter = ColleagueSaves([("intake.issue", ISSUE_MINE)], theirs, [Settle.MINE])
    session = run_flow(ours, prompter, _rest())
    rec = session.steps["intake.issue"]
    assert (rec.answer["description"], rec.revision, rec.recorded_by, rec.recorded_host) == (
        ISSUE_MINE["description"], 2, "alice", "desk-1")
    kept = [(h["data"]["answer"]["description"], h["revision"], h["recorded_by"], h["superseded"])
            for h in two_stores[1].answer_history(session.id) if h["step_id"] == "intake.issue"]
    assert sorted(kept) == sorted([(ISSUE_THEIRS["description"], 1, "bob", False),
                                   (ISSUE_MINE["description"], 1, "alice", True)])
    assert "intake.issue" in prompter.recorded_steps


def test_edit_asks_again_from_ours_with_theirs_shown_and_saves_the_edit_over_theirs(two_stores):
    ours, theirs = _engines(two_stores)
    edited = {**ISSUE_MINE, "description": "both: password prompt loop since Monday"}
    prompter = ColleagueSaves([("intake.issue", ISSUE_MINE), ("intake.issue", edited)], theirs, [Settle.EDIT])
    session = run_flow(ours, prompter, _rest())
    prompter.assert_done()
    again = prompter.asked[1]
    assert again.previous.answer["description"] == ISSUE_THEIRS["description"]  # "recorded now": theirs
    assert again.defaults["description"] == ISSUE_MINE["description"]  # the form starts from ours
    rec = session.steps["intake.issue"]
    assert rec.answer["description"] == edited["description"] and rec.revision == 2 and rec.recorded_by == "alice"


def test_going_back_from_the_edit_keeps_theirs(two_stores):
    ours, theirs = _engines(two_stores)
    prompter = ColleagueSaves([("intake.issue", ISSUE_MINE), ("intake.issue", GoBack("intake.customer")),
                               ("intake.customer", {"name": "Contoso", "domain": "contoso.com"})], theirs, [Settle.EDIT])
    session = run_flow(ours, prompter, _rest())
    prompter.assert_done()
    assert session.answer("intake.issue").description == ISSUE_THEIRS["description"]
    assert session.answer("intake.customer").name == "Contoso"


def test_a_prompter_that_cannot_ask_lets_the_refusal_stand_with_the_plain_message(two_stores):
    ours, theirs = _engines(two_stores)

    class Script(StrictPrompter):  # as answers files and scripts run: no settle_conflict
        def ask(self, step, ctx):
            theirs.record("intake.issue", theirs.parse("intake.issue", ISSUE_THEIRS))
            return super().ask(step, ctx)

    with pytest.raises(AnswerConflict) as refused:
        run_flow(ours, Script([("intake.issue", ISSUE_MINE)]), {"intake.customer": COMPLETE_ANSWERS["intake.customer"]})
    message = refused.value.message
    assert message.startswith("bob (on laptop-7) changed the answer to intake.issue at 2026-11-26T12:")
    assert "--change intake.issue" in message


def test_a_second_colleague_save_during_the_edit_is_settled_again(two_stores):
    ours, theirs = _engines(two_stores)
    third = {**ISSUE_THEIRS, "description": "bob again: it is every user"}

    class Twice(ColleagueSaves):
        def ask(self, step, ctx):
            if step.id == "intake.issue" and len(self.conflicts) == 1:
                theirs.record("intake.issue", theirs.parse("intake.issue", third))
            return super().ask(step, ctx)

    prompter = Twice([("intake.issue", ISSUE_MINE), ("intake.issue", ISSUE_MINE)], theirs, [Settle.EDIT, Settle.MINE])
    session = run_flow(ours, prompter, _rest())
    assert [c.revision for c in prompter.conflicts] == [1, 2]
    assert prompter.conflicts[1].theirs.answer["description"] == third["description"]
    rec = session.steps["intake.issue"]
    assert rec.answer["description"] == ISSUE_MINE["description"] and rec.revision == 3


def test_the_resume_view_names_only_answers_someone_else_saved(two_stores):
    import io

    from rich.console import Console

    from threer.cli.render import session_detail

    ours, theirs = _engines(two_stores)
    ours.record("intake.customer", ours.parse("intake.customer", COMPLETE_ANSWERS["intake.customer"]))
    theirs.record("intake.issue", theirs.parse("intake.issue", ISSUE_THEIRS))
    session = ours.session()
    for me, expect_alice in ((("alice", "desk-1"), False), (None, True)):
        console = Console(file=io.StringIO(), width=100, no_color=True)
        session_detail(console, session, me=me)
        text = " ".join(console.file.getvalue().split())
        assert "saved by bob on laptop-7" in text
        assert ("saved by alice on desk-1" in text) is expect_alice


def test_the_same_answer_saved_by_a_colleague_first_needs_no_choice(two_stores):
    ours, theirs = _engines(two_stores)

    class Script(StrictPrompter):  # no settle_conflict: a different answer would stop the run
        def ask(self, step, ctx):
            theirs.record("intake.issue", theirs.parse("intake.issue", ISSUE_MINE))
            return super().ask(step, ctx)

    prompter = Script([("intake.issue", ISSUE_MINE)])
    session = run_flow(ours, prompter, _rest())
    rec = session.steps["intake.issue"]
    assert rec.answer["description"] == ISSUE_MINE["description"] and rec.recorded_by == "bob" and session.complete
    assert "intake.issue" in prompter.recorded_steps
