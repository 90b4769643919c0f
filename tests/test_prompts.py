"""The questionary prompter, driven through prompt_toolkit pipe input against a real Store.

Each test types keys into a pipe (as a technician would on a terminal) and runs the real flow
(`run_flow`) and engine; what the prompts draw goes to a DummyOutput, or to a recording terminal
where a test reads the screen. The step actions are a small test double of threer's own `Actions`.
"""

from __future__ import annotations

import io
import json
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from prompt_toolkit.output.vt100 import Vt100_Output
from rich.console import Console

from support_pty import ANSI
from threer.triage import answers as a
from threer.cli.prompts import QuestionaryPrompter
from threer.domain import normalise_domain
from threer.store import Store
from threer.triage.engine import ActionResult, TriageEngine
from threer.triage.flow import run_flow
from threer.triage.steps import STEP_IDS

DOWN = "\x1b[B"
UP = "\x1b[A"
ENTER = "\r"
SPACE = " "
ESC_ENTER = "\x1b\r"  # finishes a multiline field
CLEAR_LINE = "\x15"  # Ctrl-U: clears a pre-filled default before typing a new value
CTRL_C = "\x03"

NOW = datetime(2026, 11, 26, 10, 30, tzinfo=timezone.utc)

MATCHES = [
    {"id": "kb-0001", "title": "Outlook keeps asking for a password", "source": "kb", "score": 4.2},
    {"id": "20261101-AB3C", "title": "Password prompt loop after a mailbox move", "source": "case", "score": 2.7},
]


class FakeActions:
    """Stands in for threer's DNS checks, OWA probe and search: fixed results, and a log of calls."""

    def __init__(self, matches: list[dict[str, Any]] | None = None) -> None:
        self.matches = MATCHES if matches is None else matches
        self.calls: list[tuple[str, str]] = []

    def dns(self, domain: str, evidence: dict | None = None) -> ActionResult:
        self.calls.append(("dns", domain))
        problems = [{"id": "dmarc.missing", "severity": "warn", "message": "No DMARC record.",
                     "fix": "Add TXT _dmarc with v=DMARC1; p=none"}]
        return ActionResult(
            fields={"checked": True, "domain": domain, "profile": None,
                    "summary": {"ok": 3, "info": 0, "warn": 1, "fail": 0, "error": 0},
                    "problems": problems, "checked_at": NOW.isoformat()},
            summary=f"DNS checks for {domain}: 3 ok, 1 warn.",
        )

    def owa(self, domain: str) -> ActionResult:
        self.calls.append(("owa", domain))
        return ActionResult(fields={"probe": []}, summary="No OWA address in the provider profile; not probed.")

    def prior(self, queries: list[str | list[str]]) -> ActionResult:
        self.calls.append(("prior", " | ".join(q if isinstance(q, str) else " | ".join(q) for q in queries)))
        return ActionResult(fields={"matches": list(self.matches)},
                            summary=f"{len(self.matches)} matches in past cases and the knowledge base.")


# Keys for each step, typed in the order the form asks its fields.
KEYS: dict[str, str] = {
    "intake.customer": "Contoso Ltd" + ENTER + "Jane@Contoso.example" + ENTER,
    "intake.issue": "Outlook keeps asking for a password" + ENTER + "jane@contoso.example" + ENTER + "Monday 9am" + ENTER,
    "intake.errors": "0x800CCC0E\nThe connection to the server was interrupted." + ESC_ENTER,
    "replicate.reproduced": DOWN * 2 + ENTER + "signed in on a test PC" + ENTER,  # intermittent
    "replicate.environment": DOWN * 2 + ENTER + "14.5" + ENTER + DOWN + ENTER + "16.86" + ENTER,  # macOS, Outlook for Mac
    "replicate.services": SPACE + DOWN + SPACE + ENTER + "Journaling" + ENTER + ENTER,
    "review.dns": "DMARC missing, told the customer" + ENTER,
    "review.owa": ENTER + ENTER + DOWN + ENTER + ENTER,  # yes, yes, no, no note
    "review.server_rules": "no rules" + ENTER,
    "review.client_rules": "one rule moving mail to Archive" + ENTER,
    "research.prior": SPACE + ENTER + ENTER + "kb-0001: recreated the profile, no change" + ENTER,
    # the article research.prior found (kb-0001) offered first: none ticked, none fixed it; two more typed
    "research.kb": ENTER + ENTER + "kb-0014, kb-0002" + ENTER + "did not help" + ENTER,
    "research.web": "outlook mac password loop" + ENTER + "https://forum.example/t/1" + ENTER + "nothing new" + ENTER,
    "outcome": DOWN + ENTER + "y" + "Outlook for Mac asks for the password again and again" + ENTER,
}

