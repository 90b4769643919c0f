"""The triage engine: validates and records answers, one committed write each, and walks the steps.

No prompts and no printing here. A `Prompter` (see threer.triage.flow) asks the questions; the
engine decides what comes next, what counts as recorded, and what a step's action found.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from threer.errors import BadInput
from threer.store_api import AnswerConflict, SessionStore, StoreOffline
from threer.triage import answers as a
from threer.triage.conflict import Conflict
from threer.triage.session import RecordedStep, TriageSession
from threer.triage.steps import STEPS, Step, get_step, is_step

# Fields a step's action fills in; never accepted from a person or a file.
ACTION_FIELDS: dict[str, frozenset[str]] = {
    "review.dns": frozenset({"checked", "domain", "profile", "profile_reason", "summary", "problems", "checked_at",
                             "run_error", "dkim_selectors", "spf_ip"}),
    "review.owa": frozenset({"probe"}),
    "research.prior": frozenset({"matches"}),
    "intake.errors": frozenset({"analysis"}),
}

NA_KEYS = ("not_applicable", "n/a", "na")


class InvalidAnswer(BadInput):
    """An answer that does not validate; the message names the step and says what to fix.
    `reasons` holds every problem found in it, for an answers file that lists them all."""

    def __init__(self, step_id: str, reason: str | list[str]) -> None:
        reasons = [r.rstrip(". ") for r in ([reason] if isinstance(reason, str) else reason)]
        super().__init__(f"{step_id}: {'; '.join(reasons)}.")
        self.step_id = step_id
        self.reason = "; ".join(reasons)
        self.reasons = reasons


class EscalationAfterFix(BadInput):
    """An outcome escalating a session whose research marked what solved it, without saying that the fix
    did not hold (`fix_did_not_hold`). A terminal asks; an answers file must say so."""

    def __init__(self, fixes: list[dict[str, str]]) -> None:
        from threer.triage.session import describe_fixes

        super().__init__(
            f"outcome: the research marked {describe_fixes(fixes)} as the fix that solved it, and the outcome "
            "escalates. If that fix did not hold, say so with fix_did_not_hold: true in the outcome answer (the "
            "ticket then says so); if it did, record the outcome as resolved with it."
        )
        self.fixes = fixes


class ActionResult(BaseModel):
    """What a step's action found: `fields` are stored with the answer, `detail` is for display."""

    model_config = {"arbitrary_types_allowed": True}
    fields: dict[str, Any]
    detail: Any = None
    summary: str = ""

    @property
    def failed(self) -> bool:
        """The checks could not run, or nothing was judged: only `error` findings (and threer's own
        notes, `info`), as when the resolver does not answer."""
        if "run_error" in self.fields and self.fields.get("run_error"):
            return True
        counts = self.fields.get("summary") or {}
        if not isinstance(counts, dict) or not counts.get("error"):
            return False
        return not any(counts.get(k) for k in ("ok", "warn", "fail"))


class Actions(Protocol):
    """The work threer does itself during a triage (checks and searches), injected."""

    def dns(self, domain: str, evidence: dict[str, Any] | None = None) -> ActionResult: ...

    def owa(self, domain: str) -> ActionResult: ...

    def prior(self, queries: Sequence[str | Sequence[str]]) -> ActionResult: ...


