"""The questionary prompter: one small form a step, with back, not-applicable and pause on every step.

Forms are data (FORMS); the prompter only asks and hands raw answers back to the engine, which
validates them exactly as it validates an answers file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import questionary
from rich.console import Console
from rich.markup import escape
from threer.safe_rich import Text

from threer.cli import render
from threer.triage import answers as a
from threer.safe_text import one_line
from threer.triage.conflict import SETTLE_CHOICES, Conflict, Settle
from threer.triage.engine import ActionResult
from threer.triage.flow import AskContext, GoBack, Provide, Reply, Retry
from threer.triage.session import RecordedStep, TriageSession
from threer.triage.steps import STEPS, Step

T = TypeVar("T")

BACK = "« Change an earlier answer"
NOT_APPLICABLE = "Not applicable (give a reason)"
OTHER = "Other…"
CHECKBOX_HINT = "Space ticks, a ticks all, Enter goes on; :back or :na can be typed in the next field."
MULTILINE_HINT = "Paste or type the text; Enter adds a line. To finish: Esc then Enter (or Alt+Enter)."
HINT = ":back change an earlier answer · Ctrl-C pause (all is saved)"
HINT_NA = ":back change an earlier answer · :na REASON not applicable · Ctrl-C pause (all is saved)"


@dataclass
class Field:
    name: str
    kind: str  # text | multiline | select | checkbox | confirm
    message: str
    choices: list[str] = field(default_factory=list)
    optional: bool = False
    when: Callable[[dict[str, Any]], bool] | None = None  # ask only if this holds for the answers so far


YES_NO = ["yes", "no", "not tried"]

FORMS: dict[str, list[Field]] = {
    "intake.customer": [
        Field("name", "text", "Customer name"),
        Field("domain", "text", "Customer domain (an e-mail address or URL is fine)"),
    ],
    "intake.issue": [
        Field("description", "text", "The issue, in your words"),
        Field("affected_users", "text", "Affected user(s)"),
        Field("started", "text", "When did it start?"),
    ],
    "intake.errors": [
        Field("messages", "multiline", "Exact error messages, codes or bounce text (empty: no error shown)",
              optional=True),
    ],
    "replicate.reproduced": [
        Field("reproduced", "select", "Can you replicate the error?", ["yes", "no", "intermittent"]),
        Field("how", "text", "How did you try?"),
    ],
    "replicate.environment": [
        Field("os", "select", "Operating system", a.OPERATING_SYSTEMS),
        Field("os_version", "text", "OS version"),
        Field("client", "select", "Mail client", a.MAIL_CLIENTS),
        Field("client_version", "text", "Mail client version"),
    ],
    "replicate.services": [
        Field("enabled", "checkbox", "Services confirmed as enabled in the Customer Control Panel", a.SERVICES),
        Field("enabled_other", "text", "Other services (comma-separated, optional)", optional=True),
        Field("note", "text", "Note (optional)", optional=True),
    ],
    "review.dns": [Field("note", "text", "Your note on the DNS results (optional)", optional=True)],
    "review.owa": [
        Field("login", "select", "Can the user log in to Outlook Web Access?", YES_NO),
        Field("send", "select", "Can they send from OWA?", YES_NO),
        Field("receive", "select", "Can they receive in OWA?", YES_NO),
        Field("note", "text", "Note (optional)", optional=True),
    ],
    "review.server_rules": [Field("found", "text", "Server-side rules in the Control Panel: what did you find?")],
    "review.client_rules": [Field("found", "text", "Rules in the mail client: what did you find?")],
    "research.prior": [
        Field("tried", "checkbox", "Which of these did you try?"),
        Field("outcome", "text", "What matched, and what happened when you tried it?"),
    ],
    "research.kb": [
        Field("consulted", "checkbox", "Which of these articles did you read or try?", optional=True),
        Field("articles", "text", "Articles consulted (ids or titles, comma-separated; "
              "write 'solved' after the one that fixed it)", optional=True),
        Field("outcome", "text", "Outcome"),
    ],
    "research.web": [
        Field("queries", "text", "Search queries used"),
        Field("links", "text", "Links consulted (separated by spaces)", optional=True),
        Field("outcome", "text", "Outcome"),
    ],
    "outcome": [
        Field("decision", "select", "Resolved here, or escalate to the provider?", ["resolved", "escalate"]),
        Field("resolution", "multiline", "What fixed it?", when=lambda d: d.get("decision") == "resolved"),
        Field("engineering", "confirm", "Does it need the provider's engineering team (72 business hours)?",
              when=lambda d: d.get("decision") == "escalate"),
        Field("summary", "text", "One-line summary (optional; default: the issue)", optional=True),
    ],
}


SOLVED = "solved:"  # research.prior: a ticked "✓ solved: ID" entry
READ = "\x00read"  # research.prior: "read one in full first"
PRIOR_QUESTION = "Which of these did you try?"
KB_QUESTION = "Which of these articles did you read or try?"
KB_OTHER = ("Other articles consulted (ids or titles, comma-separated; write 'solved' after the one that "
            "fixed it; empty: none)")
SOLVED_QUESTION = "Did one of them fix it?"
ESCALATE_NO = "No: it is solved, record the outcome as resolved"
ESCALATE_YES = "Yes: the fix did not hold; escalate (the ticket says so)"


class FieldInterrupted(KeyboardInterrupt):
    """Ctrl-C in a text field, carrying what had been typed in it so far."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def _keep_typed_text_bindings() -> Any:
    from prompt_toolkit.key_binding import KeyBindings

    bindings = KeyBindings()

    @bindings.add("c-c")
    def _interrupt(event: Any) -> None:  # the text goes with the interrupt, to be kept as a draft
        event.app.exit(exception=FieldInterrupted(event.app.current_buffer.text))

    return bindings


