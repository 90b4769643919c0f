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
    assert "intake.customer: domain: 'not a domain' contains spaces" in message
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


def _problems(path, **kwargs) -> str:
    with pytest.raises(BadInput) as exc:
        load_answers_file(path, **kwargs)
    return exc.value.message


JARGON = ("Extra inputs", "Input should", "Value error", "Field required", "pydantic")


def test_a_misspelt_field_is_named_with_what_was_meant_and_no_jargon(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("replicate.reproduced:\n  reprodcued: 'yes'\n  how: test PC\n"
                    "replicate.environment:\n  os: Windows 11\n  os_verison: 23H2\n  client: Outlook\n  client_version: 1\n"
                    "replicate.reproducd: 'yes'\n", encoding="utf-8")
    message = _problems(path)
    assert "replicate.reproduced: reprodcued: not a field here (did you mean reproduced?)" in message
    assert "replicate.environment: os_verison: not a field here (did you mean os_version?)" in message
    assert "'replicate.reproducd' is not a step id (did you mean replicate.reproduced?)" in message
    assert "reproduced: missing" not in message  # the misspelling says it; not a second "missing"
    assert not any(word in message for word in JARGON), message


def test_unquoted_yaml_yes_and_no(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("replicate.reproduced:\n  reproduced: yes\n  how: on a test PC\nreview.server_rules: no\n"
                    "review.owa:\n  login: yes\n  send: no\n  receive: not tried\n", encoding="utf-8")
    message = _problems(path)
    # reproduced and the OWA answers take yes/no as YAML reads them; a text field says why it failed
    assert "1 problem:" in message
    assert "review.server_rules: the answer is false, not text (YAML reads an unquoted yes, no, on or off" in message


def test_a_literal_out_of_range_says_the_choices(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"replicate.reproduced": {"reproduced": "sometimes", "how": "x"},
                                "outcome": {"decision": "maybe"}}))
    message = _problems(path)
    assert "replicate.reproduced: reproduced: 'sometimes' is not one of yes, no or intermittent" in message
    assert "outcome: decision: 'maybe' is not one of resolved or escalate" in message
    assert not any(word in message for word in JARGON), message


def test_every_field_of_a_step_is_reported_not_only_the_first(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"intake.issue": {"description": ""}}))
    message = _problems(path)
    assert "the description of the issue is required" in message
    assert "affected_users: missing (the affected user(s))" in message
    assert "started: missing (when it started)" in message


def test_missing_partner_details_are_listed_with_the_other_problems(tmp_path):
    from threer.config import Config

    answers = {k: v for k, v in COMPLETE_ANSWERS.items() if k != "research.web"}
    answers["partner"] = {"domain": "partner.example", "control_panel_na": True, "technicain": "Sam"}
    answers["replicate.reproduced"] = {"reproduced": "yes"}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(answers))
    message = _problems(path, config=Config(), complete=True)
    assert "partner.technicain: not a field here (did you mean technician?)" in message
    assert "replicate.reproduced: how: missing" in message
    assert "no answer for research.web" in message
    # the partner table is not valid, so its missing keys come once it is: fix the table first
    answers["partner"].pop("technicain")
    path.write_text(json.dumps(answers))
    message = _problems(path, config=Config(), complete=True)
    assert "partner.support_address: missing (the provider's support address for escalations)" in message
    assert "replicate.reproduced: how: missing" in message and "no answer for research.web" in message
    assert "3 problems" in message


@pytest.mark.parametrize(("name", "content", "where"), [
    ("a.yaml", "intake.errors: no error shown\nreview.server_rules: [a\n", "line 3, column 1"),
    ("a.yaml", "intake.errors: x\n  bad: indent\n", "line 2, column 6"),
    ("a.toml", 'a = "x"\nb = \n', "line 2, column 5"),
    ("a.json", '{\n  "intake.errors": "x",\n}\n', "line 3, column 1"),
])
def test_syntax_errors_give_the_line(tmp_path, name, content, where):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert where in _problems(path)


