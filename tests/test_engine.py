from datetime import datetime, timedelta, timezone

import pytest
from support_prompter import COMPLETE_ANSWERS, FakeActions, StrictPrompter, UnexpectedPrompt

from threer.store import Store
from threer.triage.engine import InvalidAnswer, TriageEngine, parse_answer, research_queries
from threer.triage.flow import GoBack, MissingAnswers, NoPrompter, Provide, run_flow
from threer.triage.steps import STEP_IDS, STEPS


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def engine(tmp_path):
    return TriageEngine.new(Store(tmp_path / "threer.db"), clock=Clock(), actions=FakeActions())


def test_steps_are_the_fourteen_of_the_spec_in_order():
    assert STEP_IDS == (
        "intake.customer", "intake.issue", "intake.errors", "replicate.reproduced", "replicate.environment",
        "replicate.services", "review.dns", "review.owa", "review.server_rules", "review.client_rules",
        "research.prior", "research.kb", "research.web", "outcome",
    )
    phases = [s.phase.value for s in STEPS]
    assert phases == ["Intake"] * 3 + ["Replicate"] * 3 + ["Review"] * 4 + ["Research"] * 3 + ["Outcome"]


def test_a_whole_session_from_answers(engine):
    session = run_flow(engine, NoPrompter(), COMPLETE_ANSWERS)
    assert session.complete and session.status == "escalated"
    assert session.customer_domain == "contoso.com"
    assert session.steps["review.client_rules"].status == "not_applicable"
    assert session.steps["review.client_rules"].reason == "the user only uses OWA today"
    dns = session.answer("review.dns")
    assert dns.checked and dns.note == "autodiscover CNAME missing" and dns.problems[0]["id"] == "spf.missing"
    assert session.answer("research.prior").matches[0]["id"] == "kb-0001"
    assert ("prior", "Outlook keeps asking for a password") in engine.actions.calls


def test_prompter_is_asked_only_what_the_file_lacks(engine):
    answers = dict(COMPLETE_ANSWERS)
    del answers["review.server_rules"]
    prompter = StrictPrompter([("review.server_rules", {"found": "a rule moving mail to RSS Feeds"})])
    session = run_flow(engine, prompter, answers)
    prompter.assert_done()
    assert session.answer("review.server_rules").found == "a rule moving mail to RSS Feeds"
    assert [s for s, _ in prompter.actions] == ["review.dns", "review.owa", "research.prior"]


def test_invalid_reply_is_asked_again_with_the_reason(engine):
    answers = {k: v for k, v in COMPLETE_ANSWERS.items() if k != "intake.customer"}
    prompter = StrictPrompter([
        ("intake.customer", {"name": "Contoso", "domain": "not a domain"}),
        ("intake.customer", {"name": "Contoso", "domain": "contoso.com"}),
    ])
    run_flow(engine, prompter, answers)
    prompter.assert_done()
    assert prompter.asked[0].error is None
    assert "spaces" in prompter.asked[1].error


def test_go_back_changes_an_earlier_answer_and_continues(engine):
    answers = {k: v for k, v in COMPLETE_ANSWERS.items() if k not in {"replicate.reproduced", "review.server_rules"}}
    prompter = StrictPrompter([
        ("replicate.reproduced", {"reproduced": "no", "how": "could not"}),
        ("review.server_rules", GoBack("replicate.reproduced")),
        ("replicate.reproduced", {"reproduced": "intermittent", "how": "every third send"}),
        ("review.server_rules", {"found": "none"}),
    ])
    session = run_flow(engine, prompter, answers)
    prompter.assert_done()
    assert prompter.asked[2].previous.answer["reproduced"] == "no"
    assert session.answer("replicate.reproduced").reproduced == "intermittent"
    assert session.steps["replicate.reproduced"].revision == 2


