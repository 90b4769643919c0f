"""`threer db status` and `threer db migrate`, and the team database under the everyday commands."""

import json
import socket
from datetime import datetime, timezone

import pytest

from threer.store import SCHEMA_VERSION, Store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def _local_data(env):
    """A technician's SQLite file: two sessions (one resolved, with a past case), history and a draft."""
    with Store(env.db_path) as store:
        one = store.create_session(NOW, technician="sam", host="desk-3")
        store.record_answer(one, "intake.issue", {"v": 1}, NOW)
        store.record_answer(one, "intake.issue", {"v": 2}, NOW)
        store.save_draft(one, "intake.errors", {"messages": "0x800CCC0E"}, NOW)
        two = store.create_session(NOW, technician="sam", host="desk-3")
        store.record_answer(two, "intake.issue", {"v": 3}, NOW)
        store.put_case(two, title="Outlook loops on the password prompt", body="Resolution: clear the cached "
                       "credentials", tags=["outlook"], domain="contoso.test")
        store.add_check_runs([("contoso.test", "2026-11-26T12:00:00+00:00", "[]", '[["mx.ok","mx","pass","ok"]]')])
    return one, two


def test_status_on_the_default_sqlite_file(invoke, threer_env):
    _local_data(threer_env)
    result = invoke("db", "status", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["backend"] == "sqlite" and doc["location"] == str(threer_env.db_path)
    assert doc["schema_version"] == SCHEMA_VERSION == doc["schema_version_known"]
    assert doc["counts"] == {"sessions": 2, "answers": 2, "answer_history": 1, "drafts": 1, "cases": 1, "check_history": 1}
    human = invoke("db", "status")
    assert "Backend: SQLite" in human.stdout and f"Schema version: {SCHEMA_VERSION}" in human.stdout


def test_migrate_copies_everything_once_and_the_team_database_is_then_used(invoke, threer_env, pg_url, pg_cluster):
    one, two = _local_data(threer_env)
    first = invoke("db", "migrate", "--to", pg_url, "--json")
    assert first.exit_code == 0, first.stderr
    tables = json.loads(first.stdout)["tables"]
    assert {t: n["copied"] for t, n in tables.items()} == {
        "sessions": 2, "answers": 2, "answer_history": 1, "drafts": 1, "cases": 1, "check_history": 1,
        "kb_feedback": 0}
    assert pg_cluster.password not in first.stdout
    again = invoke("db", "migrate", "--to", pg_url, "--json")
    tables = json.loads(again.stdout)["tables"]
    assert {t: n["copied"] for t, n in tables.items()} == {t: 0 for t in tables}
    assert tables["sessions"]["already"] == 2 and tables["answer_history"]["already"] == 1

    env = {"THREER_DATABASE_URL": pg_url}
    status = json.loads(invoke("db", "status", "--json", env=env).stdout)
    assert status["backend"] == "postgresql" and status["url_from"] == "environment"
    assert pg_cluster.password not in status["location"] and status["location"].startswith("postgresql://threer_admin@")
    assert status["counts"] == {"sessions": 2, "answers": 2, "answer_history": 1, "drafts": 1, "cases": 1, "check_history": 1}
    listed = json.loads(invoke("sessions", "list", "--json", env=env).stdout)["sessions"]
    assert {s["id"] for s in listed} == {one, two} and {s["technician"] for s in listed} == {"sam"}
    table = invoke("sessions", "list", env=env).stdout
    assert "technician" in table and "sam @ desk-3" in table
    # the migrated past case is suggested on any machine using the team database
    found = invoke("kb", "search", "cached credentials password prompt", "--source", "case", "--json", env=env)
    assert [r["id"] for r in json.loads(found.stdout)["results"]] == [f"case:{two}"]


def test_a_changed_local_session_is_brought_up_to_date_by_a_second_migrate(invoke, threer_env, pg_url):
    one, _ = _local_data(threer_env)
    invoke("db", "migrate", "--to", pg_url)
    with Store(threer_env.db_path) as store:
        store.record_answer(one, "intake.issue", {"v": 9}, datetime(2026, 11, 27, tzinfo=timezone.utc))
    result = json.loads(invoke("db", "migrate", "--to", pg_url, "--json").stdout)["tables"]
    assert result["sessions"]["copied"] == 1 and result["answers"]["copied"] == 1
    assert result["answer_history"]["copied"] == 1
    shown = json.loads(invoke("sessions", "show", one, "--json", env={"THREER_DATABASE_URL": pg_url}).stdout)
    assert shown["steps"]["intake.issue"]["revision"] == 3


def test_migrate_without_a_local_database_says_what_to_give(invoke, pg_url):
    result = invoke("db", "migrate", "--to", pg_url)
    assert result.exit_code == 2 and "--from FILE" in result.stderr


def test_migrate_refuses_a_url_that_is_not_postgresql(invoke, threer_env):
    _local_data(threer_env)
    result = invoke("db", "migrate", "--to", "mysql://db.example.test/threer")
    assert result.exit_code == 2 and "postgresql://" in result.stderr


def test_a_password_in_the_config_url_is_refused(invoke, threer_env):
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    threer_env.config_path.write_text('database_url = "postgresql://sam:hunter2@127.0.0.1/threer"\n')
    result = invoke("db", "status")
    assert result.exit_code == 2
    assert "holds a password" in result.stderr and "PGPASSWORD or ~/.pgpass" in result.stderr
    assert "hunter2" not in result.stderr
    refused = invoke("config", "set", "database_url", "postgresql://sam:hunter2@127.0.0.1/threer")
    assert refused.exit_code == 2 and "hunter2" not in refused.stderr + refused.stdout


def test_config_set_refuses_a_password_without_echoing_it(invoke, threer_env):
    refused = invoke("config", "set", "database_url", "postgresql://sam:hunter2@127.0.0.1/threer")
    assert refused.exit_code == 2 and "holds a password" in refused.stderr
    assert "hunter2" not in refused.stderr + refused.stdout
    assert "postgresql://sam@127.0.0.1/threer" in refused.stderr
    refused = invoke("config", "set", "database_url", "postgresql://sam@127.0.0.1/threer?password=hunter2")
    assert refused.exit_code == 2 and "hunter2" not in refused.stderr + refused.stdout


@pytest.mark.parametrize(("url", "said"), [
    ("postgresql://[::1", "an IPv6 address must stand in brackets"),
    ("postgresql://sam:hunter2@[::1/threer", "an IPv6 address must stand in brackets"),
    ("postgresql://127.0.0.1:99999999/threer", "a port that is not a number from 1 to 65535"),
    ("postgresql://127.0.0.1:abc/threer", "a port that is not a number from 1 to 65535"),
    ("postgresql://127.0.0.1:0/threer", "a port that is not a number from 1 to 65535"),
    ("postgresql://sam@127.0.0.1/thr%zzeer", "a % that is not followed by two hexadecimal digits"),
])
def test_a_url_that_cannot_be_read_is_bad_input_everywhere(invoke, threer_env, url, said):
    # from the environment, from --to and from config set: one sentence, exit 2, no password shown
    _local_data(threer_env)
    runs = [invoke("db", "migrate", "--to", url), invoke("config", "set", "database_url", url),
            invoke("sessions", "list", env={"THREER_DATABASE_URL": url})]
    for run in runs:
        assert run.exit_code == 2, run.stderr
        assert said in run.stderr and "unexpected" not in run.stderr
        assert "hunter2" not in run.stderr + run.stdout
    assert not threer_env.config_path.exists() or "database_url" not in threer_env.config_path.read_text()


def test_a_password_with_a_bad_percent_escape_is_bad_input_and_never_shown(invoke, threer_env):
    # libpq's message quotes the token it cannot decode: here the password itself
    _local_data(threer_env)
    url = "postgresql://sam:Ab%zzhunter2@127.0.0.1:5432/threer"
    for run in (invoke("db", "migrate", "--to", url), invoke("sessions", "list", env={"THREER_DATABASE_URL": url})):
        assert run.exit_code == 2, run.stderr
        assert "a % that is not followed by two hexadecimal digits" in run.stderr and "%25" in run.stderr
        assert "hunter2" not in run.stderr + run.stdout


def test_an_ipv6_server_is_shown_with_its_brackets(invoke):
    from threer.store_pg import redact_url

    assert redact_url("postgresql://sam:pw@[::1]:5433/threer") == "postgresql://sam@[::1]:5433/threer"
    assert redact_url("postgresql://sam:pw@[::1/threer") == "postgresql://…"


def test_a_bad_sslmode_is_refused_when_set_not_when_connecting(invoke, threer_env):
    refused = invoke("config", "set", "database_url", "postgresql://sam@127.0.0.1/threer?sslmode=bogus")
    assert refused.exit_code == 2
    assert "sslmode cannot be 'bogus'" in refused.stderr and "verify-full" in refused.stderr
    assert "database_url" not in threer_env.config_path.read_text() if threer_env.config_path.exists() else True
    run = invoke("db", "migrate", "--to", "postgresql://sam@127.0.0.1/threer?sslmode=strict")
    assert run.exit_code == 2 and "sslmode cannot be 'strict'" in run.stderr


def test_the_config_url_without_a_password_is_used(invoke, threer_env, pg_url, pg_cluster, monkeypatch):
    without = pg_url.replace(f":{pg_cluster.password}@", "@")
    assert invoke("config", "set", "database_url", without).exit_code == 0
    monkeypatch.setenv("PGPASSWORD", pg_cluster.password)
    status = json.loads(invoke("db", "status", "--json").stdout)
    assert status["backend"] == "postgresql" and status["url_from"] == "config"


def test_a_server_that_is_down_is_one_sentence_and_exit_3(invoke):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://sam:secret@127.0.0.1:{port}/threer"
    for args in (("db", "status"), ("sessions", "list"), ("kb", "search", "outlook")):
        result = invoke(*args, env={"THREER_DATABASE_URL": url})
        assert result.exit_code == 3, (args, result.stderr)
        assert f"The team database postgresql://sam@127.0.0.1:{port}/threer cannot be reached" in result.stderr
        assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_migrate_carries_who_saved_each_answer_and_sessions_show_names_them(invoke, threer_env, pg_url):
    with Store(threer_env.db_path) as store:
        sid = store.create_session(NOW, technician="sam", host="desk-3")
        store.record_answer(sid, "intake.issue", {"status": "answered", "answer": {"description": "first words"}},
                            NOW, expected_revision=0, technician="sam", host="desk-3")
        store.record_answer(sid, "intake.issue", {"status": "answered", "answer": {"description": "second words"}},
                            NOW, expected_revision=1, technician="ana", host="laptop-2")
        try:
            store.record_answer(sid, "intake.issue", {"status": "answered", "answer": {"description": "too late"}},
                                NOW, expected_revision=1, technician="sam", host="desk-3")
        except Exception:  # noqa: BLE001 - the refused answer goes to the history, marked
            pass
    local = json.loads(invoke("sessions", "show", sid, "--json").stdout)
    assert invoke("db", "migrate", "--to", pg_url).exit_code == 0
    team = json.loads(invoke("sessions", "show", sid, "--json", env={"THREER_DATABASE_URL": pg_url}).stdout)
    for doc in (local, team):
        step = doc["steps"]["intake.issue"]
        assert (step["recorded_by"], step["recorded_host"], step["revision"]) == ("ana", "laptop-2", 2)
        assert [(h["recorded_by"], h["recorded_host"], h["superseded"], h["data"]["answer"]["description"])
                for h in doc["history"]] == [("sam", "desk-3", False, "first words"), ("sam", "desk-3", True, "too late")]
    for env in ({}, {"THREER_DATABASE_URL": pg_url}):
        text = " ".join(invoke("sessions", "show", sid, env=env).stdout.split())  # wrapped at 100 columns
        assert "saved by ana on laptop-2, 2026-11-26 12:00 UTC" in text
        assert "History" in text and "revision 1, saved by sam on desk-3" in text
        assert ("refused when typed: a colleague's revision 2 came first (the answer above is the one kept); "
                "typed by sam on desk-3") in text


def _team_session_ids(pg_url):
    import psycopg

    with psycopg.connect(pg_url) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM sessions")}


def test_a_second_migrate_does_not_bring_back_what_the_team_purged_or_deleted(invoke, threer_env, pg_url):
    one, two = _local_data(threer_env)
    with Store(threer_env.db_path) as store:
        three = store.create_session(datetime(2026, 11, 30, tzinfo=timezone.utc), technician="sam", host="desk-3")
    assert invoke("db", "migrate", "--to", pg_url).exit_code == 0
    team = {"THREER_DATABASE_URL": pg_url}
    # a session deleted by hand, then the retention purge of the rest
    assert invoke("sessions", "delete", three, "--yes", env=team).exit_code == 0
    # its sessions are open ones: the purge keeps those unless --include-open
    purged = invoke("sessions", "purge", "--older-than", "0", "--include-open", "--yes", "--json", env=team)
    assert set(json.loads(purged.stdout)["purged"]) == {one, two}, purged.stderr
    assert _team_session_ids(pg_url) == set()

    again = invoke("db", "migrate", "--to", pg_url, "--json")
    assert again.exit_code == 0, again.stderr
    tables = json.loads(again.stdout)["tables"]
    assert tables["sessions"] == {"copied": 0, "already": 0, "clash": 0, "purged": 2, "deleted": 1}
    assert {t: n["copied"] for t, n in tables.items() if t != "check_history"} == {
        t: 0 for t in tables if t != "check_history"}  # nothing of theirs comes back: answers, drafts, the case
    assert _team_session_ids(pg_url) == set()
    human = invoke("db", "migrate", "--to", pg_url)
    text = " ".join(human.stderr.split())
    assert ("sessions: 0 copied, 0 already there, 2 not brought back (purged from the team database: past the "
            "retention period), 1 not brought back (deleted from the team database)") in text
    assert f"Then remove {threer_env.db_path}" in text


def test_a_session_of_the_same_id_made_after_a_purge_is_still_copied(invoke, threer_env, pg_url):
    """What the team removed is known by id and creation time: a new session is not mistaken for it."""
    with Store(threer_env.db_path) as store:
        sid = store.create_session(NOW, technician="sam", host="desk-3")
    assert invoke("db", "migrate", "--to", pg_url).exit_code == 0
    assert invoke("sessions", "delete", sid, "--yes", env={"THREER_DATABASE_URL": pg_url}).exit_code == 0
    with Store(threer_env.db_path) as store:
        store.conn.execute("UPDATE sessions SET created_at = '2026-11-26T13:00:00+00:00', "
                           "updated_at = '2026-11-26T13:00:00+00:00'")
    tables = json.loads(invoke("db", "migrate", "--to", pg_url, "--json").stdout)["tables"]
    assert tables["sessions"]["copied"] == 1 and tables["sessions"]["deleted"] == 0
    assert _team_session_ids(pg_url) == {sid}


def test_migrate_copies_the_outcome_learning_once(invoke, threer_env, pg_url):
    from threer.kb.feedback import record_outcome

    one, two = _local_data(threer_env)
    with Store(threer_env.db_path) as store:
        with store.transaction() as cur:
            record_outcome(cur, session_id=one, doc_id=f"case:{two}", outcome="solved",
                           issue="Outlook keeps asking for the password")
            record_outcome(cur, session_id=two, doc_id="kb-0014", outcome="helped", issue="password prompt loops")
        learnt = {r[0]: r[1] for r in store.conn.execute("SELECT doc_id, created_at FROM kb_feedback")}
    first = json.loads(invoke("db", "migrate", "--to", pg_url, "--json").stdout)["tables"]
    assert first["kb_feedback"] == {"copied": 2, "already": 0}
    again = json.loads(invoke("db", "migrate", "--to", pg_url, "--json").stdout)["tables"]
    assert again["kb_feedback"] == {"copied": 0, "already": 2}
    import psycopg

    with psycopg.connect(pg_url) as conn:
        rows = {r[0]: r[1:] for r in conn.execute("SELECT doc_id, session_id, outcome, created_at FROM kb_feedback")}
    assert rows == {f"case:{two}": (one, "solved", learnt[f"case:{two}"]),
                    "kb-0014": (two, "helped", learnt["kb-0014"])}
    # it lifts the past case in the team's searches as it did on this machine
    found = invoke("kb", "search", "outlook asking for the password", "--source", "case", "--json",
                   env={"THREER_DATABASE_URL": pg_url})
    assert [r["id"] for r in json.loads(found.stdout)["results"]][:1] == [f"case:{two}"]
