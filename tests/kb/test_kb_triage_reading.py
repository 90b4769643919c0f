"""Inside the triage: open a suggested article in full, tick what was tried and what solved it."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from test_prompts import DOWN, ENTER, MATCHES, SPACE, Terminal
from test_prompts import answers_except as all_answers_except

from threer.triage.answers import KbAnswer

UP = "\x1b[A"


def answers_except(*step_ids: str) -> dict:
    """The file's answers; its escalation says the fix these tests mark did not hold (else threer asks)."""
    return {**all_answers_except(*step_ids), "outcome": {"decision": "escalate", "fix_did_not_hold": True}}


@pytest.fixture
def pipes():
    with ExitStack() as stack:
        yield stack


def test_a_match_ticked_solved_is_recorded_as_tried_and_worked(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes, screen=True)
    # the list: kb-0001, the case: tick the first; then "Did one of them fix it?": none, kb-0001, the case
    keys = SPACE + ENTER + DOWN + ENTER + "kb-0001 fixed it" + ENTER
    session = terminal.run(keys, answers_except("research.prior"))
    prior = session.answer("research.prior")
    assert prior.tried == ["kb-0001"] and prior.worked == ["kb-0001"]
    assert "✓ solved: kb-0001" in terminal.screen()


def test_solved_alone_counts_as_tried(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes)
    keys = ENTER + DOWN * 2 + ENTER + "the case's fix worked" + ENTER  # nothing ticked, "✓ solved: <case>"
    session = terminal.run(keys, answers_except("research.prior"))
    prior = session.answer("research.prior")
    assert prior.tried == [MATCHES[1]["id"]] and prior.worked == [MATCHES[1]["id"]]


def test_toggle_all_ticks_the_matches_only(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes, screen=True)
    # "a" ticks every row of the checkbox: the two matches, and nothing else is in it; Enter goes on to
    # "Did one of them fix it?" (none), never to the change menu
    keys = "a" + ENTER + ENTER + "tried both, no change" + ENTER
    session = terminal.run(keys, answers_except("research.prior"))
    prior = session.answer("research.prior")
    assert prior.tried == [m["id"] for m in MATCHES] and prior.worked == []
    assert prior.outcome == "tried both, no change"
    assert session.steps["research.prior"].status == "answered"
    screen = terminal.screen()
    assert "Which answer do you want to change?" not in screen and "Did one of them fix it?" in screen


def test_a_match_can_be_read_in_full_without_leaving_the_triage(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes)
    opened: list[str] = []
    prompter = terminal.prompter(
        # nothing ticked, "Read one of these in full first…" (after none and the two matches), pick the case,
        # then back in the list tick the case as tried, none fixed it, and answer the outcome
        ENTER + DOWN * 3 + ENTER + DOWN + ENTER + DOWN + SPACE + ENTER + ENTER + "read it, it did not apply" + ENTER
    )
    prompter._reader = opened.append
    from threer.triage.flow import run_flow

    session = run_flow(terminal.engine, prompter, answers_except("research.prior"))
    assert opened == [MATCHES[1]["id"]]
    assert session.answer("research.prior").tried == [MATCHES[1]["id"]]


def test_the_reader_shows_the_whole_article_through_the_safe_console(tmp_path: Path) -> None:
    from threer.cli.kb_viewer import document_reader
    from threer.cli.output import console_for
    from threer.store import Store

    with Store(tmp_path / "threer.db") as store:
        from threer.kb.search import prepare_kb

        prepare_kb(store)
        console = console_for(stderr=False, width=100, record=True, file=open(tmp_path / "out.txt", "w"))
        document_reader(store, console)("kb-0001-outlook-password-prompt")
        document_reader(store, console)("no-such-article")
        text = console.export_text()
    assert "kb-0001-outlook-password-prompt · article" in text
    assert "Diagnose and fix" in text and "When to escalate" in text  # the body in full, to its last section
    assert "No article or past case with id 'no-such-article'" in text


@pytest.mark.parametrize(
    ("articles", "tried", "worked"),
    [
        ("kb-0014, kb-0002 solved", ["kb-0014", "kb-0002"], ["kb-0002"]),
        ("kb-0014 (solved)", ["kb-0014"], ["kb-0014"]),
        ("kb-0014, unsolved mysteries", ["kb-0014", "unsolved mysteries"], []),
    ],
)
def test_research_kb_articles_marked_solved(articles, tried, worked) -> None:
    answer = KbAnswer.model_validate({"articles": articles, "outcome": "done"})
    assert answer.articles == tried and answer.worked == worked


# research.kb offers the knowledge-base articles research.prior found (kb-0001 here; the past case is not an
# article): tick them, read one in full, mark the one that solved it; more can be typed after


def test_research_kb_offers_the_articles_found_and_records_the_solved_one(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes, screen=True)
    # tick kb-0001; "Did one of them fix it?": none, ✓ kb-0001 → the second; one more typed; the outcome
    keys = SPACE + ENTER + DOWN + ENTER + "kb-0014" + ENTER + "kb-0001 fixed it" + ENTER
    session = terminal.run(keys, answers_except("research.kb"))
    kb = session.answer("research.kb")
    assert kb.articles == ["kb-0001", "kb-0014"] and kb.worked == ["kb-0001"] and kb.outcome == "kb-0001 fixed it"
    screen = terminal.screen()
    assert "Which of these articles did you read or try?" in screen and MATCHES[1]["id"] not in screen.split(
        "Which of these articles")[1].split("Did one of them fix it?")[0]  # the past case is research.prior's
    assert "✓ solved: kb-0001" in screen and "Other articles consulted" in screen


def test_research_kb_article_read_in_full_then_ticked(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes)
    opened: list[str] = []
    # nothing ticked; "Read one of these in full first…" (after none and kb-0001); the article; back in the
    # list tick it; none fixed it; nothing more typed; the outcome
    prompter = terminal.prompter(ENTER + DOWN * 2 + ENTER + ENTER + SPACE + ENTER + ENTER + ENTER + "read, no help" + ENTER)
    prompter._reader = opened.append
    from threer.triage.flow import run_flow

    session = run_flow(terminal.engine, prompter, answers_except("research.kb"))
    assert opened == ["kb-0001"]
    kb = session.answer("research.kb")
    assert kb.articles == ["kb-0001"] and kb.worked == [] and kb.outcome == "read, no help"


def test_research_kb_without_articles_found_asks_for_them_as_text(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes, screen=True)
    answers = {**answers_except("research.kb"), "research.prior": {"not_applicable": "a brand-new symptom"}}
    session = terminal.run("kb-0014 solved" + ENTER + "done" + ENTER, answers)
    kb = session.answer("research.kb")
    assert kb.articles == ["kb-0014"] and kb.worked == ["kb-0014"]
    assert "Which of these articles" not in terminal.screen()


def test_changing_research_kb_ticks_the_articles_recorded_before(tmp_path: Path, pipes: ExitStack) -> None:
    terminal = Terminal(tmp_path, pipes)
    first = terminal.run(SPACE + ENTER + ENTER + "kb-0014" + ENTER + "no luck" + ENTER, answers_except("research.kb"))
    assert first.answer("research.kb").articles == ["kb-0001", "kb-0014"]
    # asked again: kb-0001 is ticked already and kb-0014 is the text; Enter keeps both
    again = terminal.run(ENTER + ENTER + ENTER + ENTER, {}, start_at="research.kb", only_start=True)
    assert again.answer("research.kb").articles == ["kb-0001", "kb-0014"]
