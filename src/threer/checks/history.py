"""Check history: every check-dns run kept per domain (records seen, findings), and what changed since.

`record_run` stores one row per domain: the DNS records the run's look-ups saw (name, type, status,
values, TTL) and its findings (id, check, severity, message). `changes` compares a run with the last
stored one for the same domain: records added, removed or changed (with their TTLs), and findings
that appeared or cleared. A look-up that failed this time is never "removed": it is listed apart as
not known. TTLs are shown, not compared: a recursive resolver counts them down, so they differ from
run to run without anything having changed.

The rows live in threer's database (table `check_history`, store migration 5); the config can turn
the history off (`check_history = false`), and `threer sessions purge --older-than DAYS` removes the
rows older than its cut-off along with the sessions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from threer.checks import DomainOutcome
    from threer.checks.resolver import Lookup
    from threer.findings import DomainReport
    from threer.store_api import SessionStore

Row = list[Any]  # a record [name, type, status, [values], ttl] or a finding [id, check, severity, message]

# records: JSON [[name, type, status, [values], ttl], ...]; findings: JSON [[id, check, severity, message], ...]
# (the SQL is kept short: SQLite keeps its text in the schema page)
SCHEMA_SQL = """
CREATE TABLE check_history (id INTEGER PRIMARY KEY, domain TEXT NOT NULL, checked_at TEXT NOT NULL,
 records TEXT NOT NULL, findings TEXT NOT NULL);
CREATE INDEX check_history_domain ON check_history(domain, checked_at);
"""

# Statuses that say nothing about the record (see threer.checks.resolver.LookupStatus)
_UNKNOWN = frozenset({"timeout", "servfail", "refused", "network", "malformed"})

# Findings only a connection to a host can give (id prefixes): with --dns-only their check, or that part
# of it, does not run, so a run with connections and one without are not compared on them
BY_CONNECTION = (
    "smtp.", "owa.", "autodiscover.https-", "mta-sts.policy-", "mta-sts.mode-", "mta-sts.max-age-",
    "mta-sts.mx-", "mta-sts.skipped", "dane.no-starttls", "dane.mismatch", "dane.ok", "dane.not-compared",
)
# Findings that say a run made no connections (--dns-only); the autodiscover check gives its one in every such run
SKIPPED_CONNECTIONS = frozenset({"autodiscover.https-skipped", "mta-sts.skipped", "owa.skipped"})


def by_connection(finding_id: str) -> bool:
    """Whether only a connection to a host (HTTPS, SMTP) can give this finding."""
    return finding_id.startswith(BY_CONNECTION)


def skipped_connections(findings: list[Row]) -> bool:
    """Whether the run these findings come from made no connections to hosts (--dns-only)."""
    return any(f[0] in SKIPPED_CONNECTIONS or (f[0] == "dane.not-compared" and "--dns-only" in str(f[3]))
               for f in findings)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def records_of(lookups: Iterable[Lookup]) -> list[Row]:
    """A run's look-ups as plain, sorted rows: [name, type, status, values, ttl]."""
    rows: list[Row] = []
    for lookup in lookups:
        rows.append([lookup.name, lookup.rdtype, lookup.status.value, sorted(lookup.records), lookup.ttl])
    return sorted(rows, key=lambda r: (r[0], r[1]))


def findings_of(report: DomainReport) -> list[Row]:
    return [[f.id, f.check, f.severity.value, f.message] for f in report.findings]


@dataclass
class Snapshot:
    domain: str
    checked_at: datetime
    records: list[Row]
    findings: list[Row]


