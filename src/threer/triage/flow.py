"""Walk a session to its end over a Prompter: the one loop behind prompts, answers files and tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

from threer.errors import BadInput
from threer.triage import answers as a
from threer.triage.engine import ActionResult, InvalidAnswer, TriageEngine
from threer.triage.session import RecordedStep, TriageSession
from threer.triage.steps import Step, get_step

T = TypeVar("T")


@dataclass
class Provide:
    """The prompter's answer: raw data (text or a field mapping) the engine validates."""

    data: Any


@dataclass
class GoBack:
    """Change an earlier answer; then the flow continues where it was."""

    step_id: str


Reply = Provide | GoBack


@dataclass
class Retry:
    """Run the step's action again, optionally asking other DNS servers (IP[:PORT] texts)."""

    nameservers: list[str] | None = None


@dataclass
class AskContext:
    session: TriageSession
    previous: RecordedStep | None  # the answer being changed, for defaults
    action: ActionResult | None  # what threer found for this step
    error: str | None = None  # why the last reply was refused
    defaults: dict[str, Any] = field(default_factory=dict)
    save_draft: Callable[[dict[str, Any]], None] | None = None  # call after each field typed
    # what threer offers to tick at this step beyond its action: research.kb the KB articles research.prior
    # found (id, title, source, score)
    suggestions: list[dict[str, Any]] = field(default_factory=list)


class Prompter(Protocol):
    def begin(self, step: Step, session: TriageSession) -> None: ...

    def ask(self, step: Step, ctx: AskContext) -> Reply: ...

    def working(self, label: str, fn: Callable[[], T]) -> T: ...

    def show_action(self, step: Step, result: ActionResult) -> None: ...

    def recorded(self, step: Step, rec: RecordedStep, session: TriageSession) -> None: ...


class MissingAnswers(BadInput):
    def __init__(self, missing: list[str], *, why: str | None = None) -> None:
        super().__init__(
            (f"{why}: it must be recorded again. " if why else "")
            + f"No answer for {', '.join(missing)}, and there is no terminal to ask on. "
            "Give them in the answers file (--answers FILE), or run threer triage in a terminal."
        )
        self.missing = missing


class NoPrompter:
    """For runs without a terminal: any question is the error that names what is missing."""

    def begin(self, step: Step, session: TriageSession) -> None:
        pass

    def ask(self, step: Step, ctx: AskContext) -> Reply:
        if ctx.error:
            raise BadInput(f"{ctx.error} Fix it in the answers file (--answers FILE).")
        if step.id in ctx.session.stale and ctx.previous is not None:
            checked = (ctx.previous.answer or {}).get("domain")
            raise MissingAnswers([step.id], why=f"{step.id} checked {checked}, and the customer domain is now "
                                                f"{ctx.session.customer_domain}")
        raise MissingAnswers([step.id])

    def working(self, label: str, fn: Callable[[], T]) -> T:
        return fn()

    def show_action(self, step: Step, result: ActionResult) -> None:
        pass

    def recorded(self, step: Step, rec: RecordedStep, session: TriageSession) -> None:
        pass


ACTION_LABELS = {
    "dns": "Checking the mail DNS records of {domain}",
    "owa": "Checking the Outlook Web Access address",
    "prior": "Searching past cases and the knowledge base",
}


def run_flow(engine: TriageEngine, prompter: Prompter, answers: dict[str, Any] | None = None,
             *, defaults: dict[str, dict[str, Any]] | None = None, start_at: str | None = None,
             only_start: bool = False) -> TriageSession:
    """Ask every unrecorded step in order (answers from the file first), recording each at once.

    `start_at` revisits one recorded step first (to change it); a prompter's GoBack does the same.
    With `only_start`, the flow ends once that step is recorded (`--change` on a finished session).
    """
    answers = dict(answers or {})
    defaults = defaults or {}
    revisit: Step | None = get_step(start_at) if start_at else None
    # stale steps recorded again in this run: not offered again unless the customer changes once more
    # (so a check that keeps disagreeing with the customer domain cannot loop)
    redone: set[str] = set()
    while True:
        step = revisit or engine.next_step(skip=redone)
        if step is None:
            return engine.session()
        session = engine.session()
        was_stale = step.id in session.stale
        previous = session.steps.get(step.id)
        action: ActionResult | None = None
        prompter.begin(step, session)
        if step.action:
            domain = session.customer_domain or ""
            while True:
                action = prompter.working(ACTION_LABELS[step.action].format(domain=domain),
                                          partial(engine.run_action, step.id))
                if action is not None:
                    prompter.show_action(step, action)
                # a failed check is not recorded unasked: the prompter may try again, or elsewhere
                decide = getattr(prompter, "action_failed", None)
                if action is None or not action.failed or decide is None:
                    break
                again = decide(step, action)
                if again is None:
                    break  # record it as it is
                if again.nameservers:
                    engine.change_resolver(again.nameservers)
        engine.saw(step.id, previous.revision if previous is not None else 0)
        value: a.Answer | a.NotApplicable | None = None
        if revisit is None and step.id in answers:
            value = engine.parse(step.id, answers.pop(step.id), action)
        went_back: Step | None = None
        if value is None:
            asked = _ask_until_valid(engine, prompter, step, session, previous, action, defaults.get(step.id, {}))
            if isinstance(asked, GoBack):
                went_back = get_step(asked.step_id)
            else:
                value = asked
        if went_back is not None:
            revisit = went_back
            continue
        assert value is not None  # answered, or went back (handled just above)
        if step.id == "outcome":
            confirmed = _escalate_after_fix(engine, prompter, step, value, session, previous, action,
                                            defaults.get(step.id, {}))
            if isinstance(confirmed, GoBack):
                revisit = get_step(confirmed.step_id)
                continue
            value = confirmed
        settled = _record_or_settle(engine, prompter, step, value, action)
        if isinstance(settled, GoBack):
            revisit = get_step(settled.step_id)
            continue
        if was_stale:
            redone.add(step.id)
        if step.id == "intake.customer":
            redone.clear()
        if settled is not None:
            prompter.recorded(step, settled, engine.session())
        if only_start and step.id == start_at:
            return engine.session()
        revisit = None


