"""The team database on a real PostgreSQL server: failures in one sentence, answers kept through an
outage, schema versions, credentials, and several processes at once."""

import os
import stat
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from threer.errors import StoreError
from threer.store import SCHEMA_VERSION
from threer.store_api import StoreOffline
from threer.store_pg import PostgresStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def home(threer_env):
    return threer_env.home


def test_tables_are_created_and_the_version_recorded(pg_url, pg_cluster, home):
    PostgresStore(pg_url, local_home=home).close()
    name = pg_url.rsplit("/", 1)[1]
    assert pg_cluster.admin("SELECT version FROM threer_schema", database=name) == [(SCHEMA_VERSION,)]
    # a second threer finds it current and changes nothing
    with PostgresStore(pg_url, local_home=home) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_an_older_threer_meeting_a_newer_schema_says_so_and_stops(pg_url, pg_cluster, home):
    PostgresStore(pg_url, local_home=home).close()
    name = pg_url.rsplit("/", 1)[1]
    pg_cluster.admin("UPDATE threer_schema SET version = %s", SCHEMA_VERSION + 5, database=name)
    with pytest.raises(StoreError) as exc:
        PostgresStore(pg_url, local_home=home)
    assert "newer threer" in exc.value.message and f"schema {SCHEMA_VERSION + 5}" in exc.value.message
    assert "has not been changed" in exc.value.message
    assert pg_cluster.admin("SELECT version FROM threer_schema", database=name) == [(SCHEMA_VERSION + 5,)]


def test_wrong_credentials_are_one_sentence_without_the_password(pg_cluster, pg_url, home):
    url = pg_url.replace(f":{pg_cluster.password}@", ":not-the-password@")
    with pytest.raises(StoreError) as exc:
        PostgresStore(url, local_home=home)
    message = exc.value.message
    assert "refused the credentials of role threer_admin" in message and "PGPASSWORD or ~/.pgpass" in message
    assert "not-the-password" not in message and pg_cluster.password not in message


def test_a_missing_database_is_named(pg_cluster, home):
    with pytest.raises(StoreError) as exc:
        PostgresStore(pg_cluster.url("no_such_db"), local_home=home)
    assert "does not exist" in exc.value.message and "createdb" in exc.value.message


def test_a_role_without_permission_is_told_so(pg_cluster, pg_url, home):
    PostgresStore(pg_url, local_home=home).close()  # the owner made the tables
    role = f"tech_{os.getpid()}"
    pg_cluster.admin(f"DROP ROLE IF EXISTS {role}")
    pg_cluster.admin(f"CREATE ROLE {role} LOGIN PASSWORD 'tech-pass'")
    try:
        url = pg_cluster.url(pg_url.rsplit("/", 1)[1], user=role, password="tech-pass")
        with pytest.raises(StoreError) as exc:
            PostgresStore(url, local_home=home)
        assert f"The role {role} has no permission" in exc.value.message
        assert "administrator" in exc.value.message and "tech-pass" not in exc.value.message
    finally:
        pg_cluster.admin(f"DROP OWNED BY {role}", database=pg_url.rsplit("/", 1)[1])
        pg_cluster.admin(f"DROP ROLE {role}")


def test_a_technician_meeting_an_older_schema_is_told_who_must_upgrade_it(own_cluster, home):
    """After an upgrade of threer, a technician's role (DML grants only, as the how-to sets up) cannot
    run the migrations: the message says so and names the fix, and nothing is changed."""
    database = own_cluster.new_database()
    PostgresStore(own_cluster.url(database), local_home=home).close()  # the owner made the tables
    own_cluster.admin("UPDATE threer_schema SET version = 6", database=database)  # as if made by an older threer
    own_cluster.admin("ALTER TABLE answers DROP COLUMN recorded_host", database=database)
    own_cluster.admin("ALTER TABLE answer_history DROP COLUMN recorded_host", database=database)
    own_cluster.admin("DROP TABLE removed_sessions", database=database)
    role = f"tech_{os.getpid()}"
    own_cluster.admin(f"CREATE ROLE {role} LOGIN PASSWORD 'tech-pass'")
    own_cluster.admin(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}", database=database)
    own_cluster.admin(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}", database=database)
    with pytest.raises(StoreError) as exc:
        PostgresStore(own_cluster.url(database, user=role, password="tech-pass"), local_home=home)
    message = exc.value.message
    assert f"has schema 6 and this threer needs {SCHEMA_VERSION}" in message
    assert "database owner to run `threer db status`" in message and "tech-pass" not in message
    with PostgresStore(own_cluster.url(database), local_home=home) as owner:  # the owner's run upgrades it
        assert owner.schema_version() == SCHEMA_VERSION
    PostgresStore(own_cluster.url(database, user=role, password="tech-pass"), local_home=home).close()