class _Cancelled(Exception):
    """The change menu was left without choosing: ask the same field again."""


CANCEL = "\x00cancel"


def _cancel_on_escape(question: questionary.Question) -> None:
    """The change menu: Esc cancels it; once left, by any choice, it leaves no line in the transcript
    (the field asked again, or the chosen step's heading, follows at once)."""
    from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

    bindings = KeyBindings()

    @bindings.add("escape", eager=True)
    def _escape(event: Any) -> None:
        event.app.exit(result=CANCEL)

    app = question.application
    app.key_bindings = merge_key_bindings([app.key_bindings, bindings]) if app.key_bindings else bindings
    app.erase_when_done = True


def _erase_back_command(question: questionary.Question, *, multiline: bool) -> None:
    """A text field finished with `:back` is erased from the transcript: the change menu takes its place."""
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

    app = question.application
    is_back = Condition(lambda: app.current_buffer.text.strip().lower() == ":back")
    bindings = KeyBindings()

    def _accept(event: Any) -> None:
        event.app.erase_when_done = True
        event.current_buffer.validate_and_handle()

    if multiline:
        bindings.add("escape", "enter", filter=is_back)(_accept)
    else:
        bindings.add("enter", filter=is_back)(_accept)
    app.key_bindings = merge_key_bindings([app.key_bindings, bindings]) if app.key_bindings else bindings