@pytest.mark.parametrize(("name", "text", "said"), [
    # a step pasted twice: the parsers would keep the last one without a word
    ("twice.yaml", "intake.errors: no error shown\nintake.customer: {name: Contoso, domain: contoso.com}\n"
                   "intake.customer: {name: Wrong Customer, domain: wrong.example}\n",
     "not valid YAML: line 3, column 1: the key 'intake.customer' is given twice"),
    ("twice.json", '{"intake.customer": {"name": "Contoso", "domain": "contoso.com"},\n'
                   ' "intake.customer": {"name": "Wrong Customer", "domain": "wrong.example"}}',
     "not valid JSON: line 2, column 2: the key 'intake.customer' is given twice"),
    ("field.json", '{"intake.customer": {"name": "Contoso", "name": "Wrong", "domain": "contoso.com"}}',
     "the key 'name' is given twice"),
    ("twice.toml", 'partner = {domain = "a.example"}\n"intake.errors" = "one"\n"intake.errors" = "two"\n',
     "not valid TOML: line 3"),
    ("both.yaml", "intake.errors: one\nintake:\n  errors: two\n",
     "gives intake.errors twice: as intake.errors and inside intake"),
    ("both.toml", '"intake.errors" = "one"\n[intake]\nerrors = "two"\n',
     "gives intake.errors twice: as intake.errors and inside intake"),
])
def test_a_key_given_twice_is_refused_and_named(tmp_path, name, text, said):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    message = _problems(path)
    assert said in message, message
    assert "Wrong Customer" not in message


def test_keys_a_yaml_merge_brings_in_may_be_given_again(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("intake.customer:\n  <<: {name: Template, domain: template.example}\n  name: Contoso Ltd\n",
                    encoding="utf-8")
    assert load_answers_file(path)["intake.customer"] == {"name": "Contoso Ltd", "domain": "template.example"}


def test_every_bad_field_of_one_step_is_listed(tmp_path):
    # the customer's domain is normalised before its fields are read: its problem must not hide the name's
    path = tmp_path / "b2.yaml"
    path.write_text("intake.customer: {name: [1, 2], domain: 42}\n", encoding="utf-8")
    message = _problems(path)
    assert "has 2 problems" in message
    assert "intake.customer: name: the customer name must be text" in message
    assert "intake.customer: domain: the customer domain must be text, such as contoso.com" in message
    path.write_text("intake.customer: {name: [1, 2], domain: 'not a domain'}\n", encoding="utf-8")
    message = _problems(path)
    assert "has 2 problems" in message and "name: the customer name must be text" in message


def test_a_step_given_as_a_list_is_its_list_field(tmp_path):
    # replicate.services is a list of services: written as one, it is that list
    from threer.triage.engine import parse_answer

    path = tmp_path / "s.yaml"
    path.write_text("replicate.services: [webmail, activesync]\nreplicate.environment: [1]\n", encoding="utf-8")
    message = _problems(path)
    assert "has 1 problem" in message and "replicate.services" not in message
    assert "replicate.environment: the answer must be a text or a table of its fields (os, os_version, client" in message
    assert parse_answer("replicate.services", ["webmail", "activesync"]).enabled == ["webmail", "activesync"]


@pytest.mark.parametrize(("text", "line"), [
    ('{"a": {"name": 1},\n "b": {"name": 2,\n "name": 3}}', 3),  # the same key in another object before it
    ('{"x": "name",\n "name": 1,\n "name": 2}', 3),  # the key's text as a value before it
    ('{"caf\u00e9": 1,\n "caf\u00e9": 2}', 2),  # a key beyond ASCII
])
def test_the_line_of_a_json_key_given_twice_is_where_it_stands_again(text, line):
    import json as json_module

    from threer.files import load_json

    with pytest.raises(json_module.JSONDecodeError) as exc:
        load_json(text)
    assert exc.value.lineno == line and "is given twice" in exc.value.msg


def test_many_unknown_keys_make_a_short_message(tmp_path):
    """A file of thousands of stray keys (a wrong file given) is said in a few lines, not one a key."""
    path = tmp_path / "a.json"
    keys = {f"column{n}": n for n in range(5000)}
    keys["bad\x1b[2Jkey"] = 1
    path.write_text(json.dumps(keys), encoding="utf-8")
    message = _problems(path)
    assert "has 5001 problems" in message
    assert len(message.splitlines()) < 5
    assert "'column0', 'column1'" in message and "and 4981 more are not step ids (the steps are intake.customer" in message
    assert "\x1b" not in message


def test_a_long_list_of_problems_is_cut_with_a_count(tmp_path):
    path = tmp_path / "a.json"
    answers = {"replicate.environment": {f"field{n}": 1 for n in range(30)}}
    path.write_text(json.dumps(answers), encoding="utf-8")
    message = _problems(path)
    listed = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(listed) == 21 and listed[-1].startswith("  - ... and ") and listed[-1].endswith(" more")
