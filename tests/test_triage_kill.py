"""A triage that dies hard loses nothing: `kill -9`, or the terminal closed under it (SIGHUP).

Three steps are typed in a real pseudo-terminal, the process is killed, and then the database is
read by a fresh process and `threer triage --resume ID` must continue at step 4.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pexpect
import pytest

from support_pty import (
    CTRL_C,
    DOWN,
    ENTER,
    answer,
    answer_multiline,
    choose,
    prompt_pattern,
    pty_env,
    session_json,
    spawn_threer,
    wait_exit,
    wait_prompt,
)
from threer.store import Store

pytestmark = pytest.mark.slow

TRIAGE = ["triage", "--dns-only", "--dns-timeout", "1", "--profile", "none"]
STARTED = re.compile(r"Triage (\d{8}-[0-9A-Z]{4})(?:\x1b\[[0-9;]*m)* started")
INTAKE = {
    "intake.customer": {"name": "Fabrikam", "domain": "fabrikam.example", "domain_note": None},
    "intake.issue": {"description": "Mail to external recipients bounces", "affected_users": "all users",
                     "started": "this morning"},
    "intake.errors": {"messages": "550 5.7.1 Unable to relay", "no_error_shown": False},
}


@pytest.fixture
def env(tmp_path: Path, invoke) -> dict[str, str]:
    """Partner details already set, so triage starts at the first step.

    `invoke` runs in this process with conftest's THREER_CONFIG, the same file pty_env gives the child.
    """
    environ = pty_env(tmp_path)
    for key, value in [("partner.domain", "partner.example"), ("partner.control_panel_na", "true"),
                       ("partner.support_address", "escalations@provider.example")]:
        assert invoke("config", "set", key, value).exit_code == 0
    assert Path(environ["THREER_CONFIG"]).is_file()
    return environ


def type_three_steps(env: dict[str, str], log: Path) -> tuple[pexpect.spawn, str]:
    """Start a triage and answer the three Intake steps; return when step 4 is on screen."""
    child = spawn_threer(TRIAGE, env, log=log)
    child.expect(STARTED)
    session_id = child.match.group(1)
    answer(child, "Customer name", "Fabrikam")
    answer(child, "Customer domain", "fabrikam.example")
    answer(child, "The issue, in your words", "Mail to external recipients bounces")
    answer(child, "Affected user(s)", "all users")
    answer(child, "When did it start?", "this morning")
    answer_multiline(child, "Exact error messages, codes or bounce text", "550 5.7.1 Unable to relay")
    wait_prompt(child, "Can you replicate the error?")
    return child, session_id


def assert_three_steps_on_disk(tmp_path: Path, session_id: str, env: dict[str, str]) -> None:
    with Store(tmp_path / "home" / "threer.db") as store:
        recorded = store.answers(session_id)
    answers = {step: data["answer"] for step, (data, _, _) in recorded.items()}
    analysis = answers["intake.errors"].pop("analysis")  # what threer read in the error text, beside it
    assert analysis["codes"] == ["550", "5.7.1"]
    assert answers == INTAKE
    shown = session_json(session_id, env)
    assert shown["recorded"] == 3 and shown["missing"][0] == "replicate.reproduced"


def resume_continues_at_step_4(session_id: str, env: dict[str, str], log: Path) -> pexpect.spawn:
    child = spawn_threer([*TRIAGE, "--resume", session_id], env, log=log)
    child.expect_exact("Resuming")
    child.expect_exact("step 4 of 14")
    return child


def test_kill_9_after_three_answers_loses_none_and_resume_continues_at_step_4(tmp_path: Path,
                                                                                 env: dict[str, str]) -> None:
    log = tmp_path / "terminal.log"
    child, session_id = type_three_steps(env, log)
    child.kill(signal.SIGKILL)
    child.expect(pexpect.EOF)
    child.close()
    assert child.signalstatus == signal.SIGKILL

    assert_three_steps_on_disk(tmp_path, session_id, env)
    child = resume_continues_at_step_4(session_id, env, log)
    choose(child, "Can you replicate the error?", 0)
    answer(child, "How did you try?", "sent a test message to gmail.com")
    child.expect_exact("Saved Reproduced (4/14 recorded)")
    child.send(CTRL_C)
    assert wait_exit(child) == 130
    assert session_json(session_id, env)["recorded"] == 4


def test_kill_9_in_the_middle_of_a_step_keeps_the_fields_already_typed(tmp_path: Path,
                                                                        env: dict[str, str]) -> None:
    log = tmp_path / "terminal.log"
    child, session_id = type_three_steps(env, log)
    child.send(DOWN * 2 + ENTER)  # step 4 is on screen: intermittent; then killed at "How did you try?"
    wait_prompt(child, "How did you try?")
    child.kill(signal.SIGKILL)
    wait_exit(child)

    child = resume_continues_at_step_4(session_id, env, log)
    wait_prompt(child, "Can you replicate the error?")
    child.send(ENTER)  # the choice made before the kill is the default
    answer(child, "How did you try?", "sent three test messages, one bounced")
    child.expect_exact("Saved Reproduced (4/14 recorded)")
    child.send(CTRL_C)
    assert wait_exit(child) == 130
    reproduced = session_json(session_id, env)["steps"]["replicate.reproduced"]["answer"]
    assert reproduced == {"reproduced": "intermittent", "how": "sent three test messages, one bounced"}


@pytest.mark.parametrize("hang_up", ["close", "sighup"])
def test_closing_the_terminal_loses_nothing(tmp_path: Path, env: dict[str, str], hang_up: str) -> None:
    log = tmp_path / "terminal.log"
    child, session_id = type_three_steps(env, log)
    if hang_up == "close":
        child.close(force=True)  # the terminal window goes away: the pty closes under the process
    else:
        child.kill(signal.SIGHUP)
        wait_exit(child)
    assert not child.isalive()

    assert_three_steps_on_disk(tmp_path, session_id, env)
    child = resume_continues_at_step_4(session_id, env, log)
    child.expect(prompt_pattern("Can you replicate the error?"))
    child.send(CTRL_C)
    assert wait_exit(child) == 130


@pytest.mark.parametrize("how", ["ctrl-c", "sighup"])
def test_the_field_being_typed_is_kept_as_a_draft(tmp_path: Path, env: dict[str, str], how: str) -> None:
    log = tmp_path / "terminal.log"
    child, session_id = type_three_steps(env, log)
    child.send(ENTER)  # reproduced: yes
    wait_prompt(child, "How did you try?")
    child.send("sent a test to a gmail addr")  # typed, not submitted
    child.expect_exact("gmail addr")
    if how == "ctrl-c":
        child.send(CTRL_C)
        child.expect(r"Paused(?:\x1b\[[0-9;]*m)* with 3 of 14 steps recorded")
        kept = 'Kept: every recorded answer, and the 27 characters typed in "How did you try?" and the 1 earlier field of Reproduced as a draft'
        child.expect(r"\s+".join(re.escape(word) for word in kept.split()))
        assert wait_exit(child) == 130
    else:
        child.kill(signal.SIGHUP)
        wait_exit(child)
    with Store(tmp_path / "home" / "threer.db") as store:
        assert store.drafts(session_id)["replicate.reproduced"] == {"reproduced": "yes",
                                                                     "how": "sent a test to a gmail addr"}
    child = resume_continues_at_step_4(session_id, env, log)
    wait_prompt(child, "Can you replicate the error?")
    child.send(ENTER)
    wait_prompt(child, "How did you try?")
    child.expect_exact("sent a test to a gmail addr")  # prefilled: finish it
    child.send("ess" + ENTER)
    child.expect_exact("Saved Reproduced (4/14 recorded)")
    child.send(CTRL_C)
    child.expect_exact("the step in progress starts again")
    assert wait_exit(child) == 130
    assert session_json(session_id, env)["steps"]["replicate.reproduced"]["answer"]["how"] == "sent a test to a gmail address"


def test_closing_the_terminal_at_the_change_menu_keeps_no_command_as_text(tmp_path: Path, env: dict[str, str]) -> None:
    # `:back` typed in a field opens the change menu; the terminal closes there: `:back` is a command, and
    # must not come back as the field's text on --resume (review 4 #3)
    log = tmp_path / "terminal.log"
    child, session_id = type_three_steps(env, log)
    child.send(ENTER)  # reproduced: yes
    wait_prompt(child, "How did you try?")
    child.send(":back" + ENTER)
    wait_prompt(child, "Which answer do you want to change?")
    child.kill(signal.SIGHUP)
    wait_exit(child)
    with Store(tmp_path / "home" / "threer.db") as store:
        drafts = store.drafts(session_id)
    assert ":back" not in repr(drafts)
    assert drafts.get("replicate.reproduced", {}).get("reproduced") in (None, "yes")
