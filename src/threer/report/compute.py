"""Computing the escalation report from the sessions in the store (pure: no store, no clock of its own).

Avoidable escalations, by two rules, judged only on what the sessions recorded (never guessed):
- `match-worked`: research.prior showed a match (a past case, or a KB article) that had already solved
  the same kind of problem in a session resolved at the partner level before this one was researched;
- `solved-later`: a session resolved later solved the same kind of problem with an article or past case
  that already existed when this one was escalated (a past case resolved before it was opened; a KB
  article that was in the index before it was opened, or one of the sample articles).
"Same kind of problem": the resolved session's kind labels include the escalated one's category
(`categories`; never a shared `warn` DNS finding alone, nor a `fail` one neither session points at).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from threer.config import BusinessHours
from threer.kb.cases import CASE_PREFIX, case_id
from threer.report import categories as cat
from threer.report.model import (
    GROUPINGS,
    Avoidable,
    Count,
    Durations,
    GroupRow,
    Overdue,
    Report,
    Tally,
    WeekRow,
)
from threer.report.period import Period
from threer.ticket.followup import follow_up
from threer.triage import answers as a
from threer.triage.session import TriageSession

TOP = 10  # error codes and DNS findings shown


@dataclass(frozen=True)
class Article:
    """What the report needs to know about a KB article: since when it has been in the index."""

    origin: str  # file | sample | web
    indexed_at: datetime | None


def build_report(sessions: Iterable[TriageSession], articles: dict[str, Article], *, period: Period,
                 by: str | None, now: datetime, calendar: BusinessHours) -> Report:
    """The report over the sessions opened in `period`; `sessions` is every session in the store, so a
    later resolution can show an escalation was avoidable."""
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    everything = list(sessions)
    facts = {s.id: cat.facts(s) for s in everything}
    cohort = sorted((s for s in everything if period.since <= s.created_at < period.until),
                    key=lambda s: (s.created_at, s.id))
    zone = ZoneInfo(period.timezone)

    categories = _groups(cohort, lambda s: facts[s.id].category)
    groups: list[GroupRow] = []
    if by == "technician":
        groups = _groups(cohort, lambda s: s.technician or "unrecorded")
    elif by == "customer":
        groups = _groups(cohort, lambda s: s.customer_domain or s.customer_name or "unknown")
    elif by == "category":
        groups = categories
    elif by == "week":
        groups = [GroupRow(key=w.week, **w.model_dump(exclude={"week", "starts"})) for w in _weeks(cohort, period, zone)]

    overdue = []
    for s in cohort:
        if s.status != "escalated":
            continue
        f = follow_up(s, calendar, now)
        if f.overdue and f.due and f.counted_from and f.basis != "none":
            overdue.append(Overdue(id=s.id, customer_domain=s.customer_domain, due=f.due, basis=f.basis,
                                   counted_from=f.counted_from, business_hours=f.business_hours))

    return Report(
        generated_at=now, since=period.since, until=period.until, timezone=period.timezone, by=by,
        totals=_tally(cohort), weeks=_weeks(cohort, period, zone), groups=groups, categories=categories,
        avoidable=avoidable(cohort, everything, facts, articles),
        time_to_resolve=_durations(s for s in cohort if s.status == "resolved"),
        time_to_escalate=_durations(s for s in cohort if s.status == "escalated"),
        overdue=overdue,
        error_codes=_top(code for s in cohort for code in facts[s.id].errors),
        dns_findings=_top(f for s in cohort for f in facts[s.id].dns),
    )


def _tally(sessions: Iterable[TriageSession]) -> Tally:
    counts = Counter(s.status for s in sessions)
    closed = counts["resolved"] + counts["escalated"]
    return Tally(sessions=sum(counts.values()), open=counts["open"], resolved=counts["resolved"],
                 escalated=counts["escalated"],
                 escalation_rate=round(counts["escalated"] / closed, 4) if closed else None)


def _groups(sessions: list[TriageSession], key) -> list[GroupRow]:  # type: ignore[no-untyped-def]
    buckets: dict[str, list[TriageSession]] = {}
    for s in sessions:
        buckets.setdefault(key(s), []).append(s)
    rows = [GroupRow(key=k, **_tally(v).model_dump()) for k, v in buckets.items()]
    return sorted(rows, key=lambda r: (-r.sessions, -r.escalated, r.key))


def _weeks(sessions: list[TriageSession], period: Period, zone: ZoneInfo) -> list[WeekRow]:
    """Every ISO week the period touches, empty ones too, so the trend has no gaps."""
    def monday(dt: datetime) -> date:
        day = dt.astimezone(zone).date()
        return day - timedelta(days=day.weekday())

    by_week: dict[date, list[TriageSession]] = {}
    for s in sessions:
        by_week.setdefault(monday(s.created_at), []).append(s)
    rows = []
    week = monday(period.since)
    last = monday(period.until - timedelta(microseconds=1))
    while week <= last:
        iso = week.isocalendar()
        rows.append(WeekRow(week=f"{iso.year}-W{iso.week:02d}", starts=week.isoformat(),
                            **_tally(by_week.get(week, [])).model_dump()))
        week += timedelta(days=7)
    return rows


def _durations(sessions: Iterable[TriageSession]) -> Durations:
    minutes = [(s.closed_at - s.created_at).total_seconds() / 60 for s in sessions if s.closed_at]
    if not minutes:
        return Durations()
    return Durations(count=len(minutes), median_minutes=round(statistics.median(minutes), 1),
                     mean_minutes=round(statistics.fmean(minutes), 1), max_minutes=round(max(minutes), 1))


def _top(items: Iterable[str]) -> list[Count]:
    counted = Counter(items)
    return [Count(key=k, count=n) for k, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]


# -- avoidable escalations ------------------------------------------------------------------------

class _Evidence:
    """The resolved sessions, indexed so each escalation is compared only with those sharing a label."""

    def __init__(self, everything: list[TriageSession], facts: dict[str, cat.Facts]) -> None:
        self.by_id = {s.id: s for s in everything}
        self.facts = facts
        self.resolved = sorted((s for s in everything if s.status == "resolved" and s.closed_at),
                               key=lambda s: (s.closed_at, s.id))
        self.items = {s.id: facts[s.id].solved for s in self.resolved}  # what each resolved session was solved with
        self.rank = {s.id: i for i, s in enumerate(self.resolved)}
        self.by_label: dict[str, list[TriageSession]] = {}
        for s in self.resolved:
            for label in facts[s.id].kind:
                self.by_label.setdefault(label, []).append(s)

    def same_kind(self, session: TriageSession) -> Iterator[TriageSession]:
        """Resolved sessions whose kind labels include `session`'s category, in the order they were closed."""
        if not self.facts[session.id].kind:
            return iter(())
        return iter(self.by_label.get(self.facts[session.id].category, []))

    def is_same_kind(self, session: TriageSession, other: TriageSession) -> bool:
        mine = self.facts[session.id]
        return bool(mine.kind) and mine.category in self.facts[other.id].kind

    def shared(self, session: TriageSession, other: TriageSession) -> list[str]:
        """The kind labels the two have in common, `session`'s category first."""
        theirs = set(self.facts[other.id].kind)
        return [label for label in self.facts[session.id].kind if label in theirs]


