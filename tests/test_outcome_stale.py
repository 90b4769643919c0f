"""When the outcome must be confirmed again: another answer changed after it, even within the same second."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from threer.triage.session import RecordedStep, TriageSession

T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=timezone.utc)


def _session(kb_at: datetime, kb_revision: int, outcome_revision: int = 1) -> TriageSession:
    steps = {
        "research.kb": RecordedStep(step_id="research.kb", status="answered", answer={}, recorded_at=kb_at,
                                    revision=kb_revision),
        "outcome": RecordedStep(step_id="outcome", status="answered", answer={}, recorded_at=T0,
                                revision=outcome_revision),
    }
    return TriageSession(id="20261201-ABCD", created_at=T0, updated_at=T0, steps=steps)


def test_an_answer_changed_a_second_after_the_outcome_makes_it_stale() -> None:
    assert _session(T0 + timedelta(seconds=1), 2).outcome_is_stale()


def test_an_answer_changed_in_the_same_second_is_seen_from_the_revisions_of_this_run() -> None:
    before = {"research.kb": 1, "outcome": 1}
    assert _session(T0, 2).outcome_is_stale(before)
    assert not _session(T0, 2).outcome_is_stale()  # without what this run started from, times alone decide


def test_nothing_changed_or_the_outcome_decided_again_is_not_stale() -> None:
    assert not _session(T0, 1).outcome_is_stale({"research.kb": 1, "outcome": 1})
    assert not _session(T0, 2, outcome_revision=2).outcome_is_stale({"research.kb": 1, "outcome": 1})
    assert not _session(T0 - timedelta(seconds=5), 1).outcome_is_stale()