ANSWERS_FILE = {  # the same session as an answers file, to feed the steps a test does not type
    "intake.customer": {"name": "Contoso Ltd", "domain": "contoso.example"},
    "intake.issue": {"description": "Outlook keeps asking for a password", "affected_users": "jane", "started": "Monday"},
    "intake.errors": "no error shown",
    "replicate.reproduced": {"reproduced": "yes", "how": "test PC"},
    "replicate.environment": {"os": "Windows 11", "os_version": "23H2", "client": "Outlook (Windows)",
                              "client_version": "2408"},
    "replicate.services": "Exchange mailbox",
    "review.dns": "ok",
    "review.owa": {"login": "yes", "send": "yes", "receive": "yes"},
    "review.server_rules": "none",
    "review.client_rules": "none",
    "research.prior": "nothing similar",
    "research.kb": {"outcome": "nothing"},
    "research.web": {"queries": "q", "outcome": "nothing"},
    "outcome": {"decision": "escalate"},
}


def answers_except(*step_ids: str) -> dict[str, Any]:
    return {k: v for k, v in ANSWERS_FILE.items() if k not in step_ids}


class Terminal:
    """The prompter on a pipe of keys, with what rich printed (and optionally what the prompts drew).

    Each run gets a fresh pipe whose write end is closed once the keys are in: when a test's keys run
    out, the next prompt ends with EOFError instead of waiting for ever.
    """

    def __init__(self, tmp_path: Path, pipes: ExitStack, *, screen: bool = False,
                 actions: FakeActions | None = None) -> None:
        self.store = pipes.enter_context(Store(tmp_path / "threer.db"))
        self.actions = actions or FakeActions()
        self.engine = TriageEngine.new(self.store, clock=lambda: NOW, actions=self.actions)
        self.printed = io.StringIO()
        self.drawn = io.StringIO()
        self.output = (Vt100_Output(self.drawn, lambda: Size(rows=40, columns=120), term="xterm") if screen
                       else DummyOutput())
        self.console = Console(file=self.printed, width=120, no_color=True, highlight=False, force_terminal=False)
        self.pipes = pipes

    def prompter(self, keys: str) -> QuestionaryPrompter:
        pipe = self.pipes.enter_context(create_pipe_input())
        pipe.send_text(keys)
        pipe.close()  # the write end only; the prompts read what was sent, then see the end
        return QuestionaryPrompter(self.console, input=pipe, output=self.output)

    def run(self, keys: str, answers: dict[str, Any] | None = None, **kwargs: Any):
        return run_flow(self.engine, self.prompter(keys), answers, **kwargs)

    def text(self) -> str:
        return self.printed.getvalue()

    def screen(self) -> str:
        return ANSI.sub("", self.drawn.getvalue()).replace("\r", "")


@pytest.fixture
def pipes():
    with ExitStack() as stack:
        yield stack


@pytest.fixture
def terminal(tmp_path: Path, pipes: ExitStack) -> Terminal:
    return Terminal(tmp_path, pipes)


