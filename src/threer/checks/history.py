"""Check history: every check-dns run kept per domain (records seen, findings), and what changed since.

`record_run` stores one row per domain: the DNS records the run's look-ups saw (name, type, status,
values, TTL) and its findings (id, check, severity, message). `changes` compares a run with the last
stored one for the same domain: records added, removed or changed (with their TTLs), and findings
that appeared or cleared. A look-up that failed this time is never "removed": it is listed apart as
not known. TTLs are shown, not compared: a recursive resolver counts them down, so they differ from
run to run without anything having changed. What one of the two runs did not check is never "new" or
"cleared": findings only a connection gives against a --dns-only run, findings about a sending address
(--ip) the other run did not ask about, and a check's findings where the other run's look-ups failed.
A run that got no answer at all is not kept: the next run is compared with the last one that did.

The rows live in threer's database (table `check_history`, store migration 5); the config can turn
the history off (`check_history = false`), and `threer sessions purge --older-than DAYS` removes the
rows older than its cut-off along with the sessions.
"""

from __future__ import annotations

import json
import re
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

# a record [name, type, status, [values], ttl] or a finding [id, check, severity, message(, address)]
Row = list[Any]

# records: JSON [[name, type, status, [values], ttl], ...]; findings: JSON [[id, check, severity, message], ...],
# a finding about a sending address given with --ip with the address fifth
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


# Checks whose findings can be about a sending address given with --ip (the rest of them are about the MX hosts)
BY_SENDING_ADDRESS = frozenset({"spf-ip", "blocklist", "rdns"})
_SENDER_IN_MESSAGE = re.compile(r"(?:Sending address|sent by) ([0-9A-Fa-f:.]+[0-9A-Fa-f])")


def sending_address(finding: Any) -> str | None:
    """The --ip address a finding is about (spf-ip, and the blocklist and rdns findings of that address),
    None for any other finding."""
    if finding.check not in BY_SENDING_ADDRESS:
        return None
    observed = finding.observed if isinstance(finding.observed, dict) else {}
    address = observed.get("ip") if finding.check == "spf-ip" else observed.get("sending_address")
    if address:
        return str(address)
    found = _SENDER_IN_MESSAGE.search(finding.message)
    return found.group(1) if found else None


def _address_of(row: Row) -> str | None:
    """The --ip address of a stored finding row; rows kept before the address was stored have it only
    in their message."""
    if len(row) > 4:
        return cast("str | None", row[4])
    if row[1] not in BY_SENDING_ADDRESS:
        return None
    found = _SENDER_IN_MESSAGE.search(str(row[3]))
    return found.group(1) if found else None


def answered_nothing(records: list[Row]) -> bool:
    """Whether a kept run got no answer at all (every look-up failed): it says nothing about the domain,
    so it is never the run a later one is compared with."""
    return all(r[2] in _UNKNOWN for r in records)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def records_of(lookups: Iterable[Lookup]) -> list[Row]:
    """A run's look-ups as plain, sorted rows: [name, type, status, values, ttl]."""
    rows: list[Row] = []
    for lookup in lookups:
        rows.append([lookup.name, lookup.rdtype, lookup.status.value, sorted(lookup.records), lookup.ttl])
    return sorted(rows, key=lambda r: (r[0], r[1]))


