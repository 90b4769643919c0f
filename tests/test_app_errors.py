"""Errors that can surface under any command: a database damaged past its header, a closed pipe."""

import os
import subprocess
import sys

import pytest
from support_db import page_size


def test_database_damaged_inside_is_reported_not_a_crash(invoke, threer_env):
    assert invoke("kb", "search", "outlook").exit_code == 0  # creates the database with the sample KB
    size = threer_env.db_path.stat().st_size
    page = page_size(threer_env.db_path)
    with open(threer_env.db_path, "r+b") as fh:  # keep the header page, ruin every page after it
        fh.seek(page)
        fh.write(b"\xff" * (size - page))
    damaged = threer_env.db_path.read_bytes()
    result = invoke("kb", "search", "outlook")
    assert result.exit_code == 3
    assert "is damaged" in result.stderr and "has not been changed" in result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
    assert threer_env.db_path.read_bytes() == damaged


def test_reader_closing_the_pipe_ends_quietly(threer_env):
    env = {**os.environ, "THREER_HOME": str(threer_env.home), "THREER_CONFIG": str(threer_env.config_path)}
    cmd = f"{sys.executable} -m threer kb search password --limit 50 | head -c 1 >/dev/null"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 141), proc.stderr  # 141: ended by SIGPIPE, as Unix tools are
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


@pytest.mark.parametrize(("args", "said"), [
    (["kb", "search", "outlook", "--limit", "0"], "--limit' / '-n': must be at least 1, not 0"),
    (["kb", "search", "outlook", "--limit", "500"], "must be at most 200, not 500"),
    (["kb", "search", "outlook", "--limit", "many"], "'many' is not a number"),
    (["sessions", "purge", "--older-than", "-3"], "'--older-than': must be at least 0, not -3"),
    (["sessions", "list", "--limit", "0"], "must be at least 1, not 0"),
])
def test_an_option_out_of_range_is_said_in_plain_words(invoke, threer_env, args, said):
    result = invoke(*args)
    assert result.exit_code == 2
    assert said in result.stderr
    assert "Input should be" not in result.stderr and "Traceback" not in result.stderr


def test_sessions_list_help_names_the_statuses(invoke, threer_env):
    result = invoke("sessions", "list", "--help")
    assert "--status open|resolved|escalated" in result.stdout and "--status TEXT" not in result.stdout