def test_a_whole_session_typed_at_the_prompts_is_recorded(terminal: Terminal) -> None:
    session = terminal.run("".join(KEYS[s] for s in STEP_IDS))

    assert session.complete and session.status == "escalated"
    answer = session.answer
    assert answer("intake.customer").model_dump() == {
        "name": "Contoso Ltd", "domain": "contoso.example",
        "domain_note": answer("intake.customer").domain_note}
    assert "e-mail address" in answer("intake.customer").domain_note
    assert answer("intake.issue").started == "Monday 9am"
    assert answer("intake.errors").messages == "0x800CCC0E\nThe connection to the server was interrupted."
    assert answer("replicate.reproduced").reproduced == "intermittent"
    env = answer("replicate.environment")
    assert (env.os, env.os_version, env.client, env.client_version) == ("macOS", "14.5", "Outlook for Mac", "16.86")
    assert answer("replicate.services").enabled == ["Exchange mailbox", "Outlook Web Access", "Journaling"]
    dns = answer("review.dns")
    assert dns.checked and dns.note == "DMARC missing, told the customer" and dns.problems[0]["id"] == "dmarc.missing"
    owa = answer("review.owa")
    assert (owa.login, owa.send, owa.receive, owa.note) == ("yes", "yes", "no", "")
    assert answer("review.client_rules").found == "one rule moving mail to Archive"
    prior = answer("research.prior")
    assert prior.tried == ["kb-0001"] and [m["id"] for m in prior.matches] == ["kb-0001", "20261101-AB3C"]
    assert answer("research.kb").articles == ["kb-0014", "kb-0002"]
    assert answer("research.web").links == ["https://forum.example/t/1"]
    outcome = answer("outcome")
    assert (outcome.decision, outcome.engineering) == ("escalate", True)
    assert outcome.summary == "Outlook for Mac asks for the password again and again"
    # the actions ran once each, with the customer's domain and the issue and error text
    assert terminal.actions.calls[:2] == [("dns", "contoso.example"), ("owa", "contoso.example")]
    assert terminal.actions.calls[2][0] == "prior" and "0x800CCC0E" in terminal.actions.calls[2][1]
    # progress and what threer found are shown
    text = terminal.text()
    assert "Saved Customer (1/14 recorded)" in text and "(14/14 recorded)" in text
    assert "DNS checks for contoso.example: 3 ok, 1 warn." in text and "dmarc.missing" in text
    assert "Password prompt loop after a mailbox move" in text


def test_each_answer_is_in_the_database_as_soon_as_it_is_given(terminal: Terminal, tmp_path: Path) -> None:
    # three steps typed, then Ctrl-C at the fourth: the three are on disk, read by a fresh connection
    keys = KEYS["intake.customer"] + KEYS["intake.issue"] + KEYS["intake.errors"] + CTRL_C
    with pytest.raises(KeyboardInterrupt):
        terminal.run(keys)
    with Store(tmp_path / "threer.db") as fresh:
        recorded = fresh.answers(terminal.engine.session_id)
    assert sorted(recorded) == ["intake.customer", "intake.errors", "intake.issue"]


def test_an_invalid_answer_is_asked_again_with_the_reason(terminal: Terminal) -> None:
    keys = ("Contoso Ltd" + ENTER + "not a domain!" + ENTER  # refused
            + ENTER  # what was typed is the default: keep the name
            + CLEAR_LINE + "contoso.example" + ENTER)
    session = terminal.run(keys, answers_except("intake.customer"))

    assert session.answer("intake.customer").model_dump() == {
        "name": "Contoso Ltd", "domain": "contoso.example", "domain_note": None}
    text = terminal.text()
    assert "intake.customer: domain: 'not a domain!' contains spaces" in text and "Please try again." in text
    # the same step is asked again before anything is saved or the next step begins
    assert text.index("Please try again.") < text.index("Saved Customer") < text.index("step 2 of 14")
    assert session.steps["intake.customer"].revision == 1  # nothing was recorded for the refused answer


def test_na_with_a_reason_records_not_applicable(terminal: Terminal) -> None:
    session = terminal.run(":na webmail only, no mail client" + ENTER, answers_except("review.client_rules"))

    rec = session.steps["review.client_rules"]
    assert rec.status == "not_applicable" and rec.reason == "webmail only, no mail client"


