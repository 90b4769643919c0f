"""Answers files: the same triage fed from JSON, YAML or TOML keyed by step id, for scripts and tests.

    {"intake.customer": {"name": "Contoso", "domain": "contoso.com"},
     "intake.errors": "no error shown",
     "review.client_rules": {"not_applicable": "webmail only"},
     "partner": {"domain": "partner.example", "support_address": "escalations@provider.example"}}
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

from threer.errors import BadInput, did_you_mean
from threer.files import load_json, load_toml, load_yaml, read_user_text
from threer.safe_text import quoted
from threer.triage.engine import InvalidAnswer, parse_answer
from threer.triage.steps import STEP_IDS

PARTNER_KEY = "partner"
MAX_BYTES = 2_000_000
MAX_LISTED = 20  # problems (and unknown keys) named in one error; the rest are counted


def load_answers_file(path: Path, *, config: Any = None, complete: bool = False,
                      recorded: frozenset[str] | set[str] = frozenset(),
                      customer_domain: str | None = None) -> dict[str, Any]:
    """Read and validate an answers file; every problem in it is reported at once.

    With `config`, the partner details of the file are checked together with the config's; with
    `complete` (no terminal to ask on), missing partner details and steps not yet `recorded` are
    problems too, listed with the others."""
    text = read_user_text(path, "answers file", fix="give a JSON, YAML or TOML file of answers keyed by step id",
                          max_bytes=MAX_BYTES)
    parsed = _parse(text, path)
    if not isinstance(parsed, dict):
        raise BadInput(f"The answers file {path} must hold a table keyed by step id (such as intake.customer).")
    try:
        answers = _flatten(parsed)
    except _Twice as exc:
        raise BadInput(f"The answers file {path} gives {exc.step} twice: {exc.how}. Only one answer can count: "
                       "remove the one that is wrong.") from None
    problems: list[str] = []
    if customer_domain and isinstance(answers.get("intake.customer"), dict):
        answers["intake.customer"].setdefault("domain", customer_domain)  # --customer-domain fills it in
        problems += _domain_conflict(answers["intake.customer"]["domain"], customer_domain)
    known = [*STEP_IDS, PARTNER_KEY]
    strangers = []  # keys like no step id: named together, with the step ids once
    for key in answers:
        if key not in known:
            hint = did_you_mean(key, known)
            if hint:
                problems.append(f"{quoted(key, 60)} is not a step id{hint}")
            else:
                strangers.append(quoted(key, 60))
    if strangers:
        named = ", ".join(strangers[:MAX_LISTED]) + (f" and {len(strangers) - MAX_LISTED} more" if len(strangers) > MAX_LISTED else "")
        problems.append(f"{named} {'is not a step id' if len(strangers) == 1 else 'are not step ids'} "
                        f"(the steps are {', '.join(STEP_IDS)}, plus partner)")
    for step_id in STEP_IDS:
        if step_id in answers:
            try:
                parse_answer(step_id, answers[step_id])
            except InvalidAnswer as exc:
                problems.extend(f"{step_id}: {reason}" for reason in exc.reasons)
    problems += _partner_problems(answers.get(PARTNER_KEY), PARTNER_KEY in answers, config, complete=complete)
    if complete:
        missing = [s for s in STEP_IDS if s not in answers and s not in recorded]
        if missing:
            problems.append(f"no answer for {', '.join(missing)}")
    if problems:
        listed = "\n  - ".join(problems[:MAX_LISTED])
        if len(problems) > MAX_LISTED:
            listed += f"\n  - ... and {len(problems) - MAX_LISTED} more"
        fix = "Fix them in the file given to --answers" + (
            ", or run threer triage in a terminal to be asked" if complete else "")
        count = len(problems) + max(len(strangers) - 1, 0)  # each unknown key is a problem of its own
        raise BadInput(f"The answers file {path} has {count} problem{'s' if count > 1 else ''}:"
                       f"\n  - {listed}\n{fix}.")
    return answers


PARTNER_FIELDS = {"domain": "your partner domain", "control_panel_url": "your Control Panel URL, or "
                  "control_panel_na = true", "support_address": "the provider's support address for escalations"}


def _partner_problems(partner: Any, given: bool, config: Any, *, complete: bool) -> list[str]:
    from pydantic import ValidationError

    from threer.config import PartnerConfig
    from threer.errors import validation_problems

    if given and not isinstance(partner, dict):
        return ["partner: must be a table of partner details (domain, control_panel_url, support_address)"]
    problems: list[str] = []
    merged: dict[str, Any] = config.partner.model_dump() if config is not None else {}
    if given:
        try:
            read = PartnerConfig.model_validate(partner)
        except ValidationError as exc:
            fields = list(PartnerConfig.model_fields)
            problems += [f"partner.{p}" for p in validation_problems(exc, known_fields=fields)]
        else:
            if config is not None:
                problems += _partner_conflicts(read, set(partner), config)
        merged.update(partner)
    if complete and config is not None and not problems:
        try:
            missing = PartnerConfig.model_validate(merged)
        except ValidationError:
            return problems
        for key in config.__class__(partner=missing).missing_partner_details():
            field = key.removeprefix("partner.")
            problems.append(f"{key}: missing ({PARTNER_FIELDS.get(field, field)}); give it under partner in the file, "
                            f"or set it once with threer config set {key} VALUE")
    return problems


def _domain_conflict(given: Any, option: str) -> list[str]:
    """--customer-domain and the file's intake.customer naming two domains: which one the call is about is
    not for threer to guess (a template file with the call's domain on the command line checked, recorded
    and escalated the file's)."""
    from threer.domain import DomainError, normalise_domain
    from threer.safe_text import quoted

    try:
        theirs, ours = normalise_domain(given).domain, normalise_domain(option).domain
    except DomainError:
        return []  # an invalid one is reported on its own: by the step's check, or by the option's
    if theirs == ours:
        return []
    return [f"intake.customer: domain is {quoted(theirs)} in the file but --customer-domain gives {quoted(ours)}; "
            "give the customer's domain in one place only"]


def _partner_conflicts(read: Any, given: set[str], config: Any) -> list[str]:
    """A partner detail the config has already, given otherwise in the file: the file fills in missing
    details only. Replacing one would change every later ticket (the escalation address too), and a
    colleague's or a sample file would be enough for that."""
    from threer.safe_text import quoted

    problems = []
    ours = config.partner.model_dump()
    for key, value in read.model_dump().items():
        if key in given and ours.get(key) and value != ours[key]:
            problems.append(f"partner.{key}: the file gives {quoted(str(value))}, the config has "
                            f"{quoted(str(ours[key]))}; an answers file fills in missing partner details only. "
                            f"Remove it from the file, or change the config with threer config set partner.{key} VALUE")
    return problems


def _parse(text: str, path: Path) -> Any:
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return load_json(text)
        if suffix == ".toml":
            return load_toml(text)
        if suffix in {".yaml", ".yml"}:
            return load_yaml(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        kind = {".json": "JSON", ".toml": "TOML"}.get(suffix, "YAML")
        raise BadInput(f"The answers file {path} is not valid {kind}: {_syntax_error(exc)}.") from None
    # no telling suffix: JSON is YAML, so try TOML, then YAML
    try:
        return load_toml(text)
    except tomllib.TOMLDecodeError:
        pass
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise BadInput(f"The answers file {path} is not JSON, YAML or TOML: {_syntax_error(exc)}.") from None


def _syntax_error(exc: Exception) -> str:
    """What the parser said, with the line (and column) where it happened, in one line."""
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        return f"line {mark.line + 1}, column {mark.column + 1}: {what}" if mark else what
    if isinstance(exc, tomllib.TOMLDecodeError):
        import re

        text = _first_line(exc)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)", text)
        if m:
            return f"line {m.group(1)}, column {m.group(2)}: {text[: m.start()] + text[m.end():]}"
        return text
    return _first_line(exc)


class _Twice(Exception):
    def __init__(self, step: str, how: str) -> None:
        super().__init__(step)
        self.step, self.how = step, how


def _flatten(data: dict[str, Any]) -> dict[str, Any]:
    """TOML and YAML may nest `[intake.customer]` as {"intake": {"customer": ...}}: flatten to step ids.
    A step given both ways (`intake.customer` and `intake: {customer: ...}`) is _Twice."""
    out: dict[str, Any] = {}
    nested: set[str] = set()
    for key, value in data.items():
        key = str(key)
        if isinstance(value, dict) and key not in STEP_IDS and key != PARTNER_KEY \
                and any(f"{key}.{k}" in STEP_IDS for k in value):
            for sub, subvalue in value.items():
                name = f"{key}.{sub}"
                if name in out:
                    raise _Twice(name, f"as {name} and inside {key}")
                out[name] = subvalue
                nested.add(name)
        else:
            if key in out:
                raise _Twice(key, f"as {key} and inside {key.split('.', 1)[0]}" if key in nested else f"as {key}")
            out[key] = value
    return out


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
