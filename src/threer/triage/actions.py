"""The work threer does itself during a triage: DNS checks, the OWA probe, the search for prior
cases, and indexing a resolved session as a past case. Each returns data; nothing is shown here."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from threer.config import Config
from threer.errors import ThreerError
from threer.store_api import SessionStore
from threer.triage.engine import ActionResult
from threer.triage.session import TriageSession

MAX_PROBLEMS = 25  # findings stored with the answer; the ticket summarises them


@dataclass
class CheckSettings:
    """How the triage runs its checks (the same knobs as `threer check-dns`)."""

    profile: str | None = None  # None: the config's default profile; "none": no profile
    nameservers: list[tuple[str, int]] | None = None
    timeout: float = 10.0
    dns_only: bool = False
    verify: Any = True
    connect_overrides: dict[str, tuple[str, int]] = field(default_factory=dict)  # tests: host -> loopback


class DefaultActions:
    def __init__(self, store: SessionStore, config: Config, settings: CheckSettings | None = None,
                 on_nameservers: Any = None) -> None:
        self.store = store
        self.config = config
        self.settings = settings or CheckSettings()
        self.on_nameservers = on_nameservers  # told of a change, to keep it with the session
        self._recognised: dict[str, str | None] = {}  # domain -> the profile `auto` chose for it (None: none)

    def use_nameservers(self, servers: list[str]) -> None:
        from threer.checks.resolver import parse_nameserver

        self.settings.nameservers = [parse_nameserver(s) for s in servers]
        if self.on_nameservers is not None:
            self.on_nameservers(list(servers))

    @property
    def profile_name(self) -> str | None:
        name = self.settings.profile if self.settings.profile is not None else self.config.default_profile
        return None if (name or "").lower() in {"", "none"} else name

    def dns(self, domain: str, evidence: dict[str, Any] | None = None) -> ActionResult:
        """The DNS checks; with `evidence` from a pasted bounce or headers, also its DKIM selectors,
        and the SPF verdict of the customer's record for the server that sent the message."""
        evidence = evidence or {}
        selectors = tuple(evidence.get("dkim_selectors") or ())
        sending = _address(evidence.get("sending_ip"))
        try:
            from threer.checks import CHECKS, CheckOptions, run_domains

            # the DNS checks only: the provider's OWA address is the review.owa step's, not the customer's DNS
            options = CheckOptions(profile=self.profile_name or "none",
                                   profile_origin="given" if self.settings.profile is not None else "config",
                                   auto_profiles=tuple(str(p) for p in self.config.profiles),
                                   dkim_selectors=tuple(dict.fromkeys([*self.config.dkim_selectors, *selectors])),
                                   nameservers=self.settings.nameservers,
                                   timeout=self.settings.timeout, dns_only=self.settings.dns_only,
                                   verify=self.settings.verify,
                                   # the sending server of a pasted bounce: its SPF verdict with the include
                                   # chain, reverse DNS and blocklist listings, as `check-dns --ip` gives them
                                   checks=CHECKS + (("spf-ip", "blocklist") if sending else ()),
                                   ips=(sending,) if sending else (), blocklists=None if self.config.blocklists is None else tuple(self.config.blocklists),
                                   blocklist_mx=self.config.blocklist_mx)
            outcome = run_domains([domain], options)[0]
            report = outcome.report
            if (options.profile or "").lower() == "auto":
                self._remember_profile(report.domain, report.profile)
        except ThreerError as exc:
            return ActionResult(fields={"checked": False, "domain": domain, "run_error": exc.message},
                                summary=f"The DNS checks could not run: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - the technician records their own finding instead
            reason = f"{type(exc).__name__}: {exc}"
            return ActionResult(fields={"checked": False, "domain": domain, "run_error": reason},
                                summary=f"The DNS checks could not run ({reason}).")
        summary = report.summary.counts()
        problems = [
            {"id": f.id, "severity": f.severity.value, "message": f.message, "fix": f.fix,
             # the records of the fix, so the triage shows them whole, as check-dns does
             "changes": [{"action": c.action, "line": c.line} for c in f.changes]}
            for f in sorted(report.findings, key=lambda f: -f.severity.rank)
            if f.severity.value in {"warn", "fail", "error"}
        ][:MAX_PROBLEMS]
        fields: dict[str, Any] = {"checked": True, "domain": report.domain, "profile": report.profile,
                                  "profile_reason": report.profile_reason, "summary": summary,
                                  "problems": problems, "checked_at": report.checked_at.isoformat()}
        text = ", ".join(f"{n} {k}" for k, n in summary.items() if n) or "no findings"
        chosen = f"profile {report.profile}, {report.profile_reason}" if report.profile else report.profile_reason
        lines = [f"DNS checks for {report.domain} ({chosen}): {text}."]
        changed = self._remember(outcome)
        if changed is not None:
            fields["changes"] = changed
            lines.append(changed[:1].upper() + changed[1:] + ".")
        if selectors:
            fields["dkim_selectors"] = list(selectors)
            lines.append(f"DKIM selector{'s' if len(selectors) > 1 else ''} from the pasted headers checked: "
                         f"{', '.join(selectors)}.")
        ip = evidence.get("sending_ip")
        if ip:
            verdict = self.spf_verdict(report.domain, ip)
            fields["spf_ip"] = verdict
            lines.append(spf_sentence(report.domain, verdict))
        return ActionResult(fields=fields, detail=report, summary=" ".join(lines))

    def _remember_profile(self, domain: str, name: str | None) -> None:
        """Keep the name of the profile `auto` recognised for the domain, for the review.owa step."""
        self._recognised[_domain_key(domain)] = name

    def _remember(self, outcome: Any) -> str | None:
        """Keep the run in the check history; "changed since the check on <date>: …" when the domain
        was checked before (None the first time, or when the history is off or cannot be written)."""
        if not self.config.check_history:
            return None
        try:
            from datetime import datetime, timezone

            from threer.checks import history

            found = history.remember(self.store, [outcome], keep_days=self.config.check_history_days,
                                     now=datetime.now(timezone.utc))
        except (ThreerError, sqlite3.Error):
            return None  # the DNS result stands without its history
        changes = found.get(outcome.report.domain)
        return changes.summary() if changes is not None else None

    def spf_verdict(self, domain: str, ip: str) -> dict[str, Any]:
        """Would `ip` pass SPF for `domain`? RFC 7208 check_host(), as a receiver would run it for mail
        from postmaster@domain, over the session's resolver settings."""
        import asyncio

        try:
            from threer.checks import CheckOptions, make_resolver
            from threer.checks.spf import check_host

            resolver = make_resolver(CheckOptions(nameservers=self.settings.nameservers, timeout=self.settings.timeout))
            result = asyncio.run(check_host(resolver, ip, domain, f"postmaster@{domain}"))
        except ThreerError as exc:
            return {"ip": ip, "result": "not evaluated", "matched": None, "reason": exc.message}
        except Exception as exc:  # noqa: BLE001 - the checks above already say what the DNS is like
            return {"ip": ip, "result": "not evaluated", "matched": None, "reason": f"{type(exc).__name__}: {exc}"}
        return {"ip": result.ip, "result": result.result, "matched": result.matched, "reason": result.reason}

    def owa(self, domain: str) -> ActionResult:
        url, why_none = self._owa_url(domain)
        if not url:
            return ActionResult(fields={"probe": []}, summary=f"{why_none}; OWA not probed.")
        if self.settings.dns_only:
            return ActionResult(fields={"probe": []}, summary=f"{url} not probed (--dns-only).")
        try:
            from threer.checks.owa import check_owa_url

            findings = check_owa_url(url, timeout=min(self.settings.timeout, 10.0), verify=self.settings.verify,
                                     connect_overrides=self.settings.connect_overrides or None,
                                     nameservers=self.settings.nameservers)
        except Exception as exc:  # noqa: BLE001
            return ActionResult(fields={"probe": []}, summary=f"{url} could not be probed ({type(exc).__name__}: {exc}).")
        probe = [{"id": f.id, "severity": f.severity.value, "message": f.message} for f in findings]
        worst = max((f.severity.rank for f in findings), default=0)
        verdict = "answers over HTTPS" if worst <= 1 else "has a problem"
        return ActionResult(fields={"probe": probe}, detail=findings, summary=f"{url} {verdict}.")

    def _owa_url(self, domain: str) -> tuple[str | None, str]:
        """The provider's OWA address for this customer, and where the profile came from (for the
        sentence said when there is none). With `auto` (the default) it is the profile the customer's
        own records point at, as the DNS step chose it, not a profile called "auto"."""
        name = self.profile_name
        if not name:
            return None, "No provider profile is in use (profile none)"
        try:
            from threer.checks.profiles import is_auto, load_profile

            if not is_auto(name):
                profile = load_profile(name)
                return profile.owa_url, f"No OWA address in the provider profile {profile.name}"
            profile = self._recognise(domain)
        except Exception:  # noqa: BLE001 - a bad profile is reported by the DNS step already
            return None, "The provider profile could not be loaded (the DNS step says why)"
        if profile is None:
            return None, f"No provider profile was recognised from {domain or 'the customer domain'}'s records"
        return profile.owa_url, f"No OWA address in the provider profile {profile.name}"

    def _recognise(self, domain: str) -> Any:
        """`auto`: the profile recognised for `domain` by the DNS step of this run, or (a resumed
        triage, or the DNS step skipped) recognised now from the domain's MX, SPF and autodiscover."""
        from threer.checks.profiles import auto_candidates

        key = _domain_key(domain)
        candidates = auto_candidates(tuple(str(p) for p in self.config.profiles))
        if key not in self._recognised:
            import asyncio

            from threer.checks import CheckOptions, make_resolver
            from threer.checks.recognise import recognise_profile

            resolver = make_resolver(CheckOptions(nameservers=self.settings.nameservers, timeout=self.settings.timeout))
            self._recognised[key] = asyncio.run(recognise_profile(resolver, key, candidates)).name
        name = self._recognised[key]
        return next((p for p in candidates if name is not None and p.name == name), None)

    def prior(self, queries: Sequence[str | Sequence[str]]) -> ActionResult:
        """Search past cases and the KB; each item of `queries` is one source: a search, or a source's
        several searches (the error text's codes and its diagnostic), merged by fuse_rankings."""
        sources = [[q] if isinstance(q, str) else list(q) for q in queries]
        sources = [[q for q in searches if q.strip()] for searches in sources]
        sources = [searches for searches in sources if searches]
        if not sources:
            return ActionResult(fields={"matches": []}, summary="Nothing to search with yet.")
        try:
            from threer.kb.index import ensure_sample_kb
            from threer.kb.search import search

            kb = self.store.kb_index()  # the team's past cases are in it too
            ensure_sample_kb(kb)
            result_lists = [search(kb, q, limit=PRIOR_MATCHES * 2) for searches in sources for q in searches]
        except sqlite3.DatabaseError:
            raise  # a damaged database is the store's error, said as such, not a failed search
        except Exception as exc:  # noqa: BLE001 - the technician records their own research instead
            return ActionResult(fields={"matches": []}, summary=f"The search could not run ({type(exc).__name__}: {exc}).")
        groups = [number for number, searches in enumerate(sources) for _ in searches]
        results = fuse_rankings(result_lists, groups)[:PRIOR_MATCHES]  # by their fused score, best first
        matches = [{"id": r.id, "title": r.title, "source": r.source, "score": round(float(r.score), 3)} for r in results]
        return ActionResult(fields={"matches": matches}, detail=results,
                            summary=f"{len(matches)} match{'es' if len(matches) != 1 else ''} in past cases and the knowledge base.")


PRIOR_MATCHES = 5


def _address(text: Any) -> str | None:
    """An IP address from evidence, or None when there is none or it is not one."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(str(text).strip())) if text else None
    except ValueError:
        return None


def spf_sentence(domain: str, verdict: dict[str, Any]) -> str:
    """'Would 198.51.100.7 pass SPF for contoso.com? softfail, by contoso.com: ~all.'"""
    head = f"Would {verdict['ip']} (the sending server in the pasted headers) pass SPF for {domain}? "
    if verdict["result"] == "not evaluated":
        return head + f"Not evaluated: {verdict['reason']}."
    matched = f", by {verdict['matched']}" if verdict.get("matched") else ""
    why = f" ({verdict['reason']})" if verdict.get("reason") and not verdict.get("matched") else ""
    return head + f"{verdict['result']}{matched}{why}."


def fuse_rankings(result_lists: list[list[Any]], groups: list[int] | None = None) -> list[Any]:
    """Merge ranked lists (one per search) into one, best first, each match once.

    `groups` says which source each search came from (the issue; the error text, which gives
    several searches: its codes, then its diagnostic); without it every search is its own source.
    A match's score is the mean over a source's searches of its score in each (0 where it was not
    found), and then the mean over the sources (CombSUM: every search's score is already in 0..1
    against the best a document could get for it). So the article carrying the bounce's exact code,
    found by the code searches and by the diagnostic, leads the error text's matches; one that the
    issue's words find too adds both; and the issue weighs as much as all the error text's searches
    together, however many codes it held. Ties go to the better single rank, then the earlier search.
    """
    if not result_lists:
        return []
    groups = list(range(len(result_lists))) if groups is None else groups
    sizes: dict[int, int] = {}
    for group in groups:
        sizes[group] = sizes.get(group, 0) + 1
    total: dict[str, float] = {}
    first: dict[str, Any] = {}
    place: dict[str, tuple[int, int]] = {}
    for number, (results, group) in enumerate(zip(result_lists, groups)):
        for rank, result in enumerate(results):
            share = float(result.score) / sizes[group] / len(sizes)
            total[result.id] = total.get(result.id, 0.0) + share
            first.setdefault(result.id, result)
            place[result.id] = min(place.get(result.id, (rank, number)), (rank, number))
    order = sorted(total, key=lambda doc_id: (-total[doc_id], place[doc_id]))
    return [replace(first[doc_id], score=round(total[doc_id], 4)) for doc_id in order]


def index_resolved_case(store: SessionStore, session: TriageSession) -> None:
    """Make a resolved session searchable as a past case, and learn which documents solved it."""
    store.put_case(session.id, **case_document(session))
    learn_from_session(store.kb_index(), session)  # what solved it is learnt in the KB index


def learn_from_session(store: Any, session: TriageSession) -> int:
    """Store which articles or past cases solved (or did not solve) this session's issue; return how many.

    research.prior's and research.kb's `worked` ids are recorded as solved, the other ids
    tried there as not helpful; later searches like this issue lift what solved it
    (threer.kb.feedback). Ids that are in no index are left out.
    """
    from threer.kb.feedback import record_outcomes
    from threer.kb.search import prepare_kb

    prepare_kb(store)  # the sample articles a session names are in the index
    issue = " ".join(research_text(session))
    if not issue.strip():
        return 0
    outcomes: dict[str, str] = {}
    for step_id, tried_field in (("research.prior", "tried"), ("research.kb", "articles")):
        answer = session.answer(step_id)
        if answer is None:
            continue
        for doc_id in getattr(answer, tried_field, []) or []:
            outcomes.setdefault(doc_id.strip(), "not-helpful")
        for doc_id in getattr(answer, "worked", []) or []:
            outcomes[doc_id.strip()] = "solved"
    return record_outcomes(store, session_id=session.id, issue=issue, outcomes=outcomes)


def research_text(session: TriageSession) -> list[str]:
    """The issue and error text a session's Research step searches with."""
    from threer.triage.engine import research_queries

    return research_queries(session)


def forget_case(store: SessionStore, session_id: str) -> None:
    store.remove_case(session_id)


def case_document(session: TriageSession) -> dict[str, Any]:
    """The title, body and tags a past case is indexed with."""
    issue = session.answer("intake.issue")
    errors = session.answer("intake.errors")
    outcome = session.answer("outcome")
    env = session.answer("replicate.environment")
    title = (outcome.summary if outcome and outcome.summary else None) or (issue.description if issue else session.id)
    lines = []
    if issue:
        lines += [f"Symptom: {issue.description}", f"Affected: {issue.affected_users}"]
    if errors and errors.messages:
        lines.append(f"Errors: {errors.messages}")
    if env:
        lines.append(f"Environment: {env.os} {env.os_version}, {env.client} {env.client_version}")
    dns = session.answer("review.dns")
    if dns and dns.problems:
        lines.append("DNS: " + "; ".join(f"{p['id']} ({p['severity']})" for p in dns.problems))
    if outcome:
        lines.append(f"Resolution: {outcome.resolution}")
    tags = [t for t in [session.customer_domain, env.client if env else None] if t]
    # every technician searching the team database sees a case: a password read out on the call is masked
    from threer.secrets_scan import redact

    return {"title": redact(title[:200]), "body": redact("\n".join(lines)), "tags": tags,
            "domain": session.customer_domain}


def _domain_key(domain: str) -> str:
    """A customer domain as the profiles `auto` recognised are kept by."""
    return domain.strip().lower().rstrip(".")
