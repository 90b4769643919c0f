import json

import pytest

from threer.config import Config, load_config
from threer.errors import BadInput


def test_show_defaults_without_a_file(invoke):
    result = invoke("config", "show", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["config"]["default_profile"] == "auto"
    assert doc["config"]["business_hours"]["timezone"] == "UTC"


def test_init_from_options_then_set_and_show(invoke, threer_env):
    result = invoke("config", "init", "--partner-domain", "Partner.Example", "--control-panel-url", "none",
                    "--support-address", "escalations@provider.example", "--profile", "google")
    assert result.exit_code == 0, result.stderr
    config = load_config(threer_env.config_path)
    assert config.partner.domain == "partner.example"
    assert config.partner.control_panel_na and config.partner.control_panel_url is None
    assert config.missing_partner_details() == []
    assert invoke("config", "set", "business_hours.timezone", "Europe/London").exit_code == 0
    assert invoke("config", "set", "business_hours.holidays", "2026-12-25,2026-12-26").exit_code == 0
    assert invoke("config", "set", "kb_folders", "/srv/kb,/srv/kb2").exit_code == 0
    shown = invoke("config", "show").stdout
    assert 'timezone = "Europe/London"' in shown and "2026-12-25" in shown and "/srv/kb2" in shown
    again = invoke("config", "init", "--partner-domain", "x.example")
    assert again.exit_code == 2 and "--force" in again.stderr


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("partner.domain", "not a domain", "spaces"),
        ("partner.support_address", "nobody", "not an e-mail address"),
        ("partner.control_panel_url", "ftp://x", "web address"),
        ("business_hours.timezone", "Mars/Olympus", "unknown time zone"),
        ("business_hours.days", "mon,funday", "unknown day"),
        ("business_hours.start", "25:00", "start"),
        ("business_hours.end", "08:00", "end must be after start"),
        ("business_hours.holidays", "tomorrow", "holidays"),
        ("nope", "x", "Unknown config key"),
        ("partner.nope", "x", "Unknown config key"),
        ("partner", "x", "Unknown config key"),
        ("partner.control_panel_na", "perhaps", "true or false"),
        # a line break would add an SMTP command or a header line of its own (U+2028 too: it is shown as one)
        ("smtp.host", "smtp.partner.example\r\nRCPT TO:<x@y.example>", "must be one line of text, and this one "
                                                                       "holds '\\r'"),
        ("smtp.host", "smtp.partner.example\u2028x", "holds '\\u2028' (a line break or control character)"),
        ("smtp.host", "smtp partner example", "is not a server name such as smtp.partner.example"),
        ("smtp.user", "sam\n@partner.example", "smtp.user must be one line of text"),
        ("partner.technician", "Sam\u2028Bcc: x@y.example", "the technician's name must be one line of text"),
        ("partner.technician", "Sam\nX-Extra: 1", "holds '\\n'"),
        ("partner.technician", "Sam\u2029", "holds '\\u2029'"),
        # a million days back is before year 1: every later check-dns and triage would have stopped (exit 3)
        ("check_history_days", "1000000", "must be at most 36500"),
    ],
)
def test_set_refuses_bad_values(invoke, threer_env, key, value, reason):
    result = invoke("config", "set", key, value)
    assert result.exit_code == 2
    assert reason in " ".join(result.stderr.split())
    assert not threer_env.config_path.exists()  # nothing half-written


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"partner = [", "not valid TOML"),
        (b"\xff\xfe", "not UTF-8"),
        (b"colour = 'red'\n", "colour: not a field here"),
        (b"[business_hours]\ntimezone = 'Nowhere/Land'\n", "unknown time zone"),
        (b"[smtp]\nhost = \"smtp.partner.example\\u2028x\"\n", "the SMTP server must be one line of text"),
        (b"[partner]\ntechnician = \"Sam\\r\\nBcc: x@y.example\"\n", "the technician's name must be one line"),
        (b"check_history_days = 99999999999999999999999\n", "check_history_days: must be at most 36500"),
    ],
)
def test_bad_config_file_is_a_clear_error(invoke, threer_env, content, reason):
    threer_env.config_path.parent.mkdir(parents=True)
    threer_env.config_path.write_bytes(content)
    result = invoke("config", "show")
    assert result.exit_code == 2
    assert reason in result.stderr and "config file" in result.stderr
    assert threer_env.config_path.read_bytes() == content