def test_na_without_a_reason_asks_for_one(terminal: Terminal) -> None:
    session = terminal.run(":na" + ENTER + "the customer has no Control Panel access" + ENTER,
                           answers_except("review.server_rules"))

    rec = session.steps["review.server_rules"]
    assert rec.status == "not_applicable" and rec.reason == "the customer has no Control Panel access"


def test_not_applicable_from_a_select_menu(terminal: Terminal) -> None:
    # yes, no, intermittent, (separator), Not applicable
    session = terminal.run(DOWN * 3 + ENTER + "the user is away until Monday" + ENTER,
                           answers_except("replicate.reproduced"))

    rec = session.steps["replicate.reproduced"]
    assert rec.status == "not_applicable" and rec.reason == "the user is away until Monday"


def test_na_on_a_step_that_must_be_answered_is_refused_and_asked_again(terminal: Terminal) -> None:
    keys = ":na just testing" + ENTER + "Contoso Ltd" + ENTER + "contoso.example" + ENTER
    session = terminal.run(keys, answers_except("intake.customer"))

    rec = session.steps["intake.customer"]
    assert rec.status == "answered" and rec.answer["name"] == "Contoso Ltd"
    assert "cannot be marked not applicable" in terminal.text()


def test_back_changes_an_earlier_answer_then_the_flow_continues_where_it_was(terminal: Terminal) -> None:
    keys = (KEYS["intake.customer"] + KEYS["intake.issue"]
            + ":back" + ESC_ENTER  # at the error text (a multiline field)
            + DOWN + ENTER  # the list of steps: the second, Issue
            + CLEAR_LINE + "Outlook for Mac asks for the password" + ENTER  # defaults are the recorded values
            + ENTER + ENTER  # keep affected users and start
            + "no error shown" + ESC_ENTER)  # back at the error text
    session = terminal.run(keys, {k: v for k, v in ANSWERS_FILE.items() if not k.startswith("intake.")})

    issue = session.steps["intake.issue"]
    assert issue.revision == 2
    assert issue.answer == {"description": "Outlook for Mac asks for the password",
                            "affected_users": "jane@contoso.example", "started": "Monday 9am"}
    assert session.answer("intake.errors").messages == "no error shown"
    text = terminal.text()
    assert "Recorded now:" in text and "Outlook keeps asking for a password" in text
    # error text (step 3) was asked, then Issue (step 2) again, then error text again, then step 4
    steps = [line.split(" · ")[1] for line in text.splitlines() if " · step " in line]
    assert steps[:6] == ["step 1 of 14", "step 2 of 14", "step 3 of 14", "step 2 of 14", "step 3 of 14", "step 4 of 14"]


def test_back_from_a_select_menu(terminal: Terminal) -> None:
    keys = (DOWN * 4 + ENTER  # yes, no, intermittent, N/A, « Change an earlier answer
            + ENTER  # the first step, Customer
            + CLEAR_LINE + "Contoso Limited" + ENTER + ENTER
            + ENTER + "test PC" + ENTER)  # back at Reproduced: yes
    session = terminal.run(keys, answers_except("replicate.reproduced"))

    assert session.steps["intake.customer"].revision == 2
    assert session.customer_name == "Contoso Limited" and session.customer_domain == "contoso.example"
    assert session.answer("replicate.reproduced").reproduced == "yes"


def test_other_lets_you_type_the_operating_system(terminal: Terminal) -> None:
    # up from the first choice wraps round: « Change an earlier answer, Not applicable, then Other…
    keys = UP * 3 + ENTER + "FreeBSD" + ENTER + "14.1" + ENTER + ENTER + "2408" + ENTER
    session = terminal.run(keys, answers_except("replicate.environment"))

    env = session.answer("replicate.environment")
    assert (env.os, env.os_version, env.client) == ("FreeBSD", "14.1", "Outlook (Windows)")


