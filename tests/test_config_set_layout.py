"""`config set` changes one key's line and keeps the rest of a hand-written file: comments, order,
blank lines (review 3 #28); `none` clears a list (review 3 #24). Real command, real file."""

import pytest

from threer.config import load_config

HAND_WRITTEN = """\
# threer config for bluefin, by hand
default_profile = "auto"
blocklists = ["bl.review3.example"]   # our lab list

[partner]
domain = "bluefin-it.example"
# my comment about the support address
support_address = "esc@hostedmail-provider.example"

[business_hours]
timezone = "UTC"
holidays = [
    2026-12-25,  # Christmas
    2026-12-26,
]

[smtp]
host = "127.0.0.85"  # relay
"""


@pytest.fixture
def hand_written(threer_env):
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    threer_env.config_path.write_text(HAND_WRITTEN)
    return threer_env.config_path


def test_set_changes_one_line_and_keeps_comments(invoke, hand_written):
    result = invoke("config", "set", "smtp.host", "127.0.0.86")
    assert result.exit_code == 0, result.stderr
    assert " ".join(result.stderr.split()) == f"Saved smtp.host in {hand_written}."
    assert hand_written.read_text() == HAND_WRITTEN.replace('host = "127.0.0.85"  # relay', 'host = "127.0.0.86"  # relay')


def test_a_new_key_goes_at_the_end_of_its_table_and_a_new_table_at_the_end(invoke, hand_written):
    assert invoke("config", "set", "partner.technician", "Rosa").exit_code == 0
    assert invoke("config", "set", "check_history_days", "90").exit_code == 0
    text = hand_written.read_text()
    assert 'support_address = "esc@hostedmail-provider.example"\ntechnician = "Rosa"\n\n[business_hours]' in text
    assert 'blocklists = ["bl.review3.example"]   # our lab list\ncheck_history_days = 90\n\n[partner]' in text
    assert "# my comment about the support address" in text and "# Christmas" in text
    # nothing else spelled out: no defaults written
    assert "profiles" not in text and "security" not in text
    config = load_config(hand_written)
    assert (config.partner.technician, config.check_history_days, config.smtp.host) == ("Rosa", 90, "127.0.0.85")


def test_a_multi_line_value_is_replaced_whole(invoke, hand_written):
    assert invoke("config", "set", "business_hours.holidays", "2026-12-03").exit_code == 0
    text = hand_written.read_text()
    assert 'timezone = "UTC"\nholidays = ["2026-12-03"]\n\n[smtp]' in text and "Christmas" not in text
    assert [str(d) for d in load_config(hand_written).business_hours.holidays] == ["2026-12-03"]


def test_none_clears_a_list(invoke, hand_written):
    result = invoke("config", "set", "business_hours.holidays", "none")
    assert result.exit_code == 0, result.stderr
    assert load_config(hand_written).business_hours.holidays == []
    assert invoke("config", "set", "blocklists", "none").exit_code == 0
    assert load_config(hand_written).blocklists == []
    assert "blocklists = []   # our lab list" in hand_written.read_text()


def test_clearing_a_key_removes_its_line(invoke, hand_written):
    assert invoke("config", "set", "smtp.host", "none").exit_code == 0
    text = hand_written.read_text()
    assert "host =" not in text and text.endswith("[smtp]\n")
    assert load_config(hand_written).smtp.host is None


def test_a_layout_it_cannot_edit_is_written_anew_and_said(invoke, threer_env):
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    threer_env.config_path.write_text('# mine\npartner = { domain = "bluefin-it.example" }\n')
    result = invoke("config", "set", "partner.technician", "Rosa")
    assert result.exit_code == 0, result.stderr
    assert "written anew" in result.stderr and "comments are gone" in result.stderr
    config = load_config(threer_env.config_path)
    assert (config.partner.domain, config.partner.technician) == ("bluefin-it.example", "Rosa")


def test_a_refused_value_leaves_the_file_alone(invoke, hand_written):
    result = invoke("config", "set", "business_hours.timezone", "Mars/Olympus")
    assert result.exit_code == 2
    assert hand_written.read_text() == HAND_WRITTEN