@dataclass
class Changes:
    """What changed for one domain between two runs (`since` is the earlier run's time)."""

    since: datetime
    added: list[dict[str, Any]] = field(default_factory=list)  # {name, type, values, ttl}
    removed: list[dict[str, Any]] = field(default_factory=list)  # {name, type, values, ttl}
    changed: list[dict[str, Any]] = field(default_factory=list)  # {name, type, before, after, ttl_before, ttl_after}
    unknown: list[dict[str, Any]] = field(default_factory=list)  # answered before, could not be looked up now
    appeared: list[dict[str, Any]] = field(default_factory=list)  # {id, severity, message}
    cleared: list[dict[str, Any]] = field(default_factory=list)  # {id, severity, message}
    # findings only a connection gives, when one of the two runs made none (--dns-only): not compared;
    # {id, severity, message, not_checked: "this time" | "last time"}
    not_compared: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.unknown or self.appeared or self.cleared)

    @property
    def empty(self) -> bool:
        return not (self.changed_anything or self.not_compared)

    def to_json(self) -> dict[str, Any]:
        return {
            "since": _iso(self.since).replace("+00:00", "Z"),
            "records": {"added": self.added, "removed": self.removed, "changed": self.changed, "unknown": self.unknown},
            "findings": {"appeared": self.appeared, "cleared": self.cleared, "not_compared": self.not_compared},
        }

    def lines(self) -> list[str]:
        """One plain line a change, for the table, the triage and the ticket."""
        return self.record_lines() + self.finding_lines()

    def record_lines(self) -> list[str]:
        """The records added, removed, changed or not looked up, one a line (each holds record values)."""
        out = []
        for r in self.changed:
            out.append(f"{r['type']} {r['name']} changed: {_values(r['before'])} (TTL {r['ttl_before']}) → "
                       f"{_values(r['after'])} (TTL {r['ttl_after']})")
        for r in self.added:
            out.append(f"{r['type']} {r['name']} added: {_values(r['values'])} (TTL {r['ttl']})")
        for r in self.removed:
            out.append(f"{r['type']} {r['name']} removed: was {_values(r['values'])} (TTL {r['ttl']})")
        for r in self.unknown:
            out.append(f"{r['type']} {r['name']} could not be looked up this time (was {_values(r['values'])})")
        return out

    def finding_lines(self) -> list[str]:
        """The findings that appeared, cleared or were not compared, one a line."""
        out = []
        for f in self.appeared:
            out.append(f"new finding {f['id']} ({f['severity']})")
        for f in self.cleared:
            out.append(f"finding {f['id']} ({f['severity']}) cleared")
        for f in self.not_compared:
            if f["not_checked"] == "this time":
                out.append(f"finding {f['id']} ({f['severity']}) not checked this time (--dns-only)")
            else:
                out.append(f"finding {f['id']} ({f['severity']}) not compared: not checked the last time (--dns-only)")
        return out

    def summary(self, limit: int = 3) -> str:
        """`changed since the check on 2026-11-24: …` in one sentence."""
        lines = self.lines()
        if not lines:
            return f"nothing changed since the check on {self.since:%Y-%m-%d}"
        shown = "; ".join(lines[:limit]) + (f"; and {len(lines) - limit} more" if len(lines) > limit else "")
        if not self.changed_anything:
            return f"nothing changed since the check on {self.since:%Y-%m-%d} in what both checks looked at; {shown}"
        return f"changed since the check on {self.since:%Y-%m-%d}: {shown}"


def _values(values: list[str]) -> str:
    if not values:
        return "(none)"
    text = ", ".join(values)
    return text if len(text) <= 160 else text[:159] + "…"


def changes(before: Snapshot, after: Snapshot) -> Changes:
    """What changed from `before` to `after` (both for the same domain)."""
    result = Changes(since=before.checked_at)
    old = {(r[0], r[1]): r for r in before.records}
    new = {(r[0], r[1]): r for r in after.records}
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key), new.get(key)
        name, rdtype = key
        was_values = was[3] if was is not None and was[2] == "answer" else []
        if now is None:
            continue  # not asked this time (another check set, --dns-only): says nothing
        if now[2] in _UNKNOWN:
            if was is not None and was[2] not in _UNKNOWN and was_values:
                result.unknown.append({"name": name, "type": rdtype, "values": was_values})
            continue
        if was is None or was[2] in _UNKNOWN:
            continue  # never known before: nothing to compare with
        now_values = now[3] if now[2] == "answer" else []
        if was_values == now_values:
            continue
        if not was_values:
            result.added.append({"name": name, "type": rdtype, "values": now_values, "ttl": now[4]})
        elif not now_values:
            result.removed.append({"name": name, "type": rdtype, "values": was_values, "ttl": was[4]})
        else:
            result.changed.append(
                {"name": name, "type": rdtype, "before": was_values, "after": now_values, "ttl_before": was[4], "ttl_after": now[4]}
            )
    old_findings = {f[0]: f for f in before.findings}
    new_findings = {f[0]: f for f in after.findings}
    skipped_before, skipped_now = skipped_connections(before.findings), skipped_connections(after.findings)
    if skipped_before != skipped_now:
        # one run connected to hosts and the other did not: findings only a connection gives say nothing
        # about a change (a failure the earlier run saw is not "cleared"; one seen now is not "new")
        kept, unseen = (old_findings, "this time") if skipped_now else (new_findings, "last time")
        for fid in sorted(f for f in kept if by_connection(f) and f not in SKIPPED_CONNECTIONS):
            f = kept[fid]
            result.not_compared.append({"id": fid, "severity": f[2], "message": f[3], "not_checked": unseen})
        old_findings = {k: v for k, v in old_findings.items() if not by_connection(k)}
        new_findings = {k: v for k, v in new_findings.items() if not by_connection(k)}
    for fid in new_findings.keys() - old_findings.keys():
        f = new_findings[fid]
        result.appeared.append({"id": fid, "severity": f[2], "message": f[3]})
    for fid in old_findings.keys() - new_findings.keys():
        f = old_findings[fid]
        result.cleared.append({"id": fid, "severity": f[2], "message": f[3]})
    result.appeared.sort(key=lambda f: f["id"])
    result.cleared.sort(key=lambda f: f["id"])
    return result