def avoidable(cohort: list[TriageSession], everything: list[TriageSession], facts: dict[str, cat.Facts],
              articles: dict[str, Article]) -> list[Avoidable]:
    evidence = _Evidence(everything, facts)
    found = []
    for session in cohort:
        if session.status != "escalated":
            continue
        reason = _match_worked(session, evidence) or _solved_later(session, evidence, articles)
        if reason:
            found.append(reason)
    return found


def _match_worked(session: TriageSession, evidence: _Evidence) -> Avoidable | None:
    prior = session.answer("research.prior")
    rec = session.steps.get("research.prior")
    if not isinstance(prior, a.PriorAnswer) or rec is None:
        return None
    researched = rec.recorded_at
    category = evidence.facts[session.id].category
    for match in prior.matches:
        item = str(match.get("id") or "")
        if not item:
            continue
        tried = _how_tried(session, item)
        if item.lower().startswith(CASE_PREFIX):
            case = evidence.by_id.get(item[len(CASE_PREFIX):].upper())
            if (case and case.status == "resolved" and case.closed_at and case.closed_at <= researched
                    and evidence.is_same_kind(session, case)):
                common = evidence.shared(session, case)
                return Avoidable(
                    id=session.id, rule="match-worked", evidence=case_id(case.id), solved_in=case.id,
                    category=category, labels=common,
                    why=f"Research showed past case {case_id(case.id)}, resolved at the partner level on "
                        f"{case.closed_at:%Y-%m-%d} for the same problem ({', '.join(common)}); {tried}.")
            continue
        for other in evidence.same_kind(session):
            if other.closed_at and other.closed_at <= researched and item in evidence.items[other.id]:
                common = evidence.shared(session, other)
                return Avoidable(
                    id=session.id, rule="match-worked", evidence=item, solved_in=other.id, category=category,
                    labels=common,
                    why=f"Research showed {item}, which solved the same problem ({', '.join(common)}) in "
                        f"{other.id} on {other.closed_at:%Y-%m-%d}; {tried}.")
    return None


def _how_tried(session: TriageSession, item: str) -> str:
    """Whether the technician tried a match research showed: listed as tried or as the fix in
    research.prior, or as an article used or the fix in research.kb (ids compared without case)."""
    tried: set[str] = set()
    marked: set[str] = set()
    prior = session.answer("research.prior")
    if isinstance(prior, a.PriorAnswer):
        tried.update(prior.tried)
        marked.update(prior.worked)
    kb = session.answer("research.kb")
    if isinstance(kb, a.KbAnswer):
        tried.update(kb.articles)
        marked.update(kb.worked)
    wanted = item.strip().lower()
    if wanted in {entry.strip().lower() for entry in marked}:
        return "it was tried and marked as the fix, which did not hold"
    return "it was tried" if wanted in {entry.strip().lower() for entry in tried} else "it was not tried"


def _solved_later(session: TriageSession, evidence: _Evidence, articles: dict[str, Article]) -> Avoidable | None:
    category = evidence.facts[session.id].category
    for other in evidence.same_kind(session):
        if other.created_at <= session.created_at:
            continue
        for item in evidence.items[other.id]:
            if not _existed(item, session.created_at, evidence.by_id, articles):
                continue
            common = evidence.shared(session, other)
            what = f"past case {item}" if item.lower().startswith(CASE_PREFIX) else f"KB article {item}"
            return Avoidable(
                id=session.id, rule="solved-later", evidence=item, solved_in=other.id, category=category,
                labels=common,
                why=f"{other.id} solved the same problem ({', '.join(common)}) at the partner level on "
                    f"{other.closed_at:%Y-%m-%d} with {what}, which already existed when this was escalated.")
    return None


def _existed(item: str, when: datetime, by_id: dict[str, TriageSession], articles: dict[str, Article]) -> bool:
    if item.lower().startswith(CASE_PREFIX):
        case = by_id.get(item[len(CASE_PREFIX):].upper())
        return bool(case and case.status == "resolved" and case.closed_at and case.closed_at <= when)
    article = articles.get(item)
    if article is None:
        return False
    return article.origin == "sample" or (article.indexed_at is not None and article.indexed_at <= when)