def test_the_os_menu_offers_one_other(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes, screen=True)
    terminal.run(ENTER + "23H2" + ENTER + ENTER + "2408" + ENTER, answers_except("replicate.environment"))

    lines = [line.strip() for line in terminal.screen().splitlines()]
    assert "Other…" in lines
    assert "Other" not in lines


def test_the_seen_before_checkbox_lists_what_the_search_found(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes, screen=True)
    keys = DOWN + SPACE + ENTER + ENTER + "the case's fix worked for a while" + ENTER  # tick the second match; none fixed it
    session = terminal.run(keys, answers_except("research.prior"))

    screen = terminal.screen()
    assert "kb-0001 — Outlook keeps asking for a password" in screen
    assert "20261101-AB3C — Password prompt loop after a mailbox move" in screen
    prior = session.answer("research.prior")
    assert prior.tried == ["20261101-AB3C"]
    assert prior.matches == MATCHES  # what was shown is recorded with the answer


def test_with_no_matches_only_the_outcome_is_asked(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes, actions=FakeActions(matches=[]))
    session = terminal.run("nothing similar found" + ENTER, answers_except("research.prior"))

    prior = session.answer("research.prior")
    assert prior.tried == [] and prior.outcome == "nothing similar found"


def test_resolved_asks_for_the_resolution(terminal: Terminal) -> None:
    keys = ENTER + "Removed the stale credential\nfrom the keychain" + ESC_ENTER + ENTER
    session = terminal.run(keys, answers_except("outcome"))

    outcome = session.answer("outcome")
    assert session.status == "resolved"
    assert outcome.resolution == "Removed the stale credential\nfrom the keychain" and not outcome.engineering


def test_changing_a_step_shows_the_recorded_answer_as_the_default(terminal: Terminal) -> None:
    terminal.run("", ANSWERS_FILE)
    keys = ENTER * 3 + "the user found a rule forwarding to junk" + ENTER  # keep the three choices, add a note
    session = run_flow(terminal.engine, terminal.prompter(keys), start_at="review.owa")

    owa = session.steps["review.owa"]
    assert owa.revision == 2
    assert owa.answer["login"] == "yes" and owa.answer["receive"] == "yes"
    assert owa.answer["note"] == "the user found a rule forwarding to junk"


def test_partner_details_are_asked_once(terminal: Terminal) -> None:
    prompter = terminal.prompter("partner.example" + ENTER + ENTER + "escalations@provider.example" + ENTER)
    details = prompter.ask_partner(["partner.domain", "partner.control_panel_url", "partner.support_address"])

    assert details == {"domain": "partner.example", "control_panel_na": True,
                       "support_address": "escalations@provider.example"}


def test_the_domain_note_is_shown_when_the_domain_was_reduced(terminal: Terminal) -> None:
    terminal.run("Contoso Ltd" + ENTER + "https://www.Contoso.example/login" + ENTER, answers_except("intake.customer"))

    note = normalise_domain("https://www.Contoso.example/login").note
    assert note and note in terminal.text()


def test_ctrl_c_at_a_prompt_is_a_keyboard_interrupt_and_keeps_what_was_recorded(terminal: Terminal) -> None:
    with pytest.raises(KeyboardInterrupt):
        terminal.run(KEYS["intake.customer"] + "half an answer" + CTRL_C)
    session = terminal.engine.session()
    assert list(session.steps) == ["intake.customer"]
    assert json.dumps(session.steps["intake.customer"].answer)  # stored as plain JSON


def test_back_from_the_services_step(terminal: Terminal) -> None:
    keys = (SPACE + ENTER  # tick Exchange mailbox
            + ":back" + ENTER  # typed in the next field of the step
            + DOWN * 3 + ENTER  # the recorded steps: Customer, Issue, Error messages, Reproduced
            + ENTER + CLEAR_LINE + "on her laptop" + ENTER  # keep yes, new how
            + ENTER + ENTER + ENTER)  # back at Services: the ticked box is kept, no others, no note
    session = terminal.run(keys, answers_except("replicate.services"))

    assert session.answer("replicate.reproduced").how == "on her laptop"
    assert session.steps["replicate.reproduced"].revision == 2
    assert session.answer("replicate.services").enabled == ["Exchange mailbox"]