def test_one_line_names_and_hosts_are_kept(invoke, threer_env):
    for key, value in [("smtp.host", "smtp.partner.example"), ("smtp.host", "[::1]"), ("smtp.host", "127.0.0.1"),
                       ("smtp.host", "mail.bäckerei.example"), ("partner.technician", "Anne-Marie Dubois-Løvaas"),
                       ("smtp.user", "sam@partner.example")]:
        assert invoke("config", "set", key, value).exit_code == 0, key
    config = load_config(threer_env.config_path)
    assert (config.smtp.host, config.partner.technician) == ("mail.bäckerei.example", "Anne-Marie Dubois-Løvaas")


def test_missing_partner_details():
    assert Config().missing_partner_details() == ["partner.domain", "partner.control_panel_url",
                                                  "partner.support_address"]


def test_validation_error_is_one_sentence():
    from threer.config import set_config_value

    with pytest.raises(BadInput) as exc:
        set_config_value(Config(), "business_hours.days", "")
    assert "at least one working day" in exc.value.message


def test_control_panel_none_means_not_applicable(invoke, threer_env):
    assert invoke("config", "set", "partner.control_panel_url", "none").exit_code == 0
    partner = load_config(threer_env.config_path).partner
    assert partner.control_panel_na and partner.control_panel_url is None
    assert invoke("config", "set", "partner.control_panel_url", "https://cp.partner.example/").exit_code == 0
    partner = load_config(threer_env.config_path).partner
    assert not partner.control_panel_na and partner.control_panel_url == "https://cp.partner.example/"


def test_default_profile_is_checked_when_set_and_named_when_it_breaks(invoke, threer_env, tmp_path):
    bad = invoke("config", "set", "default_profile", "nope")
    assert bad.exit_code == 2 and "Unknown profile" in bad.stderr
    profile = tmp_path / "lab.toml"
    profile.write_text('description = "lab"\n')
    assert invoke("config", "set", "default_profile", str(profile)).exit_code == 0
    profile.unlink()  # the file goes away later
    result = invoke("check-dns", "example.test", "--nameserver", "127.0.0.1:9")
    assert result.exit_code == 2 and "default_profile" in result.stderr


def test_full_day_names_are_accepted(invoke, threer_env):
    assert invoke("config", "set", "business_hours.days", "Monday,tues,WED").exit_code == 0
    assert load_config(threer_env.config_path).business_hours.days == ["mon", "tue", "wed"]


def test_none_is_kept_where_it_is_one_of_the_keys_values(invoke, threer_env):
    assert invoke("config", "set", "smtp.security", "none").exit_code == 0
    assert invoke("config", "set", "default_profile", "none").exit_code == 0
    config = load_config(threer_env.config_path)
    assert config.smtp.security == "none" and config.default_profile == "none"
    shown = json.loads(invoke("config", "show", "--json").stdout)["config"]
    assert shown["default_profile"] == "none" and shown["smtp"]["security"] == "none"
    refused = invoke("config", "set", "smtp.security", "plain")
    assert refused.exit_code == 2 and "starttls, tls, none" in " ".join(refused.stderr.split())


def test_emptying_a_required_text_key_is_said_in_words(invoke, threer_env):
    result = invoke("config", "set", "smtp.security", "")
    assert result.exit_code == 2
    assert "NoneType" not in result.stderr and "empty" in result.stderr


@pytest.mark.parametrize("args", [("kb", "search", "outlook"), ("check-dns", "--dns-only", "example.test"),
                                  ("config", "show")])
def test_a_config_path_that_cannot_even_be_looked_at_is_a_clear_error(tmp_path, args):
    """Not an unexpected error (exit 3): the same happens when a folder on the path is closed to the user."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "THREER_HOME": str(tmp_path / "home"),
           "THREER_CONFIG": str(tmp_path / ("x" * 300) / "config.toml")}  # a name too long to look up
    result = subprocess.run([sys.executable, "-m", "threer", *args], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error: Cannot read the config file ")
    assert "File name too long" in result.stderr and "unexpected" not in result.stderr


def test_init_with_no_option_and_no_terminal_writes_nothing(invoke, threer_env):
    """A script that forgot the options gets exit 2, not an empty file that looks like a set-up."""
    result = invoke("config", "init")
    assert result.exit_code == 2
    assert "Nothing to write" in result.stderr and "--partner-domain" in result.stderr
    assert not threer_env.config_path.exists()
    partial = invoke("config", "init", "--technician", "Sam")
    assert partial.exit_code == 0 and "Still missing" in partial.stderr