def test_sslmode_is_passed_to_the_server(pg_url, home):
    # the test cluster has no certificate: requiring TLS must fail plainly, not fall back to clear text
    with pytest.raises(StoreError) as exc:
        PostgresStore(pg_url + "?sslmode=require", local_home=home)
    assert "TLS to the team database" in exc.value.message and "sslmode" in exc.value.message
    PostgresStore(pg_url + "?sslmode=disable", local_home=home).close()


def test_a_dropped_connection_is_reopened_for_the_next_answer(pg_cluster, pg_url, home):
    with PostgresStore(pg_url, local_home=home) as store:
        sid = store.create_session(NOW)
        store.record_answer(sid, "intake.issue", {"v": 1}, NOW)
        # the server ends every other connection (a restart, a VPN hiccup)
        pg_cluster.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'threer'")
        store.record_answer(sid, "intake.customer", {"v": 2}, NOW, expected_revision=0)
        assert set(store.answers(sid)) == {"intake.issue", "intake.customer"}
        assert not store.spool_path.exists()


@pytest.fixture
def own_cluster():
    """A cluster of this test's own, to stop and start (the shared one stays up for the others)."""
    from support_postgres import PostgresCluster, PostgresUnavailable

    try:
        cluster = PostgresCluster.start()
    except PostgresUnavailable as exc:
        if os.environ.get("THREER_REQUIRE_POSTGRES") == "1":
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


def test_an_answer_typed_while_the_server_is_down_is_kept_and_written_when_it_is_back(own_cluster, home):
    url = own_cluster.url(own_cluster.new_database())
    store = PostgresStore(url, local_home=home, connect_timeout=2)
    sid = store.create_session(NOW)
    store.record_answer(sid, "intake.issue", {"v": 1}, NOW, expected_revision=0)
    own_cluster.stop_server()
    with pytest.raises(StoreOffline) as exc:
        store.record_answer(sid, "intake.customer", {"name": "Contoso"}, NOW + timedelta(minutes=1),
                            header={"customer_name": "Contoso"}, expected_revision=0, technician="sam")
    message = exc.value.message
    assert "cannot be reached" in message and "kept on this machine" in message and f"--resume {sid}" in message
    assert own_cluster.password not in message
    with pytest.raises(StoreOffline):
        store.save_draft(sid, "intake.errors", {"messages": "0x800CCC0E"}, NOW + timedelta(minutes=2))
    assert stat.S_IMODE(os.stat(store.spool_path).st_mode) == 0o600
    assert store.pending() == 2
    with pytest.raises(StoreError) as down:  # a new threer while it is still down: one sentence, the spool kept
        PostgresStore(url, local_home=home, connect_timeout=2)
    assert "cannot be reached" in down.value.message and store.pending() == 2
    store.close()
    own_cluster.start_server()
    with PostgresStore(url, local_home=home) as again:
        assert again.pending() == 0 and not again.spool_path.exists()
        answers = again.answers(sid)
        assert answers["intake.customer"][0] == {"name": "Contoso"} and answers["intake.customer"][1:] == (
            "2026-11-26T12:01:00+00:00", 1)
        assert again.get_session_row(sid)["customer_name"] == "Contoso"
        assert again.drafts(sid) == {"intake.errors": {"messages": "0x800CCC0E"}}