def test_toggle_all_ticks_the_services_only(terminal: Terminal) -> None:
    session = terminal.run("a" + ENTER + ENTER + ENTER, answers_except("replicate.services"))
    assert session.answer("replicate.services").enabled == a.SERVICES
    assert session.steps["replicate.services"].status == "answered"


def test_the_change_menu_lists_recorded_steps_only_and_can_be_cancelled(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes, screen=True)
    keys = (KEYS["intake.customer"]
            + ":back" + ENTER  # at the issue: only Customer is recorded
            + UP + ENTER  # up from the first choice wraps to the last: Cancel
            + "Outlook keeps asking for a password" + ENTER + "jane" + ENTER
            + ":back" + ENTER + "\x1b"  # Esc leaves the menu too
            + "today" + ENTER)
    session = terminal.run(keys, {k: v for k, v in ANSWERS_FILE.items() if k not in {"intake.customer", "intake.issue"}})

    screen = terminal.screen()
    assert "Cancel: go on with Issue (Esc)" in screen
    for unrecorded in ("Reproduced", "Outcome", "Knowledge base"):
        assert f"{unrecorded}" not in screen.split("Which answer do you want to change?")[1].split("Cancel")[0]
    assert session.steps["intake.customer"].revision == 1  # nothing was changed
    assert session.answer("intake.issue").started == "today"


def test_a_cancelled_change_menu_leaves_no_trace_in_the_transcript(tmp_path: Path, pipes: ExitStack) -> None:
    """What the terminal finally shows (pyte plays the prompts' drawing back): the `:back` typed and the
    menu left with Esc are gone, the field asked again holds the real answer."""
    import pyte

    terminal = Terminal(tmp_path, pipes, screen=True)
    keys = (KEYS["intake.customer"] + ":back" + ENTER + "\x1b"
            + "Outlook asks" + ENTER + "jane" + ENTER + "today" + ENTER)
    terminal.run(keys, {k: v for k, v in ANSWERS_FILE.items() if k not in {"intake.customer", "intake.issue"}})
    screen = pyte.Screen(120, 40)
    pyte.Stream(screen).feed(terminal.drawn.getvalue())
    shown = [line.rstrip() for line in screen.display if line.strip()]
    assert shown[-3:] == ["? The issue, in your words Outlook asks", "? Affected user(s) jane",
                          "? When did it start? today"]
    assert not any(":back" in line or "Which answer do you want to change?" in line for line in shown)


def test_na_typed_in_a_later_field_of_a_step(terminal: Terminal) -> None:
    keys = SPACE + ENTER + ":na the Control Panel is down" + ENTER
    session = terminal.run(keys, answers_except("replicate.services"))

    rec = session.steps["replicate.services"]
    assert rec.status == "not_applicable" and rec.reason == "the Control Panel is down"


def test_ticked_services_survive_ctrl_c_at_the_next_field(terminal: Terminal) -> None:
    answers = answers_except("replicate.services", "review.dns", "review.owa", "review.server_rules",
                             "review.client_rules", "research.prior", "research.kb", "research.web", "outcome")
    with pytest.raises(KeyboardInterrupt):
        terminal.run(SPACE + DOWN + SPACE + ENTER + CTRL_C, answers)
    assert terminal.engine.drafts()["replicate.services"]["enabled"] == ["Exchange mailbox", "Outlook Web Access"]
    session = terminal.run(ENTER + "Journaling" + ENTER + ENTER, answers_except(*STEP_IDS[:5], "replicate.services"))
    assert session.answer("replicate.services").enabled == ["Exchange mailbox", "Outlook Web Access", "Journaling"]


