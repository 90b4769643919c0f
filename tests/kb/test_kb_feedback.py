"""Learning from outcomes: what solved earlier sessions ranks higher for issues like theirs, and leaves with them."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from support_sessions import ESCALATION, make_session

from threer.kb.search import search
from threer.store import Store
from threer.triage.actions import index_resolved_case, learn_from_session
from threer.triage.engine import load_session

TARGET = "kb-0038-retention-archive-policy"

# three technicians, three wordings of one problem, one article that solved it each time
ISSUES = [
    "Customer says the messages from two summers ago have gone from her Inbox",
    "All the mail from 2022 went missing overnight, the user is frantic",
    "Inbox only shows recent emails now, the older threads are not there any more",
]
FOURTH = "threads from 2022 not showing for the user any more"


def resolved(store: Store, description: str, *, worked: list[str], tried: list[str] | None = None) -> str:
    answers = copy.deepcopy(ESCALATION)
    answers["intake.issue"] = {"description": description, "affected_users": "ann@contoso.com", "started": "today"}
    answers["intake.errors"] = "no error shown"
    answers["research.prior"] = {"tried": [], "outcome": "nothing matched"}
    answers["research.kb"] = {"articles": tried or worked, "worked": worked, "outcome": "the article's steps fixed it"}
    answers["outcome"] = {"decision": "resolved", "resolution": "Explained the archive and moved the folders back."}
    session_id = make_session(store, answers)
    index_resolved_case(store, load_session(store, session_id))
    return session_id


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "threer.db") as s:
        yield s


def first(store: Store, query: str, **kw) -> list[str]:
    return [r.id for r in search(store, query, limit=5, **kw)]


def test_three_solved_sessions_make_a_fourth_paraphrase_find_the_article_first(store):
    before = first(store, FOURTH)
    assert before[0] != TARGET  # the words alone do not find it first: the test is not trivial
    for issue in ISSUES:
        resolved(store, issue, worked=[TARGET])
    after = first(store, FOURTH)
    assert after[0] == TARGET, after
    assert first(store, FOURTH, disabled={"feedback"})[0] != TARGET  # it is the learning that lifts it


def test_one_session_lifts_less_than_three(store):
    resolved(store, ISSUES[0], worked=[TARGET])
    one = next(r.score for r in search(store, FOURTH, limit=20) if r.id == TARGET)
    for issue in ISSUES[1:]:
        resolved(store, issue, worked=[TARGET])
    three = next(r.score for r in search(store, FOURTH, limit=20) if r.id == TARGET)
    assert three > one


def test_an_unrelated_query_is_not_lifted(store):
    for issue in ISSUES:
        resolved(store, issue, worked=[TARGET])
    assert first(store, "0x800CCC0E cannot connect")[0] != TARGET


def test_tried_but_not_helpful_lifts_nothing_and_the_learning_leaves_with_the_session(store):
    helpful = resolved(store, ISSUES[0], worked=[TARGET], tried=[TARGET, "kb-0021-ost-rebuild"])
    rows = store.conn.execute("SELECT doc_id, outcome FROM kb_feedback ORDER BY doc_id").fetchall()
    assert [tuple(r) for r in rows] == [("kb-0021-ost-rebuild", "not-helpful"), (TARGET, "solved")]
    store.delete_session(helpful)
    assert store.conn.execute("SELECT count(*) FROM kb_feedback").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM kb_feedback_fts").fetchone()[0] == 0


def test_ids_in_no_index_are_not_learned(store):
    session_id = resolved(store, ISSUES[1], worked=["no-such-article"])
    assert learn_from_session(store, load_session(store, session_id)) == 0
    assert store.conn.execute("SELECT count(*) FROM kb_feedback").fetchone()[0] == 0
