"""The answer recorded for each triage step: one pydantic model a step, validated the same way
whether it was typed at a prompt, read from an answers file, or built in a test."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from threer.domain import DomainError, normalise_domain

_MAX_TEXT = 20_000  # a pasted bounce can be long; a pasted log file is not an answer


def _text(raw: Any, what: str, *, required: bool = True) -> str:
    if raw is None:
        raw = ""
    if isinstance(raw, bool):
        raise ValueError(f"{what} must be text, not {str(raw).lower()} (YAML reads an unquoted yes, no, on "
                         "or off as true or false: put it in quotes)")
    if isinstance(raw, (int, float)):
        raw = str(raw)
    if not isinstance(raw, str):
        raise ValueError(f"{what} must be text")
    value: str = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\x00" in value:
        raise ValueError(f"{what} contains a NUL character")
    if required and not value:
        raise ValueError(f"{what} is required")
    if len(value) > _MAX_TEXT:
        raise ValueError(f"{what} is longer than {_MAX_TEXT} characters; paste the relevant part")
    return value


def _text_list(value: Any, what: str, *, required: bool = False, addresses: bool = False) -> list[str]:
    """A list of short texts, given as a list or as one comma-separated text. Web addresses may hold
    commas, so a text of `addresses` is split on white space instead (a comma before a space goes)."""
    if isinstance(value, str):
        if addresses:
            value = [p.rstrip(",;") for p in value.split()]
            value = [p for p in value if p]
        else:
            value = [p for p in (x.strip() for x in value.split(",")) if p]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError(f"{what} must be a list of texts, or one text separated by commas")
    items = [_text(x, what) for x in value if x.strip()]  # blank entries are dropped, as in the text form
    if required and not items:
        raise ValueError(f"{what} is required")
    return items


class Answer(BaseModel):
    """An answer model. `texts` names its free-text fields: field -> (what it is, required)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    texts: ClassVar[dict[str, tuple[str, bool]]] = {}

    @field_validator("*", mode="before")
    @classmethod
    def _clean_texts(cls, value: Any, info: ValidationInfo) -> Any:
        # one validator a field, so every field's problem is reported, not only the first
        spec = cls.texts.get(info.field_name or "")
        if spec is None:
            return value
        what, required = spec
        return _text(value, what, required=required)