def findings_of(report: DomainReport) -> list[Row]:
    rows: list[Row] = []
    for f in report.findings:
        address = sending_address(f)
        rows.append([f.id, f.check, f.severity.value, f.message] + ([address] if address else []))
    return rows


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
    appeared: list[dict[str, Any]] = field(default_factory=list)  # {id, severity, message(, address)}
    cleared: list[dict[str, Any]] = field(default_factory=list)  # {id, severity, message(, address)}
    # findings one of the two runs did not check: not compared; {id, severity, message(, address),
    # not_checked: "this time" | "last time", why: "--dns-only" | "--ip" | "lookup-failed"}
    not_compared: list[dict[str, Any]] = field(default_factory=list)
    # False when this run got no answer at all: nothing in it is compared (it is not kept either)
    compared: bool = True

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.unknown or self.appeared or self.cleared)

    @property
    def empty(self) -> bool:
        return self.compared and not (self.changed_anything or self.not_compared)

    def to_json(self) -> dict[str, Any]:
        return {
            "since": _iso(self.since).replace("+00:00", "Z"),
            "compared": self.compared,
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
        if not self.compared:
            return [f"nothing could be looked up this time, so nothing is compared with the check on {self.since:%Y-%m-%d}"]
        out = []
        for f in self.appeared:
            out.append(f"new finding {_named(f)}")
        for f in self.cleared:
            out.append(f"finding {_named(f)} cleared")
        for f in self.not_compared:
            why = f.get("why", "--dns-only")
            reason = (f"no --ip {f.get('address')}" if why == "--ip" else "its look-ups failed" if why == "lookup-failed"
                      else "--dns-only")
            if f["not_checked"] == "this time":
                out.append(f"finding {_named(f)} not checked this time ({reason})")
            else:
                out.append(f"finding {_named(f)} not compared: not checked the last time ({reason})")
        return out

    def summary(self, limit: int = 3) -> str:
        """`changed since the check on 2026-11-24: …` in one sentence."""
        if not self.compared:
            return self.finding_lines()[0]
        lines = self.lines()
        if not lines:
            return f"nothing changed since the check on {self.since:%Y-%m-%d}"
        shown = "; ".join(lines[:limit]) + (f"; and {len(lines) - limit} more" if len(lines) > limit else "")
        if not self.changed_anything:
            return f"nothing changed since the check on {self.since:%Y-%m-%d} in what both checks looked at; {shown}"
        return f"changed since the check on {self.since:%Y-%m-%d}: {shown}"


def _named(f: dict[str, Any]) -> str:
    return f"{f['id']} ({f['severity']})" + (f" for {f['address']}" if f.get("address") else "")


def _values(values: list[str]) -> str:
    if not values:
        return "(none)"
    text = ", ".join(values)
    return text if len(text) <= 160 else text[:159] + "…"


FindingKey = tuple[str, str]  # (id, --ip address or "")


def _entry(key: FindingKey, row: Row, **more: Any) -> dict[str, Any]:
    entry = {"id": key[0], "severity": row[2], "message": row[3]}
    if key[1]:
        entry["address"] = key[1]
    entry.update(more)
    return entry


def changes(before: Snapshot, after: Snapshot, *, answered: bool = True) -> Changes:
    """What changed from `before` to `after` (both for the same domain). `answered=False`: the `after`
    run got no answer at all (or its resolver is a DNS filter): nothing is compared."""
    result = Changes(since=before.checked_at)
    if not answered:
        result.compared = False
        return result
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
    # findings are compared by id, and those about a sending address (--ip) by id and address
    old_findings: dict[FindingKey, Row] = {(f[0], _address_of(f) or ""): f for f in before.findings}
    new_findings: dict[FindingKey, Row] = {(f[0], _address_of(f) or ""): f for f in after.findings}
    skipped_before, skipped_now = skipped_connections(before.findings), skipped_connections(after.findings)
    if skipped_before != skipped_now:
        # one run connected to hosts and the other did not: findings only a connection gives say nothing
        # about a change (a failure the earlier run saw is not "cleared"; one seen now is not "new")
        kept, unseen = (old_findings, "this time") if skipped_now else (new_findings, "last time")
        for key in sorted(k for k in kept if by_connection(k[0]) and k[0] not in SKIPPED_CONNECTIONS):
            result.not_compared.append(_entry(key, kept[key], not_checked=unseen, why="--dns-only"))
        old_findings = {k: v for k, v in old_findings.items() if not by_connection(k[0])}
        new_findings = {k: v for k, v in new_findings.items() if not by_connection(k[0])}
    # a sending address (--ip) only one of the two runs asked about: its findings are not compared
    # (a run without --ip says nothing about the address's listing, reverse DNS or SPF verdict)
    old_ips = {k[1] for k in old_findings if k[1]}
    new_ips = {k[1] for k in new_findings if k[1]}
    for findings, other_ips, unseen in ((old_findings, new_ips, "this time"), (new_findings, old_ips, "last time")):
        for key in sorted(k for k in findings if k[1] and k[1] not in other_ips):
            result.not_compared.append(_entry(key, findings.pop(key), not_checked=unseen, why="--ip"))
    # a check (for an address) that could not look something up in one run: its other findings are not
    # compared either (a record not known now has not "cleared"; one not known before is not "new")
    def failed(findings: dict[FindingKey, Row]) -> set[tuple[str, str]]:
        return {(row[1], key[1]) for key, row in findings.items() if row[2] == "error"}

    failed_before, failed_now = failed(old_findings), failed(new_findings)
    for findings, others, failing, unseen in ((old_findings, new_findings, failed_now, "this time"),
                                             (new_findings, old_findings, failed_before, "last time")):
        for key in sorted(k for k, row in findings.items() if (row[1], k[1]) in failing and row[2] != "error" and k not in others):
            result.not_compared.append(_entry(key, findings.pop(key), not_checked=unseen, why="lookup-failed"))
    for key in sorted(new_findings.keys() - old_findings.keys()):
        result.appeared.append(_entry(key, new_findings[key]))
    for key in sorted(old_findings.keys() - new_findings.keys()):
        result.cleared.append(_entry(key, old_findings[key]))
    return result


def snapshot(report: DomainReport, lookups: Iterable[Lookup]) -> Snapshot:
    return Snapshot(domain=report.domain, checked_at=report.checked_at, records=records_of(lookups), findings=findings_of(report))


def _row(s: Snapshot) -> tuple[str, str, str, str]:
    return (s.domain, _iso(s.checked_at), json.dumps(s.records, separators=(",", ":")),
            json.dumps(s.findings, separators=(",", ":")))


def record_run(store: SessionStore, snapshots: list[Snapshot]) -> None:
    """Store one row a domain, in one transaction (on either backend: threer.store_api)."""
    store.add_check_runs([_row(s) for s in snapshots])


_LOOK_BACK = 20  # kept runs that got no answer skipped at most, looking for one that did


def last_runs(store: SessionStore, domains: list[str], before: datetime | None = None) -> dict[str, Snapshot]:
    """The latest stored run of each domain (before `before` when given)."""
    found: dict[str, Snapshot] = {}
    cutoff = _iso(before) if before is not None else "9999"
    for domain in dict.fromkeys(domains):
        until = cutoff
        for _ in range(_LOOK_BACK):
            row = store.last_check_run(domain, until)
            if row is None:
                break
            records = json.loads(row[2])
            if not answered_nothing(records):
                found[domain] = Snapshot(
                    domain=row[0], checked_at=datetime.fromisoformat(row[1]), records=records, findings=json.loads(row[3])
                )
                break
            until = row[1]  # a run that got no answer (kept before such runs were left out): the one before it
    return found


def purge(store: SessionStore, older_than: datetime) -> int:
    """Delete the rows older than `older_than`; the number deleted."""
    return store.purge_check_runs(_iso(older_than))


class Recorder:
    """Keeps the runs of one check-dns invocation as they come, one domain at a time: rows are written
    `batch` at a time (one transaction each), so a long `--from` run holds only the unwritten ones.
    `add` returns what changed for the domain since its last kept run (None: never kept before), read
    before this run's row is written (a run that got no answer is not written); with `changes=False` nothing is read (the caller does not show
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
        # a run that got no answer (or only a DNS filter's) says nothing about the domain: it is not kept,
        # so the next run is compared with the last one that did
        answered = not outcome.nothing_checked
        if answered:
            self._rows.append(_row(current))
        if len(self._rows) >= self.batch:
            self.flush()
        return changes(previous, current, answered=answered) if previous is not None else None

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