_WORKER = textwrap.dedent('''
    import sys
    from datetime import datetime, timedelta, timezone
    from pathlib import Path
    from threer.kb.search import search
    from threer.store_api import AnswerConflict
    from threer.store_pg import PostgresStore

    url, home, shared, me = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    now = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
    store = PostgresStore(url, local_home=home)
    own = store.create_session(now, technician=me, host="desk-" + me)
    ok = conflicts = 0
    for i in range(25):
        # everyone writes one step of the shared session, each from the revision it read
        revision = store.answers(shared).get("intake.issue", (None, None, 0))[2]
        try:
            store.record_answer(shared, "intake.issue", {"by": me, "i": i}, now + timedelta(seconds=i),
                                expected_revision=revision, technician=me)
            ok += 1
        except AnswerConflict:
            conflicts += 1
        store.record_answer(own, f"step.{i}", {"i": i}, now)
        if i % 5 == 0:
            search(store.kb_index(), "mailbox quota full", source="case")
    store.put_case(own, title=f"Mailbox quota full for {me}", body="Symptom: mailbox quota full",
                   tags=["quota"], domain="contoso.test")
    found = [h.id for h in search(store.kb_index(), "mailbox quota", source="case")]
    assert f"case:{own}" in found, found
    print(ok, conflicts, own)
''')


def test_four_processes_triaging_and_searching_at_once_lose_nothing(pg_url, tmp_path):
    with PostgresStore(pg_url, local_home=tmp_path / "main") as store:
        shared = store.create_session(NOW)
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    procs = [subprocess.Popen([sys.executable, str(script), pg_url, str(tmp_path / f"h{n}"), shared, f"tech{n}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(4)]
    results = [p.communicate(timeout=240) for p in procs]
    for proc, (_out, err) in zip(procs, results):
        assert proc.returncode == 0, err
    ok = sum(int(out.split()[0]) for out, _ in results)
    conflicts = sum(int(out.split()[1]) for out, _ in results)
    assert ok + conflicts == 100
    with PostgresStore(pg_url, local_home=tmp_path / "main") as store:
        data, _, revision = store.answers(shared)["intake.issue"]
        assert revision == ok  # every accepted write made one revision: none was overwritten silently
        history = [h for h in store.answer_history(shared) if h["step_id"] == "intake.issue"]
        assert len(history) == (ok - 1) + conflicts  # the replaced ones and the refused ones, all kept
        assert sum(1 for h in history if h["superseded"]) == conflicts
        for out, _ in results:
            assert len(store.answers(out.split()[2])) == 25
        from threer.kb.search import search

        assert len(search(store.kb_index(), "mailbox quota", source="case")) == 4
        assert sorted(r["technician"] for r in store.list_sessions() if r["technician"]) == [
            "tech0", "tech1", "tech2", "tech3"]


def test_a_step_answered_while_the_server_is_down_is_spooled_as_the_answer_not_a_draft(own_cluster, home):
    """The dropped-VPN call: fields typed after the server went away, then the step's last Enter."""
    from threer.triage.answers import ReproducedAnswer
    from threer.triage.engine import TriageEngine

    url = own_cluster.url(own_cluster.new_database())
    store = PostgresStore(url, local_home=home, connect_timeout=2)
    engine = TriageEngine.new(store, clock=lambda: NOW, technician="sam", host="desk-7")
    sid = engine.session_id
    own_cluster.stop_server()
    engine.save_draft("replicate.reproduced", {"reproduced": "yes"})  # no stop between two fields
    answer = engine.parse("replicate.reproduced", {"reproduced": "yes", "how": "asked Anna to send a test"})
    assert isinstance(answer, ReproducedAnswer)
    with pytest.raises(StoreOffline) as exc:
        engine.record("replicate.reproduced", answer)
    assert "kept on this machine" in exc.value.message and f"--resume {sid}" in exc.value.message
    store.close()
    own_cluster.start_server()
    with PostgresStore(url, local_home=home) as again:
        assert again.pending() == 0
        recorded = again.answers(sid)["replicate.reproduced"][0]
        assert "asked Anna to send a test" in str(recorded)
        assert again.drafts(sid) == {}