class FlakyDns(FakeActions):
    """The first DNS run gets no answers (every finding an error); the next ones work."""

    def __init__(self) -> None:
        super().__init__()
        self.servers: list[list[str]] = []

    def use_nameservers(self, servers: list[str]) -> None:
        self.servers.append(servers)

    def dns(self, domain: str, evidence: dict | None = None) -> ActionResult:
        if not any(call[0] == "dns" for call in self.calls):
            self.calls.append(("dns", domain))
            return ActionResult(fields={"checked": True, "domain": domain, "profile": None,
                                        "summary": {"ok": 0, "info": 0, "warn": 0, "fail": 0, "error": 13},
                                        "problems": [], "checked_at": NOW.isoformat()},
                                summary=f"DNS checks for {domain}: 13 error.")
        return super().dns(domain, evidence)


@pytest.mark.parametrize(("keys", "servers"), [
    (ENTER, []),  # try again
    (DOWN + ENTER + "127.0.0.1:5354" + ENTER, [["127.0.0.1:5354"]]),  # ask another server
])
def test_a_failed_dns_step_can_be_tried_again(tmp_path: Path, pipes: ExitStack, keys: str, servers) -> None:
    actions = FlakyDns()
    terminal = Terminal(tmp_path, pipes, actions=actions)
    session = terminal.run(keys + "looks fine now" + ENTER, answers_except("review.dns"))

    assert [c[0] for c in actions.calls].count("dns") == 2
    assert actions.servers == servers
    dns = session.answer("review.dns")
    assert dns.summary["error"] == 0 and dns.note == "looks fine now"
    assert "13 error" in terminal.text()


def test_a_failed_dns_step_can_be_recorded_as_it_is(tmp_path: Path, pipes: ExitStack) -> None:
    actions = FlakyDns()
    terminal = Terminal(tmp_path, pipes, actions=actions)
    session = terminal.run(DOWN * 2 + ENTER + "resolver down at the customer" + ENTER, answers_except("review.dns"))
    assert [c[0] for c in actions.calls].count("dns") == 1
    assert session.answer("review.dns").summary["error"] == 13


def test_the_provider_is_asked_as_a_choice(terminal: Terminal) -> None:
    """First use: which provider's service the partner resells (issue 8); the second choice is Google."""
    assert terminal.prompter(DOWN + ENTER).ask_provider() == "google"
    assert terminal.prompter(DOWN * 3 + ENTER).ask_provider() == "auto"


def test_an_own_provider_profile_file_is_checked_before_it_is_kept(terminal: Terminal, tmp_path) -> None:
    good = tmp_path / "hosting.toml"
    good.write_text('mx = ["mx.hosting.example"]\n', encoding="utf-8")
    keys = DOWN * 2 + ENTER + str(tmp_path / "missing.toml") + ENTER + "\x15" + str(good) + ENTER
    assert terminal.prompter(keys).ask_provider() == str(good)


def test_ids_and_addresses_are_never_cut_at_80_columns() -> None:
    from rich.console import Console as RichConsole

    from threer.cli import render
    from threer.triage.steps import get_step

    out = io.StringIO()
    console = RichConsole(file=out, width=80, no_color=True, highlight=False)
    long_id = "kb-0014-outlook-0x800ccc0e-cannot-connect"
    matches = [{"id": long_id, "title": "Outlook error 0x800CCC0E: cannot connect to the server, and what to check",
                "source": "kb", "score": 3.0}]
    render.action_result(console, get_step("research.prior"), ActionResult(fields={"matches": matches}, summary="1 match."))
    problems = [{"id": "autodiscover.https-certificate-mismatch", "severity": "warn",
                 "message": "https://autodiscover.contoso.example/autodiscover/autodiscover.xml presents a certificate "
                            "for another name", "fix": "Ask for a certificate naming autodiscover.contoso.example."}]
    render.action_result(console, get_step("review.dns"), ActionResult(fields={"problems": problems}, summary="x"))
    text = out.getvalue()
    assert "…" not in text
    assert long_id in text  # on one line, whole
    joined = "".join(line.strip() for line in text.splitlines())
    assert "autodiscover.https-certificate-mismatch" in joined
    assert "https://autodiscover.contoso.example/autodiscover/autodiscover.xml" in joined
    assert all(len(line) <= 80 for line in text.splitlines())
    long = render.answer_text("research.web", {"queries": "x " * 60, "links": ["https://forum.example/t/12345-outlook"],
                                               "outcome": "y"})
    assert long.endswith(" …") and "https://forum.example/t/12345-outl" not in long.replace(
        "https://forum.example/t/12345-outlook", "")


