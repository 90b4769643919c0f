import json

import pytest
from support_prompter import COMPLETE_ANSWERS

from threer.errors import BadInput
from threer.triage.answers_file import load_answers_file


def test_json(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(COMPLETE_ANSWERS))
    assert load_answers_file(path) == COMPLETE_ANSWERS


def test_yaml_with_bom(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("\ufeffintake.errors: no error shown\nreview.server_rules: none found\n", encoding="utf-8")
    assert load_answers_file(path) == {"intake.errors": "no error shown", "review.server_rules": "none found"}


def test_toml_nested_tables_become_step_ids(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text('[intake.customer]\nname = "Contoso"\ndomain = "contoso.com"\n\n[review]\nserver_rules = "none"\n'
                    '[partner]\ndomain = "partner.example"\n')
    assert load_answers_file(path) == {
        "intake.customer": {"name": "Contoso", "domain": "contoso.com"},
        "review.server_rules": "none",
        "partner": {"domain": "partner.example"},
    }


def test_unknown_suffix_is_sniffed(tmp_path):
    path = tmp_path / "answers"
    path.write_text('{"intake.errors": "no error shown"}')
    assert load_answers_file(path) == {"intake.errors": "no error shown"}


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({
        "intake.customer": {"name": "X", "domain": "not a domain"},
        "intake.isue": "typo",
        "outcome": "resolved",
        "partner": "oops",
    }))
    with pytest.raises(BadInput) as exc:
        load_answers_file(path)
    message = exc.value.message
    assert "4 problems" in message
    assert "'intake.isue'" in message
    assert "intake.customer: 'not a domain' contains spaces" in message
    assert "outcome: a resolved session needs the resolution" in message
    assert "partner: must be a table" in message


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("a.json", b'{"intake.errors": ', "not valid JSON"),
        ("a.toml", b"intake = [", "not valid TOML"),
        ("a.yaml", b"a: [b", "not valid YAML"),
        ("a.json", b"\xff\xfe\x00garbage", "not UTF-8"),
        ("a.json", b"[1, 2]", "table keyed by step id"),
        ("a.yaml", b"", "table keyed by step id"),
    ],
)
def test_bad_files(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadInput) as exc:
        load_answers_file(path)
    assert reason in exc.value.message


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        load_answers_file(tmp_path / "nope.json")
    with pytest.raises(BadInput, match="is a folder"):
        load_answers_file(tmp_path)


def test_huge_file(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b" " * 2_000_001)
    with pytest.raises(BadInput, match="is over 2 MB"):
        load_answers_file(path)
