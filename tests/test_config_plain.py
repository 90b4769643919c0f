"""The config read without pydantic (threer.config_plain) against threer.config's models.

check-dns reads a plain config file itself; whenever it does, pydantic must read the same file to the
same values, and whatever it does not read plainly is left to threer.config (so a bad config gets its
usual error).
"""

from __future__ import annotations

import dataclasses
from datetime import date, time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from threer.config import Config, load_config, save_config
from threer.config_plain import CheckConfig, plain_values, read_for_checks
from threer.errors import BadInput

FIELDS = [f.name for f in dataclasses.fields(CheckConfig)]


def pydantic_reading(data: dict) -> Config | None:
    try:
        return Config.model_validate(data)
    except (ValidationError, BadInput):
        return None


def test_the_defaults_are_the_configs() -> None:
    assert set(FIELDS) <= set(Config.model_fields)
    default = Config()
    assert {name: getattr(default, name) for name in FIELDS} == dataclasses.asdict(CheckConfig())


def test_a_missing_file_is_the_defaults(tmp_path: Path) -> None:
    assert read_for_checks(tmp_path / "none.toml") == CheckConfig()


def test_the_file_config_init_writes_is_read_plainly(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config = Config.model_validate({
        "partner": {"domain": "Partner.Example", "control_panel_url": "https://cp.partner.example/",
                    "support_address": "support@provider.example", "technician": "Ann"},
        "default_profile": "m365", "profiles": ["/tmp/p.toml"], "dkim_selectors": ["S1", "s1", "k2"],
        "business_hours": {"timezone": "Europe/London", "days": ["mon", "tue"], "start": "08:30",
                           "holidays": ["2026-12-25"]},
        "smtp": {"host": "smtp.provider.example", "port": 587, "user": "ann@partner.example", "timeout": 20},
        "blocklists": ["bl.example"], "check_history_days": 30,
    })
    save_config(config, path)
    values = read_for_checks(path)
    assert isinstance(values, CheckConfig)
    assert dataclasses.asdict(values) == {name: getattr(load_config(path), name) for name in FIELDS}


@pytest.mark.parametrize("text", [
    'check_history_days = 0', 'check_history_days = 99999999999999999999999', 'smtp = { password = "x" }', 'colour = true', 'blocklist_mx = "yes"',
    '[business_hours]\nstart = "18:00"\nend = "09:00"', 'database_url = "mysql://db.example/x"',
])
def test_what_is_not_plain_is_read_by_pydantic_as_before(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text + "\n", encoding="utf-8")
    try:
        expected: object = load_config(path)
    except BadInput as exc:
        expected = exc.message
    try:
        got: object = read_for_checks(path)
    except BadInput as exc:
        got = exc.message
    assert got == expected
    assert not isinstance(got, CheckConfig)


_TEXT = st.sampled_from(["", "x", "auto", "m365", " S1 ", "bad selector", "a@b.example", "partner.example",
                         "https://cp.example/", "Europe/London", "Mars/Base", "mon", "tues", "sunday", "09:00",
                         "17:00:00", "25:00", "2026-12-25", "postgresql://db.example/threer",
                         "postgresql://u:pw@db.example/t", "starttls", " TLS ", "ssl"])
_SCALAR = st.one_of(_TEXT, st.booleans(), st.integers(-1, 70000), st.floats(-1, 700) | st.just(float("nan")) | st.just(float("inf")),
                    st.sampled_from([time(9, 0), time(18, 0), date(2026, 12, 25)]))
_VALUE = st.one_of(_SCALAR, st.lists(_SCALAR, max_size=3))
_SECTIONS = {
    "partner": ["domain", "control_panel_url", "control_panel_na", "support_address", "technician", "phone"],
    "business_hours": ["timezone", "days", "start", "end", "holidays"],
    "smtp": ["host", "port", "security", "user", "from_address", "timeout", "ca_bundle", "plain_login", "password"],
}
_CONFIG = st.dictionaries(
    st.sampled_from(["default_profile", "profiles", "dkim_selectors", "kb_folders", "blocklists", "blocklist_mx",
                     "check_history", "check_history_days", "database_url", "colour", *_SECTIONS]),
    _VALUE, max_size=6,
).flatmap(lambda top: st.fixed_dictionaries({
    key: (st.dictionaries(st.sampled_from(_SECTIONS[key]), _VALUE, max_size=4) if key in _SECTIONS else st.just(value))
    for key, value in top.items()
}))


@settings(max_examples=500, deadline=None)
@given(_CONFIG)
def test_a_config_read_plainly_is_the_one_pydantic_reads(data: dict) -> None:
    values = plain_values(data)
    if values is None:
        return  # threer.config reads it, as before
    config = pydantic_reading(data)
    assert config is not None, data
    assert dataclasses.asdict(values) == {name: getattr(config, name) for name in FIELDS}