def _fixed_by_kb_0014() -> dict[str, Any]:
    answers = answers_except("outcome")
    answers["research.kb"] = {"articles": ["kb-0014 solved"], "outcome": "clearing the keychain fixed it"}
    return answers


def test_escalating_after_marking_a_fix_asks_and_yes_says_the_fix_did_not_hold(terminal: Terminal) -> None:
    from threer.config import Config, PartnerConfig
    from threer.ticket.build import build_ticket

    keys = DOWN + ENTER + "n" + ENTER + DOWN + ENTER  # escalate, not engineering, no summary; yes, escalate anyway
    session = terminal.run(keys, _fixed_by_kb_0014())

    assert "You marked the KB article kb-0014 (research.kb) as the fix that solved it." in terminal.text()
    assert session.status == "escalated" and session.answer("outcome").fix_did_not_hold
    config = Config(partner=PartnerConfig(domain="partner.example", control_panel_url="https://cp.partner.example",
                                          support_address="support@provider.example"))
    ticket = build_ticket(session, config, now=NOW)
    kb_step = next(s for s in ticket.steps if s.id == "research.kb")
    assert [(f.label, f.items) for f in kb_step.facts][-1] == (
        "Marked as the fix, but it did not hold (escalated anyway)", ["kb-0014 (KB article)"])


def test_escalating_after_marking_a_fix_no_goes_back_to_resolving_with_it(terminal: Terminal) -> None:
    keys = DOWN + ENTER + "n" + ENTER + ENTER  # escalate, not engineering, no summary; no: it is solved
    keys += ENTER + ESC_ENTER + ENTER  # the form again: resolved and the resolution offered, kept as they are
    session = terminal.run(keys, _fixed_by_kb_0014())

    outcome = session.answer("outcome")
    assert session.status == "resolved" and outcome.decision == "resolved"
    assert outcome.resolution == "Solved by the KB article kb-0014 (research.kb)."


@pytest.mark.parametrize("step_id", ["research.prior", "research.kb"])
def test_changing_a_step_keeps_the_fix_it_recorded_when_enter_is_pressed(terminal: Terminal, step_id: str) -> None:
    """The "Did one of them fix it?" menu starts on the recorded fix: changing only the outcome text keeps it."""
    keys = SPACE + ENTER + DOWN + ENTER + "recreated the profile, that fixed it" + ENTER  # tick kb-0001; it fixed it
    if step_id == "research.kb":
        keys = (ENTER + ENTER + "kb-0001: no change" + ENTER  # research.prior: nothing ticked, none fixed it
                + SPACE + ENTER + DOWN + ENTER + ENTER + "the article fixed it" + ENTER)  # research.kb: kb-0001 fixed it
    answers = answers_except("research.prior", step_id, "outcome")
    answers["outcome"] = {"decision": "resolved", "resolution": "profile recreated"}
    first = terminal.run(keys, answers)
    assert first.steps[step_id].answer["worked"] == ["kb-0001"]

    # change it: keep the ticks (Enter), keep the menu's choice (Enter), a new outcome text
    keys = ENTER + ENTER + (ENTER if step_id == "research.kb" else "") + CLEAR_LINE + "it held a week later" + ENTER
    session = run_flow(terminal.engine, terminal.prompter(keys), start_at=step_id)

    rec = session.steps[step_id]
    assert rec.revision == 2
    assert rec.answer["worked"] == ["kb-0001"]
    assert "it held a week later" in rec.answer["outcome"]