def _ask_until_valid(engine: TriageEngine, prompter: Prompter, step: Step, session: TriageSession,
                     previous: RecordedStep | None, action: ActionResult | None,
                     defaults: dict[str, Any]) -> a.Answer | a.NotApplicable | GoBack:
    """Ask the step until the engine accepts the reply (a draft typed earlier prefills the form)."""
    error: str | None = None
    while True:
        draft = engine.drafts().get(step.id, {})
        ctx = AskContext(session, previous, action, error, {**defaults, **draft},
                         save_draft=partial(engine.save_draft, step.id), suggestions=suggestions(step.id, session))
        reply = prompter.ask(step, ctx)
        if isinstance(reply, GoBack):
            return reply
        try:
            return engine.parse(step.id, reply.data, action)
        except InvalidAnswer as exc:
            error = exc.message


def _escalate_after_fix(engine: TriageEngine, prompter: Prompter, step: Step, value: a.Answer | a.NotApplicable,
                       session: TriageSession, previous: RecordedStep | None, action: ActionResult | None,
                       defaults: dict[str, Any]) -> a.Answer | a.NotApplicable | GoBack:
    """An escalation after research marked what solved it: the prompter asks whether to escalate anyway
    (the ticket then says the fix did not hold) or resolve with that fix. A prompter that cannot ask
    leaves it to the engine, which refuses it (EscalationAfterFix) unless the answer says so."""
    from threer.triage.session import describe_fixes

    while True:
        fixes = session.marked_fixes()
        if not (isinstance(value, a.OutcomeAnswer) and value.decision == "escalate" and not value.fix_did_not_hold
                and fixes):
            return value
        confirm = getattr(prompter, "confirm_escalation", None)
        if confirm is None:
            return value
        if confirm(session, fixes):
            return value.model_copy(update={"fix_did_not_hold": True})
        # back to resolving: the form starts as resolved, with the marked fix as the resolution
        resolution = "Solved by " + describe_fixes(fixes) + "."
        # as the draft, so it wins over the escalation typed a moment ago (and survives a pause)
        engine.save_draft(step.id, {"decision": "resolved", "resolution": resolution, "summary": value.summary})
        asked = _ask_until_valid(engine, prompter, step, session, previous, action, defaults)
        if isinstance(asked, GoBack):
            return asked
        value = asked


def suggestions(step_id: str, session: TriageSession) -> list[dict[str, Any]]:
    """The knowledge-base articles research.prior found, offered again at research.kb to tick, read in
    full and mark as the one that solved it (past cases stay research.prior's)."""
    if step_id != "research.kb":
        return []
    prior = session.steps.get("research.prior")
    matches = (prior.answer or {}).get("matches") if prior is not None else None
    return [dict(m) for m in matches or [] if isinstance(m, dict) and m.get("source") == "kb" and m.get("id")]


def _record_or_settle(engine: TriageEngine, prompter: Prompter, step: Step, value: a.Answer | a.NotApplicable,
                      action: ActionResult | None) -> RecordedStep | GoBack | None:
    """Record the answer; if a colleague saved this step in between, let the prompter choose how to settle
    it (keep theirs, keep mine over theirs, edit mine). A prompter that cannot ask lets the refusal stand:
    AnswerConflict, with the store's message. None: theirs was kept (already recorded, nothing new).
    When theirs says exactly what ours says there is nothing to settle: theirs, as recorded, is returned."""
    from threer.store_api import AnswerConflict
    from threer.triage.conflict import Settle

    while True:
        try:
            return engine.record(step.id, value)
        except AnswerConflict as refused:
            conflict = engine.conflict(step.id, value, refused)
            if conflict.same:
                return conflict.theirs  # a colleague saved the very same answer first: nothing to settle
            settle = getattr(prompter, "settle_conflict", None)
            if settle is None:
                raise
            choice = Settle(settle(step, conflict))
            if choice is Settle.THEIRS:
                return None
            if choice is Settle.EDIT:
                # theirs is what is recorded now; the form starts from ours
                mine = conflict.mine_record.answer or {}
                asked = _ask_until_valid(engine, prompter, step, engine.session(), conflict.theirs, action,
                                         {k: v for k, v in mine.items() if k not in _action_fields(step.id)})
                if isinstance(asked, GoBack):
                    return asked  # theirs stands; ours is in the history
                value = asked


def _action_fields(step_id: str) -> frozenset[str]:
    from threer.triage.engine import ACTION_FIELDS

    return ACTION_FIELDS.get(step_id, frozenset())