class TriageEngine:
    def __init__(self, store: SessionStore, session_id: str, *, clock: Callable[[], datetime],
                 actions: Actions | None = None, on_resolved: Callable[[TriageSession], None] | None = None,
                 on_reopened: Callable[[str], None] | None = None, technician: str | None = None,
                 host: str | None = None) -> None:
        self.store = store
        self.technician = technician  # who records the answers (both backends keep it with each revision)
        self.host = host  # and on which machine
        self.clock = clock
        self.actions = actions
        self.on_resolved = on_resolved
        self.on_reopened = on_reopened
        self.session_id = store.get_session_row(session_id)["id"]
        # the revision of each answer as this engine last saw it: an answer someone else recorded since
        # is never overwritten silently (the store raises AnswerConflict)
        self._seen = {step: revision for step, (_, _, revision) in store.answers(self.session_id).items()}

    @classmethod
    def new(cls, store: SessionStore, *, clock: Callable[[], datetime], technician: str | None = None,
            host: str | None = None, **kwargs: Any) -> "TriageEngine":
        session_id = store.create_session(clock(), technician=technician, host=host)
        return cls(store, session_id, clock=clock, technician=technician, host=host, **kwargs)

    # -- reading -----------------------------------------------------------------------

    def session(self) -> TriageSession:
        return load_session(self.store, self.session_id)

    def save_draft(self, step_id: str, data: dict[str, Any]) -> None:
        """Keep the fields typed so far. With the team database out of reach the draft waits in the
        store's local spool and the step goes on: the answer itself says so when it is saved."""
        try:
            self.store.save_draft(self.session_id, step_id, data, self.clock())
        except StoreOffline:
            pass

    def drafts(self) -> dict[str, dict[str, Any]]:
        return self.store.drafts(self.session_id)

    def next_step(self, skip: frozenset[str] | set[str] = frozenset()) -> Step | None:
        """The first step not recorded, or recorded but stale (review.dns of another domain than the
        customer's: it is run again). `skip`: steps not to offer again (already re-recorded in this run)."""
        session = self.session()
        self._seen = session.revisions()
        missing = set(session.missing) - set(skip)
        return next((s for s in STEPS if s.id in missing), None)

    # -- validating --------------------------------------------------------------------

    def parse(self, step_id: str, raw: Any, action: ActionResult | None = None) -> a.Answer | a.NotApplicable:
        return parse_answer(step_id, raw, action)

    # -- writing -----------------------------------------------------------------------

    def saw(self, step_id: str, revision: int) -> None:
        """The technician is shown this revision of the step (0: none yet): their answer replaces it, and
        one a colleague saves after this moment is a conflict, not overwritten."""
        self._seen[step_id] = revision

    def _as_record(self, step_id: str, value: a.Answer | a.NotApplicable, now: datetime) -> RecordedStep:
        step = get_step(step_id)
        if isinstance(value, a.NotApplicable):
            if not step.can_be_na:
                raise InvalidAnswer(step_id, "this step cannot be marked not applicable; it must be answered")
            return RecordedStep(step_id=step_id, status="not_applicable", reason=value.reason, recorded_at=now)
        if not isinstance(value, step.model):
            raise InvalidAnswer(step_id, f"expected a {step.model.__name__}")
        return RecordedStep(step_id=step_id, status="answered", answer=value.model_dump(mode="json"), recorded_at=now)

    def record(self, step_id: str, value: a.Answer | a.NotApplicable) -> RecordedStep:
        """Commit one answer to disk now. Returns what was recorded.

        AnswerConflict when a colleague saved this step since it was shown (see `conflict`)."""
        now = self.clock()
        rec = self._as_record(step_id, value, now)
        header: dict[str, Any] = {}
        if isinstance(value, a.CustomerAnswer):
            header = {"customer_name": value.name, "customer_domain": value.domain}
        try:
            status = self.store.get_session_row(self.session_id)["status"]
        except StoreOffline:  # the answer below is then kept in the local spool, and says so
            status = None
        was_resolved = status == "resolved"
        if isinstance(value, a.OutcomeAnswer):
            if value.decision == "escalate" and not value.fix_did_not_hold:
                fixes = self.session().marked_fixes()
                if fixes:
                    raise EscalationAfterFix(fixes)
            header = {"status": "resolved" if value.decision == "resolved" else "escalated", "closed_at": now}
            if value.decision == "escalate" and status == "escalated":
                # escalated already: the ticket's first response keeps counting from that first escalation
                del header["closed_at"]
        expected = self._seen.get(step_id, 0)
        self.store.record_answer(self.session_id, step_id, rec.to_storage(), now, header=header,
                                 expected_revision=expected, technician=self.technician, host=self.host)
        self._seen[step_id] = expected + 1
        rec.revision, rec.recorded_by, rec.recorded_host = expected + 1, self.technician, self.host
        if isinstance(value, a.OutcomeAnswer) or (step_id != "outcome" and was_resolved):
            session = self.session()
            if session.status == "resolved" and self.on_resolved:
                self.on_resolved(session)  # re-index the case with the changed answer
            elif was_resolved and session.status != "resolved" and self.on_reopened:
                self.on_reopened(self.session_id)
        return rec

    # -- a colleague's answer saved in between ----------------------------------------------

    def conflict(self, step_id: str, value: a.Answer | a.NotApplicable, refused: AnswerConflict) -> Conflict:
        """Both answers of a refused save. From now on the colleague's revision counts as seen, so
        recording again (keep mine, or an edited answer) goes over theirs and the history keeps both."""
        theirs = self.session().steps.get(step_id)
        revision = theirs.revision if theirs is not None else refused.revision
        self._seen[step_id] = revision
        return Conflict(step_id=step_id, theirs=theirs, mine=value,
                        mine_record=self._as_record(step_id, value, self.clock()),
                        by=theirs.recorded_by if theirs is not None else refused.by,
                        host=theirs.recorded_host if theirs is not None else refused.host,
                        at=refused.at if theirs is None else theirs.recorded_at.isoformat(timespec="seconds"),
                        revision=revision, message=refused.message)

    def change_resolver(self, nameservers: list[str]) -> None:
        """Ask these DNS servers from now on (a failed DNS step, tried again elsewhere)."""
        change = getattr(self.actions, "use_nameservers", None)
        if change is None:
            raise BadInput("This session's checks cannot change their DNS server.")
        change(nameservers)

    def run_action(self, step_id: str) -> ActionResult | None:
        """Run the step's action (DNS checks, OWA probe, search) if it has one and threer can."""
        step = get_step(step_id)
        if step.action is None or self.actions is None:
            return None
        session = self.session()
        customer = session.answer("intake.customer")
        if step.action == "dns":
            if customer is None:
                return None
            return self.actions.dns(customer.domain, evidence=dns_evidence(session, customer.domain))
        if step.action == "owa":
            return self.actions.owa(customer.domain if customer else "")
        if step.action == "prior":
            return self.actions.prior(research_query_groups(session))
        return None  # pragma: no cover - every declared action is handled above