def test_missing_answer_without_prompter_names_the_step(engine):
    answers = {k: v for k, v in COMPLETE_ANSWERS.items() if k != "research.web"}
    with pytest.raises(MissingAnswers) as exc:
        run_flow(engine, NoPrompter(), answers)
    assert "research.web" in exc.value.message and "--answers" in exc.value.message
    # everything before it is saved
    assert engine.session().missing == ["research.web", "outcome"]


def test_strict_prompter_fails_on_unexpected_prompt(engine):
    with pytest.raises(UnexpectedPrompt):
        run_flow(engine, StrictPrompter([]), {})


@pytest.mark.parametrize(
    ("step", "raw", "reason"),
    [
        ("intake.customer", {"name": "", "domain": "contoso.com"}, "customer name is required"),
        ("intake.customer", {"name": "X", "domain": "contoso"}, "no dot"),
        ("intake.customer", {"name": "X"}, "domain"),
        ("intake.customer", {"not_applicable": "because"}, "cannot be marked not applicable"),
        ("intake.errors", {"messages": "550 5.1.1", "no_error_shown": True}, "not both"),
        ("intake.errors", {}, "no error is shown"),
        ("replicate.reproduced", {"reproduced": "maybe", "how": "x"}, "reproduced"),
        ("replicate.reproduced", {"not_applicable": ""}, "reason it is not applicable is required"),
        ("replicate.reproduced", {"not_applicable": "x", "how": "y"}, "takes only the reason"),
        ("replicate.environment", "Windows", "table of its fields"),
        ("replicate.services", [], "the services confirmed as enabled in the Control Panel is required"),
        ("replicate.environment", [1], "text or a table of its fields (os, os_version"),
        ("review.dns", {"checked": True, "note": "x"}, "filled in by threer"),
        ("review.owa", {"login": "yes", "send": "yes"}, "receive"),
        ("outcome", "resolved", "needs the resolution"),
        ("outcome", {"decision": "later"}, "decision"),
        ("intake.issue", {"description": "x", "affected_users": "y", "started": "z", "colour": "red"}, "colour"),
        ("intake.issue", None, "empty"),
        ("intake.issue", {"description": "a\x00b", "affected_users": "y", "started": "z"}, "NUL"),
        ("intake.issue", {"description": "x" * 20001, "affected_users": "y", "started": "z"}, "longer than"),
    ],
)
def test_invalid_answers_have_reasons(step, raw, reason):
    with pytest.raises(InvalidAnswer) as exc:
        parse_answer(step, raw)
    assert exc.value.step_id == step
    assert reason in exc.value.message, exc.value.message


def test_shorthand_and_normalisation():
    assert parse_answer("intake.errors", "No error shown").no_error_shown
    assert parse_answer("intake.errors", "550 5.7.1 Unable to relay").messages == "550 5.7.1 Unable to relay"
    assert parse_answer("outcome", "Escalated").decision == "escalate"
    assert parse_answer("replicate.services", "OWA, ActiveSync (mobile)").enabled == ["OWA", "ActiveSync (mobile)"]
    assert parse_answer("review.owa", {"login": True, "send": False, "receive": "Not tried"}).receive == "not tried"
    customer = parse_answer("intake.customer", {"name": "C", "domain": "https://www.Contoso.com/owa"})
    assert customer.domain == "contoso.com" and "address" in customer.domain_note


def test_outcome_sets_status_and_can_be_changed(engine):
    run_flow(engine, NoPrompter(), COMPLETE_ANSWERS)
    resolved = []
    engine.on_resolved = resolved.append
    engine.record("outcome", parse_answer("outcome", {"decision": "resolved", "resolution": "recreated the profile"}))
    assert engine.session().status == "resolved" and resolved
    reopened = []
    engine.on_reopened = reopened.append
    engine.record("outcome", parse_answer("outcome", {"decision": "escalate"}))
    assert engine.session().status == "escalated" and reopened == [engine.session_id]