class _Command(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


class QuestionaryPrompter:
    """Asks on a terminal. `input`/`output` let tests drive it through prompt_toolkit pipes."""

    def __init__(self, console: Console, *, input: Any = None, output: Any = None,
                 reader: Callable[[str], None] | None = None) -> None:
        self.console = console
        self._reader = reader  # opens a KB article or past case in full (threer.cli.kb_viewer)
        self._io = {k: v for k, v in {"input": input, "output": output}.items() if v is not None}
        self._session: TriageSession | None = None
        self.kept: str | None = None  # what of the step in progress was kept when it was interrupted
        self._live: tuple[Step, Field, dict[str, Any], AskContext, Any] | None = None  # the text field being asked

    # -- Prompter ----------------------------------------------------------------------

    def working(self, label: str, fn: Callable[[], T]) -> T:
        if self.console.is_terminal:
            with self.console.status(label + " …"):
                return fn()
        self.console.print(label + " …")
        return fn()

    def show_action(self, step: Step, result: ActionResult) -> None:
        render.action_result(self.console, step, result)

    def recorded(self, step: Step, rec: RecordedStep, session: TriageSession) -> None:
        done, total = session.progress()
        note = (rec.answer or {}).get("domain_note")
        if note:
            self.console.print(f"[yellow]Note:[/] {escape(note)}.", highlight=False)
        self.console.print(f"[green]✓ Saved[/] {step.title} ({done}/{total} recorded)")
        render.error_analysis(self.console, rec)

    def begin(self, step: Step, session: TriageSession) -> None:
        render.step_header(self.console, step, session)

    def ask(self, step: Step, ctx: AskContext) -> Reply:
        self._session = ctx.session
        if ctx.error is None:  # only for steps that are asked, not those answered from a file
            self.console.print(f"[dim]{HINT_NA if step.can_be_na else HINT}[/]", highlight=False)
        if ctx.previous is not None and ctx.error is None:
            self.console.print("[dim]Recorded now:[/] " + render.recorded_text(ctx.previous))
        if ctx.error:
            self.console.print(f"[red]{ctx.error}[/] Please try again.")
        try:
            return Provide(self._form(step, ctx))
        except _Command as cmd:
            return cmd.reply

    # -- the form ------------------------------------------------------------------------

    def _form(self, step: Step, ctx: AskContext) -> Any:
        previous = ctx.previous.answer if ctx.previous and ctx.previous.answer else {}
        defaults = {**previous, **ctx.defaults}  # a draft typed after the recorded answer wins
        if step.id == "research.kb":
            defaults = _kb_defaults(defaults, ctx.suggestions)
        data: dict[str, Any] = {}
        fields = FORMS[step.id]
        asked = 0
        for spec in fields:
            if spec.when and not spec.when(data):
                continue
            try:
                while True:
                    try:
                        value = self._ask_field(step, spec, defaults.get(spec.name), ctx, first=asked == 0, data=data,
                                                worked=defaults.get("worked"))
                        break
                    except _Cancelled:
                        continue  # the change menu was cancelled: the same field again
            except FieldInterrupted as exc:
                self._keep(step, spec, data, ctx, exc.text)
                raise KeyboardInterrupt from None
            except KeyboardInterrupt:
                self._keep(step, spec, data, ctx, "")
                raise
            finally:
                self._live = None
            asked += 1
            if value is None or value == "" or value == []:
                if step.id == "intake.errors" and spec.name == "messages":
                    return {"no_error_shown": True}
                if spec.optional:
                    continue
            data[spec.name] = value
            if ctx.save_draft is not None and len(fields) > 1:
                ctx.save_draft(data)  # on disk before the next question: a kill loses no typed field
        other = data.pop("enabled_other", "")
        if other:  # services typed beside the ticked ones
            data["enabled"] = list(data.get("enabled", [])) + [s.strip() for s in other.split(",") if s.strip()]
        consulted = data.pop("consulted", None)
        if consulted:  # research.kb: the ticked articles first, then those typed
            typed = data.get("articles") or ""
            data["articles"] = list(consulted) + [t.strip() for t in typed.split(",") if t.strip()]
        return data

    def _keep(self, step: Step, spec: Field, data: dict[str, Any], ctx: AskContext, text: str) -> None:
        """Save what was typed in the interrupted step as its draft, and say exactly what that was."""
        draft = dict(data)
        if text.strip():
            draft[spec.name] = text
        if not draft or ctx.save_draft is None:
            self.kept = None
            return
        ctx.save_draft(draft)
        if text.strip():
            self.kept = f"the {len(text)} characters typed in \"{spec.message}\""
            if data:
                self.kept += f" and the {len(data)} earlier field{'s' if len(data) > 1 else ''} of {step.title}"
        else:
            self.kept = f"the {len(data)} field{'s' if len(data) > 1 else ''} of {step.title} answered so far"

    def keep_live_text(self) -> None:
        """On a hang-up: save the text field being typed (called from the signal handler)."""
        if self._live is None:
            return
        step, spec, data, ctx, question = self._live
        try:
            text = question.application.current_buffer.text
        except Exception:  # noqa: BLE001 - the application may be half torn down
            text = ""
        self._keep(step, spec, data, ctx, text)

    def _ask_field(self, step: Step, spec: Field, default: Any, ctx: AskContext, *, first: bool,
                   data: dict[str, Any] | None = None, worked: Any = None) -> Any:
        if spec.kind in {"text", "multiline"}:
            text_default = _text_default(default)
            instruction = None
            if spec.kind == "multiline":
                # on its own line, wrapped by the console: cut at 80 columns it was "(Alt+Enter" and no more
                self.console.print(Text(MULTILINE_HINT, style="dim"))
                instruction = "\n>"
            message = KB_OTHER if step.id == "research.kb" and spec.name == "articles" and ctx.suggestions \
                else spec.message
            question = questionary.text(message, default=text_default, multiline=spec.kind == "multiline",
                                        instruction=instruction, key_bindings=_keep_typed_text_bindings(), **self._io)
            _erase_back_command(question, multiline=spec.kind == "multiline")
            self._live = (step, spec, data if data is not None else {}, ctx, question)
            answer = self._run(question)
            self._live = None  # typed and finished: a hang-up from here (the change menu) has no text to keep,
            # and `:back` or `:na` is a command, never the field's text
            self._commands(step, answer)  # :back and :na work in any text field of a step
            return answer
        if spec.kind == "select":
            choices = list(spec.choices)
            if spec.name in {"os", "client"}:
                choices = [c for c in choices if c != "Other"]  # "Other…" below asks for the name
            if default is not None and default not in choices:
                choices.append(str(default))
            extra = self._extra_choices(step, first)
            answer = self._run(questionary.select(spec.message, choices=choices + [OTHER] * (spec.name in {"os", "client"})
                                                  + extra, default=default if default in choices else None, **self._io))
            self._menu(step, answer)
            if answer == OTHER:
                answer = self._run(questionary.text(f"{spec.message} (type it)", **self._io))
            return answer
        if spec.kind == "checkbox":
            choices = list(spec.choices)
            if step.id == "research.prior":
                matches = (ctx.action.fields.get("matches") if ctx.action else None) or []
                if not matches:
                    return []
                return self._tried(matches, default, first, data, worked=worked)
            if step.id == "research.kb":
                if not ctx.suggestions:
                    return []  # nothing found to offer: the articles are typed in the next field
                return self._tried(ctx.suggestions, default, first, data, question=KB_QUESTION, worked=worked)
            picked_default = set(default or [])
            qchoices: list[Any] = [
                questionary.Choice(c, value=c.split(" — ")[0], checked=c.split(" — ")[0] in picked_default)
                for c in choices
            ]
            # only real choices here: "a" (toggle all) must not tick a command; :back and :na are typed in
            # the step's next field, which every checkbox step has
            if first:
                self.console.print(Text(CHECKBOX_HINT, style="dim"))
            return self._run(questionary.checkbox(spec.message, choices=qchoices, **self._io))
        if spec.kind == "confirm":
            return self._run(questionary.confirm(spec.message, default=bool(default), **self._io))
        raise ValueError(spec.kind)  # pragma: no cover

    def _tried(self, matches: list[dict[str, Any]], default: Any, first: bool, data: dict[str, Any] | None,
               *, question: str = PRIOR_QUESTION, worked: Any = None) -> Any:
        """research.prior's list (and research.kb's articles): tick what was tried; then say which one
        fixed it, or open one to read.

        The checkbox holds the matches only, as every checkbox does, so "a" (toggle all) ticks matches and
        never a command or a "solved" mark; which one fixed it, and reading one in full, are a menu after it.
        `worked` is the recorded answer's (when a step is changed): the menu starts on it, so Enter keeps it.
        """
        picked = set(default or [])
        solved = set(worked or []) if isinstance(worked, list) else set()
        while True:
            qchoices: list[Any] = [
                questionary.Choice(f"{m['id']} — {m['title']}", value=m["id"], checked=m["id"] in picked)
                for m in matches
            ]
            if first:
                self.console.print(Text(CHECKBOX_HINT, style="dim"))
            answer = self._run(questionary.checkbox(question, choices=qchoices, **self._io))
            picked = {v for v in answer if isinstance(v, str)}
            fixed: list[Any] = [questionary.Choice("None of them fixed it", value="")]
            fixed += [questionary.Choice(f"✓ solved: {m['id']} — {m['title']}", value=SOLVED + m["id"])
                      for m in matches]
            if self._reader is not None:
                fixed.append(questionary.Choice("Read one of these in full first…", value=READ))
            earlier = next((SOLVED + m["id"] for m in matches if m["id"] in solved), "")
            chosen = self._run(questionary.select(SOLVED_QUESTION, choices=fixed, default=earlier or None, **self._io))
            if chosen == READ and self._reader is not None:
                choices = [questionary.Choice(f"{m['id']} — {m['title']}", value=m["id"]) for m in matches]
                choices.append(questionary.Choice("Back to the list", value=""))
                article = self._run(questionary.select("Which one? (q leaves the page)", choices=choices, **self._io))
                if article:
                    self._reader(article)
                continue
            solved = {chosen[len(SOLVED):]} if isinstance(chosen, str) and chosen.startswith(SOLVED) else set()
            picked |= solved  # what fixed it was tried
            if data is not None:
                data["worked"] = [m["id"] for m in matches if m["id"] in solved]
                if not data["worked"]:
                    del data["worked"]
            return [m["id"] for m in matches if m["id"] in picked]

    @property
    def _step_prior(self) -> Step:
        from threer.triage.steps import get_step

        return get_step("research.prior")

    def _extra_choices(self, step: Step, first: bool) -> list[Any]:
        if not first:
            return []
        extra: list[Any] = [questionary.Separator()]
        if step.can_be_na:
            extra.append(NOT_APPLICABLE)
        extra.append(BACK)
        return extra

    def _menu(self, step: Step, answer: Any) -> None:
        if answer == BACK:
            self._go_back(step)
        if answer == NOT_APPLICABLE:
            reason = self._run(questionary.text("Why does this step not apply?", **self._io))
            raise _Command(Provide({"not_applicable": reason}))

    def _commands(self, step: Step, answer: str) -> None:
        text = (answer or "").strip()
        if text.lower() == ":back":
            self._go_back(step)
        if text.lower().startswith(":na"):
            reason = text[3:].strip(" :") or self._run(questionary.text("Why does this step not apply?", **self._io))
            raise _Command(Provide({"not_applicable": reason}))

    def _go_back(self, step: Step) -> None:
        chosen = self._choose_step(step)
        if chosen is None:
            raise _Cancelled()
        raise _Command(GoBack(chosen))

    def _choose_step(self, current: Step) -> str | None:
        """The recorded steps, and a way back to the current one (also Esc). None: cancelled."""
        recorded = self._session.steps if self._session is not None else {}
        choices: list[Any] = [questionary.Choice(f"{s.phase.value}: {s.title}", value=s.id)
                              for s in STEPS if s.id in recorded and s.id != current.id]
        if not choices:
            self.console.print("Nothing is recorded yet to change.")
            return None
        choices += [questionary.Separator(), questionary.Choice(f"Cancel: go on with {current.title} (Esc)", value=CANCEL)]
        question = questionary.select("Which answer do you want to change?", choices=choices, **self._io)
        _cancel_on_escape(question)
        answer = self._run(question)
        return None if answer in (CANCEL, None) else answer

    def _run(self, question: questionary.Question) -> Any:
        # unsafe_ask lets Ctrl-C through as KeyboardInterrupt: the command saves and says how to resume
        return question.unsafe_ask()

    def action_failed(self, step: Step, result: ActionResult) -> Retry | None:
        """The DNS checks got no answers: try again, ask another server, or record it as it is."""
        if step.action != "dns":
            return None
        choice = self._run(questionary.select(
            "The DNS checks got no usable answer. What now?",
            choices=[questionary.Choice("Try again", value="retry"),
                     questionary.Choice("Ask another DNS server…", value="server"),
                     questionary.Choice("Record the result as it is", value="record")], **self._io))
        if choice == "retry":
            return Retry()
        if choice == "server":
            server = self._run(questionary.text("DNS server to ask (IP or IP:PORT, e.g. 1.1.1.1)",
                                                validate=_nameserver_check, **self._io))
            return Retry(nameservers=[s for s in server.replace(",", " ").split() if s])
        return None

    def settle_conflict(self, step: Step, conflict: Conflict) -> Settle:
        """A colleague saved this step while it was being answered: show both, ask which to keep."""
        who = escape(one_line(conflict.by or "Another technician")) + (
            f" (on {escape(one_line(conflict.host))})" if conflict.host else "")
        self.console.print()
        self.console.print(f"[bold yellow]{who} saved an answer to {escape(step.title)} at "
                           f"{render.when_text(conflict.at)}, after you opened it.[/]", highlight=False)
        theirs = (render.recorded_text(_form_order(conflict.theirs)) if conflict.theirs is not None
                  else "[dim](gone again)[/]")
        self.console.print(f"  [bold]Theirs:[/] {theirs}", highlight=False)
        self.console.print(f"  [bold]Yours:[/]  {render.recorded_text(_form_order(conflict.mine_record))}",
                           highlight=False)
        choices = [questionary.Choice(SETTLE_TITLES[choice], value=choice.value) for choice in SETTLE_CHOICES]
        chosen = self._run(questionary.select("Which answer should the session keep?", choices=choices, **self._io))
        settle = Settle(chosen)
        if settle is Settle.THEIRS:
            show = f" (threer sessions show {self._session.id})" if self._session is not None else ""
            self.console.print(f"Kept {who}'s answer; yours is in the session's history{show}.", highlight=False)
        return settle

    def confirm_outcome(self, session: TriageSession) -> bool:
        """An outcome recorded before other answers changed: keep it, or decide again now."""
        rec = session.steps["outcome"]
        self.console.print()
        self.console.print(Text("The outcome was recorded before some answers were changed:", style="bold"))
        self.console.print(Text("  " + render.answer_text("outcome", rec.answer or {})))
        return bool(self._run(questionary.confirm("Keep this outcome?", default=False, **self._io)))

    def confirm_escalation(self, session: TriageSession, fixes: list[dict[str, str]]) -> bool:
        """Escalating although the research marked what solved it: escalate anyway (the fix did not hold),
        or go back to resolving with it."""
        from threer.triage.session import describe_fixes

        self.console.print()
        self.console.print(Text(f"You marked {describe_fixes(fixes)} as the fix that solved it.", style="bold"))
        choice = self._run(questionary.select("Escalate anyway?", choices=[
            questionary.Choice(ESCALATE_NO, value="no"),
            questionary.Choice(ESCALATE_YES, value="yes"),
        ], **self._io))
        return bool(choice == "yes")

    # -- partner details ------------------------------------------------------------------

    def ask_partner(self, missing: list[str]) -> dict[str, Any]:
        self.console.print("[bold]First, your partner details[/] (asked once, saved in the config file).")
        out: dict[str, Any] = {}
        if "partner.domain" in missing:
            out["domain"] = self._run(questionary.text("Your partner domain (e.g. partner.example)", validate=_partner_check("domain"), **self._io))
        if "partner.control_panel_url" in missing:
            url = self._run(questionary.text("Your Control Panel URL (empty if you have none)", validate=_partner_check("control_panel_url", optional=True), **self._io))
            if url.strip():
                out["control_panel_url"] = url.strip()
            else:
                out["control_panel_na"] = True
        if "partner.support_address" in missing:
            out["support_address"] = self._run(questionary.text("The provider's support address for escalations",
                                                                validate=_partner_check("support_address"), **self._io))
        if "partner.technician" in missing:
            name = self._run(questionary.text("Your name (optional)", **self._io))
            if name.strip():
                out["technician"] = name.strip()
        return out

    def ask_provider(self) -> str:
        """Which provider's service the partner resells: the profile the customer's DNS is judged against."""
        choices = [questionary.Choice(title, value=value) for title, value in PROVIDER_CHOICES]
        chosen = self._run(questionary.select("Which provider's service do you resell? (the DNS checks judge the "
                                              "customer's records against it)", choices=choices, **self._io))
        if chosen == "file":
            return self._run(questionary.text("The profile file (docs/how-to/profiles.md)",
                                              validate=_profile_file_check, **self._io)).strip()
        return chosen


SETTLE_TITLES = {
    Settle.THEIRS: "Keep theirs (yours stays in the history)",
    Settle.MINE: "Keep mine (saved over theirs; the history keeps both)",
    Settle.EDIT: "Edit mine, then save it over theirs",
}

PROVIDER_CHOICES = (
    ("Microsoft 365 / Exchange Online", "m365"),
    ("Google Workspace", "google"),
    ("My own provider profile (a TOML file)", "file"),
    ("Not sure: recognise it for each domain", "auto"),
)


def _profile_file_check(text: str) -> bool | str:
    from threer.checks.profiles import load_profile
    from threer.errors import BadInput

    try:
        load_profile(text.strip())
    except BadInput as exc:
        return exc.message
    return True


def _partner_check(name: str, *, optional: bool = False) -> Callable[[str], bool | str]:
    """A questionary validator for one partner detail: True, or the reason it is refused."""
    from pydantic import ValidationError

    from threer.config import PartnerConfig, describe_validation_error

    def check(text: str) -> bool | str:
        if optional and not text.strip():
            return True
        try:
            PartnerConfig.model_validate({name: text.strip()})
        except ValidationError as exc:
            return describe_validation_error(exc)
        return True

    return check


def _nameserver_check(text: str) -> bool | str:
    from threer.checks.resolver import parse_nameserver
    from threer.errors import BadInput

    servers = text.replace(",", " ").split()
    if not servers:
        return "Give an IP address, such as 1.1.1.1 or 127.0.0.1:5353."
    try:
        for server in servers:
            parse_nameserver(server)
    except BadInput as exc:
        return exc.message
    return True


def _kb_defaults(defaults: dict[str, Any], suggestions: list[dict[str, Any]]) -> dict[str, Any]:
    """research.kb's recorded articles split for the form: the suggested ones ticked, the rest as text."""
    if not suggestions or "consulted" in defaults:
        return defaults
    offered = {m["id"] for m in suggestions}
    articles = defaults.get("articles") or []
    if isinstance(articles, str):
        articles = [a.strip() for a in articles.split(",") if a.strip()]
    out = dict(defaults)
    out["consulted"] = [a for a in articles if a in offered]
    out["articles"] = [a for a in articles if a not in offered]
    return out


def _form_order(rec: RecordedStep) -> RecordedStep:
    """The answer's fields in the order the form asks them (stored answers come back sorted by name),
    so two answers to one step read side by side."""
    if not rec.answer:
        return rec
    from threer.triage.steps import get_step

    order = list(get_step(rec.step_id).model.model_fields)
    fields = sorted(rec.answer, key=lambda k: order.index(k) if k in order else len(order))
    return rec.model_copy(update={"answer": {k: rec.answer[k] for k in fields}})


def _text_default(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


class ScriptPrompter:
    """For runs without a terminal: never asks (a missing answer is an error naming --answers), but
    reports what threer checked and what was saved on stderr."""

    def __init__(self, console: Console) -> None:
        from threer.triage.flow import NoPrompter

        self.console = console
        self._none = NoPrompter()

    def begin(self, step: Step, session: TriageSession) -> None:
        pass

    def ask(self, step: Step, ctx: AskContext) -> Reply:
        return self._none.ask(step, ctx)

    def working(self, label: str, fn: Callable[[], T]) -> T:
        return fn()

    def show_action(self, step: Step, result: ActionResult) -> None:
        if result.summary:
            self.console.print(result.summary, markup=False)

    def recorded(self, step: Step, rec: RecordedStep, session: TriageSession) -> None:
        done, total = session.progress()
        self.console.print(f"saved {step.id} ({done}/{total})", markup=False)
        render.error_analysis(self.console, rec)