class _Refused:
    """A value a model validator found unusable, refused by its field's validator (with the other fields')."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class CustomerAnswer(Answer):
    name: str
    domain: str
    domain_note: str | None = None  # what normalisation changed, shown to the technician

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, v: Any) -> str:
        name = _text(v, "the customer name")
        if "\n" in name or len(name) > 200:
            raise ValueError("the customer name must be one line of at most 200 characters")
        return name

    @model_validator(mode="before")
    @classmethod
    def _domain(cls, data: Any) -> Any:
        # normalised here, where the note can be set beside it; a domain that cannot be used is handed on
        # as _Refused, for the field's own validator to refuse, so the name's problem is reported with it
        if isinstance(data, dict) and "domain" in data:
            raw = data["domain"]
            data = dict(data)
            if not isinstance(raw, str):
                data["domain"] = _Refused("the customer domain must be text, such as contoso.com")
                return data
            try:
                norm = normalise_domain(raw)
            except DomainError as exc:
                data["domain"] = _Refused(exc.message)
                return data
            data["domain"] = norm.domain
            if norm.note and not data.get("domain_note"):
                data["domain_note"] = norm.note
        return data

    @field_validator("domain", mode="before")
    @classmethod
    def _refused(cls, value: Any) -> Any:
        if isinstance(value, _Refused):
            raise ValueError(value.reason)
        return value


class IssueAnswer(Answer):
    texts = {"description": ("the description of the issue", True), "affected_users": ("the affected user(s)", True),
             "started": ("when it started", True)}
    description: str
    affected_users: str
    started: str  # when it started, in the technician's words ("since Monday 9am")



class ErrorsAnswer(Answer):
    texts = {"messages": ("the error messages", False)}
    messages: str = ""  # verbatim: codes, bounce text
    no_error_shown: bool = False
    # what threer read in the text (threer.triage.evidence.analyse_errors), never typed
    analysis: dict[str, Any] | None = None


    @model_validator(mode="after")
    def _one(self) -> "ErrorsAnswer":
        if not self.messages and not self.no_error_shown:
            raise ValueError("give the exact error text, or say that no error is shown")
        if self.messages and self.no_error_shown:
            raise ValueError("either give error text or say no error is shown, not both")
        return self


class ReproducedAnswer(Answer):
    texts = {"how": ("how it was (or was not) reproduced", True)}
    reproduced: Literal["yes", "no", "intermittent"]
    how: str

    @field_validator("reproduced", mode="before")
    @classmethod
    def _r(cls, v: Any) -> Any:
        if isinstance(v, bool):  # YAML's unquoted yes/no
            return "yes" if v else "no"
        return v.strip().lower() if isinstance(v, str) else v



OPERATING_SYSTEMS = ["Windows 11", "Windows 10", "macOS", "iOS", "iPadOS", "Android", "Linux", "ChromeOS", "Other"]
MAIL_CLIENTS = [
    "Outlook (Windows)",
    "Outlook for Mac",
    "New Outlook for Windows",
    "Entourage",
    "Apple Mail",
    "Outlook Web Access (OWA)",
    "iOS Mail",
    "Outlook for iOS",
    "Android (Gmail app)",
    "Outlook for Android",
    "Thunderbird",
    "Other",
]
SERVICES = [
    "Exchange mailbox",
    "Outlook Web Access",
    "ActiveSync (mobile)",
    "POP/IMAP",
    "SMTP relay",
    "Spam filtering",
    "Archiving",
    "Shared mailboxes",
    "Distribution groups",
    "Outlook licence",
]


class EnvironmentAnswer(Answer):
    texts = {"os": ("the operating system", True), "os_version": ("the OS version", True),
             "client": ("the mail client", True), "client_version": ("the mail client version", True)}
    os: str
    os_version: str
    client: str
    client_version: str



class ServicesAnswer(Answer):
    texts = {"note": ("the note", False)}
    enabled: list[str]
    note: str = ""

    @field_validator("enabled", mode="before")
    @classmethod
    def _e(cls, v: Any) -> list[str]:
        return _text_list(v, "the services confirmed as enabled in the Control Panel", required=True)



class DnsAnswer(Answer):
    texts = {"note": ("the note", False)}
    note: str = ""
    # filled by the step's action (threer ran the checks), never typed
    checked: bool = False
    domain: str | None = None
    profile: str | None = None
    profile_reason: str | None = None  # how the profile was chosen ("recognised from the MX (...)")
    summary: dict[str, int] = Field(default_factory=dict)
    problems: list[dict[str, Any]] = Field(default_factory=list)  # warn/fail/error findings: id, severity, message, fix
    checked_at: str | None = None
    run_error: str | None = None  # why the checks could not run
    dkim_selectors: list[str] = Field(default_factory=list)  # selectors taken from pasted headers
    spf_ip: dict[str, Any] | None = None  # the SPF verdict for the sending IP of pasted headers
    changes: str | None = None  # "changed since the check on <date>: …" (the check history), when checked before



class OwaAnswer(Answer):
    texts = {"note": ("the note", False)}
    login: Literal["yes", "no", "not tried"]
    send: Literal["yes", "no", "not tried"]
    receive: Literal["yes", "no", "not tried"]
    note: str = ""
    probe: list[dict[str, Any]] = Field(default_factory=list)  # threer's HTTPS probe of the OWA URL

    @field_validator("login", "send", "receive", mode="before")
    @classmethod
    def _yn(cls, v: Any) -> Any:
        if isinstance(v, bool):
            return "yes" if v else "no"
        return v.strip().lower() if isinstance(v, str) else v



class RulesAnswer(Answer):
    texts = {"found": ("what was found", True)}
    found: str  # what was found, "no rules" included



class PriorAnswer(Answer):
    texts = {"outcome": ("the outcome (what matched and what was tried)", True)}
    matches: list[dict[str, Any]] = Field(default_factory=list)  # shown by the action: id, title, source, score
    tried: list[str] = Field(default_factory=list)  # ids the technician tried
    worked: list[str] = Field(default_factory=list)  # ids that solved it: threer learns from these
    outcome: str

    @field_validator("tried", mode="before")
    @classmethod
    def _t(cls, v: Any) -> list[str]:
        return _text_list(v, "the ids of the matches tried")

    @field_validator("worked", mode="before")
    @classmethod
    def _w(cls, v: Any) -> list[str]:
        return _text_list(v, "the ids of the matches that solved it")



class KbAnswer(Answer):
    texts = {"outcome": ("the outcome", True)}
    articles: list[str] = Field(default_factory=list)
    worked: list[str] = Field(default_factory=list)  # ids of the articles that solved it: threer learns from these
    outcome: str

    @field_validator("articles", mode="before")
    @classmethod
    def _a(cls, v: Any) -> list[str]:
        return _text_list(v, "the articles (ids or titles)")

    @field_validator("worked", mode="before")
    @classmethod
    def _w(cls, v: Any) -> list[str]:
        return _text_list(v, "the ids of the articles that solved it")

    @model_validator(mode="after")
    def _solved_marks(self) -> "KbAnswer":
        """An article written as "kb-0014 solved" (or "kb-0014 (solved)") is the one that worked."""
        articles, worked = [], list(self.worked)
        for entry in self.articles:
            lowered = entry.lower().rstrip()
            for mark in ("(solved)", "solved"):
                if lowered.endswith(" " + mark) and len(lowered) > len(mark) + 1:
                    entry = entry.rstrip()[: -len(mark)].rstrip()
                    if entry not in worked:
                        worked.append(entry)
                    break
            articles.append(entry)
        self.articles, self.worked = articles, worked
        return self



class WebAnswer(Answer):
    texts = {"queries": ("the search queries", True), "outcome": ("the outcome", True)}
    queries: str
    links: list[str] = Field(default_factory=list)
    outcome: str

    @field_validator("links", mode="before")
    @classmethod
    def _l(cls, v: Any) -> list[str]:
        return _text_list(v, "the links", addresses=True)




class OutcomeAnswer(Answer):
    texts = {"resolution": ("the resolution", False), "summary": ("the summary", False)}
    decision: Literal["resolved", "escalate"]
    resolution: str = ""  # required when resolved: it becomes the past case
    summary: str = ""  # a one-line subject for the case or ticket; defaults to the issue
    engineering: bool = False  # escalation must go to engineering (72 business hours)
    # escalating although research.prior or research.kb marked what solved it: that fix did not hold (the
    # ticket says so); without it such an escalation is refused (TriageSession.marked_fixes)
    fix_did_not_hold: bool = False

    @field_validator("decision", mode="before")
    @classmethod
    def _d(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip().lower()
            return {"resolve": "resolved", "escalated": "escalate", "escalation": "escalate"}.get(v, v)
        return v


    @model_validator(mode="after")
    def _resolved(self) -> "OutcomeAnswer":
        if self.decision == "resolved" and not self.resolution:
            raise ValueError("a resolved session needs the resolution: what fixed it")
        return self


class NotApplicable(BaseModel):
    """A step recorded as not applicable: only counts with a reason."""

    model_config = ConfigDict(extra="forbid")
    reason: str

    @field_validator("reason", mode="before")
    @classmethod
    def _r(cls, v: Any) -> str:
        return _text(v, "the reason it is not applicable")