def dns_evidence(session: TriageSession, domain: str) -> dict[str, Any]:
    """What the pasted error text adds to the DNS step: DKIM selectors to look for, a sending IP."""
    from threer.triage import evidence

    return {"dkim_selectors": evidence.dkim_selectors(session, domain), "sending_ip": evidence.sending_ip(session)}


def parse_answer(step_id: str, raw: Any, action: ActionResult | None = None) -> a.Answer | a.NotApplicable:
    """Validate an answer given as text (the step's shorthand field) or a mapping of its fields."""
    if not is_step(step_id):
        raise BadInput(f"{step_id!r} is not a triage step. The steps are: {', '.join(s.id for s in STEPS)}.")
    step = get_step(step_id)
    if isinstance(raw, (a.Answer, a.NotApplicable)):
        raw = raw.model_dump() if isinstance(raw, a.Answer) else {"not_applicable": raw.reason}
        for name in ACTION_FIELDS.get(step_id, frozenset()):
            raw.pop(name, None)  # filled in again below, from what threer finds now
    if isinstance(raw, bool):
        raise InvalidAnswer(step_id, f"the answer is {str(raw).lower()}, not text (YAML reads an unquoted yes, no, "
                                     "on or off as true or false: put it in quotes)")
    if raw is None:
        raise InvalidAnswer(step_id, "the answer is empty or not text; give the answer's fields or a text")
    if isinstance(raw, (int, float)):
        raw = str(raw)
    if isinstance(raw, str):
        if step_id == "intake.errors" and raw.strip().lower() in {"no error shown", "no error", "none", "no errors"}:
            raw = {"no_error_shown": True}
        elif step.shorthand:
            raw = {step.shorthand: raw}
        else:
            fields = ", ".join(f for f in step.model.model_fields if f not in ACTION_FIELDS.get(step_id, frozenset()))
            raise InvalidAnswer(step_id, f"give the answer as a table of its fields ({fields})")
    if isinstance(raw, list) and step.shorthand:
        raw = {step.shorthand: raw}  # `replicate.services: [webmail, activesync]`: its list field
    if not isinstance(raw, dict):
        fields = ", ".join(f for f in step.model.model_fields if f not in ACTION_FIELDS.get(step_id, frozenset()))
        raise InvalidAnswer(step_id, f"the answer must be a text or a table of its fields ({fields})")
    na = [k for k in NA_KEYS if k in raw]
    if na:
        if len(raw) > 1:
            raise InvalidAnswer(step_id, "a step that is not applicable takes only the reason")
        if not step.can_be_na:
            raise InvalidAnswer(step_id, "this step cannot be marked not applicable; it must be answered")
        try:
            return a.NotApplicable(reason=raw[na[0]])
        except ValidationError as exc:
            raise InvalidAnswer(step_id, _why(exc, a.NotApplicable)) from None
    forged = set(raw) & ACTION_FIELDS.get(step_id, frozenset())
    if forged:
        raise InvalidAnswer(step_id, f"{', '.join(sorted(forged))} is filled in by threer, not by the answer")
    data = dict(raw)
    if action is not None:
        data.update(action.fields)
    try:
        value = step.model.model_validate(data)
    except ValidationError as exc:
        raise InvalidAnswer(step_id, _why(exc, step.model, hidden=ACTION_FIELDS.get(step_id, frozenset()))) from None
    if isinstance(value, a.ErrorsAnswer) and value.messages:
        from threer.triage.evidence import analyse_errors

        value.analysis = analyse_errors(value.messages)  # a bounce or headers pasted here: what they say
    return value


