"""`sessions delete` and `sessions purge` (review 3 #20, #29): the ticket drafts the triage wrote under
THREER_HOME/tickets/ go with their session, and open sessions touched in the last 24 hours (a triage
paused minutes ago) are kept by `--older-than 0` unless --include-open, while older open sessions are
past the retention period like any other. Real command, real SQLite file."""

import json
import os
import time

from datetime import datetime, timedelta, timezone

from support_sessions import TickingClock, complete_session, incomplete_session

from threer.store import Store


def _drafts(env, session_id):
    folder = env.home / "tickets"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{session_id}.txt", folder / f"{session_id}.eml"]
    for path in paths:
        path.write_text(f"Customer Domain Name: contoso.com\nNotes for {session_id}\n")
    return paths


def test_delete_removes_the_ticket_drafts_and_says_so(invoke, threer_env):
    with Store(threer_env.db_path) as store:
        session_id = complete_session(store)
    drafts = _drafts(threer_env, session_id)
    other = _drafts(threer_env, "20240101-OTHR")  # another session's drafts stay
    result = invoke("sessions", "delete", session_id, "--yes")
    assert result.exit_code == 0, result.stderr
    assert not any(p.exists() for p in drafts) and all(p.exists() for p in other)
    assert f"Deleted {session_id} and its ticket drafts ({session_id}.txt, {session_id}.eml)." in \
        " ".join(result.stderr.split())


def test_purge_keeps_open_sessions_unless_asked_and_removes_drafts(invoke, threer_env):
    with Store(threer_env.db_path) as store:
        closed = complete_session(store)
        paused = incomplete_session(store, clock=TickingClock(datetime.now(timezone.utc) - timedelta(hours=3)))
    closed_drafts, paused_drafts = _drafts(threer_env, closed), _drafts(threer_env, paused)
    orphan = _drafts(threer_env, "20240101-GONE")  # left by a session deleted before drafts went with it
    for path in orphan:
        os.utime(path, (time.time() - 3600, time.time() - 3600))

    result = invoke("sessions", "purge", "--older-than", "0", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["purged"], doc["kept_open"], doc["drafts_left"]) == ([closed], [paused], [])
    assert sorted(doc["drafts_removed"]) == sorted(str(p) for p in closed_drafts + orphan)
    assert all(p.exists() for p in paused_drafts) and not any(p.exists() for p in closed_drafts + orphan)
    assert json.loads(invoke("sessions", "show", paused, "--json").stdout)["status"] == "open"

    human = invoke("sessions", "purge", "--older-than", "0", "--yes")
    err = " ".join(human.stderr.split())
    assert "Purged 0 sessions." in err
    assert (f"Kept 1 open session touched in the last 24 hours (a triage paused or in progress): {paused}; "
            "add --include-open") in err

    gone = invoke("sessions", "purge", "--older-than", "0", "--include-open", "--yes", "--json")
    assert json.loads(gone.stdout)["purged"] == [paused] and not any(p.exists() for p in paused_drafts)
    assert json.loads(invoke("sessions", "list", "--json").stdout)["sessions"] == []


def test_purge_keeps_drafts_newer_than_the_cutoff_whose_session_is_gone(invoke, threer_env):
    recent = _drafts(threer_env, "20261201-NEWR")  # a session of another database, perhaps: not past retention
    result = invoke("sessions", "purge", "--older-than", "30", "--yes", "--json")
    assert json.loads(result.stdout)["drafts_removed"] == [] and all(p.exists() for p in recent)


def test_an_open_session_past_the_retention_period_is_purged(invoke, threer_env):
    """An abandoned triage is customer data past the retention period like a closed one (SPEC: purge
    removes customer data past a retention period): --older-than 30 removes an open session untouched
    for 40 days, without --include-open; one paused a few hours ago stays."""
    long_ago = TickingClock(datetime.now(timezone.utc) - timedelta(days=40))
    with Store(threer_env.db_path) as store:
        abandoned = incomplete_session(store, clock=long_ago)
        paused = incomplete_session(store, clock=TickingClock(datetime.now(timezone.utc) - timedelta(hours=3)))
    result = invoke("sessions", "purge", "--older-than", "30", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["purged"], doc["kept_open"]) == ([abandoned], []), doc
    assert [s["id"] for s in json.loads(invoke("sessions", "list", "--json").stdout)["sessions"]] == [paused]


def test_a_retention_beyond_a_century_is_refused_as_bad_input(invoke):
    """--older-than 99999999999 is a usage error (exit 2) naming the limit, not an unexpected error."""
    result = invoke("sessions", "purge", "--older-than", "99999999999", "--yes")
    assert result.exit_code == 2
    assert "at most 36500" in " ".join(result.stderr.split())
