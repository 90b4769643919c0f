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

from threer.errors import BadInput
from threer.files import read_user_text
from threer.triage.engine import InvalidAnswer, parse_answer
from threer.triage.steps import STEP_IDS

PARTNER_KEY = "partner"
MAX_BYTES = 2_000_000


def load_answers_file(path: Path) -> dict[str, Any]:
    """Read and validate an answers file; every problem in it is reported at once."""
    text = read_user_text(path, "answers file", fix="give a JSON, YAML or TOML file of answers keyed by step id",
                          max_bytes=MAX_BYTES)
    parsed = _parse(text, path)
    if not isinstance(parsed, dict):
        raise BadInput(f"The answers file {path} must hold a table keyed by step id (such as intake.customer).")
    answers = _flatten(parsed)
    problems: list[str] = []
    unknown = [k for k in answers if k not in STEP_IDS and k != PARTNER_KEY]
    if unknown:
        problems.append(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"(the steps are {', '.join(STEP_IDS)}, plus 'partner')"
        )
    for step_id in STEP_IDS:
        if step_id in answers:
            try:
                parse_answer(step_id, answers[step_id])
            except InvalidAnswer as exc:
                problems.append(exc.message.rstrip("."))
    if PARTNER_KEY in answers and not isinstance(answers[PARTNER_KEY], dict):
        problems.append("partner: must be a table of partner details (domain, control_panel_url, support_address)")
    if problems:
        listed = "\n  - ".join(problems)
        raise BadInput(f"The answers file {path} has {len(problems)} problem{'s' if len(problems) > 1 else ''}:\n  - {listed}")
    return answers


def _parse(text: str, path: Path) -> Any:
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix in {".yaml", ".yml"}:
            return yaml.safe_load(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        kind = {".json": "JSON", ".toml": "TOML"}.get(suffix, "YAML")
        raise BadInput(f"The answers file {path} is not valid {kind}: {_first_line(exc)}.") from None
    # no telling suffix: JSON is YAML, so try TOML, then YAML
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInput(f"The answers file {path} is not JSON, YAML or TOML: {_first_line(exc)}.") from None


def _flatten(data: dict[str, Any]) -> dict[str, Any]:
    """TOML and YAML may nest `[intake.customer]` as {"intake": {"customer": ...}}: flatten to step ids."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if key in STEP_IDS or key == PARTNER_KEY:
            out[key] = value
        elif isinstance(value, dict) and any(f"{key}.{k}" in STEP_IDS for k in value):
            for sub, subvalue in value.items():
                out[f"{key}.{sub}"] = subvalue
        else:
            out[key] = value
    return out


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