def test_research_query_uses_issue_and_errors(engine):
    answers = dict(COMPLETE_ANSWERS, **{"intake.errors": "0x800CCC0E"})
    session = run_flow(engine, NoPrompter(), answers)
    assert research_queries(session) == ["Outlook keeps asking for a password", "0x800CCC0E"]


def test_provide_object_passes_through(engine):
    prompter = StrictPrompter([("intake.customer", Provide({"name": "A", "domain": "a.example"}))])
    answers = {k: v for k, v in COMPLETE_ANSWERS.items() if k != "intake.customer"}
    assert run_flow(engine, prompter, answers).customer_domain == "a.example"


def test_fields_typed_before_an_interruption_are_kept_as_a_draft(engine):
    answers = {k: v for k, v in COMPLETE_ANSWERS.items() if k != "intake.issue"}

    class Interrupted(StrictPrompter):
        def ask(self, step, ctx):
            ctx.save_draft({"description": "Outlook asks for a password", "affected_users": "jane"})
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_flow(engine, Interrupted([]), answers)
    assert engine.session().missing[0] == "intake.issue"
    resumed = StrictPrompter([("intake.issue", {"description": "Outlook asks for a password",
                                                "affected_users": "jane", "started": "today"})])
    run_flow(engine, resumed, {k: v for k, v in answers.items() if k not in engine.session().steps})
    assert resumed.asked[0].defaults == {"description": "Outlook asks for a password", "affected_users": "jane"}
    assert engine.drafts() == {}  # recorded: the draft is gone


def test_links_keep_their_commas():
    answer = parse_answer("research.web", {"queries": "q", "outcome": "o",
                                           "links": "https://answers.example/x?a=1,b=2, https://forum.example/t/9\nhttps://c.example"})
    assert answer.links == ["https://answers.example/x?a=1,b=2", "https://forum.example/t/9", "https://c.example"]


def test_prior_search_finds_both_the_symptom_and_the_error_code(tmp_path):
    """The issue and the error text are searched apart and merged, so neither swamps the other."""
    from threer.config import Config
    from threer.triage.actions import DefaultActions

    actions = DefaultActions(Store(tmp_path / "threer.db"), Config())
    result = actions.prior(["Outlook keeps asking for a password", "0x800CCC0E: the connection was interrupted"])
    ids = [m["id"] for m in result.fields["matches"]]
    assert len(ids) == 5 and len(set(ids)) == 5
    assert ids[0] == "kb-0001-outlook-password-prompt"
    assert "kb-0014-outlook-0x800ccc0e-cannot-connect" in ids  # shown by score, but found for the error text


def test_prior_matches_of_past_cases_and_articles_are_shown_best_score_first(tmp_path):
    """The merged matches (each query's best in turn) are listed by score, a past case among the articles."""
    from threer.config import Config
    from threer.triage.actions import DefaultActions

    store = Store(tmp_path / "threer.db")
    store.put_case("20261130-PRIO", title="Outlook password prompt after the move",
                   body="Outlook kept asking for the password; a new app password fixed it.", tags=["outlook"])
    actions = DefaultActions(store, Config())
    result = actions.prior(["Outlook keeps asking for a password", "0x800CCC0E: the connection was interrupted"])
    matches = result.fields["matches"]
    assert {m["source"] for m in matches} == {"kb", "case"}
    scores = [m["score"] for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert [r.id for r in result.detail] == [m["id"] for m in matches]


def test_an_escalated_session_keeps_the_time_of_its_first_escalation(engine):
    run_flow(engine, NoPrompter(), COMPLETE_ANSWERS)  # escalated
    first = engine.session().closed_at
    engine.record("outcome", parse_answer("outcome", {"decision": "escalate", "engineering": True}))
    assert engine.session().closed_at == first  # changed, still escalated: the ticket counts from the first
    engine.record("outcome", parse_answer("outcome", {"decision": "resolved", "resolution": "recreated the profile"}))
    engine.record("outcome", parse_answer("outcome", {"decision": "escalate"}))
    assert engine.session().closed_at > first  # escalated anew after being resolved