def snapshot(report: DomainReport, lookups: Iterable[Lookup]) -> Snapshot:
    return Snapshot(domain=report.domain, checked_at=report.checked_at, records=records_of(lookups), findings=findings_of(report))


def _row(s: Snapshot) -> tuple[str, str, str, str]:
    return (s.domain, _iso(s.checked_at), json.dumps(s.records, separators=(",", ":")),
            json.dumps(s.findings, separators=(",", ":")))


def record_run(store: SessionStore, snapshots: list[Snapshot]) -> None:
    """Store one row a domain, in one transaction (on either backend: threer.store_api)."""
    store.add_check_runs([_row(s) for s in snapshots])


def last_runs(store: SessionStore, domains: list[str], before: datetime | None = None) -> dict[str, Snapshot]:
    """The latest stored run of each domain (before `before` when given)."""
    found: dict[str, Snapshot] = {}
    cutoff = _iso(before) if before is not None else "9999"
    for domain in dict.fromkeys(domains):
        row = store.last_check_run(domain, cutoff)
        if row is not None:
            found[domain] = Snapshot(
                domain=row[0], checked_at=datetime.fromisoformat(row[1]), records=json.loads(row[2]), findings=json.loads(row[3])
            )
    return found


def purge(store: SessionStore, older_than: datetime) -> int:
    """Delete the rows older than `older_than`; the number deleted."""
    return store.purge_check_runs(_iso(older_than))


class Recorder:
    """Keeps the runs of one check-dns invocation as they come, one domain at a time: rows are written
    `batch` at a time (one transaction each), so a long `--from` run holds only the unwritten ones.
    `add` returns what changed for the domain since its last kept run (None: never kept before), read
    before this run's row is written; with `changes=False` nothing is read (the caller does not show
    changes). `close` writes what is left and purges the rows past `keep_days`."""

    def __init__(self, store: SessionStore, *, keep_days: int, now: datetime, changes: bool = True,
                 batch: int = 100) -> None:
        self.store = store
        self.keep_days = keep_days
        self.now = now
        self.want_changes = changes
        self.batch = max(1, batch)
        self._rows: list[tuple[str, str, str, str]] = []

    def add(self, outcome: DomainOutcome) -> Changes | None:
        current = snapshot(outcome.report, outcome.lookups)
        previous = last_runs(self.store, [current.domain]).get(current.domain) if self.want_changes else None
        self._rows.append(_row(current))
        if len(self._rows) >= self.batch:
            self.flush()
        return changes(previous, current) if previous is not None else None

    def flush(self) -> None:
        rows, self._rows = self._rows, []
        if rows:
            self.store.add_check_runs(rows)

    def close(self) -> None:
        from datetime import timedelta

        self.flush()
        purge(self.store, self.now - timedelta(days=self.keep_days))


def remember(db: SessionStore | str | Path, outcomes: Iterable[DomainOutcome], *, keep_days: int,
             now: datetime) -> dict[str, Changes]:
    """Keep a check-dns run (one row a domain), purge rows past `keep_days`, and return what changed
    for each domain since its last kept run (domains never checked before are absent). `db` is an
    open store (either backend, threer.store_api), or the path of a SQLite database to open for this."""
    from threer.store import Store

    # a sqlite3.Row reads by key as the interface's Mapping does, but typeshed does not call it a Mapping
    store = cast("SessionStore", Store(Path(db))) if isinstance(db, (str, Path)) else db
    try:
        outcomes = list(outcomes)
        # every domain's last run is read before any of this run's rows is written
        recorder = Recorder(store, keep_days=keep_days, now=now, batch=len(outcomes) or 1)
        found = {o.report.domain: recorder.add(o) for o in outcomes}
        recorder.close()
        return {domain: change for domain, change in found.items() if change is not None}
    finally:
        if store is not db:
            store.close()