def research_queries(session: TriageSession) -> list[str]:
    """What the Research step searches with: the issue in the technician's words, and the error text."""
    return [q for searches in research_query_groups(session) for q in searches]


def research_query_groups(session: TriageSession) -> list[list[str]]:
    """The Research step's searches by source: [the issue], [the error text's searches].

    Searched apart, not as one query: an error code matches exactly and would swamp the symptom's
    words if both were one query. A pasted bounce gives several searches (its codes first, then its
    diagnostic; not the whole bounce as one query); the action merges the results, each source
    weighing alike (threer.triage.actions.fuse_rankings).
    """
    groups: list[list[str]] = []
    issue = session.answer("intake.issue")
    if issue and issue.description.strip():
        groups.append([issue.description[:2000]])
    errors = session.answer("intake.errors")
    from threer.triage.evidence import analysis_queries

    found = analysis_queries(session)
    if found:
        groups.append(list(found))
    elif errors and errors.messages:
        groups.append([errors.messages[:2000]])
    return groups


def load_session(store: SessionStore, session_id: str) -> TriageSession:
    row = store.get_session_row(session_id)
    steps: dict[str, RecordedStep] = {}
    for step_id, saved in store.answer_details(row["id"]).items():
        if not is_step(step_id):
            continue  # a step from a newer threer; kept in the database, ignored here
        data = saved["data"]
        # the store gives the time as it keeps it (ISO text); the model reads it as a datetime
        steps[step_id] = RecordedStep.model_validate({
            "step_id": step_id,
            "status": data.get("status", "answered"),
            "answer": data.get("answer"),
            "reason": data.get("reason"),
            "recorded_at": saved["recorded_at"],
            "revision": saved["revision"],
            "recorded_by": saved.get("recorded_by"),
            "recorded_host": saved.get("recorded_host"),
        })
    return TriageSession(
        id=row["id"], created_at=row["created_at"], updated_at=row["updated_at"], status=row["status"],
        closed_at=row["closed_at"], customer_name=row["customer_name"], customer_domain=row["customer_domain"],
        technician=row["technician"], host=row["host"], ticket_sent_at=row["ticket_sent_at"],
        ticket_message_id=row["ticket_message_id"], steps=steps,
    )


def _why(exc: ValidationError, model: type[BaseModel], *, hidden: frozenset[str] = frozenset()) -> list[str]:
    """Every problem of the answer in plain words; an unknown field named with the nearest real one."""
    from threer.errors import validation_problems

    fields = [f for f in model.model_fields if f not in hidden]
    problems = [p.removeprefix("value: ") for p in validation_problems(exc, known_fields=fields)]
    texts = getattr(model, "texts", {})
    out = []
    for problem in problems:
        name, _, what = problem.partition(": ")
        if what.startswith("missing"):
            # a misspelt key is the likelier story: say that once, not "missing" as well
            if any(p.endswith(f"(did you mean {name}?)") for p in problems):
                continue
            if name in texts:
                problem = f"{name}: missing ({texts[name][0]})"
        if name in texts and what.startswith(texts[name][0]):
            problem = what  # "the description of the issue is required" names its field already
        out.append(problem)
    return out
